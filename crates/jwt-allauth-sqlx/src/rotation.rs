//! The classification of a rotation that did not match, shared by both backends.

use jwt_allauth::store::Rotation;
use time::{Duration, OffsetDateTime};

/// The session row as read (and locked) when the one-statement rotation found nothing.
pub(crate) struct LockedSession {
    /// The current `jti`.
    pub(crate) jti: String,
    /// The `jti` it replaced.
    pub(crate) previous_jti: Option<String>,
    /// When it replaced it.
    pub(crate) rotated_at: Option<OffsetDateTime>,
    /// The current refresh token's payload.
    pub(crate) refresh_claims: String,
    /// Whether the session may rotate.
    pub(crate) enabled: bool,
}

/// What to do with a locked session row.
pub(crate) enum Decision {
    /// Disabled: change nothing.
    Disabled,
    /// The presented token became current after the first attempt: rotate now.
    Rotate,
    /// The immediate predecessor within the reuse interval: answer with the current payload.
    Retried(String),
    /// Anything else: delete the session.
    Replayed,
}

/// Applies rules 2, 3 and 7 of the sessions specification to a locked row.
pub(crate) fn classify(row: LockedSession, rotation: &Rotation) -> Decision {
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
            return Decision::Retried(row.refresh_claims);
        }
    }
    Decision::Replayed
}
