//! `POST /login/`.

use axum::extract::State;
use axum::response::Response;
use jwt_allauth::User;
use jwt_allauth::email::MAX_EMAIL_CHARS;

use super::tokens_response;
use crate::account::AccountStore;
use crate::api_error::ApiError;
use crate::client::ClientInfo;
use crate::counters;
use crate::error_response::{server_fault, user_store_fault};
use crate::fields::{CharField, FieldErrors, Fields};
use crate::payloads::LoginRequest;
#[cfg(feature = "openapi")]
use crate::payloads::{Detail, ErrorBody, Tokens};
use crate::state::AuthState;
use crate::throttle::{ClientBucket, THROTTLE_WAIT};

/// Log in with an e-mail address and a password.
///
/// 200 `{"access"}` and the refresh cookie (body mode: `{"access","refresh"}`), for a
/// new session.
///
/// Unknown e-mail, wrong password and inactive account get one answer (401
/// `incorrect_credentials`), at the same cost. An address longer than 254 characters
/// is a 400 before any work. The throttle counts the attempt before the password is
/// verified and gives it back when the password was right; the check waits for a turn
/// shared fairly between clients ([`PasswordPermits`](crate::PasswordPermits)).
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::LOGIN,
    tag = "tokens",
    request_body(
        description = "The credentials.",
        content(
            (LoginRequest = "application/json"),
            (LoginRequest = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "Logged in: a new session.", body = Tokens, headers(
            ("Set-Cookie" = String, description = "The refresh cookie (`refresh_token`, `HttpOnly`), when `REFRESH_TOKEN_AS_COOKIE` is on (the default)."),
            ("Cache-Control" = String, description = "`no-store`"),
        )),
        (status = 400, description = crate::openapi::BAD_REQUEST, body = crate::openapi::BadRequest),
        (status = 401, description = "`incorrect_credentials`: unknown e-mail, wrong password \
            or inactive account, one answer for all three.", body = ErrorBody, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 413, description = crate::openapi::TOO_LARGE, body = Detail),
        (status = 415, description = crate::openapi::UNSUPPORTED, body = Detail),
        (status = 429, description = "`throttled`: too many failed logins from this address \
            or for this e-mail.", body = ErrorBody, headers(
            ("Retry-After" = u64, description = "Seconds to wait."),
        )),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn login<A>(
    State(state): State<AuthState<A>>,
    client: ClientInfo,
    fields: Fields,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
{
    let result = attempt_login(&state, &client, fields).await;
    counters::record_login(&result);
    result
}

/// The login itself; [`login`] counts its outcome.
async fn attempt_login<A>(
    state: &AuthState<A>,
    client: &ClientInfo,
    fields: Fields,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
{
    let mut errors = FieldErrors::new();
    let email_rules = CharField::required().max_length(MAX_EMAIL_CHARS);
    let email = fields.char_field("email", email_rules, &mut errors);
    let password = fields.char_field("password", CharField::password(), &mut errors);
    let (Some(email), Some(password)) = (email, password) else {
        return Err(errors.into());
    };
    let request = LoginRequest { email, password };

    let now = state.now();
    let ip = state.client_ip(client);
    let attempt = state
        .throttle()
        .begin_or_wait(ip, &request.email, || state.now(), THROTTLE_WAIT)
        .await?;
    let accounts = state.manager().users();
    let authenticated = {
        let _turn = state
            .password_permits()
            .acquire(ip.map(ClientBucket::of))
            .await;
        accounts
            .authenticate(&request.email, &request.password)
            .await
    };
    let user = match authenticated {
        Ok(Some(user)) if user.is_active() => {
            attempt.succeeded().await;
            // The right password of an account that must confirm its address first
            // (accounts.md); every other failure keeps the one answer below.
            if state.account_settings().email_verification
                == crate::account_settings::EmailVerification::Mandatory
                && !user.email_verified()
            {
                return Err(ApiError::EmailNotVerified);
            }
            user
        }
        Ok(_) => {
            attempt.failed();
            return Err(ApiError::IncorrectCredentials);
        }
        Err(error) => {
            attempt.abandoned().await;
            return Err(user_store_fault(&error, "login").into());
        }
    };

    let device = state.device_info(client);
    let pair = state
        .manager()
        .open_session(&user, &device, now)
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "login")))?;
    super::new_sign_in::note_sign_in(state, &user, &pair, &device, true, now).await;
    if let Err(error) = accounts.record_login(&user.id(), now).await {
        // The session is open; a missed `last_login` does not fail the login.
        user_store_fault(&error, "recording the login");
    }
    tokens_response(state, &pair, now, |tokens| tokens)
}
