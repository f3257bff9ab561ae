//! `POST /logout/` and `POST /logout-all/`.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use jwt_allauth::store::SessionStore;
use jwt_allauth::{ClaimsExtension, Error};
use serde_json::json;

use super::{Caller, clear_cookie};
use crate::account::AccountStore;
use crate::api_error::ApiError;
use crate::body::{CharField, FieldErrors, Fields};
use crate::error_body::server_fault;
use crate::state::AuthState;

/// Closes the session of the refresh token in the cookie (body mode: field `refresh`),
/// which must be one of the caller's, even an already rotated one: 200
/// `{"detail":"Successfully logged out."}` and the cookie cleared.
pub(crate) async fn logout<S, A, E>(
    State(state): State<AuthState<S, A, E>>,
    caller: Caller<S, A, E>,
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
            .ok_or(ApiError::RefreshCookieNotFound)?
    } else {
        let fields = Fields::from_request(request, &()).await?;
        let mut errors = FieldErrors::new();
        fields
            .char_field("refresh", CharField::required(), &mut errors)
            .ok_or(errors)?
    };
    match state
        .manager()
        .logout(caller.user.user_id(), &token, state.now())
        .await
    {
        Ok(_) => {}
        Err(Error::Token(_)) => return Err(ApiError::InvalidToken),
        Err(error) => return Err(server_fault(&error, "logout").into()),
    }
    let response = Json(json!({ "detail": "Successfully logged out." })).into_response();
    Ok(clear_cookie(&state, response))
}

/// Closes every session of the caller: 200 `{"detail":"Successfully logged out from all
/// devices."}` and the cookie cleared.
pub(crate) async fn logout_all<S, A, E>(
    State(state): State<AuthState<S, A, E>>,
    caller: Caller<S, A, E>,
) -> Result<Response, ApiError>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    state
        .manager()
        .logout_all(caller.user.user_id())
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "logout-all")))?;
    let response =
        Json(json!({ "detail": "Successfully logged out from all devices." })).into_response();
    Ok(clear_cookie(&state, response))
}
