//! The users table's PostgreSQL [`Dialect`]: `timestamptz` columns, the profile as
//! `jsonb`, written as text.

use sqlx::Postgres;
use sqlx::postgres::PgQueryResult;
use time::OffsetDateTime;

use super::UsersError;
use super::dialect::Dialect;
use super::table::{insert_user, set_profile};

impl Dialect for Postgres {
    type Time = OffsetDateTime;

    // Whole seconds, as SQLite stores them: a user reads back the time it was given on
    // either backend.
    fn encode_time(t: OffsetDateTime) -> OffsetDateTime {
        t.truncate_to_second()
    }

    fn decode_time(t: OffsetDateTime) -> Result<OffsetDateTime, UsersError> {
        Ok(t)
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    // The profile is bound as JSON text, which PostgreSQL does not cast to jsonb by itself.
    const INSERT: &'static str = insert_user!("$11::jsonb");

    // `id` is an identity column: an explicit value needs OVERRIDING SYSTEM VALUE, and
    // the sequence is moved past the largest id after the import.
    const INSERT_IMPORTED: &'static str = "INSERT INTO jwt_allauth_users (id, email, email_lower, password_hash, first_name, \
         last_name, role, is_active, is_staff, is_superuser, email_verified, date_joined, \
         last_login) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

    const SET_PROFILE: &'static str = set_profile!("$1::jsonb");

    // A POSIX class: any character outside printable ASCII.
    const NON_ASCII_KEYS: &'static str =
        "SELECT id, email, email_lower FROM jwt_allauth_users WHERE email_lower ~ '[^ -~]'";
}
