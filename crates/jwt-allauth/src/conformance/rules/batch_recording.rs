//! A store wrapper that chooses the purge's batch size and records every purge statement,
//! to prove that the purge deletes in the batches the store asks for (sessions.md rule 10).

use std::sync::{Arc, Mutex};

use crate::StoreError;
use crate::store::{
    NewPurposeToken, NewSession, PurposeTokenRecord, PurposeTokenStore, RotateResult, Rotation,
    SessionEnd, SessionRecord, SessionStore,
};
use time::OffsetDateTime;

/// One purge statement: the `limit` it was given and how many rows it deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// The `limit` the purge passed.
    pub limit: u32,
    /// How many rows the statement deleted.
    pub deleted: u64,
}

/// Forwards everything to `inner`, except the batch sizes, which are `batch_size` for
/// both tables.
#[derive(Debug, Clone)]
pub struct BatchRecordingStore<S> {
    inner: S,
    batch_size: u32,
    /// The `delete_expired_sessions` calls, in order.
    pub session_batches: Arc<Mutex<Vec<Batch>>>,
    /// The `delete_expired_purpose_tokens` calls, in order.
    pub purpose_token_batches: Arc<Mutex<Vec<Batch>>>,
}

impl<S> BatchRecordingStore<S> {
    /// Wraps `inner`, asking purges for batches of `batch_size`.
    pub fn new(inner: S, batch_size: u32) -> Self {
        Self {
            inner,
            batch_size,
            session_batches: Arc::default(),
            purpose_token_batches: Arc::default(),
        }
    }
}

fn record(batches: &Mutex<Vec<Batch>>, limit: u32, deleted: u64) {
    batches.lock().unwrap().push(Batch { limit, deleted });
}

impl<S: SessionStore> SessionStore for BatchRecordingStore<S> {
    async fn open_session(&self, session: &NewSession) -> Result<(), StoreError> {
        self.inner.open_session(session).await
    }
    async fn rotate_session(&self, rotation: &Rotation) -> Result<RotateResult, StoreError> {
        self.inner.rotate_session(rotation).await
    }
    async fn revoke_session(&self, session: &str, end: SessionEnd) -> Result<bool, StoreError> {
        self.inner.revoke_session(session, end).await
    }
    async fn revoke_user_session(
        &self,
        user_id: &str,
        session: &str,
        end: SessionEnd,
    ) -> Result<bool, StoreError> {
        self.inner.revoke_user_session(user_id, session, end).await
    }
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        end: SessionEnd,
    ) -> Result<Vec<String>, StoreError> {
        self.inner.revoke_user_sessions(user_id, end).await
    }
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.inner.list_user_sessions(user_id).await
    }
    async fn session_is_active(&self, session: &str) -> Result<bool, StoreError> {
        self.inner.session_is_active(session).await
    }
    async fn count_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.count_expired_sessions(now).await
    }
    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let deleted = self.inner.delete_expired_sessions(now, limit).await?;
        record(&self.session_batches, limit, deleted);
        Ok(deleted)
    }
    fn expired_sessions_batch_size(&self) -> u32 {
        self.batch_size
    }
}

impl<S: PurposeTokenStore> PurposeTokenStore for BatchRecordingStore<S> {
    async fn replace_purpose_token(&self, token: &NewPurposeToken) -> Result<(), StoreError> {
        self.inner.replace_purpose_token(token).await
    }
    async fn consume_purpose_token(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<PurposeTokenRecord>, StoreError> {
        self.inner
            .consume_purpose_token(user_id, purpose, token_hash, now)
            .await
    }
    async fn purpose_token_is_live(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner
            .purpose_token_is_live(user_id, purpose, token_hash, now)
            .await
    }
    async fn list_user_purpose_tokens(
        &self,
        user_id: &str,
    ) -> Result<Vec<PurposeTokenRecord>, StoreError> {
        self.inner.list_user_purpose_tokens(user_id).await
    }
    async fn revoke_user_purpose_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        self.inner.revoke_user_purpose_tokens(user_id).await
    }
    async fn count_expired_purpose_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.count_expired_purpose_tokens(now).await
    }
    async fn delete_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let deleted = self.inner.delete_expired_purpose_tokens(now, limit).await?;
        record(&self.purpose_token_batches, limit, deleted);
        Ok(deleted)
    }
    fn expired_purpose_tokens_batch_size(&self) -> u32 {
        self.batch_size
    }
}
