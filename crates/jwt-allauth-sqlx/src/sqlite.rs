//! [`SqliteStore`]: the session whitelist and purpose tokens on SQLite.

use std::str::FromStr;
use std::time::{Duration as StdDuration, Instant};

use jwt_allauth::StoreError;
use jwt_allauth::store::{
    NewPurposeToken, NewSession, PurposeTokenRecord, PurposeTokenStore, RotateResult, Rotation,
    SessionRecord, SessionStore, find_matching_hash,
};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use crate::MIGRATIONS_TABLE;
use crate::device::{DeviceRow, bind_device};
use crate::error::{InvariantError, decode_error, store_error};
use jwt_allauth::rotation::{Decision, LockedSession, classify};

/// How long a connection waits for another writer before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Connections of a pool on a database file.
const FILE_MAX_CONNECTIONS: u32 = 4;

/// How many rows one purge statement deletes at most on SQLite. Deleting a session updates
/// five B-trees, two of them (`session`, `jti`) at random pages, so each row writes about
/// 2.6 pages to the WAL: ≈ 50–70 µs of CPU per row, ≈ 100 µs or more on a busy machine.
/// A batch of 50 rows holds the single write lock for a few milliseconds, well under a
/// rotation's p99; a batch of 1,000 ([`jwt_allauth::PURGE_BATCH_SIZE`]) held it for
/// ≈ 180 ms.
const PURGE_BATCH_SIZE: u32 = 50;

/// The shortest pause between two purge batches on SQLite: the longest sleep of SQLite's
/// busy handler for a writer that has waited less than 18 ms (see
/// [`SqliteStore::delete_expired_batch`]).
const PURGE_MIN_PAUSE: StdDuration = StdDuration::from_millis(10);

/// Copies the WAL's pages that no reader still needs into the database file, without
/// waiting for readers or writers.
const CHECKPOINT_WAL: &str = "PRAGMA wal_checkpoint(PASSIVE)";

/// Starts a write transaction that takes the write lock at once, so that concurrent
/// writers wait in the busy handler instead of failing with `SQLITE_BUSY` on upgrade.
const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

/// The session whitelist and purpose tokens, stored in SQLite.
///
/// Timestamps are stored as INTEGER Unix epoch seconds, so they round-trip at second
/// precision. Write transactions use `BEGIN IMMEDIATE`.
///
/// Build it with [`SqliteStore::connect`] (which configures the pool for you) or with
/// [`SqliteStore::new`] on a pool of your own, then call [`SqliteStore::migrate`] once at
/// start-up.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// A store on an existing pool.
    ///
    /// The pool should have a busy timeout, and an in-memory database needs a pool of
    /// exactly one connection that is never closed (see [`SqliteStore::pool_options`]).
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Opens a store on `url` (`sqlite://path/to/db.sqlite`, `sqlite::memory:`, ...) with
    /// [`SqliteStore::connect_options`] and [`SqliteStore::pool_options`]. Does not
    /// migrate.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Ok(Self::new(Self::connect_pool(url).await?))
    }

    /// Opens a pool on `url` with [`SqliteStore::connect_options`] and
    /// [`SqliteStore::pool_options`].
    pub async fn connect_pool(url: &str) -> Result<SqlitePool, sqlx::Error> {
        let options = Self::connect_options(url)?;
        Self::pool_options(is_memory_url(url))
            .connect_with(options)
            .await
    }

    /// Connection options for `url` with the settings this store expects: a busy timeout
    /// of 5 s, `foreign_keys=ON`, `synchronous=NORMAL` and, for a database file, WAL mode
    /// and `create_if_missing`.
    pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal);
        if is_memory_url(url) {
            Ok(options)
        } else {
            Ok(options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal))
        }
    }

    /// Pool options: for an in-memory database, one connection that is never closed (the
    /// database lives as long as its last connection, and connections to one shared-cache
    /// in-memory database lock each other's tables); for a file, 4 connections.
    pub fn pool_options(in_memory: bool) -> SqlitePoolOptions {
        if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(FILE_MAX_CONNECTIONS)
        }
    }

    /// The pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The embedded SQLite migrations, recorded in the table `_jwt_allauth_migrations`
    /// (not the application's `_sqlx_migrations`).
    pub fn migrator() -> Migrator {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator
    }

    /// Applies the pending migrations of [`SqliteStore::migrator`].
    pub async fn migrate(&self) -> Result<(), MigrateError> {
        Self::migrator().run(&self.pool).await
    }
}

