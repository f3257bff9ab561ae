//! Request logging never records tokens, cookies or passwords. Its own test binary: a
//! thread-local `tracing` subscriber only sees every event when no other test of the
//! process hits the same call sites first.

#![allow(clippy::unwrap_used)]

mod inprocess;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jwt_allauth_server::app;
use jwt_allauth_server::users::NewUser;
use time::OffsetDateTime;

use inprocess::{call, state};

/// A log sink shared with the test.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn api_is_wired_and_logs_hold_no_secrets() {
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let state = state().await;
    state
        .users
        .create(
            &NewUser::new("ada@example.com", "pass-word-123"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let router = app(state).await;

    let login = Request::post("/login/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"email":"ada@example.com","password":"pass-word-123"}"#,
        ))
        .unwrap();
    let (status, headers, body) = call(&router, login).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access"].as_str().unwrap().to_owned();
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    let refresh = cookie.split(';').next().unwrap().to_owned();

    let me = Request::get("/user/")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .header(header::COOKIE, &refresh)
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&router, me).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], "ada@example.com");

    let rotate = Request::post("/refresh/")
        .header(header::COOKIE, &refresh)
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, rotate).await.0, StatusCode::OK);

    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("/login/"), "the requests are logged: {logs}");
    for (method, path) in [
        ("POST", "/login/"),
        ("GET", "/user/"),
        ("POST", "/refresh/"),
    ] {
        let line = format!("answered method={method} path={path} status=200 latency=");
        assert!(
            logs.contains(&line),
            "one line per request: {line} in {logs}"
        );
    }
    let refresh_value = refresh.split_once('=').unwrap().1;
    for secret in [access.as_str(), refresh_value, "pass-word-123"] {
        assert!(!logs.contains(secret), "a secret in the logs: {logs}");
    }
}
