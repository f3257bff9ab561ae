//! SQLite and PostgreSQL stores for [`jwt_allauth`]: the session whitelist
//! ([`SessionStore`](jwt_allauth::store::SessionStore)), single-use purpose tokens
//! ([`PurposeTokenStore`](jwt_allauth::store::PurposeTokenStore)) and the event log
//! ([`EventLog`](jwt_allauth::events::EventLog)), each change with its event in one
//! transaction.
//!
//! - `SqliteStore` (feature `sqlite`, on by default): timestamps as INTEGER epoch
//!   seconds, write transactions with `BEGIN IMMEDIATE`, WAL mode for database files,
//!   purges in small batches that give the single writer back between them.
//! - `PostgresStore` (feature `postgres`, on by default): `timestamptz` columns, row
//!   locks (`SELECT ... FOR UPDATE`) to classify replays, purges that skip locked rows.
//!
//! Both are one implementation over two dialects, `SqlxStore<sqlx::Sqlite>` and
//! `SqlxStore<sqlx::Postgres>`: the logic and the statements both backends run to the
//! letter are written once, and each backend contributes only the SQL text, timestamp
//! conversion and purge pacing in which it differs. Both run the
//! conformance suite of `jwt_allauth::conformance` (including concurrency stress tests),
//! rotate a session with one conditional `UPDATE` of its row, decide a rotation that
//! missed with [`jwt_allauth::rotation::classify`], and use runtime queries only: no
//! database is needed to build. The migrations are embedded and recorded in the table
//! [`MIGRATIONS_TABLE`] (`_jwt_allauth_migrations`), so they never mix with an
//! application's own `_sqlx_migrations`.
//!
//! Database errors map to [`StoreError`](jwt_allauth::StoreError) by kind: unreachable,
//! busy or read-only → `Unavailable` (see `is_unavailable`), unique violation →
//! `Conflict`, anything else → `Backend`, always with the sqlx error as the source.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use jwt_allauth::store::SessionStore;
//! use jwt_allauth_sqlx::SqliteStore;
//!
//! // An in-memory database lives in the store's single connection.
//! let store = SqliteStore::connect("sqlite::memory:").await?;
//! store.migrate().await?;
//! assert!(!store.session_is_active("0123456789abcdef0123456789abcdef").await?);
//! # Ok(())
//! # }
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread()
//! #     .enable_all()
//! #     .build()
//! #     .expect("runtime")
//! #     .block_on(example())
//! #     .expect("example");
//! ```

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod device;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod dialect;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod error;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod events;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod revocation_feed;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sequence_gaps;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod store;

#[cfg(feature = "postgres")]
mod attempt_counters;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use attempt_counters::PostgresAttemptCounters;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use error::is_unavailable;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use revocation_feed::{FeedSettings, RevocationFeed};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sequence_gaps::SequenceGaps;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteStore, is_memory_url};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use store::SqlxStore;

/// The sqlx version this crate is built with, for pool and option types.
pub use sqlx;
/// The error of `migrate()`.
pub use sqlx::migrate::MigrateError;

/// The table in which the stores record their applied migrations.
pub const MIGRATIONS_TABLE: &str = "_jwt_allauth_migrations";
