//! The named JSON bodies of the wire contract: what the routers read and what they
//! answer. The handlers build their responses from these types, and with the `openapi`
//! feature the same types are the schemas of the OpenAPI document, so the two cannot
//! drift apart.
//!
//! Types that carry a password or a token print it as `"<redacted>"` with `{:?}`.

use std::fmt;

use jwt_allauth::store::SessionRecord;
use serde::{Deserialize, Serialize};

const REDACTED: &str = "<redacted>";

/// The body of `POST /login/`: `{"email","password"}` (JSON or form).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// The account's e-mail address (compared case-insensitively).
    #[cfg_attr(feature = "openapi", schema(example = "ada@example.com"))]
    pub email: String,
    /// The account's password.
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub password: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .finish()
    }
}

/// The body of `POST /refresh/` and `POST /logout/` when the refresh token travels in
/// bodies (`REFRESH_TOKEN_AS_COOKIE` off): `{"refresh"}`. In cookie mode the token is
/// read from the cookie and the body is ignored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh: String,
}

impl fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("refresh", &REDACTED)
            .finish()
    }
}

/// The body of `POST /password/reset/`: `{"email"}`, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordResetRequest {
    /// The account's e-mail address.
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254, example = "ada@example.com"))]
    pub email: String,
}

/// The body of `POST /password/change/`: `{"old_password","new_password1",
/// "new_password2"}`, each at most 128 characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordChangeRequest {
    /// The current password.
    #[cfg_attr(feature = "openapi", schema(format = Password, max_length = 128))]
    pub old_password: String,
    /// The new password.
    #[cfg_attr(feature = "openapi", schema(format = Password, max_length = 128))]
    pub new_password1: String,
    /// The new password again; must equal `new_password1`.
    #[cfg_attr(feature = "openapi", schema(format = Password, max_length = 128))]
    pub new_password2: String,
}

impl fmt::Debug for PasswordChangeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChangeRequest")
            .field("old_password", &REDACTED)
            .field("new_password1", &REDACTED)
            .field("new_password2", &REDACTED)
            .finish()
    }
}

/// The answer of `POST /login/` and `POST /refresh/`: `{"access"}` with the refresh
/// token in the cookie, or `{"access","refresh"}` when the refresh token travels in
/// bodies.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tokens {
    /// The access token.
    pub access: String,
    /// The refresh token: only when `REFRESH_TOKEN_AS_COOKIE` is off (otherwise it is in
    /// the `Set-Cookie` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub refresh: Option<String>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &REDACTED)
            .field("refresh", &self.refresh.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// The answer of `POST /password/change/`: the tokens of the new session and
/// `"detail": "New password has been saved."`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordChanged {
    /// The tokens of the new session.
    #[serde(flatten)]
    pub tokens: Tokens,
    /// `"New password has been saved."`.
    #[cfg_attr(feature = "openapi", schema(example = "New password has been saved."))]
    pub detail: String,
}

/// The body of `POST /registration/`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistrationRequest {
    /// The address (at most 254 characters).
    #[cfg_attr(feature = "openapi", schema(format = Email, max_length = 254))]
    pub email: String,
    /// The password.
    #[cfg_attr(feature = "openapi", schema(format = Password, max_length = 128))]
    pub password1: String,
    /// The password again.
    #[cfg_attr(feature = "openapi", schema(format = Password, max_length = 128))]
    pub password2: String,
    /// First name (optional, any script).
    #[cfg_attr(feature = "openapi", schema(max_length = 150))]
    pub first_name: Option<String>,
    /// Last name (optional, any script).
    #[cfg_attr(feature = "openapi", schema(max_length = 150))]
    pub last_name: Option<String>,
}

impl std::fmt::Debug for RegistrationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// The body of `POST /registration/verify-email/`: `{"key"}`. `Debug` does not show the
/// key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyEmailRequest {
    /// The key of the verification mail.
    pub key: String,
}

impl std::fmt::Debug for VerifyEmailRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyEmailRequest").finish_non_exhaustive()
    }
}

/// The body of `POST /password/reset/set-new/`: `{"new_password1","new_password2"}`,
/// each at most 128 characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordSetNewRequest {
    /// The new password.
    #[cfg_attr(feature = "openapi", schema(format = Password, max_length = 128))]
    pub new_password1: String,
    /// The new password again.
    #[cfg_attr(feature = "openapi", schema(format = Password, max_length = 128))]
    pub new_password2: String,
}

impl std::fmt::Debug for PasswordSetNewRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordSetNewRequest")
            .finish_non_exhaustive()
    }
}

/// The answer of `POST /password/reset/set-new/`: the new session's tokens and
/// `"detail": "Password reset."`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordResetDone {
    /// The tokens of the new session.
    #[serde(flatten)]
    pub tokens: Tokens,
    /// `"Password reset."`.
    #[cfg_attr(feature = "openapi", schema(example = "Password reset."))]
    pub detail: String,
}

/// A body with a message only: `{"detail": "..."}`. Used by successes such as
/// `/logout/`'s `"Successfully logged out."` and by errors without a code (400, 403,
/// 404, 405, 413, 415, 500, and 401 without credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Detail {
    /// The English message.
    #[cfg_attr(feature = "openapi", schema(example = "Successfully logged out."))]
    pub detail: String,
}

impl Detail {
    /// `{"detail": detail}`.
    pub fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
        }
    }
}

