//! Liveness and readiness: `GET /health/` and `GET /ready/`.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwt_allauth_axum::ErrorBody;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

use crate::db::Database;

/// How long `/ready/` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// The body of a healthy `/health/` or `/ready/`: `{"status":"ok"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Status {
    /// `"ok"`.
    #[schema(example = "ok")]
    pub status: String,
}

impl Status {
    /// `{"status":"ok"}`.
    pub fn ok() -> Self {
        Self {
            status: "ok".to_owned(),
        }
    }
}

/// `/health/` and `/ready/` on `db`.
pub fn router(db: Database) -> Router {
    Router::new()
        .route("/health/", get(health))
        .route("/ready/", get(ready))
        .with_state(db)
}

/// Liveness: the process serves.
///
/// 200 `{"status":"ok"}`; touches nothing.
#[utoipa::path(
    get,
    path = "/health/",
    tag = "health",
    responses((status = 200, description = "The process serves.", body = Status)),
)]
pub async fn health() -> Json<Status> {
    Json(Status::ok())
}

/// Readiness: the database answers.
///
/// 200 `{"status":"ok"}` when the database answers `SELECT 1` within
/// [`READY_TIMEOUT`], else 503 `{"detail":"Database unavailable.",
/// "code":"service_unavailable"}`.
#[utoipa::path(
    get,
    path = "/ready/",
    tag = "health",
    responses(
        (status = 200, description = "The database answers.", body = Status),
        (status = 503, description = "The database does not answer (within 3 s): \
            `{\"detail\":\"Database unavailable.\",\"code\":\"service_unavailable\"}`.",
            body = ErrorBody),
    ),
)]
pub async fn ready(State(db): State<Database>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, db.ping()).await {
        Ok(Ok(())) => Json(Status::ok()).into_response(),
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
        Json(ErrorBody::unavailable()),
    )
        .into_response()
}

#[derive(OpenApi)]
#[openapi(
    paths(health, ready),
    tags((name = "health", description = "Liveness and readiness probes.")),
)]
struct HealthApi;

/// The OpenAPI paths of `/health/` and `/ready/`, to merge into the server's document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    HealthApi::openapi()
}
