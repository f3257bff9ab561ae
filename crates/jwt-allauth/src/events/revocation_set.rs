//! What an instance keeps in memory of recent revocations, so that every access-token
//! check refuses a revoked session without a database query.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Event, EventType, RevocationReason};

/// The answer of [`RevocationSet::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The token's session, or its user, was revoked: refuse it.
    Revoked,
    /// Nothing known against it.
    NotRevoked,
    /// The set cannot tell: its feed is behind by more than its bound, or it overflowed.
    /// Ask the database (the per-request session check).
    Unknown,
}

/// Whether the set can be trusted, for readiness and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationSetState {
    /// Up to date within the bound.
    Live,
    /// The feed has not confirmed it is caught up for longer than the bound: checks fall
    /// back to the database.
    Behind,
    /// More revocations arrived within one retention period than the set holds: checks
    /// fall back to the database until the ones it dropped no longer matter.
    Overflowed,
}

impl RevocationSetState {
    /// `live`, `behind` or `overflowed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationSetState::Live => "live",
            RevocationSetState::Behind => "behind",
            RevocationSetState::Overflowed => "overflowed",
        }
    }
}

/// Sessions revoked, and users deactivated or deleted, within the last retention period
/// (the access-token lifetime plus the leeway: an older revocation cannot have a live
/// access token left).
///
/// A feed fills it ([`apply`](Self::apply)) and says how fresh it is
/// ([`confirm_caught_up`](Self::confirm_caught_up)); a set built with
/// [`in_process`](Self::in_process) is filled by the only process that writes, and is
/// always fresh. Memory is bounded by `capacity` entries: past it, revocations are not
/// kept and [`check`](Self::check) answers [`Revocation::Unknown`] until they no longer
/// matter, so a flood of revocations degrades to the database check, never to unbounded
/// growth or to a revoked token let through.
///
/// ```
/// use std::time::Duration;
/// use jwt_allauth::events::{Revocation, RevocationSet};
/// use time::OffsetDateTime;
///
/// let set = RevocationSet::in_process(Duration::from_secs(300), 100_000);
/// let now = OffsetDateTime::now_utc();
/// set.revoke_session("0123456789abcdef0123456789abcdef", now);
/// let iat = now.unix_timestamp() - 10;
/// assert_eq!(set.check(Some("0123456789abcdef0123456789abcdef"), "7", iat, now), Revocation::Revoked);
/// assert_eq!(set.check(Some("fedcba9876543210fedcba9876543210"), "7", iat, now), Revocation::NotRevoked);
/// ```
#[derive(Debug)]
pub struct RevocationSet {
    retention_secs: i64,
    capacity: usize,
    /// How long the feed may go without confirming it is caught up; `None` for a set
    /// that is always fresh.
    max_lag: Option<Duration>,
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Session id → when it was revoked (unix seconds).
    sessions: HashMap<String, i64>,
    /// User id → when it was deactivated or deleted (unix seconds).
    users: HashMap<String, i64>,
    /// Until when (unix seconds) a revocation that did not fit may matter.
    overflowed_until: Option<i64>,
    /// When the feed last confirmed it was caught up.
    confirmed_at: Option<OffsetDateTime>,
}

impl RevocationSet {
    /// A set fed by the process that makes every change (one process on SQLite): always
    /// fresh. `retention` is the access-token lifetime plus the leeway.
    pub fn in_process(retention: Duration, capacity: usize) -> Self {
        Self::new(retention, capacity, None)
    }

    /// A set fed from a database feed, trusted while the feed has confirmed it is caught
    /// up within `max_lag` (and not before its first confirmation).
    pub fn fed(retention: Duration, capacity: usize, max_lag: Duration) -> Self {
        Self::new(retention, capacity, Some(max_lag))
    }

    fn new(retention: Duration, capacity: usize, max_lag: Option<Duration>) -> Self {
        Self {
            retention_secs: i64::try_from(retention.as_secs()).unwrap_or(i64::MAX),
            capacity,
            max_lag,
            inner: RwLock::new(Inner::default()),
        }
    }

    /// Whether an access token of `user_id`, session `session` and issued at `iat`
    /// (unix seconds), is revoked at `now`. Takes a read lock and looks up two maps; no
    /// allocation.
    pub fn check(
        &self,
        session: Option<&str>,
        user_id: &str,
        iat: i64,
        now: OffsetDateTime,
    ) -> Revocation {
        let Ok(inner) = self.inner.read() else {
            return Revocation::Unknown;
        };
        if session.is_some_and(|session| inner.sessions.contains_key(session))
            || inner.users.get(user_id).is_some_and(|&at| iat <= at)
        {
            return Revocation::Revoked;
        }
        if self.state_of(&inner, now) == RevocationSetState::Live {
            Revocation::NotRevoked
        } else {
            Revocation::Unknown
        }
    }

