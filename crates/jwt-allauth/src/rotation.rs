//! The rotation decision of sessions.md, for every store to reuse.
//!
//! Where each rule of a rotation is decided:
//!
//! | rule | decided by |
//! |---|---|
//! | 1, atomic claim | the store: one conditional write per session (`UPDATE ... WHERE jti = $presented`) or a lock around [`classify`] and what it asks for |
//! | 2, replay revokes the session | [`classify`] → [`Decision::Replayed`] |
//! | 3, reuse interval | [`classify`] → [`Decision::Retried`] |
//! | 4, revocation beats rotation | the store: the row is updated in place, so its lock orders a revocation and a rotation |
//! | 5, absolute session lifetime | [`session_expired`], before the store is asked |
//! | 7, disabled sessions | [`classify`] → [`Decision::Disabled`] |
//! | a token of another user, or no row | [`classify`] → [`Decision::NotFound`] |
//!
//! A store reads the session row under a lock that keeps other writers of that row out
//! (a row lock, a write transaction, a mutex), hands it to [`classify`] as a
//! [`LockedSession`], and carries out the [`Decision`] before it lets go of the lock:
//! rotate the row for [`Decision::Rotate`], delete it for [`Decision::Replayed`] (and
//! commit that deletion even though the request fails), change nothing otherwise.
//!
//! A store may first try the rotation as one conditional write, as the SQL stores do:
//! when the presented token is the current one of an enabled session of this user, that
//! write is exactly what [`Decision::Rotate`] asks for, and only a write that matched
//! nothing (a miss) needs the lock and [`classify`].
//!
//! ```
//! use jwt_allauth::rotation::{Decision, LockedSession, classify};
//! use jwt_allauth::store::Rotation;
//! use jwt_allauth::DeviceInfo;
//! use time::{Duration, OffsetDateTime};
//!
//! let now = OffsetDateTime::now_utc();
//! let row = LockedSession {
//!     user_id: "alice".into(),
//!     jti: "b".into(),
//!     previous_jti: Some("a".into()),
//!     rotated_at: Some(now - Duration::seconds(3)),
//!     refresh_claims: r#"{"jti":"b"}"#.into(),
//!     enabled: true,
//! };
//! let retry = Rotation {
//!     session: "0123456789abcdef0123456789abcdef".into(),
//!     user_id: "alice".into(),
//!     presented_jti: "a".into(),
//!     new_jti: "c".into(),
//!     new_refresh_claims: r#"{"jti":"c"}"#.into(),
//!     expires_at: now + Duration::days(14),
//!     device: DeviceInfo::default(),
//!     now,
//!     reuse_interval: Duration::seconds(10),
//! };
//! // The predecessor, 3 s after the rotation, with a 10 s reuse interval: a retry.
//! assert_eq!(
//!     classify(Some(row.clone()), &retry),
//!     Decision::Retried { refresh_claims: r#"{"jti":"b"}"#.into() },
//! );
//! // The same token with no reuse interval: a replay.
//! let strict = Rotation { reuse_interval: Duration::ZERO, ..retry };
//! assert_eq!(classify(Some(row), &strict), Decision::Replayed);
//! ```

use time::{Duration, OffsetDateTime};

use crate::store::{RotateResult, Rotation};

/// A session row as a store read it under its lock, when a rotation did not simply match
/// the current token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedSession {
    /// The owner.
    pub user_id: String,
    /// The `jti` of the current refresh token.
    pub jti: String,
    /// The `jti` the current one replaced, if the session has rotated.
    pub previous_jti: Option<String>,
    /// When the current `jti` replaced `previous_jti`.
    pub rotated_at: Option<OffsetDateTime>,
    /// The JSON payload of the current refresh token (to answer a retry with it).
    pub refresh_claims: String,
    /// Whether the session may rotate.
    pub enabled: bool,
}

/// What a store must do with a rotation, as [`classify`] decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The presented token is the current one of an enabled session: make the successor
    /// current (rule 1: only one of concurrent rotations gets this, as the store holds
    /// the lock). Answer [`RotateResult::Rotated`].
    Rotate,
    /// Rule 3: the immediate predecessor within the reuse interval, a retry. Change
    /// nothing; answer with the current token's payload.
    Retried {
        /// JSON payload of the session's current refresh token.
        refresh_claims: String,
    },
    /// Rule 2: any other token of the session (older, or the predecessor after the reuse
    /// interval). Delete the session row and commit the deletion.
    Replayed,
    /// Rule 7: the session is disabled. Change nothing, whatever token was presented.
    Disabled,
    /// No row, or a row of another user: change nothing (a row of another user is never
    /// touched).
    NotFound,
}

impl Decision {
    /// The answer of [`SessionStore::rotate_session`](crate::store::SessionStore::rotate_session)
    /// once the store has carried out the decision.
    pub fn into_result(self) -> RotateResult {
        match self {
            Decision::Rotate => RotateResult::Rotated,
            Decision::Retried { refresh_claims } => RotateResult::Retried { refresh_claims },
            Decision::Replayed => RotateResult::Replayed,
            Decision::Disabled => RotateResult::Disabled,
            Decision::NotFound => RotateResult::NotFound,
        }
    }
}