/// Whether a SQLite URL names an in-memory database.
fn is_memory_url(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.trim_start_matches('/');
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory")
}

/// Epoch seconds of a timestamp.
fn epoch(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// A timestamp from epoch seconds.
fn from_epoch(seconds: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(decode_error)
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    session: String,
    user_id: String,
    enabled: bool,
    created: i64,
    last_used: i64,
    expires_at: i64,
    #[sqlx(flatten)]
    device: DeviceRow,
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        Ok(SessionRecord {
            session: row.session,
            user_id: row.user_id,
            enabled: row.enabled,
            created: from_epoch(row.created)?,
            last_used: from_epoch(row.last_used)?,
            expires_at: from_epoch(row.expires_at)?,
            device: row.device.into(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct LockedRow {
    user_id: String,
    jti: String,
    previous_jti: Option<String>,
    rotated_at: Option<i64>,
    refresh_claims: String,
    enabled: bool,
}

#[derive(sqlx::FromRow)]
struct PurposeTokenRow {
    purpose: String,
    user_id: String,
    created: i64,
    expires_at: i64,
    #[sqlx(flatten)]
    device: DeviceRow,
}

impl TryFrom<PurposeTokenRow> for PurposeTokenRecord {
    type Error = StoreError;

    fn try_from(row: PurposeTokenRow) -> Result<Self, StoreError> {
        Ok(PurposeTokenRecord {
            purpose: row.purpose,
            user_id: row.user_id,
            created: from_epoch(row.created)?,
            expires_at: from_epoch(row.expires_at)?,
            device: row.device.into(),
        })
    }
}

const INSERT_SESSION: &str = "\
INSERT INTO jwt_allauth_sessions (
    session, user_id, jti, refresh_claims, enabled, created, last_used, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
) VALUES (
    ?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7,
    ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
    ?16, ?17, ?18, ?19
)";

/// The rotation itself: binds new jti, now, expires_at, claims, 12 device columns,
/// session, user_id, presented jti.
const ROTATE_SESSION: &str = "\
UPDATE jwt_allauth_sessions SET
    jti = ?1, previous_jti = jti, rotated_at = ?2, last_used = ?2, expires_at = ?3,
    refresh_claims = ?4,
    ip = ?5, browser = ?6, browser_version = ?7, os = ?8, os_version = ?9, device = ?10,
    device_brand = ?11, device_model = ?12,
    is_mobile = ?13, is_tablet = ?14, is_pc = ?15, is_bot = ?16
WHERE session = ?17 AND user_id = ?18 AND jti = ?19 AND enabled";

const SELECT_LOCKED: &str = "\
SELECT user_id, jti, previous_jti, rotated_at, refresh_claims, enabled
FROM jwt_allauth_sessions WHERE session = ?1 AND user_id = ?2";

const DELETE_USER_SESSION: &str =
    "DELETE FROM jwt_allauth_sessions WHERE session = ?1 AND user_id = ?2";

const SELECT_USER_SESSIONS: &str = "\
SELECT session, user_id, enabled, created, last_used, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
FROM jwt_allauth_sessions WHERE user_id = ?1
ORDER BY created DESC, rowid DESC";

/// Walks the covering `expires_at` index (oldest first) and deletes by rowid.
const DELETE_EXPIRED_SESSIONS: &str = "\
DELETE FROM jwt_allauth_sessions WHERE rowid IN (
    SELECT rowid FROM jwt_allauth_sessions WHERE expires_at <= ?1
    ORDER BY expires_at LIMIT ?2
)";

const INSERT_PURPOSE_TOKEN: &str = "\
INSERT INTO jwt_allauth_purpose_tokens (
    token_hash, purpose, user_id, created, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
) VALUES (
    ?1, ?2, ?3, ?4, ?5,
    ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
    ?14, ?15, ?16, ?17
)
ON CONFLICT (user_id, purpose) DO UPDATE SET
    token_hash = excluded.token_hash, created = excluded.created,
    expires_at = excluded.expires_at, ip = excluded.ip, browser = excluded.browser,
    browser_version = excluded.browser_version, os = excluded.os,
    os_version = excluded.os_version, device = excluded.device,
    device_brand = excluded.device_brand, device_model = excluded.device_model,
    is_mobile = excluded.is_mobile, is_tablet = excluded.is_tablet, is_pc = excluded.is_pc,
    is_bot = excluded.is_bot";

const SELECT_PURPOSE_CANDIDATES: &str = "\
SELECT id, token_hash FROM jwt_allauth_purpose_tokens
WHERE user_id = ?1 AND purpose = ?2 AND expires_at > ?3";

const DELETE_PURPOSE_TOKEN: &str = "\
DELETE FROM jwt_allauth_purpose_tokens WHERE id = ?1
RETURNING purpose, user_id, created, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot";

const SELECT_USER_PURPOSE_TOKENS: &str = "\
SELECT purpose, user_id, created, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
FROM jwt_allauth_purpose_tokens WHERE user_id = ?1
ORDER BY created DESC, id DESC";

/// Walks the covering `expires_at` index (oldest first) and deletes by rowid (`id`).
const DELETE_EXPIRED_PURPOSE_TOKENS: &str = "\
DELETE FROM jwt_allauth_purpose_tokens WHERE id IN (
    SELECT id FROM jwt_allauth_purpose_tokens WHERE expires_at <= ?1
    ORDER BY expires_at LIMIT ?2
)";

/// The rotation statement with its arguments bound.
fn rotate_query(
    rotation: &Rotation,
) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    let query = sqlx::query(ROTATE_SESSION)
        .bind(rotation.new_jti.as_str())
        .bind(epoch(rotation.now))
        .bind(epoch(rotation.expires_at))
        .bind(rotation.new_refresh_claims.as_str());
    bind_device(query, &rotation.device)
        .bind(rotation.session.as_str())
        .bind(rotation.user_id.as_str())
        .bind(rotation.presented_jti.as_str())
}