    /// Records that `session` was revoked at `at`.
    pub fn revoke_session(&self, session: &str, at: OffsetDateTime) {
        self.insert(at, |inner| &mut inner.sessions, session);
    }

    /// Records that `user_id` was deactivated or deleted at `at`: every token of theirs
    /// issued until then is refused.
    pub fn revoke_user(&self, user_id: &str, at: OffsetDateTime) {
        self.insert(at, |inner| &mut inner.users, user_id);
    }

    /// Records that `session` ended at `at` for `reason`. A session ended because it
    /// expired (`expired`: a purge, or the absolute session lifetime) is not recorded, so
    /// that a purge of many sessions takes no room here: its access tokens have expired
    /// too (an access token never outlives the session deadline, nor, unless
    /// `ACCESS_TOKEN_LIFETIME` is set longer than `REFRESH_TOKEN_LIFETIME`, the refresh
    /// token it came with), and an expiry is not a security event.
    pub fn session_ended(&self, session: &str, reason: RevocationReason, at: OffsetDateTime) {
        if reason != RevocationReason::Expired {
            self.revoke_session(session, at);
        }
    }

    /// Records what an event revokes: its session for `session.revoked` (as
    /// [`session_ended`](Self::session_ended) does), its user for `user.deactivated` and
    /// `user.deleted`; other events change nothing.
    pub fn apply(&self, event: &Event) {
        match (event.event_type, &event.session, event.reason) {
            (EventType::SessionRevoked, Some(session), Some(reason)) => {
                self.session_ended(session, reason, event.time);
            }
            (EventType::SessionRevoked, Some(session), None) => {
                self.revoke_session(session, event.time);
            }
            (kind, _, _) if kind.ends_the_account() => self.revoke_user(&event.user_id, event.time),
            _ => {}
        }
    }

    fn insert(
        &self,
        at: OffsetDateTime,
        map: impl FnOnce(&mut Inner) -> &mut HashMap<String, i64>,
        key: &str,
    ) {
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        let at = at.unix_timestamp();
        let len = inner.sessions.len() + inner.users.len();
        let capacity = self.capacity;
        let until = at.saturating_add(self.retention_secs);
        let entries = map(&mut inner);
        if let Some(known) = entries.get_mut(key) {
            *known = (*known).max(at);
            return;
        }
        if len < capacity {
            entries.insert(key.to_owned(), at);
        } else {
            inner.overflowed_until = Some(inner.overflowed_until.map_or(until, |t| t.max(until)));
        }
    }

    /// The feed has read every event committed up to now: the set is trusted until
    /// `now + max_lag`.
    pub fn confirm_caught_up(&self, now: OffsetDateTime) {
        if let Ok(mut inner) = self.inner.write() {
            inner.confirmed_at = Some(now);
        }
    }

    /// Drops what no longer matters: revocations older than the retention period.
    pub fn prune(&self, now: OffsetDateTime) {
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        let oldest = now.unix_timestamp().saturating_sub(self.retention_secs);
        // A token of a session revoked at `at` expired by `at + retention` at the latest.
        inner.sessions.retain(|_, at| *at > oldest);
        inner.users.retain(|_, at| *at > oldest);
        if inner
            .overflowed_until
            .is_some_and(|until| until <= now.unix_timestamp())
        {
            inner.overflowed_until = None;
        }
    }

    /// Whether the set can be trusted at `now`.
    pub fn state(&self, now: OffsetDateTime) -> RevocationSetState {
        match self.inner.read() {
            Ok(inner) => self.state_of(&inner, now),
            Err(_) => RevocationSetState::Behind,
        }
    }

    /// How long ago the feed last confirmed it was caught up (`None` for an in-process
    /// set, or before the first confirmation).
    pub fn lag(&self, now: OffsetDateTime) -> Option<Duration> {
        let inner = self.inner.read().ok()?;
        self.max_lag?;
        let confirmed = inner.confirmed_at?;
        Some((now - confirmed).try_into().unwrap_or(Duration::ZERO))
    }

