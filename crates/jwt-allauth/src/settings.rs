//! Settings: every setting of the contract with its default, from code, a TOML file or
//! `JWT_ALLAUTH_*` environment variables.
//!
//! [`Settings::load`] layers the sources: the defaults, then the file, then the
//! environment; a caller applies command-line flags last. Each setting `NAME` is the TOML
//! key `name` (keys ignore case) and the variable `JWT_ALLAUTH_NAME`; plain
//! `DATABASE_URL` is read too, but `JWT_ALLAUTH_DATABASE_URL` wins. Unknown TOML keys are
//! errors; unknown `JWT_ALLAUTH_*` variables are ignored.
//!
//! ```
//! use std::time::Duration;
//! use jwt_allauth::settings::{SameSite, Settings};
//!
//! let settings = Settings::from_toml_str(r#"
//!     algorithm = "HS256"
//!     secret_key = "change me"
//!     access_token_lifetime = "15m"
//!     refresh_token_lifetime = "14d"
//!     session_lifetime = "90d"
//!     cookie_samesite = "strict"
//!     trusted_proxies = ["10.0.0.0/8", "127.0.0.1"]
//!     csrf_trusted_origins = ["https://app.example.com"]
//!     database_url = "sqlite://jwt-allauth.sqlite3"
//!
//!     [user_attributes]
//!     org_id = "profile.organization.id"
//!
//!     [purpose_token_lifetimes]
//!     password_reset = "1h"
//! "#)?;
//! assert_eq!(settings.access_token_lifetime, Duration::from_secs(15 * 60));
//! assert_eq!(settings.cookie_samesite, SameSite::Strict);
//! assert_eq!(settings.purpose_token_lifetime_for("password_reset"), Duration::from_secs(3600));
//! # Ok::<(), jwt_allauth::settings::SettingsError>(())
//! ```
//!
//! # Value forms
//!
//! In TOML a value may be native (integer, boolean, array, table) or a string; in the
//! environment it is always a string.
//!
//! - **Durations** (`ACCESS_TOKEN_LIFETIME`, `REFRESH_TOKEN_LIFETIME`, `SESSION_LIFETIME`,
//!   `REUSE_INTERVAL`, `LEEWAY`, `PURPOSE_TOKEN_LIFETIME`, `HEADER_READ_TIMEOUT`,
//!   `IDLE_TIMEOUT`): whole seconds (`90` or `"90"`) or numbers with the units `s`, `m`,
//!   `h`, `d` (`"30m"`, `"14d"`, `"1h30m"`), at most 100 years. `SESSION_LIFETIME` also
//!   takes `""`, `"none"` or `0`, meaning no absolute lifetime.
//! - **Booleans**: `true`/`false`, or the strings `1`/`0`, `yes`/`no`, `on`/`off` in
//!   any case.
//!   `HEADER_READ_TIMEOUT` and `IDLE_TIMEOUT` must be more than zero.
//! - **Counts** (`LOGIN_FAILURES_PER_IP`, `LOGIN_FAILURES_PER_EMAIL`, `MAX_CONNECTIONS`):
//!   whole numbers; `MAX_CONNECTIONS` at least 1.
//! - `ALGORITHM`: `HS256`, `HS384`, `HS512`, `EdDSA`, `ES256` or `RS256`, in any case.
//!   `PREVIOUS_ALGORITHM` takes the same values, or the empty string for none.
//! - `COOKIE_SAMESITE`: `strict`, `lax` or `none`, in any case.
//! - The cookie settings are also checked together, once every layer is applied
//!   ([`Settings::validate`]): `__Host-` and `__Secure-` names and `SameSite=None` need
//!   `COOKIE_SECURE`, and a `__Host-` name needs no `COOKIE_DOMAIN` and `COOKIE_PATH=/`.
//! - `TRUSTED_PROXIES`: networks (`10.0.0.0/8`) or single addresses (a `/32` or `/128`
//!   network), as a TOML array, a JSON array text or a comma-separated text.
//! - `CSRF_TRUSTED_ORIGINS`: origins `scheme://host[:port]` (`https://app.example.com`),
//!   without a path, as a TOML array, a JSON array text or a comma-separated text. They
//!   are compared in lower case; `null` is never an origin.
//! - `USER_ATTRIBUTES`: a map `{claim = "dot.path"}` or a list `["dot.path"]` (the last
//!   segment names the claim), as a TOML table or array, or as JSON text of either form.
//!   Reserved claim names are rejected.
//! - `PURPOSE_TOKEN_LIFETIMES`: a map of purpose to duration, as a TOML table or JSON text.
//! - `BIND`: a socket address such as `127.0.0.1:8000`.
//! - Optional text (`COOKIE_DOMAIN`, `ISSUER`, `AUDIENCE`, `KEY_ID`, `PREVIOUS_KEY_ID`,
//!   `DATABASE_URL`, `PRIVATE_KEY_FILE`, `PUBLIC_KEY_FILE`, `PREVIOUS_PUBLIC_KEY_FILE`):
//!   the empty string means none. An empty plain `DATABASE_URL` variable is ignored.
//! - `SECRET_KEY`: any non-empty text. `PREVIOUS_SECRET_KEY`: any text, the empty string
//!   meaning none. Their values never appear in errors or `Debug`.
//!
//! # Key rotation
//!
//! `PREVIOUS_SECRET_KEY` (HMAC) or `PREVIOUS_PUBLIC_KEY_FILE` (EdDSA/ES256/RS256), with
//! `PREVIOUS_ALGORITHM` when the algorithm changes and `PREVIOUS_KEY_ID` when the old
//! tokens carry a `kid`, add the previous key to the [`KeyRing`](crate::KeyRing) as a
//! key that verifies but never signs. Tokens signed before the rotation keep working, and
//! every refresh re-signs with the new key.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde_json::Value;

