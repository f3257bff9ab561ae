//! Signing and verifying keys.
//!
//! Every key is pinned to one algorithm. A token's header may pick a key by `kid`, but
//! never the key type: a token whose `alg` is not its key's algorithm is invalid, so
//! `alg: none` and RS/HS confusion are impossible, and keys are never taken from the
//! header (`jku`, `jwk`, `x5u` are ignored).
//!
//! Tokens are signed by jsonwebtoken. They are verified here: HMAC signatures with a
//! pre-keyed HMAC state per key, public-key signatures by jsonwebtoken's crypto provider.
//! The header and the payload are each decoded once, and a token accepted here is exactly
//! one that `jsonwebtoken::decode` accepted with the same key, except that a header with
//! `crit` or `b64` is refused (the tests of `tests/tokens.rs` compare the two on tricky
//! input).

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

use base64::DecodeSliceError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header};
use serde::Serialize;
use sha2::{Sha256, Sha384, Sha512};

use crate::claims::Claims;
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

/// The shortest HMAC secret accepted without a `dangerous_` constructor: 32 bytes (256
/// bits, the output size of HS256), as RFC 7518 §3.2 requires for HS256.
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// [`KeyError::ShortSecret`] for a secret under [`MIN_HMAC_SECRET_BYTES`].
fn long_enough(secret: &[u8]) -> Result<(), KeyError> {
    if secret.len() < MIN_HMAC_SECRET_BYTES {
        return Err(KeyError::ShortSecret {
            len: secret.len(),
            min: MIN_HMAC_SECRET_BYTES,
        });
    }
    Ok(())
}

/// A key that signs tokens. Its `Debug` output shows the algorithm and `kid` only.
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    key_id: Option<String>,
    key: EncodingKey,
}

impl SigningKey {
    /// An HMAC secret for HS256, HS384 or HS512, at least [`MIN_HMAC_SECRET_BYTES`]
    /// long ([`KeyError::ShortSecret`] otherwise).
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        long_enough(secret)?;
        Self::dangerous_hmac_short_secret(algorithm, secret)
    }

    /// An HMAC secret of any non-empty length. A secret under
    /// [`MIN_HMAC_SECRET_BYTES`] can be found by brute force from one token, and then
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

/// A key that verifies tokens. Its `Debug` output shows the algorithm and `kid` only.
#[derive(Clone)]
pub struct VerifyingKey {
    algorithm: Algorithm,
    key_id: Option<String>,
    verifier: Verifier,
}

