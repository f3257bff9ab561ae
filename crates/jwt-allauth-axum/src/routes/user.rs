//! `GET /user/` and `PATCH /user/` (and `PUT`, as Django REST framework allows).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jwt_allauth::events::RevocationReason;

use super::Account;
#[cfg(feature = "openapi")]
use crate::account::Profile;
use crate::account::{AccountStore, ProfileUpdate};
use crate::api_error::ApiError;
use crate::error_response::{server_fault, user_store_fault};
use crate::fields::{CharField, FieldErrors, Fields};
#[cfg(feature = "openapi")]
use crate::payloads::{Detail, ErrorBody};
use crate::rejection::AuthRejection;
use crate::state::AuthState;

/// Longest first or last name, as Django's `AbstractUser`.
const NAME_MAX_LENGTH: usize = 150;

/// The caller's profile.
///
/// 200 `{"email","first_name","last_name"}`.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = super::USER,
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's profile.", body = Profile),
        (status = 401, description = crate::openapi::UNAUTHORIZED, body = crate::openapi::BearerError, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn get_user<A>(State(state): State<AuthState<A>>, account: Account<A>) -> Response
where
    A: AccountStore + 'static,
{
    Json(state.manager().users().profile(&account.loaded.user)).into_response()
}

/// Update the caller's profile.
///
/// `first_name` and `last_name` are each optional, may be blank, at most 150
/// characters; `email` and unknown fields are ignored. 200 with the new profile.
///
/// `PUT` is accepted too, with the same meaning, as Django REST framework does.
#[cfg_attr(feature = "openapi", utoipa::path(
    patch,
    path = super::USER,
    tag = "account",
    security(("bearer" = [])),
    request_body(
        description = "The fields to change.",
        content(
            (Option<ProfileUpdate> = "application/json"),
            (Option<ProfileUpdate> = "application/x-www-form-urlencoded"),
        ),
    ),
    responses(
        (status = 200, description = "The new profile.", body = Profile),
        (status = 400, description = crate::openapi::BAD_REQUEST, body = crate::openapi::BadRequest),
        (status = 401, description = crate::openapi::UNAUTHORIZED, body = crate::openapi::BearerError, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 413, description = crate::openapi::TOO_LARGE, body = Detail),
        (status = 415, description = crate::openapi::UNSUPPORTED, body = Detail),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn update_user<A>(
    State(state): State<AuthState<A>>,
    account: Account<A>,
    fields: Fields,
) -> Result<Response, ApiError>
where
    A: AccountStore + 'static,
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
            let deleted = RevocationReason::Deleted;
            if let Err(error) = state
                .manager()
                .revoke_credentials(user_id, deleted, state.now())
                .await
            {
                server_fault(&error, "revoking the sessions of a deleted user");
            }
            Err(AuthRejection::UserInactive.into())
        }
        Err(error) => Err(user_store_fault(&error, "updating the profile").into()),
    }
}
