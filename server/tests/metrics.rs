//! `/metrics` against the real binary: served on `METRICS_BIND` only, and every series
//! events.md lists moves with what a user does (login, failed login, refresh, replay,
//! logout, a mail, an unknown path).

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;
mod metrics_support;
mod revocation_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Server, TestDb, free_port, success};
use metrics_support::Scrape;
use reqwest::{Client, StatusCode};
use revocation_support::{EMAIL, PASSWORD, login, serve};
use serde_json::{Value, json};

const REQUESTS: &str = "jwt_allauth_http_requests_total";
const DURATION_COUNT: &str = "jwt_allauth_http_request_duration_seconds_count";
const DURATION_BUCKET: &str = "jwt_allauth_http_request_duration_seconds_bucket";
const LOGINS: &str = "jwt_allauth_logins_total";
const ROTATIONS: &str = "jwt_allauth_rotations_total";
const REPLAYS: &str = "jwt_allauth_replays_total";
const REVOCATIONS: &str = "jwt_allauth_revocations_total";
const MAILS: &str = "jwt_allauth_mails_total";
const FEED_LAG: &str = "jwt_allauth_revocation_feed_lag_seconds";
const FEED_FALLBACK: &str = "jwt_allauth_revocation_feed_fallback";
const POOL: &str = "jwt_allauth_db_pool_connections";

/// A server with `/metrics` on a port of its own: the server and that port's base URL.
async fn serve_with_metrics(db: &TestDb) -> (Server, String) {
    let bind = format!("127.0.0.1:{}", free_port());
    let server = serve(db, &[("JWT_ALLAUTH_METRICS_BIND", &bind)]).await;
    (server, format!("http://{bind}"))
}

