//! The users table's statements and logic, written once for both [`Dialect`]s.

use serde_json::{Map, Value};
use sqlx::postgres::PgConnection;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, Pool, Type};
use time::OffsetDateTime;

use super::dialect::Dialect;
use super::{ServerUser, StoredUser, UsersError};
use crate::db::{ReadBatches, ReadFuture, ReadPool, STATEMENT_TIMEOUT};

/// The columns of a user row, in [`UserRow`]'s order. The profile is read as text on
/// both backends: PostgreSQL stores it as `jsonb`, which the cast turns into its text;
/// SQLite already stores text.
macro_rules! columns {
    () => {
        "id, email, password_hash, first_name, last_name, role, is_active, is_staff, \
         is_superuser, email_verified, CAST(profile AS TEXT) AS profile, date_joined, \
         last_login"
    };
}
pub(super) use columns;

/// [`Dialect::INSERT`] with the placeholder of the profile, the one part that differs.
macro_rules! insert_user {
    ($profile:literal) => {
        concat!(
            "INSERT INTO jwt_allauth_users (email, email_lower, password_hash, first_name, \
             last_name, role, is_active, is_staff, is_superuser, email_verified, profile, \
             date_joined) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ",
            $profile,
            ", $12) RETURNING ",
            $crate::users::table::columns!()
        )
    };
}
pub(super) use insert_user;

/// [`Dialect::SET_PROFILE`] with the placeholder of the profile.
macro_rules! set_profile {
    ($profile:literal) => {
        concat!(
            "UPDATE jwt_allauth_users SET profile = ",
            $profile,
            " WHERE id = $2 RETURNING ",
            $crate::users::table::columns!()
        )
    };
}
pub(super) use set_profile;

const BY_ID: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM jwt_allauth_users WHERE id = $1"
);
/// The rows of several ids at once, for [`ReadBatches`].
const BY_IDS: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM jwt_allauth_users WHERE id = ANY($1)"
);
const BY_EMAIL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM jwt_allauth_users WHERE email_lower = $1"
);
const SET_ROLE: &str = concat!(
    "UPDATE jwt_allauth_users SET role = $1 WHERE id = $2 RETURNING ",
    columns!()
);
const DELETE: &str = concat!(
    "DELETE FROM jwt_allauth_users WHERE id = $1 RETURNING ",
    columns!()
);
const SET_ACTIVE: &str = concat!(
    "UPDATE jwt_allauth_users SET is_active = $1 WHERE id = $2 RETURNING ",
    columns!()
);
const SET_EMAIL_VERIFIED: &str = concat!(
    "UPDATE jwt_allauth_users SET email_verified = $1 WHERE id = $2 RETURNING ",
    columns!()
);
const UPDATE_NAMES: &str = concat!(
    "UPDATE jwt_allauth_users SET first_name = COALESCE($1, first_name), \
     last_name = COALESCE($2, last_name) WHERE id = $3 RETURNING ",
    columns!()
);
/// A new sign-up replacing an earlier one that was never verified nor used: new hash and
/// names.
const REPLACE_UNVERIFIED: &str = concat!(
    "UPDATE jwt_allauth_users SET password_hash = $1, first_name = $2, last_name = $3 \
     WHERE id = $4 AND email_verified = $5 AND last_login IS NULL AND is_active = $6 \
     RETURNING ",
    columns!()
);
/// An e-mail verification, for an active user only.
const VERIFY_EMAIL: &str = concat!(
    "UPDATE jwt_allauth_users SET email_verified = $1 WHERE id = $2 AND is_active = $3 \
     RETURNING ",
    columns!()
);
/// A password reset: the new hash, and the address verified (the reset proved the
/// mailbox), for an active user only.
const RESET_PASSWORD: &str = concat!(
    "UPDATE jwt_allauth_users SET password_hash = $1, email_verified = $2 \
     WHERE id = $3 AND is_active = $4 RETURNING ",
    columns!()
);
const SET_PASSWORD_HASH: &str = "UPDATE jwt_allauth_users SET password_hash = $1 WHERE id = $2";
const SET_PASSWORD_HASH_IF: &str =
    "UPDATE jwt_allauth_users SET password_hash = $1 WHERE id = $2 AND password_hash = $3";
/// The users holding an id or an e-mail key: `(id, email_lower)`.
const BY_ID_OR_EMAIL_KEY: &str =
    "SELECT id, email_lower FROM jwt_allauth_users WHERE id = $1 OR email_lower = $2";
