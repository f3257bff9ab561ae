//! `POST /login/`.

use axum::extract::State;
use axum::response::Response;
use jwt_allauth::store::SessionStore;
use jwt_allauth::{ClaimsExtension, User};
use serde_json::Map;

use super::tokens_response;
use crate::account::AccountStore;
use crate::api_error::ApiError;
use crate::body::{CharField, FieldErrors, Fields};
use crate::client::ClientInfo;
use crate::error_body::{server_fault, user_store_fault};
use crate::state::AuthState;

/// Logs in with `email` and `password`: 200 `{"access"}` and the refresh cookie (body
/// mode: `{"access","refresh"}`).
///
/// Unknown e-mail, wrong password and inactive account get one answer (401
/// `incorrect_credentials`), at the same cost. The throttle is checked before the
/// password and counts only failures.
pub(crate) async fn login<S, A, E>(
    State(state): State<AuthState<S, A, E>>,
    client: ClientInfo,
    fields: Fields,
) -> Result<Response, ApiError>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    let mut errors = FieldErrors::new();
    let email = fields.char_field("email", CharField::required(), &mut errors);
    let password = fields.char_field("password", CharField::password(), &mut errors);
    let (Some(email), Some(password)) = (email, password) else {
        return Err(errors.into());
    };

    let now = state.now();
    let ip = state.client_ip(&client);
    state.throttle().check(ip, &email, now)?;

    let accounts = state.manager().users();
    let user = match accounts.authenticate(&email, &password).await {
        Ok(Some(user)) if user.is_active() => user,
        Ok(_) => {
            state.throttle().record_failure(ip, &email, now);
            return Err(ApiError::IncorrectCredentials);
        }
        Err(error) => return Err(user_store_fault(&error, "login").into()),
    };

    let device = state.device_info(&client);
    let pair = state
        .manager()
        .open_session(&user, &device, now)
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "login")))?;
    if let Err(error) = accounts.record_login(&user.id(), now).await {
        // The session is open; a missed `last_login` does not fail the login.
        user_store_fault(&error, "recording the login");
    }
    tokens_response(&state, &pair, now, Map::new())
}
