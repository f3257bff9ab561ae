//! The users table's SQLite [`Dialect`]: timestamps as INTEGER epoch seconds, the
//! profile as JSON text.

use sqlx::Sqlite;
use sqlx::sqlite::SqliteQueryResult;
use time::OffsetDateTime;

use super::UsersError;
use super::dialect::Dialect;
use super::table::{insert_user, set_profile};

impl Dialect for Sqlite {
    type Time = i64;

    fn encode_time(t: OffsetDateTime) -> i64 {
        t.unix_timestamp()
    }

    fn decode_time(seconds: i64) -> Result<OffsetDateTime, UsersError> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .map_err(|err| UsersError::from_sqlx(sqlx::Error::Decode(Box::new(err))))
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    // The profile, bound as JSON text, is stored as it is.
    const INSERT: &'static str = insert_user!("$11");

    // An explicit id moves AUTOINCREMENT's counter past it by itself.
    const INSERT_IMPORTED: &'static str = "INSERT INTO jwt_allauth_users (id, email, email_lower, password_hash, first_name, \
         last_name, role, is_active, is_staff, is_superuser, email_verified, date_joined, \
         last_login) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

    const SET_PROFILE: &'static str = set_profile!("$1");

    // GLOB's class: any character outside printable ASCII.
    const NON_ASCII_KEYS: &'static str =
        "SELECT id, email, email_lower FROM jwt_allauth_users WHERE email_lower GLOB '*[^ -~]*'";
}
