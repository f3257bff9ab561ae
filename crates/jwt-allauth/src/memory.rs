//! [`MemoryStore`]: the session whitelist and purpose tokens in the process's memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use time::{OffsetDateTime, UtcOffset};

use crate::device::DeviceInfo;
use crate::error::StoreError;
use crate::events::{Event, EventLog, NewEvent, RevocationReason};
use crate::rotation::{Decision, LockedSession, classify};
use crate::store::{
    NewPurposeToken, NewSession, PurposeTokenRecord, PurposeTokenStore, RotateResult, Rotation,
    SessionEnd, SessionRecord, SessionStore, find_matching_hash,
};

/// The session whitelist, purpose tokens and event log in memory, behind one lock: every
/// operation is atomic, with its events, so it gives the guarantees of the [`store`](crate::store) module, and it
/// passes the conformance suite (`jwt_allauth::conformance`, feature `test-util`).
///
/// Everything is lost when the process ends, and two processes do not share it: it is for
/// tests, examples and single-process development servers. Timestamps are kept at whole
/// seconds in UTC, as the SQL stores keep them. Clones share the same data.
///
/// ```
/// use jwt_allauth::memory::MemoryStore;
/// use jwt_allauth::store::SessionStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(async {
/// let store = MemoryStore::new();
/// assert!(!store.session_is_active("0123456789abcdef0123456789abcdef").await?);
/// # Ok::<(), jwt_allauth::StoreError>(())
/// # }).expect("example");
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        // A panic while the lock was held may have left a change half made.
        self.tables
            .lock()
            .map_err(|_| StoreError::Backend(Box::new(MemoryStoreError::Poisoned)))
    }
}

/// Why the memory store refused an operation.
#[derive(Debug, thiserror::Error)]
enum MemoryStoreError {
    /// A new session with the id of a stored one.
    #[error("a session with this id already exists")]
    DuplicateSession,
    /// A session (new or rotated) with the current `jti` of another one.
    #[error("a session with this jti already exists")]
    DuplicateJti,
    /// A thread panicked while it held the store's lock.
    #[error("the memory store's lock was poisoned by a panic")]
    Poisoned,
}

fn conflict(err: MemoryStoreError) -> StoreError {
    StoreError::Conflict(Box::new(err))
}

/// A timestamp as stored: whole seconds, UTC.
fn stored(t: OffsetDateTime) -> OffsetDateTime {
    t.truncate_to_second().to_offset(UtcOffset::UTC)
}

#[derive(Debug, Default)]
struct Tables {
    sessions: HashMap<String, SessionRow>,
    /// The current `jti` of every session: unique, as the SQL stores' index makes it.
    jtis: HashSet<String>,
    /// One pending token per (user id, purpose).
    purpose_tokens: HashMap<(String, String), PurposeTokenRow>,
    /// Insertion order, which breaks ties between rows created in the same second.
    next_seq: u64,
    /// The event log, in sequence order.
    events: Vec<Event>,
}

#[derive(Debug)]
struct SessionRow {
    seq: u64,
    user_id: String,
    jti: String,
    previous_jti: Option<String>,
    rotated_at: Option<OffsetDateTime>,
    refresh_claims: String,
    enabled: bool,
    created: OffsetDateTime,
    last_used: OffsetDateTime,
    expires_at: OffsetDateTime,
    device: DeviceInfo,
}

#[derive(Debug)]
struct PurposeTokenRow {
    seq: u64,
    token_hash: [u8; 32],
    created: OffsetDateTime,
    expires_at: OffsetDateTime,
    device: DeviceInfo,
}

impl Tables {
    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn remove_session(&mut self, session: &str, end: SessionEnd) -> bool {
        match self.sessions.remove(session) {
            Some(row) => {
                self.jtis.remove(&row.jti);
                self.log(NewEvent::session_revoked(
                    row.user_id,
                    session,
                    end.reason,
                    Some(row.device),
                    end.at,
                ));
                true
            }
            None => false,
        }
    }

    /// Appends an event, with the next sequence number.
    fn log(&mut self, event: NewEvent) {
        let seq = self.events.last().map_or(1, |last| last.seq + 1);
        self.events.push(Event {
            id: Event::new_id(),
            seq,
            event_type: event.event_type,
            time: stored(event.time),
            user_id: event.user_id,
            session: event.session,
            reason: event.reason,
            device: event.device,
        });
    }

    /// Removes up to `limit` rows with `expires_at <= now`, oldest first, and how many.
    fn remove_expired_sessions(&mut self, now: OffsetDateTime, limit: u32) -> u64 {
        let mut expired: Vec<(OffsetDateTime, String)> = self
            .sessions
            .iter()
            .filter(|(_, row)| row.expires_at <= now)
            .map(|(session, row)| (row.expires_at, session.clone()))
            .collect();
        expired.sort_unstable();
        let mut deleted = 0;
        let end = SessionEnd::new(RevocationReason::Expired, now);
        for (_, session) in expired.into_iter().take(limit as usize) {
            deleted += u64::from(self.remove_session(&session, end));
        }
        deleted
    }
}

