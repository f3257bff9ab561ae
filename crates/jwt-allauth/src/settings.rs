//! Settings of tokens and sessions, with their defaults: keys, lifetimes, the reuse
//! interval, claims and purpose tokens.
//!
//! Each field is one setting of the contract: field `access_token_lifetime` is
//! `ACCESS_TOKEN_LIFETIME`. Build [`Settings`] in code from its `Default`, or let a loader
//! fill it by name through [`SettingsGroup::set`]: the server reads a TOML file, then
//! `JWT_ALLAUTH_*` variables, then its flags. The HTTP settings (cookie, CSRF, client IP,
//! throttles) belong to the axum crate, and the server's own (`DATABASE_URL`, `BIND`,
//! `DEVELOPMENT_MODE`, connections) to the server; each group is declared once with
//! [`settings_group!`](crate::settings_group).
//!
//! ```
//! use std::time::Duration;
//! use jwt_allauth::settings::{Secret, Settings, SettingsGroup};
//!
//! let mut settings = Settings::default();
//! settings.secret_key = Some(Secret::new("a secret of at least thirty-two bytes"));
//! settings.access_token_lifetime = Duration::from_secs(15 * 60);
//! // What a loader does with a TOML key or an environment variable:
//! settings.set("REFRESH_TOKEN_LIFETIME", &"14d".into())?;
//! settings.set("PURPOSE_TOKEN_LIFETIMES", &r#"{"password_reset": "1h"}"#.into())?;
//! assert_eq!(settings.refresh_token_lifetime, Duration::from_secs(14 * 86_400));
//! assert_eq!(settings.purpose_token_lifetime_for("password_reset"), Duration::from_secs(3600));
//! # Ok::<(), jwt_allauth::settings::SettingsError>(())
//! ```
//!
//! # Value forms
//!
//! A loader passes each value as JSON: a string for an environment variable, the native
//! value of a TOML key otherwise. The parsers of [`value`] accept:
//!
//! - **Durations** (`ACCESS_TOKEN_LIFETIME`, `REFRESH_TOKEN_LIFETIME`, `SESSION_LIFETIME`,
//!   `REUSE_INTERVAL`, `LEEWAY`, `PURPOSE_TOKEN_LIFETIME`, `EVENT_RETENTION`): whole seconds (`90` or
//!   `"90"`) or numbers with the units `s`, `m`, `h`, `d` (`"30m"`, `"14d"`, `"1h30m"`),
//!   at most 100 years. `SESSION_LIFETIME` also takes `""`, `"none"` or `0`, meaning no
//!   absolute lifetime.
//! - **Booleans**: `true`/`false`, or the strings `1`/`0`, `yes`/`no`, `on`/`off` in
//!   any case.
//! - `ALGORITHM`: `HS256`, `HS384`, `HS512`, `EdDSA`, `ES256` or `RS256`, in any case.
//!   `PREVIOUS_ALGORITHM` takes the same values, or the empty string for none.
//! - `USER_ATTRIBUTES`: a map `{claim = "dot.path"}` or a list `["dot.path"]` (the last
//!   segment names the claim), as a TOML table or array, or as JSON text of either form.
//!   Reserved claim names are rejected.
//! - `PURPOSE_TOKEN_LIFETIMES`: a map of purpose to duration, as a TOML table or JSON text.
//! - Optional text (`ISSUER`, `AUDIENCE`, `KEY_ID`, `PREVIOUS_KEY_ID`,
//!   `PRIVATE_KEY_FILE`, `PUBLIC_KEY_FILE`, `PREVIOUS_PUBLIC_KEY_FILE`): the empty string
//!   means none.
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
use std::path::PathBuf;
use std::time::Duration;

pub use serde_json::Value;

use crate::attributes::UserAttributes;
use crate::keys::Algorithm;

mod error;
mod group;
mod secret;
pub mod value;

#[cfg(test)]
mod tests;

pub use error::SettingsError;
pub use group::SettingsGroup;
pub use secret::Secret;

/// The prefix of the environment variables a loader reads: `JWT_ALLAUTH_<NAME>`.
pub const ENV_PREFIX: &str = "JWT_ALLAUTH_";

