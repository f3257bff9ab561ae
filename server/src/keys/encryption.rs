//! The key-encryption key (`KEY_ENCRYPTION_KEY`), and private keys sealed under it.
//!
//! A private key is stored as XChaCha20-Poly1305 ciphertext (RustCrypto's
//! `chacha20poly1305`) with a random 192-bit nonce of its own, and its `kid` and
//! algorithm as associated data: a sealed key copied onto another row (another `kid`, or
//! another algorithm) does not open. A wrong key-encryption key opens nothing, and says
//! so, rather than yielding garbage.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use jwt_allauth::{Algorithm, Secret};
use rand::RngCore;

use crate::config::KeySettings;

/// Bytes of a key-encryption key: 32 (256 bits).
pub const KEY_ENCRYPTION_KEY_BYTES: usize = 32;

/// Bytes of a nonce: 24 (XChaCha20's 192 bits, safe to draw at random).
pub const NONCE_BYTES: usize = 24;

/// The associated data's prefix: what the ciphertext is, and the format's version.
const AAD_PREFIX: &[u8] = b"jwt-allauth signing key v1";

/// Why the key-encryption key cannot be read, or a sealed key cannot be opened. No
/// message contains a key.
#[derive(Debug, thiserror::Error)]
pub enum KekError {
    /// Both `KEY_ENCRYPTION_KEY` and `KEY_ENCRYPTION_KEY_FILE` are set.
    #[error("set KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE, not both")]
    BothSet,
    /// The setting is not 32 bytes in standard base64.
    #[error(
        "{setting} must be 32 random bytes in standard base64 (e.g. `openssl rand -base64 32`)"
    )]
    Malformed {
        /// `KEY_ENCRYPTION_KEY`, or `KEY_ENCRYPTION_KEY_FILE` with its path.
        setting: String,
    },
    /// The file of `KEY_ENCRYPTION_KEY_FILE` cannot be read.
    #[error("cannot read KEY_ENCRYPTION_KEY_FILE {}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The sealed private key of `kid` does not open with this key-encryption key: the
    /// key is wrong, or the row was tampered with.
    #[error(
        "the private key of {kid} cannot be decrypted: KEY_ENCRYPTION_KEY (or \
         KEY_ENCRYPTION_KEY_FILE) is not the key it was encrypted with"
    )]
    WrongKey {
        /// The key's `kid`.
        kid: String,
    },
    /// Encryption failed (it cannot, for inputs of sane length).
    #[error("the private key of {kid} cannot be encrypted")]
    Seal {
        /// The key's `kid`.
        kid: String,
    },
}

/// The key that encrypts the private keys stored in the database. Its `Debug` output
/// never shows it.
#[derive(Clone)]
pub struct KeyEncryptionKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