/// Decides a rotation on the session row `row` (`None`: no row with the rotation's
/// session id), read under the store's lock. Applies, in this order: the owner (a row of
/// another user is [`Decision::NotFound`]), rule 7 (disabled), the current token
/// ([`Decision::Rotate`]), rule 3 (the predecessor while
/// `now < rotated_at + reuse_interval`; a zero interval disables it) and rule 2
/// (anything else is a replay).
pub fn classify(row: Option<LockedSession>, rotation: &Rotation) -> Decision {
    let Some(row) = row.filter(|row| row.user_id == rotation.user_id) else {
        return Decision::NotFound;
    };
    if !row.enabled {
        return Decision::Disabled;
    }
    if row.jti == rotation.presented_jti {
        return Decision::Rotate;
    }
    let is_predecessor = row.previous_jti.as_deref() == Some(rotation.presented_jti.as_str());
    if rotation.reuse_interval > Duration::ZERO && is_predecessor {
        let within = row.rotated_at.is_some_and(|rotated_at| {
            // An interval so large that the deadline overflows never ends.
            rotated_at
                .checked_add(rotation.reuse_interval)
                .is_none_or(|deadline| rotation.now < deadline)
        });
        if within {
            return Decision::Retried {
                refresh_claims: row.refresh_claims,
            };
        }
    }
    Decision::Replayed
}

/// Rule 5: whether a verified refresh token is presented at or after its session's
/// absolute deadline (`session_iat + SESSION_LIFETIME`, epoch seconds; `None` when no
/// lifetime is set or the token carries no `session_iat`). Such a session is deleted
/// and the answer is `session_expired`; the store is not asked to rotate it.
pub fn session_expired(deadline: Option<i64>, now: OffsetDateTime) -> bool {
    deadline.is_some_and(|deadline| now.unix_timestamp() >= deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceInfo;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_000_000 + seconds)
    }

    fn row() -> LockedSession {
        LockedSession {
            user_id: "alice".into(),
            jti: "b".into(),
            previous_jti: Some("a".into()),
            rotated_at: Some(at(0)),
            refresh_claims: "claims of b".into(),
            enabled: true,
        }
    }

    fn rotation(presented: &str, now: i64, reuse_interval: Duration) -> Rotation {
        Rotation {
            session: "s".into(),
            user_id: "alice".into(),
            presented_jti: presented.into(),
            new_jti: "c".into(),
            new_refresh_claims: "claims of c".into(),
            expires_at: at(now + 3600),
            device: DeviceInfo::default(),
            now: at(now),
            reuse_interval,
        }
    }

    #[test]
    fn current_rotates_and_others_replay() {
        let strict = Duration::ZERO;
        assert_eq!(
            classify(Some(row()), &rotation("b", 1, strict)),
            Decision::Rotate
        );
        assert_eq!(
            classify(Some(row()), &rotation("a", 1, strict)),
            Decision::Replayed
        );
        assert_eq!(
            classify(Some(row()), &rotation("z", 1, strict)),
            Decision::Replayed
        );
    }

    #[test]
    fn reuse_interval_excludes_its_end() {
        let reuse = Duration::seconds(10);
        let retried = Decision::Retried {
            refresh_claims: "claims of b".into(),
        };
        assert_eq!(classify(Some(row()), &rotation("a", 9, reuse)), retried);
        assert_eq!(
            classify(Some(row()), &rotation("a", 10, reuse)),
            Decision::Replayed
        );
        assert_eq!(
            classify(Some(row()), &rotation("z", 1, reuse)),
            Decision::Replayed
        );
        let endless = rotation("a", 1, Duration::MAX);
        assert_eq!(classify(Some(row()), &endless), retried);
    }

    #[test]
    fn disabled_and_foreign_rows_change_nothing() {
        let disabled = LockedSession {
            enabled: false,
            ..row()
        };
        for presented in ["a", "b", "z"] {
            let rotation = rotation(presented, 1, Duration::seconds(10));
            assert_eq!(
                classify(Some(disabled.clone()), &rotation),
                Decision::Disabled
            );
        }
        let foreign = LockedSession {
            user_id: "mallory".into(),
            ..row()
        };
        let rotation = rotation("b", 1, Duration::ZERO);
        assert_eq!(classify(Some(foreign), &rotation), Decision::NotFound);
        assert_eq!(classify(None, &rotation), Decision::NotFound);
    }

    #[test]
    fn session_expires_at_its_deadline() {
        assert!(!session_expired(None, at(0)));
        assert!(!session_expired(Some(at(1).unix_timestamp()), at(0)));
        assert!(session_expired(Some(at(0).unix_timestamp()), at(0)));
    }
}