use crate::attributes::UserAttributes;
use crate::keys::Algorithm;

mod value;

#[cfg(test)]
mod tests;

/// An HMAC secret or other secret text. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"[redacted]\")")
    }
}

/// The `SameSite` attribute of the refresh cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax` (the default).
    #[default]
    Lax,
    /// `SameSite=None` (requires `Secure`).
    None,
}

/// All settings. Construct with [`Settings::default`] and assign fields, or load them with
/// [`Settings::load`]. Names follow the contract: field `access_token_lifetime` is the
/// setting `ACCESS_TOKEN_LIFETIME`, read from the TOML key `access_token_lifetime` (or
/// `ACCESS_TOKEN_LIFETIME`) and the variable `JWT_ALLAUTH_ACCESS_TOKEN_LIFETIME`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Settings {
    /// `ALGORITHM`: signing algorithm. Defaults to HS256.
    pub algorithm: Algorithm,
    /// `SECRET_KEY`: the HMAC secret for HS256/384/512. Defaults to none (the server then
    /// creates a key file).
    pub secret_key: Option<Secret>,
    /// `PRIVATE_KEY_FILE`: PEM private key for EdDSA/ES256/RS256. Defaults to none.
    pub private_key_file: Option<PathBuf>,
    /// `PUBLIC_KEY_FILE`: PEM public key for EdDSA/ES256/RS256. Defaults to none.
    pub public_key_file: Option<PathBuf>,
    /// `KEY_ID`: the `kid` header of minted tokens. Defaults to none.
    pub key_id: Option<String>,
    /// `PREVIOUS_ALGORITHM`: the algorithm of the previous key during a key rotation.
    /// Defaults to none, meaning the same as `ALGORITHM`.
    pub previous_algorithm: Option<Algorithm>,
    /// `PREVIOUS_SECRET_KEY`: the previous HMAC secret during a key rotation: tokens it
    /// signed still verify, new tokens are signed with `SECRET_KEY`. Defaults to none.
    pub previous_secret_key: Option<Secret>,
    /// `PREVIOUS_PUBLIC_KEY_FILE`: the previous PEM public key (EdDSA/ES256/RS256)
    /// during a key rotation. Defaults to none.
    pub previous_public_key_file: Option<PathBuf>,
    /// `PREVIOUS_KEY_ID`: the `kid` of the tokens the previous key signed. Defaults to
    /// none (tokens without `kid` are tried against every key of their algorithm).
    pub previous_key_id: Option<String>,
    /// `ACCESS_TOKEN_LIFETIME`. Defaults to 30 minutes.
    pub access_token_lifetime: Duration,
    /// `REFRESH_TOKEN_LIFETIME`. Defaults to 14 days.
    pub refresh_token_lifetime: Duration,
    /// `SESSION_LIFETIME`: absolute session lifetime. Defaults to none (unlimited).
    pub session_lifetime: Option<Duration>,
    /// `REUSE_INTERVAL`: grace period for retries of the previous refresh token.
    /// Defaults to 0 (strict).
    pub reuse_interval: Duration,
    /// `REFRESH_TOKEN_AS_COOKIE`. Defaults to true.
    pub refresh_token_as_cookie: bool,
    /// `COOKIE_NAME`. Defaults to `refresh_token`; `__Host-refresh_token` is recommended
    /// in production (see [`Settings::validate`]).
    pub cookie_name: String,
    /// `COOKIE_SECURE`. Defaults to true; turn off only for local development over HTTP.
    pub cookie_secure: bool,
    /// `COOKIE_SAMESITE`. Defaults to Lax; `None` needs `COOKIE_SECURE`.
    pub cookie_samesite: SameSite,
    /// `COOKIE_PATH`. Defaults to `/`.
    pub cookie_path: String,
    /// `COOKIE_DOMAIN`. Defaults to none (host-only cookie).
    pub cookie_domain: Option<String>,
    /// `USER_ATTRIBUTES`: claims copied from the user's JSON form. Defaults to none.
    pub user_attributes: UserAttributes,
    /// `ACCESS_TOKEN_SESSION_CHECK`: reject access tokens whose session is gone (one
    /// database read per request). Defaults to false.
    pub access_token_session_check: bool,
    /// `COLLECT_USER_AGENT`: parse the User-Agent into device metadata. Defaults to true.
    pub collect_user_agent: bool,
    /// `TRUSTED_PROXIES`: networks whose `X-Forwarded-For` is believed. Defaults to none.
    pub trusted_proxies: Vec<IpNet>,
    /// `CSRF_TRUSTED_ORIGINS`: origins (`https://app.example.com`) other than the API's
    /// own whose browsers may send the refresh cookie to `/refresh/` and `/logout/`.
    /// Defaults to none.
    pub csrf_trusted_origins: Vec<String>,
    /// `LEEWAY`: clock skew allowed when checking `exp` and `nbf`. Defaults to 0.
    pub leeway: Duration,
    /// `ISSUER`: the `iss` claim, set and required when configured. Defaults to none.
    pub issuer: Option<String>,
    /// `AUDIENCE`: the `aud` claim, set and required when configured. Defaults to none.
    pub audience: Option<String>,
    /// `LOGIN_FAILURES_PER_IP`: failed logins per client IP per minute; 0 disables.
    /// Defaults to 10.
    pub login_failures_per_ip: u32,
    /// `LOGIN_FAILURES_PER_EMAIL`: failed logins per e-mail per 5 minutes; 0 disables.
    /// Defaults to 5.
    pub login_failures_per_email: u32,
    /// `PURPOSE_TOKEN_LIFETIME`: lifetime of purpose tokens whose purpose has no entry in
    /// `purpose_token_lifetimes`. Defaults to 1 day.
    pub purpose_token_lifetime: Duration,
    /// `PURPOSE_TOKEN_LIFETIMES`: lifetime per purpose, e.g.
    /// `{"password_reset": "1h"}`. Defaults to empty.
    pub purpose_token_lifetimes: BTreeMap<String, Duration>,
    /// `DATABASE_URL` (plain `DATABASE_URL` is read too). Defaults to none (the server
    /// uses `sqlite://jwt-allauth.sqlite3`). A [`Secret`]: the URL may hold a password,
    /// so `Debug` does not show it.
    pub database_url: Option<Secret>,
    /// `BIND`: the server's listen address. Defaults to `127.0.0.1:8000`.
    pub bind: SocketAddr,
    /// `DEVELOPMENT_MODE`: relaxes the server's start-up checks (an HMAC `SECRET_KEY`
    /// shorter than 32 bytes is then only a warning). Defaults to false.
    pub development_mode: bool,
    /// `HEADER_READ_TIMEOUT`: how long the server waits for a complete request head on a
    /// new connection, or once the first byte of the next request arrived on a kept-alive
    /// one; the connection is then closed. Defaults to 10 seconds.
    pub header_read_timeout: Duration,
    /// `IDLE_TIMEOUT`: how long the server keeps a connection open between a response and
    /// the first byte of the next request (HTTP keep-alive). Defaults to 60 seconds.
    pub idle_timeout: Duration,
    /// `MAX_CONNECTIONS`: the most client connections the server keeps open at once; a
    /// connection over the cap is answered 503 and closed. The server lowers it, with a
    /// warning, to what its open-file limit allows. Defaults to 4096.
    pub max_connections: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::HS256,
            secret_key: None,
            private_key_file: None,
            public_key_file: None,
            key_id: None,
            previous_algorithm: None,
            previous_secret_key: None,
            previous_public_key_file: None,
            previous_key_id: None,
            access_token_lifetime: Duration::from_secs(30 * 60),
            refresh_token_lifetime: Duration::from_secs(14 * 24 * 60 * 60),
            session_lifetime: None,
            reuse_interval: Duration::ZERO,
            refresh_token_as_cookie: true,
            cookie_name: "refresh_token".to_owned(),
            cookie_secure: true,
            cookie_samesite: SameSite::Lax,
            cookie_path: "/".to_owned(),
            cookie_domain: None,
            user_attributes: UserAttributes::new(),
            access_token_session_check: false,
            collect_user_agent: true,
            trusted_proxies: Vec::new(),
            csrf_trusted_origins: Vec::new(),
            leeway: Duration::ZERO,
            issuer: None,
            audience: None,
            login_failures_per_ip: 10,
            login_failures_per_email: 5,
            purpose_token_lifetime: Duration::from_secs(24 * 60 * 60),
            purpose_token_lifetimes: BTreeMap::new(),
            database_url: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            development_mode: false,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

