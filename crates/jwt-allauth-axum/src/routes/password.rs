//! `POST /password/change/`.

use axum::extract::State;
use axum::response::Response;
use jwt_allauth::events::RevocationReason;

use super::{Account, tokens_response};
use crate::account::{AccountStore, PasswordChange};
use crate::api_error::ApiError;
use crate::client::ClientInfo;
use crate::error_response::{server_fault, user_store_fault};
use crate::fields::{CharField, FieldErrors, Fields};
#[cfg(feature = "openapi")]
use crate::payloads::{Detail, ErrorBody};
use crate::payloads::{PasswordChangeRequest, PasswordChanged};
use crate::rejection::AuthRejection;
use crate::state::AuthState;
use crate::throttle::{ClientBucket, THROTTLE_WAIT};

/// Longest password field, as dj-rest-auth's serializer.
pub(crate) const PASSWORD_MAX_LENGTH: usize = 128;

const WRONG_OLD_PASSWORD: &str =
    "Your old password was entered incorrectly. Please enter it again.";
const MISMATCH: &str = "The two password fields didn't match.";

/// Change the caller's password.
///
/// With `old_password`, `new_password1` and `new_password2`; then deletes all of the
/// user's sessions and purpose tokens and opens a new session: 200
/// `{"access","detail":"New password has been saved."}` and the new cookie (body mode:
/// also `"refresh"`).
///
/// As in dj-rest-auth, a wrong old password is reported before a mismatch of the two new
/// ones. Old-password checks count against the login throttle (per client and per the
/// account's address) like logins: too many wrong ones give 429 `throttled`.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = super::PASSWORD_CHANGE,
    tag = "account",
    security(("bearer" = [])),
    request_body(
        description = "The old password and the new one, twice.",
        content(
            (PasswordChangeRequest = "application/json"),
            (PasswordChangeRequest = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "Changed: every previous session and purpose token of \
            the user is deleted, and a new session is opened.", body = PasswordChanged, headers(
            ("Set-Cookie" = String, description = "The refresh cookie (`refresh_token`, `HttpOnly`), when `REFRESH_TOKEN_AS_COOKIE` is on (the default)."),
            ("Cache-Control" = String, description = "`no-store`"),
        )),
        (status = 400, description = "Invalid fields (a wrong `old_password`, \
            `new_password2` not matching or breaking the password rules (Django's messages: \
            too similar to the email address, too short, too common, entirely numeric), a \
            missing, blank or too long field), or a body that cannot be parsed. Nothing is \
            changed.", body = crate::openapi::BadRequest),
        (status = 401, description = crate::openapi::UNAUTHORIZED, body = crate::openapi::BearerError, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 413, description = crate::openapi::TOO_LARGE, body = Detail),
        (status = 415, description = crate::openapi::UNSUPPORTED, body = Detail),
        (status = 429, description = "`throttled`: too many wrong old passwords (or failed \
            logins) from this address or for this account.", body = ErrorBody, headers(
            ("Retry-After" = u64, description = "Seconds to wait."),
        )),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn change_password<A>(
    State(state): State<AuthState<A>>,
    account: Account<A>,
    client: ClientInfo,
    fields: Fields,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
{
    let rules = CharField::password().max_length(PASSWORD_MAX_LENGTH);
    let mut errors = FieldErrors::new();
    let old = fields.char_field("old_password", rules, &mut errors);
    let new1 = fields.char_field("new_password1", rules, &mut errors);
    let new2 = fields.char_field("new_password2", rules, &mut errors);
    let (Some(old_password), Some(new_password1), Some(new_password2)) = (old, new1, new2) else {
        return Err(errors.into());
    };
    let request = PasswordChangeRequest {
        old_password,
        new_password1,
        new_password2,
    };

    let accounts = state.manager().users();
    let user = &account.loaded.user;
    let user_id = account.loaded.auth.user_id();
    // Wrong old passwords count against the login throttle of the account's address
    // and of the client, so a stolen access token cannot guess its way to the password.
    let email = accounts.profile(user).email;
    let ip = state.client_ip(&client);
    let attempt = state
        .throttle()
        .begin_or_wait(ip, &email, || state.now(), THROTTLE_WAIT)
        .await?;
    let turn = state
        .password_permits()
        .acquire(ip.map(ClientBucket::of))
        .await;
    // A mismatch or a weak new password is answered once the old password is verified
    // (so that it still counts against the throttle), and changes nothing.
    let refusal = if request.new_password1 != request.new_password2 {
        Some(FieldErrors::single("new_password2", MISMATCH))
    } else {
        let problems = state.password_rules().check(&request.new_password1, &email);
        (!problems.is_empty()).then(|| {
            let mut errors = FieldErrors::new();
            for problem in &problems {
                errors.add("new_password2", &problem.to_string());
            }
            errors
        })
    };
    if let Some(refusal) = refusal {
        // The old password is checked first; an inactive user cannot get here.
        return match accounts.authenticate(&email, &request.old_password).await {
            Ok(Some(_)) => {
                attempt.succeeded().await;
                Err(refusal.into())
            }
            Ok(None) => {
                attempt.failed();
                Err(FieldErrors::single("old_password", WRONG_OLD_PASSWORD).into())
            }
            Err(error) => {
                attempt.abandoned().await;
                Err(user_store_fault(&error, "password change").into())
            }
        };
    }

    let changed = accounts
        .change_password(user_id, &request.old_password, &request.new_password1)
        .await;
    drop(turn);
    match changed {
        Ok(PasswordChange::Changed) => attempt.succeeded().await,
        Ok(PasswordChange::WrongOldPassword) => {
            attempt.failed();
            return Err(FieldErrors::single("old_password", WRONG_OLD_PASSWORD).into());
        }
        Ok(PasswordChange::UserNotFound) => {
            attempt.abandoned().await;
            let deleted = RevocationReason::Deleted;
            if let Err(error) = state
                .manager()
                .revoke_credentials(user_id, deleted, state.now())
                .await
            {
                server_fault(&error, "revoking the sessions of a deleted user");
            }
            return Err(AuthRejection::UserInactive.into());
        }
        Err(error) => {
            attempt.abandoned().await;
            return Err(user_store_fault(&error, "password change").into());
        }
    }

    let manager = state.manager();
    manager
        .revoke_credentials(user_id, RevocationReason::PasswordChange, state.now())
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "password change")))?;
    let now = state.now();
    let device = state.device_info(&client);
    let pair = manager
        .open_session(user, &device, now)
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "password change")))?;
    tokens_response(&state, &pair, now, |tokens| PasswordChanged {
        tokens,
        detail: "New password has been saved.".to_owned(),
    })
}