impl SessionStore for SqliteStore {
    async fn open_session(&self, session: &NewSession) -> Result<(), StoreError> {
        let query = sqlx::query(INSERT_SESSION)
            .bind(session.session.as_str())
            .bind(session.user_id.as_str())
            .bind(session.jti.as_str())
            .bind(session.refresh_claims.as_str())
            .bind(session.enabled)
            .bind(epoch(session.created))
            .bind(epoch(session.expires_at));
        bind_device(query, &session.device)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn rotate_session(&self, rotation: &Rotation) -> Result<RotateResult, StoreError> {
        // Fast path: one conditional UPDATE.
        let done = rotate_query(rotation)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 1 {
            return Ok(RotateResult::Rotated);
        }

        // Classify under the write lock: no other writer runs until we commit.
        let mut tx = self
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(store_error)?;
        let row: Option<LockedRow> = sqlx::query_as(SELECT_LOCKED)
            .bind(rotation.session.as_str())
            .bind(rotation.user_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let row = row
            .map(|row| {
                Ok::<_, StoreError>(LockedSession {
                    user_id: row.user_id,
                    jti: row.jti,
                    previous_jti: row.previous_jti,
                    rotated_at: row.rotated_at.map(from_epoch).transpose()?,
                    refresh_claims: row.refresh_claims,
                    enabled: row.enabled,
                })
            })
            .transpose()?;
        match classify(row, rotation) {
            decision @ (Decision::Disabled | Decision::Retried { .. } | Decision::NotFound) => {
                tx.rollback().await.map_err(store_error)?;
                Ok(decision.into_result())
            }
            Decision::Rotate => {
                let done = rotate_query(rotation)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if done.rows_affected() != 1 {
                    return Err(InvariantError("a locked current session did not rotate").into());
                }
                tx.commit().await.map_err(store_error)?;
                Ok(RotateResult::Rotated)
            }
            Decision::Replayed => {
                sqlx::query(DELETE_USER_SESSION)
                    .bind(rotation.session.as_str())
                    .bind(rotation.user_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(RotateResult::Replayed)
            }
        }
    }

    async fn revoke_session(&self, session: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM jwt_allauth_sessions WHERE session = ?1")
            .bind(session)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_session(&self, user_id: &str, session: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(DELETE_USER_SESSION)
            .bind(session)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM jwt_allauth_sessions WHERE user_id = ?1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = sqlx::query_as(SELECT_USER_SESSIONS)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(SessionRecord::try_from).collect()
    }

    async fn session_is_active(&self, session: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM jwt_allauth_sessions WHERE session = ?1)")
            .bind(session)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn count_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jwt_allauth_sessions WHERE expires_at <= ?1")
                .bind(epoch(now))
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.delete_expired_batch(DELETE_EXPIRED_SESSIONS, now, limit)
            .await
    }

    fn expired_sessions_batch_size(&self) -> u32 {
        PURGE_BATCH_SIZE
    }
}

impl PurposeTokenStore for SqliteStore {
    async fn replace_purpose_token(&self, token: &NewPurposeToken) -> Result<(), StoreError> {
        // One upsert on the unique (user_id, purpose) index: concurrent replacements
        // leave exactly one pending token.
        let query = sqlx::query(INSERT_PURPOSE_TOKEN)
            .bind(token.token_hash.as_slice())
            .bind(token.purpose.as_str())
            .bind(token.user_id.as_str())
            .bind(epoch(token.created))
            .bind(epoch(token.expires_at));
        bind_device(query, &token.device)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
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
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(store_error)?;
        let candidates: Vec<(i64, Vec<u8>)> = sqlx::query_as(SELECT_PURPOSE_CANDIDATES)
            .bind(user_id)
            .bind(purpose)
            .bind(epoch(now))
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        let candidates = candidates.iter().map(|(id, hash)| (*id, hash.as_slice()));
        let Some(id) = find_matching_hash(candidates, token_hash) else {
            tx.rollback().await.map_err(store_error)?;
            return Ok(None);
        };
        let row: Option<PurposeTokenRow> = sqlx::query_as(DELETE_PURPOSE_TOKEN)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        row.map(PurposeTokenRecord::try_from).transpose()
    }

    async fn list_user_purpose_tokens(
        &self,
        user_id: &str,
    ) -> Result<Vec<PurposeTokenRecord>, StoreError> {
        let rows: Vec<PurposeTokenRow> = sqlx::query_as(SELECT_USER_PURPOSE_TOKENS)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(PurposeTokenRecord::try_from).collect()
    }

    async fn revoke_user_purpose_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM jwt_allauth_purpose_tokens WHERE user_id = ?1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn count_expired_purpose_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jwt_allauth_purpose_tokens WHERE expires_at <= ?1",
        )
        .bind(epoch(now))
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn delete_expired_purpose_tokens(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.delete_expired_batch(DELETE_EXPIRED_PURPOSE_TOKENS, now, limit)
            .await
    }

    fn expired_purpose_tokens_batch_size(&self) -> u32 {
        PURGE_BATCH_SIZE
    }
}

impl SqliteStore {
    /// One purge batch: `statement` (`DELETE` of at most `?2` rows expired at `?1`, in
    /// its own implicit transaction), a WAL checkpoint, then, if the batch was full and the
    /// purge will come back at once, a pause as long as the two took, and at least
    /// [`PURGE_MIN_PAUSE`].
    ///
    /// The checkpoint (`PASSIVE`: it copies what no reader still needs and waits for
    /// nobody) writes the pages the batch changed back to the database file in the
    /// purge's own time. Without it the WAL soon grows past the auto-checkpoint threshold
    /// (1,000 pages; a batch of 50 sessions adds ≈ 130), and the connection whose commit
    /// crosses it, often a rotation's, copies the WAL into the database file and syncs
    /// before it answers. On a database without a WAL (in memory) the checkpoint does
    /// nothing.
    ///
    /// The pause is the purge's duty cycle on SQLite: a purge holds the database's single
    /// write lock at most half of the time. Without it, the next batch would take the lock
    /// again within microseconds of the commit, while rotations waiting for it poll in
    /// SQLite's busy handler and would seldom win it. The busy handler sleeps 1, 2, 5, 10,
    /// 15, 20, 25, 25, 25, 50, 50, 100 ms between tries, so after waiting `w` a writer
    /// sleeps at most `max(w, 10 ms)` before its next try: a rotation that waited out a
    /// batch tries again within the pause after it, and waits about one batch at most. A
    /// statement slowed by other writers pauses longer: the purge yields more when the
    /// database is busy.
    async fn delete_expired_batch(
        &self,
        statement: &'static str,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let started = Instant::now();
        let deleted = sqlx::query(statement)
            .bind(epoch(now))
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(store_error)?
            .rows_affected();
        if deleted > 0 {
            sqlx::query(CHECKPOINT_WAL)
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
        }
        if deleted >= u64::from(limit) {
            tokio::time::sleep(started.elapsed().max(PURGE_MIN_PAUSE)).await;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::is_memory_url;

    #[test]
    fn memory_urls() {
        assert!(is_memory_url("sqlite::memory:"));
        assert!(is_memory_url("sqlite://:memory:"));
        assert!(is_memory_url("sqlite://?mode=memory&cache=shared"));
        assert!(!is_memory_url("sqlite://data.db"));
        assert!(!is_memory_url("sqlite:data.db?mode=rwc"));
    }
}