impl SessionRow {
    fn record(&self, session: &str) -> SessionRecord {
        SessionRecord {
            session: session.to_owned(),
            user_id: self.user_id.clone(),
            enabled: self.enabled,
            created: self.created,
            last_used: self.last_used,
            expires_at: self.expires_at,
            device: self.device.clone(),
        }
    }

    fn locked(&self) -> LockedSession {
        LockedSession {
            user_id: self.user_id.clone(),
            jti: self.jti.clone(),
            previous_jti: self.previous_jti.clone(),
            rotated_at: self.rotated_at,
            refresh_claims: self.refresh_claims.clone(),
            enabled: self.enabled,
        }
    }
}

impl SessionStore for MemoryStore {
    async fn open_session(&self, session: &NewSession) -> Result<(), StoreError> {
        let mut tables = self.lock()?;
        if tables.sessions.contains_key(&session.session) {
            return Err(conflict(MemoryStoreError::DuplicateSession));
        }
        if !tables.jtis.insert(session.jti.clone()) {
            return Err(conflict(MemoryStoreError::DuplicateJti));
        }
        let seq = tables.seq();
        let row = SessionRow {
            seq,
            user_id: session.user_id.clone(),
            jti: session.jti.clone(),
            previous_jti: None,
            rotated_at: None,
            refresh_claims: session.refresh_claims.clone(),
            enabled: session.enabled,
            created: stored(session.created),
            last_used: stored(session.created),
            expires_at: stored(session.expires_at),
            device: session.device.clone(),
        };
        tables.sessions.insert(session.session.clone(), row);
        tables.log(NewEvent::session_created(
            &session.user_id,
            &session.session,
            session.device.clone(),
            session.created,
        ));
        Ok(())
    }

    async fn rotate_session(&self, rotation: &Rotation) -> Result<RotateResult, StoreError> {
        let mut tables = self.lock()?;
        let tables = &mut *tables;
        let Tables { sessions, jtis, .. } = tables;
        let row = sessions.get_mut(&rotation.session);
        let decision = classify(row.as_deref().map(SessionRow::locked), rotation);
        match (&decision, row) {
            (Decision::Rotate, Some(row)) => {
                if !jtis.insert(rotation.new_jti.clone()) {
                    return Err(conflict(MemoryStoreError::DuplicateJti));
                }
                jtis.remove(&row.jti);
                let presented = std::mem::replace(&mut row.jti, rotation.new_jti.clone());
                row.previous_jti = Some(presented);
                row.rotated_at = Some(stored(rotation.now));
                row.last_used = stored(rotation.now);
                row.expires_at = stored(rotation.expires_at);
                row.refresh_claims = rotation.new_refresh_claims.clone();
                row.device = rotation.device.clone();
            }
            (Decision::Replayed, Some(_)) => {
                let end = SessionEnd::new(RevocationReason::Replay, rotation.now);
                tables.remove_session(&rotation.session, end);
            }
            _ => {}
        }
        Ok(decision.into_result())
    }

    async fn revoke_session(&self, session: &str, end: SessionEnd) -> Result<bool, StoreError> {
        Ok(self.lock()?.remove_session(session, end))
    }

    async fn revoke_user_session(
        &self,
        user_id: &str,
        session: &str,
        end: SessionEnd,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock()?;
        let owned = tables
            .sessions
            .get(session)
            .is_some_and(|row| row.user_id == user_id);
        Ok(owned && tables.remove_session(session, end))
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        end: SessionEnd,
    ) -> Result<Vec<String>, StoreError> {
        let mut tables = self.lock()?;
        let mut owned: Vec<(OffsetDateTime, u64, String)> = tables
            .sessions
            .iter()
            .filter(|(_, row)| row.user_id == user_id)
            .map(|(session, row)| (row.created, row.seq, session.clone()))
            .collect();
        owned.sort_unstable();
        let mut deleted = Vec::with_capacity(owned.len());
        for (_, _, session) in owned {
            if tables.remove_session(&session, end) {
                deleted.push(session);
            }
        }
        Ok(deleted)
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let tables = self.lock()?;
        let mut rows: Vec<(&String, &SessionRow)> = tables
            .sessions
            .iter()
            .filter(|(_, row)| row.user_id == user_id)
            .collect();
        rows.sort_unstable_by_key(|(_, row)| std::cmp::Reverse((row.created, row.seq)));
        Ok(rows
            .into_iter()
            .map(|(session, row)| row.record(session))
            .collect())
    }

    async fn session_is_active(&self, session: &str) -> Result<bool, StoreError> {
        Ok(self.lock()?.sessions.contains_key(session))
    }

