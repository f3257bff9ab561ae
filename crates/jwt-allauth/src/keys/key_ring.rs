//! The keys a service signs and verifies with.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use serde::Serialize;

use super::header::{HeaderSelector, KnownHeader};
use super::registered_claims::RegisteredClaims;
use super::verified_tokens::{DEFAULT_VERIFIED_TOKENS, VerifiedTokens};
use super::{Algorithm, MAX_TOKEN_BYTES, SigningKey, VerifyingKey};
use crate::claims::{Claims, TokenType};
use crate::error::{KeyError, TokenError};

/// The keys that verify tokens, and the one that signs new ones (none in a ring that only
/// verifies).
///
/// The first verifying key is the signing key's own; more can be added so that tokens
/// signed with a previous key stay valid during a key rotation, and so that a key that
/// will sign soon is known (and published) before it does.
///
/// A ring remembers the access tokens it verified (by their SHA-256, up to
/// [`DEFAULT_VERIFIED_TOKENS`](crate::keys::DEFAULT_VERIFIED_TOKENS), see
/// [`with_verified_token_cache`](Self::with_verified_token_cache)): a client presents the
/// same access token on every request of its lifetime, and its signature, the costly part
/// of a check (an Ed25519 verification costs more than a whole plain request), is then
/// checked once. Expiry and the other claims are checked on every call all the same.
///
/// ```
/// use jwt_allauth::keys::{Algorithm, KeyRing, SigningKey, VerifyingKey};
/// let ring = KeyRing::hmac(Algorithm::HS256, b"a secret of at least thirty-two bytes!")?
///     .with_verifying_key(VerifyingKey::hmac(Algorithm::HS256, b"the previous secret, still accepted")?.with_key_id("old"))?;
/// assert_eq!(ring.signing_key().map(|key| key.algorithm()), Some(Algorithm::HS256));
/// # Ok::<(), jwt_allauth::KeyError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    signer: Option<Signer>,
    verifying: Vec<VerifyingKey>,
    known_headers: Vec<KnownHeader>,
    /// Shared by clones, which hold the same keys; a ring given other keys gets a cache of
    /// its own ([`KeyRing::with_verifying_key`]).
    verified: Option<Arc<VerifiedTokens>>,
    verified_capacity: usize,
}

