//! [`SqlxStore`]: the session whitelist and purpose tokens on a sqlx database, written
//! once for both [`Dialect`]s.

use std::fmt;
use std::time::Instant;

use jwt_allauth::StoreError;
use jwt_allauth::events::{Event, EventLog, NewEvent, RevocationReason};
use jwt_allauth::rotation::{Decision, LockedSession, classify};
use jwt_allauth::store::{
    NewPurposeToken, NewSession, PurposeTokenRecord, PurposeTokenStore, RotateResult, Rotation,
    SessionEnd, SessionRecord, SessionStore, find_matching_hash,
};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::query::{Query, QueryAs};
use sqlx::{ColumnIndex, Decode, Encode, Executor, Pool, Type};
use time::OffsetDateTime;

use crate::MIGRATIONS_TABLE;
use crate::device::{DeviceRow, bind_device};
use crate::dialect::{Dialect, PURGE_BATCH_SIZE, PURGE_PACING, STORE_NAME};
use crate::error::{InvariantError, store_error};
use crate::events::{EndedRow, EventRow, end_sessions, write_event};
use crate::sql;

/// The session whitelist, purpose tokens and event log on a database of dialect `DB`, one
/// implementation for both backends: use it as `SqliteStore` (`DB` = `sqlx::Sqlite`,
/// feature `sqlite`) or `PostgresStore` (`DB` = `sqlx::Postgres`, feature `postgres`).
/// The dialect is sealed: these are the only two.
///
/// Rotation is one conditional `UPDATE` of the session's row; only a token that is not
/// current takes a second transaction, which reads the row under a lock and lets
/// [`jwt_allauth::rotation::classify`] tell a retry from a replay.
///
/// Every change of a session writes its event ([`jwt_allauth::events`]) in its own
/// transaction: opening, each deletion (revocation, replay, purge). On PostgreSQL, the
/// commit of a transaction that wrote events notifies the channel `jwt_allauth_events`.
pub struct SqlxStore<DB: Dialect> {
    pool: Pool<DB>,
}

impl<DB: Dialect> Clone for SqlxStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
        }
    }
}

impl<DB: Dialect> fmt::Debug for SqlxStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(DB::pick(STORE_NAME))
            .field("pool", &self.pool)
            .finish()
    }
}

impl<DB: Dialect> SqlxStore<DB> {
    /// A store on an existing pool.
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The embedded migrations of this backend, recorded in the table
    /// `_jwt_allauth_migrations` (not the application's `_sqlx_migrations`).
    pub fn migrator() -> Migrator {
        let mut migrator = DB::migrations();
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator
    }