const RECORD_LOGIN: &str = "UPDATE jwt_allauth_users SET last_login = $1 WHERE id = $2";
const SET_EMAIL_KEY: &str = "UPDATE jwt_allauth_users SET email_lower = $1 WHERE id = $2";

/// A row of [`columns!`], timestamps as the dialect stores them.
#[derive(Clone, sqlx::FromRow)]
pub(super) struct UserRow<T> {
    id: i64,
    email: String,
    password_hash: String,
    first_name: String,
    last_name: String,
    role: Option<i64>,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    email_verified: bool,
    profile: String,
    date_joined: T,
    last_login: Option<T>,
}

impl<T> UserRow<T> {
    fn into_user<D: Dialect<Time = T>>(self) -> Result<ServerUser, UsersError> {
        Ok(ServerUser {
            id: self.id,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            role: self.role,
            is_active: self.is_active,
            is_staff: self.is_staff,
            is_superuser: self.is_superuser,
            email_verified: self.email_verified,
            profile: super::parse_profile(&self.profile)?,
            date_joined: D::decode_time(self.date_joined)?,
            last_login: self.last_login.map(D::decode_time).transpose()?,
            password_hash: self.password_hash,
        })
    }
}

/// The reads of users by id on PostgreSQL, batched while others are under way.
pub(super) type ReadsById = ReadBatches<UserRow<OffsetDateTime>>;

/// [`ReadsById`] on `pool`.
pub(super) fn reads_by_id(pool: ReadPool) -> ReadsById {
    ReadBatches::new(pool, by_ids, |row| row.id, STATEMENT_TIMEOUT)
}

/// The rows of `ids`, on PostgreSQL.
fn by_ids(
    connection: &mut PgConnection,
    ids: Vec<i64>,
) -> ReadFuture<'_, Vec<UserRow<OffsetDateTime>>> {
    Box::pin(sqlx::query_as(BY_IDS).bind(ids).fetch_all(connection))
}

/// The user with this id, read on PostgreSQL through `reads`.
pub(super) async fn by_id_read(
    reads: &ReadsById,
    id: i64,
) -> Result<Option<ServerUser>, UsersError> {
    let row = reads.read(id).await.map_err(UsersError::from_shared)?;
    row.map(UserRow::into_user::<sqlx::Postgres>).transpose()
}

/// The users table on a pool of dialect `D`.
pub(super) struct Table<'p, D: Database>(pub(super) &'p Pool<D>);