/// The signing key, the header it writes, and the length its signatures add.
#[derive(Clone)]
struct Signer {
    key: SigningKey,
    header: Header,
    /// Bytes a signed token has besides its encoded payload: the encoded header, the two
    /// dots and the encoded signature, whose length is fixed for a key (measured on the
    /// probe token of [`KeyRing::new`]).
    signed_overhead: usize,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("signing", &self.signer.as_ref().map(|signer| &signer.key))
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
        let mut ring = Self::empty();
        ring.add_verifying_key(verifying);
        let signed_overhead = ring.self_check(&signing, &header)?;
        ring.signer = Some(Signer {
            key: signing,
            header,
            signed_overhead,
        });
        Ok(ring)
    }

    /// A ring that verifies with `keys` and cannot sign: what a service that only checks
    /// access tokens holds (public keys, typically read from the issuer's JWKS with
    /// [`VerifyingKey::from_jwk`]). Two keys with the same `kid` are refused; no key at
    /// all is a ring that refuses every token.
    ///
    /// ```
    /// use jwt_allauth::keys::{Algorithm, KeyPair, KeyRing};
    /// let pair = KeyPair::generate(Algorithm::EdDSA)?;
    /// let verifier = pair.verifying_key()?.with_key_id("2026-12");
    /// let ring = KeyRing::verify_only([verifier])?;
    /// assert!(ring.signing_key().is_none());
    /// assert_eq!(ring.jwks().keys.len(), 1);
    /// # Ok::<(), jwt_allauth::KeyError>(())
    /// ```
    pub fn verify_only(keys: impl IntoIterator<Item = VerifyingKey>) -> Result<Self, KeyError> {
        keys.into_iter()
            .try_fold(Self::empty(), Self::with_verifying_key)
    }

    /// A ring with no key, remembering up to [`DEFAULT_VERIFIED_TOKENS`] verified tokens.
    fn empty() -> Self {
        Self {
            signer: None,
            verifying: Vec::new(),
            known_headers: Vec::new(),
            verified: VerifiedTokens::with_capacity(DEFAULT_VERIFIED_TOKENS).map(Arc::new),
            verified_capacity: DEFAULT_VERIFIED_TOKENS,
        }
    }

    /// The same ring remembering up to `capacity` verified access tokens (0: none, every
    /// token's signature is checked on every call), with an empty cache.
    ///
    /// Only a token whose signature this ring accepted is remembered, by the SHA-256 of
    /// its whole text (the text is not kept); a token must match one byte for byte to be
    /// answered from memory. Its expiry, `nbf`, type, issuer and audience are checked on
    /// every call by [`TokenCodec`](crate::TokenCodec). Refresh and purpose tokens are
    /// never remembered: each is presented once.
    pub fn with_verified_token_cache(mut self, capacity: usize) -> Self {
        self.verified_capacity = capacity;
        self.verified = VerifiedTokens::with_capacity(capacity).map(Arc::new);
        self
    }

    /// How many verified access tokens the ring remembers now.
    pub fn verified_tokens_cached(&self) -> usize {
        self.verified.as_ref().map_or(0, |verified| verified.len())
    }

    /// A ring with one HMAC secret, at least [`MIN_HMAC_SECRET_BYTES`](crate::keys::MIN_HMAC_SECRET_BYTES) long.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        super::long_enough(secret)?;
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

    /// Adds a key that verifies (but does not sign), e.g. the previous key during a
    /// rotation, or the next one before it signs. Two keys with the same `kid` are
    /// refused.
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
        // A clone of the ring shares the cache, and must not accept what this key signs.
        self.verified = VerifiedTokens::with_capacity(self.verified_capacity).map(Arc::new);
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

    /// The key that signs new tokens; `None` in a ring that only verifies.
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.signer.as_ref().map(|signer| &signer.key)
    }

    /// The keys that verify tokens, the signing key's own first.
    pub fn verifying_keys(&self) -> &[VerifyingKey] {
        &self.verifying
    }

    /// The public keys of the ring as a JSON Web Key Set (RFC 7517), in the ring's order:
    /// every EdDSA, ES256 and RS256 verifying key with `kid`, `alg` and `use: "sig"`.
    /// HMAC secrets are never in it, so an HMAC-only ring gives `{"keys":[]}`.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self
                .verifying
                .iter()
                .filter_map(VerifyingKey::to_jwk)
                .collect(),
        }
    }

    /// Whether `token`'s header names a `kid` that no key of the ring has (for the `alg`
    /// it names). A service that reads its keys from a JWKS fetches the set again for such
    /// a token, since the issuer may have published a new key; a token whose header does
    /// not parse, or names no `kid`, is not one.
    pub fn names_unknown_key(&self, token: &str) -> bool {
        let Some(header) = token.split('.').next() else {
            return false;
        };
        if self
            .known_headers
            .iter()
            .any(|known| known.encoded == header)
        {
            return false;
        }
        match HeaderSelector::parse(header) {
            Some(HeaderSelector {
                alg,
                kid: Some(kid),
            }) => !self
                .verifying
                .iter()
                .any(|key| key.answers_to(alg, Some(&kid))),
            _ => false,
        }
    }

    /// The length of the token that signing a payload of `payload_len` bytes gives: every
    /// algorithm here writes signatures of one length per key (HMAC tags, Ed25519, ES256
    /// as `r || s`, RS256 as long as the modulus). `None` with no signing key.
    pub(crate) fn signed_len(&self, payload_len: usize) -> Option<usize> {
        let signer = self.signer.as_ref()?;
        Some(
            base64::encoded_len(payload_len, false)
                .unwrap_or(usize::MAX)
                .saturating_add(signer.signed_overhead),
        )
    }

    /// Signs a payload; `None` with no signing key.
    pub(crate) fn sign<T: Serialize>(
        &self,
        payload: &T,
    ) -> Option<Result<String, jsonwebtoken::errors::Error>> {
        let signer = self.signer.as_ref()?;
        Some(jsonwebtoken::encode(
            &signer.header,
            payload,
            &signer.key.key,
        ))
    }

    /// Verifies a token's signature with the key its header names (by `kid`, or every key
    /// of the header's algorithm when there is no `kid`) and decodes its payload.
    ///
    /// Accepts exactly the tokens that `jsonwebtoken::decode` accepted with the same key
    /// and no claim validation, less those whose header has `crit` or `b64`, at about half
    /// its cost: the header is decoded once (not at all when it is one the ring's keys
    /// write), an HMAC key is not re-keyed, and the payload is deserialized once. An access
    /// token verified before is answered from the ring's cache.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let Some(verified) = &self.verified else {
            return self.verify_signature(token);
        };
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let key = VerifiedTokens::key(token);
        if let Some(claims) = verified.get(&key) {
            return Ok(claims);
        }
        let claims = self.verify_signature(token)?;
        if claims.token_type == TokenType::Access {
            verified.insert(key, &claims);
        }
        Ok(claims)
    }

    /// [`verify`](Self::verify) without the cache.
    fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
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

    /// Signs a probe token with `signing` and verifies it with the ring's first key;
    /// returns its length besides the encoded payload (see `signed_overhead`).
    fn self_check(&self, signing: &SigningKey, header: &Header) -> Result<usize, KeyError> {
        let probe = serde_json::json!({"probe": true});
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let token =
                jsonwebtoken::encode(header, &probe, &signing.key).map_err(KeyError::SelfCheck)?;
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
