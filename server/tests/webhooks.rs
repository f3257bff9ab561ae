//! Webhooks against the real binary: every event of the log reaches a receiver that
//! verifies the Standard Webhooks signatures, in sequence order, after failures, across
//! a restart and a `kill -9`, from one of two instances on one PostgreSQL database; a
//! hanging receiver slows no request; bad settings stop the start with one line.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;
mod revocation_support;
mod webhooks_support;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, TestDb, failure, success};
use reqwest::{Client, StatusCode};
use revocation_support::{EMAIL, PASSWORD, login};
use serde_json::{Value, json};
use webhooks_support::{Behaviour, Delivery, Receiver, SECRET};

/// One scenario on SQLite and on PostgreSQL (when configured).
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(&super::TestDb::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let test = concat!(stringify!($name), "::postgres");
                if let Some(db) = super::TestDb::postgres(test).await {
                    super::$name(&db).await;
                }
            }
        }
    };
}

/// A server posting to `receiver`, refresh tokens in the bodies, sign-up without
/// verification.
async fn serve(db: &TestDb, receiver: &Receiver) -> Server {
    Server::start_with_env(db, &[], &env(receiver)).await
}

fn env(receiver: &Receiver) -> [(&'static str, &str); 4] {
    [
        ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false"),
        ("JWT_ALLAUTH_EMAIL_VERIFICATION", "none"),
        ("JWT_ALLAUTH_WEBHOOK_URLS", &receiver.url),
        ("JWT_ALLAUTH_WEBHOOK_SECRET", SECRET),
    ]
}

/// The event log as `events list` prints it.
fn event_log(db: &TestDb) -> Vec<Value> {
    success(&db.run(&["events", "list"]))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts that every event of the log was delivered with the documented body and
/// headers, and that the first deliveries of each user's events came in `seq` order.
fn assert_delivered(events: &[Value], deliveries: &[Delivery]) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, delivery) in deliveries.iter().enumerate() {
        first.entry(delivery.id.as_str()).or_insert(index);
    }
    for event in events {
        let id = event["id"].as_str().unwrap();
        let delivery = &deliveries[first[id]];
        assert_eq!(delivery.content_type, "application/json");
        assert_eq!(
            delivery.body,
            json!({"type": event["type"], "timestamp": event["time"], "data": event}),
            "the body of {id}"
        );
    }
    let mut by_user: HashMap<&str, Vec<(usize, i64)>> = HashMap::new();
    for event in events {
        by_user
            .entry(event["user_id"].as_str().unwrap())
            .or_default()
            .push((
                first[event["id"].as_str().unwrap()],
                event["seq"].as_i64().unwrap(),
            ));
    }
    for (user, mut order) in by_user {
        order.sort();
        let seqs: Vec<i64> = order.iter().map(|(_, seq)| *seq).collect();
        let mut sorted = seqs.clone();
        sorted.sort();
        assert_eq!(seqs, sorted, "user {user}'s events arrived out of order");
    }
}

