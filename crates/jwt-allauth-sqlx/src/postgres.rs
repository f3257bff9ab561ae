//! [`PostgresStore`]: the session whitelist and purpose tokens on PostgreSQL.

use jwt_allauth::StoreError;
use jwt_allauth::store::{
    NewPurposeToken, NewSession, PurposeTokenRecord, PurposeTokenStore, RotateResult, Rotation,
    SessionRecord, SessionStore, find_matching_hash,
};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres};
use time::OffsetDateTime;

use crate::MIGRATIONS_TABLE;
use crate::device::{DeviceRow, bind_device};
use crate::error::{InvariantError, store_error};
use jwt_allauth::rotation::{Decision, LockedSession, classify};

/// The session whitelist and purpose tokens, stored in PostgreSQL.
///
/// Timestamps are `timestamptz` columns; they are stored truncated to whole seconds (the
/// precision of JWT times), exactly as on SQLite, so both backends behave the same.
/// Rotation is one conditional `UPDATE`; only a token that is not current takes a
/// second, row-locking transaction to tell a retry from a replay.
///
/// Build it with [`PostgresStore::connect`] or with [`PostgresStore::new`] on a pool of
/// your own, then call [`PostgresStore::migrate`] once at start-up. The tables are created
/// in the first schema of the connection's `search_path`.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// A store on an existing pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Opens a store on `url` (`postgres://user@host/db`) with sqlx's default pool
    /// options. Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Ok(Self::new(PgPoolOptions::new().connect(url).await?))
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The embedded PostgreSQL migrations, recorded in the table `_jwt_allauth_migrations`
    /// (not the application's `_sqlx_migrations`).
    pub fn migrator() -> Migrator {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator
    }

    /// Applies the pending migrations of [`PostgresStore::migrator`].
    pub async fn migrate(&self) -> Result<(), MigrateError> {
        Self::migrator().run(&self.pool).await
    }
}

/// A timestamp as stored: whole seconds.
fn ts(t: OffsetDateTime) -> OffsetDateTime {
    t.truncate_to_second()
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    session: String,
    user_id: String,
    enabled: bool,
    created: OffsetDateTime,
    last_used: OffsetDateTime,
    expires_at: OffsetDateTime,
    #[sqlx(flatten)]
    device: DeviceRow,
}

