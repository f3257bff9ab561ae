//! What differs between SQLite and PostgreSQL for the users table: the [`Dialect`].
//!
//! The statements both backends run to the letter, and all the logic, are written once
//! in [`super::table`]. A difference in behaviour between the backends shows in
//! `sqlite.rs` and `postgres.rs` as a difference in SQL text or in a time conversion,
//! never as a second copy of the logic.

use sqlx::{Database, Decode, Encode, IntoArguments, Type};
use time::OffsetDateTime;

use super::UsersError;

/// A database the users table runs on: its SQL text where it differs and its
/// timestamps. Implemented for [`sqlx::Sqlite`] and [`sqlx::Postgres`] only.
///
/// Statements bind their arguments as `$1`, `$2`, ...: PostgreSQL's placeholders, which
/// sqlx's SQLite driver binds by number too, so that a statement differs between the
/// backends only where its SQL really does.
pub(super) trait Dialect: Database<Arguments: IntoArguments<Self>> {
    /// How a timestamp is stored.
    type Time: for<'q> Encode<'q, Self> + for<'r> Decode<'r, Self> + Type<Self> + Send + Unpin;

    /// A timestamp as stored: whole seconds on both backends.
    fn encode_time(t: OffsetDateTime) -> Self::Time;

    /// A stored timestamp.
    fn decode_time(t: Self::Time) -> Result<OffsetDateTime, UsersError>;

    /// How many rows a statement changed (sqlx has no trait for it).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Inserts a user and returns its row: binds email, email_lower, password_hash,
    /// first_name, last_name, role, is_active, is_staff, is_superuser, email_verified,
    /// profile (JSON text), date_joined.
    const INSERT: &'static str;

    /// Inserts an imported user with its id (no profile): binds id, email, email_lower,
    /// password_hash, first_name, last_name, role, is_active, is_staff, is_superuser,
    /// email_verified, date_joined, last_login.
    const INSERT_IMPORTED: &'static str;

    /// Replaces the profile and returns the row: binds profile (JSON text), id.
    const SET_PROFILE: &'static str;

    /// The users whose e-mail key is not ASCII (only those can fold differently):
    /// `(id, email, email_lower)`.
    const NON_ASCII_KEYS: &'static str;
}