    /// Applies the pending migrations of [`migrator`](Self::migrator).
    pub async fn migrate(&self) -> Result<(), MigrateError> {
        Self::migrator().run(&self.pool).await
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow<T> {
    session: String,
    user_id: String,
    enabled: bool,
    created: T,
    last_used: T,
    expires_at: T,
    #[sqlx(flatten)]
    device: DeviceRow,
}

#[derive(sqlx::FromRow)]
struct LockedRow<T> {
    user_id: String,
    jti: String,
    previous_jti: Option<String>,
    rotated_at: Option<T>,
    refresh_claims: String,
    enabled: bool,
}

#[derive(sqlx::FromRow)]
struct PurposeTokenRow<T> {
    purpose: String,
    user_id: String,
    created: T,
    expires_at: T,
    #[sqlx(flatten)]
    device: DeviceRow,
}

impl<T> SessionRow<T> {
    fn into_record<DB: Dialect<Time = T>>(self) -> Result<SessionRecord, StoreError> {
        Ok(SessionRecord {
            session: self.session,
            user_id: self.user_id,
            enabled: self.enabled,
            created: DB::decode_time(self.created)?,
            last_used: DB::decode_time(self.last_used)?,
            expires_at: DB::decode_time(self.expires_at)?,
            device: self.device.into(),
        })
    }
}

impl<T> LockedRow<T> {
    fn into_locked<DB: Dialect<Time = T>>(self) -> Result<LockedSession, StoreError> {
        Ok(LockedSession {
            user_id: self.user_id,
            jti: self.jti,
            previous_jti: self.previous_jti,
            rotated_at: self.rotated_at.map(DB::decode_time).transpose()?,
            refresh_claims: self.refresh_claims,
            enabled: self.enabled,
        })
    }
}

impl<T> PurposeTokenRow<T> {
    fn into_record<DB: Dialect<Time = T>>(self) -> Result<PurposeTokenRecord, StoreError> {
        Ok(PurposeTokenRecord {
            purpose: self.purpose,
            user_id: self.user_id,
            created: DB::decode_time(self.created)?,
            expires_at: DB::decode_time(self.expires_at)?,
            device: self.device.into(),
        })
    }
}

/// The rotation statement with its arguments bound.
fn rotate_query<DB>(rotation: &Rotation) -> Query<'_, DB, DB::Arguments>
where
    DB: Dialect,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: for<'q> Encode<'q, DB> + Type<DB>,
{
    let query = sqlx::query(sql::ROTATE_SESSION)
        .bind(rotation.new_jti.as_str())
        .bind(DB::encode_time(rotation.now))
        .bind(DB::encode_time(rotation.expires_at))
        .bind(rotation.new_refresh_claims.as_str());
    bind_device(query, &rotation.device)
        .bind(rotation.session.as_str())
        .bind(rotation.user_id.as_str())
        .bind(rotation.presented_jti.as_str())
}

/// The statement of [`PurposeTokenStore::replace_purpose_token`], bound to `token`.
fn replace_purpose_token_query<DB>(token: &NewPurposeToken) -> Query<'_, DB, DB::Arguments>
where
    DB: Dialect,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: for<'q> Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    let query = sqlx::query(sql::INSERT_PURPOSE_TOKEN)
        .bind(token.token_hash.as_slice())
        .bind(token.purpose.as_str())
        .bind(token.user_id.as_str())
        .bind(DB::encode_time(token.created))
        .bind(DB::encode_time(token.expires_at));
    bind_device(query, &token.device)
}

impl<DB> SqlxStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: for<'q> Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    /// Stores `token` as [`PurposeTokenStore::replace_purpose_token`] does (replacing the
    /// user's older token for its purpose), on `connection`: a transaction of the
    /// caller's, so that the token commits with what else the transaction writes (the
    /// mail that carries it, in an outbox table of the same database).
    pub async fn replace_purpose_token_on(
        connection: &mut DB::Connection,
        token: &NewPurposeToken,
    ) -> Result<(), StoreError> {
        execute(connection, replace_purpose_token_query(token)).await?;
        Ok(())
    }
}

impl<DB> SqlxStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: for<'q> Encode<'q, DB> + Type<DB>,
    bool: for<'q> Encode<'q, DB> + Type<DB>,
{
    /// Inserts `session` as [`SessionStore::open_session`] does (which is this and its
    /// `session.created` event), without the event, on `connection`: for a session opened by another system
    /// and imported (the server's `import django`), in the transaction that imports its
    /// user, so that a user and its sessions commit together. A session id or `jti` that
    /// exists already is the driver's unique violation.
    pub async fn import_session_on(
        connection: &mut DB::Connection,
        session: &NewSession,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(sql::INSERT_SESSION)
            .bind(session.session.as_str())
            .bind(session.user_id.as_str())
            .bind(session.jti.as_str())
            .bind(session.refresh_claims.as_str())
            .bind(session.enabled)
            .bind(DB::encode_time(session.created))
            .bind(DB::encode_time(session.expires_at));
        execute(connection, bind_device(query, &session.device)).await?;
        Ok(())
    }
}

/// Runs `query` on `executor` (the pool, or a transaction's connection); how many rows
/// it changed.
async fn execute<'c, DB, E>(
    executor: E,
    query: Query<'_, DB, DB::Arguments>,
) -> Result<u64, StoreError>
where
    DB: Dialect,
    E: Executor<'c, Database = DB>,
{
    let done = query.execute(executor).await.map_err(store_error)?;
    Ok(DB::rows_affected(&done))
}

