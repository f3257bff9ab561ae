//! `GET /whoami/`.

use axum::Json;
use axum::response::{IntoResponse, Response};

use super::Caller;
use crate::account::AccountStore;
#[cfg(feature = "openapi")]
use crate::payloads::{Detail, ErrorBody};

/// The claims of the caller's access token.
///
/// 200 with the claims; no database query unless the session check
/// (`ACCESS_TOKEN_SESSION_CHECK`) is on.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = super::WHOAMI,
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The access token's claims, with the configured user \
            attributes and the application's claims.", body = jwt_allauth::Claims),
        (status = 401, description = crate::openapi::UNAUTHORIZED, body = crate::openapi::BearerError, headers(
            ("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`, on every 401."),
        )),
        (status = 500, description = crate::openapi::INTERNAL, body = Detail),
        (status = 503, description = crate::openapi::UNAVAILABLE, body = ErrorBody),
    ),
))]
pub(crate) async fn whoami<A>(caller: Caller<A>) -> Response
where
    A: AccountStore + 'static,
{
    Json(caller.user.into_claims()).into_response()
}
