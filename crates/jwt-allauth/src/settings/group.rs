//! [`SettingsGroup`] and [`settings_group!`](crate::settings_group): one declaration per
//! setting.

use serde_json::Value;

use super::SettingsError;

/// A group of settings that a loader can fill by name, such as the core's
/// [`Settings`](super::Settings), the axum crate's HTTP settings or the server's own.
///
/// Declare a group with [`settings_group!`](crate::settings_group), which writes the
/// struct, its `Default`, its list of names and [`set`](Self::set) from one line per
/// setting, so that they cannot drift apart. A loader (the server reads a TOML file, then
/// `JWT_ALLAUTH_*` variables, then flags) hands each value to the group that
/// [names](Self::names) it.
pub trait SettingsGroup {
    /// The names of the group's settings, as the contract spells them (`COOKIE_NAME`).
    fn names(&self) -> &'static [&'static str];

    /// Sets the setting `name` (one of [`names`](Self::names)) from `value`: a string
    /// for an environment variable, or the native value of a TOML key converted to
    /// JSON. On error the group is unchanged.
    fn set(&mut self, name: &str, value: &Value) -> Result<(), SettingsError>;
}

/// Declares a group of settings: the struct with its documented public fields, its
/// `Default`, an associated constant `NAMES` and the [`SettingsGroup`] impl, from one
/// line per setting: `NAME field: Type = default => parser;`, where `parser` is a
/// function `fn(&Value) -> Result<Type, Reason>` (see [`value`](crate::settings::value)
/// for the shared ones).
///
/// ```
/// use std::time::Duration;
/// use jwt_allauth::settings::{SettingsGroup, value};
///
/// jwt_allauth::settings_group! {
///     /// The settings of a mail sender.
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct MailSettings {
///         /// `MAIL_RETRIES`: how often a delivery is tried. Defaults to 5.
///         MAIL_RETRIES mail_retries: u32 = 5 => value::count;
///         /// `MAIL_TIMEOUT`: how long one try may take. Defaults to 30 seconds.
///         MAIL_TIMEOUT mail_timeout: Duration = Duration::from_secs(30) => value::positive_duration;
///     }
/// }
///
/// let mut mail = MailSettings::default();
/// assert_eq!(MailSettings::NAMES, ["MAIL_RETRIES", "MAIL_TIMEOUT"]);
/// mail.set("MAIL_TIMEOUT", &"1m".into())?;
/// assert_eq!(mail.mail_timeout, Duration::from_secs(60));
/// let err = mail.set("MAIL_RETRIES", &"often".into()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid value for MAIL_RETRIES: expected a whole number from 0 to 4294967295, got \"often\""
/// );
/// # Ok::<(), jwt_allauth::settings::SettingsError>(())
/// ```
#[macro_export]
macro_rules! settings_group {
    (
        $(#[$struct_meta:meta])*
        $vis:vis struct $group:ident {
            $(
                $(#[$field_meta:meta])*
                $name:ident $field:ident : $ty:ty = $default:expr => $parse:path;
            )*
        }
    ) => {
        $(#[$struct_meta])*
        $vis struct $group {
            $(
                $(#[$field_meta])*
                pub $field: $ty,
            )*
        }

        impl ::core::default::Default for $group {
            fn default() -> Self {
                Self {
                    $($field: $default,)*
                }
            }
        }

        impl $group {
            /// The names of the group's settings, as the contract spells them.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];
        }

        impl $crate::settings::SettingsGroup for $group {
            fn names(&self) -> &'static [&'static str] {
                Self::NAMES
            }

            fn set(
                &mut self,
                name: &str,
                value: &$crate::settings::Value,
            ) -> ::core::result::Result<(), $crate::settings::SettingsError> {
                $(
                    if name == stringify!($name) {
                        self.$field = $parse(value).map_err(|reason| {
                            $crate::settings::SettingsError::invalid(stringify!($name), reason)
                        })?;
                        return Ok(());
                    }
                )*
                Err($crate::settings::SettingsError::UnknownSetting {
                    name: name.to_owned(),
                })
            }
        }
    };
}