crate::settings_group! {
    /// The settings of tokens and sessions. Construct with [`Settings::default`] and
    /// assign fields, or set them by name ([`SettingsGroup::set`]).
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Settings {
        /// `ALGORITHM`: signing algorithm. Defaults to HS256.
        ALGORITHM algorithm: Algorithm = Algorithm::HS256 => value::algorithm;
        /// `SECRET_KEY`: the HMAC secret for HS256/384/512. Defaults to none (the server
        /// then creates a key file).
        SECRET_KEY secret_key: Option<Secret> = None => value::secret;
        /// `PRIVATE_KEY_FILE`: PEM private key for EdDSA/ES256/RS256. Defaults to none.
        PRIVATE_KEY_FILE private_key_file: Option<PathBuf> = None => value::optional_path;
        /// `PUBLIC_KEY_FILE`: PEM public key for EdDSA/ES256/RS256. Defaults to none.
        PUBLIC_KEY_FILE public_key_file: Option<PathBuf> = None => value::optional_path;
        /// `KEY_ID`: the `kid` header of minted tokens. Defaults to none.
        KEY_ID key_id: Option<String> = None => value::optional_string;
        /// `PREVIOUS_ALGORITHM`: the algorithm of the previous key during a key rotation.
        /// Defaults to none, meaning the same as `ALGORITHM`.
        PREVIOUS_ALGORITHM previous_algorithm: Option<Algorithm> = None
            => value::optional_algorithm;
        /// `PREVIOUS_SECRET_KEY`: the previous HMAC secret during a key rotation: tokens it
        /// signed still verify, new tokens are signed with `SECRET_KEY`. Defaults to none.
        PREVIOUS_SECRET_KEY previous_secret_key: Option<Secret> = None
            => value::optional_secret;
        /// `PREVIOUS_PUBLIC_KEY_FILE`: the previous PEM public key (EdDSA/ES256/RS256)
        /// during a key rotation. Defaults to none.
        PREVIOUS_PUBLIC_KEY_FILE previous_public_key_file: Option<PathBuf> = None
            => value::optional_path;
        /// `PREVIOUS_KEY_ID`: the `kid` of the tokens the previous key signed. Defaults to
        /// none (tokens without `kid` are tried against every key of their algorithm).
        PREVIOUS_KEY_ID previous_key_id: Option<String> = None => value::optional_string;
        /// `ACCESS_TOKEN_LIFETIME`. Defaults to 30 minutes.
        ACCESS_TOKEN_LIFETIME access_token_lifetime: Duration = Duration::from_secs(30 * 60)
            => value::duration;
        /// `REFRESH_TOKEN_LIFETIME`. Defaults to 14 days.
        REFRESH_TOKEN_LIFETIME refresh_token_lifetime: Duration =
            Duration::from_secs(14 * 24 * 60 * 60) => value::duration;
        /// `SESSION_LIFETIME`: absolute session lifetime. Defaults to none (unlimited).
        SESSION_LIFETIME session_lifetime: Option<Duration> = None => value::optional_duration;
        /// `REUSE_INTERVAL`: grace period for retries of the previous refresh token.
        /// Defaults to 0 (strict).
        REUSE_INTERVAL reuse_interval: Duration = Duration::ZERO => value::duration;
        /// `USER_ATTRIBUTES`: claims copied from the user's JSON form. Defaults to none.
        USER_ATTRIBUTES user_attributes: UserAttributes = UserAttributes::new()
            => value::user_attributes;
        /// `ACCESS_TOKEN_SESSION_CHECK`: reject access tokens whose session is gone (one
        /// database read per request). Defaults to false.
        ACCESS_TOKEN_SESSION_CHECK access_token_session_check: bool = false => value::boolean;
        /// `LEEWAY`: clock skew allowed when checking `exp` and `nbf`. Defaults to 0.
        LEEWAY leeway: Duration = Duration::ZERO => value::duration;
        /// `ISSUER`: the `iss` claim, set and required when configured. Defaults to none.
        ISSUER issuer: Option<String> = None => value::optional_string;
        /// `AUDIENCE`: the `aud` claim, set and required when configured. Defaults to none.
        AUDIENCE audience: Option<String> = None => value::optional_string;
        /// `PURPOSE_TOKEN_LIFETIME`: lifetime of purpose tokens whose purpose has no entry
        /// in `purpose_token_lifetimes`. Defaults to 1 day.
        PURPOSE_TOKEN_LIFETIME purpose_token_lifetime: Duration =
            Duration::from_secs(24 * 60 * 60) => value::duration;
        /// `PURPOSE_TOKEN_LIFETIMES`: lifetime per purpose, e.g.
        /// `{"password_reset": "30m"}`; a value replaces the whole map. Defaults to the
        /// account flows' lifetimes: `email_verification` 3 days, `password_reset` 1 hour.
        PURPOSE_TOKEN_LIFETIMES purpose_token_lifetimes: BTreeMap<String, Duration> =
            default_purpose_token_lifetimes() => value::purpose_lifetimes;
        /// `EVENT_RETENTION`: how long the event log (events.md) keeps an event before
        /// [`SessionManager::purge`](crate::SessionManager::purge) deletes it. Never less
        /// than one refresh-token lifetime in effect (a shorter value is raised to it), so
        /// that the log keeps what readers catching up (the revocation feed, webhooks) and
        /// an audit of live sessions need. Defaults to 90 days.
        EVENT_RETENTION event_retention: Duration =
            Duration::from_secs(90 * 24 * 60 * 60) => value::duration;
    }
}

/// The default `PURPOSE_TOKEN_LIFETIMES`: `email_verification` 3 days, `password_reset`
/// 1 hour.
fn default_purpose_token_lifetimes() -> BTreeMap<String, Duration> {
    BTreeMap::from([
        (
            "email_verification".to_owned(),
            Duration::from_secs(3 * 24 * 60 * 60),
        ),
        ("password_reset".to_owned(), Duration::from_secs(60 * 60)),
    ])
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