async fn sign_up(client: &Client, server: &Server, email: &str) {
    let response = client
        .post(server.url("/registration/"))
        .json(&json!({"email": email, "password1": PASSWORD, "password2": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

async fn post_auth(client: &Client, server: &Server, path: &str, access: &str, body: Value) {
    let response = client
        .post(server.url(path))
        .bearer_auth(access)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
}

/// Sign-up, logins, a logout, a logout-all: each event reaches the receiver, signed, with
/// the body of events.md, in order per user.
async fn every_event_is_delivered_in_order(db: &TestDb) {
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let receiver = Receiver::start(Behaviour::Accept).await;
    let server = serve(db, &receiver).await;
    let client = Client::new();
    sign_up(&client, &server, "bob@example.com").await;
    let first = login(&client, &server).await;
    let second = login(&client, &server).await;
    login(&client, &server).await;
    post_auth(
        &client,
        &server,
        "/logout/",
        &first.access,
        json!({"refresh": first.refresh}),
    )
    .await;
    post_auth(&client, &server, "/logout-all/", &second.access, json!({})).await;

    let events = event_log(db);
    let kinds: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap(),
                e["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    // The sign-up's session, three logins, a logout, a logout-all ending two sessions
    // (and whatever account events the log holds besides).
    assert_eq!(
        kinds
            .iter()
            .filter(|k| k.starts_with("session.created"))
            .count(),
        4,
        "{kinds:?}"
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "session.revoked logout")
            .count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "session.revoked logout_all")
            .count(),
        2,
        "{kinds:?}"
    );
    let deliveries = receiver.wait_for(&ids(&events)).await;
    assert_delivered(&events, &deliveries);
    assert_eq!(receiver.forged(), 0);
}
on_both_databases!(every_event_is_delivered_in_order);

/// A receiver answering 500 to its first requests gets every event after the retries.
async fn failures_are_retried(db: &TestDb) {
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let receiver = Receiver::start(Behaviour::FailFirst(3)).await;
    let metrics = format!("127.0.0.1:{}", common::free_port());
    let mut with_metrics = env(&receiver).to_vec();
    with_metrics.push(("JWT_ALLAUTH_METRICS_BIND", &metrics));
    let server = Server::start_with_env(db, &[], &with_metrics).await;
    let client = Client::new();
    let session = login(&client, &server).await;
    post_auth(
        &client,
        &server,
        "/logout/",
        &session.access,
        json!({"refresh": session.refresh}),
    )
    .await;
    let events = event_log(db);
    let deliveries = receiver.wait_for(&ids(&events)).await;
    assert_eq!(receiver.failed(), 3);
    assert_delivered(&events, &deliveries);

    // The delivery state in the metrics (events.md): three failed attempts, then every
    // event delivered.
    let expected = (events.len() as f64, 3.0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = client
            .get(format!("http://{metrics}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counted = |state: &str| {
            let series = format!("jwt_allauth_webhook_deliveries_total{{state=\"{state}\"}} ");
            text.lines()
                .find_map(|line| line.strip_prefix(&series))
                .map_or(0.0, |value| value.trim().parse::<f64>().unwrap())
        };
        if (counted("delivered"), counted("failed")) == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries in the metrics: {:?}, expected {expected:?}\n{text}",
            (counted("delivered"), counted("failed"))
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
on_both_databases!(failures_are_retried);

/// Stopping the server (SIGTERM), and killing it (`kill -9`) in the middle of a
/// delivery, loses no event: once it runs again, the receiver has every event of the log,
/// including those written while no server ran.
async fn restarts_lose_nothing(db: &TestDb) {
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let receiver = Receiver::start(Behaviour::Accept).await;
    // Slow answers: the kill lands while a delivery is in flight.
    receiver.set(Behaviour::Accept, Duration::from_millis(300));
    let client = Client::new();
    let mut server = serve(db, &receiver).await;
    for _ in 0..4 {
        login(&client, &server).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.accepted().is_empty() {
        assert!(Instant::now() < deadline, "nothing delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    let _ = server.child.wait();
    let delivered_before = receiver.accepted().len();
    assert!(
        delivered_before < event_log(db).len(),
        "the kill came after every delivery"
    );

    // Written while no server runs.
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "carol@example.com",
        "--password",
        PASSWORD,
    ]));
    receiver.set(Behaviour::Accept, Duration::ZERO);
    let mut server = serve(db, &receiver).await;
    let session = login(&client, &server).await;
    post_auth(
        &client,
        &server,
        "/logout/",
        &session.access,
        json!({"refresh": session.refresh}),
    )
    .await;
    let events = event_log(db);
    let deliveries = receiver.wait_for(&ids(&events)).await;
    assert_delivered(&events, &deliveries);

    // A clean stop, an event meanwhile, a start.
    assert!(server.terminate(), "{}", server.log_text());
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "dave@example.com",
        "--password",
        PASSWORD,
    ]));
    let _server = serve(db, &receiver).await;
    let events = event_log(db);
    let deliveries = receiver.wait_for(&ids(&events)).await;
    assert_delivered(&events, &deliveries);
    assert_eq!(receiver.forged(), 0);
}
on_both_databases!(restarts_lose_nothing);

/// A receiver that never answers slows no request, and does not keep the server from
/// stopping.
async fn a_hanging_receiver_slows_no_request(db: &TestDb) {
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let receiver = Receiver::start(Behaviour::Hang).await;
    let mut server = serve(db, &receiver).await;
    let client = Client::new();
    for _ in 0..5 {
        let session = login(&client, &server).await;
        post_auth(
            &client,
            &server,
            "/logout/",
            &session.access,
            json!({"refresh": session.refresh}),
        )
        .await;
    }
    sign_up(&client, &server, "bob@example.com").await;
    assert!(receiver.accepted().is_empty());
    assert!(server.terminate(), "{}", server.log_text());
}
on_both_databases!(a_hanging_receiver_slows_no_request);

/// Two instances on one PostgreSQL database: each event is delivered once, by whichever
/// holds the endpoint's lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once() {
    let Some(db) = TestDb::postgres("two_instances_deliver_each_event_once").await else {
        return;
    };
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let receiver = Receiver::start(Behaviour::Accept).await;
    let one = serve(&db, &receiver).await;
    let two = serve(&db, &receiver).await;
    let client = Client::new();
    for server in [&one, &two, &one, &two] {
        let session = login(&client, server).await;
        post_auth(
            &client,
            server,
            "/logout/",
            &session.access,
            json!({"refresh": session.refresh}),
        )
        .await;
    }
    let events = event_log(&db);
    let deliveries = receiver.wait_for(&ids(&events)).await;
    assert_delivered(&events, &deliveries);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for delivery in &deliveries {
        *counts.entry(delivery.id.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|&n| n == 1), "duplicates: {counts:?}");
}

/// Webhook settings that cannot work stop `serve` with one line and a failure status.
#[test]
fn bad_settings_stop_the_start_with_one_line() {
    let db = TestDb::sqlite();
    let serve = |env: &[(&str, &str)]| {
        let mut command =
            db.command(&["serve", "--bind", "127.0.0.1:0", "--database-url", &db.url]);
        command.envs(env.iter().copied());
        command.output().unwrap()
    };
    let url = "https://hooks.example.com/in";
    failure(
        &serve(&[("JWT_ALLAUTH_WEBHOOK_URLS", url)]),
        "WEBHOOK_SECRET: required when WEBHOOK_URLS is set",
    );
    let out = serve(&[
        ("JWT_ALLAUTH_WEBHOOK_URLS", url),
        ("JWT_ALLAUTH_WEBHOOK_SECRET", "whsec_***not base64***"),
    ]);
    let line = failure(&out, "invalid value for WEBHOOK_SECRET");
    assert!(!line.contains("not base64***"), "{line}");
    failure(
        &serve(&[
            ("JWT_ALLAUTH_WEBHOOK_URLS", "ftp://hooks.example.com/in"),
            ("JWT_ALLAUTH_WEBHOOK_SECRET", SECRET),
        ]),
        "invalid value for WEBHOOK_URLS: entry 1 is not an http or https URL",
    );
}
