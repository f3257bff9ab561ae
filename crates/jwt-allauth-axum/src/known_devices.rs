//! The new sign-in mail: the devices an account has signed in from, and the rule that
//! decides when a login gets a "New sign-in to your account" mail.
//!
//! A device is known by its [`DeviceFingerprint`] (browser family, OS family, device
//! family, as the User-Agent parser names them; versions left out, so an update is not a
//! new device). A login whose fingerprint the account has not used within
//! [`KNOWN_DEVICE_WINDOW`] (90 days) is mailed, at most [`NEW_DEVICE_MAILS`] (3 an hour)
//! per account. The first device of an account (none recorded at all, e.g. right after
//! sign-up) is recorded without a mail; rotations never count.
//!
//! The application keeps the record ([`KnownDevices`], the server's
//! `jwt_allauth_known_devices` table) and decides with [`decide`] in one transaction
//! with the mail and its single-use token, so that two concurrent logins from one new
//! device send one mail.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use jwt_allauth::store::NewPurposeToken;
use jwt_allauth::{DeviceInfo, UserStoreError};
use time::OffsetDateTime;

use crate::account_settings::RateLimit;
use crate::mailer::ComposedMail;

/// How long a device stays known after its last login: 90 days.
pub const KNOWN_DEVICE_WINDOW: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// The most new sign-in mails an account gets: 3 an hour. Past it, the login goes on
/// without a mail and its device is not recorded (so it is mailed at a later login).
pub const NEW_DEVICE_MAILS: RateLimit = RateLimit::new(3, Duration::from_secs(60 * 60));

/// The purpose of the "This wasn't me" tokens is this prefix and the session id
/// (`new_sign_in:<session>`), so that each link ends exactly its session and a later
/// mail does not replace an earlier one's token. Their lifetime is the one
/// `PURPOSE_TOKEN_LIFETIMES` gives `new_sign_in` (else `PURPOSE_TOKEN_LIFETIME`).
pub const NEW_SIGN_IN: &str = "new_sign_in";

/// The purpose of the "This wasn't me" token of `session`.
pub fn new_sign_in_purpose(session: &str) -> String {
    format!("{NEW_SIGN_IN}:{session}")
}

/// A device as the new sign-in rule tells devices apart: browser, OS and device
/// families (empty when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceFingerprint {
    /// The browser family (`Firefox`), or empty.
    pub browser: String,
    /// The OS family (`Windows`), or empty.
    pub os: String,
    /// The device family (`iPhone`, `Other`), or empty.
    pub device: String,
}

impl DeviceFingerprint {
    /// The fingerprint of a login's device metadata.
    pub fn of(device: &DeviceInfo) -> Self {
        let family = |value: &Option<String>| value.clone().unwrap_or_default();
        Self {
            browser: family(&device.browser),
            os: family(&device.os),
            device: family(&device.device),
        }
    }

    /// How a mail names it: `Firefox on Windows (Other)`, with `Unknown` for what is
    /// not known.
    pub fn describe(&self) -> String {
        let or_unknown = |value: &str| match value {
            "" => "Unknown".to_owned(),
            value => value.to_owned(),
        };
        format!(
            "{} on {} ({})",
            or_unknown(&self.browser),
            or_unknown(&self.os),
            or_unknown(&self.device)
        )
    }
}

/// The mail of a sign-in from a new device and the single-use token of its "This wasn't
/// me" link, to store together. `Debug` shows neither body nor token.
#[derive(Debug, Clone)]
pub struct NewSignInMail {
    /// The token's row (purpose [`new_sign_in_purpose`]).
    pub token: NewPurposeToken,
    /// The composed mail.
    pub mail: ComposedMail,
}

/// A session just opened, for [`KnownDevices::note_sign_in`].
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The user.
    pub user_id: String,
    /// The device.
    pub device: DeviceFingerprint,
    /// The login's time.
    pub now: OffsetDateTime,
    /// What to store when [`decide`] says [`SignInNotice::Mailed`]; `None` records the
    /// device without ever mailing (the session a sign-up opens, or no mail could be
    /// written).
    pub mail: Option<NewSignInMail>,
}

/// What the record of known devices knows of an account, for [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceHistory {
    /// When this device was last seen on the account, if ever.
    pub last_seen: Option<OffsetDateTime>,
    /// Whether the account has any device recorded.
    pub any_device: bool,
    /// How many new sign-in mails the account got within [`NEW_DEVICE_MAILS`]' window.
    pub recent_mails: u32,
}

/// What [`decide`] (and so [`KnownDevices::note_sign_in`]) did with a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInNotice {
    /// The account's first device: recorded, no mail.
    FirstDevice,
    /// A device seen within [`KNOWN_DEVICE_WINDOW`]: its last-seen time moves, no mail.
    KnownDevice,
    /// A new device: recorded, and its mail and token stored (or, without a mail,
    /// recorded only).
    Mailed,
    /// A new device past [`NEW_DEVICE_MAILS`]: nothing recorded, no mail.
    Throttled,
}