/// How many rows `statement` (a `COUNT(*)` of the rows expired at `$1`) counts.
async fn count_expired<DB>(
    pool: &Pool<DB>,
    statement: &'static str,
    now: OffsetDateTime,
) -> Result<u64, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    usize: ColumnIndex<DB::Row>,
    i64: for<'r> Decode<'r, DB> + Type<DB>,
{
    let count: i64 = sqlx::query_scalar(statement)
        .bind(DB::encode_time(now))
        .fetch_one(pool)
        .await
        .map_err(store_error)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// One purge batch: `statement` (a `DELETE` of at most `$2` rows expired at `$1`, in its
/// own implicit transaction), then the dialect's [`PURGE_PACING`]
/// if it has one: its checkpoint after a batch that deleted rows, and after a full batch
/// (the purge comes back at once) a pause as long as the batch took, and at least its
/// `min_pause`.
async fn delete_expired_batch<DB>(
    pool: &Pool<DB>,
    statement: &'static str,
    now: OffsetDateTime,
    limit: u32,
) -> Result<u64, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
{
    let started = Instant::now();
    let query = sqlx::query(statement)
        .bind(DB::encode_time(now))
        .bind(i64::from(limit));
    let deleted = execute(pool, query).await?;
    pace_purge(pool, started, deleted, limit).await?;
    Ok(deleted)
}

/// The dialect's [`PURGE_PACING`] after a purge batch that started at `started` and
/// deleted `deleted` rows of at most `limit`.
async fn pace_purge<DB>(
    pool: &Pool<DB>,
    started: Instant,
    deleted: u64,
    limit: u32,
) -> Result<(), StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    if let Some(pacing) = DB::pick(PURGE_PACING) {
        if deleted > 0 {
            execute(pool, sqlx::query(pacing.checkpoint)).await?;
        }
        if deleted >= u64::from(limit) {
            tokio::time::sleep(started.elapsed().max(pacing.min_pause)).await;
        }
    }
    Ok(())
}

impl<DB> SqlxStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    bool: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    Option<String>: for<'r> Decode<'r, DB> + Type<DB>,
{
    /// A write transaction ([`sql::BEGIN_WRITE`]).
    async fn begin(&self) -> Result<sqlx::Transaction<'static, DB>, StoreError> {
        self.pool
            .begin_with(DB::pick(sql::BEGIN_WRITE))
            .await
            .map_err(store_error)
    }

    /// Runs `query` (a deletion of sessions that returns them) in its own transaction,
    /// with their events. The ids of the sessions it ended.
    async fn end_sessions(
        &self,
        query: QueryAs<'_, DB, EndedRow, DB::Arguments>,
        end: SessionEnd,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.begin().await?;
        let ended = end_sessions::<DB>(&mut tx, query, end).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(ended)
    }
}

impl<DB> EventLog for SqlxStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    bool: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    Option<String>: for<'r> Decode<'r, DB> + Type<DB>,
{
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow<DB::Time>> = sqlx::query_as(sql::SELECT_EVENTS_AFTER)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(EventRow::into_event::<DB>).collect()
    }

    async fn last_seq_before(&self, time: OffsetDateTime) -> Result<i64, StoreError> {
        sqlx::query_scalar(sql::LAST_EVENT_SEQ_BEFORE)
            .bind(DB::encode_time(time))
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn count_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql::COUNT_EVENTS_BEFORE)
            .bind(DB::encode_time(before))
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn delete_events_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let query = sqlx::query(sql::DELETE_EVENTS_BEFORE)
            .bind(DB::encode_time(before))
            .bind(i64::from(limit));
        execute(&self.pool, query).await
    }
}