    /// How many revocations the set holds.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .map_or(0, |inner| inner.sessions.len() + inner.users.len())
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn state_of(&self, inner: &Inner, now: OffsetDateTime) -> RevocationSetState {
        if inner
            .overflowed_until
            .is_some_and(|until| now.unix_timestamp() < until)
        {
            return RevocationSetState::Overflowed;
        }
        let Some(max_lag) = self.max_lag else {
            return RevocationSetState::Live;
        };
        match inner.confirmed_at {
            Some(confirmed) if now - confirmed <= max_lag => RevocationSetState::Live,
            _ => RevocationSetState::Behind,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const RETENTION: Duration = Duration::from_secs(300);

    fn t(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    const S1: &str = "0123456789abcdef0123456789abcdef";
    const S2: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn a_revoked_session_is_refused_until_its_tokens_have_expired() {
        let set = RevocationSet::in_process(RETENTION, 10);
        set.revoke_session(S1, t(0));
        assert_eq!(
            set.check(Some(S1), "7", t(-5).unix_timestamp(), t(1)),
            Revocation::Revoked
        );
        assert_eq!(
            set.check(Some(S2), "7", t(-5).unix_timestamp(), t(1)),
            Revocation::NotRevoked
        );
        set.prune(t(299));
        assert_eq!(set.len(), 1);
        set.prune(t(300));
        assert!(set.is_empty());
    }

    #[test]
    fn a_deactivated_user_loses_the_tokens_issued_until_then_and_only_those() {
        let set = RevocationSet::in_process(RETENTION, 10);
        set.revoke_user("7", t(0));
        assert_eq!(
            set.check(Some(S1), "7", t(0).unix_timestamp(), t(1)),
            Revocation::Revoked
        );
        // A token issued after a reactivation and a new login is not.
        assert_eq!(
            set.check(Some(S2), "7", t(2).unix_timestamp(), t(3)),
            Revocation::NotRevoked
        );
        assert_eq!(
            set.check(Some(S1), "8", t(0).unix_timestamp(), t(1)),
            Revocation::NotRevoked
        );
    }

    #[test]
    fn past_its_capacity_the_set_answers_unknown_until_the_dropped_revocations_expire() {
        let set = RevocationSet::in_process(RETENTION, 1);
        set.revoke_session(S1, t(0));
        set.revoke_session(S2, t(10));
        assert_eq!(set.len(), 1);
        assert_eq!(set.state(t(11)), RevocationSetState::Overflowed);
        // What it holds is still refused; the rest is for the database to say.
        assert_eq!(set.check(Some(S1), "7", 0, t(11)), Revocation::Revoked);
        assert_eq!(set.check(Some(S2), "7", 0, t(11)), Revocation::Unknown);
        assert_eq!(set.state(t(309)), RevocationSetState::Overflowed);
        set.prune(t(310));
        assert_eq!(set.state(t(310)), RevocationSetState::Live);
        assert_eq!(set.check(Some(S2), "7", 0, t(311)), Revocation::NotRevoked);
    }

    #[test]
    fn a_fed_set_is_trusted_only_while_its_feed_confirms_within_the_bound() {
        let set = RevocationSet::fed(RETENTION, 10, Duration::from_secs(1));
        assert_eq!(set.state(t(0)), RevocationSetState::Behind);
        assert_eq!(set.check(Some(S1), "7", 0, t(0)), Revocation::Unknown);
        set.confirm_caught_up(t(0));
        assert_eq!(set.check(Some(S1), "7", 0, t(1)), Revocation::NotRevoked);
        assert_eq!(set.lag(t(1)), Some(Duration::from_secs(1)));
        assert_eq!(set.check(Some(S1), "7", 0, t(2)), Revocation::Unknown);
        // A revocation it holds is refused even while it is behind.
        set.revoke_session(S1, t(2));
        assert_eq!(set.check(Some(S1), "7", 0, t(3)), Revocation::Revoked);
    }

    #[test]
    fn events_revoke_what_they_end() {
        let set = RevocationSet::in_process(RETENTION, 10);
        let event = |event_type, session: Option<&str>| Event {
            id: Event::new_id(),
            seq: 1,
            event_type,
            time: t(0),
            user_id: "7".into(),
            session: session.map(str::to_owned),
            reason: None,
            device: None,
        };
        set.apply(&event(EventType::SessionCreated, Some(S1)));
        set.apply(&event(EventType::UserPasswordChanged, None));
        assert!(set.is_empty());
        let mut purged = event(EventType::SessionRevoked, Some(S2));
        purged.reason = Some(RevocationReason::Expired);
        set.apply(&purged);
        assert!(set.is_empty(), "an expired session's tokens have expired");
        set.apply(&event(EventType::SessionRevoked, Some(S1)));
        set.apply(&event(EventType::UserDeleted, None));
        assert_eq!(set.len(), 2);
        assert_eq!(set.check(Some(S2), "7", 0, t(1)), Revocation::Revoked);
    }
}
