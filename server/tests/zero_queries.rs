//! Zero queries per request: the statements PostgreSQL runs for a burst of authenticated
//! requests, against an idle baseline. A test binary of its own, so that no other test
//! loads the machine while it counts (a starved revocation feed falls back, rightly, to
//! the database).

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;
mod revocation_support;

use std::time::{Duration, Instant};

use common::{TestDb, success};
use reqwest::{Client, StatusCode};
use revocation_support::{EMAIL, PASSWORD, login, serve, whoami};

/// The statements PostgreSQL runs for a burst of authenticated requests: none. The
/// database's transaction counters over a window with 600 requests equal those of an idle
/// window of the same length (the feed's own polls, which do not depend on requests,
/// are in both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_requests_query_nothing() {
    let Some(db) = TestDb::postgres("authenticated_requests_query_nothing").await else {
        return;
    };
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let server = serve(&db, &[]).await;
    let client = Client::new();
    let session = login(&client, &server).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    // A backend flushes its counters at most once a second while busy, and within 10 s
    // once idle: each window is read 11 s after it ends.
    let settle = Duration::from_secs(11);
    let window = Duration::from_secs(3);
    let transactions = || async {
        let count: i64 = sqlx::query_scalar(
            "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database \
             WHERE datname = current_database()",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        count
    };
    tokio::time::sleep(settle).await;
    let start = transactions().await;
    tokio::time::sleep(window + settle).await;
    let idle = transactions().await;

    let burst_started = Instant::now();
    let mut requests = 0;
    while burst_started.elapsed() < window {
        assert_eq!(
            whoami(&client, &server, &session.access).await.0,
            StatusCode::OK
        );
        requests += 1;
    }
    assert!(requests >= 100, "only {requests} requests in {window:?}");
    tokio::time::sleep(settle).await;
    let busy = transactions().await;
    // Our own three reads are transactions too, one in each difference. The feed's polls
    // (about four a second) reach the counters a second's worth at a time, so two windows
    // of equal length differ by up to a couple of flushes; one query per request would
    // add thousands.
    let idle_delta = idle - start;
    let busy_delta = busy - idle;
    println!(
        "transactions: idle window {idle_delta}, window with {requests} requests {busy_delta}"
    );
    assert!(
        busy_delta <= idle_delta + 10,
        "{requests} authenticated requests ran {busy_delta} transactions against {idle_delta} idle"
    );
}