impl From<SessionRow> for SessionRecord {
    fn from(row: SessionRow) -> Self {
        SessionRecord {
            session: row.session,
            user_id: row.user_id,
            enabled: row.enabled,
            created: row.created,
            last_used: row.last_used,
            expires_at: row.expires_at,
            device: row.device.into(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct LockedRow {
    user_id: String,
    jti: String,
    previous_jti: Option<String>,
    rotated_at: Option<OffsetDateTime>,
    refresh_claims: String,
    enabled: bool,
}

#[derive(sqlx::FromRow)]
struct PurposeTokenRow {
    purpose: String,
    user_id: String,
    created: OffsetDateTime,
    expires_at: OffsetDateTime,
    #[sqlx(flatten)]
    device: DeviceRow,
}

impl From<PurposeTokenRow> for PurposeTokenRecord {
    fn from(row: PurposeTokenRow) -> Self {
        PurposeTokenRecord {
            purpose: row.purpose,
            user_id: row.user_id,
            created: row.created,
            expires_at: row.expires_at,
            device: row.device.into(),
        }
    }
}

const INSERT_SESSION: &str = "\
INSERT INTO jwt_allauth_sessions (
    session, user_id, jti, refresh_claims, enabled, created, last_used, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
) VALUES (
    $1, $2, $3, $4, $5, $6, $6, $7,
    $8, $9, $10, $11, $12, $13, $14, $15,
    $16, $17, $18, $19
)";

/// The rotation itself: binds new jti, now, expires_at, claims, 12 device columns,
/// session, user_id, presented jti.
const ROTATE_SESSION: &str = "\
UPDATE jwt_allauth_sessions SET
    jti = $1, previous_jti = jti, rotated_at = $2, last_used = $2, expires_at = $3,
    refresh_claims = $4,
    ip = $5, browser = $6, browser_version = $7, os = $8, os_version = $9, device = $10,
    device_brand = $11, device_model = $12,
    is_mobile = $13, is_tablet = $14, is_pc = $15, is_bot = $16
WHERE session = $17 AND user_id = $18 AND jti = $19 AND enabled";

const SELECT_LOCKED: &str = "\
SELECT user_id, jti, previous_jti, rotated_at, refresh_claims, enabled
FROM jwt_allauth_sessions WHERE session = $1 AND user_id = $2
FOR UPDATE";

const DELETE_USER_SESSION: &str =
    "DELETE FROM jwt_allauth_sessions WHERE session = $1 AND user_id = $2";

const SELECT_USER_SESSIONS: &str = "\
SELECT session, user_id, enabled, created, last_used, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
FROM jwt_allauth_sessions WHERE user_id = $1
ORDER BY created DESC, seq DESC";

/// Skips rows locked by a rotation instead of waiting for them. `ORDER BY expires_at`
/// makes the planner walk the `expires_at` index: without it, it may choose a sequential
/// scan that reads every live row (and every row deleted by earlier batches but not yet
/// vacuumed) before the first expired one, so each batch would cost as much as the
/// whole table.
const DELETE_EXPIRED_SESSIONS: &str = "\
DELETE FROM jwt_allauth_sessions WHERE session IN (
    SELECT session FROM jwt_allauth_sessions WHERE expires_at <= $1
    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
)";

const INSERT_PURPOSE_TOKEN: &str = "\
INSERT INTO jwt_allauth_purpose_tokens (
    token_hash, purpose, user_id, created, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
) VALUES (
    $1, $2, $3, $4, $5,
    $6, $7, $8, $9, $10, $11, $12, $13,
    $14, $15, $16, $17
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
WHERE user_id = $1 AND purpose = $2 AND expires_at > $3
FOR UPDATE";

const DELETE_PURPOSE_TOKEN: &str = "\
DELETE FROM jwt_allauth_purpose_tokens WHERE id = $1
RETURNING purpose, user_id, created, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot";

const SELECT_USER_PURPOSE_TOKENS: &str = "\
SELECT purpose, user_id, created, expires_at,
    ip, browser, browser_version, os, os_version, device, device_brand, device_model,
    is_mobile, is_tablet, is_pc, is_bot
FROM jwt_allauth_purpose_tokens WHERE user_id = $1
ORDER BY created DESC, id DESC";

const DELETE_EXPIRED_PURPOSE_TOKENS: &str = "\
DELETE FROM jwt_allauth_purpose_tokens WHERE id IN (
    SELECT id FROM jwt_allauth_purpose_tokens WHERE expires_at <= $1
    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
)";

/// The rotation statement with its arguments bound.
fn rotate_query(rotation: &Rotation) -> Query<'static, Postgres, PgArguments> {
    let query = sqlx::query(ROTATE_SESSION)
        .bind(rotation.new_jti.as_str())
        .bind(ts(rotation.now))
        .bind(ts(rotation.expires_at))
        .bind(rotation.new_refresh_claims.as_str());
    bind_device(query, &rotation.device)
        .bind(rotation.session.as_str())
        .bind(rotation.user_id.as_str())
        .bind(rotation.presented_jti.as_str())
}