/// How a verifying key checks a signature.
#[derive(Clone)]
enum Verifier {
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
    fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
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
    fn check(
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
fn ed25519_key(key: &DecodingKey) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
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
    /// An HMAC secret for HS256, HS384 or HS512, at least [`MIN_HMAC_SECRET_BYTES`]
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
        let verifier = match algorithm {
            Algorithm::EdDSA => Verifier::Ed25519(ed25519_key(&key)?),
            _ => Verifier::Public(key),
        };
        Ok(Self {
            algorithm,
            key_id: None,
            verifier,
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

    /// Whether a header naming `alg` and `kid` selects this key: same algorithm, and the
    /// same `kid` when the header has one.
    fn answers_to(&self, alg: jsonwebtoken::Algorithm, kid: Option<&str>) -> bool {
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
    known_headers: Vec<KnownHeader>,
    /// Bytes a signed token has besides its encoded payload: the encoded header, the two
    /// dots and the encoded signature, whose length is fixed for a key (measured on the
    /// probe token of [`KeyRing::new`]).
    signed_overhead: usize,
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
        let mut ring = Self {
            signing,
            header,
            verifying: Vec::new(),
            known_headers: Vec::new(),
            signed_overhead: 0,
        };
        ring.add_verifying_key(verifying);
        ring.signed_overhead = ring.self_check()?;
        Ok(ring)
    }

    /// A ring with one HMAC secret, at least [`MIN_HMAC_SECRET_BYTES`] long.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        long_enough(secret)?;
        Self::dangerous_hmac_short_secret(algorithm, secret)
    }

    /// A ring with one HMAC secret of any non-empty length: for development only (see
    /// [`SigningKey::dangerous_hmac_short_secret`]).
    pub fn dangerous_hmac_short_secret(
        algorithm: Algorithm,
        secret: &[u8],
    ) -> Result<Self, KeyError> {
        Self::new(
            SigningKey::dangerous_hmac_short_secret(algorithm, secret)?,
            VerifyingKey::dangerous_hmac_short_secret(algorithm, secret)?,
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
    /// `PRIVATE_KEY_FILE` and `PUBLIC_KEY_FILE`; `KEY_ID` when set. During a key
    /// rotation, the previous key (`PREVIOUS_SECRET_KEY` or `PREVIOUS_PUBLIC_KEY_FILE`,
    /// `PREVIOUS_ALGORITHM`, `PREVIOUS_KEY_ID`) is added as a key that only verifies.
    ///
    /// A `SECRET_KEY` under [`MIN_HMAC_SECRET_BYTES`] is refused (see
    /// [`dangerous_from_settings_with_short_secret`](Self::dangerous_from_settings_with_short_secret)).
    /// A short `PREVIOUS_SECRET_KEY` is accepted, so that a rotation away from a weak
    /// secret can finish without logging everyone out (the server warns about it).
    pub fn from_settings(settings: &Settings) -> Result<Self, KeyError> {
        Self::from_settings_checked(settings, true)
    }

    /// Like [`from_settings`](Self::from_settings), but accepts an HMAC `SECRET_KEY`
    /// shorter than [`MIN_HMAC_SECRET_BYTES`]: tokens signed with it can be forged by
    /// brute force. For development only (the server's `DEVELOPMENT_MODE`).
    pub fn dangerous_from_settings_with_short_secret(
        settings: &Settings,
    ) -> Result<Self, KeyError> {
        Self::from_settings_checked(settings, false)
    }

    fn from_settings_checked(settings: &Settings, check_length: bool) -> Result<Self, KeyError> {
        let algorithm = settings.algorithm;
        let (signing, verifying) = if algorithm.is_hmac() {
            let secret = settings
                .secret_key
                .as_ref()
                .ok_or(KeyError::MissingSetting("SECRET_KEY"))?;
            let secret = secret.expose().as_bytes();
            if check_length {
                long_enough(secret)?;
            }
            (
                SigningKey::dangerous_hmac_short_secret(algorithm, secret)?,
                VerifyingKey::dangerous_hmac_short_secret(algorithm, secret)?,
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
        let ring = Self::new(signing, verifying)?;
        match previous_verifying_key(settings)? {
            Some(previous) => ring.with_verifying_key(previous),
            None => Ok(ring),
        }
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
        self.add_verifying_key(key);
        Ok(self)
    }

    /// Adds a verifying key, and the header that jsonwebtoken writes for its algorithm
    /// and `kid` to the known headers.
    fn add_verifying_key(&mut self, key: VerifyingKey) {
        let mut header = Header::new(key.algorithm.to_jwt());
        header.kid = key.key_id.clone();
        if let Ok(json) = serde_json::to_vec(&header) {
            let encoded = URL_SAFE_NO_PAD.encode(json);
            if !self
                .known_headers
                .iter()
                .any(|known| known.encoded == encoded)
                && let Some(selector) = HeaderSelector::parse(&encoded)
            {
                self.known_headers.push(KnownHeader { encoded, selector });
            }
        }
        self.verifying.push(key);
    }

    /// The key that signs new tokens.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The length of the token that signing a payload of `payload_len` bytes gives: every
    /// algorithm here writes signatures of one length per key (HMAC tags, Ed25519, ES256
    /// as `r || s`, RS256 as long as the modulus).
    pub(crate) fn signed_len(&self, payload_len: usize) -> usize {
        base64::encoded_len(payload_len, false)
            .unwrap_or(usize::MAX)
            .saturating_add(self.signed_overhead)
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
    ///
    /// Accepts exactly the tokens that `jsonwebtoken::decode` accepted with the same key
    /// and no claim validation, less those whose header has `crit` or `b64`, at about half
    /// its cost: the header is decoded once (not at all when it is one the ring's keys
    /// write), an HMAC key is not re-keyed, and the payload is deserialized once.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let payload = self.verified_payload(token).ok_or(TokenError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Invalid)?;
        if claims.extra.get("sub").is_some() || claims.extra.get("nbf").is_some() {
            serde_json::from_slice::<RegisteredClaims>(&payload)
                .map_err(|_| TokenError::Invalid)?;
        }
        Ok(claims)
    }

    /// The decoded payload of a token whose signature one of the selected keys accepts.
    fn verified_payload(&self, token: &str) -> Option<Vec<u8>> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let mut parts = token.splitn(4, '.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let message = &token[..header.len() + 1 + payload.len()];
        let parsed;
        let selector = match self
            .known_headers
            .iter()
            .find(|known| known.encoded == header)
        {
            Some(known) => &known.selector,
            None => {
                parsed = HeaderSelector::parse(header)?;
                &parsed
            }
        };
        let kid = selector.kid.as_deref();
        for key in self
            .verifying
            .iter()
            .filter(|key| key.answers_to(selector.alg, kid))
        {
            match key
                .verifier
                .check(key.algorithm, message.as_bytes(), signature)
            {
                Ok(true) => return URL_SAFE_NO_PAD.decode(payload).ok(),
                Ok(false) => continue,
                Err(_) => return None,
            }
        }
        None
    }

    /// Signs and verifies a probe token; returns its length besides the encoded payload
    /// (see `signed_overhead`).
    fn self_check(&self) -> Result<usize, KeyError> {
        let probe = serde_json::json!({"probe": true});
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let token = self.sign(&probe).map_err(KeyError::SelfCheck)?;
            let payload_len = serde_json::to_vec(&probe)
                .map_err(|err| KeyError::SelfCheck(err.into()))?
                .len();
            let overhead = base64::encoded_len(payload_len, false)
                .and_then(|encoded| token.len().checked_sub(encoded))
                .ok_or_else(|| KeyError::SelfCheck(ErrorKind::InvalidToken.into()))?;
            let malformed = || KeyError::SelfCheck(ErrorKind::InvalidToken.into());
            let (message, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
            let key = &self.verifying[0];
            match key
                .verifier
                .check(key.algorithm, message.as_bytes(), signature)
            {
                Ok(true) => {}
                Ok(false) => return Err(KeyError::KeyPairMismatch),
                Err(err) => return Err(KeyError::SelfCheck(err)),
            }
            // The whole path too, header selection included.
            match self.verified_payload(&token) {
                Some(_) => Ok(overhead),
                None => Err(malformed()),
            }
        }));
        outcome.unwrap_or(Err(KeyError::CryptoBackend))
    }
}

/// What selects the verifying keys: a header's `alg` and `kid`.
#[derive(Clone, Debug)]
struct HeaderSelector {
    alg: jsonwebtoken::Algorithm,
    kid: Option<String>,
}

impl HeaderSelector {
    /// Parses a header segment as `jsonwebtoken::decode` did, into its full `Header`, so
    /// that whatever it refused (an `alg` it does not know, `none` in any case included, a
    /// field of the wrong type, a duplicate name, padding or whitespace in the base64) is
    /// refused here too. Unlike jsonwebtoken, it also refuses a header with `crit` or
    /// `b64` (see [`Extensions`]).
    fn parse(encoded: &str) -> Option<Self> {
        let json = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        let header: Header = serde_json::from_slice(&json).ok()?;
        let extensions: Extensions = serde_json::from_slice(&json).ok()?;
        if extensions.crit || extensions.b64 {
            return None;
        }
        Some(Self {
            alg: header.alg,
            kid: header.kid,
        })
    }
}

/// Which JWS extensions a header asks for. None is implemented, so a header naming one is
/// refused: `crit` lists extensions the verifier must understand or else refuse the token
/// (RFC 7515 section 4.1.11), and it is refused in any form (an empty list, `null` or
/// another type are invalid anyway); `b64` (RFC 7797) changes the bytes the signature
/// covers, so it is refused whatever its value. Parsed from the header's JSON apart from
/// [`Header`], whose `crit` reads `null` as absent. Only headers other than the ring's
/// own are parsed, so the hot path never pays for it.
#[derive(serde::Deserialize)]
struct Extensions {
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    b64: bool,
}

/// `true` for a field that is present, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(deserializer).map(|_| true)
}

/// A header segment that the ring's keys write, byte for byte as jsonwebtoken encodes it,
/// and what [`HeaderSelector::parse`] made of it when the ring was built. A token whose
/// header segment is one of these skips the parse.
#[derive(Clone, Debug)]
struct KnownHeader {
    encoded: String,
    selector: HeaderSelector,
}

/// The registered claims as `jsonwebtoken::decode` parsed them for its validation, a
/// second parse of every payload whose failure refused the token. Its lenient parsers for
/// `nbf` and `sub` stop half-way into an array or object value, which then breaks the
/// parse of the whole payload; and it refuses a duplicate name. Once `Claims` has parsed
/// (which refuses duplicate `exp`, `iss` and `aud` and needs `exp` to be an integer), only
/// a payload with `sub` or `nbf` can fail here, so only such a payload is parsed again.
#[derive(serde::Deserialize)]
struct RegisteredClaims {
    #[serde(default, deserialize_with = "lenient_number", rename = "exp")]
    _exp: (),
    #[serde(default, deserialize_with = "lenient_number", rename = "nbf")]
    _nbf: (),
    #[serde(default, deserialize_with = "lenient_string", rename = "sub")]
    _sub: (),
    #[serde(default, rename = "iss")]
    _iss: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "aud")]
    _aud: Option<serde::de::IgnoredAny>,
}

/// jsonwebtoken's `numeric_type`: `deserialize_any` for a number, any error ignored.
fn lenient_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    struct Number;
    impl serde::de::Visitor<'_> for Number {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
    }
    let _ = deserializer.deserialize_any(Number);
    Ok(())
}

