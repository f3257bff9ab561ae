//! Liveness and readiness: `GET /health/` and `GET /ready/`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwt_allauth::events::{RevocationSet, RevocationSetState};
use jwt_allauth_axum::ErrorBody;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::OpenApi;

use crate::db::Database;

/// How long `/ready/` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// The body of `/health/`: `{"status":"ok"}`.
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

/// The body of a ready `/ready/`: `{"status":"ok","revocation_feed":"live"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `"ok"`.
    #[schema(example = "ok")]
    pub status: String,
    /// Whether access-token checks can trust the instance's revocation set.
    pub revocation_feed: FeedStatus,
}

/// The state of the instance's revocation feed, as `/ready/` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedStatus {
    /// The revocation set is up to date within the bound (1 s): access-token checks
    /// consult it, with no database query.
    Live,
    /// The feed is behind by more than the bound (its database reads fail or stall), or
    /// more revocations arrived than the set holds: every access-token check asks the
    /// database until it has caught up. Still safe, but each check costs a query.
    Fallback,
    /// `REVOCATION_FEED` is off: access tokens are checked by signature and expiry only
    /// (unless `ACCESS_TOKEN_SESSION_CHECK`).
    Off,
}

impl FeedStatus {
    /// The status of `set` at `now` ([`Off`](Self::Off) without a set).
    pub fn of(set: Option<&RevocationSet>, now: OffsetDateTime) -> Self {
        match set.map(|set| set.state(now)) {
            None => FeedStatus::Off,
            Some(RevocationSetState::Live) => FeedStatus::Live,
            Some(RevocationSetState::Behind | RevocationSetState::Overflowed) => {
                FeedStatus::Fallback
            }
        }
    }
}

/// What `/ready/` looks at: the database, and the revocation set (`None` when
/// `REVOCATION_FEED` is off).
#[derive(Debug, Clone)]
pub struct ReadyState {
    db: Database,
    revocations: Option<Arc<RevocationSet>>,
}

/// `/health/` and `/ready/` on `db`, reporting the state of `revocations`.
pub fn router(db: Database, revocations: Option<Arc<RevocationSet>>) -> Router {
    Router::new()
        .route("/health/", get(health))
        .route("/ready/", get(ready))
        .with_state(ReadyState { db, revocations })
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

/// Readiness: the database answers; and whether the revocation feed is live.
///
/// 200 `{"status":"ok","revocation_feed":"live"|"fallback"|"off"}` when the database
/// answers `SELECT 1` within [`READY_TIMEOUT`], else 503 `{"detail":"Database
/// unavailable.","code":"service_unavailable"}`. `fallback` is still 200: the instance
/// refuses revoked tokens by asking the database at every access-token check, as long as
/// the database answers.
#[utoipa::path(
    get,
    path = "/ready/",
    tag = "health",
    responses(
        (status = 200, description = "The database answers. `revocation_feed`: `live` (the \
            in-memory revocation set is up to date within 1 s), `fallback` (it is not: every \
            access-token check asks the database until the feed has caught up) or `off` \
            (`REVOCATION_FEED=false`).", body = Readiness),
        (status = 503, description = "The database does not answer (within 3 s): \
            `{\"detail\":\"Database unavailable.\",\"code\":\"service_unavailable\"}`.",
            body = ErrorBody),
    ),
)]
pub async fn ready(State(state): State<ReadyState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => {
            let now = OffsetDateTime::now_utc();
            Json(Readiness {
                status: "ok".to_owned(),
                revocation_feed: FeedStatus::of(state.revocations.as_deref(), now),
            })
            .into_response()
        }
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
