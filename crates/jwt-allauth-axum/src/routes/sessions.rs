//! `GET /sessions/` and `DELETE /sessions/{session}/`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jwt_allauth::ClaimsExtension;
use jwt_allauth::store::SessionStore;
use serde_json::Value;

use super::Caller;
use crate::account::AccountStore;
use crate::api_error::ApiError;
use crate::error_body::server_fault;
use crate::state::AuthState;

/// 200: the caller's sessions, newest first, each with its device metadata and
/// `current` (true for the session of the access token used).
pub(crate) async fn list_sessions<S, A, E>(
    State(state): State<AuthState<S, A, E>>,
    caller: Caller<S, A, E>,
) -> Result<Response, ApiError>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    let sessions = state
        .manager()
        .list_sessions(caller.user.user_id())
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "listing sessions")))?;
    let current = caller.user.session();
    let mut list = Vec::with_capacity(sessions.len());
    for session in sessions {
        let is_current = current == Some(session.session.as_str());
        let mut value = serde_json::to_value(&session).map_err(|error| {
            tracing::error!(%error, "a session row cannot be serialized");
            ApiError::Internal
        })?;
        if let Value::Object(map) = &mut value {
            map.insert("current".to_owned(), Value::Bool(is_current));
        }
        list.push(value);
    }
    Ok(Json(list).into_response())
}

/// Ends one of the caller's sessions: 204, or 404 `{"detail":"Not found."}` when it is
/// not one of theirs.
pub(crate) async fn delete_session<S, A, E>(
    State(state): State<AuthState<S, A, E>>,
    caller: Caller<S, A, E>,
    Path(session): Path<String>,
) -> Result<Response, ApiError>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    let deleted = state
        .manager()
        .revoke_user_session(caller.user.user_id(), &session)
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "deleting a session")))?;
    if deleted {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}
