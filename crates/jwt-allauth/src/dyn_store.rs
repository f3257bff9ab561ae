//! [`DynStore`]: any store behind one type, so that the [`SessionManager`] and the HTTP
//! layer above it carry no store type parameter.
//!
//! [`SessionManager`]: crate::SessionManager

use std::any::{Any, type_name};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::events::{Event, EventLog};
use crate::store::{
    NewPurposeToken, NewSession, PurposeTokenRecord, PurposeTokenStore, RotateResult, Rotation,
    SessionEnd, SessionRecord, SessionStore,
};

/// A boxed future, as the erased store returns.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A [`SessionStore`] and [`PurposeTokenStore`] behind a trait object: what the
/// [`SessionManager`](crate::SessionManager) holds, whatever store it was built with.
/// Cheap to clone (one `Arc`), and itself a store.
///
/// Store calls go through one boxed future each: a store call is a database round trip,
/// next to which the allocation does not count, and the stateless access-token check
/// never reaches the store.
#[derive(Clone)]
pub struct DynStore {
    sessions: Arc<dyn ErasedSessions>,
    /// `None` for a store that keeps sessions only.
    purpose_tokens: Option<Arc<dyn ErasedPurposeTokens>>,
    /// `None` for a store that keeps no event log.
    events: Option<Arc<dyn ErasedEvents>>,
    name: &'static str,
}

impl DynStore {
    /// `store`, erased. A store that is already a `DynStore` is taken as it is, not
    /// wrapped a second time.
    pub fn new<S: SessionStore + PurposeTokenStore + 'static>(store: S) -> Self {
        let mut store = Some(store);
        if let Some(erased) = (&mut store as &mut dyn Any).downcast_mut::<Option<Self>>()
            && let Some(erased) = erased.take()
        {
            return erased;
        }
        let Some(store) = store else {
            unreachable!("taken only when it is a DynStore, which returned")
        };
        let store = Arc::new(store);
        Self {
            sessions: Arc::clone(&store) as Arc<dyn ErasedSessions>,
            purpose_tokens: Some(store),
            events: None,
            name: type_name::<S>(),
        }
    }

    /// `store`, erased, with its [`EventLog`]: what the revocation feed, webhooks and the
    /// audit log read. The bundled stores are built this way.
    pub fn with_events<S: SessionStore + PurposeTokenStore + EventLog + 'static>(store: S) -> Self {
        let store = Arc::new(store);
        Self {
            sessions: Arc::clone(&store) as Arc<dyn ErasedSessions>,
            purpose_tokens: Some(Arc::clone(&store) as Arc<dyn ErasedPurposeTokens>),
            events: Some(store),
            name: type_name::<S>(),
        }
    }

    /// Whether the store keeps an event log.
    pub fn has_event_log(&self) -> bool {
        self.events.is_some()
    }

    /// A store that keeps sessions only: every purpose-token operation fails with
    /// [`StoreError::Backend`].
    pub fn sessions_only<S: SessionStore + 'static>(store: S) -> Self {
        Self {
            sessions: Arc::new(store),
            purpose_tokens: None,
            events: None,
            name: type_name::<S>(),
        }
    }

    fn events(&self) -> Result<&dyn ErasedEvents, StoreError> {
        self.events
            .as_deref()
            .ok_or_else(|| StoreError::Backend("this store keeps no event log".into()))
    }

    fn purpose_tokens(&self) -> Result<&dyn ErasedPurposeTokens, StoreError> {
        self.purpose_tokens
            .as_deref()
            .ok_or_else(|| StoreError::Backend("this store keeps no purpose tokens".into()))
    }
}

impl fmt::Debug for DynStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DynStore").field(&self.name).finish()
    }
}

/// [`SessionStore`] with boxed futures, so that it can be a trait object.
trait ErasedSessions: Send + Sync {
    fn open_session<'a>(&'a self, session: &'a NewSession)
    -> BoxFuture<'a, Result<(), StoreError>>;
    fn rotate_session<'a>(
        &'a self,
        rotation: &'a Rotation,
    ) -> BoxFuture<'a, Result<RotateResult, StoreError>>;
    fn revoke_session<'a>(
        &'a self,
        session: &'a str,
        end: SessionEnd,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn revoke_user_session<'a>(
        &'a self,
        user_id: &'a str,
        session: &'a str,
        end: SessionEnd,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn revoke_user_sessions<'a>(
        &'a self,
        user_id: &'a str,
        end: SessionEnd,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
    fn list_user_sessions<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SessionRecord>, StoreError>>;
    fn session_is_active<'a>(&'a self, session: &'a str)
    -> BoxFuture<'a, Result<bool, StoreError>>;
    fn count_expired_sessions(&self, now: OffsetDateTime)
    -> BoxFuture<'_, Result<u64, StoreError>>;
    fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
    fn expired_sessions_batch_size(&self) -> u32;
}

