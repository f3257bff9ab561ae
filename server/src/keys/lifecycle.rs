//! When a key may move on: the timing rules of the lifecycle, from the settings.

use std::time::Duration;

use jwt_allauth_axum::JWKS_MAX_AGE_SECONDS;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::stored_key::{KeyState, StoredKey};
use crate::config::Config;

/// The timing rules of the key lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    /// How long a token signed by a key may still verify once the key stopped signing:
    /// the longer of the refresh and access token lifetimes, plus `LEEWAY`.
    pub token_lifetime: Duration,
    /// How long a standby key should be published before it signs: a server publishes
    /// it within `KEY_RELOAD_INTERVAL`, and a verifier's cache knows it within the JWKS
    /// `max-age` (300 s) after that.
    pub publish_delay: Duration,
}

/// Why `keys retire` refuses a key (unless `--force`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetireRefused {
    /// The key signs.
    #[error(
        "key {kid} is active: it signs every new token; activate another key first, or \
         pass --force (tokens it signed then stop verifying within KEY_RELOAD_INTERVAL)"
    )]
    Active {
        /// The key.
        kid: String,
    },
    /// The key stopped signing less than a token lifetime ago.
    #[error(
        "key {kid} may still verify live tokens until {until}; retire it then, or pass \
         --force (tokens it signed then stop verifying within KEY_RELOAD_INTERVAL)"
    )]
    Needed {
        /// The key.
        kid: String,
        /// When its last token expires (RFC 3339).
        until: String,
    },
}

/// A time as `keys list` and the messages print it: RFC 3339, UTC, whole seconds.
pub fn show_time(t: OffsetDateTime) -> String {
    t.truncate_to_second()
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

impl Lifecycle {
    /// The rules for `config`: its token lifetimes, `LEEWAY` and `KEY_RELOAD_INTERVAL`.
    pub fn from_config(config: &Config) -> Self {
        let tokens = &config.tokens;
        Self {
            token_lifetime: tokens
                .refresh_token_lifetime
                .max(tokens.access_token_lifetime)
                .saturating_add(tokens.leeway),
            publish_delay: Duration::from_secs(JWKS_MAX_AGE_SECONDS)
                .saturating_add(config.keys.key_reload_interval),
        }
    }

    /// When the last token `key` signed expires: a token lifetime after it stopped
    /// signing; `None` for a key that never stopped signing.
    pub fn last_token_expiry(&self, key: &StoredKey) -> Option<OffsetDateTime> {
        key.deactivated_at.map(|stopped| {
            stopped.saturating_add(
                self.token_lifetime
                    .try_into()
                    .unwrap_or(time::Duration::MAX),
            )
        })
    }

    /// Whether `key` verifies tokens (and is published) at `now`: standby and active
    /// keys, and previous keys until their last token has expired.
    pub fn verifies(&self, key: &StoredKey, now: OffsetDateTime) -> bool {
        match key.state {
            KeyState::Standby | KeyState::Active => true,
            KeyState::Previous => self.last_token_expiry(key).is_none_or(|end| end > now),
            KeyState::Retired => false,
        }
    }

    /// When `key` will have been published long enough to sign (see
    /// [`publish_delay`](Self::publish_delay)).
    pub fn safe_to_activate_at(&self, key: &StoredKey) -> OffsetDateTime {
        key.created_at
            .saturating_add(self.publish_delay.try_into().unwrap_or(time::Duration::MAX))
    }

    /// What happens next to `key`, as `keys list` prints it.
    pub fn next_transition(&self, key: &StoredKey, now: OffsetDateTime) -> String {
        match key.state {
            KeyState::Standby => {
                let ready = self.safe_to_activate_at(key);
                if ready <= now {
                    "ready to activate".to_owned()
                } else {
                    format!("activate after {}", show_time(ready))
                }
            }
            KeyState::Active => "previous when another key is activated".to_owned(),
            KeyState::Previous => match self.last_token_expiry(key) {
                Some(end) if end > now => format!("retire after {}", show_time(end)),
                _ => "due to retire (no live token)".to_owned(),
            },
            KeyState::Retired => "-".to_owned(),
        }
    }

    /// Whether `keys retire` may retire `key` at `now` without `--force`: a standby key
    /// (it signed nothing), a previous key whose last token has expired, or a retired one.
    pub fn check_retire(&self, key: &StoredKey, now: OffsetDateTime) -> Result<(), RetireRefused> {
        match key.state {
            KeyState::Active => Err(RetireRefused::Active {
                kid: key.kid.clone(),
            }),
            KeyState::Previous if self.verifies(key, now) => Err(RetireRefused::Needed {
                kid: key.kid.clone(),
                until: self
                    .last_token_expiry(key)
                    .map_or_else(|| "further notice".to_owned(), show_time),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use jwt_allauth::Algorithm;

    use super::*;

    fn key(state: KeyState, created: i64, deactivated: Option<i64>) -> StoredKey {
        let at = |s: i64| OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(s);
        StoredKey {
            kid: "k".to_owned(),
            algorithm: Algorithm::EdDSA,
            state,
            public_pem: String::new(),
            sealed: None,
            created_at: at(created),
            activated_at: None,
            deactivated_at: deactivated.map(at),
            retired_at: None,
        }
    }

    #[test]
    fn previous_keys_verify_for_a_token_lifetime_then_are_due_to_retire() {
        let mut config = Config::default();
        config.tokens.refresh_token_lifetime = Duration::from_secs(1000);
        config.tokens.access_token_lifetime = Duration::from_secs(100);
        config.tokens.leeway = Duration::from_secs(10);
        config.keys.key_reload_interval = Duration::from_secs(30);
        let rules = Lifecycle::from_config(&config);
        assert_eq!(rules.token_lifetime, Duration::from_secs(1010));
        assert_eq!(rules.publish_delay, Duration::from_secs(330));
        let now = |s: i64| OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(s);

        let previous = key(KeyState::Previous, 0, Some(100));
        assert!(rules.verifies(&previous, now(1109)));
        assert!(!rules.verifies(&previous, now(1110)));
        assert!(matches!(
            rules.check_retire(&previous, now(1109)),
            Err(RetireRefused::Needed { .. })
        ));
        assert_eq!(rules.check_retire(&previous, now(1110)), Ok(()));
        assert_eq!(
            rules.next_transition(&previous, now(1110)),
            "due to retire (no live token)"
        );
        assert!(
            rules
                .next_transition(&previous, now(0))
                .starts_with("retire after 1970-01-01T00:18:30Z")
        );

        let active = key(KeyState::Active, 0, None);
        assert!(matches!(
            rules.check_retire(&active, now(1_000_000)),
            Err(RetireRefused::Active { .. })
        ));
        let standby = key(KeyState::Standby, 0, None);
        assert_eq!(rules.check_retire(&standby, now(1)), Ok(()));
        assert_eq!(
            rules.next_transition(&standby, now(1)),
            "activate after 1970-01-01T00:05:30Z"
        );
        assert_eq!(
            rules.next_transition(&standby, now(330)),
            "ready to activate"
        );
        assert!(!rules.verifies(&key(KeyState::Retired, 0, Some(1)), now(2)));
    }
}
