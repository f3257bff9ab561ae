//! Public keys as JSON Web Keys (RFC 7517), both ways.
//!
//! Only what verifies a signature crosses: an Ed25519 (`OKP`), P-256 (`EC`) or RSA public
//! key, with `kid`, `alg` and `use: "sig"`. An HMAC secret is never written out, and a
//! symmetric (`oct`) key is never taken in, so a key set cannot turn a public-key
//! algorithm into an HMAC one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash,
};

use super::{Algorithm, VerifyingKey, invalid_key};
use crate::error::KeyError;

impl VerifyingKey {
    /// The public key as a JSON Web Key with `kid`, `alg` and `use: "sig"`, as a JWKS
    /// publishes it; `None` for an HMAC secret. A key with no `kid` gets its RFC 7638
    /// thumbprint as `kid` (see [`thumbprint`](Self::thumbprint)).
    pub fn to_jwk(&self) -> Option<Jwk> {
        let mut jwk = (**self.public.as_ref()?).clone();
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(key_algorithm(self.algorithm));
        jwk.common.key_id = self.key_id.clone().or_else(|| self.thumbprint());
        Some(jwk)
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key (base64url), a `kid` that
    /// anyone holding the key computes alike; `None` for an HMAC secret.
    pub fn thumbprint(&self) -> Option<String> {
        self.public
            .as_ref()?
            .thumbprint(ThumbprintHash::SHA256)
            .ok()
    }

    /// The verifying key a JSON Web Key describes: an Ed25519 (`OKP`), P-256 (`EC`) or RSA
    /// public key, for the algorithm its `alg` names (EdDSA, ES256 or RS256), or the one
    /// its key type implies when it has no `alg`. Keeps its `kid`.
    ///
    /// Refused ([`KeyError::UnusableJwk`]): a symmetric (`oct`) key, a key whose `use` is
    /// not `sig`, an `alg` other than those three, or key parameters of another type or
    /// curve than the algorithm's. Private parameters (`d`, ...) are ignored.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        if matches!(jwk.common.public_key_use, Some(ref usage) if *usage != PublicKeyUse::Signature)
        {
            return Err(KeyError::UnusableJwk("its `use` is not `sig`"));
        }
        let algorithm = match jwk.common.key_algorithm {
            Some(alg) => algorithm_of(alg)?,
            None => implied_algorithm(&jwk.algorithm)?,
        };
        if implied_algorithm(&jwk.algorithm)? != algorithm {
            return Err(KeyError::UnusableJwk(
                "its key type or curve does not match its `alg`",
            ));
        }
        let key = match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(params) => {
                let x = URL_SAFE_NO_PAD
                    .decode(&params.x)
                    .map_err(|_| KeyError::UnusableJwk("its `x` is not base64url"))?;
                let point: [u8; 32] = x
                    .try_into()
                    .map_err(|_| KeyError::UnusableJwk("its `x` is not 32 bytes"))?;
                // Checked here, as `from_pem` checks it, so that a bad point is refused
                // when the key is read rather than at each token.
                ed25519_dalek::VerifyingKey::from_bytes(&point)
                    .map_err(|_| KeyError::UnusableJwk("its `x` is not an Ed25519 point"))?;
                DecodingKey::from_ed_components(&params.x)
            }
            AlgorithmParameters::EllipticCurve(params) => {
                DecodingKey::from_ec_components(&params.x, &params.y)
            }
            AlgorithmParameters::RSA(params) => {
                DecodingKey::from_rsa_components(&params.n, &params.e)
            }
            _ => return Err(KeyError::UnusableJwk("it is not a public key")),
        }
        .map_err(invalid_key(algorithm))?;
        let mut key = Self::from_decoding_key(algorithm, key)?;
        key.key_id = jwk.common.key_id.clone();
        Ok(key)
    }
}

/// The JWK `alg` of an algorithm (an asymmetric one: HMAC keys are never written).
fn key_algorithm(algorithm: Algorithm) -> KeyAlgorithm {
    match algorithm {
        Algorithm::HS256 => KeyAlgorithm::HS256,
        Algorithm::HS384 => KeyAlgorithm::HS384,
        Algorithm::HS512 => KeyAlgorithm::HS512,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::RS256 => KeyAlgorithm::RS256,
    }
}

/// The algorithm a JWK's `alg` names, if it is one a key set may carry here.
fn algorithm_of(alg: KeyAlgorithm) -> Result<Algorithm, KeyError> {
    match alg {
        KeyAlgorithm::EdDSA => Ok(Algorithm::EdDSA),
        KeyAlgorithm::ES256 => Ok(Algorithm::ES256),
        KeyAlgorithm::RS256 => Ok(Algorithm::RS256),
        KeyAlgorithm::HS256 | KeyAlgorithm::HS384 | KeyAlgorithm::HS512 => Err(
            KeyError::UnusableJwk("an HMAC `alg` is never taken from a key set"),
        ),
        _ => Err(KeyError::UnusableJwk(
            "its `alg` is not EdDSA, ES256 or RS256",
        )),
    }
}

/// The algorithm a key type and curve imply.
fn implied_algorithm(params: &AlgorithmParameters) -> Result<Algorithm, KeyError> {
    match params {
        AlgorithmParameters::OctetKeyPair(params) if params.curve == EllipticCurve::Ed25519 => {
            Ok(Algorithm::EdDSA)
        }
        AlgorithmParameters::EllipticCurve(params) if params.curve == EllipticCurve::P256 => {
            Ok(Algorithm::ES256)
        }
        AlgorithmParameters::RSA(_) => Ok(Algorithm::RS256),
        AlgorithmParameters::OctetKey(_) => Err(KeyError::UnusableJwk(
            "a symmetric (`oct`) key is never taken from a key set",
        )),
        _ => Err(KeyError::UnusableJwk(
            "its key type or curve is not Ed25519, P-256 or RSA",
        )),
    }
}