/// jsonwebtoken's `TryParse<Cow<str>>`: an optional string, any error ignored.
fn lenient_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    let _ = <Option<String> as serde::Deserialize>::deserialize(deserializer);
    Ok(())
}

/// The previous key of a key rotation, when the settings name one:
/// `PREVIOUS_SECRET_KEY` or `PREVIOUS_PUBLIC_KEY_FILE`, for `PREVIOUS_ALGORITHM` (or
/// `ALGORITHM`), with `PREVIOUS_KEY_ID`.
fn previous_verifying_key(settings: &Settings) -> Result<Option<VerifyingKey>, KeyError> {
    let configured = settings.previous_algorithm.is_some()
        || settings.previous_secret_key.is_some()
        || settings.previous_public_key_file.is_some()
        || settings.previous_key_id.is_some();
    if !configured {
        return Ok(None);
    }
    let algorithm = settings.previous_algorithm.unwrap_or(settings.algorithm);
    let key = if algorithm.is_hmac() {
        let secret = settings
            .previous_secret_key
            .as_ref()
            .ok_or(KeyError::MissingSetting("PREVIOUS_SECRET_KEY"))?;
        VerifyingKey::dangerous_hmac_short_secret(algorithm, secret.expose().as_bytes())?
    } else {
        let public = read_key_file(
            settings.previous_public_key_file.as_ref(),
            "PREVIOUS_PUBLIC_KEY_FILE",
        )?;
        VerifyingKey::from_pem(algorithm, &public)?
    };
    Ok(Some(match &settings.previous_key_id {
        Some(kid) => key.with_key_id(kid.clone()),
        None => key,
    }))
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