/// A private key as stored: its nonce and its ciphertext (with the 16-byte tag).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey {
    /// The nonce, [`NONCE_BYTES`] long.
    pub nonce: Vec<u8>,
    /// The ciphertext and its tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedKey")
            .field("ciphertext_bytes", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl KeyEncryptionKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; KEY_ENCRYPTION_KEY_BYTES]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&Key::from(*bytes)),
        }
    }

    /// The key from its standard base64 text (surrounding whitespace ignored); `setting`
    /// names where it came from in the error.
    pub fn from_base64(text: &str, setting: &str) -> Result<Self, KekError> {
        let malformed = || KekError::Malformed {
            setting: setting.to_owned(),
        };
        let bytes = STANDARD.decode(text.trim()).map_err(|_| malformed())?;
        let bytes: [u8; KEY_ENCRYPTION_KEY_BYTES] = bytes.try_into().map_err(|_| malformed())?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The key the settings give: `KEY_ENCRYPTION_KEY`, or the text of the file
    /// `KEY_ENCRYPTION_KEY_FILE`; `None` when neither is set.
    pub fn from_settings(settings: &KeySettings) -> Result<Option<Self>, KekError> {
        match (
            &settings.key_encryption_key,
            &settings.key_encryption_key_file,
        ) {
            (Some(_), Some(_)) => Err(KekError::BothSet),
            (Some(text), None) => Self::from_base64(text.expose(), "KEY_ENCRYPTION_KEY").map(Some),
            (None, Some(path)) => Self::from_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    fn from_file(path: &Path) -> Result<Self, KekError> {
        let text = std::fs::read_to_string(path).map_err(|source| KekError::File {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_base64(
            &text,
            &format!("KEY_ENCRYPTION_KEY_FILE ({})", path.display()),
        )
    }

    /// Encrypts the private key `private_pem` of the key `kid` for `algorithm`, under a
    /// fresh random nonce.
    pub fn seal(
        &self,
        kid: &str,
        algorithm: Algorithm,
        private_pem: &str,
    ) -> Result<SealedKey, KekError> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(kid, algorithm);
        let ciphertext = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: private_pem.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| KekError::Seal {
                kid: kid.to_owned(),
            })?;
        Ok(SealedKey {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts the private key of `kid` for `algorithm`: its PEM text.
    pub fn open(
        &self,
        kid: &str,
        algorithm: Algorithm,
        sealed: &SealedKey,
    ) -> Result<Secret, KekError> {
        let wrong = || KekError::WrongKey {
            kid: kid.to_owned(),
        };
        let nonce: [u8; NONCE_BYTES] = sealed.nonce.as_slice().try_into().map_err(|_| wrong())?;
        let aad = associated_data(kid, algorithm);
        let plain = self
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| wrong())?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| wrong())
    }
}

/// The associated data of a sealed key: the format, the `kid` and the algorithm, each
/// ended by a NUL (neither contains one).
fn associated_data(kid: &str, algorithm: Algorithm) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_PREFIX.len() + kid.len() + 16);
    aad.extend_from_slice(AAD_PREFIX);
    aad.push(0);
    aad.extend_from_slice(kid.as_bytes());
    aad.push(0);
    aad.extend_from_slice(algorithm.as_str().as_bytes());
    aad.push(0);
    aad
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const PEM: &str =
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";

    #[test]
    fn a_sealed_key_opens_only_with_its_key_kid_and_algorithm() {
        let kek = KeyEncryptionKey::from_bytes(&[1; 32]);
        let sealed = kek.seal("kid-1", Algorithm::EdDSA, PEM).unwrap();
        assert_eq!(sealed.nonce.len(), NONCE_BYTES);
        assert!(
            !sealed
                .ciphertext
                .windows(10)
                .any(|w| w == &PEM.as_bytes()[..10])
        );
        assert_eq!(
            kek.open("kid-1", Algorithm::EdDSA, &sealed)
                .unwrap()
                .expose(),
            PEM
        );
        // A fresh nonce each time.
        assert_ne!(kek.seal("kid-1", Algorithm::EdDSA, PEM).unwrap(), sealed);

        let other = KeyEncryptionKey::from_bytes(&[2; 32]);
        let err = other.open("kid-1", Algorithm::EdDSA, &sealed).unwrap_err();
        assert!(matches!(err, KekError::WrongKey { ref kid } if kid == "kid-1"));
        assert!(kek.open("kid-2", Algorithm::EdDSA, &sealed).is_err());
        assert!(kek.open("kid-1", Algorithm::ES256, &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(kek.open("kid-1", Algorithm::EdDSA, &tampered).is_err());
        assert!(!format!("{kek:?}{sealed:?}").contains("BEGIN"));
    }

    #[test]
    fn the_setting_is_32_bytes_of_standard_base64() {
        let text = STANDARD.encode([9u8; 32]);
        assert!(KeyEncryptionKey::from_base64(&format!(" {text}\n"), "KEY_ENCRYPTION_KEY").is_ok());
        for bad in [
            STANDARD.encode([9u8; 31]),
            "not base64!".to_owned(),
            String::new(),
        ] {
            let err = KeyEncryptionKey::from_base64(&bad, "KEY_ENCRYPTION_KEY").unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("KEY_ENCRYPTION_KEY must be 32 random bytes"),
                "{err}"
            );
        }
    }

    #[test]
    fn from_the_value_or_a_file_never_both() {
        let text = STANDARD.encode([3u8; 32]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        std::fs::write(&path, format!("{text}\n")).unwrap();

        let mut settings = KeySettings::default();
        assert!(
            KeyEncryptionKey::from_settings(&settings)
                .unwrap()
                .is_none()
        );
        settings.key_encryption_key_file = Some(path.clone());
        let from_file = KeyEncryptionKey::from_settings(&settings).unwrap().unwrap();
        settings.key_encryption_key_file = None;
        settings.key_encryption_key = Some(Secret::new(text.clone()));
        let from_value = KeyEncryptionKey::from_settings(&settings).unwrap().unwrap();
        let sealed = from_file.seal("k", Algorithm::RS256, PEM).unwrap();
        assert_eq!(
            from_value
                .open("k", Algorithm::RS256, &sealed)
                .unwrap()
                .expose(),
            PEM
        );

        settings.key_encryption_key_file = Some(path);
        assert!(matches!(
            KeyEncryptionKey::from_settings(&settings),
            Err(KekError::BothSet)
        ));
        settings.key_encryption_key = None;
        settings.key_encryption_key_file = Some(dir.path().join("missing"));
        let err = KeyEncryptionKey::from_settings(&settings).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read KEY_ENCRYPTION_KEY_FILE"),
            "{err}"
        );
    }
}
