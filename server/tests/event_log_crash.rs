//! events.md: a committed change writes exactly one event, a change that does not commit
//! none, even with many requests at once and the server killed (`kill -9`) in the middle
//! of them: the event log agrees with the sessions table and with every answer a client
//! received. PostgreSQL and the real binary.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;
mod revocation_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{TestDb, success};
use reqwest::{Client, StatusCode};
use revocation_support::{EMAIL, PASSWORD, serve};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The login throttle off (a limit of 0 disables its counter).
const NO_THROTTLE: &[(&str, &str)] = &[
    ("JWT_ALLAUTH_LOGIN_FAILURES_PER_IP", "0"),
    ("JWT_ALLAUTH_LOGIN_FAILURES_PER_EMAIL", "0"),
];

/// What the clients were told: sessions opened (login answered 200) and ended (logout
/// answered 200).
#[derive(Default)]
struct Acknowledged {
    opened: HashSet<String>,
    ended: HashSet<String>,
}

/// Logs in and out (every other session stays open) until `stop`, recording what the
/// server answered 200; requests that fail (the server killed) are counted.
async fn client_loop(
    base: String,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Acknowledged>>,
    failures: Arc<AtomicUsize>,
) {
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut keep = false;
    while !stop.load(Ordering::Relaxed) {
        let login = client
            .post(format!("{base}/login/"))
            .json(&json!({"email": EMAIL, "password": PASSWORD}))
            .send()
            .await;
        let Ok(response) = login else {
            failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if response.status() != StatusCode::OK {
            continue;
        }
        let Ok(body) = response.json::<Value>().await else {
            failures.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let access = body["access"].as_str().unwrap().to_owned();
        let refresh = body["refresh"].as_str().unwrap().to_owned();
        let session = session_of(&access);
        acknowledged.lock().await.opened.insert(session.clone());
        keep = !keep;
        if keep {
            continue;
        }
        match client
            .post(format!("{base}/logout/"))
            .bearer_auth(&access)
            .json(&json!({"refresh": refresh}))
            .send()
            .await
        {
            Ok(response) if response.status() == StatusCode::OK => {
                acknowledged.lock().await.ended.insert(session);
            }
            Ok(_) => {}
            Err(_) => {
                failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The `session` claim of an access token.
fn session_of(access: &str) -> String {
    use base64::Engine;
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["session"].as_str().unwrap().to_owned()
}

/// The session ids of the events of `kind`, each as often as it was written.
async fn sessions_of(pool: &sqlx::PgPool, kind: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT session FROM jwt_allauth_events WHERE type = $1 ORDER BY seq")
        .bind(kind)
        .fetch_all(pool)
        .await
        .unwrap()
}

fn unique(ids: &[String], what: &str) -> HashSet<String> {
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "a {what} event was written twice");
    set
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_per_committed_change_through_a_kill_9() {
    let Some(db) = TestDb::postgres("one_event_per_committed_change_through_a_kill_9").await else {
        return;
    };
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    // Logins cut by the kill stay counted as failures by the (shared) login throttle,
    // which would refuse the restarted server's login: the limits are off here.
    let mut server = serve(&db, NO_THROTTLE).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let failures = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(client_loop(
                server.base.clone(),
                Arc::clone(&stop),
                Arc::clone(&acknowledged),
                Arc::clone(&failures),
            ))
        })
        .collect();
    // Let the clients get going, then kill the server with requests in flight.
    for _ in 0..200 {
        if acknowledged.lock().await.ended.len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().await;
    assert!(
        acknowledged.ended.len() >= 20,
        "the clients got going before the kill"
    );
    assert!(
        failures.load(Ordering::Relaxed) > 0,
        "requests were cut by the kill"
    );

    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let created = unique(
        &sessions_of(&pool, "session.created").await,
        "session.created",
    );
    let revoked = unique(
        &sessions_of(&pool, "session.revoked").await,
        "session.revoked",
    );
    let live: HashSet<String> = sqlx::query_scalar("SELECT session FROM jwt_allauth_sessions")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    // Every session in the table was created once and not revoked; every session that is
    // gone was revoked once; nothing else.
    assert!(live.is_subset(&created), "a live session without its event");
    assert!(live.is_disjoint(&revoked), "a live session said revoked");
    assert!(
        revoked.is_subset(&created),
        "a revocation of a session never created"
    );
    assert_eq!(
        created,
        &live | &revoked,
        "a session vanished without an event"
    );
    // What the clients were told agrees with the log.
    assert!(acknowledged.opened.is_subset(&created));
    assert!(acknowledged.ended.is_subset(&revoked));

    // The log goes on where it stopped after a restart.
    let server = serve(&db, NO_THROTTLE).await;
    let client = Client::new();
    let login = revocation_support::login(&client, &server).await;
    let after = unique(
        &sessions_of(&pool, "session.created").await,
        "session.created",
    );
    assert_eq!(after.len(), created.len() + 1);
    assert!(after.contains(&login.session));
    pool.close().await;
}
