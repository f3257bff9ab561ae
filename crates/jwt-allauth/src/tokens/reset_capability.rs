//! [`ResetCapability`]: the capability of the password reset flow.

use time::OffsetDateTime;

use super::{GenericToken, TokenCodec};
use crate::claims::{Claims, ExtraClaims, TokenType};
use crate::error::{Error, TokenError};

/// The claim binding a capability to the reset token it came from: the token's SHA-256,
/// hex.
const RESET_CLAIM: &str = "reset";

/// The capability a valid password reset link gives (the `password_reset_access_token`
/// cookie): a JWT of its own type (`token_type` `password_reset`, never accepted as an
/// access or refresh token), signed with the server's keys, bound to the user and to the
/// reset token it came from. Holding it lets one set a new password by consuming that
/// very reset token, so a capability whose token was used or replaced is worthless.
///
/// ```
/// use jwt_allauth::tokens::ResetCapability;
/// use jwt_allauth::{Algorithm, KeyRing, Settings, TokenCodec, TokenType};
/// use time::{Duration, OffsetDateTime};
///
/// let keys = KeyRing::hmac(Algorithm::HS256, b"a secret of thirty-two bytes or more")?;
/// let codec = TokenCodec::new(keys, &Settings::default());
/// let now = OffsetDateTime::from_unix_timestamp(1_800_000_000)?;
/// let cookie = ResetCapability::mint(&codec, "7", "the reset token", now, now + Duration::hours(1))?;
/// let capability = ResetCapability::verify(&codec, &cookie, now)?;
/// assert_eq!(capability.user_id(), "7");
/// assert_eq!(capability.token_hash(), jwt_allauth::GenericToken::hash("the reset token"));
/// // Never an access token.
/// assert!(codec.decode(&cookie, TokenType::Access, now).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetCapability {
    user_id: String,
    token_hash: [u8; 32],
    expires_at: i64,
}

impl ResetCapability {
    /// A capability for `user_id` bound to the reset token `token`, valid until
    /// `expires_at`, signed by `codec`.
    pub fn mint(
        codec: &TokenCodec,
        user_id: &str,
        token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<String, Error> {
        let mut extra = ExtraClaims::new();
        extra.insert(RESET_CLAIM, hex::encode(GenericToken::hash(token)))?;
        codec.encode(&Claims {
            token_type: TokenType::PasswordReset,
            exp: expires_at.unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: crate::random::hex_id(),
            user_id: user_id.to_owned(),
            session: None,
            session_iat: None,
            role: 0,
            email_verified: false,
            iss: None,
            aud: None,
            extra,
        })
    }

    /// The capability `cookie` holds, if `codec` signed it as one and it has not
    /// expired at `now`.
    pub fn verify(
        codec: &TokenCodec,
        cookie: &str,
        now: OffsetDateTime,
    ) -> Result<Self, TokenError> {
        let claims = codec.decode(cookie, TokenType::PasswordReset, now)?;
        let token_hash = claims
            .extra
            .get(RESET_CLAIM)
            .and_then(|value| value.as_str())
            .and_then(|text| hex::decode(text).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or(TokenError::Invalid)?;
        Ok(Self {
            user_id: claims.user_id,
            token_hash,
            expires_at: claims.exp,
        })
    }

    /// The user whose password it may set.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The SHA-256 of the reset token it is bound to.
    pub fn token_hash(&self) -> [u8; 32] {
        self.token_hash
    }

    /// Its expiry, epoch seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
}
