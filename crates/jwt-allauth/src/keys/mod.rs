//! Signing and verifying keys.
//!
//! Every key is pinned to one algorithm. A token's header may pick a key by `kid`, but
//! never the key type: a token whose `alg` is not its key's algorithm is invalid, so
//! `alg: none` and RS/HS confusion are impossible, and keys are never taken from the
//! header (`jku`, `jwk`, `x5u` are ignored: a token signed by a key the ring does not
//! hold is refused whatever its header says).
//!
//! The public half of an EdDSA, ES256 or RS256 key is a JSON Web Key
//! ([`VerifyingKey::to_jwk`], [`KeyRing::jwks`]), and a ring of public keys alone
//! ([`KeyRing::verify_only`]) verifies tokens with no way to sign one: what a service that
//! only checks tokens holds. [`KeyPair::generate`] makes new key pairs, as PEM.
//!
//! Tokens are signed by jsonwebtoken. They are verified here: HMAC signatures with a
//! pre-keyed HMAC state per key, public-key signatures by jsonwebtoken's crypto provider.
//! The header and the payload are each decoded once, and a token accepted here is exactly
//! one that `jsonwebtoken::decode` accepted with the same key, except that a header with
//! `crit` or `b64` is refused (the tests of `tests/tokens.rs` compare the two on tricky
//! input).

mod algorithm;
mod from_settings;
mod generate;
mod header;
mod jwk;
mod key_ring;
mod registered_claims;
mod signing_key;
mod verified_tokens;
mod verifying_key;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use generate::{KeyPair, RSA_KEY_BITS};
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
pub use key_ring::KeyRing;
pub use signing_key::SigningKey;
pub use verified_tokens::DEFAULT_VERIFIED_TOKENS;
pub use verifying_key::VerifyingKey;

use crate::error::KeyError;

/// Longest token accepted, in bytes. Longer input is rejected before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

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
