//! The storage the library needs: the session whitelist and single-use purpose tokens.
//!
//! `jwt-allauth-sqlx` implements both traits for SQLite and PostgreSQL, and
//! [`MemoryStore`](crate::memory::MemoryStore) in memory; each runs one conformance suite
//! (`jwt_allauth::conformance`, feature `test-util`). A custom store must give the same
//! guarantees, and can run the same suite:
//!
//! - [`SessionStore::rotate_session`] is atomic per session: of concurrent calls that
//!   present the same `jti`, exactly one returns [`RotateResult::Rotated`]. What a
//!   rotation does is decided by [`rotation::classify`](crate::rotation::classify), which
//!   a store calls on the row it read under its lock.
//! - A revocation that reports a session deleted leaves no row behind, whatever rotation
//!   ran concurrently (update the row in place, so the database's row lock orders the two).
//! - [`PurposeTokenStore::consume_purpose_token`] succeeds at most once per token, and at
//!   most one token is pending per (user, purpose), even under concurrent replacement.
//! - Timestamps may be kept at whole seconds (both bundled stores do).
//! - The reuse interval excludes its end: a retry is recognised while
//!   `now < rotated_at + reuse_interval`.
//!
//! [`SessionStore`] shows a complete custom store.

use std::future::Future;

use serde::Serialize;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::device::DeviceInfo;
use crate::error::StoreError;
#[cfg(doc)]
use crate::events::EventLog;
use crate::events::RevocationReason;
use crate::manager::PURGE_BATCH_SIZE;

/// Why and when sessions are being ended, for the event a store writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEnd {
    /// Why.
    pub reason: RevocationReason,
    /// When.
    pub at: OffsetDateTime,
}

impl SessionEnd {
    /// Sessions ended for `reason` at `at`.
    pub fn new(reason: RevocationReason, at: OffsetDateTime) -> Self {
        Self { reason, at }
    }
}

/// A whitelist row to insert when a user logs in.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    /// Session id, 32 lowercase hex.
    pub session: String,
    /// Owner.
    pub user_id: String,
    /// `jti` of the session's first refresh token.
    pub jti: String,
    /// The JSON payload of that refresh token, kept so that a retry inside the reuse
    /// interval can be answered with the byte-identical token (it holds no secret: the
    /// signature is recomputed with the server's key).
    pub refresh_claims: String,
    /// `false` for a session opened before a mandatory e-mail verification.
    pub enabled: bool,
    /// Session start.
    pub created: OffsetDateTime,
    /// `exp` of the refresh token.
    pub expires_at: OffsetDateTime,
    /// Device metadata of the login request (already truncated).
    pub device: DeviceInfo,
}

/// One rotation attempt: "if `presented_jti` is the session's current token, make
/// `new_jti` current".
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    /// Session id from the presented token.
    pub session: String,
    /// Owner, from the presented token (a row of another user is never touched).
    pub user_id: String,
    /// `jti` of the presented refresh token.
    pub presented_jti: String,
    /// `jti` of the successor.
    pub new_jti: String,
    /// JSON payload of the successor.
    pub new_refresh_claims: String,
    /// `exp` of the successor.
    pub expires_at: OffsetDateTime,
    /// Device metadata of this request (already truncated).
    pub device: DeviceInfo,
    /// The current time.
    pub now: OffsetDateTime,
    /// The reuse (grace) interval; zero disables it.
    pub reuse_interval: Duration,
}

/// What [`SessionStore::rotate_session`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateResult {
    /// The presented token was current; the successor is now current.
    Rotated,
    /// The presented token is the immediate predecessor of the current one, presented
    /// within the reuse interval. Nothing changed; here is the current token's payload.
    Retried {
        /// JSON payload of the session's current refresh token.
        refresh_claims: String,
    },
    /// The presented token is an older one (or the predecessor after the interval): the
    /// session row was deleted, and that deletion is committed.
    Replayed,
    /// No session with this id belongs to this user.
    NotFound,
    /// The session exists but is disabled (`enabled = false`); nothing changed.
    Disabled,
}

/// A whitelisted session as listed to its owner. Serializes to the contract's
/// `/sessions/` objects (minus `current`, which depends on the request); the current
/// `jti` and the stored payload are never exposed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionRecord {
    /// Session id.
    pub session: String,
    /// Owner.
    #[serde(skip)]
    pub user_id: String,
    /// Whether the session may rotate.
    #[serde(skip)]
    pub enabled: bool,
    /// Session start (ISO 8601 UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: OffsetDateTime,
    /// Last login or rotation (ISO 8601 UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_used: OffsetDateTime,
    /// `exp` of the current refresh token (ISO 8601 UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: OffsetDateTime,
    /// Device metadata of the last login or rotation.
    #[serde(flatten)]
    pub device: DeviceInfo,
}

