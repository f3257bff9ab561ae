//! [`SqliteStore`]: the store on SQLite, and how it opens its database.

use std::str::FromStr;
use std::time::Duration as StdDuration;

use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::store::SqlxStore;

/// The session whitelist and purpose tokens, stored in SQLite.
///
/// Timestamps are stored as INTEGER Unix epoch seconds, so they round-trip at second
/// precision. Write transactions use `BEGIN IMMEDIATE`. A purge deletes 50 rows per
/// statement and gives the single writer back between batches.
///
/// Build it with [`SqliteStore::connect`] (which configures the pool for you) or with
/// [`SqliteStore::new`] on a pool of your own, then call [`SqliteStore::migrate`] once at
/// start-up. A pool of your own should have a busy timeout, and an in-memory database
/// needs a pool of exactly one connection that is never closed (see
/// [`SqliteStore::pool_options`]).
pub type SqliteStore = SqlxStore<Sqlite>;

/// How long a connection waits for another writer before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Connections of a pool on a database file.
const FILE_MAX_CONNECTIONS: u32 = 4;

impl SqlxStore<Sqlite> {
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
}

/// Whether a SQLite URL names an in-memory database (`sqlite::memory:`,
/// `sqlite://:memory:`, or `mode=memory` among its parameters).
pub fn is_memory_url(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.trim_start_matches('/');
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory")
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
