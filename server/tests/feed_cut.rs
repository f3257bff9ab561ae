//! Feed cut (issue 14), against the real binary on PostgreSQL: an instance whose
//! revocation feed loses its connections still refuses a revoked session's access token
//! within the bound, reports the fallback in `/ready/` and in
//! `jwt_allauth_revocation_feed_fallback` while it cannot catch up, and reports `live`
//! again once it has.
//!
//! The feed of an instance reads and listens through a pool of its own, whose connections
//! are named `jwt-allauth revocation feed` in `pg_stat_activity`; the test finds them
//! there. Two ways of cutting it, because they test different things:
//!
//! - **The `LISTEN` connection terminated over and over** (`pg_terminate_backend` in a
//!   loop): no notification reaches the instance, yet its poll (every 250 ms, on the
//!   other connection) still brings a revocation within the bound. Terminating does not
//!   hold the feed behind, though: every connection the pool opens again is fresh, and a
//!   read that slips between two terminations brings the set up to date; even
//!   terminating every feed connection in a tight loop lets reads through.
//! - **The feed's backends frozen** (`SIGSTOP` to the PostgreSQL backend processes of the
//!   feed, found by `application_name`, and to any it opens while frozen): its reads
//!   wait, so it falls behind for as long as the test wants, deterministically, while the
//!   rest of the database (the instance's requests, the other instance's revocation)
//!   works. A lock cannot do this: the feed only reads the event log, and the only lock
//!   that blocks a read (`ACCESS EXCLUSIVE`) also blocks the revocation's event insert.
//!   Signalling the backends needs the test to run on the database's machine as root or
//!   `postgres`, as CI does (`.ci/run` starts a local cluster); every frozen backend is
//!   continued when the test ends, even when it fails.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;
mod metrics_support;
mod revocation_support;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Server, TestDb, free_port, success};
use jwt_allauth_server::revocations::FEED_APPLICATION_NAME;
use metrics_support::Scrape;
use reqwest::{Client, StatusCode};
use revocation_support::{EMAIL, Login, PASSWORD, login, serve, whoami};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::task::JoinHandle;

const FALLBACK: &str = "jwt_allauth_revocation_feed_fallback";
const LAG: &str = "jwt_allauth_revocation_feed_lag_seconds";

/// A generous ceiling for what must happen within the bound (1 s), so that a loaded
/// machine does not fail the test; the delays are printed.
const CEILING: Duration = Duration::from_secs(10);

