//! The claims carried by refresh and access tokens, and the application's own claims.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ReservedClaimError;

/// Claim names the library owns. Neither `user_attributes` nor a
/// [`ClaimsExtension`](crate::user::ClaimsExtension) may use them.
///
/// The first nine are the contract's; `iss`, `aud`, `nbf` and `sub` are registered JWT
/// names the library sets or checks itself, so they are reserved too.
pub const RESERVED_CLAIMS: &[&str] = &[
    "token_type",
    "exp",
    "iat",
    "jti",
    "user_id",
    "session",
    "session_iat",
    "role",
    "email_verified",
    "iss",
    "aud",
    "nbf",
    "sub",
];

/// Whether `name` is one of [`RESERVED_CLAIMS`].
pub fn is_reserved_claim(name: &str) -> bool {
    RESERVED_CLAIMS.contains(&name)
}

/// The kinds of JWT the library mints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// A short-lived token presented as `Authorization: Bearer`.
    Access,
    /// A long-lived token exchanged at `/refresh/`, tracked in the session whitelist.
    Refresh,
    /// The capability of the password reset flow (the `password_reset_access_token`
    /// cookie): lets its holder set a new password with the reset token it is bound to,
    /// and nothing else; never accepted as an access or refresh token.
    #[serde(rename = "password_reset")]
    PasswordReset,
}

impl TokenType {
    /// The `token_type` claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
            TokenType::PasswordReset => "password_reset",
        }
    }
}

/// Role of a staff user (`is_staff`).
pub const ROLE_STAFF: i64 = 1000;
/// Role of a superuser who is not staff.
pub const ROLE_SUPERUSER: i64 = 900;
/// Role of an ordinary user.
pub const ROLE_USER: i64 = 0;

/// The role the contract derives from the Django-style flags when an application has no
/// role of its own: 1000 for staff, 900 for a superuser who is not staff, else 0.
pub fn default_role(is_staff: bool, is_superuser: bool) -> i64 {
    if is_staff {
        ROLE_STAFF
    } else if is_superuser {
        ROLE_SUPERUSER
    } else {
        ROLE_USER
    }
}

/// The payload of a refresh or access token.
///
/// Field names and JSON types are exactly those of the wire contract; anything else in the
/// payload (user attributes, application claims) is kept in [`Claims::extra`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claims {
    /// `"access"` or `"refresh"`.
    pub token_type: TokenType,
    /// Expiry, epoch seconds.
    pub exp: i64,
    /// Issue time, epoch seconds.
    pub iat: i64,
    /// Unique token id, 32 lowercase hex.
    pub jti: String,
    /// The user id as a string.
    pub user_id: String,
    /// Session id (32 lowercase hex), unchanged across rotations. Tokens minted by this
    /// library always carry it; a foreign token without it is refused at `/refresh/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// When the session started, epoch seconds. Absent only on foreign tokens; such a
    /// session is anchored at its first rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_iat: Option<i64>,
    /// The user's role at the time the token was minted.
    pub role: i64,
    /// Whether the user's e-mail address was confirmed when the token was minted.
    pub email_verified: bool,
    /// Issuer, set and checked when the `ISSUER` setting is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, set and checked when the `AUDIENCE` setting is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// User attributes and application claims.
    #[serde(flatten)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = std::collections::HashMap<String, serde_json::Value>)
    )]
    pub extra: ExtraClaims,
}

/// The claims an application adds: configured user attributes and the output of a
/// [`ClaimsExtension`](crate::user::ClaimsExtension). Reserved names are refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExtraClaims(Map<String, Value>);

impl ExtraClaims {
    /// An empty set of claims.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a claim. Fails for a name in [`RESERVED_CLAIMS`].
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<Value>,
    ) -> Result<(), ReservedClaimError> {
        let name = name.into();
        if is_reserved_claim(&name) {
            return Err(ReservedClaimError(name));
        }
        self.0.insert(name, value.into());
        Ok(())
    }

    /// The value of a claim.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Removes a claim and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }

    /// Iterates over the claims in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// Number of claims.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no claims.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The claims as a JSON map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}
