//! Users imported from another system (`jwt-allauth import django`): inserted with the
//! id and the password hash they had there, in a transaction of the importer's that also
//! writes their sessions.

use sqlx::{Postgres, Sqlite};
use time::OffsetDateTime;

use super::table::Table;
use super::{UsersError, normalize_email, refuse_nul};

/// A user as another system had it; the password hash is kept as it is (a Django hash is
/// verified at login and replaced by an argon2id hash then).
pub struct ImportedUser<'a> {
    /// The id it had, kept (tokens carry it in `user_id`).
    pub id: i64,
    /// E-mail address.
    pub email: &'a str,
    /// The password hash as stored there.
    pub password_hash: &'a str,
    /// Given name.
    pub first_name: &'a str,
    /// Family name.
    pub last_name: &'a str,
    /// Explicit role, or `None` to derive it from the flags.
    pub role: Option<i64>,
    /// May log in.
    pub is_active: bool,
    /// Staff member.
    pub is_staff: bool,
    /// Superuser.
    pub is_superuser: bool,
    /// Whether the address is confirmed.
    pub email_verified: bool,
    /// When the account was made.
    pub date_joined: OffsetDateTime,
    /// The last login there.
    pub last_login: Option<OffsetDateTime>,
}

// The password hash is a secret.
impl std::fmt::Debug for ImportedUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// What the users table already holds for an imported user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExistingUser {
    /// Neither its id nor its address: it can be inserted.
    Absent,
    /// A user with its id and its address: imported before.
    Imported,
    /// Its id belongs to a user with another address.
    IdTaken,
    /// Its address belongs to the user with this id.
    EmailTaken(i64),
}

impl ImportedUser<'_> {
    /// The address's key, after the checks every address of the table passes; the names
    /// without NUL.
    pub fn validate(&self) -> Result<String, UsersError> {
        let (_, key) = normalize_email(self.email)?;
        refuse_nul("first name", self.first_name)?;
        refuse_nul("last name", self.last_name)?;
        Ok(key)
    }
}

/// Generates the functions of one backend.
macro_rules! import_on {
    ($existing:ident, $insert:ident, $db:ty, $connection:ty) => {
        /// What the table holds for `user` (whose address key is `key`), on `connection`.
        pub async fn $existing(
            connection: &mut $connection,
            user: &ImportedUser<'_>,
            key: &str,
        ) -> Result<ExistingUser, UsersError> {
            let rows = Table::<$db>::id_or_email_key_on(connection, user.id, key).await?;
            Ok(classify(user.id, key, &rows))
        }

        /// Inserts `user` (address key `key`) with its id, on `connection`.
        pub async fn $insert(
            connection: &mut $connection,
            user: &ImportedUser<'_>,
            key: &str,
        ) -> Result<(), UsersError> {
            Table::<$db>::insert_imported_on(connection, user, key).await
        }
    };
}

import_on!(
    existing_on_sqlite,
    insert_on_sqlite,
    Sqlite,
    sqlx::SqliteConnection
);
import_on!(
    existing_on_postgres,
    insert_on_postgres,
    Postgres,
    sqlx::PgConnection
);

/// Moves the PostgreSQL identity of the users table past the largest id, after ids were
/// inserted explicitly (SQLite's AUTOINCREMENT follows explicit ids by itself).
pub async fn advance_id_sequence(pool: &sqlx::PgPool) -> Result<(), UsersError> {
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('jwt_allauth_users', 'id'), \
         GREATEST((SELECT MAX(id) FROM jwt_allauth_users), 1))",
    )
    .execute(pool)
    .await
    .map(drop)
    .map_err(UsersError::from_sqlx)
}

fn classify(id: i64, key: &str, rows: &[(i64, String)]) -> ExistingUser {
    if rows
        .iter()
        .any(|(row_id, row_key)| *row_id == id && row_key == key)
    {
        return ExistingUser::Imported;
    }
    if rows.iter().any(|(row_id, _)| *row_id == id) {
        return ExistingUser::IdTaken;
    }
    match rows.iter().find(|(_, row_key)| row_key == key) {
        Some((other, _)) => ExistingUser::EmailTaken(*other),
        None => ExistingUser::Absent,
    }
}
