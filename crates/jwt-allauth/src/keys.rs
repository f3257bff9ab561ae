//! Signing and verifying keys.
//!
//! Every key is pinned to one algorithm. A token's header may pick a key by `kid`, but
//! never the key type: a token whose `alg` is not its key's algorithm is invalid, so
//! `alg: none` and RS/HS confusion are impossible, and keys are never taken from the
//! header (`jku`, `jwk`, `x5u` are ignored).

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{KeyError, TokenError};
use crate::settings::Settings;

/// Longest token accepted, in bytes. Longer input is rejected before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC with SHA-256 (the default).
    #[default]
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// Ed25519.
    EdDSA,
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl Algorithm {
    /// The name used in the JOSE header and in the `ALGORITHM` setting.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
        }
    }

    /// Whether this is an HMAC algorithm (a shared secret rather than a key pair).
    pub fn is_hmac(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::HS384 => jsonwebtoken::Algorithm::HS384,
            Algorithm::HS512 => jsonwebtoken::Algorithm::HS512,
            Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown algorithm name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm `{0}` (expected HS256, HS384, HS512, EdDSA, ES256 or RS256)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses `HS256`, `HS384`, `HS512`, `EdDSA`, `ES256` or `RS256`, ignoring case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Algorithm::HS256,
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::EdDSA,
            Algorithm::ES256,
            Algorithm::RS256,
        ]
        .into_iter()
        .find(|alg| alg.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

fn invalid_key(algorithm: Algorithm) -> impl FnOnce(jsonwebtoken::errors::Error) -> KeyError {
    move |source| KeyError::InvalidKey {
        algorithm: algorithm.as_str(),
        source,
    }
}

/// A key that signs tokens. Its `Debug` output shows the algorithm and `kid` only.
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    key_id: Option<String>,
    key: EncodingKey,
}

impl SigningKey {
    /// An HMAC secret for HS256, HS384 or HS512.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
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

/// A key that verifies tokens. Its `Debug` output shows the algorithm and `kid` only.
#[derive(Clone)]
pub struct VerifyingKey {
    algorithm: Algorithm,
    key_id: Option<String>,
    key: DecodingKey,
    validation: Validation,
}

impl VerifyingKey {
    /// An HMAC secret for HS256, HS384 or HS512.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        hmac_only(algorithm)?;
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        Ok(Self::with_key(algorithm, DecodingKey::from_secret(secret)))
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
        Ok(Self::with_key(algorithm, key))
    }

    fn with_key(algorithm: Algorithm, key: DecodingKey) -> Self {
        // Expiry, audience and issuer are checked by the token types against the `now`
        // they are given; the library only checks the signature and the algorithm.
        let mut validation = Validation::new(algorithm.to_jwt());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.required_spec_claims.clear();
        Self {
            algorithm,
            key_id: None,
            key,
            validation,
        }
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

fn hmac_only(algorithm: Algorithm) -> Result<(), KeyError> {
    if algorithm.is_hmac() {
        Ok(())
    } else {
        Err(KeyError::WrongKeyType {
            algorithm: algorithm.as_str(),
            expected: "a PEM key",
        })
    }
}

fn pem_for_hmac(algorithm: Algorithm) -> KeyError {
    KeyError::WrongKeyType {
        algorithm: algorithm.as_str(),
        expected: "a secret",
    }
}

/// One signing key and the keys that verify tokens.
///
/// The first verifying key is the signing key's own; more can be added so that tokens
/// signed with a previous key stay valid during a key rotation.
///
/// ```
/// use jwt_allauth::keys::{Algorithm, KeyRing, SigningKey, VerifyingKey};
/// let ring = KeyRing::hmac(Algorithm::HS256, b"a secret of at least thirty-two bytes!")?
///     .with_verifying_key(VerifyingKey::hmac(Algorithm::HS256, b"the previous secret, still accepted")?.with_key_id("old"))?;
/// assert_eq!(ring.signing_key().algorithm(), Algorithm::HS256);
/// # Ok::<(), jwt_allauth::KeyError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    signing: SigningKey,
    header: Header,
    verifying: Vec<VerifyingKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("signing", &self.signing)
            .field("verifying", &self.verifying)
            .finish()
    }
}