async fn post(client: &Client, server: &Server, path: &str, body: Value) -> StatusCode {
    client
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

/// Each series moves by what was done between two scrapes, labelled by route template
/// and outcome; `/metrics` is 404 on the public address.
async fn counters_follow_what_users_do(db: &TestDb) {
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let (server, metrics) = serve_with_metrics(db).await;
    let client = Client::new();
    let before = Scrape::get(&client, &metrics).await;

    // A login, a failed login, a refresh, a replay of the rotated token.
    let first = login(&client, &server).await;
    let wrong = json!({"email": EMAIL, "password": "not the password"});
    assert_eq!(
        post(&client, &server, "/login/", wrong).await,
        StatusCode::UNAUTHORIZED
    );
    let refresh = json!({"refresh": first.refresh});
    assert_eq!(
        post(&client, &server, "/refresh/", refresh.clone()).await,
        StatusCode::OK
    );
    assert_eq!(
        post(&client, &server, "/refresh/", refresh).await,
        StatusCode::UNAUTHORIZED
    );
    // A second session, logged out.
    let second = login(&client, &server).await;
    let response = client
        .post(server.url("/logout/"))
        .bearer_auth(&second.access)
        .json(&json!({"refresh": second.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A session ended by id, from the list of another.
    let third = login(&client, &server).await;
    let fourth = login(&client, &server).await;
    let response = client
        .delete(server.url(&format!("/sessions/{}/", third.session)))
        .bearer_auth(&fourth.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // A mail: a password reset link.
    assert_eq!(
        post(
            &client,
            &server,
            "/password/reset/",
            json!({"email": EMAIL})
        )
        .await,
        StatusCode::OK
    );
    // Paths no route matches, one of them guessing an id.
    for path in ["/no/such/path/", "/sessions/abc/def/"] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    // /metrics is not served on the public address.
    let response = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // The mail is delivered (to files) by the worker, in the background.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let scrape = Scrape::get(&client, &metrics).await;
        if scrape.sum(MAILS, &[("state", "delivered")])
            > before.sum(MAILS, &[("state", "delivered")])
        {
            break scrape;
        }
        assert!(
            Instant::now() < deadline,
            "no mail delivered:\n{}",
            scrape.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let moved =
        |name: &str, labels: &[(&str, &str)]| after.sum(name, labels) - before.sum(name, labels);

    assert_eq!(
        moved(LOGINS, &[("outcome", "success")]),
        4.0,
        "{}",
        after.text
    );
    assert_eq!(moved(LOGINS, &[("outcome", "invalid_credentials")]), 1.0);
    assert_eq!(moved(ROTATIONS, &[("outcome", "rotated")]), 1.0);
    assert_eq!(moved(ROTATIONS, &[("outcome", "replayed")]), 1.0);
    assert_eq!(moved(REPLAYS, &[]), 1.0);
    assert_eq!(moved(REVOCATIONS, &[("reason", "replay")]), 1.0);
    // /logout/ and DELETE /sessions/{session}/ both end a session for `logout`.
    assert_eq!(moved(REVOCATIONS, &[("reason", "logout")]), 2.0);
    assert_eq!(moved(REVOCATIONS, &[("reason", "admin")]), 0.0);
    assert_eq!(
        moved(REVOCATIONS, &[]),
        3.0,
        "replay, logout and the session ended by id"
    );
    assert_eq!(moved(MAILS, &[("state", "queued")]), 1.0);
    assert_eq!(moved(MAILS, &[("state", "delivered")]), 1.0);

    // Requests by route template and status.
    let login_route = [("route", "/login/"), ("status", "200")];
    assert_eq!(moved(REQUESTS, &login_route), 4.0);
    assert_eq!(
        moved(REQUESTS, &[("route", "/login/"), ("status", "401")]),
        1.0
    );
    assert_eq!(
        moved(REQUESTS, &[("route", "/refresh/"), ("status", "401")]),
        1.0
    );
    assert_eq!(
        moved(
            REQUESTS,
            &[("route", "/sessions/{session}/"), ("status", "204")]
        ),
        1.0
    );
    assert_eq!(
        moved(REQUESTS, &[("route", "unmatched"), ("status", "404")]),
        3.0,
        "two unknown paths and /metrics on the public address"
    );
    // Never the raw path: no series names a session id or an unknown path.
    for raw in [
        third.session.as_str(),
        "/no/such/path/",
        "/sessions/abc/def/",
        "/metrics",
    ] {
        assert!(
            !after.text.contains(&format!("route=\"{raw}")),
            "{raw} in:\n{}",
            after.text
        );
    }
    // Durations: a histogram with buckets, counted per route.
    assert_eq!(moved(DURATION_COUNT, &[("route", "/login/")]), 5.0);
    assert!(after.has(DURATION_BUCKET, &[("route", "/login/"), ("le", "+Inf")]));
    assert!(after.has(DURATION_BUCKET, &[("route", "/login/"), ("le", "0.005")]));

    // The feed is live, and the pool is there.
    assert_eq!(after.value(FEED_FALLBACK, &[]), 0.0);
    let lag = after.value(FEED_LAG, &[]);
    assert!((0.0..1.0).contains(&lag), "{lag}");
    assert!(after.value(POOL, &[("pool", "main"), ("state", "open")]) >= 1.0);
    assert!(after.has(POOL, &[("pool", "main"), ("state", "idle")]));
    if db.is_postgres() {
        assert!(after.value(POOL, &[("pool", "feed"), ("state", "open")]) >= 1.0);
        assert!(after.has(POOL, &[("pool", "reads"), ("state", "open")]));
    }

    // Only /metrics is served there.
    let response = client
        .get(format!("{metrics}/login/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_follow_what_users_do_on_sqlite() {
    counters_follow_what_users_do(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_follow_what_users_do_on_postgres() {
    if let Some(db) = TestDb::postgres("counters_follow_what_users_do_on_postgres").await {
        counters_follow_what_users_do(&db).await;
    }
}

/// Without `METRICS_BIND` the server listens on `BIND` only; with it, on both.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_metrics_listener_unless_metrics_bind_is_set() {
    let db = TestDb::sqlite();
    let server = serve(&db, &[]).await;
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        listening_ports(server.child.id()),
        BTreeSet::from([port]),
        "{}",
        server.log_text()
    );
    assert!(!server.log_text().contains("metrics served"));

    let (with_metrics, metrics) = serve_with_metrics(&db).await;
    let port: u16 = with_metrics
        .base
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let metrics_port: u16 = metrics.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        listening_ports(with_metrics.child.id()),
        BTreeSet::from([port, metrics_port])
    );
}

/// The TCP ports process `pid` listens on (from `/proc`).
#[cfg(target_os = "linux")]
fn listening_ports(pid: u32) -> BTreeSet<u16> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    let mut ports = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is fields[1] (ADDR:PORT in hex), st fields[3] (0A: LISTEN),
            // inode fields[9].
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                let port = fields[1].rsplit(':').next().unwrap();
                ports.insert(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}
