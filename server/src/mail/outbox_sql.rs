//! What differs between SQLite and PostgreSQL for the mail outbox: the [`Dialect`], the
//! SQL text of both side by side.
//!
//! The logic is written once in [`super::outbox`]. The one statement that differs is the
//! claim: PostgreSQL skips the rows another worker is claiming (`FOR UPDATE SKIP
//! LOCKED`), SQLite needs nothing of the kind (one writer at a time, and the claim is
//! one statement). Timestamps are epoch milliseconds on SQLite, `timestamptz` on
//! PostgreSQL.

use sqlx::postgres::PgQueryResult;
use sqlx::sqlite::SqliteQueryResult;
use sqlx::{Database, Decode, Encode, IntoArguments, Postgres, Sqlite, Type};
use time::OffsetDateTime;

use super::outbox::OutboxError;

/// The columns a claim returns, in [`super::outbox`]'s row order.
macro_rules! claimed_columns {
    () => {
        "id, message_key, recipient, subject, text_body, html_body, created_at, attempts"
    };
}

/// The claim: the due rows whose lease (if any) has run out, oldest first, at most $3,
/// leased until $2 with one more attempt counted. Binds now, lease end, limit.
macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE jwt_allauth_mail_outbox SET locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jwt_allauth_mail_outbox \
             WHERE next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until <= $1) \
             ORDER BY next_attempt_at, id LIMIT $3",
            $lock,
            ") RETURNING ",
            claimed_columns!()
        )
    };
}

/// A database the outbox runs on: its SQL text where it differs and its timestamps.
/// Implemented for [`sqlx::Sqlite`] and [`sqlx::Postgres`] only.
///
/// Statements bind their arguments as `$1`, `$2`, ...: PostgreSQL's placeholders, which
/// sqlx's SQLite driver binds by number too.
pub(super) trait Dialect: Database<Arguments: IntoArguments<Self>> {
    /// How a timestamp is stored.
    type Time: for<'q> Encode<'q, Self> + for<'r> Decode<'r, Self> + Type<Self> + Send + Unpin;

    /// A timestamp as stored.
    fn encode_time(t: OffsetDateTime) -> Self::Time;

    /// A stored timestamp.
    fn decode_time(t: Self::Time) -> Result<OffsetDateTime, OutboxError>;

    /// How many rows a statement changed (sqlx has no trait for it).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// See [`claim!`].
    const CLAIM: &'static str;
}

impl Dialect for Sqlite {
    type Time = i64;

    fn encode_time(t: OffsetDateTime) -> i64 {
        // Milliseconds fit an i64 for every year OffsetDateTime holds.
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    fn decode_time(millis: i64) -> Result<OffsetDateTime, OutboxError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .map_err(|err| OutboxError::Database(sqlx::Error::Decode(Box::new(err))))
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    // One writer at a time: the statement claims atomically as it is.
    const CLAIM: &'static str = claim!("");
}

impl Dialect for Postgres {
    type Time = OffsetDateTime;

    fn encode_time(t: OffsetDateTime) -> OffsetDateTime {
        t
    }

    fn decode_time(t: OffsetDateTime) -> Result<OffsetDateTime, OutboxError> {
        Ok(t)
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    // Rows another worker is claiming right now are skipped, not waited for; a row
    // claimed and committed meanwhile is re-checked against the lease and left out.
    const CLAIM: &'static str = claim!(" FOR UPDATE SKIP LOCKED");
}

/// Inserts a mail, due at once: binds message_key, recipient, subject, text_body,
/// html_body, now. Returns the id.
pub(super) const INSERT: &str = "INSERT INTO jwt_allauth_mail_outbox (message_key, recipient, \
     subject, text_body, html_body, created_at, attempts, next_attempt_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 0, $6) RETURNING id";

/// Removes a mail (sent, or given up): binds id.
pub(super) const DELETE: &str = "DELETE FROM jwt_allauth_mail_outbox WHERE id = $1";

/// Releases a claimed mail for a later attempt: binds id, next attempt, last error.
pub(super) const RETRY: &str = "UPDATE jwt_allauth_mail_outbox \
     SET locked_until = NULL, next_attempt_at = $2, last_error = $3 WHERE id = $1";

/// When the next mail is due: its next attempt, or the end of its lease if later.
pub(super) const NEXT_DUE: &str = "SELECT MIN(CASE WHEN locked_until IS NULL \
     OR locked_until < next_attempt_at THEN next_attempt_at ELSE locked_until END) \
     FROM jwt_allauth_mail_outbox";

/// The queued mails without their bodies, oldest first.
pub(super) const QUEUED: &str = "SELECT id, recipient, subject, created_at, attempts, \
     next_attempt_at, locked_until, last_error FROM jwt_allauth_mail_outbox ORDER BY id";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_claim_differs_and_only_by_its_lock() {
        assert_eq!(
            <Postgres as Dialect>::CLAIM.replace(" FOR UPDATE SKIP LOCKED", ""),
            <Sqlite as Dialect>::CLAIM
        );
    }

    #[test]
    fn sqlite_times_are_milliseconds() {
        let t =
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("a time");
        let stored = <Sqlite as Dialect>::encode_time(t);
        assert_eq!(stored, 1_700_000_000_123);
        let back = <Sqlite as Dialect>::decode_time(stored).expect("decoded");
        assert_eq!(back.unix_timestamp_nanos(), 1_700_000_000_123_000_000);
    }
}
