//! Reading a django-jwt-allauth 1.5 database: its user table (`jwt_allauth_jauser` by
//! default), allauth's `account_emailaddress`, the session whitelist
//! `jwt_allauth_refreshtokenwhitelistmodel` and the purpose tokens
//! `jwt_allauth_generictokenmodel`, on SQLite or PostgreSQL, read-only.
//!
//! Times are read as Unix seconds: Django with `USE_TZ = True` (its default since 5.0, and
//! the library's project template) stores UTC, as text on SQLite
//! (`2026-12-05 21:05:11.279563`) and as `timestamptz` on PostgreSQL.

use std::str::FromStr;

use jwt_allauth::DeviceInfo;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, FromRow};

use super::ImportError;

/// A row of the Django user table. Its `Debug` leaves the password hash out.
#[derive(Clone, FromRow)]
pub struct DjangoUser {
    /// `id`, kept as the user's id here.
    pub id: i64,
    /// `password`: a Django hash (`pbkdf2_sha256$...`), never printed.
    pub password: String,
    /// `email` (may be empty: Django does not require one).
    pub email: String,
    /// `first_name`.
    pub first_name: String,
    /// `last_name`.
    pub last_name: String,
    /// `is_active`.
    pub is_active: bool,
    /// `is_staff`.
    pub is_staff: bool,
    /// `is_superuser`.
    pub is_superuser: bool,
    /// `role` (`JAUser` and `RoleMixin` models), `None` when the table has no such column.
    pub role: Option<i64>,
    /// `date_joined`, Unix seconds.
    pub date_joined: i64,
    /// `last_login`, Unix seconds.
    pub last_login: Option<i64>,
}

impl std::fmt::Debug for DjangoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DjangoUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

/// A row of allauth's `account_emailaddress`.
#[derive(Debug, Clone, FromRow)]
pub struct DjangoAddress {
    /// Owner.
    pub user_id: i64,
    /// The address.
    pub email: String,
    /// Confirmed.
    pub verified: bool,
    /// The user's primary address.
    pub primary: bool,
}

/// The device columns the whitelist and the purpose tokens share.
#[derive(Debug, Clone, FromRow)]
pub struct DjangoDevice {
    ip: Option<String>,
    browser: Option<String>,
    browser_version: Option<String>,
    os: Option<String>,
    os_version: Option<String>,
    device: Option<String>,
    device_brand: Option<String>,
    device_model: Option<String>,
    is_mobile: Option<bool>,
    is_tablet: Option<bool>,
    is_pc: Option<bool>,
    is_bot: Option<bool>,
}

impl DjangoDevice {
    /// As this server stores it (texts cut to 32 characters, empty texts as unknown).
    pub fn into_device(self) -> DeviceInfo {
        let text =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        DeviceInfo {
            ip: text(self.ip),
            browser: text(self.browser),
            browser_version: text(self.browser_version),
            os: text(self.os),
            os_version: text(self.os_version),
            device: text(self.device),
            device_brand: text(self.device_brand),
            device_model: text(self.device_model),
            is_mobile: self.is_mobile,
            is_tablet: self.is_tablet,
            is_pc: self.is_pc,
            is_bot: self.is_bot,
        }
        .truncated()
    }
}

/// A row of `jwt_allauth_refreshtokenwhitelistmodel`: one live session, its current
/// refresh token's `jti`.
#[derive(Debug, Clone, FromRow)]
pub struct DjangoSession {
    /// Row id (for the report).
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// `jti` of the session's current refresh token.
    pub jti: String,
    /// The session id (`session` claim).
    pub session: String,
    /// `false` while a mandatory e-mail verification is pending.
    pub enabled: bool,
    /// When the row was written (the login, or the last rotation), Unix seconds.
    pub created: i64,
    /// Device metadata.
    #[sqlx(flatten)]
    pub device: DjangoDevice,
}

/// A row of `jwt_allauth_generictokenmodel`: a pending e-mailed link.
#[derive(Debug, Clone, FromRow)]
pub struct DjangoPurposeToken {
    /// Row id (for the report).
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// SHA-256 of the token, lowercase hex.
    pub token: String,
    /// `PASS_RESET`, `INVITATION`, ...
    pub purpose: String,
    /// Creation, Unix seconds.
    pub created: i64,
    /// Device metadata.
    #[sqlx(flatten)]
    pub device: DjangoDevice,
}

/// The statements of one backend. `{users}` stands for the user table, `{role}` for its
/// `role` column or NULL.
struct Statements {
    columns: &'static str,
    count_users: &'static str,
    users: &'static str,
    addresses: &'static str,
    sessions: &'static str,
    tokens: &'static str,
    orphan_sessions: &'static str,
}

