//! One event: its type, the reason a session ended, and its JSON form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::device::DeviceInfo;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// A session was opened (a login or a sign-up).
    SessionCreated,
    /// A session was ended; the event has its [`RevocationReason`].
    SessionRevoked,
    /// An account was created.
    UserRegistered,
    /// An account's e-mail address was confirmed.
    UserEmailVerified,
    /// An account's password was set, changed or reset.
    UserPasswordChanged,
    /// An account was deactivated.
    UserDeactivated,
    /// An account was deleted.
    UserDeleted,
}

impl EventType {
    /// Every type, in the order of the contract.
    pub const ALL: [EventType; 7] = [
        EventType::SessionCreated,
        EventType::SessionRevoked,
        EventType::UserRegistered,
        EventType::UserEmailVerified,
        EventType::UserPasswordChanged,
        EventType::UserDeactivated,
        EventType::UserDeleted,
    ];

    /// The name in the event log, the CLI and webhooks (`session.revoked`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SessionCreated => "session.created",
            EventType::SessionRevoked => "session.revoked",
            EventType::UserRegistered => "user.registered",
            EventType::UserEmailVerified => "user.email_verified",
            EventType::UserPasswordChanged => "user.password_changed",
            EventType::UserDeactivated => "user.deactivated",
            EventType::UserDeleted => "user.deleted",
        }
    }

    /// Whether an event of this type ends every access token of its user: the account
    /// can no longer be used.
    pub fn ends_the_account(self) -> bool {
        matches!(self, EventType::UserDeactivated | EventType::UserDeleted)
    }
}

/// The error of parsing a name that is no [`EventType`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationReason {
    /// The user logged out of this session (`/logout/`), or ended it from their list of
    /// sessions.
    Logout,
    /// The user logged out everywhere (`/logout/` with `all`).
    LogoutAll,
    /// A refresh token of the session was presented again after it had been rotated:
    /// the session is presumed stolen (sessions.md, rule 3).
    Replay,
    /// The user changed their password.
    PasswordChange,
    /// The user reset their password by mail.
    PasswordReset,
    /// An administrator ended it (CLI, or an application calling the manager).
    Admin,
    /// Its user was deactivated.
    Deactivated,
    /// Its user was deleted.
    Deleted,
    /// It reached its expiry and was purged.
    Expired,
}

impl RevocationReason {
    /// Every reason, in the order of the contract.
    pub const ALL: [RevocationReason; 9] = [
        RevocationReason::Logout,
        RevocationReason::LogoutAll,
        RevocationReason::Replay,
        RevocationReason::PasswordChange,
        RevocationReason::PasswordReset,
        RevocationReason::Admin,
        RevocationReason::Deactivated,
        RevocationReason::Deleted,
        RevocationReason::Expired,
    ];

    /// The name in events and metrics (`logout_all`).
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Logout => "logout",
            RevocationReason::LogoutAll => "logout_all",
            RevocationReason::Replay => "replay",
            RevocationReason::PasswordChange => "password_change",
            RevocationReason::PasswordReset => "password_reset",
            RevocationReason::Admin => "admin",
            RevocationReason::Deactivated => "deactivated",
            RevocationReason::Deleted => "deleted",
            RevocationReason::Expired => "expired",
        }
    }

    /// The reason named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        RevocationReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == name)
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event to write, in the transaction of the change it records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// What happened.
    pub event_type: EventType,
    /// When.
    pub time: OffsetDateTime,
    /// Whose account or session.
    pub user_id: String,
    /// The session, for session events.
    pub session: Option<String>,
    /// Why the session ended, for [`EventType::SessionRevoked`].
    pub reason: Option<RevocationReason>,
    /// The device of the session, when known.
    pub device: Option<DeviceInfo>,
}

impl NewEvent {
    /// `session.created`, with the device of the login.
    pub fn session_created(
        user_id: impl Into<String>,
        session: impl Into<String>,
        device: DeviceInfo,
        time: OffsetDateTime,
    ) -> Self {
        Self {
            event_type: EventType::SessionCreated,
            time,
            user_id: user_id.into(),
            session: Some(session.into()),
            reason: None,
            device: Some(device),
        }
    }

    /// `session.revoked`, with its reason and, when the store still has it, the device.
    pub fn session_revoked(
        user_id: impl Into<String>,
        session: impl Into<String>,
        reason: RevocationReason,
        device: Option<DeviceInfo>,
        time: OffsetDateTime,
    ) -> Self {
        Self {
            event_type: EventType::SessionRevoked,
            time,
            user_id: user_id.into(),
            session: Some(session.into()),
            reason: Some(reason),
            device,
        }
    }

    /// An account event (`user.*`).
    pub fn account(
        event_type: EventType,
        user_id: impl Into<String>,
        time: OffsetDateTime,
    ) -> Self {
        Self {
            event_type,
            time,
            user_id: user_id.into(),
            session: None,
            reason: None,
            device: None,
        }
    }
}

/// An event as the log holds it: the CLI and webhooks write it as
/// `{"id": "...", "seq": 42, "type": "session.revoked", "time": "2026-12-05T12:00:00Z",
/// "user_id": "7", "session": "<32 hex>"|null, "reason": "logout"|null, "device": {...}|null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id (`evt_` and 32 hex), the same at every delivery.
    pub id: String,
    /// Position in the log, increasing with each committed event.
    pub seq: i64,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When, UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Whose account or session.
    pub user_id: String,
    /// The session, for session events.
    pub session: Option<String>,
    /// Why the session ended, for `session.revoked`.
    pub reason: Option<RevocationReason>,
    /// The device of the session, when known.
    pub device: Option<DeviceInfo>,
}

impl Event {
    /// A new unique event id: `evt_` and 32 random hex digits.
    pub fn new_id() -> String {
        format!("evt_{}", crate::random::hex_id())
    }
}
