//! The database: SQLite or PostgreSQL, chosen by the URL's scheme.
//!
//! [`Database`] holds the pool; [`Database::session_store`] is the library's session and
//! purpose-token store on it ([`SqliteStore`] or [`PostgresStore`]). Connecting fails within
//! [`CONNECT_TIMEOUT`] when the database does not answer.

mod database_url;
mod read_batches;
mod reads;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jwt_allauth::DynStore;
use jwt_allauth::attempts::AttemptCounters;
use jwt_allauth_sqlx::{PostgresAttemptCounters, PostgresStore, SqliteStore};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{ConnectOptions, Connection};

use crate::monitoring::MeteredStore;

pub use self::database_url::{Backend, DatabaseUrl, UrlError, redact_url};
pub use self::read_batches::{
    BatchQuery, BatchedRead, MAX_BATCH, MAX_RUNNING, ReadBatches, STATEMENT_TIMEOUT,
};
pub use self::reads::{ReadFuture, ReadPool, ReadPoolError};

/// The database used when neither `--database-url`, `JWT_ALLAUTH_DATABASE_URL`,
/// `DATABASE_URL` nor the configuration file names one: a SQLite file in the current
/// directory, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://jwt-allauth.sqlite3";

/// How long connecting (or taking a connection from the pool) may wait before failing.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of a PostgreSQL pool.
const PG_MAX_CONNECTIONS: u32 = 10;