const DEVICE: &str = "browser, browser_version, os, os_version, device, device_brand, \
                      device_model, is_mobile, is_tablet, is_pc, is_bot";

const SQLITE: Statements = Statements {
    columns: "SELECT name FROM pragma_table_info($1)",
    count_users: "SELECT COUNT(*) FROM {users}",
    users: "SELECT id, password, email, first_name, last_name, is_active, is_staff, \
            is_superuser, {role} AS role, CAST(strftime('%s', date_joined) AS INTEGER) AS \
            date_joined, CAST(strftime('%s', last_login) AS INTEGER) AS last_login \
            FROM {users} WHERE id > $1 ORDER BY id LIMIT $2",
    addresses: "SELECT user_id, email, verified, \"primary\" FROM account_emailaddress \
                WHERE user_id >= $1 AND user_id <= $2 ORDER BY id",
    sessions: "SELECT id, user_id, jti, session, enabled, CAST(strftime('%s', created) AS \
               INTEGER) AS created, NULLIF(TRIM(ip), '') AS ip, {device} \
               FROM jwt_allauth_refreshtokenwhitelistmodel \
               WHERE user_id >= $1 AND user_id <= $2 ORDER BY id",
    tokens: "SELECT id, user_id, token, purpose, CAST(strftime('%s', created) AS INTEGER) AS \
             created, NULLIF(TRIM(ip), '') AS ip, {device} FROM jwt_allauth_generictokenmodel \
             WHERE user_id >= $1 AND user_id <= $2 ORDER BY id",
    orphan_sessions: "SELECT w.id FROM jwt_allauth_refreshtokenwhitelistmodel w \
                      WHERE NOT EXISTS (SELECT 1 FROM {users} u WHERE u.id = w.user_id) \
                      ORDER BY w.id",
};

const POSTGRES: Statements = Statements {
    columns: "SELECT column_name::text FROM information_schema.columns \
              WHERE table_name = $1 AND table_schema = current_schema()",
    count_users: "SELECT COUNT(*) FROM {users}",
    users: "SELECT id::bigint AS id, password, email, first_name, last_name, is_active, \
            is_staff, is_superuser, {role}::bigint AS role, \
            floor(extract(epoch FROM date_joined))::bigint AS date_joined, \
            floor(extract(epoch FROM last_login))::bigint AS last_login \
            FROM {users} WHERE id > $1 ORDER BY id LIMIT $2",
    addresses: "SELECT user_id::bigint AS user_id, email, verified, \"primary\" \
                FROM account_emailaddress WHERE user_id >= $1 AND user_id <= $2 ORDER BY id",
    sessions: "SELECT id::bigint AS id, user_id::bigint AS user_id, jti, session, enabled, \
               floor(extract(epoch FROM created))::bigint AS created, host(ip) AS ip, \
               {device} FROM jwt_allauth_refreshtokenwhitelistmodel \
               WHERE user_id >= $1 AND user_id <= $2 ORDER BY id",
    tokens: "SELECT id::bigint AS id, user_id::bigint AS user_id, token, purpose, \
             floor(extract(epoch FROM created))::bigint AS created, host(ip) AS ip, {device} \
             FROM jwt_allauth_generictokenmodel \
             WHERE user_id >= $1 AND user_id <= $2 ORDER BY id",
    orphan_sessions: "SELECT w.id::bigint FROM jwt_allauth_refreshtokenwhitelistmodel w \
                      WHERE NOT EXISTS (SELECT 1 FROM {users} u WHERE u.id = w.user_id) \
                      ORDER BY w.id",
};

/// The Django database, open read-only.
pub enum Source {
    /// A SQLite file, opened read-only.
    Sqlite(SqlitePool),
    /// A PostgreSQL database (only `SELECT`s are sent).
    Postgres(PgPool),
}

/// The source database with its user table resolved.
pub struct DjangoDatabase {
    source: Source,
    /// The user table's name (checked to be a plain identifier).
    users: String,
    /// Whether the user table has a `role` column.
    has_role: bool,
}

/// Whether `name` is a plain SQL identifier (safe to put in a statement).
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Runs a query returning rows of `T` on whichever backend.
macro_rules! on_source {
    ($db:expr, $statement:ident, |$sql:ident, $pool:ident| $body:expr) => {
        match &$db.source {
            Source::Sqlite($pool) => {
                let $sql = $db.statement(SQLITE.$statement);
                $body
            }
            Source::Postgres($pool) => {
                let $sql = $db.statement(POSTGRES.$statement);
                $body
            }
        }
    };
}

