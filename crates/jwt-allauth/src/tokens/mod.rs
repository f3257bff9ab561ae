//! Refresh, access and single-use purpose tokens.
//!
//! [`TokenCodec`] signs and verifies JWTs with a [`KeyRing`] and the lifetimes, leeway,
//! issuer and audience of the [`Settings`]. Every check takes the current time as a
//! parameter, so expiry is exact in tests.

mod access;
mod generic;
pub(crate) mod refresh;
mod reset_capability;

pub use access::AccessToken;
pub use generic::GenericToken;
pub use refresh::RefreshToken;
pub use reset_capability::ResetCapability;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::claims::{Claims, TokenType};
use crate::error::{Error, TokenError, TokenTooLarge};
use crate::keys::{KeyRing, MAX_TOKEN_BYTES};
use crate::settings::Settings;

/// The longest cookie browsers keep, its name and value together (RFC 6265bis section
/// 5.6); they drop a longer `Set-Cookie` without a word. In cookie mode a refresh token
/// is minted only if it fits with the cookie's name.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// A refresh token and the access token derived from it, as returned by login and
/// rotation.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The access token.
    pub access: AccessToken,
    /// The refresh token.
    pub refresh: RefreshToken,
}

/// Signs and verifies the library's JWTs.
///
/// Clones share one key ring: [`replace_keys`](Self::replace_keys) on any of them changes
/// the keys of all, at once and without a lock on the verification path (a service that
/// reloads its keys, from a database or a JWKS, keeps one codec and replaces its ring).
#[derive(Debug, Clone)]
pub struct TokenCodec {
    keys: Arc<ArcSwap<KeyRing>>,
    access_lifetime: i64,
    refresh_lifetime: i64,
    session_lifetime: Option<i64>,
    leeway: i64,
    issuer: Option<String>,
    audience: Option<String>,
    max_refresh_bytes: usize,
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl TokenCodec {
    /// A codec using `keys` and the token settings: lifetimes, `SESSION_LIFETIME`,
    /// `LEEWAY`, `ISSUER`, `AUDIENCE`.
    pub fn new(keys: KeyRing, settings: &Settings) -> Self {
        Self {
            keys: Arc::new(ArcSwap::from_pointee(keys)),
            access_lifetime: seconds(settings.access_token_lifetime),
            refresh_lifetime: seconds(settings.refresh_token_lifetime),
            session_lifetime: settings.session_lifetime.map(seconds),
            leeway: seconds(settings.leeway),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            max_refresh_bytes: MAX_TOKEN_BYTES,
        }
    }

    /// The same codec minting refresh tokens of at most `bytes` (and never more than
    /// [`MAX_TOKEN_BYTES`]). The axum crate's state sets it, in cookie mode
    /// (`REFRESH_TOKEN_AS_COOKIE`), to what fits in a browser's cookie with its name:
    /// [`MAX_COOKIE_BYTES`] less the length of `COOKIE_NAME`.
    pub fn with_max_refresh_token_bytes(mut self, bytes: usize) -> Self {
        self.max_refresh_bytes = bytes.min(MAX_TOKEN_BYTES);
        self
    }

    /// The longest token of `token_type` this codec mints, in bytes: the verification
    /// limit [`MAX_TOKEN_BYTES`] (8 KiB), and for refresh tokens the limit of
    /// [`with_max_refresh_token_bytes`](Self::with_max_refresh_token_bytes). Minting a longer token is
    /// [`Error::TokenTooLarge`], before anything is stored; a refresh token is also
    /// refused when the access token derived from it would be over its own limit.
    pub fn max_token_bytes(&self, token_type: TokenType) -> usize {
        match token_type {
            TokenType::Access | TokenType::PasswordReset => MAX_TOKEN_BYTES,
            TokenType::Refresh => self.max_refresh_bytes,
        }
    }

    /// The key ring in use.
    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys.load_full()
    }

    /// Replaces the key ring of this codec and of every clone of it. Tokens are signed
    /// and verified with the new ring from the next call on; a call under way finishes
    /// with the ring it started with.
    pub fn replace_keys(&self, keys: KeyRing) {
        self.keys.store(Arc::new(keys));
    }

