//! The error of a command, and its one-line report.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;

use jwt_allauth::KeyError;

use crate::db::DbError;
use crate::keyfile::KeyFileError;
use crate::users::UsersError;

/// Why a command failed. [`report`] turns it into the one line printed after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The settings are invalid (the message names the setting).
    #[error(transparent)]
    Settings(#[from] crate::config::ConfigError),
    /// The revocation feed cannot read the event log at start.
    #[error("cannot start the revocation feed")]
    RevocationFeed(#[source] jwt_allauth::StoreError),
    /// The webhook delivery cannot start.
    #[error("cannot start the webhook delivery")]
    Webhooks(#[source] crate::webhooks::ClientError),
    /// The metrics listener (`METRICS_BIND`) cannot start.
    #[error(transparent)]
    Metrics(#[from] crate::monitoring::MetricsError),
    /// The event log cannot be read.
    #[error("cannot read the event log")]
    Events(#[source] jwt_allauth::StoreError),
    /// The shared throttle counters cannot be purged.
    #[error("cannot purge the throttle counters")]
    Attempts(#[source] jwt_allauth::StoreError),
    /// `--since` is neither a time nor a duration.
    #[error(
        "--since must be an RFC 3339 time (2026-12-05T10:00:00Z) or a duration before now (1h, 30m, 2d): {0}"
    )]
    InvalidSince(String),
    /// The database cannot be opened or migrated.
    #[error(transparent)]
    Database(#[from] DbError),
    /// `import django` stopped (rows it cannot import do not stop it).
    #[error(transparent)]
    Import(#[from] crate::import::django::ImportError),
    /// The configured HMAC secret is too short (outside `DEVELOPMENT_MODE`).
    #[error(transparent)]
    WeakSecret(#[from] crate::config::WeakSecret),
    /// The generated key file cannot be used.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The configured signing keys cannot be used.
    #[error("the signing keys cannot be used")]
    Keys(#[source] KeyError),
    /// The signing keys of the database cannot be used (key-encryption key missing or
    /// wrong, database unreadable).
    #[error(transparent)]
    KeySet(#[from] crate::keys::KeySetError),
    /// The key-encryption key cannot be read.
    #[error(transparent)]
    Kek(#[from] crate::keys::KekError),
    /// A signing-keys operation failed.
    #[error(transparent)]
    KeyStore(#[from] crate::keys::KeyStoreError),
    /// `keys generate` needs the key-encryption key.
    #[error(
        "set KEY_ENCRYPTION_KEY (32 random bytes in standard base64, e.g. `openssl rand \
         -base64 32`) or KEY_ENCRYPTION_KEY_FILE to store signing keys"
    )]
    NoKek,
    /// No stored key has this `kid`.
    #[error("no signing key with kid {0}")]
    NoKey(String),
    /// `keys activate` of a key that is not standby.
    #[error("key {kid} is {state}: only a standby key can be activated (generate a new one)")]
    NotStandby {
        /// The key.
        kid: String,
        /// Its state.
        state: crate::keys::KeyState,
    },
    /// `keys retire` refused (without `--force`).
    #[error(transparent)]
    RetireRefused(#[from] crate::keys::RetireRefused),
    /// The key changed state while the command ran (another administrator).
    #[error("key {0} changed state meanwhile; run the command again")]
    KeyChanged(String),
    /// The password hasher cannot be prepared.
    #[error("the password hasher cannot be prepared")]
    Passwords(#[source] crate::passwords::PasswordError),
    /// The mail directory of a `file://` `EMAIL_URL` cannot be created.
    #[error("cannot create the mail directory {}", .dir.display())]
    MailDirectory {
        /// The directory.
        dir: std::path::PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The mail transport of `EMAIL_URL` cannot be built.
    #[error("EMAIL_URL cannot be used")]
    MailTransport(#[source] crate::mail::TransportError),
    /// The mail outbox cannot be read.
    #[error("the mail outbox cannot be read")]
    Outbox(#[source] Box<crate::mail::OutboxError>),
    /// The HTTP application cannot be built.
    #[error(transparent)]
    State(#[from] crate::StateError),
    /// No user has this e-mail address.
    #[error("no user with e-mail {0}")]
    NoUser(String),
    /// No session has this id.
    #[error("no session with id {0}")]
    NoSession(String),
    /// `--profile` is not JSON.
    #[error("--profile is not valid JSON")]
    ProfileJson(#[source] serde_json::Error),
    /// `--profile` has the NUL character in a string or a key.
    #[error(
        "--profile must not contain the NUL character (\\u0000), which PostgreSQL cannot store"
    )]
    ProfileNul,
    /// `--profile` is JSON but not an object.
    #[error("--profile must be a JSON object, like {{\"organization\": {{\"id\": 1}}}}")]
    ProfileNotObject,
    /// A users-table operation failed (duplicate e-mail, invalid address, ...).
    #[error(transparent)]
    Users(#[from] UsersError),
    /// A session operation failed.
    #[error(transparent)]
    Sessions(#[from] jwt_allauth::Error),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing the command's output failed.
    #[error("cannot write the output")]
    Output(#[source] io::Error),
    /// Serving failed.
    #[error("the HTTP server failed")]
    Serve(#[source] io::Error),
}

/// The error and its sources on one line, joined by `": "`. A source whose text the
/// line already contains is skipped (many errors repeat their source's message).
pub fn report(error: &(dyn StdError + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(err) = source {
        let text = err.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = err.source();
    }
    line.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_without_repetition() {
        let json = serde_json::from_str::<serde_json::Value>("{").expect_err("bad json");
        let line = report(&CommandError::ProfileJson(json));
        assert!(
            line.starts_with("--profile is not valid JSON: EOF while parsing"),
            "{line}"
        );

        let io = io::Error::new(io::ErrorKind::ConnectionRefused, "Connection refused");
        let err = CommandError::Database(DbError::Connect {
            url: "postgres://u:***@h/db".into(),
            source: sqlx::Error::Io(io),
        });
        let line = report(&err);
        assert_eq!(line.matches("Connection refused").count(), 1, "{line}");
        assert!(line.starts_with("cannot connect to the database at postgres://u:***@h/db: "));
    }
}
