//! The key ring a server signs and verifies with: the keys of the settings and the keys
//! of the database together, with the settings taking precedence.
//!
//! - When the settings name a signing key explicitly (`SECRET_KEY`, or `ALGORITHM`
//!   EdDSA/ES256/RS256 with its key files), it signs; the database's keys only verify
//!   and are published.
//! - Otherwise, when the database has an active key, that key signs; the settings' keys
//!   (the generated HMAC key file, `PREVIOUS_*`) keep verifying, so tokens signed before
//!   the switch stay valid until they expire.
//! - With no active key in the database, the settings' ring signs as it always did
//!   (the generated key file); standby keys are published already.
//!
//! Verifying (and published): the active key, standby keys, and previous keys until the
//! last token they signed has expired ([`Lifecycle::verifies`]).

use jwt_allauth::keys::{SigningKey, VerifyingKey};
use jwt_allauth::{KeyError, KeyRing};
use time::OffsetDateTime;

use super::encryption::{KekError, KeyEncryptionKey};
use super::lifecycle::Lifecycle;
use super::stored_key::{KeyState, StoredKey};
use super::table::{KeyStoreError, SigningKeys};
use crate::config::Config;

/// Why the database's keys cannot be used. Every message names the setting or the key at
/// fault, never a key's value.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    /// The database holds keys and no key-encryption key is configured.
    #[error(
        "the database holds signing keys, but neither KEY_ENCRYPTION_KEY nor \
         KEY_ENCRYPTION_KEY_FILE is set"
    )]
    MissingKek,
    /// The key-encryption key cannot be read, or does not open a stored key.
    #[error(transparent)]
    Kek(#[from] KekError),
    /// The keys cannot be read from the database.
    #[error("cannot read the signing keys from the database")]
    Store(#[from] KeyStoreError),
    /// A stored key does not parse, or its halves do not match.
    #[error("the stored signing key {kid} cannot be used")]
    Key {
        /// The key.
        kid: String,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The ring cannot be built from the settings' and the database's keys (the active
    /// key's halves do not match, or the crypto backend fails its probe token).
    #[error("the key ring cannot be built from the settings' and the database's keys")]
    Ring(#[source] KeyError),
}

/// Whether the settings name the signing key explicitly: `SECRET_KEY`, or a public-key
/// `ALGORITHM` (whose key files are then required). Read it before the generated key
/// file fills `SECRET_KEY` in ([`crate::config::ensure_signing_key`]).
pub fn explicit_signing_key(config: &Config) -> bool {
    !config.tokens.algorithm.is_hmac() || config.tokens.secret_key.is_some()
}

/// The database's keys that may verify a live token, decrypted and checked.
#[derive(Debug, Default)]
struct DatabaseKeys {
    /// The active key's halves.
    active: Option<(SigningKey, VerifyingKey)>,
    /// Standby keys, then previous keys still verifying, oldest first.
    verifying: Vec<VerifyingKey>,
}

/// Where a server's ring comes from: the settings' ring, and the database's keys under
/// the key-encryption key. Cheap to clone.
#[derive(Debug, Clone)]
pub struct KeySource {
    settings_ring: KeyRing,
    explicit: bool,
    store: SigningKeys,
    kek: Option<KeyEncryptionKey>,
    rules: Lifecycle,
}

impl KeySource {
    /// The source for `config`: `settings_ring` is the ring its settings describe
    /// ([`crate::config::signing_keys`], after the key file was loaded), `explicit`
    /// whether they name the signing key ([`explicit_signing_key`]). Fails when the
    /// key-encryption key is malformed or unreadable.
    pub fn new(
        config: &Config,
        settings_ring: KeyRing,
        explicit: bool,
        store: SigningKeys,
    ) -> Result<Self, KeySetError> {
        Ok(Self {
            settings_ring,
            explicit,
            store,
            kek: KeyEncryptionKey::from_settings(&config.keys)?,
            rules: Lifecycle::from_config(config),
        })
    }

    /// The ring to sign and verify with at `now` (see the module's documentation).
    /// Fails when the database holds keys that cannot be decrypted (no key-encryption
    /// key, or the wrong one) or used, or cannot be read.
    pub async fn ring(&self, now: OffsetDateTime) -> Result<KeyRing, KeySetError> {
        let stored = self.store.list().await?;
        let keys = self.decrypt(&stored, now)?;
        self.compose(keys).map_err(KeySetError::Ring)
    }

    /// Opens the private key of every key not retired (so that a wrong key-encryption key
    /// is found whatever the keys' states); keeps those that verify at `now`.
    fn decrypt(
        &self,
        stored: &[StoredKey],
        now: OffsetDateTime,
    ) -> Result<DatabaseKeys, KeySetError> {
        let mut keys = DatabaseKeys::default();
        let live: Vec<&StoredKey> = stored
            .iter()
            .filter(|key| key.state != KeyState::Retired)
            .collect();
        if live.is_empty() {
            return Ok(keys);
        }
        let kek = self.kek.as_ref().ok_or(KeySetError::MissingKek)?;
        for key in live {
            let unusable = |source| KeySetError::Key {
                kid: key.kid.clone(),
                source,
            };
            let sealed = key.sealed.as_ref().ok_or_else(|| KeyStoreError::Corrupt {
                kid: key.kid.clone(),
                reason: "no private key".to_owned(),
            })?;
            let private_pem = kek.open(&key.kid, key.algorithm, sealed)?;
            if !self.rules.verifies(key, now) {
                continue;
            }
            let verifying = key.verifying_key().map_err(unusable)?;
            if key.state == KeyState::Active {
                let signing = SigningKey::from_pem(key.algorithm, private_pem.expose().as_bytes())
                    .map_err(unusable)?
                    .with_key_id(key.kid.clone());
                keys.active = Some((signing, verifying));
            } else {
                keys.verifying.push(verifying);
            }
        }
        Ok(keys)
    }

    /// The ring of the settings' keys and the database's, the settings first when they
    /// name the signing key.
    fn compose(&self, keys: DatabaseKeys) -> Result<KeyRing, KeyError> {
        let (mut ring, more): (KeyRing, Vec<VerifyingKey>) = match keys.active {
            Some((signing, verifying)) if !self.explicit => {
                let mut more = keys.verifying;
                more.extend(self.settings_ring.verifying_keys().iter().cloned());
                (KeyRing::new(signing, verifying)?, more)
            }
            active => {
                let mut more: Vec<VerifyingKey> =
                    active.map(|(_, verifying)| verifying).into_iter().collect();
                more.extend(keys.verifying);
                (self.settings_ring.clone(), more)
            }
        };
        for key in more {
            let known = key.key_id().is_some_and(|kid| {
                ring.verifying_keys()
                    .iter()
                    .any(|have| have.key_id() == Some(kid))
            });
            if !known {
                ring = ring.with_verifying_key(key)?;
            }
        }
        Ok(ring)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jwt_allauth::keys::KeyPair;
    use jwt_allauth::{Algorithm, Secret, Settings, TokenCodec};

    use super::*;
    use crate::db::Database;

    const KEK: [u8; 32] = [5; 32];

    /// Stores a new standby key; its kid.
    async fn generate(store: &SigningKeys, algorithm: Algorithm, now: OffsetDateTime) -> String {
        let pair = KeyPair::generate(algorithm).unwrap();
        let kid = pair.verifying_key().unwrap().thumbprint().unwrap();
        let sealed = KeyEncryptionKey::from_bytes(&KEK)
            .seal(&kid, algorithm, pair.private_pem())
            .unwrap();
        store
            .insert_standby(&kid, algorithm, pair.public_pem(), &sealed, now)
            .await
            .unwrap();
        kid
    }

    fn config(kek: Option<[u8; 32]>) -> Config {
        let mut config = Config::default();
        config.keys.key_encryption_key = kek.map(|bytes| {
            use base64::Engine;
            Secret::new(base64::engine::general_purpose::STANDARD.encode(bytes))
        });
        config
    }

    fn hmac_ring() -> KeyRing {
        KeyRing::hmac(Algorithm::HS256, &[8; 32]).unwrap()
    }

    fn kids(ring: &KeyRing) -> Vec<Option<String>> {
        ring.verifying_keys()
            .iter()
            .map(|key| key.key_id().map(str::to_owned))
            .collect()
    }

    #[tokio::test]
    async fn the_database_key_signs_unless_the_settings_name_one() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.migrate().await.unwrap();
        let store = SigningKeys::new(db);
        let now = OffsetDateTime::now_utc();
        let implicit =
            KeySource::new(&config(Some(KEK)), hmac_ring(), false, store.clone()).unwrap();
        let explicit =
            KeySource::new(&config(Some(KEK)), hmac_ring(), true, store.clone()).unwrap();

        // No key in the database: as before.
        let ring = implicit.ring(now).await.unwrap();
        assert_eq!(ring.signing_key().unwrap().algorithm(), Algorithm::HS256);
        assert!(ring.jwks().keys.is_empty());

        // A standby key is published, and does not sign.
        let first = generate(&store, Algorithm::EdDSA, now).await;
        let ring = implicit.ring(now).await.unwrap();
        assert_eq!(ring.signing_key().unwrap().algorithm(), Algorithm::HS256);
        assert_eq!(ring.jwks().keys.len(), 1);

        // Active: it signs, and the HMAC key still verifies what it signed.
        let settings = Settings::default();
        let before = TokenCodec::new(hmac_ring(), &settings);
        let claims = jwt_allauth::Claims {
            token_type: jwt_allauth::TokenType::Access,
            exp: now.unix_timestamp() + 60,
            iat: now.unix_timestamp(),
            jti: "0".repeat(32),
            user_id: "1".to_owned(),
            session: None,
            session_iat: None,
            role: 0,
            email_verified: true,
            iss: None,
            aud: None,
            extra: jwt_allauth::ExtraClaims::default(),
        };
        let old_token = before.encode(&claims).unwrap();
        store.activate(&first, now).await.unwrap();
        let ring = implicit.ring(now).await.unwrap();
        assert_eq!(ring.signing_key().unwrap().key_id(), Some(first.as_str()));
        assert_eq!(kids(&ring), vec![Some(first.clone()), None]);
        let after = TokenCodec::new(ring, &settings);
        assert!(
            after
                .decode(&old_token, jwt_allauth::TokenType::Access, now)
                .is_ok()
        );

        // Explicit settings keep signing; the database's key verifies and is published.
        let ring = explicit.ring(now).await.unwrap();
        assert_eq!(ring.signing_key().unwrap().algorithm(), Algorithm::HS256);
        assert_eq!(kids(&ring), vec![None, Some(first.clone())]);
        assert_eq!(ring.jwks().keys.len(), 1);
    }

    #[tokio::test]
    async fn no_or_a_wrong_key_encryption_key_is_an_error_once_keys_exist() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.migrate().await.unwrap();
        let store = SigningKeys::new(db);
        let now = OffsetDateTime::now_utc();
        let missing = KeySource::new(&config(None), hmac_ring(), false, store.clone()).unwrap();
        assert!(missing.ring(now).await.is_ok());
        generate(&store, Algorithm::ES256, now).await;
        assert!(matches!(
            missing.ring(now).await,
            Err(KeySetError::MissingKek)
        ));
        let wrong = KeySource::new(&config(Some([6; 32])), hmac_ring(), false, store).unwrap();
        let err = wrong.ring(now).await.unwrap_err();
        assert!(
            matches!(err, KeySetError::Kek(KekError::WrongKey { .. })),
            "{err}"
        );
    }
}
