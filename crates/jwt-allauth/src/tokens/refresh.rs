//! Refresh tokens.

use std::fmt;

use time::OffsetDateTime;

use super::{AccessToken, TokenCodec, fmt_token};
use crate::claims::{Claims, ExtraClaims, TokenType};
use crate::error::{Error, TokenError};
use crate::random::hex_id;

/// A signed refresh token: the credential a client exchanges at `/refresh/`.
///
/// It carries the `session` id and `session_iat`, the user's `role`, `email_verified` and
/// the configured user attributes and application claims. `Debug` never shows the token
/// text.
#[derive(Clone)]
pub struct RefreshToken {
    claims: Claims,
    encoded: String,
}

/// What a new refresh token says about its user.
#[derive(Debug, Clone)]
pub(crate) struct UserClaims {
    pub(crate) user_id: String,
    pub(crate) role: i64,
    pub(crate) email_verified: bool,
    pub(crate) extra: ExtraClaims,
}

impl RefreshToken {
    /// Verifies a refresh token (signature, `exp`, `token_type`, issuer and audience).
    pub fn decode(
        codec: &TokenCodec,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Self, TokenError> {
        let claims = codec.decode(token, TokenType::Refresh, now)?;
        Ok(Self {
            claims,
            encoded: token.to_owned(),
        })
    }

    /// Mints a refresh token for `session`, which started at `session_iat`; its `exp` is
    /// capped at the session deadline. Also returns the signed payload text, which the
    /// whitelist keeps. [`Error::TokenTooLarge`] when it, or the access token that
    /// [`AccessToken::derive`] makes from it at `now`, is over its size limit: callers
    /// mint before they store anything.
    pub(crate) fn mint(
        codec: &TokenCodec,
        user: UserClaims,
        session: String,
        session_iat: i64,
        now: OffsetDateTime,
    ) -> Result<(Self, String), Error> {
        let now_s = now.unix_timestamp();
        let claims = Claims {
            token_type: TokenType::Refresh,
            exp: codec.expiry(now_s, codec.refresh_lifetime, Some(session_iat)),
            iat: now_s,
            jti: hex_id(),
            user_id: user.user_id,
            session: Some(session),
            session_iat: Some(session_iat),
            role: user.role,
            email_verified: user.email_verified,
            iss: codec.issuer(),
            aud: codec.audience(),
            extra: user.extra,
        };
        let payload = TokenCodec::payload(&claims)?;
        codec.check_mint_size(&claims, &payload)?;
        // Only the size counts here: the refresh token's `jti` stands for the access
        // token's own, of the same length.
        let access = AccessToken::derived_claims(codec, &claims, now, claims.jti.clone());
        codec.check_mint_size(&access, &TokenCodec::payload(&access)?)?;
        let encoded = codec.sign_payload(&payload)?;
        Ok((Self { claims, encoded }, payload))
    }

    /// Signs a stored payload again. The signature schemes are deterministic, so this
    /// gives back the byte-identical token that was issued for that payload.
    pub(crate) fn resign(codec: &TokenCodec, payload: &str) -> Result<Self, Error> {
        let claims: Claims = serde_json::from_str(payload).map_err(Error::Serialization)?;
        let encoded = codec.mint_payload(&claims, payload)?;
        Ok(Self { claims, encoded })
    }

    /// The claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The signed token text (a secret: never log it).
    pub fn as_str(&self) -> &str {
        &self.encoded
    }

    /// `exp` as a time.
    pub fn expires_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.claims.exp).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_token("RefreshToken", &self.claims, f)
    }
}
