//! [`PostgresStore`]: the store on PostgreSQL, and how it opens its database.

use sqlx::Postgres;
use sqlx::postgres::PgPoolOptions;

use crate::store::SqlxStore;

/// The session whitelist and purpose tokens, stored in PostgreSQL.
///
/// Timestamps are `timestamptz` columns; they are stored truncated to whole seconds (the
/// precision of JWT times), exactly as on SQLite, so both backends behave the same.
/// Rotation is one conditional `UPDATE`; only a token that is not current takes a
/// second, row-locking transaction (`SELECT ... FOR UPDATE`) to tell a retry from a
/// replay. Purges skip the rows that rotations hold locked.
///
/// Build it with [`PostgresStore::connect`] or with [`PostgresStore::new`] on a pool of
/// your own, then call [`PostgresStore::migrate`] once at start-up. The tables are created
/// in the first schema of the connection's `search_path`.
pub type PostgresStore = SqlxStore<Postgres>;

impl SqlxStore<Postgres> {
    /// Opens a store on `url` (`postgres://user@host/db`) with sqlx's default pool
    /// options. Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Ok(Self::new(PgPoolOptions::new().connect(url).await?))
    }
}