    async fn count_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let tables = self.lock()?;
        let count = tables
            .sessions
            .values()
            .filter(|row| row.expires_at <= now)
            .count();
        Ok(count as u64)
    }

    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        Ok(self.lock()?.remove_expired_sessions(now, limit))
    }
}

impl PurposeTokenStore for MemoryStore {
    async fn replace_purpose_token(&self, token: &NewPurposeToken) -> Result<(), StoreError> {
        let mut tables = self.lock()?;
        let key = (token.user_id.clone(), token.purpose.clone());
        // A replaced token keeps its place in the insertion order, as an upsert keeps
        // its row id.
        let seq = match tables.purpose_tokens.get(&key) {
            Some(row) => row.seq,
            None => tables.seq(),
        };
        let row = PurposeTokenRow {
            seq,
            token_hash: token.token_hash,
            created: stored(token.created),
            expires_at: stored(token.expires_at),
            device: token.device.clone(),
        };
        tables.purpose_tokens.insert(key, row);
        Ok(())
    }

    async fn purpose_token_is_live(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let tables = self.lock()?;
        let candidate = tables
            .purpose_tokens
            .get(&(user_id.to_owned(), purpose.to_owned()))
            .filter(|row| row.expires_at > now)
            .map(|row| ((), row.token_hash.as_slice()));
        Ok(find_matching_hash(candidate, token_hash).is_some())
    }

    async fn consume_purpose_token(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<PurposeTokenRecord>, StoreError> {
        let mut tables = self.lock()?;
        let key = (user_id.to_owned(), purpose.to_owned());
        let candidate = tables
            .purpose_tokens
            .get(&key)
            .filter(|row| row.expires_at > now)
            .map(|row| ((), row.token_hash.as_slice()));
        if find_matching_hash(candidate, token_hash).is_none() {
            return Ok(None);
        }
        Ok(tables
            .purpose_tokens
            .remove(&key)
            .map(|row| PurposeTokenRecord {
                purpose: key.1,
                user_id: key.0,
                created: row.created,
                expires_at: row.expires_at,
                device: row.device,
            }))
    }

    async fn list_user_purpose_tokens(
        &self,
        user_id: &str,
    ) -> Result<Vec<PurposeTokenRecord>, StoreError> {
        let tables = self.lock()?;
        let mut rows: Vec<(&String, &PurposeTokenRow)> = tables
            .purpose_tokens
            .iter()
            .filter(|((owner, _), _)| owner == user_id)
            .map(|((_, purpose), row)| (purpose, row))
            .collect();
        rows.sort_unstable_by_key(|(_, row)| std::cmp::Reverse((row.created, row.seq)));
        Ok(rows
            .into_iter()
            .map(|(purpose, row)| PurposeTokenRecord {
                purpose: purpose.clone(),
                user_id: user_id.to_owned(),
                created: row.created,
                expires_at: row.expires_at,
                device: row.device.clone(),
            })
            .collect())
    }

    async fn revoke_user_purpose_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let mut tables = self.lock()?;
        let before = tables.purpose_tokens.len();
        tables
            .purpose_tokens
            .retain(|(owner, _), _| owner != user_id);
        Ok((before - tables.purpose_tokens.len()) as u64)
    }

    async fn count_expired_purpose_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let tables = self.lock()?;
        let count = tables
            .purpose_tokens
            .values()
            .filter(|row| row.expires_at <= now)
            .count();
        Ok(count as u64)
    }

    async fn delete_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tables = self.lock()?;
        let mut expired: Vec<(OffsetDateTime, (String, String))> = tables
            .purpose_tokens
            .iter()
            .filter(|(_, row)| row.expires_at <= now)
            .map(|(key, row)| (row.expires_at, key.clone()))
            .collect();
        expired.sort_unstable();
        let mut deleted = 0;
        for (_, key) in expired.into_iter().take(limit as usize) {
            deleted += u64::from(tables.purpose_tokens.remove(&key).is_some());
        }
        Ok(deleted)
    }
}

impl EventLog for MemoryStore {
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let tables = self.lock()?;
        let start = tables.events.partition_point(|event| event.seq <= after);
        Ok(tables.events[start..]
            .iter()
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn last_seq_before(&self, time: OffsetDateTime) -> Result<i64, StoreError> {
        let tables = self.lock()?;
        Ok(tables
            .events
            .iter()
            .filter(|event| event.time < time)
            .map(|event| event.seq)
            .max()
            .unwrap_or(0))
    }

    async fn count_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let tables = self.lock()?;
        let old = tables
            .events
            .iter()
            .take_while(|event| event.time < before)
            .count();
        Ok(old as u64)
    }

    async fn delete_events_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tables = self.lock()?;
        // Events are in time order as well as sequence order: the oldest come first.
        let old = tables
            .events
            .iter()
            .take(limit as usize)
            .take_while(|event| event.time < before)
            .count();
        tables.events.drain(..old);
        Ok(old as u64)
    }
}
