//! The storage the library needs: the session whitelist and single-use purpose tokens.
//!
//! `jwt-allauth-sqlx` implements both traits for SQLite and PostgreSQL and runs one
//! conformance suite against each; a custom store must give the same guarantees:
//!
//! - [`SessionStore::rotate_session`] is atomic per session: of concurrent calls that
//!   present the same `jti`, exactly one returns [`RotateResult::Rotated`].
//! - A revocation that reports a session deleted leaves no row behind, whatever rotation
//!   ran concurrently (update the row in place, so the database's row lock orders the two).
//! - [`PurposeTokenStore::consume_purpose_token`] succeeds at most once per token, and at
//!   most one token is pending per (user, purpose), even under concurrent replacement.
//! - Timestamps may be kept at whole seconds (both bundled stores do).
//! - The reuse interval excludes its end: a retry is recognised while
//!   `now < rotated_at + reuse_interval`.

use std::future::Future;

use serde::Serialize;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::device::DeviceInfo;
use crate::error::StoreError;
use crate::manager::PURGE_BATCH_SIZE;

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
pub trait SessionStore: Send + Sync {
    /// Inserts a new session. A duplicate session id or `jti` is
    /// [`StoreError::Conflict`].
    fn open_session(
        &self,
        session: &NewSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Atomically rotates, classifies a retry, or deletes a replayed session. See
    /// [`RotateResult`] and the module documentation for the guarantees.
    fn rotate_session(
        &self,
        rotation: &Rotation,
    ) -> impl Future<Output = Result<RotateResult, StoreError>> + Send;

    /// Deletes a session whoever owns it (administration). Whether it existed.
    fn revoke_session(
        &self,
        session: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a session only if `user_id` owns it. Whether it was deleted.
    fn revoke_user_session(
        &self,
        user_id: &str,
        session: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes all sessions of a user. How many were deleted.
    fn revoke_user_sessions(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

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
    /// statement. How many were deleted.
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
