//! The users table on SQLite (timestamps as INTEGER epoch seconds, profile as JSON text).

use serde_json::{Map, Value};
use sqlx::sqlite::SqlitePool;
use time::OffsetDateTime;

use super::{ServerUser, StoredUser, UsersError};

macro_rules! columns {
    () => {
        "id, email, password_hash, first_name, last_name, role, is_active, is_staff, \
         is_superuser, email_verified, profile, date_joined, last_login"
    };
}

#[derive(sqlx::FromRow)]
struct UserRow {
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
    date_joined: i64,
    last_login: Option<i64>,
}

impl TryFrom<UserRow> for ServerUser {
    type Error = UsersError;

    fn try_from(row: UserRow) -> Result<Self, UsersError> {
        Ok(ServerUser {
            id: row.id,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            role: row.role,
            is_active: row.is_active,
            is_staff: row.is_staff,
            is_superuser: row.is_superuser,
            email_verified: row.email_verified,
            profile: super::parse_profile(&row.profile)?,
            date_joined: from_epoch(row.date_joined)?,
            last_login: row.last_login.map(from_epoch).transpose()?,
            password_hash: row.password_hash,
        })
    }
}

fn from_epoch(seconds: i64) -> Result<OffsetDateTime, UsersError> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|err| UsersError::Database(sqlx::Error::Decode(Box::new(err))))
}

fn one(row: Option<UserRow>) -> Result<Option<ServerUser>, UsersError> {
    row.map(ServerUser::try_from).transpose()
}

pub(super) async fn insert(
    pool: &SqlitePool,
    user: &StoredUser<'_>,
) -> Result<ServerUser, UsersError> {
    let row: UserRow = sqlx::query_as(concat!(
        "INSERT INTO jwt_allauth_users (email, email_lower, password_hash, first_name, \
         last_name, role, is_active, is_staff, is_superuser, email_verified, profile, \
         date_joined) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
        columns!()
    ))
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
    .bind(user.date_joined.unix_timestamp())
    .fetch_one(pool)
    .await
    .map_err(|err| super::insert_error(err, user.email))?;
    row.try_into()
}

pub(super) async fn by_id(pool: &SqlitePool, id: i64) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM jwt_allauth_users WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn by_email(
    pool: &SqlitePool,
    email_lower: &str,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM jwt_allauth_users WHERE email_lower = ?"
    ))
    .bind(email_lower)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn set_role(
    pool: &SqlitePool,
    id: i64,
    role: Option<i64>,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET role = ? WHERE id = ? RETURNING ",
        columns!()
    ))
    .bind(role)
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn delete(pool: &SqlitePool, id: i64) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "DELETE FROM jwt_allauth_users WHERE id = ? RETURNING ",
        columns!()
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn set_active(
    pool: &SqlitePool,
    id: i64,
    active: bool,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET is_active = ? WHERE id = ? RETURNING ",
        columns!()
    ))
    .bind(active)
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn set_email_verified(
    pool: &SqlitePool,
    id: i64,
    verified: bool,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET email_verified = ? WHERE id = ? RETURNING ",
        columns!()
    ))
    .bind(verified)
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn set_profile(
    pool: &SqlitePool,
    id: i64,
    profile: &Map<String, Value>,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET profile = ? WHERE id = ? RETURNING ",
        columns!()
    ))
    .bind(Value::Object(profile.clone()).to_string())
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn update_names(
    pool: &SqlitePool,
    id: i64,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET first_name = COALESCE(?, first_name), \
         last_name = COALESCE(?, last_name) WHERE id = ? RETURNING ",
        columns!()
    ))
    .bind(first_name)
    .bind(last_name)
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn set_password_hash(
    pool: &SqlitePool,
    id: i64,
    password_hash: &str,
) -> Result<bool, UsersError> {
    let done = sqlx::query("UPDATE jwt_allauth_users SET password_hash = ? WHERE id = ?")
        .bind(password_hash)
        .bind(id)
        .execute(pool)
        .await
        .map_err(UsersError::from_sqlx)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn set_password_hash_if(
    pool: &SqlitePool,
    id: i64,
    old_hash: &str,
    new_hash: &str,
) -> Result<bool, UsersError> {
    let done = sqlx::query(
        "UPDATE jwt_allauth_users SET password_hash = ? WHERE id = ? AND password_hash = ?",
    )
    .bind(new_hash)
    .bind(id)
    .bind(old_hash)
    .execute(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn record_login(
    pool: &SqlitePool,
    id: i64,
    now: OffsetDateTime,
) -> Result<bool, UsersError> {
    let done = sqlx::query("UPDATE jwt_allauth_users SET last_login = ? WHERE id = ?")
        .bind(now.unix_timestamp())
        .bind(id)
        .execute(pool)
        .await
        .map_err(UsersError::from_sqlx)?;
    Ok(done.rows_affected() > 0)
}