    /// Verifies `token` and returns its claims: signature with the key its header names
    /// and that key's algorithm (a header with `crit` or `b64` is refused), then `nbf`
    /// when present (an integer, invalid when `nbf > now + leeway`), then `exp` (an
    /// integer; expired when `exp <= now - leeway`), then `token_type`, then `iss`/`aud`
    /// when configured.
    pub fn decode(
        &self,
        token: &str,
        expected: TokenType,
        now: OffsetDateTime,
    ) -> Result<Claims, TokenError> {
        let claims: Claims = self.keys.load().verify(token)?;
        // RFC 7519 section 4.1.5. The library never writes `nbf` (a reserved name), so only
        // a foreign token pays for this look-up's hit.
        if let Some(nbf) = claims.extra.get("nbf") {
            let nbf = nbf.as_i64().ok_or(TokenError::Invalid)?;
            if nbf > now.unix_timestamp().saturating_add(self.leeway) {
                return Err(TokenError::Invalid);
            }
        }
        if claims.exp <= now.unix_timestamp().saturating_sub(self.leeway) {
            return Err(TokenError::Expired);
        }
        if claims.token_type != expected {
            return Err(TokenError::WrongType);
        }
        if self.issuer.is_some() && claims.iss != self.issuer {
            return Err(TokenError::Invalid);
        }
        if self.audience.is_some() && claims.aud != self.audience {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }

    /// Signs arbitrary claims with the signing key. The library's own tokens are minted by
    /// [`SessionManager`](crate::SessionManager); this is for tests and custom tokens. A
    /// token longer than [`MAX_TOKEN_BYTES`], which would not verify, is
    /// [`Error::TokenTooLarge`].
    pub fn encode(&self, claims: &Claims) -> Result<String, Error> {
        let payload = Self::payload(claims)?;
        self.check_size(claims, &payload, MAX_TOKEN_BYTES)?;
        self.sign_payload(&payload)
    }

    /// Signs the payload text of `claims`, a token of the library's own, refusing it when
    /// it is over [`max_token_bytes`](Self::max_token_bytes).
    fn mint_payload(&self, claims: &Claims, payload: &str) -> Result<String, Error> {
        self.check_mint_size(claims, payload)?;
        self.sign_payload(payload)
    }

    /// Checks, without signing, that the token of `claims` with this payload text fits
    /// [`max_token_bytes`](Self::max_token_bytes).
    fn check_mint_size(&self, claims: &Claims, payload: &str) -> Result<(), Error> {
        self.check_size(claims, payload, self.max_token_bytes(claims.token_type))
    }

    fn check_size(&self, claims: &Claims, payload: &str, limit: usize) -> Result<(), Error> {
        let length = self
            .keys
            .load()
            .signed_len(payload.len())
            .ok_or(Error::NoSigningKey)?;
        if length <= limit {
            return Ok(());
        }
        let largest_claim = claims
            .extra
            .iter()
            .map(|(name, value)| (name, serde_json::to_string(value).map_or(0, |v| v.len())))
            .max_by_key(|(_, bytes)| *bytes)
            .map(|(name, bytes)| (name.clone(), bytes));
        Err(TokenTooLarge {
            token_type: claims.token_type,
            length,
            limit,
            largest_claim,
        }
        .into())
    }

    /// The absolute deadline of a session that started at `session_iat`, if
    /// `SESSION_LIFETIME` is set.
    pub fn session_deadline(&self, session_iat: i64) -> Option<i64> {
        self.session_lifetime
            .map(|lifetime| session_iat.saturating_add(lifetime))
    }

    /// `now + lifetime`, capped at the session deadline.
    fn expiry(&self, now: i64, lifetime: i64, session_iat: Option<i64>) -> i64 {
        let exp = now.saturating_add(lifetime);
        match session_iat.and_then(|iat| self.session_deadline(iat)) {
            Some(deadline) => exp.min(deadline),
            None => exp,
        }
    }

    /// Serializes claims to the exact payload text that is signed (and stored, for
    /// refresh tokens, so that a retry can be answered with the identical token).
    fn payload(claims: &Claims) -> Result<String, Error> {
        serde_json::to_string(claims).map_err(Error::Serialization)
    }

    /// Signs a payload text as it is, byte for byte.
    fn sign_payload(&self, payload: &str) -> Result<String, Error> {
        let raw = RawValue::from_string(payload.to_owned()).map_err(Error::Serialization)?;
        match self.keys.load().sign(&raw) {
            Some(signed) => signed.map_err(Error::Signing),
            None => Err(Error::NoSigningKey),
        }
    }

    fn issuer(&self) -> Option<String> {
        self.issuer.clone()
    }

    fn audience(&self) -> Option<String> {
        self.audience.clone()
    }
}

/// Writes a token as `Type("[redacted]")` with its public claims, never the token text.
fn fmt_token(name: &str, claims: &Claims, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.debug_struct(name)
        .field("token", &"[redacted]")
        .field("user_id", &claims.user_id)
        .field("session", &claims.session)
        .field("jti", &claims.jti)
        .field("exp", &claims.exp)
        .finish()
}
