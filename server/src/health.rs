//! Liveness and readiness: `GET /health/` and `GET /ready/`.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::db::Database;

/// How long `/ready/` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// `/health/` and `/ready/` on `db`.
pub fn router(db: Database) -> Router {
    Router::new()
        .route("/health/", get(health))
        .route("/ready/", get(ready))
        .with_state(db)
}

/// `GET /health/`: 200 `{"status":"ok"}` while the process serves; touches nothing.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /ready/`: 200 `{"status":"ok"}` when the database answers `SELECT 1` within
/// [`READY_TIMEOUT`], else 503 `{"detail":"Database unavailable.",
/// "code":"service_unavailable"}`.
pub async fn ready(State(db): State<Database>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, db.ping()).await {
        Ok(Ok(())) => Json(json!({"status": "ok"})).into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: the database does not answer");
            unavailable()
        }
        Err(_) => {
            tracing::warn!("readiness check: the database timed out");
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"detail": "Database unavailable.", "code": "service_unavailable"})),
    )
        .into_response()
}
