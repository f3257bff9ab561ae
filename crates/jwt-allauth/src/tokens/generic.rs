//! Single-use purpose tokens ("generic tokens"): password reset, e-mail confirmation, ...

use std::fmt;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::device::DeviceInfo;
use crate::random::url_safe_secret;
use crate::store::{NewPurposeToken, PurposeTokenRecord};

/// A freshly made purpose token: 256 random bits, URL-safe. Only its SHA-256 hash is
/// stored; the value itself exists only here, to be put into a link. `Debug` never shows
/// the value.
#[derive(Clone)]
pub struct GenericToken {
    value: String,
    record: PurposeTokenRecord,
}

impl GenericToken {
    /// Makes a token for `(user_id, purpose)` valid until `expires_at`, and the row to
    /// store for it.
    pub(crate) fn generate(
        user_id: &str,
        purpose: &str,
        device: DeviceInfo,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> (Self, NewPurposeToken) {
        let value = url_safe_secret();
        let row = NewPurposeToken {
            token_hash: Self::hash(&value),
            purpose: purpose.to_owned(),
            user_id: user_id.to_owned(),
            created: now,
            expires_at,
            device: device.clone(),
        };
        let record = PurposeTokenRecord {
            purpose: purpose.to_owned(),
            user_id: user_id.to_owned(),
            created: now,
            expires_at,
            device,
        };
        (Self { value, record }, row)
    }

    /// The SHA-256 hash under which a token value is stored.
    pub fn hash(value: &str) -> [u8; 32] {
        Sha256::digest(value.as_bytes()).into()
    }

    /// The token value to send to the user (a secret: never log it).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// What was stored for it.
    pub fn record(&self) -> &PurposeTokenRecord {
        &self.record
    }
}

impl fmt::Debug for GenericToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericToken")
            .field("value", &"[redacted]")
            .field("record", &self.record)
            .finish()
    }
}
