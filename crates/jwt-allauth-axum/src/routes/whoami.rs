//! `GET /whoami/`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use jwt_allauth::ClaimsExtension;
use jwt_allauth::store::SessionStore;

use super::Caller;
use crate::account::AccountStore;

/// 200 with the access token's claims; no database query unless the session check is
/// on.
pub(crate) async fn whoami<S, A, E>(caller: Caller<S, A, E>) -> Response
where
    S: SessionStore + 'static,
    A: AccountStore + 'static,
    E: ClaimsExtension<A::User> + 'static,
{
    Json(caller.user.into_claims()).into_response()
}
