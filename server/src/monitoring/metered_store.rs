//! [`MeteredStore`]: the session store, counting the sessions it ends.

use std::future::Future;

use jwt_allauth::StoreError;
use jwt_allauth::events::{Event, EventLog, RevocationReason};
use jwt_allauth::store::{
    NewPurposeToken, NewSession, PurposeTokenRecord, PurposeTokenStore, RotateResult, Rotation,
    SessionEnd, SessionRecord, SessionStore,
};
use time::OffsetDateTime;

use super::REVOCATIONS_TOTAL;

/// A store that counts in `jwt_allauth_revocations_total{reason}` every session it ends:
/// where a session really ends (a revocation that found nothing is not counted), whoever
/// asked (a route, the manager, a replay detected by a rotation, a purge). Everything
/// else is passed through unchanged.
#[derive(Debug, Clone)]
pub struct MeteredStore<S> {
    inner: S,
}

impl<S> MeteredStore<S> {
    /// `inner`, counted.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

/// Counts `sessions` sessions ended for `reason` in `jwt_allauth_revocations_total`: what
/// [`MeteredStore`] calls, and what a change that ends sessions in a transaction of its
/// own (a password reset, `users/account_flows.rs`) calls once it has committed.
pub fn ended(reason: RevocationReason, sessions: u64) {
    if sessions > 0 {
        metrics::counter!(REVOCATIONS_TOTAL, "reason" => reason.as_str()).increment(sessions);
    }
}

impl<S: SessionStore> SessionStore for MeteredStore<S> {
    fn open_session(
        &self,
        session: &NewSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.open_session(session)
    }

    async fn rotate_session(&self, rotation: &Rotation) -> Result<RotateResult, StoreError> {
        let result = self.inner.rotate_session(rotation).await?;
        if matches!(result, RotateResult::Replayed) {
            ended(RevocationReason::Replay, 1);
        }
        Ok(result)
    }

    async fn revoke_session(&self, session: &str, end: SessionEnd) -> Result<bool, StoreError> {
        let revoked = self.inner.revoke_session(session, end).await?;
        ended(end.reason, u64::from(revoked));
        Ok(revoked)
    }

    async fn revoke_user_session(
        &self,
        user_id: &str,
        session: &str,
        end: SessionEnd,
    ) -> Result<bool, StoreError> {
        let revoked = self
            .inner
            .revoke_user_session(user_id, session, end)
            .await?;
        ended(end.reason, u64::from(revoked));
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        end: SessionEnd,
    ) -> Result<Vec<String>, StoreError> {
        let revoked = self.inner.revoke_user_sessions(user_id, end).await?;
        ended(end.reason, revoked.len() as u64);
        Ok(revoked)
    }

    fn list_user_sessions(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, StoreError>> + Send {
        self.inner.list_user_sessions(user_id)
    }

    fn session_is_active(
        &self,
        session: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.inner.session_is_active(session)
    }

    fn count_expired_sessions(
        &self,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.inner.count_expired_sessions(now)
    }

    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let deleted = self.inner.delete_expired_sessions(now, limit).await?;
        ended(RevocationReason::Expired, deleted);
        Ok(deleted)
    }

    fn expired_sessions_batch_size(&self) -> u32 {
        self.inner.expired_sessions_batch_size()
    }
}

impl<S: PurposeTokenStore> PurposeTokenStore for MeteredStore<S> {
    fn replace_purpose_token(
        &self,
        token: &NewPurposeToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.replace_purpose_token(token)
    }

    fn consume_purpose_token(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<PurposeTokenRecord>, StoreError>> + Send {
        self.inner
            .consume_purpose_token(user_id, purpose, token_hash, now)
    }

    fn purpose_token_is_live(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.inner
            .purpose_token_is_live(user_id, purpose, token_hash, now)
    }

    fn list_user_purpose_tokens(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<PurposeTokenRecord>, StoreError>> + Send {
        self.inner.list_user_purpose_tokens(user_id)
    }

    fn revoke_user_purpose_tokens(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.inner.revoke_user_purpose_tokens(user_id)
    }

    fn count_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.inner.count_expired_purpose_tokens(now)
    }

    fn delete_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.inner.delete_expired_purpose_tokens(now, limit)
    }

    fn expired_purpose_tokens_batch_size(&self) -> u32 {
        self.inner.expired_purpose_tokens_batch_size()
    }
}

impl<S: EventLog> EventLog for MeteredStore<S> {
    fn events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send {
        self.inner.events_after(after, limit)
    }

    fn last_seq_before(
        &self,
        time: OffsetDateTime,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send {
        self.inner.last_seq_before(time)
    }

    fn count_events_before(
        &self,
        before: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.inner.count_events_before(before)
    }

    fn delete_events_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.inner.delete_events_before(before, limit)
    }
}