impl<T: SessionStore> ErasedSessions for T {
    fn open_session<'a>(
        &'a self,
        session: &'a NewSession,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::open_session(self, session))
    }
    fn rotate_session<'a>(
        &'a self,
        rotation: &'a Rotation,
    ) -> BoxFuture<'a, Result<RotateResult, StoreError>> {
        Box::pin(SessionStore::rotate_session(self, rotation))
    }
    fn revoke_session<'a>(
        &'a self,
        session: &'a str,
        end: SessionEnd,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(SessionStore::revoke_session(self, session, end))
    }
    fn revoke_user_session<'a>(
        &'a self,
        user_id: &'a str,
        session: &'a str,
        end: SessionEnd,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(SessionStore::revoke_user_session(
            self, user_id, session, end,
        ))
    }
    fn revoke_user_sessions<'a>(
        &'a self,
        user_id: &'a str,
        end: SessionEnd,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(SessionStore::revoke_user_sessions(self, user_id, end))
    }
    fn list_user_sessions<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SessionRecord>, StoreError>> {
        Box::pin(SessionStore::list_user_sessions(self, user_id))
    }
    fn session_is_active<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(SessionStore::session_is_active(self, session))
    }
    fn count_expired_sessions(
        &self,
        now: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(SessionStore::count_expired_sessions(self, now))
    }
    fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(SessionStore::delete_expired_sessions(self, now, limit))
    }
    fn expired_sessions_batch_size(&self) -> u32 {
        SessionStore::expired_sessions_batch_size(self)
    }
}

/// [`PurposeTokenStore`] with boxed futures, so that it can be a trait object.
trait ErasedPurposeTokens: Send + Sync {
    fn replace_purpose_token<'a>(
        &'a self,
        token: &'a NewPurposeToken,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn consume_purpose_token<'a>(
        &'a self,
        user_id: &'a str,
        purpose: &'a str,
        token_hash: &'a [u8; 32],
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Option<PurposeTokenRecord>, StoreError>>;
    fn purpose_token_is_live<'a>(
        &'a self,
        user_id: &'a str,
        purpose: &'a str,
        token_hash: &'a [u8; 32],
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn list_user_purpose_tokens<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PurposeTokenRecord>, StoreError>>;
    fn revoke_user_purpose_tokens<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn count_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
    fn delete_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
    fn expired_purpose_tokens_batch_size(&self) -> u32;
}

impl<T: PurposeTokenStore> ErasedPurposeTokens for T {
    fn replace_purpose_token<'a>(
        &'a self,
        token: &'a NewPurposeToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(PurposeTokenStore::replace_purpose_token(self, token))
    }
    fn consume_purpose_token<'a>(
        &'a self,
        user_id: &'a str,
        purpose: &'a str,
        token_hash: &'a [u8; 32],
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Option<PurposeTokenRecord>, StoreError>> {
        Box::pin(PurposeTokenStore::consume_purpose_token(
            self, user_id, purpose, token_hash, now,
        ))
    }
    fn purpose_token_is_live<'a>(
        &'a self,
        user_id: &'a str,
        purpose: &'a str,
        token_hash: &'a [u8; 32],
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(PurposeTokenStore::purpose_token_is_live(
            self, user_id, purpose, token_hash, now,
        ))
    }
    fn list_user_purpose_tokens<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PurposeTokenRecord>, StoreError>> {
        Box::pin(PurposeTokenStore::list_user_purpose_tokens(self, user_id))
    }
    fn revoke_user_purpose_tokens<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(PurposeTokenStore::revoke_user_purpose_tokens(self, user_id))
    }
    fn count_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(PurposeTokenStore::count_expired_purpose_tokens(self, now))
    }
    fn delete_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(PurposeTokenStore::delete_expired_purpose_tokens(
            self, now, limit,
        ))
    }
    fn expired_purpose_tokens_batch_size(&self) -> u32 {
        PurposeTokenStore::expired_purpose_tokens_batch_size(self)
    }
}