// The bounds say that the driver binds and reads the columns' types, as both sqlx
// drivers do; they are spelled out because Rust does not infer them from `Dialect`.
impl<D> Table<'_, D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'a> &'a str: ColumnIndex<D::Row> + Encode<'a, D> + Type<D>,
    for<'q> Option<&'q str>: Encode<'q, D> + Type<D>,
    Option<i64>: for<'q> Encode<'q, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    i64: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D>,
    bool: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D>,
    String: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D>,
    Option<D::Time>: for<'q> Encode<'q, D> + Type<D>,
{
    /// Sets an active user's password hash and marks the address verified, on
    /// `connection` (a transaction of the caller's): the user, or `None` if there is no
    /// such active user.
    pub(super) async fn reset_password_on(
        connection: &mut D::Connection,
        id: i64,
        password_hash: &str,
    ) -> Result<Option<ServerUser>, UsersError> {
        let row: Option<UserRow<D::Time>> = sqlx::query_as(RESET_PASSWORD)
            .bind(password_hash)
            .bind(true)
            .bind(id)
            .bind(true)
            .fetch_optional(connection)
            .await
            .map_err(UsersError::from_sqlx)?;
        row.map(UserRow::into_user::<D>).transpose()
    }

    /// Replaces an unverified, never used account's password hash and names, on
    /// `connection`: the user, or `None` if the account is verified, was used, or is gone.
    pub(super) async fn replace_unverified_on(
        connection: &mut D::Connection,
        id: i64,
        password_hash: &str,
        first_name: &str,
        last_name: &str,
    ) -> Result<Option<ServerUser>, UsersError> {
        Self::fetch_user_on(
            connection,
            sqlx::query_as(REPLACE_UNVERIFIED)
                .bind(password_hash)
                .bind(first_name)
                .bind(last_name)
                .bind(id)
                .bind(false)
                .bind(true),
        )
        .await
    }

    /// Marks an active user's address verified, on `connection` (a transaction of the
    /// caller's): the user, or `None` if there is no such active user.
    pub(super) async fn verify_email_on(
        connection: &mut D::Connection,
        id: i64,
    ) -> Result<Option<ServerUser>, UsersError> {
        let row: Option<UserRow<D::Time>> = sqlx::query_as(VERIFY_EMAIL)
            .bind(true)
            .bind(id)
            .bind(true)
            .fetch_optional(connection)
            .await
            .map_err(UsersError::from_sqlx)?;
        row.map(UserRow::into_user::<D>).transpose()
    }

    /// `(id, email_lower)` of the users with this id or this e-mail key, on
    /// `connection`.
    pub(super) async fn id_or_email_key_on(
        connection: &mut D::Connection,
        id: i64,
        key: &str,
    ) -> Result<Vec<(i64, String)>, UsersError> {
        sqlx::query_as(BY_ID_OR_EMAIL_KEY)
            .bind(id)
            .bind(key)
            .fetch_all(connection)
            .await
            .map_err(UsersError::from_sqlx)
    }

    /// Inserts an imported user with its own id and password hash, on `connection`.
    pub(super) async fn insert_imported_on(
        connection: &mut D::Connection,
        user: &super::import::ImportedUser<'_>,
        key: &str,
    ) -> Result<(), UsersError> {
        let query = sqlx::query(D::INSERT_IMPORTED)
            .bind(user.id)
            .bind(user.email)
            .bind(key)
            .bind(user.password_hash)
            .bind(user.first_name)
            .bind(user.last_name)
            .bind(user.role)
            .bind(user.is_active)
            .bind(user.is_staff)
            .bind(user.is_superuser)
            .bind(user.email_verified)
            .bind(D::encode_time(user.date_joined))
            .bind(user.last_login.map(D::encode_time));
        query
            .execute(connection)
            .await
            .map(drop)
            .map_err(|err| super::insert_error(err, user.email))
    }

    /// Runs a statement returning at most one user row on `connection`.
    async fn fetch_user_on(
        connection: &mut D::Connection,
        query: sqlx::query::QueryAs<'_, D, UserRow<D::Time>, D::Arguments>,
    ) -> Result<Option<ServerUser>, UsersError> {
        let row = query
            .fetch_optional(connection)
            .await
            .map_err(UsersError::from_sqlx)?;
        row.map(UserRow::into_user::<D>).transpose()
    }

    /// Runs a statement on `connection`; whether it changed a row.
    async fn execute_on(
        connection: &mut D::Connection,
        query: sqlx::query::Query<'_, D, D::Arguments>,
    ) -> Result<bool, UsersError> {
        let done = query
            .execute(connection)
            .await
            .map_err(UsersError::from_sqlx)?;
        Ok(D::rows_affected(&done) > 0)
    }

    /// Runs a statement returning at most one user row.
    async fn fetch_user(
        &self,
        query: sqlx::query::QueryAs<'_, D, UserRow<D::Time>, D::Arguments>,
    ) -> Result<Option<ServerUser>, UsersError> {
        let row = query
            .fetch_optional(self.0)
            .await
            .map_err(UsersError::from_sqlx)?;
        row.map(UserRow::into_user::<D>).transpose()
    }

    /// Runs a statement; whether it changed a row.
    async fn execute(
        &self,
        query: sqlx::query::Query<'_, D, D::Arguments>,
    ) -> Result<bool, UsersError> {
        let done = query.execute(self.0).await.map_err(UsersError::from_sqlx)?;
        Ok(D::rows_affected(&done) > 0)
    }

    /// Inserts a user on `connection` (a transaction of the caller's).
    pub(super) async fn insert_on(
        connection: &mut D::Connection,
        user: &StoredUser<'_>,
    ) -> Result<ServerUser, UsersError> {
        let row: UserRow<D::Time> = sqlx::query_as(D::INSERT)
            .bind(user.email)
            .bind(user.email_lower.as_str())
            .bind(user.password_hash.as_str())
            .bind(user.first_name)
            .bind(user.last_name)
            .bind(user.role)
            .bind(user.is_active)
            .bind(user.is_staff)
            .bind(user.is_superuser)
            .bind(user.email_verified)
            .bind(user.profile.as_str())
            .bind(D::encode_time(user.date_joined))
            .fetch_one(connection)
            .await
            .map_err(|err| super::insert_error(err, user.email))?;
        row.into_user::<D>()
    }

    pub(super) async fn by_id(&self, id: i64) -> Result<Option<ServerUser>, UsersError> {
        self.fetch_user(sqlx::query_as(BY_ID).bind(id)).await
    }

    pub(super) async fn by_email(
        &self,
        email_lower: &str,
    ) -> Result<Option<ServerUser>, UsersError> {
        self.fetch_user(sqlx::query_as(BY_EMAIL).bind(email_lower))
            .await
    }

    pub(super) async fn set_role(
        &self,
        id: i64,
        role: Option<i64>,
    ) -> Result<Option<ServerUser>, UsersError> {
        self.fetch_user(sqlx::query_as(SET_ROLE).bind(role).bind(id))
            .await
    }

    /// Deletes a user on `connection`: the deleted user, or `None`.
    pub(super) async fn delete_on(
        connection: &mut D::Connection,
        id: i64,
    ) -> Result<Option<ServerUser>, UsersError> {
        Self::fetch_user_on(connection, sqlx::query_as(DELETE).bind(id)).await
    }

    /// Activates or deactivates a user on `connection`: the user, or `None`.
    pub(super) async fn set_active_on(
        connection: &mut D::Connection,
        id: i64,
        active: bool,
    ) -> Result<Option<ServerUser>, UsersError> {
        let query = sqlx::query_as(SET_ACTIVE).bind(active).bind(id);
        Self::fetch_user_on(connection, query).await
    }

    /// Marks a user's address verified or not on `connection`: the user, or `None`.
    pub(super) async fn set_email_verified_on(
        connection: &mut D::Connection,
        id: i64,
        verified: bool,
    ) -> Result<Option<ServerUser>, UsersError> {
        let query = sqlx::query_as(SET_EMAIL_VERIFIED).bind(verified).bind(id);
        Self::fetch_user_on(connection, query).await
    }

    pub(super) async fn set_profile(
        &self,
        id: i64,
        profile: &Map<String, Value>,
    ) -> Result<Option<ServerUser>, UsersError> {
        let text = Value::Object(profile.clone()).to_string();
        self.fetch_user(sqlx::query_as(D::SET_PROFILE).bind(text).bind(id))
            .await
    }

    pub(super) async fn update_names(
        &self,
        id: i64,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Result<Option<ServerUser>, UsersError> {
        let query = sqlx::query_as(UPDATE_NAMES)
            .bind(first_name)
            .bind(last_name)
            .bind(id);
        self.fetch_user(query).await
    }

    /// Sets a user's password hash on `connection`: whether the user exists.
    pub(super) async fn set_password_hash_on(
        connection: &mut D::Connection,
        id: i64,
        password_hash: &str,
    ) -> Result<bool, UsersError> {
        let query = sqlx::query(SET_PASSWORD_HASH).bind(password_hash).bind(id);
        Self::execute_on(connection, query).await
    }

    /// Replaces a user's password hash on `connection` only if it is still `old_hash`:
    /// whether it was replaced.
    pub(super) async fn set_password_hash_if_on(
        connection: &mut D::Connection,
        id: i64,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, UsersError> {
        let query = sqlx::query(SET_PASSWORD_HASH_IF)
            .bind(new_hash)
            .bind(id)
            .bind(old_hash);
        Self::execute_on(connection, query).await
    }

    /// Replaces a user's password hash only if it is still `old_hash`, outside any
    /// account change (the upgrade of an imported hash): whether it was replaced.
    pub(super) async fn replace_password_hash(
        &self,
        id: i64,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, UsersError> {
        let mut connection = self.0.acquire().await.map_err(UsersError::from_sqlx)?;
        Self::set_password_hash_if_on(&mut connection, id, old_hash, new_hash).await
    }

    pub(super) async fn record_login(
        &self,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<bool, UsersError> {
        self.execute(sqlx::query(RECORD_LOGIN).bind(D::encode_time(now)).bind(id))
            .await
    }

    /// `(id, email, email_lower)` of the users whose key is not ASCII.
    pub(super) async fn non_ascii_keys(&self) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
        sqlx::query_as(D::NON_ASCII_KEYS).fetch_all(self.0).await
    }

    /// Sets the user's e-mail key. The driver's error as is: the caller tells a unique
    /// violation from the rest.
    pub(super) async fn set_email_key(&self, id: i64, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query(SET_EMAIL_KEY)
            .bind(key)
            .bind(id)
            .execute(self.0)
            .await
            .map(drop)
    }
}
