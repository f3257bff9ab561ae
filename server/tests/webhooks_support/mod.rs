//! A webhook receiver for the tests: axum on 127.0.0.1, verifying every request's
//! Standard Webhooks signature with the `standardwebhooks` crate (an implementation
//! independent of the server's), recording what it received, and failing or hanging on
//! demand.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;

/// The secret the servers of these tests sign with.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers 204 (after `delay`).
    Accept,
    /// Answers 500 to the next `n` requests, then accepts.
    FailFirst(usize),
    /// Never answers.
    Hang,
}

/// A request the receiver accepted (its signature checked).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `webhook-id`.
    pub id: String,
    /// `content-type`.
    pub content_type: String,
    /// The body, parsed.
    pub body: Value,
}

#[derive(Debug)]
struct Inner {
    behaviour: Behaviour,
    delay: Duration,
    /// Requests answered with a failure.
    failed: usize,
    /// Requests whose signature did not verify.
    forged: usize,
    accepted: Vec<Delivery>,
}

/// The running receiver.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
}

impl Receiver {
    /// Starts a receiver on a free port.
    pub async fn start(behaviour: Behaviour) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            behaviour,
            delay: Duration::ZERO,
            failed: 0,
            forged: 0,
            accepted: Vec::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { inner, url }
    }

    /// Changes what the receiver does from now on.
    pub fn set(&self, behaviour: Behaviour, delay: Duration) {
        let mut inner = self.inner.lock().unwrap();
        inner.behaviour = behaviour;
        inner.delay = delay;
    }

    /// The requests accepted so far, in arrival order.
    pub fn accepted(&self) -> Vec<Delivery> {
        self.inner.lock().unwrap().accepted.clone()
    }

    /// How many requests were answered with a failure.
    pub fn failed(&self) -> usize {
        self.inner.lock().unwrap().failed
    }

    /// How many requests carried a signature that did not verify.
    pub fn forged(&self) -> usize {
        self.inner.lock().unwrap().forged
    }

    /// Waits (at most 90 s) until every id of `ids` was accepted; the deliveries.
    pub async fn wait_for(&self, ids: &[String]) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let accepted = self.accepted();
            let got: HashSet<&str> = accepted.iter().map(|d| d.id.as_str()).collect();
            let missing: Vec<&String> =
                ids.iter().filter(|id| !got.contains(id.as_str())).collect();
            if missing.is_empty() {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "events never delivered: {missing:?}; received {accepted:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (behaviour, delay) = {
        let inner = inner.lock().unwrap();
        (inner.behaviour, inner.delay)
    };
    if behaviour == Behaviour::Hang {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(delay).await;
    let mut inner = inner.lock().unwrap();
    if let Behaviour::FailFirst(n) = inner.behaviour
        && n > 0
    {
        inner.behaviour = Behaviour::FailFirst(n - 1);
        inner.failed += 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if !verify(&headers, &body) {
        inner.forged += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    inner.accepted.push(Delivery {
        id: header("webhook-id"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap(),
    });
    StatusCode::NO_CONTENT
}

/// Checks the Standard Webhooks signature (and timestamp tolerance) of a request.
fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let webhook = standardwebhooks::Webhook::new(SECRET).unwrap();
    webhook.verify(body, headers).is_ok()
}
