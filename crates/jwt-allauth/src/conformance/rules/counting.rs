//! A store wrapper that counts every call, to prove that cheap rejections never reach
//! the database (sessions.md rule 8).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::StoreError;
use crate::store::{NewSession, RotateResult, Rotation, SessionEnd, SessionRecord, SessionStore};
use time::OffsetDateTime;

/// Forwards every call to the wrapped store and counts it.
#[derive(Debug, Clone)]
pub struct CountingStore<S> {
    inner: S,
    /// How many calls reached the store.
    pub calls: Arc<AtomicUsize>,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`, with no call counted yet.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Arc::default(),
        }
    }

    fn count(&self) -> &S {
        self.calls.fetch_add(1, Ordering::SeqCst);
        &self.inner
    }
}

impl<S: SessionStore> SessionStore for CountingStore<S> {
    async fn open_session(&self, session: &NewSession) -> Result<(), StoreError> {
        self.count().open_session(session).await
    }
    async fn rotate_session(&self, rotation: &Rotation) -> Result<RotateResult, StoreError> {
        self.count().rotate_session(rotation).await
    }
    async fn revoke_session(&self, session: &str, end: SessionEnd) -> Result<bool, StoreError> {
        self.count().revoke_session(session, end).await
    }
    async fn revoke_user_session(
        &self,
        user_id: &str,
        session: &str,
        end: SessionEnd,
    ) -> Result<bool, StoreError> {
        self.count()
            .revoke_user_session(user_id, session, end)
            .await
    }
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        end: SessionEnd,
    ) -> Result<Vec<String>, StoreError> {
        self.count().revoke_user_sessions(user_id, end).await
    }
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.count().list_user_sessions(user_id).await
    }
    async fn session_is_active(&self, session: &str) -> Result<bool, StoreError> {
        self.count().session_is_active(session).await
    }
    async fn count_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.count().count_expired_sessions(now).await
    }
    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.count().delete_expired_sessions(now, limit).await
    }
}
