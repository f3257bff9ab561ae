//! The server's configuration: every setting in its group ([`Config`]), loaded from the
//! defaults, then the TOML file, then `JWT_ALLAUTH_*` variables, then the command-line
//! flags; and the start-up checks of the signing key.

use std::net::SocketAddr;
use std::path::Path;

use jwt_allauth::{KeyError, KeyRing, Secret};

use crate::db::DEFAULT_DATABASE_URL;
use crate::keyfile::{self, KeyFile, KeyFileError};

mod key_settings;
mod loader;
mod mail_settings;
mod server_settings;

#[cfg(test)]
mod tests;

pub use key_settings::{KeySettings, MAX_KEY_RELOAD_INTERVAL, MIN_KEY_RELOAD_INTERVAL};
pub use loader::{Config, ConfigError};
pub use mail_settings::MailSettings;
pub use server_settings::ServerSettings;

/// Command-line values that override the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides<'a> {
    /// `--database-url`.
    pub database_url: Option<&'a str>,
    /// `--bind`.
    pub bind: Option<SocketAddr>,
}

/// Loads the settings: defaults, the TOML file `config_file` if given, the environment,
/// then `overrides`.
pub fn load_config(
    config_file: Option<&Path>,
    overrides: &Overrides<'_>,
) -> Result<Config, ConfigError> {
    let mut config = Config::load(config_file)?;
    if let Some(url) = overrides.database_url {
        config.server.database_url = Some(Secret::new(url));
    }
    if let Some(bind) = overrides.bind {
        config.server.bind = bind;
    }
    Ok(config)
}

/// Where mail goes: `EMAIL_URL`, else files under `mail/` in the server's data directory
/// (beside the SQLite database, else the current directory).
pub fn email_url(config: &Config) -> crate::mail::EmailUrl {
    match &config.mail.email_url {
        Some(url) => url.clone(),
        None => crate::mail::EmailUrl::File(crate::db::data_dir(database_url(config)).join("mail")),
    }
}

/// The database URL the settings name, else [`DEFAULT_DATABASE_URL`].
pub fn database_url(config: &Config) -> &str {
    config
        .server
        .database_url
        .as_ref()
        .map(Secret::expose)
        .filter(|url| !url.is_empty())
        .unwrap_or(DEFAULT_DATABASE_URL)
}

/// With an HMAC algorithm and no `SECRET_KEY`, loads (or creates) the generated key file
/// for the database and sets it as the secret, logging a warning. Returns the key file
/// used, or `None` when the settings already provide the keys.
pub fn ensure_signing_key(config: &mut Config) -> Result<Option<KeyFile>, KeyFileError> {
    if !config.tokens.algorithm.is_hmac() || config.tokens.secret_key.is_some() {
        return Ok(None);
    }
    let path = keyfile::key_file_path(database_url(config));
    let key = keyfile::load_or_create(&path)?;
    tracing::warn!(
        path = %key.path.display(),
        created = key.created,
        "no SECRET_KEY is configured: signing tokens with the generated key file; set \
         JWT_ALLAUTH_SECRET_KEY to share tokens with other servers"
    );
    config.tokens.secret_key = Some(key.secret.clone());
    Ok(Some(key))
}

/// The key ring the token settings describe ([`KeyRing::from_settings`]); under
/// `DEVELOPMENT_MODE` an HMAC `SECRET_KEY` shorter than [`MIN_SECRET_BYTES`] is accepted
/// ([`check_secret_strength`] has warned about it).
pub fn signing_keys(config: &Config) -> Result<KeyRing, KeyError> {
    if config.server.development_mode {
        KeyRing::dangerous_from_settings_with_short_secret(&config.tokens)
    } else {
        KeyRing::from_settings(&config.tokens)
    }
}

/// The shortest HMAC `SECRET_KEY` the server starts with, in bytes, unless
/// `DEVELOPMENT_MODE` is on: 32 (256 bits, the output size of HS256).
pub const MIN_SECRET_BYTES: usize = 32;

/// The configured HMAC `SECRET_KEY` is shorter than [`MIN_SECRET_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "SECRET_KEY is too short: {length} bytes, at least {MIN_SECRET_BYTES} are needed \
     (e.g. `openssl rand -hex 32`); set DEVELOPMENT_MODE=true to allow a short one in \
     development"
)]
pub struct WeakSecret {
    /// The length of the configured secret, in bytes.
    pub length: usize,
}

/// Checks the strength of the HMAC secret the server will sign with: with an HMAC
/// algorithm, a `SECRET_KEY` shorter than [`MIN_SECRET_BYTES`] is an error, or only a
/// warning when `DEVELOPMENT_MODE` is on. The generated key file is long enough. The
/// library itself ([`jwt_allauth::KeyRing`]) leaves this choice to its users.
pub fn check_secret_strength(config: &Config) -> Result<(), WeakSecret> {
    let settings = &config.tokens;
    if let Some(previous) = settings.previous_secret_key.as_ref()
        && previous.expose().len() < MIN_SECRET_BYTES
    {
        // Retiring a weak secret is what a rotation is for: only a warning.
        tracing::warn!(
            length = previous.expose().len(),
            minimum = MIN_SECRET_BYTES,
            "PREVIOUS_SECRET_KEY is short: tokens it signed stay forgeable until it is removed"
        );
    }
    let Some(secret) = settings.secret_key.as_ref() else {
        return Ok(());
    };
    let length = secret.expose().len();
    if !settings.algorithm.is_hmac() || length >= MIN_SECRET_BYTES {
        return Ok(());
    }
    if config.server.development_mode {
        tracing::warn!(
            length,
            minimum = MIN_SECRET_BYTES,
            "SECRET_KEY is too short; accepted because DEVELOPMENT_MODE is on: never \
             deploy it"
        );
        Ok(())
    } else {
        Err(WeakSecret { length })
    }
}