impl<DB> SessionStore for SqlxStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    bool: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    Option<String>: for<'r> Decode<'r, DB> + Type<DB>,
{
    async fn open_session(&self, session: &NewSession) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        Self::import_session_on(&mut *tx, session).await?;
        let event = NewEvent::session_created(
            session.user_id.as_str(),
            session.session.as_str(),
            session.device.clone(),
            session.created,
        );
        write_event::<DB, _>(&mut *tx, &event).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn rotate_session(&self, rotation: &Rotation) -> Result<RotateResult, StoreError> {
        // Fast path: one conditional UPDATE. A concurrent rotation of the same row waits
        // for the row's lock and then re-checks `jti = presented` on the new version.
        if execute(&self.pool, rotate_query(rotation)).await? == 1 {
            return Ok(RotateResult::Rotated);
        }

        // A miss: classify under the row's lock, which no other writer of the row holds
        // until this transaction ends.
        let mut tx = self
            .pool
            .begin_with(DB::pick(sql::BEGIN_WRITE))
            .await
            .map_err(store_error)?;
        let row: Option<LockedRow<DB::Time>> = sqlx::query_as(DB::pick(sql::SELECT_LOCKED))
            .bind(rotation.session.as_str())
            .bind(rotation.user_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let row = row.map(LockedRow::into_locked::<DB>).transpose()?;
        let decision = classify(row, rotation);
        match decision {
            Decision::Rotate => {
                if execute(&mut *tx, rotate_query(rotation)).await? != 1 {
                    return Err(InvariantError("a locked current session did not rotate").into());
                }
            }
            Decision::Replayed => {
                let query = sqlx::query_as(sql::DELETE_USER_SESSION)
                    .bind(rotation.session.as_str())
                    .bind(rotation.user_id.as_str());
                let end = SessionEnd::new(RevocationReason::Replay, rotation.now);
                end_sessions::<DB>(&mut tx, query, end).await?;
            }
            Decision::Retried { .. } | Decision::Disabled | Decision::NotFound => {
                tx.rollback().await.map_err(store_error)?;
                return Ok(decision.into_result());
            }
        }
        // A replay's deletion must be committed even though the request fails.
        tx.commit().await.map_err(store_error)?;
        Ok(decision.into_result())
    }

    async fn revoke_session(&self, session: &str, end: SessionEnd) -> Result<bool, StoreError> {
        let query = sqlx::query_as(sql::DELETE_SESSION).bind(session);
        Ok(!self.end_sessions(query, end).await?.is_empty())
    }

    async fn revoke_user_session(
        &self,
        user_id: &str,
        session: &str,
        end: SessionEnd,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query_as(sql::DELETE_USER_SESSION)
            .bind(session)
            .bind(user_id);
        Ok(!self.end_sessions(query, end).await?.is_empty())
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        end: SessionEnd,
    ) -> Result<Vec<String>, StoreError> {
        let query = sqlx::query_as(sql::DELETE_USER_SESSIONS).bind(user_id);
        self.end_sessions(query, end).await
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow<DB::Time>> = sqlx::query_as(DB::pick(sql::SELECT_USER_SESSIONS))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter()
            .map(SessionRow::into_record::<DB>)
            .collect()
    }

    async fn session_is_active(&self, session: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar(sql::SESSION_EXISTS)
            .bind(session)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn count_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        count_expired(&self.pool, sql::COUNT_EXPIRED_SESSIONS, now).await
    }

    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let started = Instant::now();
        let query = sqlx::query_as(DB::pick(sql::DELETE_EXPIRED_SESSIONS))
            .bind(DB::encode_time(now))
            .bind(i64::from(limit));
        let end = SessionEnd::new(RevocationReason::Expired, now);
        let deleted = self.end_sessions(query, end).await?.len() as u64;
        pace_purge(&self.pool, started, deleted, limit).await?;
        Ok(deleted)
    }

    fn expired_sessions_batch_size(&self) -> u32 {
        DB::pick(PURGE_BATCH_SIZE)
    }
}

impl<DB> SqlxStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    Option<String>: for<'r> Decode<'r, DB> + Type<DB>,
{
    /// A transaction on `pool` that takes the write lock its statements need at once
    /// (`BEGIN IMMEDIATE` on SQLite), as the store's own read-then-write operations do:
    /// for [`consume_purpose_token_on`](Self::consume_purpose_token_on) in a transaction
    /// of the caller's.
    pub async fn begin_write(
        pool: &Pool<DB>,
    ) -> Result<sqlx::Transaction<'static, DB>, StoreError> {
        pool.begin_with(DB::pick(sql::BEGIN_WRITE))
            .await
            .map_err(store_error)
    }

    /// Consumes the unexpired token matching `(token_hash, purpose, user_id)` as
    /// [`PurposeTokenStore::consume_purpose_token`] does, on `connection`, a transaction
    /// from [`begin_write`](Self::begin_write): whether there was one. The deletion
    /// commits or rolls back with the rest of the caller's transaction.
    pub async fn consume_purpose_token_on(
        connection: &mut DB::Connection,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let candidates: Vec<(i64, Vec<u8>)> =
            sqlx::query_as(DB::pick(sql::SELECT_PURPOSE_CANDIDATES))
                .bind(user_id)
                .bind(purpose)
                .bind(DB::encode_time(now))
                .fetch_all(&mut *connection)
                .await
                .map_err(store_error)?;
        let candidates = candidates.iter().map(|(id, hash)| (*id, hash.as_slice()));
        let Some(id) = find_matching_hash(candidates, token_hash) else {
            return Ok(false);
        };
        let deleted = execute(
            &mut *connection,
            sqlx::query(sql::DELETE_PURPOSE_TOKEN_BY_ID).bind(id),
        )
        .await?;
        Ok(deleted == 1)
    }

    /// Deletes every session and purpose token of `user_id` (a credential change, or the
    /// end of the account), on `connection`: a transaction of the caller's, with one
    /// `session.revoked` event per session. The ids of the sessions it ended.
    pub async fn revoke_user_credentials_on(
        connection: &mut DB::Connection,
        user_id: &str,
        end: SessionEnd,
    ) -> Result<Vec<String>, StoreError> {
        let query = sqlx::query_as(sql::DELETE_USER_SESSIONS).bind(user_id);
        let ended = end_sessions::<DB>(&mut *connection, query, end).await?;
        execute(
            &mut *connection,
            sqlx::query(sql::DELETE_USER_PURPOSE_TOKENS).bind(user_id),
        )
        .await?;
        Ok(ended)
    }

    /// Writes `event` on `connection`, a transaction of the caller's that makes the change
    /// it records (an account change of the server's), so that the two commit or roll
    /// back together.
    pub async fn write_event_on(
        connection: &mut DB::Connection,
        event: &NewEvent,
    ) -> Result<(), StoreError> {
        write_event::<DB, _>(connection, event).await
    }
}

