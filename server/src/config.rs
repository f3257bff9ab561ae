//! The server's configuration: the library's [`Settings`] (defaults, then the TOML file,
//! then `JWT_ALLAUTH_*` variables), then the command-line flags.

use std::net::SocketAddr;
use std::path::Path;

use jwt_allauth::settings::SettingsError;
use jwt_allauth::{Secret, Settings};

use crate::db::DEFAULT_DATABASE_URL;
use crate::keyfile::{self, KeyFile, KeyFileError};

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
pub fn load_settings(
    config_file: Option<&Path>,
    overrides: &Overrides<'_>,
) -> Result<Settings, SettingsError> {
    let mut settings = Settings::load(config_file)?;
    if let Some(url) = overrides.database_url {
        settings.database_url = Some(Secret::new(url));
    }
    if let Some(bind) = overrides.bind {
        settings.bind = bind;
    }
    Ok(settings)
}

/// The database URL the settings name, else [`DEFAULT_DATABASE_URL`].
pub fn database_url(settings: &Settings) -> &str {
    settings
        .database_url
        .as_ref()
        .map(Secret::expose)
        .filter(|url| !url.is_empty())
        .unwrap_or(DEFAULT_DATABASE_URL)
}

/// With an HMAC algorithm and no `SECRET_KEY`, loads (or creates) the generated key file
/// for the database and sets it as the secret, logging a warning. Returns the key file
/// used, or `None` when the settings already provide the keys.
pub fn ensure_signing_key(settings: &mut Settings) -> Result<Option<KeyFile>, KeyFileError> {
    if !settings.algorithm.is_hmac() || settings.secret_key.is_some() {
        return Ok(None);
    }
    let path = keyfile::key_file_path(database_url(settings));
    let key = keyfile::load_or_create(&path)?;
    tracing::warn!(
        path = %key.path.display(),
        created = key.created,
        "no SECRET_KEY is configured: signing tokens with the generated key file; set \
         JWT_ALLAUTH_SECRET_KEY to share tokens with other servers"
    );
    settings.secret_key = Some(key.secret.clone());
    Ok(Some(key))
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
pub fn check_secret_strength(settings: &Settings) -> Result<(), WeakSecret> {
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
    if settings.development_mode {
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

#[cfg(test)]
mod tests {
    use jwt_allauth::keys::Algorithm;

    use super::*;

    #[test]
    fn short_hmac_secrets_are_refused_outside_development_mode() {
        let mut settings = Settings::default();
        assert_eq!(check_secret_strength(&settings), Ok(()));
        settings.secret_key = Some(Secret::new("x".repeat(MIN_SECRET_BYTES)));
        assert_eq!(check_secret_strength(&settings), Ok(()));
        settings.secret_key = Some(Secret::new("short"));
        let err = check_secret_strength(&settings).expect_err("too short");
        assert_eq!(err, WeakSecret { length: 5 });
        let text = err.to_string();
        assert!(
            text.starts_with("SECRET_KEY is too short: 5 bytes"),
            "{text}"
        );
        settings.development_mode = true;
        assert_eq!(check_secret_strength(&settings), Ok(()));
        // Not an HMAC algorithm: the secret is not used.
        settings.development_mode = false;
        settings.algorithm = Algorithm::EdDSA;
        assert_eq!(check_secret_strength(&settings), Ok(()));
    }

    #[test]
    fn flags_override_and_default_database() {
        let mut settings = Settings::default();
        assert_eq!(database_url(&settings), DEFAULT_DATABASE_URL);
        settings.database_url = Some(Secret::new(""));
        assert_eq!(database_url(&settings), DEFAULT_DATABASE_URL);

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("jwt-allauth.toml");
        std::fs::write(
            &file,
            "database_url = \"sqlite://from-file.db\"\nbind = \"127.0.0.1:9000\"\n",
        )
        .expect("write");
        let bind: SocketAddr = "127.0.0.1:9001".parse().expect("addr");
        let settings = load_settings(
            Some(&file),
            &Overrides {
                database_url: Some("sqlite://from-flag.db"),
                bind: Some(bind),
            },
        )
        .expect("settings");
        assert_eq!(database_url(&settings), "sqlite://from-flag.db");
        assert_eq!(settings.bind, bind);
    }
}
