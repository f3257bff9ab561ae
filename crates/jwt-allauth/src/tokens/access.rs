//! Access tokens.

use std::fmt;

use time::OffsetDateTime;

use super::{TokenCodec, fmt_token};
use crate::claims::{Claims, TokenType};
use crate::error::{Error, TokenError};
use crate::random::hex_id;

/// A signed access token, presented as `Authorization: Bearer`. Verifying one reads no
/// database. `Debug` never shows the token text.
#[derive(Clone)]
pub struct AccessToken {
    claims: Claims,
    encoded: String,
}

impl AccessToken {
    /// Verifies an access token (signature, `exp`, `token_type`, issuer and audience).
    pub fn decode(
        codec: &TokenCodec,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Self, TokenError> {
        let claims = codec.decode(token, TokenType::Access, now)?;
        Ok(Self {
            claims,
            encoded: token.to_owned(),
        })
    }

    /// Derives an access token from refresh-token claims: every claim is copied except
    /// `token_type`, `exp`, `iat` and `jti`, which are fresh. `exp` is capped at the
    /// session deadline. [`Error::TokenTooLarge`] when it is over
    /// [`TokenCodec::max_token_bytes`].
    pub fn derive(
        codec: &TokenCodec,
        refresh: &Claims,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        let claims = Self::derived_claims(codec, refresh, now, hex_id());
        let payload = TokenCodec::payload(&claims)?;
        let encoded = codec.mint_payload(&claims, &payload)?;
        Ok(Self { claims, encoded })
    }

    /// The claims of the access token derived from `refresh` at `now`, with `jti`.
    pub(crate) fn derived_claims(
        codec: &TokenCodec,
        refresh: &Claims,
        now: OffsetDateTime,
        jti: String,
    ) -> Claims {
        let now = now.unix_timestamp();
        Claims {
            token_type: TokenType::Access,
            exp: codec.expiry(now, codec.access_lifetime, refresh.session_iat),
            iat: now,
            jti,
            ..refresh.clone()
        }
    }

    /// The claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The user id (`user_id` claim).
    pub fn user_id(&self) -> &str {
        &self.claims.user_id
    }

    /// The session id (`session` claim), if any.
    pub fn session(&self) -> Option<&str> {
        self.claims.session.as_deref()
    }

    /// The signed token text (a secret: never log it).
    pub fn as_str(&self) -> &str {
        &self.encoded
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_token("AccessToken", &self.claims, f)
    }
}
