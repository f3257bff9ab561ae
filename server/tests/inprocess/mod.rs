//! The server application in process, for tests that drive `app(state)` with `oneshot`.
#![allow(clippy::unwrap_used, dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use jwt_allauth_server::AppState;
use jwt_allauth_server::config::Config;
use jwt_allauth_server::db::Database;
use jwt_allauth_server::passwords::Passwords;
use serde_json::Value;
use tower::ServiceExt;

/// A state over a fresh, migrated in-memory SQLite database, with a configured secret and
/// User-Agent collection off.
pub async fn state() -> AppState {
    state_with(|_| {}, Passwords::with_permits(2)).await
}

/// Like [`state`], with `change` applied to the settings and `passwords` hashing.
pub async fn state_with(change: impl FnOnce(&mut Config), passwords: Passwords) -> AppState {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    db.migrate().await.unwrap();
    let mut config = Config::default();
    config.tokens.secret_key = Some(jwt_allauth::Secret::new(
        "test secret, long enough for HS256: 32+ bytes",
    ));
    config.http.collect_user_agent = false;
    change(&mut config);
    AppState::new(config, db, passwords).unwrap()
}

/// Sends one request: status, headers and the JSON body (`null` when empty).
pub async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, body)
}

/// The event log of `db`, each event as `type` or `type reason`, in `seq` order.
pub async fn event_log(db: &Database) -> Vec<String> {
    use jwt_allauth::events::EventLog;
    let events = match db {
        Database::Sqlite(pool) => jwt_allauth_sqlx::SqliteStore::new(pool.clone())
            .events_after(0, 1000)
            .await
            .unwrap(),
        Database::Postgres(pool) => jwt_allauth_sqlx::PostgresStore::new(pool.clone())
            .events_after(0, 1000)
            .await
            .unwrap(),
    };
    events
        .iter()
        .map(|event| match event.reason {
            Some(reason) => format!("{} {}", event.event_type.as_str(), reason.as_str()),
            None => event.event_type.as_str().to_owned(),
        })
        .collect()
}
