//! Named rejections of the extractors and of `/refresh/`, each with the status and body
//! of the wire contract, so that an application can match on them and remap them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jwt_allauth::TokenError;

use crate::error_response::{ServerFault, detail, detail_code, error_response, json_response};
use crate::payloads::{ErrorCode, TokenErrorBody};

/// Why [`AuthUser`](crate::AuthUser), [`LoadUser`](crate::LoadUser) or
/// [`RequireRole`](crate::RequireRole) rejected a request. Every 401 carries
/// `WWW-Authenticate: Bearer realm="api"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthRejection {
    /// No `Authorization` header, an empty one, or another scheme than `Bearer`:
    /// 401 `{"detail":"Authentication credentials were not provided."}`.
    #[error("Authentication credentials were not provided.")]
    MissingCredentials,
    /// `Bearer` with zero or two or more values, or several `Authorization` headers:
    /// 401 `bad_authorization_header`.
    #[error("Authorization header must contain two space-delimited values")]
    BadAuthorizationHeader,
    /// An invalid, expired or wrong-type token: 401 `token_not_valid` with a `messages`
    /// entry for the access token class.
    #[error("Given token not valid for any token type")]
    InvalidToken(TokenError),
    /// A valid token whose session is gone (`ACCESS_TOKEN_SESSION_CHECK` on):
    /// 401 `{"detail":"Session is no longer active.","code":"token_not_valid"}`.
    #[error("Session is no longer active.")]
    SessionInactive,
    /// A valid token of a user who no longer exists or is inactive (the user's sessions
    /// were deleted): 401 `{"detail":"Token is invalid or expired","code":"token_not_valid"}`.
    #[error("Token is invalid or expired")]
    UserInactive,
    /// The database cannot be reached: 503 `service_unavailable`.
    #[error("Database unavailable.")]
    Unavailable,
    /// Any other failure (logged where it happened): 500.
    #[error("Internal server error.")]
    Internal,
}

impl From<ServerFault> for AuthRejection {
    fn from(fault: ServerFault) -> Self {
        match fault {
            ServerFault::Unavailable => AuthRejection::Unavailable,
            ServerFault::Internal => AuthRejection::Internal,
        }
    }
}

impl AuthRejection {
    /// The status and the `code` of this answer; its `detail` is the `Display` text.
    fn status_and_code(self) -> (StatusCode, Option<ErrorCode>) {
        match self {
            AuthRejection::MissingCredentials => (StatusCode::UNAUTHORIZED, None),
            AuthRejection::BadAuthorizationHeader => (
                StatusCode::UNAUTHORIZED,
                Some(ErrorCode::BadAuthorizationHeader),
            ),
            AuthRejection::InvalidToken(_)
            | AuthRejection::SessionInactive
            | AuthRejection::UserInactive => {
                (StatusCode::UNAUTHORIZED, Some(ErrorCode::TokenNotValid))
            }
            AuthRejection::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(ErrorCode::ServiceUnavailable),
            ),
            AuthRejection::Internal => (StatusCode::INTERNAL_SERVER_ERROR, None),
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if let AuthRejection::InvalidToken(error) = self {
            // simplejwt's body: the token class and the reason under `messages`.
            return json_response(
                StatusCode::UNAUTHORIZED,
                TokenErrorBody::access_token(error.to_string()),
            );
        }
        let (status, code) = self.status_and_code();
        error_response(status, &self.to_string(), code)
    }
}

/// The caller is authenticated but lacks the role: 403
/// `{"detail":"You do not have permission to perform this action."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, thiserror::Error)]
#[error("You do not have permission to perform this action.")]
pub struct PermissionDenied;

impl IntoResponse for PermissionDenied {
    fn into_response(self) -> Response {
        detail(StatusCode::FORBIDDEN, &self.to_string())
    }
}

/// The rejection of [`RequireRole`](crate::RequireRole): not authenticated, or
/// authenticated without the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoleRejection {
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthRejection),
    /// The role is too low.
    #[error(transparent)]
    Forbidden(#[from] PermissionDenied),
}

impl IntoResponse for RoleRejection {
    fn into_response(self) -> Response {
        match self {
            RoleRejection::Auth(rejection) => rejection.into_response(),
            RoleRejection::Forbidden(rejection) => rejection.into_response(),
        }
    }
}

/// Why `/refresh/` refused a refresh token. All are 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshRejection {
    /// Rejected before any database work (garbage, bad signature, expired, wrong type,
    /// no `session` claim): `{"detail":"Token is invalid"|"Token is expired"|"Token has
    /// wrong type","code":"token_not_valid"}`.
    #[error("{0}")]
    Token(TokenError),
    /// Replayed, revoked, unknown session, inactive or deleted user, or a disabled
    /// session whose e-mail is verified: `{"detail":"Token is invalid or expired",
    /// "code":"token_not_valid"}`.
    #[error("Token is invalid or expired")]
    InvalidOrExpired,
    /// A disabled session whose e-mail address is still unverified:
    /// `{"detail":"E-mail is not verified.","code":"email_not_verified"}`.
    #[error("E-mail is not verified.")]
    EmailNotVerified,
    /// Presented past the absolute session lifetime (the session was deleted):
    /// `{"detail":"Session has expired.","code":"session_expired"}`.
    #[error("Session has expired.")]
    SessionExpired,
}

impl IntoResponse for RefreshRejection {
    fn into_response(self) -> Response {
        let code = match self {
            RefreshRejection::Token(_) | RefreshRejection::InvalidOrExpired => {
                ErrorCode::TokenNotValid
            }
            RefreshRejection::EmailNotVerified => ErrorCode::EmailNotVerified,
            RefreshRejection::SessionExpired => ErrorCode::SessionExpired,
        };
        detail_code(StatusCode::UNAUTHORIZED, &self.to_string(), code)
    }
}