impl Settings {
    /// The lifetime of purpose tokens for `purpose`.
    pub fn purpose_token_lifetime_for(&self, purpose: &str) -> Duration {
        self.purpose_token_lifetimes
            .get(purpose)
            .copied()
            .unwrap_or(self.purpose_token_lifetime)
    }
}

/// The cookie name prefix that binds a cookie to its origin: Secure, no Domain, `Path=/`.
const HOST_PREFIX: &str = "__Host-";
/// The cookie name prefix that requires Secure.
const SECURE_PREFIX: &str = "__Secure-";

/// Whether the cookie `name` starts with `prefix`, in any case (as browsers compare).
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// The prefix of the environment variables read by [`Settings::apply_env`].
pub const ENV_PREFIX: &str = "JWT_ALLAUTH_";

/// The names of all settings, as the contract spells them.
pub const SETTING_NAMES: [&str; 37] = [
    "ALGORITHM",
    "SECRET_KEY",
    "PRIVATE_KEY_FILE",
    "PUBLIC_KEY_FILE",
    "KEY_ID",
    "PREVIOUS_ALGORITHM",
    "PREVIOUS_SECRET_KEY",
    "PREVIOUS_PUBLIC_KEY_FILE",
    "PREVIOUS_KEY_ID",
    "ACCESS_TOKEN_LIFETIME",
    "REFRESH_TOKEN_LIFETIME",
    "SESSION_LIFETIME",
    "REUSE_INTERVAL",
    "REFRESH_TOKEN_AS_COOKIE",
    "COOKIE_NAME",
    "COOKIE_SECURE",
    "COOKIE_SAMESITE",
    "COOKIE_PATH",
    "COOKIE_DOMAIN",
    "USER_ATTRIBUTES",
    "ACCESS_TOKEN_SESSION_CHECK",
    "COLLECT_USER_AGENT",
    "TRUSTED_PROXIES",
    "CSRF_TRUSTED_ORIGINS",
    "LEEWAY",
    "ISSUER",
    "AUDIENCE",
    "LOGIN_FAILURES_PER_IP",
    "LOGIN_FAILURES_PER_EMAIL",
    "PURPOSE_TOKEN_LIFETIME",
    "PURPOSE_TOKEN_LIFETIMES",
    "DATABASE_URL",
    "BIND",
    "DEVELOPMENT_MODE",
    "HEADER_READ_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_CONNECTIONS",
];

