//! `POST /logout/` and `POST /logout-all/`.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use jwt_allauth::Error;

use super::{Account, check_csrf, clear_cookie, refresh_request};
use crate::account::AccountStore;
use crate::api_error::ApiError;
use crate::error_response::server_fault;
use crate::payloads::Detail;
#[cfg(feature = "openapi")]
use crate::payloads::{ErrorBody, RefreshRequest};
use crate::state::AuthState;

/// Log out: close the session of a refresh token.
///
/// The refresh token is read from the cookie (body mode: field `refresh`); it must be one
/// of the caller's, even an already rotated one. 200 `{"detail":"Successfully logged
/// out."}` and the cookie cleared.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::LOGOUT,
    tag = "tokens",
    security(("bearer" = [])),
    request_body(
        description = "Only when `REFRESH_TOKEN_AS_COOKIE` is off; otherwise the refresh \
            token is read from the `refresh_token` cookie.",
        content(
            (Option<RefreshRequest> = "application/json"),
            (Option<RefreshRequest> = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "The session is closed.", body = Detail, headers(
            ("Set-Cookie" = String, description = "The refresh cookie cleared (`Max-Age=0`), when `REFRESH_TOKEN_AS_COOKIE` is on."),
        )),
        (status = 400, description = "No refresh token (`{\"detail\":\"Refresh token cookie \
            not found.\"}`, or in body mode `{\"refresh\":[\"This field is required.\"]}`), \
            or one that does not verify or belongs to another user (`{\"detail\":\"Invalid \
            token.\"}`): nothing is deleted.", body = crate::openapi::BadRequest),
        (status = 401, description = crate::openapi::UNAUTHORIZED, body = crate::openapi::BearerError, headers(
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
pub(crate) async fn logout<A>(
    State(state): State<AuthState<A>>,
    account: Account<A>,
    request: Request,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
{
    let token = if state.http_settings().refresh_token_as_cookie {
        let token = state
            .cookie()
            .read(request.headers())
            .ok_or(ApiError::RefreshCookieNotFound)?;
        check_csrf(&state, request.headers())?;
        token
    } else {
        refresh_request(request).await?.refresh
    };
    match state
        .manager()
        .logout(account.loaded.auth.user_id(), &token, state.now())
        .await
    {
        Ok(_) => {}
        Err(Error::Token(_)) => return Err(ApiError::InvalidToken),
        Err(error) => return Err(server_fault(&error, "logout").into()),
    }
    let response = Json(Detail::new("Successfully logged out.")).into_response();
    Ok(clear_cookie(&state, response))
}

/// Log out from all devices: close every session of the caller.
///
/// 200 `{"detail":"Successfully logged out from all devices."}` and the cookie cleared.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::LOGOUT_ALL,
    tag = "tokens",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every session of the caller is closed.", body = Detail, headers(
            ("Set-Cookie" = String, description = "The refresh cookie cleared (`Max-Age=0`), when `REFRESH_TOKEN_AS_COOKIE` is on."),
        )),
        (status = 401, description = crate::openapi::UNAUTHORIZED, body = crate::openapi::BearerError, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn logout_all<A>(
    State(state): State<AuthState<A>>,
    account: Account<A>,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
{
    state
        .manager()
        .logout_all(account.loaded.auth.user_id(), state.now())
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "logout-all")))?;
    let response = Json(Detail::new("Successfully logged out from all devices.")).into_response();
    Ok(clear_cookie(&state, response))
}