impl SessionStore for DynStore {
    async fn open_session(&self, session: &NewSession) -> Result<(), StoreError> {
        self.sessions.open_session(session).await
    }
    async fn rotate_session(&self, rotation: &Rotation) -> Result<RotateResult, StoreError> {
        self.sessions.rotate_session(rotation).await
    }
    async fn revoke_session(&self, session: &str, end: SessionEnd) -> Result<bool, StoreError> {
        self.sessions.revoke_session(session, end).await
    }
    async fn revoke_user_session(
        &self,
        user_id: &str,
        session: &str,
        end: SessionEnd,
    ) -> Result<bool, StoreError> {
        self.sessions
            .revoke_user_session(user_id, session, end)
            .await
    }
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        end: SessionEnd,
    ) -> Result<Vec<String>, StoreError> {
        self.sessions.revoke_user_sessions(user_id, end).await
    }
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.sessions.list_user_sessions(user_id).await
    }
    async fn session_is_active(&self, session: &str) -> Result<bool, StoreError> {
        self.sessions.session_is_active(session).await
    }
    async fn count_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.sessions.count_expired_sessions(now).await
    }
    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.sessions.delete_expired_sessions(now, limit).await
    }
    fn expired_sessions_batch_size(&self) -> u32 {
        self.sessions.expired_sessions_batch_size()
    }
}

impl PurposeTokenStore for DynStore {
    async fn replace_purpose_token(&self, token: &NewPurposeToken) -> Result<(), StoreError> {
        self.purpose_tokens()?.replace_purpose_token(token).await
    }
    async fn consume_purpose_token(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<PurposeTokenRecord>, StoreError> {
        self.purpose_tokens()?
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
        self.purpose_tokens()?
            .purpose_token_is_live(user_id, purpose, token_hash, now)
            .await
    }
    async fn list_user_purpose_tokens(
        &self,
        user_id: &str,
    ) -> Result<Vec<PurposeTokenRecord>, StoreError> {
        self.purpose_tokens()?
            .list_user_purpose_tokens(user_id)
            .await
    }
    async fn revoke_user_purpose_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        self.purpose_tokens()?
            .revoke_user_purpose_tokens(user_id)
            .await
    }
    async fn count_expired_purpose_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.purpose_tokens()?
            .count_expired_purpose_tokens(now)
            .await
    }
    async fn delete_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.purpose_tokens()?
            .delete_expired_purpose_tokens(now, limit)
            .await
    }
    fn expired_purpose_tokens_batch_size(&self) -> u32 {
        self.purpose_tokens
            .as_ref()
            .map_or(crate::PURGE_BATCH_SIZE, |store| {
                store.expired_purpose_tokens_batch_size()
            })
    }
}

/// [`EventLog`] with boxed futures.
trait ErasedEvents: Send + Sync {
    fn events_after(&self, after: i64, limit: u32)
    -> BoxFuture<'_, Result<Vec<Event>, StoreError>>;
    fn last_seq_before(&self, time: OffsetDateTime) -> BoxFuture<'_, Result<i64, StoreError>>;
    fn count_events_before(&self, before: OffsetDateTime)
    -> BoxFuture<'_, Result<u64, StoreError>>;
    fn delete_events_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
}

impl<T: EventLog> ErasedEvents for T {
    fn events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Event>, StoreError>> {
        Box::pin(EventLog::events_after(self, after, limit))
    }
    fn last_seq_before(&self, time: OffsetDateTime) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(EventLog::last_seq_before(self, time))
    }
    fn count_events_before(
        &self,
        before: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(EventLog::count_events_before(self, before))
    }
    fn delete_events_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(EventLog::delete_events_before(self, before, limit))
    }
}

/// Fails with [`StoreError::Backend`] for a store built without its event log
/// ([`DynStore::new`], [`DynStore::sessions_only`]).
impl EventLog for DynStore {
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        self.events()?.events_after(after, limit).await
    }
    async fn last_seq_before(&self, time: OffsetDateTime) -> Result<i64, StoreError> {
        self.events()?.last_seq_before(time).await
    }
    async fn count_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.events()?.count_events_before(before).await
    }
    async fn delete_events_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.events()?.delete_events_before(before, limit).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    #[tokio::test]
    async fn an_erased_store_is_not_erased_twice_and_a_sessions_only_store_refuses_purpose_tokens()
    {
        let erased = DynStore::new(MemoryStore::default());
        let again = DynStore::new(erased.clone());
        assert!(Arc::ptr_eq(&erased.sessions, &again.sessions));
        assert!(format!("{again:?}").contains("MemoryStore"));

        let sessions_only = DynStore::sessions_only(MemoryStore::default());
        let now = OffsetDateTime::now_utc();
        assert!(
            SessionStore::count_expired_sessions(&sessions_only, now)
                .await
                .is_ok()
        );
        assert!(matches!(
            PurposeTokenStore::count_expired_purpose_tokens(&sessions_only, now).await,
            Err(StoreError::Backend(_))
        ));
        assert!(
            PurposeTokenStore::count_expired_purpose_tokens(&erased, now)
                .await
                .is_ok()
        );
    }
}
