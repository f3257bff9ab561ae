//! Reading the events a store wrote.

use std::future::Future;

use time::OffsetDateTime;

use super::Event;
use crate::error::StoreError;

/// The events a store wrote, in sequence order.
///
/// A store writes them itself, in the transaction of each change of its
/// [`SessionStore`](crate::store::SessionStore) methods: `session.created` at
/// `open_session`, one `session.revoked` per session it deletes (with the reason the
/// caller gave, `replay` when `rotate_session` deletes a replayed session, `expired` when
/// a purge deletes an expired one). The conformance suite checks it
/// (`jwt_allauth::conformance::events`, feature `test-util`).
pub trait EventLog: Send + Sync {
    /// Up to `limit` events with `seq > after`, in increasing `seq`.
    ///
    /// Sequence numbers increase with each event written, but a store whose transactions
    /// commit concurrently (PostgreSQL) may commit a smaller `seq` after a larger one: a
    /// reader that must not miss one reads again from below the gaps it saw (the revocation
    /// feed does).
    fn events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;

    /// The highest `seq` of the events older than `time`, or 0: where a reader that needs
    /// the events since `time` starts ([`events_after`](Self::events_after) this).
    fn last_seq_before(
        &self,
        time: OffsetDateTime,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// How many events are older than `before` (what a dry-run purge reports).
    fn count_events_before(
        &self,
        before: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes at most `limit` events older than `before`. How many were deleted.
    fn delete_events_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
