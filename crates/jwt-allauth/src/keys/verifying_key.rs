//! A key that verifies tokens.

use std::fmt;

use base64::DecodeSliceError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::DecodingKey;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::Jwk;
use sha2::{Sha256, Sha384, Sha512};

use super::{Algorithm, hmac_only, invalid_key, long_enough, pem_for_hmac};
use crate::error::KeyError;

/// A key that verifies tokens. Its `Debug` output shows the algorithm and `kid` only.
#[derive(Clone)]
pub struct VerifyingKey {
    pub(super) algorithm: Algorithm,
    pub(super) key_id: Option<String>,
    pub(super) verifier: Verifier,
    /// The public key as a JSON Web Key, without its common parameters (`kid`, `alg`,
    /// `use`): `None` for an HMAC secret, which is never published.
    pub(super) public: Option<Box<Jwk>>,
}

/// How a verifying key checks a signature.
#[derive(Clone)]
pub(super) enum Verifier {
    /// HMAC-SHA-256 with the secret already absorbed (its padded blocks hashed once):
    /// each check clones this state instead of re-keying.
    Hs256(Hmac<Sha256>),
    /// HMAC-SHA-384, pre-keyed.
    Hs384(Hmac<Sha384>),
    /// HMAC-SHA-512, pre-keyed.
    Hs512(Hmac<Sha512>),
    /// An Ed25519 public key, its point decompressed once (jsonwebtoken's provider does
    /// it for every token).
    Ed25519(ed25519_dalek::VerifyingKey),
    /// An ES256 or RS256 public key, checked by jsonwebtoken's crypto provider.
    Public(DecodingKey),
}

/// Longest signature decoded on the stack: an HS512 tag or an Ed25519 signature.
const MAX_STACK_SIGNATURE_BYTES: usize = 64;

impl Verifier {
    pub(super) fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        // HMAC takes keys of any length: these constructors cannot fail.
        let invalid = |_| invalid_key(algorithm)(ErrorKind::InvalidKeyFormat.into());
        Ok(match algorithm {
            Algorithm::HS256 => Self::Hs256(Hmac::new_from_slice(secret).map_err(invalid)?),
            Algorithm::HS384 => Self::Hs384(Hmac::new_from_slice(secret).map_err(invalid)?),
            Algorithm::HS512 => Self::Hs512(Hmac::new_from_slice(secret).map_err(invalid)?),
            _ => {
                return Err(KeyError::WrongKeyType {
                    algorithm: algorithm.as_str(),
                    expected: "a PEM key",
                });
            }
        })
    }

    /// Whether `signature` (the token's third part) signs `message` (its first two parts
    /// and the dot between them). An error for a signature that is not base64url, or a
    /// failure of the crypto provider: the token is then refused without trying another
    /// key, as `jsonwebtoken::decode` did.
    pub(super) fn check(
        &self,
        algorithm: Algorithm,
        message: &[u8],
        signature: &str,
    ) -> Result<bool, jsonwebtoken::errors::Error> {
        if let Self::Public(key) = self {
            return jsonwebtoken::crypto::verify(signature, message, key, algorithm.to_jwt());
        }
        let mut bytes = [0u8; MAX_STACK_SIGNATURE_BYTES];
        let len = match URL_SAFE_NO_PAD.decode_slice(signature, &mut bytes) {
            Ok(len) => len,
            // Longer than any signature of these algorithms: wrong, as a length mismatch
            // would be.
            Err(DecodeSliceError::OutputSliceTooSmall) => return Ok(false),
            Err(DecodeSliceError::DecodeError(err)) => return Err(err.into()),
        };
        let bytes = &bytes[..len];
        Ok(match self {
            Self::Hs256(mac) => mac_matches(mac, message, bytes),
            Self::Hs384(mac) => mac_matches(mac, message, bytes),
            Self::Hs512(mac) => mac_matches(mac, message, bytes),
            // As jsonwebtoken's provider: RFC 8032 verification (`Verifier::verify`, not
            // `verify_strict`), a signature of another length being wrong.
            Self::Ed25519(key) => ed25519_dalek::Signature::from_slice(bytes)
                .is_ok_and(|sig| ed25519_dalek::Verifier::verify(key, message, &sig).is_ok()),
            Self::Public(_) => false,
        })
    }
}

/// The Ed25519 point of a public key that jsonwebtoken parsed from PEM, read as its
/// provider reads it (the first 32 bytes).
pub(super) fn ed25519_key(key: &DecodingKey) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
    let invalid = || invalid_key(Algorithm::EdDSA)(ErrorKind::InvalidEddsaKey.into());
    let bytes = key
        .try_get_as_bytes()
        .map_err(invalid_key(Algorithm::EdDSA))?;
    let point: &[u8; 32] = bytes
        .get(..32)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(invalid)?;
    ed25519_dalek::VerifyingKey::from_bytes(point).map_err(|_| invalid())
}

/// Computes the HMAC of `message` from a pre-keyed state and compares it with `tag` in
/// constant time; a tag of another length never matches.
fn mac_matches<M: Mac + Clone>(keyed: &M, message: &[u8], tag: &[u8]) -> bool {
    let mut mac = keyed.clone();
    mac.update(message);
    mac.verify_slice(tag).is_ok()
}

impl VerifyingKey {
    /// An HMAC secret for HS256, HS384 or HS512, at least [`MIN_HMAC_SECRET_BYTES`](crate::keys::MIN_HMAC_SECRET_BYTES)
    /// long ([`KeyError::ShortSecret`] otherwise).
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        long_enough(secret)?;
        Self::dangerous_hmac_short_secret(algorithm, secret)
    }

    /// An HMAC secret of any non-empty length: whoever finds a short secret by brute
    /// force can forge tokens this key accepts. For a previous key still needed while a
    /// rotation away from it finishes, or for development.
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
            verifier: Verifier::hmac(algorithm, secret)?,
            public: None,
        })
    }

    /// A PEM public key for EdDSA, ES256 or RS256.
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let key = match algorithm {
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
            Algorithm::RS256 => DecodingKey::from_rsa_pem(pem),
            _ => return Err(pem_for_hmac(algorithm)),
        }
        .map_err(invalid_key(algorithm))?;
        Self::from_decoding_key(algorithm, key)
    }

    /// A public key that jsonwebtoken parsed, with its JSON Web Key.
    pub(super) fn from_decoding_key(
        algorithm: Algorithm,
        key: DecodingKey,
    ) -> Result<Self, KeyError> {
        let public = Jwk::from_decoding_key(&key, Some(algorithm.to_jwt()))
            .map_err(invalid_key(algorithm))?;
        let verifier = match algorithm {
            Algorithm::EdDSA => Verifier::Ed25519(ed25519_key(&key)?),
            _ => Verifier::Public(key),
        };
        Ok(Self {
            algorithm,
            key_id: None,
            verifier,
            public: Some(Box::new(public)),
        })
    }

    /// Sets the `kid` this key answers to.
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

    /// Whether this is the public half of a key pair (EdDSA, ES256, RS256), which may be
    /// published; an HMAC secret is not.
    pub fn is_public(&self) -> bool {
        self.public.is_some()
    }

    /// Whether a header naming `alg` and `kid` selects this key: same algorithm, and the
    /// same `kid` when the header has one.
    pub(super) fn answers_to(&self, alg: jsonwebtoken::Algorithm, kid: Option<&str>) -> bool {
        self.algorithm.to_jwt() == alg
            && match kid {
                Some(kid) => self.key_id.as_deref() == Some(kid),
                None => true,
            }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("key", &"[redacted]")
            .finish()
    }
}
