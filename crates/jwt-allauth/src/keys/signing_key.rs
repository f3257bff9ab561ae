//! A key that signs tokens.

use std::fmt;

use jsonwebtoken::EncodingKey;

use super::{Algorithm, hmac_only, invalid_key, long_enough, pem_for_hmac};
use crate::error::KeyError;

/// A key that signs tokens. Its `Debug` output shows the algorithm and `kid` only.
#[derive(Clone)]
pub struct SigningKey {
    pub(super) algorithm: Algorithm,
    pub(super) key_id: Option<String>,
    pub(super) key: EncodingKey,
}

impl SigningKey {
    /// An HMAC secret for HS256, HS384 or HS512, at least [`MIN_HMAC_SECRET_BYTES`](crate::keys::MIN_HMAC_SECRET_BYTES)
    /// long ([`KeyError::ShortSecret`] otherwise).
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        long_enough(secret)?;
        Self::dangerous_hmac_short_secret(algorithm, secret)
    }

    /// An HMAC secret of any non-empty length. A secret under
    /// [`MIN_HMAC_SECRET_BYTES`](crate::keys::MIN_HMAC_SECRET_BYTES) can be found by brute force from one token, and then
    /// any token can be forged: for development only.
    pub fn dangerous_hmac_short_secret(
        algorithm: Algorithm,
        secret: &[u8],
    ) -> Result<Self, KeyError> {
        hmac_only(algorithm)?;
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        Ok(Self {
            algorithm,
            key_id: None,
            key: EncodingKey::from_secret(secret),
        })
    }

    /// A PEM private key (PKCS#8) for EdDSA, ES256 or RS256 (PKCS#1 also accepted).
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let key = match algorithm {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
            _ => return Err(pem_for_hmac(algorithm)),
        }
        .map_err(invalid_key(algorithm))?;
        Ok(Self {
            algorithm,
            key_id: None,
            key,
        })
    }

    /// Sets the `kid` written into the header of every token this key signs.
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The `kid`.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("key", &"[redacted]")
            .finish()
    }
}
