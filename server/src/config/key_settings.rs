//! [`KeySettings`]: the signing keys kept in the database (`jwt-allauth keys ...`).

use std::time::Duration;

use jwt_allauth::settings::Value;
use jwt_allauth::settings::value::{self, Reason};

/// The shortest `KEY_RELOAD_INTERVAL`: 1 second.
pub const MIN_KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The longest `KEY_RELOAD_INTERVAL`: 60 seconds, the bound within which a key change
/// made with the CLI reaches every running server.
pub const MAX_KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

jwt_allauth::settings_group! {
    /// The settings of the signing keys stored in the database: the key that encrypts
    /// their private parts, and how often a running server reads them again.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct KeySettings {
        /// `KEY_ENCRYPTION_KEY`: 32 random bytes in standard base64 (`openssl rand
        /// -base64 32`) that encrypt the private keys stored in the database. Keep it
        /// out of the database. Defaults to none. Its value never shows in `Debug`, logs
        /// or errors.
        KEY_ENCRYPTION_KEY key_encryption_key: Option<jwt_allauth::Secret> = None
            => value::optional_secret;
        /// `KEY_ENCRYPTION_KEY_FILE`: a file holding the `KEY_ENCRYPTION_KEY` text
        /// instead (a secret mounted by the orchestrator, say). Setting both is an error.
        /// Defaults to none.
        KEY_ENCRYPTION_KEY_FILE key_encryption_key_file: Option<std::path::PathBuf> = None
            => value::optional_path;
        /// `KEY_RELOAD_INTERVAL`: how often a running server reads the keys from the
        /// database again, so that `keys generate|activate|retire` reach it without a
        /// restart. From 1 to 60 seconds. Defaults to 30 seconds.
        KEY_RELOAD_INTERVAL key_reload_interval: Duration = Duration::from_secs(30)
            => reload_interval;
    }
}

/// A duration from [`MIN_KEY_RELOAD_INTERVAL`] to [`MAX_KEY_RELOAD_INTERVAL`].
fn reload_interval(value: &Value) -> Result<Duration, Reason> {
    let interval = value::duration(value)?;
    if (MIN_KEY_RELOAD_INTERVAL..=MAX_KEY_RELOAD_INTERVAL).contains(&interval) {
        Ok(interval)
    } else {
        Err(format!(
            "expected from 1 to 60 seconds, got {}",
            value::describe(value)
        ))
    }
}

#[cfg(test)]
mod tests {
    use jwt_allauth::settings::SettingsGroup;
    use serde_json::json;

    use super::*;

    #[test]
    fn every_setting_by_name() {
        let mut s = KeySettings::default();
        assert_eq!(s.key_reload_interval, Duration::from_secs(30));
        assert!(s.key_encryption_key.is_none() && s.key_encryption_key_file.is_none());
        s.set("KEY_RELOAD_INTERVAL", &json!("1s")).expect("1 s");
        assert_eq!(s.key_reload_interval, Duration::from_secs(1));
        s.set("KEY_RELOAD_INTERVAL", &json!(60)).expect("60 s");
        for bad in [json!("61s"), json!(0), json!("2m")] {
            let err = s
                .set("KEY_RELOAD_INTERVAL", &bad)
                .expect_err("out of range");
            assert!(
                err.to_string()
                    .starts_with("invalid value for KEY_RELOAD_INTERVAL: "),
                "{err}"
            );
        }
        s.set(
            "KEY_ENCRYPTION_KEY",
            &json!("c2VjcmV0IGtleSBvZiB0aGlydHktdHdvIGJ5dGVzISE="),
        )
        .expect("key");
        assert!(!format!("{s:?}").contains("c2VjcmV0"));
        s.set("KEY_ENCRYPTION_KEY_FILE", &json!("/run/secrets/kek"))
            .expect("file");
        assert_eq!(s.key_encryption_key_file, Some("/run/secrets/kek".into()));
    }
}
