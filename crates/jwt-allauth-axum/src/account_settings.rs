//! [`AccountSettings`]: the settings of the account flows (sign-up, e-mail verification,
//! password reset): whether and how they run, where their links point, and their rate
//! limits.
//!
//! # Value forms
//!
//! Beyond the core's forms ([`jwt_allauth::settings`]):
//!
//! - `EMAIL_VERIFICATION`: `mandatory`, `optional` or `none`, in any case; `true` and
//!   `false` are accepted as `mandatory` and `none` (the Django library's forms).
//! - `REGISTRATION`: `open` or `closed`.
//! - `PUBLIC_URL`: an absolute `http` or `https` URL without query or fragment
//!   (`https://auth.example.com`, or with a path prefix `https://example.com/auth`); a
//!   trailing `/` is dropped. Links in mails are built from it, never from a request's
//!   `Host` or `X-Forwarded-*` headers. Unset, the server uses `http://<BIND>`.
//! - `EMAIL_VERIFICATION_URL`: an absolute URL holding `{key}` once, such as
//!   `https://app.example.com/verify?key={key}`.
//! - `EMAIL_VERIFIED_REDIRECT`, `PASSWORD_RESET_REDIRECT`, `PASSWORD_RESET_REQUEST_URL`:
//!   absolute `http` or `https` URLs.
//! - Rate limits (`SIGNUPS_PER_IP`, `MAILS_PER_ADDRESS`, `RESET_REQUESTS_PER_ADDRESS`,
//!   `RESET_REQUESTS_PER_IP`): `COUNT/DURATION` (`20/1h`, `5/1m`, durations as the
//!   core's), or `0` for no limit.
//!
//! Every URL setting also takes the empty string, meaning none.

use std::fmt;
use std::time::Duration;

mod values;

#[cfg(test)]
mod tests;

/// `EMAIL_VERIFICATION`: whether a new account must confirm its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailVerification {
    /// No session until the address is confirmed (the default).
    #[default]
    Mandatory,
    /// A session at once; the `email_verified` claim is false until confirmed.
    Optional,
    /// A session at once, the address taken as verified; no mail.
    None,
}

/// `REGISTRATION`: whether anyone may sign up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Registration {
    /// `POST /registration/` is served (the default).
    #[default]
    Open,
    /// `POST /registration/` answers 404; users come from the CLI or the application.
    Closed,
}

/// A rate limit: at most `count` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The events allowed in a window; more than zero.
    pub count: u32,
    /// The window, more than zero.
    pub window: Duration,
}

impl RateLimit {
    /// At most `count` events per `window`.
    pub const fn new(count: u32, window: Duration) -> Self {
        Self { count, window }
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.count, self.window.as_secs())
    }
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

jwt_allauth::settings_group! {
    /// The settings of the account flows. Construct with [`AccountSettings::default`] and
    /// assign fields, or set them by name.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct AccountSettings {
        /// `EMAIL_VERIFICATION`: `mandatory`, `optional` or `none`. Defaults to
        /// mandatory.
        EMAIL_VERIFICATION email_verification: EmailVerification = EmailVerification::Mandatory
            => values::email_verification;
        /// `REGISTRATION`: `open` or `closed`. Defaults to open.
        REGISTRATION registration: Registration = Registration::Open => values::registration;
        /// `PUBLIC_URL`: the base of every link in a mail. Defaults to none (the server
        /// uses `http://<BIND>`).
        PUBLIC_URL public_url: Option<String> = None => values::base_url;
        /// `EMAIL_VERIFICATION_URL`: a front-end page for the verification link, with
        /// `{key}` where the key goes. Defaults to none: the link is
        /// `{PUBLIC_URL}/registration/verification/<key>/`.
        EMAIL_VERIFICATION_URL email_verification_url: Option<String> = None
            => values::key_template_url;
        /// `EMAIL_VERIFIED_REDIRECT`: where a confirmed verification link leads. Defaults
        /// to none: the built-in `/registration/verified/` page.
        EMAIL_VERIFIED_REDIRECT email_verified_redirect: Option<String> = None
            => values::optional_url;
        /// `PASSWORD_RESET_REDIRECT`: the front-end page a valid reset link leads to.
        /// Defaults to none: the built-in `/password/reset/default/` form.
        PASSWORD_RESET_REDIRECT password_reset_redirect: Option<String> = None
            => values::optional_url;
        /// `PASSWORD_RESET_REQUEST_URL`: the page linked from the "You already have an
        /// account" mail. Defaults to none: that mail has no link.
        PASSWORD_RESET_REQUEST_URL password_reset_request_url: Option<String> = None
            => values::optional_url;
        /// `SIGNUPS_PER_IP`: sign-ups per client. Defaults to 20 per hour.
        SIGNUPS_PER_IP signups_per_ip: Option<RateLimit> =
            Some(RateLimit::new(20, Duration::from_secs(HOUR))) => values::rate_limit;
        /// `MAILS_PER_ADDRESS`: verification, "account exists", reset and resend mails to
        /// one address; past it the answer is unchanged but no mail is sent. Defaults to
        /// 3 per 15 minutes.
        MAILS_PER_ADDRESS mails_per_address: Option<RateLimit> =
            Some(RateLimit::new(3, Duration::from_secs(15 * MINUTE))) => values::rate_limit;
        /// `RESET_REQUESTS_PER_ADDRESS`: password reset requests per address. Defaults to
        /// 5 per minute.
        RESET_REQUESTS_PER_ADDRESS reset_requests_per_address: Option<RateLimit> =
            Some(RateLimit::new(5, Duration::from_secs(MINUTE))) => values::rate_limit;
        /// `RESET_REQUESTS_PER_IP`: password reset requests per client. Defaults to 20
        /// per minute.
        RESET_REQUESTS_PER_IP reset_requests_per_ip: Option<RateLimit> =
            Some(RateLimit::new(20, Duration::from_secs(MINUTE))) => values::rate_limit;
    }
}
