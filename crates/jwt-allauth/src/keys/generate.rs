//! New key pairs for the public-key algorithms, as PEM.

use std::fmt;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey, KeypairBytes};
use rand::rngs::OsRng;

use super::{Algorithm, KeyRing, SigningKey, VerifyingKey};
use crate::error::{BoxError, KeyError};
use crate::settings::Secret;

/// Bits of a generated RSA modulus: 2048, the size NIST SP 800-57 accepts through 2030
/// and every JWT library verifies.
pub const RSA_KEY_BITS: usize = 2048;

/// A new key pair for EdDSA (Ed25519), ES256 (P-256) or RS256 (RSA, [`RSA_KEY_BITS`]),
/// drawn from the operating system's random source: the private key as PKCS#8 PEM, the
/// public key as SubjectPublicKeyInfo PEM, the formats that
/// [`SigningKey::from_pem`] and [`VerifyingKey::from_pem`] read (and `openssl` writes).
/// Its `Debug` output never shows the private key.
///
/// ```
/// use jwt_allauth::keys::{Algorithm, KeyPair};
/// let pair = KeyPair::generate(Algorithm::ES256)?;
/// assert!(pair.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
/// let ring = pair.key_ring()?;
/// assert_eq!(ring.jwks().keys.len(), 1);
/// # Ok::<(), jwt_allauth::KeyError>(())
/// ```
#[derive(Clone)]
pub struct KeyPair {
    algorithm: Algorithm,
    private_pem: Secret,
    public_pem: String,
}

impl KeyPair {
    /// Generates a key pair; an HMAC algorithm is [`KeyError::WrongKeyType`] (an HMAC
    /// secret is 32 or more random bytes, not a pair).
    pub fn generate(algorithm: Algorithm) -> Result<Self, KeyError> {
        let failed = |source: BoxError| KeyError::Generate {
            algorithm: algorithm.as_str(),
            source,
        };
        let (private_pem, public_pem) = match algorithm {
            Algorithm::EdDSA => {
                let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
                // PKCS#8 version 1 (the private key alone), which jsonwebtoken reads.
                let private = KeypairBytes {
                    secret_key: key.to_bytes(),
                    public_key: None,
                }
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|err| failed(err.into()))?;
                let public = key
                    .verifying_key()
                    .to_public_key_pem(LineEnding::LF)
                    .map_err(|err| failed(err.into()))?;
                (private.to_string(), public)
            }
            Algorithm::ES256 => {
                let key = p256::SecretKey::random(&mut OsRng);
                let private = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|err| failed(err.into()))?;
                let public = key
                    .public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .map_err(|err| failed(err.into()))?;
                (private.to_string(), public)
            }
            Algorithm::RS256 => {
                let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_KEY_BITS)
                    .map_err(|err| failed(err.into()))?;
                let private = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|err| failed(err.into()))?;
                let public = key
                    .to_public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .map_err(|err| failed(err.into()))?;
                (private.to_string(), public)
            }
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                return Err(KeyError::WrongKeyType {
                    algorithm: algorithm.as_str(),
                    expected: "a secret, not a generated key pair",
                });
            }
        };
        Ok(Self {
            algorithm,
            private_pem: Secret::new(private_pem),
            public_pem,
        })
    }

    /// A key pair read back from its PEM texts (as stored after [`generate`](Self::generate)).
    /// The two halves are checked against each other when a ring is built from them.
    pub fn from_pem(algorithm: Algorithm, private_pem: String, public_pem: String) -> Self {
        Self {
            algorithm,
            private_pem: Secret::new(private_pem),
            public_pem,
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The private key, PKCS#8 PEM. Keep it secret: whoever has it can sign tokens.
    pub fn private_pem(&self) -> &str {
        self.private_pem.expose()
    }

    /// The public key, SubjectPublicKeyInfo PEM.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The signing key.
    pub fn signing_key(&self) -> Result<SigningKey, KeyError> {
        SigningKey::from_pem(self.algorithm, self.private_pem().as_bytes())
    }

    /// The verifying key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        VerifyingKey::from_pem(self.algorithm, self.public_pem.as_bytes())
    }

    /// A ring that signs with this pair (checked by a probe token).
    pub fn key_ring(&self) -> Result<KeyRing, KeyError> {
        KeyRing::new(self.signing_key()?, self.verifying_key()?)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("algorithm", &self.algorithm)
            .field("private_pem", &"[redacted]")
            .field("public_pem", &self.public_pem)
            .finish()
    }
}
