//! [`ApiError`]: every answer of the routers other than a success.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error_response::{ServerFault, error_response, internal};
use crate::fields::{BodyRejection, FieldErrors};
use crate::payloads::ErrorCode;
use crate::rejection::{AuthRejection, PermissionDenied, RefreshRejection};
use crate::throttle::Throttled;

/// A failed request of the routers, with the status and body of the wire contract.
/// Applications may use it in their own handlers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Bearer authentication failed (401, 503 or 500).
    #[error(transparent)]
    Auth(#[from] AuthRejection),
    /// The caller lacks a role: 403.
    #[error(transparent)]
    PermissionDenied(#[from] PermissionDenied),
    /// The body could not be read (415, 400 or 413).
    #[error(transparent)]
    Body(#[from] BodyRejection),
    /// Invalid fields: 400 `{"<field>":["<message>"]}`.
    #[error("invalid fields")]
    Fields(FieldErrors),
    /// Unknown e-mail, wrong password or inactive account, one answer for all three:
    /// 401 `{"detail":"Incorrect credentials","code":"incorrect_credentials"}`.
    #[error("Incorrect credentials")]
    IncorrectCredentials,
    /// Too many failed logins: 429 `throttled` with `Retry-After`.
    #[error("Too many failed login attempts. Try again later.")]
    Throttled(Throttled),
    /// Too many password reset requests for an address or from a client: 429 `throttled`
    /// with `Retry-After`.
    #[error("Too many password reset requests for this e-mail address.")]
    ResetThrottled(Throttled),
    /// Too many sign-ups from a client: 429 `throttled` with `Retry-After`.
    #[error("Too many sign-ups from this address. Try again later.")]
    SignupThrottled(Throttled),
    /// A login with the right password of an account whose address is not verified,
    /// under `EMAIL_VERIFICATION=mandatory`: 401 `{"detail":"User email is not
    /// verified","code":"email_not_verified"}`.
    #[error("User email is not verified")]
    EmailNotVerified,
    /// `/refresh/` refused the token (401).
    #[error(transparent)]
    Refresh(#[from] RefreshRejection),
    /// `/refresh/` or `/logout/` in cookie mode from another site (see the crate
    /// documentation): 403 `{"detail":"CSRF check failed: cross-site
    /// request.","code":"csrf_failed"}`.
    #[error("CSRF check failed: cross-site request.")]
    CsrfFailed,
    /// `/logout/` in cookie mode without the cookie: 400
    /// `{"detail":"Refresh token cookie not found."}`.
    #[error("Refresh token cookie not found.")]
    RefreshCookieNotFound,
    /// `/logout/` with a token that does not verify or belongs to another user: 400
    /// `{"detail":"Invalid token."}`.
    #[error("Invalid token.")]
    InvalidToken,
    /// 404 `{"detail":"Not found."}`.
    #[error("Not found.")]
    NotFound,
    /// The database cannot be reached: 503 `service_unavailable`.
    #[error("Database unavailable.")]
    Unavailable,
    /// Any other failure, logged where it happened: 500 `{"detail":"Internal server
    /// error."}`.
    #[error("Internal server error.")]
    Internal,
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::Fields(errors)
    }
}

impl From<Throttled> for ApiError {
    fn from(throttled: Throttled) -> Self {
        ApiError::Throttled(throttled)
    }
}

impl From<crate::throttle::ThrottleError> for ApiError {
    fn from(error: crate::throttle::ThrottleError) -> Self {
        match error {
            crate::throttle::ThrottleError::Throttled(throttled) => ApiError::Throttled(throttled),
            crate::throttle::ThrottleError::Unavailable(error) => {
                crate::error_response::counters_fault(&error, "login throttle").into()
            }
        }
    }
}

impl From<ServerFault> for ApiError {
    fn from(fault: ServerFault) -> Self {
        match fault {
            ServerFault::Unavailable => ApiError::Unavailable,
            ServerFault::Internal => ApiError::Internal,
        }
    }
}

impl ApiError {
    /// The status and the `code` of the answers built here, whose `detail` is the
    /// `Display` text; `None` for the wrapped rejections and field errors, which answer
    /// for themselves.
    fn status_and_code(&self) -> Option<(StatusCode, Option<ErrorCode>)> {
        Some(match self {
            ApiError::IncorrectCredentials => (
                StatusCode::UNAUTHORIZED,
                Some(ErrorCode::IncorrectCredentials),
            ),
            ApiError::EmailNotVerified => {
                (StatusCode::UNAUTHORIZED, Some(ErrorCode::EmailNotVerified))
            }
            ApiError::Throttled(_) | ApiError::ResetThrottled(_) | ApiError::SignupThrottled(_) => {
                (StatusCode::TOO_MANY_REQUESTS, Some(ErrorCode::Throttled))
            }
            ApiError::CsrfFailed => (StatusCode::FORBIDDEN, Some(ErrorCode::CsrfFailed)),
            ApiError::RefreshCookieNotFound | ApiError::InvalidToken => {
                (StatusCode::BAD_REQUEST, None)
            }
            ApiError::NotFound => (StatusCode::NOT_FOUND, None),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(ErrorCode::ServiceUnavailable),
            ),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, None),
            ApiError::Auth(_)
            | ApiError::PermissionDenied(_)
            | ApiError::Body(_)
            | ApiError::Fields(_)
            | ApiError::Refresh(_) => return None,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Some((status, code)) = self.status_and_code() else {
            return match self {
                ApiError::Auth(rejection) => rejection.into_response(),
                ApiError::PermissionDenied(rejection) => rejection.into_response(),
                ApiError::Body(rejection) => rejection.into_response(),
                ApiError::Fields(errors) => errors.into_response(),
                ApiError::Refresh(rejection) => rejection.into_response(),
                _ => internal(),
            };
        };
        let mut response = error_response(status, &self.to_string(), code);
        if let ApiError::Throttled(Throttled { retry_after })
        | ApiError::ResetThrottled(Throttled { retry_after })
        | ApiError::SignupThrottled(Throttled { retry_after }) = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}