/// A purpose token to store. Only the SHA-256 hash of the token is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPurposeToken {
    /// SHA-256 of the token value.
    pub token_hash: [u8; 32],
    /// What the token is for (`"password_reset"`, ...).
    pub purpose: String,
    /// Owner.
    pub user_id: String,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// Device metadata of the request that asked for it (already truncated).
    pub device: DeviceInfo,
}

/// A stored purpose token, without its hash. Serializes for API responses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PurposeTokenRecord {
    /// What the token is for.
    pub purpose: String,
    /// Owner.
    pub user_id: String,
    /// Creation time (ISO 8601 UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Expiry (ISO 8601 UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Device metadata of the request that asked for it.
    #[serde(flatten)]
    pub device: DeviceInfo,
}

/// The session whitelist: one row per live session, updated in place by rotation.
///
/// # A custom store
///
/// A complete session store in memory: one lock makes every operation atomic (a store
/// on a database uses the database's row locks and conditional statements instead), and
/// [`classify`](crate::rotation::classify) decides what a rotation does with the row it
/// finds. [`MemoryStore`](crate::memory::MemoryStore) is the same with purpose tokens
/// added, and runs the whole conformance suite.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex, MutexGuard};
///
/// use jwt_allauth::StoreError;
/// use jwt_allauth::rotation::{Decision, LockedSession, classify};
/// use jwt_allauth::store::{NewSession, RotateResult, Rotation, SessionEnd, SessionRecord, SessionStore};
/// use time::OffsetDateTime;
///
/// /// Sessions by id. Clones share the rows.
/// #[derive(Clone, Default)]
/// struct Sessions(Arc<Mutex<HashMap<String, Row>>>);
///
/// /// A row: the session as opened, with `jti`, payload, expiry and device kept
/// /// current by rotation.
/// struct Row {
///     current: NewSession,
///     previous_jti: Option<String>,
///     rotated_at: Option<OffsetDateTime>,
///     last_used: OffsetDateTime,
/// }
///
/// impl Sessions {
///     fn lock(&self) -> Result<MutexGuard<'_, HashMap<String, Row>>, StoreError> {
///         self.0.lock().map_err(|_| StoreError::Backend("poisoned lock".into()))
///     }
/// }
///
/// impl Row {
///     fn record(&self) -> SessionRecord {
///         SessionRecord {
///             session: self.current.session.clone(),
///             user_id: self.current.user_id.clone(),
///             enabled: self.current.enabled,
///             created: self.current.created,
///             last_used: self.last_used,
///             expires_at: self.current.expires_at,
///             device: self.current.device.clone(),
///         }
///     }
/// }
///
/// impl SessionStore for Sessions {
///     async fn open_session(&self, new: &NewSession) -> Result<(), StoreError> {
///         let mut rows = self.lock()?;
///         if rows.contains_key(&new.session) || rows.values().any(|r| r.current.jti == new.jti) {
///             return Err(StoreError::Conflict("duplicate session id or jti".into()));
///         }
///         let row = Row {
///             current: new.clone(),
///             previous_jti: None,
///             rotated_at: None,
///             last_used: new.created,
///         };
///         rows.insert(new.session.clone(), row);
///         Ok(())
///     }
///
///     async fn rotate_session(&self, rotation: &Rotation) -> Result<RotateResult, StoreError> {
///         let mut rows = self.lock()?;
///         let row = rows.get_mut(&rotation.session);
///         let locked = row.as_deref().map(|row| LockedSession {
///             user_id: row.current.user_id.clone(),
///             jti: row.current.jti.clone(),
///             previous_jti: row.previous_jti.clone(),
///             rotated_at: row.rotated_at,
///             refresh_claims: row.current.refresh_claims.clone(),
///             enabled: row.current.enabled,
///         });
///         let decision = classify(locked, rotation);
///         match (&decision, row) {
///             (Decision::Rotate, Some(row)) => {
///                 let presented = std::mem::replace(&mut row.current.jti, rotation.new_jti.clone());
///                 row.previous_jti = Some(presented);
///                 row.rotated_at = Some(rotation.now);
///                 row.last_used = rotation.now;
///                 row.current.expires_at = rotation.expires_at;
///                 row.current.refresh_claims = rotation.new_refresh_claims.clone();
///                 row.current.device = rotation.device.clone();
///             }
///             (Decision::Replayed, _) => {
///                 rows.remove(&rotation.session);
///             }
///             _ => {}
///         }
///         Ok(decision.into_result())
///     }
///
///     async fn revoke_session(&self, session: &str, _: SessionEnd) -> Result<bool, StoreError> {
///         Ok(self.lock()?.remove(session).is_some())
///     }
///
///     async fn revoke_user_session(
///         &self,
///         user_id: &str,
///         session: &str,
///         _: SessionEnd,
///     ) -> Result<bool, StoreError> {
///         let mut rows = self.lock()?;
///         if rows.get(session).is_some_and(|row| row.current.user_id == user_id) {
///             rows.remove(session);
///             return Ok(true);
///         }
///         Ok(false)
///     }
///
///     async fn revoke_user_sessions(&self, user_id: &str, _: SessionEnd) -> Result<Vec<String>, StoreError> {
///         let mut rows = self.lock()?;
///         let owned: Vec<String> = rows
///             .iter()
///             .filter(|(_, row)| row.current.user_id == user_id)
///             .map(|(session, _)| session.clone())
///             .collect();
///         for session in &owned {
///             rows.remove(session);
///         }
///         Ok(owned)
///     }
///
///     async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
///         let rows = self.lock()?;
///         let mut records: Vec<SessionRecord> = rows
///             .values()
///             .filter(|row| row.current.user_id == user_id)
///             .map(Row::record)
///             .collect();
///         records.sort_by(|a, b| b.created.cmp(&a.created));
///         Ok(records)
///     }
///
///     async fn session_is_active(&self, session: &str) -> Result<bool, StoreError> {
///         Ok(self.lock()?.contains_key(session))
///     }
///
///     async fn count_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
///         let rows = self.lock()?;
///         Ok(rows.values().filter(|row| row.current.expires_at <= now).count() as u64)
///     }
///
///     async fn delete_expired_sessions(
///         &self,
///         now: OffsetDateTime,
///         limit: u32,
///     ) -> Result<u64, StoreError> {
///         let mut rows = self.lock()?;
///         let mut expired: Vec<(OffsetDateTime, String)> = rows
///             .values()
///             .filter(|row| row.current.expires_at <= now)
///             .map(|row| (row.current.expires_at, row.current.session.clone()))
///             .collect();
///         expired.sort();
///         expired.truncate(limit as usize);
///         for (_, session) in &expired {
///             rows.remove(session);
///         }
///         Ok(expired.len() as u64)
///     }
/// }
///
/// # #[cfg(feature = "test-util")]
/// // The rules of sessions.md through a `SessionManager` on this store, from the
/// // conformance suite (feature `test-util`).
/// jwt_allauth::conformance::block_on(async {
///     use jwt_allauth::conformance;
///     conformance::manager_rotation_and_replay(Sessions::default()).await;
///     conformance::manager_reuse_interval(Sessions::default()).await;
///     conformance::manager_disabled_sessions_do_not_rotate(Sessions::default()).await;
///     conformance::manager_concurrent_rotation_strict(Sessions::default()).await;
///     conformance::manager_revocation_beats_rotation(Sessions::default()).await;
/// });
/// ```
pub trait SessionStore: Send + Sync {
    /// Inserts a new session. A duplicate session id or `jti` is
    /// [`StoreError::Conflict`]. A store that keeps an [`EventLog`] writes
    /// `session.created` in the same transaction.
    fn open_session(
        &self,
        session: &NewSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Atomically rotates, classifies a retry, or deletes a replayed session. See
    /// [`RotateResult`] and the module documentation for the guarantees. A store that
    /// keeps an [`EventLog`] writes `session.revoked` (`replay`) with the deletion.
    fn rotate_session(
        &self,
        rotation: &Rotation,
    ) -> impl Future<Output = Result<RotateResult, StoreError>> + Send;

    /// Deletes a session whoever owns it (administration). Whether it existed. A
    /// store that keeps an [`EventLog`] writes `session.revoked` with `end`'s reason and
    /// time in the same transaction.
    fn revoke_session(
        &self,
        session: &str,
        end: SessionEnd,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a session only if `user_id` owns it. Whether it was deleted. Events as
    /// [`revoke_session`](Self::revoke_session).
    fn revoke_user_session(
        &self,
        user_id: &str,
        session: &str,
        end: SessionEnd,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes all sessions of a user. The ids of those it deleted. Events as
    /// [`revoke_session`](Self::revoke_session): one per session.
    fn revoke_user_sessions(
        &self,
        user_id: &str,
        end: SessionEnd,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The user's sessions, newest first.
    fn list_user_sessions(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, StoreError>> + Send;

    /// Whether a session row exists (the `access_token_session_check`).
    fn session_is_active(
        &self,
        session: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// How many sessions have `expires_at <= now`.
    fn count_expired_sessions(
        &self,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes at most `limit` sessions with `expires_at <= now`, in one short
    /// statement. How many were deleted. A store that keeps an [`EventLog`] writes one
    /// `session.revoked` (`expired`) per session, in the same transaction.
    ///
    /// A purge calls this back to back until fewer than `limit` rows are deleted. A store
    /// whose writers exclude each other may pace such a purge by pausing after a full
    /// batch, outside the statement (the SQLite store does).
    fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The `limit` a purge passes to [`delete_expired_sessions`]: as many rows as this
    /// store deletes in one statement without holding up rotations for long. A store that
    /// wraps another should forward it, or the wrapped store's choice is lost.
    ///
    /// Defaults to [`PURGE_BATCH_SIZE`].
    ///
    /// [`delete_expired_sessions`]: SessionStore::delete_expired_sessions
    fn expired_sessions_batch_size(&self) -> u32 {
        PURGE_BATCH_SIZE
    }
}

/// Single-use purpose tokens, stored as hashes.
pub trait PurposeTokenStore: Send + Sync {
    /// Stores a token, deleting the user's older tokens for the same purpose, atomically.
    fn replace_purpose_token(
        &self,
        token: &NewPurposeToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes and returns the unexpired token matching `(token_hash, purpose, user_id)`.
    /// Of concurrent calls for one token, at most one gets `Some`. The hash is compared
    /// in constant time.
    fn consume_purpose_token(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<PurposeTokenRecord>, StoreError>> + Send;

    /// Whether an unexpired token matching `(token_hash, purpose, user_id)` is stored,
    /// without consuming it: a link that a mail scanner may open (the password reset
    /// link's `GET`) is checked with it and consumed only by the user's own submission.
    /// The hash is compared in constant time.
    fn purpose_token_is_live(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The user's stored purpose tokens, newest first, including expired ones that have
    /// not been purged yet.
    fn list_user_purpose_tokens(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<PurposeTokenRecord>, StoreError>> + Send;

    /// Deletes all of the user's purpose tokens. How many were deleted.
    fn revoke_user_purpose_tokens(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// How many purpose tokens have `expires_at <= now`.
    fn count_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes at most `limit` purpose tokens with `expires_at <= now`, in one short
    /// statement. How many. A store may pace back-to-back calls as
    /// [`SessionStore::delete_expired_sessions`] describes.
    fn delete_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The `limit` a purge passes to [`delete_expired_purpose_tokens`]. A store that wraps
    /// another should forward it.
    ///
    /// Defaults to [`PURGE_BATCH_SIZE`].
    ///
    /// [`delete_expired_purpose_tokens`]: PurposeTokenStore::delete_expired_purpose_tokens
    fn expired_purpose_tokens_batch_size(&self) -> u32 {
        PURGE_BATCH_SIZE
    }
}

/// The id of the candidate whose stored hash equals `token_hash`, for
/// [`PurposeTokenStore::consume_purpose_token`]. Every candidate is compared, each in
/// constant time, so the timing says nothing about which bytes matched.
pub fn find_matching_hash<'a, I>(
    candidates: impl IntoIterator<Item = (I, &'a [u8])>,
    token_hash: &[u8; 32],
) -> Option<I> {
    let mut found = None;
    for (id, hash) in candidates {
        if bool::from(hash.ct_eq(token_hash.as_slice())) {
            found = Some(id);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::find_matching_hash;

    #[test]
    fn finds_only_the_equal_hash() {
        let candidates = [(1, vec![1u8; 32]), (2, vec![2u8; 32]), (3, vec![2u8; 31])];
        let find = |hash: &[u8; 32]| {
            find_matching_hash(candidates.iter().map(|(id, h)| (*id, h.as_slice())), hash)
        };
        assert_eq!(find(&[2u8; 32]), Some(2));
        assert_eq!(find(&[3u8; 32]), None);
        assert_eq!(find_matching_hash::<i64>([], &[3u8; 32]), None);
    }
}
