//! [`Config`]: every setting of the server, loaded from the defaults, a TOML file and the
//! environment.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use jwt_allauth::Settings;
use jwt_allauth::settings::{ENV_PREFIX, SettingsError, SettingsGroup, Value};
use jwt_allauth_axum::{AccountSettings, HttpSettings};

use super::{KeySettings, MailSettings, ServerSettings};

/// Every setting of the server, in the groups that use them: the core's token and
/// session [`Settings`], the axum crate's [`HttpSettings`] and [`AccountSettings`], and
/// the server's own [`ServerSettings`], [`MailSettings`] and [`KeySettings`].
///
/// [`Config::load`] layers the sources: the defaults, then the file, then the
/// environment; the command line applies its flags last. Each setting `NAME` is the TOML
/// key `name` (keys ignore case) and the variable `JWT_ALLAUTH_NAME`; plain
/// `DATABASE_URL` is read too, but `JWT_ALLAUTH_DATABASE_URL` wins. Unknown TOML keys are
/// errors; unknown `JWT_ALLAUTH_*` variables are ignored.
///
/// In TOML a value may be native (integer, boolean, array, table) or a string; in the
/// environment it is always a string. The forms each setting takes are in the docs of
/// [`jwt_allauth::settings`], [`jwt_allauth_axum::http_settings`] and
/// [`ServerSettings`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// Token and session settings.
    pub tokens: Settings,
    /// Cookie, CSRF, client-IP, throttle and User-Agent settings.
    pub http: HttpSettings,
    /// Sign-up, e-mail verification and password reset: modes, links, rate limits.
    pub accounts: AccountSettings,
    /// The server's database, address, start-up checks and connections.
    pub server: ServerSettings,
    /// Where mail goes and its templates.
    pub mail: MailSettings,
    /// The signing keys stored in the database: their encryption key, their reloading.
    pub keys: KeySettings,
}

/// Why the configuration could not be loaded. Every message names the setting or the
/// file at fault, and never contains the value of a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting has a value it cannot take, or settings do not hold together.
    #[error("invalid value for {setting}: {reason}")]
    Invalid {
        /// The setting, as the contract names it (`ACCESS_TOKEN_LIFETIME`).
        setting: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The configuration file has a key that is not a setting.
    #[error("unknown setting `{name}` in the configuration file")]
    UnknownSetting {
        /// The key as written in the file.
        name: String,
    },
    /// The configuration is not TOML.
    #[error("{}", toml_message(.path.as_deref(), *.line, *.column))]
    Toml {
        /// The file, when the text was read from one.
        path: Option<PathBuf>,
        /// The line of the error, counting from 1.
        line: Option<usize>,
        /// The column of the error in characters, counting from 1.
        column: Option<usize>,
        /// The parser's error, without the document text (which may hold the secret).
        #[source]
        source: Box<toml::de::Error>,
    },
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl From<SettingsError> for ConfigError {
    fn from(error: SettingsError) -> Self {
        match error {
            SettingsError::Invalid { setting, reason } => Self::Invalid { setting, reason },
            SettingsError::UnknownSetting { name } => Self::UnknownSetting { name },
            // `SettingsError` may grow; what it says is still the message.
            other => Self::Invalid {
                setting: String::new(),
                reason: other.to_string(),
            },
        }
    }
}

fn toml_message(path: Option<&Path>, line: Option<usize>, column: Option<usize>) -> String {
    let mut message = match path {
        Some(path) => format!(
            "the configuration file {} is not valid TOML",
            path.display()
        ),
        None => "the configuration is not valid TOML".to_owned(),
    };
    if let (Some(line), Some(column)) = (line, column) {
        message.push_str(&format!(" (line {line}, column {column})"));
    }
    message
}

impl ConfigError {
    /// A TOML error without the document text, located by line and column instead.
    fn toml(mut source: toml::de::Error, input: &str, path: Option<&Path>) -> Self {
        let position = source.span().map(|span| {
            let before = input.get(..span.start).unwrap_or(input);
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let line = before.matches('\n').count() + 1;
            let column = before[line_start..].chars().count() + 1;
            (line, column)
        });
        source.set_input(None);
        Self::Toml {
            path: path.map(Path::to_path_buf),
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            source: Box::new(source),
        }
    }
}

/// Converts a native TOML value to the JSON value the settings parse. Date-times have no
/// meaning for any setting.
fn from_toml(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(_) => return Err("a TOML date-time is not a valid value".to_owned()),
        toml::Value::Array(items) => {
            Value::Array(items.iter().map(from_toml).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| Ok((key.clone(), from_toml(value)?)))
                .collect::<Result<serde_json::Map<_, _>, String>>()?,
        ),
    })
}

