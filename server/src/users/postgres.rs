//! The users table on PostgreSQL (`timestamptz` columns, profile as `jsonb`, read and
//! written as text).

use serde_json::{Map, Value};
use sqlx::postgres::PgPool;
use time::OffsetDateTime;

use super::{ServerUser, StoredUser, UsersError};

macro_rules! columns {
    () => {
        "id, email, password_hash, first_name, last_name, role, is_active, is_staff, \
         is_superuser, email_verified, profile::text AS profile, date_joined, last_login"
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
    date_joined: OffsetDateTime,
    last_login: Option<OffsetDateTime>,
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
            date_joined: row.date_joined,
            last_login: row.last_login,
            password_hash: row.password_hash,
        })
    }
}

fn one(row: Option<UserRow>) -> Result<Option<ServerUser>, UsersError> {
    row.map(ServerUser::try_from).transpose()
}

pub(super) async fn insert(pool: &PgPool, user: &StoredUser<'_>) -> Result<ServerUser, UsersError> {
    let row: UserRow = sqlx::query_as(concat!(
        "INSERT INTO jwt_allauth_users (email, email_lower, password_hash, first_name, \
         last_name, role, is_active, is_staff, is_superuser, email_verified, profile, \
         date_joined) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12) RETURNING ",
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
    .bind(user.date_joined.truncate_to_second())
    .fetch_one(pool)
    .await
    .map_err(|err| super::insert_error(err, user.email))?;
    row.try_into()
}

pub(super) async fn by_id(pool: &PgPool, id: i64) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM jwt_allauth_users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn by_email(
    pool: &PgPool,
    email_lower: &str,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM jwt_allauth_users WHERE email_lower = $1"
    ))
    .bind(email_lower)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn set_role(
    pool: &PgPool,
    id: i64,
    role: Option<i64>,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET role = $1 WHERE id = $2 RETURNING ",
        columns!()
    ))
    .bind(role)
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn delete(pool: &PgPool, id: i64) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "DELETE FROM jwt_allauth_users WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(UsersError::from_sqlx)?;
    one(row)
}

pub(super) async fn set_active(
    pool: &PgPool,
    id: i64,
    active: bool,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET is_active = $1 WHERE id = $2 RETURNING ",
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
    pool: &PgPool,
    id: i64,
    verified: bool,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET email_verified = $1 WHERE id = $2 RETURNING ",
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
    pool: &PgPool,
    id: i64,
    profile: &Map<String, Value>,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET profile = $1::jsonb WHERE id = $2 RETURNING ",
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
    pool: &PgPool,
    id: i64,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> Result<Option<ServerUser>, UsersError> {
    let row = sqlx::query_as(concat!(
        "UPDATE jwt_allauth_users SET first_name = COALESCE($1, first_name), \
         last_name = COALESCE($2, last_name) WHERE id = $3 RETURNING ",
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
    pool: &PgPool,
    id: i64,
    password_hash: &str,
) -> Result<bool, UsersError> {
    let done = sqlx::query("UPDATE jwt_allauth_users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(id)
        .execute(pool)
        .await
        .map_err(UsersError::from_sqlx)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn set_password_hash_if(
    pool: &PgPool,
    id: i64,
    old_hash: &str,
    new_hash: &str,
) -> Result<bool, UsersError> {
    let done = sqlx::query(
        "UPDATE jwt_allauth_users SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
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
    pool: &PgPool,
    id: i64,
    now: OffsetDateTime,
) -> Result<bool, UsersError> {
    let done = sqlx::query("UPDATE jwt_allauth_users SET last_login = $1 WHERE id = $2")
        .bind(now.truncate_to_second())
        .bind(id)
        .execute(pool)
        .await
        .map_err(UsersError::from_sqlx)?;
    Ok(done.rows_affected() > 0)
}
