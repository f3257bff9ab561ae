//! Settings: every setting of the contract with its default, from code, TOML or
//! `JWT_ALLAUTH_*` environment variables.
//!
//! TODO(helper): parsing (`from_toml_str`, `apply_env`, `load`), durations, errors.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::attributes::UserAttributes;
use crate::keys::Algorithm;

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
    /// `COOKIE_NAME`. Defaults to `refresh_token`.
    pub cookie_name: String,
    /// `COOKIE_SECURE`. Defaults to true; turn off only for local development over HTTP.
    pub cookie_secure: bool,
    /// `COOKIE_SAMESITE`. Defaults to Lax.
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
    /// `LEEWAY`: clock skew allowed when checking `exp`. Defaults to 0.
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
    /// uses `sqlite://jwt-allauth.sqlite3`).
    pub database_url: Option<String>,
    /// `BIND`: the server's listen address. Defaults to `127.0.0.1:8000`.
    pub bind: SocketAddr,
}

impl Default for Settings {
    fn default() -> Self {
        todo!("helper")
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