/// The machine-readable `code` of an [`ErrorBody`] or a [`TokenErrorBody`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// An invalid, expired, wrong-type, replayed or revoked token (401).
    TokenNotValid,
    /// `Bearer` with zero or two or more values (401).
    BadAuthorizationHeader,
    /// Unknown e-mail, wrong password or inactive account (401).
    IncorrectCredentials,
    /// A disabled session whose e-mail address is unverified (401).
    EmailNotVerified,
    /// A refresh token presented past the absolute session lifetime (401).
    SessionExpired,
    /// Too many failed logins (429).
    Throttled,
    /// The database cannot be reached (503).
    ServiceUnavailable,
    /// A cookie-carrying request from another site (403).
    CsrfFailed,
    /// The request's header block is over the server's limit (431; the `jwt-allauth`
    /// server's is 16 KiB).
    HeadersTooLarge,
}

impl ErrorCode {
    /// The code as it appears on the wire (`"token_not_valid"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::TokenNotValid => "token_not_valid",
            ErrorCode::BadAuthorizationHeader => "bad_authorization_header",
            ErrorCode::IncorrectCredentials => "incorrect_credentials",
            ErrorCode::EmailNotVerified => "email_not_verified",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::Throttled => "throttled",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::HeadersTooLarge => "headers_too_large",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token-layer error: `{"detail": "...", "code": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The English message.
    #[cfg_attr(feature = "openapi", schema(example = "Incorrect credentials"))]
    pub detail: String,
    /// What went wrong.
    pub code: ErrorCode,
}

impl ErrorBody {
    /// `{"detail": detail, "code": code}`.
    pub fn new(detail: impl Into<String>, code: ErrorCode) -> Self {
        Self {
            detail: detail.into(),
            code,
        }
    }

    /// 503 `{"detail":"Database unavailable.","code":"service_unavailable"}`.
    pub fn unavailable() -> Self {
        Self::new("Database unavailable.", ErrorCode::ServiceUnavailable)
    }
}

/// A Bearer access token that is invalid, expired or of the wrong type: `{"detail":
/// "Given token not valid for any token type", "code": "token_not_valid", "messages":
/// [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenErrorBody {
    /// `"Given token not valid for any token type"`.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Given token not valid for any token type")
    )]
    pub detail: String,
    /// `token_not_valid`.
    pub code: ErrorCode,
    /// Why each token class refused the token (here: the access token only).
    pub messages: Vec<TokenErrorMessage>,
}

/// One entry of [`TokenErrorBody::messages`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenErrorMessage {
    /// `"AccessToken"`.
    #[cfg_attr(feature = "openapi", schema(example = "AccessToken"))]
    pub token_class: String,
    /// `"access"`.
    #[cfg_attr(feature = "openapi", schema(example = "access"))]
    pub token_type: String,
    /// `"Token is invalid"`, `"Token is expired"` or `"Token has wrong type"`.
    #[cfg_attr(feature = "openapi", schema(example = "Token is expired"))]
    pub message: String,
}

impl TokenErrorBody {
    /// The body for an access token refused with `message`.
    pub fn access_token(message: impl Into<String>) -> Self {
        Self {
            detail: "Given token not valid for any token type".to_owned(),
            code: ErrorCode::TokenNotValid,
            messages: vec![TokenErrorMessage {
                token_class: "AccessToken".to_owned(),
                token_type: "access".to_owned(),
                message: message.into(),
            }],
        }
    }
}

/// One object of `GET /sessions/`: the session's
/// [`SessionRecord`](jwt_allauth::store::SessionRecord) (`session`, `created`,
/// `last_used`, `expires_at` and the device metadata) and `current`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// The session and its device metadata.
    #[serde(flatten)]
    pub record: SessionRecord,
    /// True for the session of the access token used for the request.
    pub current: bool,
}

/// The answer of `POST /sessions/revoke-others/`:
/// `{"detail":"Signed out of other devices.","revoked":<n>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OthersRevoked {
    /// `Signed out of other devices.`
    #[cfg_attr(feature = "openapi", schema(example = "Signed out of other devices."))]
    pub detail: String,
    /// How many sessions were ended.
    #[cfg_attr(feature = "openapi", schema(example = 2))]
    pub revoked: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let login = LoginRequest {
            email: "a@example.com".into(),
            password: "hunter2".into(),
        };
        let tokens = Tokens {
            access: "access.jwt".into(),
            refresh: Some("refresh.jwt".into()),
        };
        let change = PasswordChangeRequest {
            old_password: "hunter2".into(),
            new_password1: "hunter3".into(),
            new_password2: "hunter3".into(),
        };
        let refresh = RefreshRequest {
            refresh: "refresh.jwt".into(),
        };
        let text = format!("{login:?} {tokens:?} {change:?} {refresh:?}");
        for secret in ["hunter", ".jwt"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("a@example.com"));
    }

    #[test]
    fn error_codes_serialize_as_their_wire_names() {
        for code in [
            ErrorCode::TokenNotValid,
            ErrorCode::BadAuthorizationHeader,
            ErrorCode::IncorrectCredentials,
            ErrorCode::EmailNotVerified,
            ErrorCode::SessionExpired,
            ErrorCode::Throttled,
            ErrorCode::ServiceUnavailable,
            ErrorCode::CsrfFailed,
        ] {
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::from(code.as_str()))
            );
        }
    }
}