impl SignInNotice {
    /// Whether the device is recorded (seen now).
    pub fn records_device(self) -> bool {
        self != SignInNotice::Throttled
    }

    /// A short stable name for logs.
    pub fn name(self) -> &'static str {
        match self {
            SignInNotice::FirstDevice => "first_device",
            SignInNotice::KnownDevice => "known_device",
            SignInNotice::Mailed => "mailed",
            SignInNotice::Throttled => "throttled",
        }
    }
}

/// The rule: what to do with a sign-in at `now` given the account's `history`.
pub fn decide(history: &DeviceHistory, now: OffsetDateTime) -> SignInNotice {
    if !history.any_device {
        return SignInNotice::FirstDevice;
    }
    let window = time::Duration::try_from(KNOWN_DEVICE_WINDOW).unwrap_or(time::Duration::MAX);
    let known = history
        .last_seen
        .is_some_and(|seen| seen.checked_add(window).is_none_or(|until| until >= now));
    if known {
        return SignInNotice::KnownDevice;
    }
    if history.recent_mails >= NEW_DEVICE_MAILS.count {
        return SignInNotice::Throttled;
    }
    SignInNotice::Mailed
}

/// The start of the window [`DeviceHistory::recent_mails`] counts in, at `now`.
pub fn recent_mails_since(now: OffsetDateTime) -> OffsetDateTime {
    let window = time::Duration::try_from(NEW_DEVICE_MAILS.window).unwrap_or(time::Duration::MAX);
    now.checked_sub(window)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A boxed future, for the object-safe [`KnownDevices`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The application's record of the devices each account signed in from. With one set on
/// the state ([`AuthState::with_known_devices`](crate::AuthState::with_known_devices)),
/// `POST /login/` mails sign-ins from new devices.
pub trait KnownDevices: Send + Sync + 'static {
    /// In one transaction: reads the account's [`DeviceHistory`] for `sign_in.device`,
    /// [`decide`]s, records the device when the decision does
    /// ([`SignInNotice::records_device`]: last seen `now`; a mail's time counted for
    /// [`NEW_DEVICE_MAILS`]), and for [`SignInNotice::Mailed`] stores `sign_in.mail`'s
    /// token and queues its mail. Concurrent calls for one account must be serialized
    /// (one new device, one mail).
    fn note_sign_in(&self, sign_in: SignIn) -> BoxFuture<'_, Result<SignInNotice, UserStoreError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).expect("a time")
    }

    const DAY: i64 = 24 * 60 * 60;

    #[test]
    fn the_first_device_is_never_mailed() {
        let history = DeviceHistory {
            last_seen: None,
            any_device: false,
            recent_mails: 0,
        };
        assert_eq!(decide(&history, at(0)), SignInNotice::FirstDevice);
    }

    #[test]
    fn a_device_is_known_for_90_days() {
        let seen = DeviceHistory {
            last_seen: Some(at(0)),
            any_device: true,
            recent_mails: 0,
        };
        assert_eq!(decide(&seen, at(90 * DAY)), SignInNotice::KnownDevice);
        assert_eq!(decide(&seen, at(90 * DAY + 1)), SignInNotice::Mailed);
        let never = DeviceHistory {
            last_seen: None,
            ..seen
        };
        assert_eq!(decide(&never, at(0)), SignInNotice::Mailed);
    }

    #[test]
    fn three_mails_an_hour_at_most() {
        let mut history = DeviceHistory {
            last_seen: None,
            any_device: true,
            recent_mails: 2,
        };
        assert_eq!(decide(&history, at(0)), SignInNotice::Mailed);
        history.recent_mails = 3;
        assert_eq!(decide(&history, at(0)), SignInNotice::Throttled);
        assert!(!SignInNotice::Throttled.records_device());
        assert_eq!(recent_mails_since(at(3600)), at(0));
    }

    #[test]
    fn fingerprints_leave_versions_out() {
        let device = DeviceInfo {
            browser: Some("Firefox".into()),
            browser_version: Some("130.0".into()),
            os: Some("Windows".into()),
            ..DeviceInfo::default()
        };
        let fingerprint = DeviceFingerprint::of(&device);
        assert_eq!(fingerprint.describe(), "Firefox on Windows (Unknown)");
        let updated = DeviceInfo {
            browser_version: Some("131.0".into()),
            ..device
        };
        assert_eq!(DeviceFingerprint::of(&updated), fingerprint);
        assert_eq!(new_sign_in_purpose("ab"), "new_sign_in:ab");
    }
}