/// Classifies a rotation whose fast path matched nothing, inside a transaction holding
/// the row lock; commits what must be committed.
async fn classify_locked(
    tx: &mut PgConnection,
    rotation: &Rotation,
) -> Result<(RotateResult, bool), StoreError> {
    let row: Option<LockedRow> = sqlx::query_as(SELECT_LOCKED)
        .bind(rotation.session.as_str())
        .bind(rotation.user_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
    let row = row.map(|row| LockedSession {
        user_id: row.user_id,
        jti: row.jti,
        previous_jti: row.previous_jti,
        rotated_at: row.rotated_at,
        refresh_claims: row.refresh_claims,
        enabled: row.enabled,
    });
    match classify(row, rotation) {
        decision @ (Decision::Disabled | Decision::Retried { .. } | Decision::NotFound) => {
            Ok((decision.into_result(), false))
        }
        Decision::Rotate => {
            let done = rotate_query(rotation)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            if done.rows_affected() != 1 {
                return Err(InvariantError("a locked current session did not rotate").into());
            }
            Ok((RotateResult::Rotated, true))
        }
        Decision::Replayed => {
            sqlx::query(DELETE_USER_SESSION)
                .bind(rotation.session.as_str())
                .bind(rotation.user_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            Ok((RotateResult::Replayed, true))
        }
    }
}

impl SessionStore for PostgresStore {
    async fn open_session(&self, session: &NewSession) -> Result<(), StoreError> {
        let query = sqlx::query(INSERT_SESSION)
            .bind(session.session.as_str())
            .bind(session.user_id.as_str())
            .bind(session.jti.as_str())
            .bind(session.refresh_claims.as_str())
            .bind(session.enabled)
            .bind(ts(session.created))
            .bind(ts(session.expires_at));
        bind_device(query, &session.device)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn rotate_session(&self, rotation: &Rotation) -> Result<RotateResult, StoreError> {
        // Fast path: one conditional UPDATE. A concurrent rotation of the same row waits
        // for the row lock and then re-checks `jti = presented` on the new version.
        let done = rotate_query(rotation)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 1 {
            return Ok(RotateResult::Rotated);
        }

        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let (result, changed) = classify_locked(&mut tx, rotation).await?;
        if changed {
            // A replay's deletion must be committed even though the request fails.
            tx.commit().await.map_err(store_error)?;
        } else {
            tx.rollback().await.map_err(store_error)?;
        }
        Ok(result)
    }

    async fn revoke_session(&self, session: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM jwt_allauth_sessions WHERE session = $1")
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
        let done = sqlx::query("DELETE FROM jwt_allauth_sessions WHERE user_id = $1")
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
        Ok(rows.into_iter().map(SessionRecord::from).collect())
    }

    async fn session_is_active(&self, session: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM jwt_allauth_sessions WHERE session = $1)")
            .bind(session)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn count_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jwt_allauth_sessions WHERE expires_at <= $1")
                .bind(now)
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
        let done = sqlx::query(DELETE_EXPIRED_SESSIONS)
            .bind(now)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }
}

impl PurposeTokenStore for PostgresStore {
    async fn replace_purpose_token(&self, token: &NewPurposeToken) -> Result<(), StoreError> {
        // One upsert on the unique (user_id, purpose) index: concurrent replacements
        // leave exactly one pending token.
        let query = sqlx::query(INSERT_PURPOSE_TOKEN)
            .bind(token.token_hash.as_slice())
            .bind(token.purpose.as_str())
            .bind(token.user_id.as_str())
            .bind(ts(token.created))
            .bind(ts(token.expires_at));
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
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let candidates: Vec<(i64, Vec<u8>)> = sqlx::query_as(SELECT_PURPOSE_CANDIDATES)
            .bind(user_id)
            .bind(purpose)
            .bind(now)
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
        Ok(row.map(PurposeTokenRecord::from))
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
        Ok(rows.into_iter().map(PurposeTokenRecord::from).collect())
    }

    async fn revoke_user_purpose_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM jwt_allauth_purpose_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn count_expired_purpose_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jwt_allauth_purpose_tokens WHERE expires_at <= $1",
        )
        .bind(now)
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
        let done = sqlx::query(DELETE_EXPIRED_PURPOSE_TOKENS)
            .bind(now)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }
}