impl Config {
    /// The names of all settings, as the contract spells them, group by group.
    pub fn names() -> impl Iterator<Item = &'static str> {
        [
            Settings::NAMES,
            HttpSettings::NAMES,
            AccountSettings::NAMES,
            ServerSettings::NAMES,
            MailSettings::NAMES,
            KeySettings::NAMES,
        ]
        .into_iter()
        .flatten()
        .copied()
    }

    /// The setting called `name` in any case, as the contract spells it.
    fn setting_name(name: &str) -> Option<&'static str> {
        Self::names().find(|known| known.eq_ignore_ascii_case(name))
    }

    /// Sets the setting `name` (as the contract spells it) from `value`, in the group
    /// that owns it.
    pub fn set(&mut self, name: &str, value: &Value) -> Result<(), ConfigError> {
        let groups: [&mut dyn SettingsGroup; 6] = [
            &mut self.tokens,
            &mut self.http,
            &mut self.accounts,
            &mut self.server,
            &mut self.mail,
            &mut self.keys,
        ];
        for group in groups {
            if group.names().contains(&name) {
                return Ok(group.set(name, value)?);
            }
        }
        Err(ConfigError::UnknownSetting {
            name: name.to_owned(),
        })
    }

    /// The defaults overlaid with the TOML document `toml`.
    pub fn from_toml_str(toml: &str) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        config.apply_toml_str(toml)?;
        Ok(config)
    }

    /// Overlays the settings present in the TOML document `toml`. Keys ignore case; an
    /// unknown key is an error. On error, `self` is left unchanged.
    pub fn apply_toml_str(&mut self, toml: &str) -> Result<(), ConfigError> {
        self.apply_toml(toml, None)
    }

    fn apply_toml(&mut self, toml: &str, path: Option<&Path>) -> Result<(), ConfigError> {
        let table: toml::Table =
            toml::from_str(toml).map_err(|e| ConfigError::toml(e, toml, path))?;
        let mut seen: BTreeMap<&'static str, &str> = BTreeMap::new();
        let mut next = self.clone();
        for (key, value) in &table {
            let name = Self::setting_name(key)
                .ok_or_else(|| ConfigError::UnknownSetting { name: key.clone() })?;
            if let Some(first) = seen.insert(name, key) {
                return Err(SettingsError::invalid(
                    name,
                    format!("given twice, as `{first}` and `{key}`"),
                )
                .into());
            }
            let value = from_toml(value).map_err(|reason| SettingsError::invalid(name, reason))?;
            next.set(name, &value)?;
        }
        *self = next;
        Ok(())
    }

    /// Overlays the settings present in the process environment (see
    /// [`Config::apply_env_vars`]). Variables that are not UTF-8 are skipped.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        self.apply_env_vars(
            std::env::vars_os().filter_map(|(key, value)| {
                Some((key.into_string().ok()?, value.into_string().ok()?))
            }),
        )
    }

    /// Overlays the settings present in `vars`, pairs of variable name and value as
    /// [`std::env::vars`] gives them: `JWT_ALLAUTH_<NAME>` for each setting, and plain
    /// `DATABASE_URL` (when not empty) unless `JWT_ALLAUTH_DATABASE_URL` is given too.
    /// Other variables, including unknown `JWT_ALLAUTH_*` ones, are ignored. On error,
    /// `self` is left unchanged.
    pub fn apply_env_vars<I, K, V>(&mut self, vars: I) -> Result<(), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut plain_database_url = None;
        let mut found: BTreeMap<&'static str, String> = BTreeMap::new();
        for (key, value) in vars {
            let (key, value) = (key.as_ref(), value.as_ref());
            if key == "DATABASE_URL" {
                plain_database_url = Some(value.to_owned());
            } else if let Some(name) = key
                .strip_prefix(ENV_PREFIX)
                .and_then(|rest| Self::names().find(|name| *name == rest))
            {
                found.insert(name, value.to_owned());
            }
        }
        let mut next = self.clone();
        if let Some(url) = plain_database_url.filter(|url| !url.is_empty()) {
            next.set("DATABASE_URL", &Value::String(url))?;
        }
        for (name, value) in found {
            next.set(name, &Value::String(value))?;
        }
        *self = next;
        Ok(())
    }

    /// The defaults, overlaid with the TOML file `file` if given, then with the process
    /// environment, then [validated](Self::validate) as a whole.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
                path: path.to_path_buf(),
                source,
            })?;
            config.apply_toml(&text, Some(path))?;
        }
        config.apply_env()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings that depend on each other, which no single layer can check:
    /// the refresh cookie's ([`HttpSettings::validate`]), and `WEBHOOK_SECRET`, required
    /// when `WEBHOOK_URLS` is set.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
        if !self.server.webhook_urls.is_empty() && self.server.webhook_secret.is_none() {
            return Err(ConfigError::Invalid {
                setting: "WEBHOOK_SECRET".to_owned(),
                reason: "required when WEBHOOK_URLS is set (whsec_ and at least 16 random \
                         bytes in standard base64, e.g. `echo whsec_$(openssl rand -base64 32)`)"
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// The base of every link in a mail: `PUBLIC_URL`, else `http://<BIND>`.
    pub fn public_url(&self) -> String {
        match &self.accounts.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}", self.server.bind),
        }
    }
}
