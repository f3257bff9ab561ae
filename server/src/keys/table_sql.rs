//! What differs between SQLite and PostgreSQL for the signing-keys table: the
//! [`Dialect`], and the statements both run to the letter.
//!
//! The logic is written once in [`super::table`]. The backends differ in their
//! timestamps (epoch seconds on SQLite, `timestamptz` on PostgreSQL) and in how the
//! activation's transaction begins: SQLite takes the write lock at once (`BEGIN
//! IMMEDIATE`), so that two activations at once queue instead of failing with
//! `SQLITE_BUSY`; on PostgreSQL the unique index on the active key orders them.

use sqlx::{Database, Decode, Encode, IntoArguments, Postgres, Sqlite, Type};
use time::OffsetDateTime;

use super::table::KeyStoreError;

/// A database the signing-keys table runs on. Implemented for [`sqlx::Sqlite`] and
/// [`sqlx::Postgres`] only.
///
/// Statements bind their arguments as `$1`, `$2`, ...: PostgreSQL's placeholders, which
/// sqlx's SQLite driver binds by number too.
pub(super) trait Dialect: Database<Arguments: IntoArguments<Self>> {
    /// How a timestamp is stored.
    type Time: for<'q> Encode<'q, Self> + for<'r> Decode<'r, Self> + Type<Self> + Send + Unpin;

    /// A timestamp as stored: whole seconds on both backends.
    fn encode_time(t: OffsetDateTime) -> Self::Time;

    /// A stored timestamp.
    fn decode_time(t: Self::Time) -> Result<OffsetDateTime, KeyStoreError>;

    /// How many rows a statement changed (sqlx has no trait for it).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Begins the activation's transaction.
    const BEGIN_WRITE: &'static str;
}

impl Dialect for Sqlite {
    type Time = i64;

    fn encode_time(t: OffsetDateTime) -> i64 {
        t.unix_timestamp()
    }

    fn decode_time(seconds: i64) -> Result<OffsetDateTime, KeyStoreError> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .map_err(|err| KeyStoreError::Database(sqlx::Error::Decode(Box::new(err))))
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
}

impl Dialect for Postgres {
    type Time = OffsetDateTime;

    fn encode_time(t: OffsetDateTime) -> OffsetDateTime {
        t.truncate_to_second()
    }

    fn decode_time(t: OffsetDateTime) -> Result<OffsetDateTime, KeyStoreError> {
        Ok(t)
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    const BEGIN_WRITE: &'static str = "BEGIN";
}

/// The columns of a key row, in [`super::table`]'s row order.
macro_rules! columns {
    () => {
        "kid, algorithm, state, public_pem, private_nonce, private_sealed, created_at, \
         activated_at, deactivated_at, retired_at"
    };
}

/// Every key, oldest first.
pub(super) const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM jwt_allauth_signing_keys ORDER BY created_at, kid"
);

/// One key: binds kid.
pub(super) const BY_KID: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM jwt_allauth_signing_keys WHERE kid = $1"
);

/// A new standby key: binds kid, algorithm, public_pem, private_nonce, private_sealed,
/// created_at.
pub(super) const INSERT: &str = "INSERT INTO jwt_allauth_signing_keys (kid, algorithm, state, \
     public_pem, private_nonce, private_sealed, created_at) \
     VALUES ($1, $2, 'standby', $3, $4, $5, $6)";

/// The active key becomes previous: binds now. Returns its kid.
pub(super) const DEMOTE_ACTIVE: &str = "UPDATE jwt_allauth_signing_keys \
     SET state = 'previous', deactivated_at = $1 WHERE state = 'active' RETURNING kid";

/// A standby key becomes active: binds now, kid.
pub(super) const PROMOTE: &str = "UPDATE jwt_allauth_signing_keys \
     SET state = 'active', activated_at = $1 WHERE kid = $2 AND state = 'standby'";

/// A key in the state it was read in is retired and its private key erased: binds now,
/// kid, state.
pub(super) const RETIRE: &str = "UPDATE jwt_allauth_signing_keys \
     SET state = 'retired', retired_at = $1, private_nonce = NULL, private_sealed = NULL \
     WHERE kid = $2 AND state = $3";
