//! [`SettingsError`]: a setting that cannot take its value.

/// Why a setting could not be set. Every message names the setting at fault, and never
/// contains the value of a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A setting has a value it cannot take, or settings do not hold together.
    #[error("invalid value for {setting}: {reason}")]
    Invalid {
        /// The setting, as the contract names it (`ACCESS_TOKEN_LIFETIME`).
        setting: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// No setting of the group has this name.
    #[error("unknown setting `{name}`")]
    UnknownSetting {
        /// The name given.
        name: String,
    },
}

impl SettingsError {
    /// The error for `setting` with the reason `reason`.
    pub fn invalid(setting: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            setting: setting.to_owned(),
            reason: reason.into(),
        }
    }
}
