//! `POST /refresh/`.

use axum::extract::{Request, State};
use axum::response::Response;
use jwt_allauth::{Error, RotationOutcome};

use super::{check_csrf, refresh_request, tokens_response};
use crate::account::AccountStore;
use crate::api_error::ApiError;
use crate::client::ClientInfo;
use crate::counters;
use crate::error_response::server_fault;
use crate::fields::FieldErrors;
#[cfg(feature = "openapi")]
use crate::payloads::{Detail, ErrorBody, RefreshRequest, Tokens};
use crate::rejection::RefreshRejection;
use crate::state::AuthState;

/// Rotate the refresh token: new tokens for the same session.
///
/// The refresh token is read from the cookie (body mode: field `refresh`): 200
/// `{"access"}` and the new cookie (body mode: `{"access","refresh"}`). In cookie mode
/// the body is not read.
///
/// A refused token is 401 with `token_not_valid` (`Token is invalid`, `Token is
/// expired`, `Token has wrong type`, or `Token is invalid or expired` for a replayed,
/// revoked or unknown session or an inactive user), `email_not_verified` or
/// `session_expired`.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::REFRESH,
    tag = "tokens",
    request_body(
        description = "Only when `REFRESH_TOKEN_AS_COOKIE` is off; otherwise the refresh \
            token is read from the `refresh_token` cookie.",
        content(
            (Option<RefreshRequest> = "application/json"),
            (Option<RefreshRequest> = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "Rotated: new tokens for the same session.", body = Tokens, headers(
            ("Set-Cookie" = String, description = "The refresh cookie (`refresh_token`, `HttpOnly`), when `REFRESH_TOKEN_AS_COOKIE` is on (the default)."),
            ("Cache-Control" = String, description = "`no-store`"),
        )),
        (status = 400, description = "No refresh token: `{\"refresh\":[\"This field is \
            required.\"]}`; or a body that cannot be parsed.", body = crate::openapi::BadRequest),
        (status = 401, description = "The refresh token is refused.", body = ErrorBody, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 403, description = "Cookie mode: a cross-site browser request (CSRF \
            check): `{\"detail\":\"CSRF check failed: cross-site request.\",\"code\":\
            \"csrf_failed\"}`; nothing is rotated or deleted.", body = ErrorBody),
        (status = 413, description = crate::openapi::TOO_LARGE, body = Detail),
        (status = 415, description = crate::openapi::UNSUPPORTED, body = Detail),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn refresh<A>(
    State(state): State<AuthState<A>>,
    client: ClientInfo,
    request: Request,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
{
    let token = if state.http_settings().refresh_token_as_cookie {
        let token = state
            .cookie()
            .read(request.headers())
            .ok_or_else(|| FieldErrors::single("refresh", "This field is required."))?;
        check_csrf(&state, request.headers())?;
        token
    } else {
        refresh_request(request).await?.refresh
    };

    let now = state.now();
    // The User-Agent is parsed only for a token that verifies and an active user.
    let device = || state.device_info(&client);
    let outcome = match state.manager().rotate_with(&token, device, now).await {
        Ok(outcome) => outcome,
        Err(Error::Token(error)) => {
            counters::record_rotation("invalid_token");
            return Err(RefreshRejection::Token(error).into());
        }
        Err(error) => {
            counters::record_rotation("error");
            return Err(server_fault(&error, "refresh").into());
        }
    };
    counters::record_rotation(outcome.name());
    if matches!(outcome, RotationOutcome::Replayed) {
        // Evidence that a refresh token was copied: the session is gone.
        tracing::warn!(outcome = outcome.name(), "refresh token replayed");
    } else {
        tracing::debug!(outcome = outcome.name(), "refresh");
    }
    match outcome {
        RotationOutcome::Rotated(pair) | RotationOutcome::Retried(pair) => {
            tokens_response(&state, &pair, now, |tokens| tokens)
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