/// How long a PostgreSQL connection may sit idle in the pool and still be handed out
/// without a ping first.
///
/// sqlx pings a connection (a `Sync` round trip) when it goes back to the pool, and by
/// default again when it is taken out: with the query itself, three round trips to the
/// database for a one-statement request such as `GET /user/`. The ping on release stays;
/// the one on acquire is skipped for a connection that passed it less than this long
/// ago, which under load is every connection. One idle longer (a quiet server, or
/// PostgreSQL restarted since) is pinged as before, and a broken one replaced.
const PG_PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The table in which the server records the migrations of its own tables (the users
/// table), apart from the library's `_jwt_allauth_migrations` and an application's
/// `_sqlx_migrations`.
pub const SERVER_MIGRATIONS_TABLE: &str = "_jwt_allauth_server_migrations";

/// Why the database could not be opened or migrated. No message contains a password:
/// URLs appear as [`redact_url`] shows them.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL has no scheme, or one other than `sqlite:` and `postgres://`.
    #[error("unsupported database URL {url}")]
    UnsupportedUrl {
        /// The URL as shown: its scheme alone.
        url: String,
        /// Why.
        #[source]
        source: UrlError,
    },
    /// The URL is refused before connecting (see [`DatabaseUrl::parse`]).
    #[error("invalid database URL {url}")]
    InvalidUrl {
        /// The URL as shown: its scheme alone.
        url: String,
        /// Why.
        #[source]
        source: UrlError,
    },
    /// The database could not be reached or opened.
    #[error("cannot connect to the database at {url}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database did not answer within [`CONNECT_TIMEOUT`].
    #[error("cannot connect to the database at {url}: no answer within {} s", CONNECT_TIMEOUT.as_secs())]
    ConnectTimeout {
        /// The URL, password removed.
        url: String,
    },
    /// A migration failed.
    #[error("cannot apply the database migrations")]
    Migrate(#[source] MigrateError),
    /// Stored e-mail keys could not be brought in step with the current case folding.
    #[error("cannot update the stored e-mail keys")]
    RefoldEmailKeys(#[source] sqlx::Error),
}

impl DbError {
    /// The error for the URL `text`, refused for `source`.
    pub fn invalid_url(text: &str, source: UrlError) -> Self {
        let url = redact_url(text);
        match source {
            UrlError::NoScheme | UrlError::UnsupportedScheme(_) => {
                DbError::UnsupportedUrl { url, source }
            }
            source => DbError::InvalidUrl { url, source },
        }
    }
}

/// A connection pool on SQLite or PostgreSQL. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl Database {
    /// Opens a pool on `url`, which must pass [`DatabaseUrl::parse`]. A SQLite file is
    /// created if missing (WAL mode, busy timeout, foreign keys on: the options of
    /// [`SqliteStore::connect_options`]). Fails after [`CONNECT_TIMEOUT`] at the latest
    /// when the database does not answer.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        let url = DatabaseUrl::parse(url).map_err(|source| DbError::invalid_url(url, source))?;
        Self::connect_to(&url).await
    }

    /// Opens a pool on `url`, like [`Database::connect`].
    pub async fn connect_to(url: &DatabaseUrl) -> Result<Self, DbError> {
        let connect_error = |source| DbError::Connect {
            url: url.to_string(),
            source,
        };
        let Some(parsed) = url.postgres() else {
            let text = url.expose();
            let options = SqliteStore::connect_options(text).map_err(connect_error)?;
            let pool = SqliteStore::pool_options(jwt_allauth_sqlx::is_memory_url(text))
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(connect_error)?;
            return Ok(Database::Sqlite(pool));
        };
        let options = PgConnectOptions::from_url(parsed)
            .map_err(|source| DbError::invalid_url(url.expose(), UrlError::Options(source)))?;
        // One direct connection first: a pool only reports "timed out" after retrying,
        // while this says why (refused, authentication, no such database) at once.
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
            }
            Ok(Err(source)) => return Err(connect_error(source)),
            Err(_) => {
                return Err(DbError::ConnectTimeout {
                    url: url.to_string(),
                });
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(PG_MAX_CONNECTIONS)
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PG_PING_IDLE_AFTER {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        Ok(Database::Postgres(pool))
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// The server's own migrations (the users table) for this backend, recorded in
    /// [`SERVER_MIGRATIONS_TABLE`].
    pub fn server_migrator(&self) -> Migrator {
        let mut migrator = match self {
            Database::Sqlite(_) => sqlx::migrate!("./migrations/sqlite"),
            Database::Postgres(_) => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.dangerous_set_table_name(SERVER_MIGRATIONS_TABLE);
        migrator
    }

    /// Applies the pending migrations: the library's tables (sessions, purpose tokens),
    /// then the server's users table; then rewrites stored e-mail keys that the current
    /// case folding spells differently (see `refold_email_keys`).
    pub async fn migrate(&self) -> Result<(), DbError> {
        let result = match self {
            Database::Sqlite(pool) => {
                SqliteStore::new(pool.clone()).migrate().await?;
                self.server_migrator().run(pool).await
            }
            Database::Postgres(pool) => {
                PostgresStore::new(pool.clone()).migrate().await?;
                self.server_migrator().run(pool).await
            }
        };
        result.map_err(DbError::Migrate)?;
        crate::users::refold_email_keys(self)
            .await
            .map_err(DbError::RefoldEmailKeys)?;
        Ok(())
    }

    /// Runs a trivial query (`SELECT 1`): whether the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Database::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Database::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
    }

    /// The library's session and purpose-token store on this pool ([`SqliteStore`] or
    /// [`PostgresStore`]), counting the sessions it ends ([`MeteredStore`]), erased.
    pub fn session_store(&self) -> DynStore {
        match self {
            Database::Sqlite(pool) => {
                DynStore::with_events(MeteredStore::new(SqliteStore::new(pool.clone())))
            }
            Database::Postgres(pool) => {
                DynStore::with_events(MeteredStore::new(PostgresStore::new(pool.clone())))
            }
        }
    }

    /// The counters of the login throttle and the account rate limits that every
    /// instance on this database shares: on PostgreSQL, [`PostgresAttemptCounters`]; on
    /// SQLite `None` (one process serves, and counts in memory at no database cost).
    pub fn attempt_counters(&self) -> Option<Arc<dyn AttemptCounters>> {
        match self {
            Database::Sqlite(_) => None,
            Database::Postgres(pool) => Some(Arc::new(PostgresAttemptCounters::new(pool.clone()))),
        }
    }

    /// Closes the pool, waiting for connections in use to be returned (SQLite then
    /// checkpoints its write-ahead log).
    pub async fn close(&self) {
        match self {
            Database::Sqlite(pool) => pool.close().await,
            Database::Postgres(pool) => pool.close().await,
        }
    }
}

impl From<MigrateError> for DbError {
    fn from(err: MigrateError) -> Self {
        DbError::Migrate(err)
    }
}

/// Where the server keeps its files for the database `url` (the generated key, mail
/// written to files): beside a SQLite file, else the current directory.
pub fn data_dir(url: &str) -> PathBuf {
    sqlite_file(url)
        .and_then(|file| file.parent().map(std::path::Path::to_path_buf))
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The file of a SQLite database URL, `None` for an in-memory database or another
/// backend.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if Backend::from_url(url).ok()? != Backend::Sqlite || jwt_allauth_sqlx::is_memory_url(url) {
        return None;
    }
    let options: SqliteConnectOptions = url.parse().ok()?;
    Some(options.get_filename().to_path_buf())
}

#[cfg(test)]
mod tests {
    use jwt_allauth::store::{PurposeTokenStore, SessionStore};

    use super::*;

    #[test]
    fn sqlite_files() {
        assert_eq!(
            sqlite_file("sqlite://data/a.db"),
            Some(PathBuf::from("data/a.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///tmp/a.db?mode=rwc"),
            Some(PathBuf::from("/tmp/a.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    /// The purge's batch sizes are the backend store's (smaller on SQLite, whose single
    /// writer the purge shares with rotations), not the trait's default.
    #[tokio::test]
    async fn purge_batch_sizes_come_from_the_backend_store() {
        let db = Database::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        let store = db.session_store();
        let Database::Sqlite(pool) = &db else {
            panic!("not SQLite");
        };
        let sqlite = SqliteStore::new(pool.clone());
        assert_eq!(
            store.expired_sessions_batch_size(),
            sqlite.expired_sessions_batch_size()
        );
        assert_eq!(
            store.expired_purpose_tokens_batch_size(),
            sqlite.expired_purpose_tokens_batch_size()
        );
    }
}