impl<DB> PurposeTokenStore for SqlxStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    Option<bool>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    Option<String>: for<'r> Decode<'r, DB> + Type<DB>,
    Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
{
    async fn replace_purpose_token(&self, token: &NewPurposeToken) -> Result<(), StoreError> {
        execute(&self.pool, replace_purpose_token_query(token)).await?;
        Ok(())
    }

    async fn purpose_token_is_live(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let candidates: Vec<(i64, Vec<u8>)> = sqlx::query_as(sql::SELECT_LIVE_PURPOSE_TOKENS)
            .bind(user_id)
            .bind(purpose)
            .bind(DB::encode_time(now))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        let candidates = candidates.iter().map(|(id, hash)| (*id, hash.as_slice()));
        Ok(find_matching_hash(candidates, token_hash).is_some())
    }

    async fn consume_purpose_token(
        &self,
        user_id: &str,
        purpose: &str,
        token_hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<PurposeTokenRecord>, StoreError> {
        let mut tx = self
            .pool
            .begin_with(DB::pick(sql::BEGIN_WRITE))
            .await
            .map_err(store_error)?;
        let candidates: Vec<(i64, Vec<u8>)> =
            sqlx::query_as(DB::pick(sql::SELECT_PURPOSE_CANDIDATES))
                .bind(user_id)
                .bind(purpose)
                .bind(DB::encode_time(now))
                .fetch_all(&mut *tx)
                .await
                .map_err(store_error)?;
        let candidates = candidates.iter().map(|(id, hash)| (*id, hash.as_slice()));
        let Some(id) = find_matching_hash(candidates, token_hash) else {
            tx.rollback().await.map_err(store_error)?;
            return Ok(None);
        };
        let row: Option<PurposeTokenRow<DB::Time>> = sqlx::query_as(sql::DELETE_PURPOSE_TOKEN)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        row.map(PurposeTokenRow::into_record::<DB>).transpose()
    }

    async fn list_user_purpose_tokens(
        &self,
        user_id: &str,
    ) -> Result<Vec<PurposeTokenRecord>, StoreError> {
        let rows: Vec<PurposeTokenRow<DB::Time>> = sqlx::query_as(sql::SELECT_USER_PURPOSE_TOKENS)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter()
            .map(PurposeTokenRow::into_record::<DB>)
            .collect()
    }

    async fn revoke_user_purpose_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let query = sqlx::query(sql::DELETE_USER_PURPOSE_TOKENS).bind(user_id);
        execute(&self.pool, query).await
    }

    async fn count_expired_purpose_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        count_expired(&self.pool, sql::COUNT_EXPIRED_PURPOSE_TOKENS, now).await
    }

    async fn delete_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        delete_expired_batch(
            &self.pool,
            DB::pick(sql::DELETE_EXPIRED_PURPOSE_TOKENS),
            now,
            limit,
        )
        .await
    }

    fn expired_purpose_tokens_batch_size(&self) -> u32 {
        DB::pick(PURGE_BATCH_SIZE)
    }
}
