//! `POST /password/change/`.

use axum::extract::State;
use axum::response::Response;
use jwt_allauth::ClaimsExtension;
use jwt_allauth::store::{PurposeTokenStore, SessionStore};
use serde_json::Map;

use super::{Account, tokens_response};
use crate::account::{AccountStore, PasswordChange};
use crate::api_error::ApiError;
use crate::body::{CharField, FieldErrors, Fields};
use crate::client::ClientInfo;
use crate::error_body::{server_fault, user_store_fault};
use crate::rejection::AuthRejection;
use crate::state::AuthState;

/// Longest password field, as dj-rest-auth's serializer.
const PASSWORD_MAX_LENGTH: usize = 128;

const WRONG_OLD_PASSWORD: &str =
    "Your old password was entered incorrectly. Please enter it again.";
const MISMATCH: &str = "The two password fields didn't match.";

/// Changes the caller's password (`old_password`, `new_password1`, `new_password2`),
/// then deletes all of the user's sessions and purpose tokens and opens a new session:
/// 200 `{"access","detail":"New password has been saved."}` and the new cookie (body
/// mode: also `"refresh"`).
///
/// As in dj-rest-auth, a wrong old password is reported before a mismatch of the two new
/// ones.
pub(crate) async fn change_password<S, A, E>(
    State(state): State<AuthState<S, A, E>>,
    account: Account<S, A, E>,
    client: ClientInfo,
    fields: Fields,
) -> Result<Response, ApiError>
where
    S: SessionStore + PurposeTokenStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    let rules = CharField::password().max_length(PASSWORD_MAX_LENGTH);
    let mut errors = FieldErrors::new();
    let old = fields.char_field("old_password", rules, &mut errors);
    let new1 = fields.char_field("new_password1", rules, &mut errors);
    let new2 = fields.char_field("new_password2", rules, &mut errors);
    let (Some(old), Some(new1), Some(new2)) = (old, new1, new2) else {
        return Err(errors.into());
    };

    let accounts = state.manager().users();
    let user = &account.loaded.user;
    let user_id = account.loaded.auth.user_id();
    if new1 != new2 {
        // The old password is checked first; an inactive user cannot get here.
        let email = accounts.profile(user).email;
        return match accounts.authenticate(&email, &old).await {
            Ok(Some(_)) => Err(FieldErrors::single("new_password2", MISMATCH).into()),
            Ok(None) => Err(FieldErrors::single("old_password", WRONG_OLD_PASSWORD).into()),
            Err(error) => Err(user_store_fault(&error, "password change").into()),
        };
    }

    match accounts.change_password(user_id, &old, &new1).await {
        Ok(PasswordChange::Changed) => {}
        Ok(PasswordChange::WrongOldPassword) => {
            return Err(FieldErrors::single("old_password", WRONG_OLD_PASSWORD).into());
        }
        Ok(PasswordChange::UserNotFound) => {
            if let Err(error) = state.manager().logout_all(user_id).await {
                server_fault(&error, "revoking the sessions of a deleted user");
            }
            return Err(AuthRejection::UserInactive.into());
        }
        Err(error) => return Err(user_store_fault(&error, "password change").into()),
    }

    let manager = state.manager();
    manager
        .revoke_credentials(user_id)
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "password change")))?;
    let now = state.now();
    let device = state.device_info(&client);
    let pair = manager
        .open_session(user, &device, now)
        .await
        .map_err(|error| ApiError::from(server_fault(&error, "password change")))?;
    let mut body = Map::new();
    body.insert("detail".to_owned(), "New password has been saved.".into());
    tokens_response(&state, &pair, now, body)
}
