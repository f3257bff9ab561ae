//! What differs between SQLite and PostgreSQL, side by side: the [`Dialect`] of each
//! backend (how it stores a timestamp, its migrations) and the [`PerDialect`] values the
//! one implementation in [`crate::store`] picks from (SQL text in [`crate::sql`], the
//! purge's batch size and pacing here).
//!
//! A difference in behaviour between the backends shows here or in [`crate::sql`], as a
//! difference in SQL text or in a value, never as a second copy of the logic.

use std::time::Duration;

use jwt_allauth::StoreError;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{Database, Decode, Encode, IntoArguments, Type};
use time::OffsetDateTime;

/// A database the stores run on. Implemented for `sqlx::Sqlite` and
/// `sqlx::Postgres` only (the trait is not reachable from outside the crate).
pub trait Dialect: Database<Arguments: IntoArguments<Self>, Connection: Migrate> {
    /// How a timestamp is stored.
    type Time: for<'q> Encode<'q, Self> + for<'r> Decode<'r, Self> + Type<Self> + Send + Unpin;

    /// This backend's value of `choice`.
    fn pick<T>(choice: PerDialect<T>) -> T;

    /// A timestamp as stored: whole seconds on both backends, the precision of JWT times,
    /// so that both behave the same.
    fn encode_time(t: OffsetDateTime) -> Self::Time;

    /// A stored timestamp.
    fn decode_time(t: Self::Time) -> Result<OffsetDateTime, StoreError>;

    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The embedded migrations of this backend.
    fn migrations() -> Migrator;
}

/// One value per backend, for [`Dialect::pick`].
#[derive(Debug, Clone, Copy)]
pub struct PerDialect<T> {
    /// The value on SQLite.
    pub sqlite: T,
    /// The value on PostgreSQL.
    pub postgres: T,
}

#[cfg(feature = "sqlite")]
impl Dialect for sqlx::Sqlite {
    // SQLite has no timestamp type; an integer compares as a time (text would compare
    // as text).
    type Time = i64;

    fn pick<T>(choice: PerDialect<T>) -> T {
        choice.sqlite
    }

    fn encode_time(t: OffsetDateTime) -> i64 {
        t.unix_timestamp()
    }

    fn decode_time(seconds: i64) -> Result<OffsetDateTime, StoreError> {
        OffsetDateTime::from_unix_timestamp(seconds).map_err(crate::error::decode_error)
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn migrations() -> Migrator {
        sqlx::migrate!("./migrations/sqlite")
    }
}

#[cfg(feature = "postgres")]
impl Dialect for sqlx::Postgres {
    type Time = OffsetDateTime;

    fn pick<T>(choice: PerDialect<T>) -> T {
        choice.postgres
    }

    fn encode_time(t: OffsetDateTime) -> OffsetDateTime {
        t.truncate_to_second()
    }

    fn decode_time(t: OffsetDateTime) -> Result<OffsetDateTime, StoreError> {
        Ok(t)
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn migrations() -> Migrator {
        sqlx::migrate!("./migrations/postgres")
    }
}

/// The store's name, for `Debug`.
pub(crate) const STORE_NAME: PerDialect<&str> = PerDialect {
    sqlite: "SqliteStore",
    postgres: "PostgresStore",
};

/// How many rows one purge statement deletes at most.
pub(crate) const PURGE_BATCH_SIZE: PerDialect<u32> = PerDialect {
    // Deleting a session updates five B-trees, two of them (`session`, `jti`) at random
    // pages, so each row writes several pages to the WAL. A batch of 50 rows holds the
    // single write lock well under a rotation's p99; a batch of
    // `jwt_allauth::PURGE_BATCH_SIZE` held it many times longer (figures: BENCHMARKS.md,
    // "Scale of cost").
    sqlite: 50,
    postgres: jwt_allauth::PURGE_BATCH_SIZE,
};

/// What a purge does after each batch, on a database whose writers exclude each other.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PurgePacing {
    /// Run after a batch that deleted rows.
    pub(crate) checkpoint: &'static str,
    /// After a full batch (the purge comes back at once), the purge pauses as long as the
    /// batch and its checkpoint took, and at least this long.
    pub(crate) min_pause: Duration,
}

/// How a purge gives the database back between batches, if it must.
pub(crate) const PURGE_PACING: PerDialect<Option<PurgePacing>> = PerDialect {
    // The purge's duty cycle on SQLite: a purge holds the database's single write lock
    // at most half of the time. Without the pause, the next batch would take the lock
    // again within microseconds of the commit, while rotations waiting for it poll in
    // SQLite's busy handler and would seldom win it. The busy handler sleeps 1, 2, 5, 10,
    // 15, 20, 25, 25, 25, 50, 50, 100 ms between tries, so after waiting `w` a writer
    // sleeps at most `max(w, 10 ms)` before its next try: a rotation that waited out a
    // batch tries again within the pause after it, and waits about one batch at most. A
    // statement slowed by other writers pauses longer: the purge yields more when the
    // database is busy.
    //
    // The checkpoint (`PASSIVE`: it copies the WAL's pages that no reader still needs
    // into the database file and waits for nobody) writes the pages the batch changed
    // back in the purge's own time. Without it the WAL soon grows past the
    // auto-checkpoint threshold (1,000 pages; a batch of 50 sessions adds over 100), and the
    // connection whose commit crosses it, often a rotation's, copies the WAL into the
    // database file and syncs before it answers. On a database without a WAL (in memory)
    // the checkpoint does nothing.
    sqlite: Some(PurgePacing {
        checkpoint: "PRAGMA wal_checkpoint(PASSIVE)",
        // The longest sleep of SQLite's busy handler for a writer that has waited less
        // than 18 ms.
        min_pause: Duration::from_millis(10),
    }),
    // Purges skip the rows rotations hold locked, and rotations of other rows never
    // wait for a purge.
    postgres: None,
};