impl KeyRing {
    /// A ring from a signing key and its verifying counterpart. Signs and verifies a probe
    /// token, so that a broken crypto backend or a mismatched pair fails here.
    pub fn new(signing: SigningKey, verifying: VerifyingKey) -> Result<Self, KeyError> {
        if signing.algorithm != verifying.algorithm {
            return Err(KeyError::KeyPairMismatch);
        }
        let mut verifying = verifying;
        verifying.key_id = signing.key_id.clone();
        let mut header = Header::new(signing.algorithm.to_jwt());
        header.kid = signing.key_id.clone();
        let ring = Self {
            signing,
            header,
            verifying: vec![verifying],
        };
        ring.self_check()?;
        Ok(ring)
    }

    /// A ring with one HMAC secret.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        Self::new(
            SigningKey::hmac(algorithm, secret)?,
            VerifyingKey::hmac(algorithm, secret)?,
        )
    }

    /// A ring with one PEM key pair.
    pub fn from_pem(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, KeyError> {
        Self::new(
            SigningKey::from_pem(algorithm, private_pem)?,
            VerifyingKey::from_pem(algorithm, public_pem)?,
        )
    }

    /// The ring the settings describe: `ALGORITHM` with `SECRET_KEY`, or with
    /// `PRIVATE_KEY_FILE` and `PUBLIC_KEY_FILE`; `KEY_ID` when set.
    pub fn from_settings(settings: &Settings) -> Result<Self, KeyError> {
        let algorithm = settings.algorithm;
        let (signing, verifying) = if algorithm.is_hmac() {
            let secret = settings
                .secret_key
                .as_ref()
                .ok_or(KeyError::MissingSetting("SECRET_KEY"))?;
            let secret = secret.expose().as_bytes();
            (
                SigningKey::hmac(algorithm, secret)?,
                VerifyingKey::hmac(algorithm, secret)?,
            )
        } else {
            let private = read_key_file(settings.private_key_file.as_ref(), "PRIVATE_KEY_FILE")?;
            let public = read_key_file(settings.public_key_file.as_ref(), "PUBLIC_KEY_FILE")?;
            (
                SigningKey::from_pem(algorithm, &private)?,
                VerifyingKey::from_pem(algorithm, &public)?,
            )
        };
        let signing = match &settings.key_id {
            Some(kid) => signing.with_key_id(kid.clone()),
            None => signing,
        };
        Self::new(signing, verifying)
    }

    /// Adds a key that verifies (but does not sign), e.g. the previous key during a
    /// rotation. Two keys with the same `kid` are refused.
    pub fn with_verifying_key(mut self, key: VerifyingKey) -> Result<Self, KeyError> {
        if let Some(kid) = &key.key_id
            && self
                .verifying
                .iter()
                .any(|k| k.key_id.as_ref() == Some(kid))
        {
            return Err(KeyError::DuplicateKeyId(kid.clone()));
        }
        self.verifying.push(key);
        Ok(self)
    }

    /// The key that signs new tokens.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// Signs a payload.
    pub(crate) fn sign<T: Serialize>(
        &self,
        payload: &T,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&self.header, payload, &self.signing.key)
    }

    /// Verifies a token's signature with the key its header names (by `kid`, or every key
    /// of the header's algorithm when there is no `kid`) and decodes its payload.
    pub(crate) fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let candidates = self.verifying.iter().filter(|key| {
            key.algorithm.to_jwt() == header.alg
                && match &header.kid {
                    Some(kid) => key.key_id.as_ref() == Some(kid),
                    None => true,
                }
        });
        for key in candidates {
            match jsonwebtoken::decode::<T>(token, &key.key, &key.validation) {
                Ok(data) => return Ok(data.claims),
                Err(err) if matches!(err.kind(), ErrorKind::InvalidSignature) => continue,
                Err(_) => return Err(TokenError::Invalid),
            }
        }
        Err(TokenError::Invalid)
    }

    fn self_check(&self) -> Result<(), KeyError> {
        let probe = serde_json::json!({"probe": true});
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let token = self.sign(&probe).map_err(KeyError::SelfCheck)?;
            let key = &self.verifying[0];
            match jsonwebtoken::decode::<serde_json::Value>(&token, &key.key, &key.validation) {
                Ok(_) => Ok(()),
                Err(err) if matches!(err.kind(), ErrorKind::InvalidSignature) => {
                    Err(KeyError::KeyPairMismatch)
                }
                Err(err) => Err(KeyError::SelfCheck(err)),
            }
        }));
        outcome.unwrap_or(Err(KeyError::CryptoBackend))
    }
}

fn read_key_file(
    path: Option<&std::path::PathBuf>,
    setting: &'static str,
) -> Result<Vec<u8>, KeyError> {
    let path = path.ok_or(KeyError::MissingSetting(setting))?;
    std::fs::read(path).map_err(|source| KeyError::File {
        path: path.clone(),
        source,
    })
}
