//! The JSON error bodies of the wire contract, built in one place so that every 401
//! carries `WWW-Authenticate` and no body ever echoes a token or a password.

use std::error::Error as StdError;
use std::fmt::Write as _;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwt_allauth::{Error, StoreError, UserStoreError};
use serde::Serialize;

use crate::payloads::{Detail, ErrorBody, ErrorCode};

/// The `WWW-Authenticate` value of every 401.
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"api\"";

/// A JSON response; a 401 gets the `WWW-Authenticate` header.
pub(crate) fn json_response(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(WWW_AUTHENTICATE),
        );
    }
    response
}

/// `{"detail": detail}`.
pub(crate) fn detail(status: StatusCode, detail: &str) -> Response {
    json_response(status, Detail::new(detail))
}

/// `{"detail": detail, "code": code}`.
pub(crate) fn detail_code(status: StatusCode, detail: &str, code: ErrorCode) -> Response {
    json_response(status, ErrorBody::new(detail, code))
}

/// `{"detail": detail, "code": code}`, or `{"detail": detail}` without a code.
pub(crate) fn error_response(
    status: StatusCode,
    detail: &str,
    code: Option<ErrorCode>,
) -> Response {
    match code {
        Some(code) => detail_code(status, detail, code),
        None => self::detail(status, detail),
    }
}

/// 503 `{"detail":"Database unavailable.","code":"service_unavailable"}`.
pub(crate) fn unavailable() -> Response {
    json_response(StatusCode::SERVICE_UNAVAILABLE, ErrorBody::unavailable())
}

/// 500 `{"detail":"Internal server error."}`.
pub(crate) fn internal() -> Response {
    detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
}

/// How a failure of the core or of the user store is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerFault {
    /// The database cannot be reached: 503.
    Unavailable,
    /// Anything else: 500.
    Internal,
}

/// Classifies and logs a core error that is not a token rejection. The log line has the
/// error's chain of messages, which never contain a token or a password.
pub(crate) fn server_fault(error: &Error, context: &'static str) -> ServerFault {
    let unavailable = match error {
        Error::Store(store) => matches!(store, StoreError::Unavailable(_)),
        Error::UserStore(users) => user_store_unavailable(users),
        _ => false,
    };
    log_fault(unavailable, error, context)
}

/// Classifies and logs a user-store error.
pub(crate) fn user_store_fault(error: &UserStoreError, context: &'static str) -> ServerFault {
    log_fault(user_store_unavailable(error), error, context)
}

fn log_fault(
    unavailable: bool,
    error: &(dyn StdError + 'static),
    context: &'static str,
) -> ServerFault {
    let chain = error_chain(error);
    if unavailable {
        tracing::error!(context, error = %chain, "database unavailable");
        ServerFault::Unavailable
    } else {
        tracing::error!(context, error = %chain, "internal error");
        ServerFault::Internal
    }
}

/// Logs a failure of the throttle's or a rate limit's counters (`context` names which):
/// whatever its kind, the attempt is refused with 503 (fail closed: nothing is verified
/// or sent uncounted).
pub(crate) fn counters_fault(error: &StoreError, context: &'static str) -> ServerFault {
    log_fault(true, error, context)
}

/// Whether a user-store error wraps [`StoreError::Unavailable`] somewhere in its chain
/// (how an [`AccountStore`](crate::AccountStore) says "the database cannot be reached").
fn user_store_unavailable(error: &UserStoreError) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(&*error.0);
    while let Some(error) = current {
        if let Some(StoreError::Unavailable(_)) = error.downcast_ref::<StoreError>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// `error: source: source ...`.
pub(crate) fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(source) = current {
        let _ = write!(text, ": {source}");
        current = source.source();
    }
    text
}

impl IntoResponse for ServerFault {
    fn into_response(self) -> Response {
        match self {
            ServerFault::Unavailable => unavailable(),
            ServerFault::Internal => internal(),
        }
    }
}