/// Why settings could not be loaded. Every message names the setting or the file at
/// fault, and never contains the value of `SECRET_KEY`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A setting has a value it cannot take.
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

impl SettingsError {
    fn invalid(setting: &str, reason: String) -> Self {
        Self::Invalid {
            setting: setting.to_owned(),
            reason,
        }
    }

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

impl Settings {
    /// The defaults overlaid with the TOML document `toml`.
    pub fn from_toml_str(toml: &str) -> Result<Self, SettingsError> {
        let mut settings = Self::default();
        settings.apply_toml_str(toml)?;
        Ok(settings)
    }

    /// Overlays the settings present in the TOML document `toml`. Keys ignore case; an
    /// unknown key is an error. On error, `self` is left unchanged.
    pub fn apply_toml_str(&mut self, toml: &str) -> Result<(), SettingsError> {
        self.apply_toml(toml, None)
    }

    fn apply_toml(&mut self, toml: &str, path: Option<&Path>) -> Result<(), SettingsError> {
        let table: toml::Table =
            toml::from_str(toml).map_err(|e| SettingsError::toml(e, toml, path))?;
        let mut seen: BTreeMap<&'static str, &str> = BTreeMap::new();
        let mut next = self.clone();
        for (key, value) in &table {
            let name = SETTING_NAMES
                .into_iter()
                .find(|name| name.eq_ignore_ascii_case(key))
                .ok_or_else(|| SettingsError::UnknownSetting { name: key.clone() })?;
            if let Some(first) = seen.insert(name, key) {
                return Err(SettingsError::invalid(
                    name,
                    format!("given twice, as `{first}` and `{key}`"),
                ));
            }
            let value =
                value::from_toml(value).map_err(|reason| SettingsError::invalid(name, reason))?;
            next.set(name, &value)?;
        }
        *self = next;
        Ok(())
    }

