//! `POST /refresh/`.

use axum::extract::{FromRequest, Request, State};
use axum::response::Response;
use jwt_allauth::store::SessionStore;
use jwt_allauth::{ClaimsExtension, Error, RotationOutcome};
use serde_json::Map;

use super::tokens_response;
use crate::account::AccountStore;
use crate::api_error::ApiError;
use crate::body::{CharField, FieldErrors, Fields};
use crate::client::ClientInfo;
use crate::error_body::server_fault;
use crate::rejection::RefreshRejection;
use crate::state::AuthState;

/// Rotates the refresh token of the cookie (body mode: field `refresh`): 200
/// `{"access"}` and the new cookie (body mode: `{"access","refresh"}`). In cookie mode
/// the body is not read.
pub(crate) async fn refresh<S, A, E>(
    State(state): State<AuthState<S, A, E>>,
    client: ClientInfo,
    request: Request,
) -> Result<Response, ApiError>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    let token = if state.settings().refresh_token_as_cookie {
        state
            .cookie()
            .read(request.headers())
            .ok_or_else(|| FieldErrors::single("refresh", "This field is required."))?
    } else {
        let fields = Fields::from_request(request, &()).await?;
        let mut errors = FieldErrors::new();
        fields
            .char_field("refresh", CharField::required(), &mut errors)
            .ok_or(errors)?
    };

    let now = state.now();
    let device = state.device_info(&client);
    let outcome = match state.manager().rotate(&token, &device, now).await {
        Ok(outcome) => outcome,
        Err(Error::Token(error)) => return Err(RefreshRejection::Token(error).into()),
        Err(error) => return Err(server_fault(&error, "refresh").into()),
    };
    if matches!(outcome, RotationOutcome::Replayed) {
        // Evidence that a refresh token was copied: the session is gone.
        tracing::warn!(outcome = outcome.name(), "refresh token replayed");
    } else {
        tracing::debug!(outcome = outcome.name(), "refresh");
    }
    match outcome {
        RotationOutcome::Rotated(pair) | RotationOutcome::Retried(pair) => {
            tokens_response(&state, &pair, now, Map::new())
        }
        RotationOutcome::Disabled {
            email_verified: false,
        } => Err(RefreshRejection::EmailNotVerified.into()),
        RotationOutcome::SessionExpired => Err(RefreshRejection::SessionExpired.into()),
        RotationOutcome::Replayed
        | RotationOutcome::NotFound
        | RotationOutcome::UserInactive
        | RotationOutcome::Disabled {
            email_verified: true,
        } => Err(RefreshRejection::InvalidOrExpired.into()),
    }
}
