//! [`HttpSettings`]: the settings of the HTTP layer: the refresh cookie, CSRF origins,
//! the client IP behind proxies, the login throttle and User-Agent collection.
//!
//! Declared with [`jwt_allauth::settings_group!`], like the core's token and session
//! [`Settings`](jwt_allauth::Settings): a loader sets them by name
//! ([`SettingsGroup::set`](jwt_allauth::settings::SettingsGroup::set)) and then calls
//! [`HttpSettings::validate`].
//!
//! # Value forms
//!
//! Beyond the core's forms ([`jwt_allauth::settings`]):
//!
//! - `COOKIE_SAMESITE`: `strict`, `lax` or `none`, in any case.
//! - `COOKIE_NAME`: an RFC 6265 token; `COOKIE_PATH`: starts with `/`; `COOKIE_DOMAIN`:
//!   a domain name, the empty string meaning none (a host-only cookie). They are also
//!   checked together ([`HttpSettings::validate`]).
//! - `TRUSTED_PROXIES`: networks (`10.0.0.0/8`) or single addresses (a `/32` or `/128`
//!   network), as a TOML array, a JSON array text or a comma-separated text.
//! - `CSRF_TRUSTED_ORIGINS`: origins `scheme://host[:port]` (`https://app.example.com`),
//!   without a path, as a TOML array, a JSON array text or a comma-separated text. They
//!   are compared in lower case; `null` is never an origin.
//! - `LOGIN_FAILURES_PER_IP`, `LOGIN_FAILURES_PER_EMAIL`: whole numbers.

use ipnet::IpNet;
use jwt_allauth::settings::{SettingsError, value};

mod values;

#[cfg(test)]
mod tests;

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

jwt_allauth::settings_group! {
    /// The settings of the HTTP layer. Construct with [`HttpSettings::default`] and assign
    /// fields, or set them by name; [`AuthState::new`](crate::AuthState::new) validates
    /// them.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct HttpSettings {
        /// `REFRESH_TOKEN_AS_COOKIE`: the refresh token travels in an HttpOnly cookie
        /// (true) or in the JSON bodies (false). Defaults to true.
        REFRESH_TOKEN_AS_COOKIE refresh_token_as_cookie: bool = true => value::boolean;
        /// `COOKIE_NAME`. Defaults to `refresh_token`; `__Host-refresh_token` is
        /// recommended in production (see [`HttpSettings::validate`]).
        COOKIE_NAME cookie_name: String = "refresh_token".to_owned() => values::cookie_name;
        /// `COOKIE_SECURE`. Defaults to true; turn off only for local development over
        /// HTTP.
        COOKIE_SECURE cookie_secure: bool = true => value::boolean;
        /// `COOKIE_SAMESITE`. Defaults to Lax; `None` needs `COOKIE_SECURE`.
        COOKIE_SAMESITE cookie_samesite: SameSite = SameSite::Lax => values::same_site;
        /// `COOKIE_PATH`. Defaults to `/`.
        COOKIE_PATH cookie_path: String = "/".to_owned() => values::cookie_path;
        /// `COOKIE_DOMAIN`. Defaults to none (host-only cookie).
        COOKIE_DOMAIN cookie_domain: Option<String> = None => values::cookie_domain;
        /// `COLLECT_USER_AGENT`: parse the User-Agent into device metadata. Defaults to
        /// true.
        COLLECT_USER_AGENT collect_user_agent: bool = true => value::boolean;
        /// `TRUSTED_PROXIES`: networks whose `X-Forwarded-For` is believed. Defaults to
        /// none.
        TRUSTED_PROXIES trusted_proxies: Vec<IpNet> = Vec::new() => values::trusted_proxies;
        /// `CSRF_TRUSTED_ORIGINS`: origins (`https://app.example.com`) other than the
        /// API's own whose browsers may send the refresh cookie to `/refresh/` and
        /// `/logout/`. Defaults to none.
        CSRF_TRUSTED_ORIGINS csrf_trusted_origins: Vec<String> = Vec::new() => values::origins;
        /// `LOGIN_FAILURES_PER_IP`: failed logins per client IP per minute; 0 disables.
        /// Defaults to 10.
        LOGIN_FAILURES_PER_IP login_failures_per_ip: u32 = 10 => value::count;
        /// `LOGIN_FAILURES_PER_EMAIL`: failed logins per e-mail per 5 minutes; 0
        /// disables. Defaults to 5.
        LOGIN_FAILURES_PER_EMAIL login_failures_per_email: u32 = 5 => value::count;
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

impl HttpSettings {
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
                 Secure",
            ));
        }
        Ok(())
    }
}