    /// Overlays the settings present in the process environment (see
    /// [`Settings::apply_env_vars`]). Variables that are not UTF-8 are skipped.
    pub fn apply_env(&mut self) -> Result<(), SettingsError> {
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
    pub fn apply_env_vars<I, K, V>(&mut self, vars: I) -> Result<(), SettingsError>
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
                .and_then(|rest| SETTING_NAMES.into_iter().find(|name| *name == rest))
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
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut settings = Self::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| SettingsError::File {
                path: path.to_path_buf(),
                source,
            })?;
            settings.apply_toml(&text, Some(path))?;
        }
        settings.apply_env()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the settings that depend on each other, which no single layer can check
    /// (the file may set one and the environment the other): the refresh cookie's
    /// attributes must be ones browsers keep, since they drop a cookie that breaks a rule
    /// without a word, leaving a session that can neither refresh nor log out.
    ///
    /// - A `COOKIE_NAME` starting with `__Host-` needs `COOKIE_SECURE=true`, no
    ///   `COOKIE_DOMAIN` and `COOKIE_PATH=/`; one starting with `__Secure-` needs
    ///   `COOKIE_SECURE=true` (the prefixes match in any case, as browsers match them).
    /// - `COOKIE_SAMESITE=none` needs `COOKIE_SECURE=true`.
    ///
    /// A `__Host-` name (`__Host-refresh_token`) is the recommended one in production: a
    /// browser then refuses such a cookie unless this very origin set it over HTTPS, so
    /// a sibling subdomain or a plain-HTTP response cannot plant one.
    ///
    /// [`Settings::load`] calls it; call it yourself after assigning fields in code.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let name = &self.cookie_name;
        let host_only = has_prefix(name, HOST_PREFIX);
        let prefix = if host_only {
            Some(HOST_PREFIX)
        } else if has_prefix(name, SECURE_PREFIX) {
            Some(SECURE_PREFIX)
        } else {
            None
        };
        if let Some(prefix) = prefix
            && !self.cookie_secure
        {
            return Err(SettingsError::invalid(
                "COOKIE_SECURE",
                format!(
                    "false, but COOKIE_NAME `{name}` needs true: browsers drop a {prefix} \
                     cookie without Secure"
                ),
            ));
        }
        if host_only {
            if let Some(domain) = &self.cookie_domain {
                return Err(SettingsError::invalid(
                    "COOKIE_DOMAIN",
                    format!(
                        "`{domain}`, but COOKIE_NAME `{name}` needs none: browsers drop a \
                         {HOST_PREFIX} cookie with a Domain"
                    ),
                ));
            }
            if self.cookie_path != "/" {
                return Err(SettingsError::invalid(
                    "COOKIE_PATH",
                    format!(
                        "`{}`, but COOKIE_NAME `{name}` needs `/`: browsers drop a \
                         {HOST_PREFIX} cookie with another Path",
                        self.cookie_path
                    ),
                ));
            }
        }
        if self.cookie_samesite == SameSite::None && !self.cookie_secure {
            return Err(SettingsError::invalid(
                "COOKIE_SAMESITE",
                "none needs COOKIE_SECURE=true: browsers drop a SameSite=None cookie without \
                 Secure"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// Sets the setting `name` (one of [`SETTING_NAMES`]) from `value`.
    fn set(&mut self, name: &'static str, value: &Value) -> Result<(), SettingsError> {
        let invalid = |reason| SettingsError::invalid(name, reason);
        match name {
            "ALGORITHM" => self.algorithm = value::algorithm(value).map_err(invalid)?,
            "SECRET_KEY" => self.secret_key = Some(value::secret(value).map_err(invalid)?),
            "PRIVATE_KEY_FILE" => {
                self.private_key_file = value::optional_path(value).map_err(invalid)?
            }
            "PUBLIC_KEY_FILE" => {
                self.public_key_file = value::optional_path(value).map_err(invalid)?
            }
            "KEY_ID" => self.key_id = value::optional_string(value).map_err(invalid)?,
            "PREVIOUS_ALGORITHM" => {
                self.previous_algorithm = value::optional_algorithm(value).map_err(invalid)?
            }
            "PREVIOUS_SECRET_KEY" => {
                self.previous_secret_key = value::optional_secret(value).map_err(invalid)?
            }
            "PREVIOUS_PUBLIC_KEY_FILE" => {
                self.previous_public_key_file = value::optional_path(value).map_err(invalid)?
            }
            "PREVIOUS_KEY_ID" => {
                self.previous_key_id = value::optional_string(value).map_err(invalid)?
            }
            "ACCESS_TOKEN_LIFETIME" => {
                self.access_token_lifetime = value::duration(value).map_err(invalid)?
            }
            "REFRESH_TOKEN_LIFETIME" => {
                self.refresh_token_lifetime = value::duration(value).map_err(invalid)?
            }
            "SESSION_LIFETIME" => {
                self.session_lifetime = value::optional_duration(value).map_err(invalid)?
            }
            "REUSE_INTERVAL" => self.reuse_interval = value::duration(value).map_err(invalid)?,
            "REFRESH_TOKEN_AS_COOKIE" => {
                self.refresh_token_as_cookie = value::boolean(value).map_err(invalid)?
            }
            "COOKIE_NAME" => self.cookie_name = value::cookie_name(value).map_err(invalid)?,
            "COOKIE_SECURE" => self.cookie_secure = value::boolean(value).map_err(invalid)?,
            "COOKIE_SAMESITE" => self.cookie_samesite = value::same_site(value).map_err(invalid)?,
            "COOKIE_PATH" => self.cookie_path = value::cookie_path(value).map_err(invalid)?,
            "COOKIE_DOMAIN" => self.cookie_domain = value::cookie_domain(value).map_err(invalid)?,
            "USER_ATTRIBUTES" => {
                self.user_attributes = value::user_attributes(value).map_err(invalid)?
            }
            "ACCESS_TOKEN_SESSION_CHECK" => {
                self.access_token_session_check = value::boolean(value).map_err(invalid)?;
            }
            "COLLECT_USER_AGENT" => {
                self.collect_user_agent = value::boolean(value).map_err(invalid)?
            }
            "TRUSTED_PROXIES" => {
                self.trusted_proxies = value::trusted_proxies(value).map_err(invalid)?
            }
            "CSRF_TRUSTED_ORIGINS" => {
                self.csrf_trusted_origins = value::origins(value).map_err(invalid)?
            }
            "LEEWAY" => self.leeway = value::duration(value).map_err(invalid)?,
            "ISSUER" => self.issuer = value::optional_string(value).map_err(invalid)?,
            "AUDIENCE" => self.audience = value::optional_string(value).map_err(invalid)?,
            "LOGIN_FAILURES_PER_IP" => {
                self.login_failures_per_ip = value::count(value).map_err(invalid)?
            }
            "LOGIN_FAILURES_PER_EMAIL" => {
                self.login_failures_per_email = value::count(value).map_err(invalid)?
            }
            "PURPOSE_TOKEN_LIFETIME" => {
                self.purpose_token_lifetime = value::duration(value).map_err(invalid)?
            }
            "PURPOSE_TOKEN_LIFETIMES" => {
                self.purpose_token_lifetimes = value::purpose_lifetimes(value).map_err(invalid)?;
            }
            "DATABASE_URL" => self.database_url = value::optional_secret(value).map_err(invalid)?,
            "BIND" => self.bind = value::socket_addr(value).map_err(invalid)?,
            "DEVELOPMENT_MODE" => self.development_mode = value::boolean(value).map_err(invalid)?,
            "HEADER_READ_TIMEOUT" => {
                self.header_read_timeout = value::positive_duration(value).map_err(invalid)?
            }
            "IDLE_TIMEOUT" => {
                self.idle_timeout = value::positive_duration(value).map_err(invalid)?
            }
            "MAX_CONNECTIONS" => {
                self.max_connections = value::positive_count(value).map_err(invalid)?
            }
            _ => {
                return Err(SettingsError::UnknownSetting {
                    name: name.to_owned(),
                });
            }
        }
        Ok(())
    }
}
