//! `GET /user/` and `PATCH /user/` (and `PUT`, as Django REST framework allows).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jwt_allauth::ClaimsExtension;
use jwt_allauth::store::SessionStore;

use super::Account;
use crate::account::{AccountStore, ProfileUpdate};
use crate::api_error::ApiError;
use crate::body::{CharField, FieldErrors, Fields};
use crate::error_body::{server_fault, user_store_fault};
use crate::rejection::AuthRejection;
use crate::state::AuthState;

/// Longest first or last name, as Django's `AbstractUser`.
const NAME_MAX_LENGTH: usize = 150;

/// 200 `{"email","first_name","last_name"}`.
pub(crate) async fn get_user<S, A, E>(
    State(state): State<AuthState<S, A, E>>,
    account: Account<S, A, E>,
) -> Response
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    Json(state.manager().users().profile(&account.loaded.user)).into_response()
}

/// Updates `first_name` and `last_name` (each optional, may be blank, at most 150
/// characters); `email` and unknown fields are ignored. 200 with the new profile.
pub(crate) async fn update_user<S, A, E>(
    State(state): State<AuthState<S, A, E>>,
    account: Account<S, A, E>,
    fields: Fields,
) -> Result<Response, ApiError>
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    let rules = CharField::optional().max_length(NAME_MAX_LENGTH);
    let mut errors = FieldErrors::new();
    let update = ProfileUpdate {
        first_name: fields.char_field("first_name", rules, &mut errors),
        last_name: fields.char_field("last_name", rules, &mut errors),
    };
    errors.into_result()?;

    let user_id = account.loaded.auth.user_id();
    match state
        .manager()
        .users()
        .update_profile(user_id, update)
        .await
    {
        Ok(Some(profile)) => Ok(Json(profile).into_response()),
        Ok(None) => {
            // The user vanished since the token was checked.
            if let Err(error) = state.manager().logout_all(user_id).await {
                server_fault(&error, "revoking the sessions of a deleted user");
            }
            Err(AuthRejection::UserInactive.into())
        }
        Err(error) => Err(user_store_fault(&error, "updating the profile").into()),
    }
}
