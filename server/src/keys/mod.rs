//! Signing keys kept in the database, and their lifecycle without downtime.
//!
//! Keys move **standby → active → previous → retired** ([`KeyState`]), driven by the
//! command line (`jwt-allauth keys list|generate|activate|retire`). Each key is an
//! EdDSA, ES256 or RS256 pair whose `kid` is the RFC 7638 thumbprint of its public key;
//! its private half is stored encrypted under `KEY_ENCRYPTION_KEY`
//! ([`KeyEncryptionKey`]), so every instance of a deployment on one database shares one
//! key set. A running server builds its ring from the settings and the database
//! ([`KeySource`], whose documentation gives the precedence) and reloads it every
//! `KEY_RELOAD_INTERVAL` ([`KeyReloader`]). The timing rules (when a standby key has been
//! published long enough, when a previous key may retire) are in [`Lifecycle`].

mod encryption;
mod key_set;
mod lifecycle;
mod reloader;
mod stored_key;
mod table;
mod table_sql;

pub use encryption::{
    KEY_ENCRYPTION_KEY_BYTES, KekError, KeyEncryptionKey, NONCE_BYTES, SealedKey,
};
pub use key_set::{KeySetError, KeySource, explicit_signing_key};
pub use lifecycle::{Lifecycle, RetireRefused, show_time};
pub use reloader::{KeyReloader, RingSummary};
pub use stored_key::{KeyState, StoredKey, UnknownKeyState};
pub use table::{Activation, KeyStoreError, SigningKeys};