impl DjangoDatabase {
    /// Opens `url` (`sqlite://FILE` or `postgres://...`) read-only and finds the user
    /// table `users` and whether it has a `role` column.
    pub async fn open(url: &str, users: &str) -> Result<Self, ImportError> {
        if !is_identifier(users) {
            return Err(ImportError::UserTable(users.to_owned()));
        }
        let shown = crate::db::redact_url(url);
        let connect = |source| ImportError::Connect {
            url: shown.clone(),
            source,
        };
        let source = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect)?
                .read_only(true)
                .create_if_missing(false);
            Source::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(crate::db::CONNECT_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(connect)?,
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Source::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(crate::db::CONNECT_TIMEOUT)
                    .connect(url)
                    .await
                    .map_err(connect)?,
            )
        } else {
            return Err(ImportError::SourceUrl(shown));
        };
        let mut db = Self {
            source,
            users: users.to_owned(),
            has_role: false,
        };
        let columns = db.columns(users).await?;
        if columns.is_empty() {
            return Err(ImportError::NoTable(users.to_owned()));
        }
        for table in [
            "account_emailaddress",
            "jwt_allauth_refreshtokenwhitelistmodel",
            "jwt_allauth_generictokenmodel",
        ] {
            if db.columns(table).await?.is_empty() {
                return Err(ImportError::NoTable(table.to_owned()));
            }
        }
        db.has_role = columns.iter().any(|column| column == "role");
        Ok(db)
    }

    /// The statement with the user table and the role column filled in.
    fn statement(&self, template: &str) -> AssertSqlSafe<String> {
        let role = if self.has_role { "role" } else { "NULL" };
        AssertSqlSafe(
            template
                .replace("{users}", &self.users)
                .replace("{role}", role)
                .replace("{device}", DEVICE),
        )
    }

    async fn columns(&self, table: &str) -> Result<Vec<String>, ImportError> {
        let read = |source| ImportError::Read {
            what: "the table list",
            source,
        };
        match &self.source {
            Source::Sqlite(pool) => sqlx::query_scalar(SQLITE.columns)
                .bind(table)
                .fetch_all(pool)
                .await
                .map_err(read),
            Source::Postgres(pool) => sqlx::query_scalar(POSTGRES.columns)
                .bind(table)
                .fetch_all(pool)
                .await
                .map_err(read),
        }
    }

    /// How many users the table holds.
    pub async fn count_users(&self) -> Result<u64, ImportError> {
        let count: i64 = on_source!(self, count_users, |sql, pool| sqlx::query_scalar(sql)
            .fetch_one(pool)
            .await)
        .map_err(|source| ImportError::Read {
            what: "the user count",
            source,
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// At most `limit` users with an id above `after`, by id.
    pub async fn users_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<DjangoUser>, ImportError> {
        on_source!(self, users, |sql, pool| sqlx::query_as(sql)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await)
        .map_err(|source| ImportError::Read {
            what: "the users",
            source,
        })
    }

    /// The e-mail addresses of the users with ids in `first..=last`.
    pub async fn addresses(
        &self,
        first: i64,
        last: i64,
    ) -> Result<Vec<DjangoAddress>, ImportError> {
        on_source!(self, addresses, |sql, pool| sqlx::query_as(sql)
            .bind(first)
            .bind(last)
            .fetch_all(pool)
            .await)
        .map_err(|source| ImportError::Read {
            what: "the e-mail addresses",
            source,
        })
    }

    /// The sessions of the users with ids in `first..=last`.
    pub async fn sessions(&self, first: i64, last: i64) -> Result<Vec<DjangoSession>, ImportError> {
        on_source!(self, sessions, |sql, pool| sqlx::query_as(sql)
            .bind(first)
            .bind(last)
            .fetch_all(pool)
            .await)
        .map_err(|source| ImportError::Read {
            what: "the sessions",
            source,
        })
    }

    /// The purpose tokens of the users with ids in `first..=last`.
    pub async fn purpose_tokens(
        &self,
        first: i64,
        last: i64,
    ) -> Result<Vec<DjangoPurposeToken>, ImportError> {
        on_source!(self, tokens, |sql, pool| sqlx::query_as(sql)
            .bind(first)
            .bind(last)
            .fetch_all(pool)
            .await)
        .map_err(|source| ImportError::Read {
            what: "the purpose tokens",
            source,
        })
    }

    /// The ids of whitelist rows whose user does not exist.
    pub async fn orphan_sessions(&self) -> Result<Vec<i64>, ImportError> {
        on_source!(self, orphan_sessions, |sql, pool| sqlx::query_scalar(sql)
            .fetch_all(pool)
            .await)
        .map_err(|source| ImportError::Read {
            what: "the sessions",
            source,
        })
    }

    /// Closes the connection.
    pub async fn close(self) {
        match self.source {
            Source::Sqlite(pool) => pool.close().await,
            Source::Postgres(pool) => pool.close().await,
        }
    }
}