/// `revocation_feed` of the server's `/ready/` (which must be 200).
async fn feed_status(client: &Client, server: &Server) -> String {
    let response = client.get(server.url("/ready/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    body["revocation_feed"].as_str().unwrap().to_owned()
}

/// Polls `/ready/` until it reports `wanted` (at most [`CEILING`]); how long it took.
async fn wait_for_feed(client: &Client, server: &Server, wanted: &str) -> Duration {
    let since = Instant::now();
    loop {
        if feed_status(client, server).await == wanted {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < CEILING,
            "/ready/ never said {wanted}: {}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn logout(client: &Client, server: &Server, session: &Login) {
    let response = client
        .post(server.url("/logout/"))
        .bearer_auth(&session.access)
        .json(&json!({"refresh": session.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Asserts that `access` is refused as a revoked session's token.
async fn assert_refused(client: &Client, server: &Server, access: &str, what: &str) {
    let (status, body) = whoami(client, server, access).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Session is no longer active.", "code": "token_not_valid"})
        ),
        "{what}"
    );
}

/// The pids of the feed's backends in `state` (`idle`, ...), whose last query is like
/// `query`.
async fn feed_backends(admin: &PgPool, query: &str) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = $1 AND state = 'idle' AND query LIKE $2",
    )
    .bind(FEED_APPLICATION_NAME)
    .bind(query)
    .fetch_all(admin)
    .await
    .unwrap()
}

/// A task terminating the feed's `LISTEN` connection as soon as it appears, until
/// stopped.
struct ListenCutter {
    stop: Arc<AtomicBool>,
    terminated: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl ListenCutter {
    fn start(admin: PgPool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let terminated = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let (stop, terminated) = (Arc::clone(&stop), Arc::clone(&terminated));
            async move {
                // Bounded: a minute at most, whatever the test does.
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let killed: i64 = sqlx::query_scalar(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) \
                         FROM pg_stat_activity WHERE datname = current_database() \
                         AND application_name = $1 AND query LIKE 'LISTEN%'",
                    )
                    .bind(FEED_APPLICATION_NAME)
                    .fetch_one(&admin)
                    .await
                    .unwrap();
                    terminated.fetch_add(u64::try_from(killed).unwrap(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Self {
            stop,
            terminated,
            task,
        }
    }

    fn terminated(&self) -> u64 {
        self.terminated.load(Ordering::Relaxed)
    }

    /// Stops; how many connections it terminated.
    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let terminated = Arc::clone(&self.terminated);
        self.task.await.unwrap();
        terminated.load(Ordering::Relaxed)
    }
}

/// Freezes the feed's backends (`SIGSTOP`), and any it opens meanwhile, until dropped
/// (`SIGCONT`, also when the test panics).
struct FeedFreezer {
    stop: Arc<AtomicBool>,
    frozen: Arc<std::sync::Mutex<BTreeSet<i32>>>,
    task: Option<JoinHandle<()>>,
}

impl FeedFreezer {
    async fn start(admin: PgPool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let frozen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let freeze = {
            let frozen = Arc::clone(&frozen);
            move |pid: i32| {
                let signalled = Command::new("kill")
                    .args(["-STOP", &pid.to_string()])
                    .status()
                    .unwrap();
                assert!(
                    signalled.success(),
                    "cannot SIGSTOP backend {pid}: the test must run on the database's \
                     machine as root or postgres"
                );
                frozen.lock().unwrap().insert(pid);
            }
        };
        // The first ones before returning: the caller then waits for the fallback.
        let first = feed_backends(&admin, "%").await;
        assert!(!first.is_empty(), "no feed connection in pg_stat_activity");
        first.iter().copied().for_each(&freeze);
        let task = tokio::spawn({
            let (stop, frozen) = (Arc::clone(&stop), Arc::clone(&frozen));
            async move {
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    for pid in feed_backends(&admin, "%").await {
                        if !frozen.lock().unwrap().contains(&pid) {
                            freeze(pid);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        Self {
            stop,
            frozen,
            task: Some(task),
        }
    }

    /// Continues every frozen backend.
    async fn thaw(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.continue_all();
    }

    fn continue_all(&self) {
        let pids = std::mem::take(&mut *self.frozen.lock().unwrap_or_else(|e| e.into_inner()));
        for pid in pids {
            let _ = Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
    }
}

impl Drop for FeedFreezer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.continue_all();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_feed_still_refuses_revoked_tokens_and_reports_the_fallback() {
    let Some(db) = TestDb::postgres("a_cut_feed_still_refuses_revoked_tokens").await else {
        return;
    };
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let metrics_bind = format!("127.0.0.1:{}", free_port());
    let metrics = format!("http://{metrics_bind}");
    // The instance whose feed is cut.
    let cut = serve(&db, &[("JWT_ALLAUTH_METRICS_BIND", &metrics_bind)]).await;
    // The instance that revokes, without a feed of its own: the feed connections in
    // pg_stat_activity are the cut instance's.
    let other = serve(&db, &[("JWT_ALLAUTH_REVOCATION_FEED", "false")]).await;
    let client = Client::new();
    let admin = PgPool::connect(&db.url).await.unwrap();
    assert_eq!(feed_status(&client, &cut).await, "live");
    assert_eq!(
        Scrape::get(&client, &metrics).await.value(FALLBACK, &[]),
        0.0
    );

    // 1. The LISTEN connection terminated over and over: the poll still brings the
    //    revocation within the bound.
    let first = login(&client, &other).await;
    assert_eq!(whoami(&client, &cut, &first.access).await.0, StatusCode::OK);
    let cutter = ListenCutter::start(admin.clone());
    let since = Instant::now();
    while cutter.terminated() < 3 {
        assert!(
            since.elapsed() < CEILING,
            "the LISTEN connection was not terminated 3 times: {}",
            cut.log_text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    logout(&client, &other, &first).await;
    let revoked = Instant::now();
    loop {
        let (status, _) = whoami(&client, &cut, &first.access).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(revoked.elapsed() < CEILING, "never refused with LISTEN cut");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "LISTEN cut: refused {:?} after the revocation",
        revoked.elapsed()
    );
    assert_refused(&client, &cut, &first.access, "LISTEN cut").await;
    let terminated = cutter.stop().await;
    eprintln!("LISTEN connection terminated {terminated} times");
    assert!(terminated >= 3);

    // 2. The feed held behind: the instance falls back to the database and says so.
    let second = login(&client, &other).await;
    assert_eq!(
        whoami(&client, &cut, &second.access).await.0,
        StatusCode::OK
    );
    let freezer = FeedFreezer::start(admin.clone()).await;
    let fell_back = wait_for_feed(&client, &cut, "fallback").await;
    eprintln!("feed frozen: /ready/ says fallback after {fell_back:?}");
    let scrape = Scrape::get(&client, &metrics).await;
    assert_eq!(scrape.value(FALLBACK, &[]), 1.0, "{}", scrape.text);
    assert!(scrape.value(LAG, &[]) > 1.0, "{}", scrape.text);
    // Still serving: a live session's token, checked against the database.
    assert_eq!(
        whoami(&client, &cut, &second.access).await.0,
        StatusCode::OK
    );
    // Revoked on the other instance: refused at once, though the feed cannot have read
    // the revocation (its backends are stopped).
    logout(&client, &other, &second).await;
    assert_refused(&client, &cut, &second.access, "feed frozen").await;
    assert_eq!(feed_status(&client, &cut).await, "fallback");

    // 3. The feed again: it catches up, and says so.
    freezer.thaw().await;
    let caught_up = wait_for_feed(&client, &cut, "live").await;
    eprintln!("feed thawed: /ready/ says live after {caught_up:?}");
    let scrape = Scrape::get(&client, &metrics).await;
    assert_eq!(scrape.value(FALLBACK, &[]), 0.0, "{}", scrape.text);
    assert!(scrape.value(LAG, &[]) < 1.0, "{}", scrape.text);
    assert_refused(&client, &cut, &second.access, "after catching up").await;
    assert_refused(&client, &cut, &first.access, "after catching up").await;
    admin.close().await;
}
