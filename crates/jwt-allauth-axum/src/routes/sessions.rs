//! `GET /sessions/`, `DELETE /sessions/{session}/` and `POST /sessions/revoke-others/`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Account;
use crate::account::AccountStore;
use crate::api_error::ApiError;
use crate::error_response::server_fault;
#[cfg(feature = "openapi")]
use crate::payloads::{Detail, ErrorBody};
use crate::payloads::{OthersRevoked, SessionInfo};
use crate::state::AuthState;

/// List the caller's sessions.
///
/// 200: the sessions, newest first, each with its device metadata and `current` (true
/// for the session of the access token used).
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = super::SESSIONS,
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's sessions, newest first.", body = Vec<SessionInfo>),
        (status = 401, description = crate::openapi::UNAUTHORIZED, body = crate::openapi::BearerError, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn list_sessions<A>(
    State(state): State<AuthState<A>>,
    account: Account<A>,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
{
    let sessions = state
        .manager()
        .list_sessions(account.loaded.auth.user_id())
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "listing sessions")))?;
    let current = account.loaded.auth.session();
    let list: Vec<SessionInfo> = sessions
        .into_iter()
        .map(|record| SessionInfo {
            current: current == Some(record.session.as_str()),
            record,
        })
        .collect();
    Ok(Json(list).into_response())
}

/// End one of the caller's sessions.
///
/// 204, or 404 `{"detail":"Not found."}` when it is not one of theirs.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = super::SESSION,
    tag = "sessions",
    security(("bearer" = [])),
    params(("session" = String, Path, description = "The session id (32 lowercase hex).")),
    responses(
        (status = 204, description = "The session is closed."),
        (status = 401, description = crate::openapi::UNAUTHORIZED, body = crate::openapi::BearerError, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 404, description = "Not one of the caller's sessions: `{\"detail\":\"Not \
            found.\"}`.", body = Detail),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn delete_session<A>(
    State(state): State<AuthState<A>>,
    account: Account<A>,
    session: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
{
    // An id that does not decode to UTF-8, or holds a NUL (which PostgreSQL cannot
    // compare), is none of the caller's sessions: 404 without asking the store.
    let session = match session {
        Ok(Path(session)) if !session.contains('\0') => session,
        _ => return Err(ApiError::NotFound),
    };
    let deleted = state
        .manager()
        .revoke_user_session(account.loaded.auth.user_id(), &session, state.now())
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "deleting a session")))?;
    if deleted {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}

/// The `detail` of `POST /sessions/revoke-others/`.
pub(crate) const OTHERS_REVOKED: &str = "Signed out of other devices.";

/// Sign out of every other device: end every session of the caller but the access
/// token's own.
///
/// 200 `{"detail":"Signed out of other devices.","revoked":<n>}`. Only the Bearer token
/// is needed: the refresh cookie (the caller's own session) is left as it is, in cookie
/// and body mode alike. The ended sessions are revoked for `logout_all`: their refresh
/// tokens are refused at once, and their access tokens wherever the revocation feed (or
/// `ACCESS_TOKEN_SESSION_CHECK`) is on.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::SESSIONS_REVOKE_OTHERS,
    tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every other session of the caller is closed; \
            `revoked` counts them.", body = OthersRevoked),
        (status = 401, description = crate::openapi::UNAUTHORIZED, body = crate::openapi::BearerError, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn revoke_other_sessions<A>(
    State(state): State<AuthState<A>>,
    account: Account<A>,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
{
    let auth = &account.loaded.auth;
    let revoked = state
        .manager()
        .revoke_other_sessions(auth.user_id(), auth.session(), state.now())
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "ending the other sessions")))?;
    Ok(Json(OthersRevoked {
        detail: OTHERS_REVOKED.to_owned(),
        revoked,
    })
    .into_response())
}
