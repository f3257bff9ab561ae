//! Mapping of sqlx errors to [`StoreError`].
//!
//! Errors are classified by their kind and by the database's error code, never by their
//! message text, and the sqlx error is always kept as the source.

use jwt_allauth::StoreError;
use sqlx::error::DatabaseError;

/// Classifies a sqlx error:
///
/// - the database cannot be reached or is overloaded (pool timeout or closed, I/O, TLS,
///   connection-class SQLSTATEs, `SQLITE_BUSY`/`SQLITE_LOCKED` after the busy timeout,
///   `SQLITE_READONLY`: a database file the server may read but not write)
///   → [`StoreError::Unavailable`];
/// - a unique or primary-key violation → [`StoreError::Conflict`];
/// - anything else → [`StoreError::Backend`].
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(Box::new(err))
        }
        _ if is_unavailable(&err) => StoreError::Unavailable(Box::new(err)),
        _ => StoreError::Backend(Box::new(err)),
    }
}

/// Whether a sqlx error says "the database cannot serve now" rather than "this request
/// is wrong": the pool timed out or is closed, I/O or TLS failed, a connection-class or
/// resource SQLSTATE on PostgreSQL (`08...`, `53...`, `57P01`-`57P03`), or `SQLITE_BUSY`,
/// `SQLITE_LOCKED` (after the busy timeout), `SQLITE_READONLY` (a database file the
/// server may read but not write) or `SQLITE_CANTOPEN` on SQLite. Servers answer such
/// errors with 503.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => is_unavailable_code(db.as_ref()),
        _ => false,
    }
}

/// [`is_unavailable`] for an error the database itself reported, by its code.
fn is_unavailable_code(db: &dyn DatabaseError) -> bool {
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let code = pg.code();
        // 08: connection exception; 53: insufficient resources (too many connections,
        // out of memory, disk full); 57P01-57P03: shutdown / cannot connect now.
        return code.starts_with("08")
            || code.starts_with("53")
            || matches!(code, "57P01" | "57P02" | "57P03");
    }
    #[cfg(feature = "sqlite")]
    if let Some(sqlite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
        // The code is the extended result code; its low byte is the primary code.
        const SQLITE_BUSY: i64 = 5;
        const SQLITE_LOCKED: i64 = 6;
        const SQLITE_READONLY: i64 = 8;
        const SQLITE_CANTOPEN: i64 = 14;
        let primary = sqlite
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .map(|code| code & 0xff);
        return matches!(
            primary,
            Some(SQLITE_BUSY | SQLITE_LOCKED | SQLITE_READONLY | SQLITE_CANTOPEN)
        );
    }
    let _ = db;
    false
}

/// An impossible state reached inside a store (a broken invariant), reported as
/// [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
#[error("jwt-allauth-sqlx invariant violated: {0}")]
pub(crate) struct InvariantError(pub(crate) &'static str);

impl From<InvariantError> for StoreError {
    fn from(err: InvariantError) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

/// A value read from the database that cannot be converted (for example an epoch
/// timestamp out of range), reported as [`StoreError::Backend`].
pub(crate) fn decode_error(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(sqlx::Error::Decode(Box::new(err))))
}
