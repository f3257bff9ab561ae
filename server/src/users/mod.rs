//! The server's built-in users table, on SQLite or PostgreSQL.
//!
//! [`Users`] implements the library's [`UserStore`] (rotation re-reads every user
//! through it) and the account operations the HTTP layer and the command line need:
//! create, look up by e-mail, authenticate, change the password, set the role, the
//! active flag and the profile, update the names, record the last login.
//!
//! E-mail addresses are unique regardless of case: the table keeps a case-folded key
//! ([`email_key`], in the column `email_lower`) under a
//! unique constraint, and lookups by e-mail use it. Passwords are
//! stored as argon2id PHC strings, hashed and verified off the async runtime by
//! [`Passwords`].

/// Runs `$table.$call` on the users table of `$db`, whichever its backend: the one
/// place where the `Database` enum meets the generic `Table`. Defined before the
/// modules so that they can use it too.
macro_rules! on_table {
    ($db:expr, $table:ident => $call:expr) => {
        match $db {
            crate::db::Database::Sqlite(pool) => {
                let $table = crate::users::table::Table(pool);
                $call.await
            }
            crate::db::Database::Postgres(pool) => {
                let $table = crate::users::table::Table(pool);
                $call.await
            }
        }
    };
}

/// Runs an account change in one write transaction of `$db`, whichever its backend, with
/// the account event it records: `$tx` is the transaction, `$dialect` names the backend's
/// sqlx database type for `Table::<$dialect>::..._on` calls, `$change` the change (a
/// future giving `Result<T, UsersError>`), and `$event` a closure from `&T` to the
/// `Option<NewEvent>` to write (`None`: the change changed nothing, no event). The two
/// commit or roll back together (events.md: a committed change writes exactly one event,
/// a rolled-back one none).
macro_rules! account_change {
    ($db:expr, $tx:ident, $dialect:ident => $change:expr, $event:expr) => {
        match $db {
            crate::db::Database::Sqlite(pool) => {
                type $dialect = sqlx::Sqlite;
                account_change!(@on pool, jwt_allauth_sqlx::SqliteStore, $tx, $change, $event)
            }
            crate::db::Database::Postgres(pool) => {
                type $dialect = sqlx::Postgres;
                account_change!(@on pool, jwt_allauth_sqlx::PostgresStore, $tx, $change, $event)
            }
        }
    };
    (@on $pool:expr, $store:ty, $tx:ident, $change:expr, $event:expr) => {{
        let mut $tx = <$store>::begin_write($pool)
            .await
            .map_err(crate::users::UsersError::Store)?;
        let changed = $change.await?;
        let event: Option<jwt_allauth::events::NewEvent> = ($event)(&changed);
        if let Some(event) = event {
            <$store>::write_event_on(&mut $tx, &event)
                .await
                .map_err(crate::users::UsersError::Store)?;
        }
        $tx.commit()
            .await
            .map_err(crate::users::UsersError::from_sqlx)?;
        Ok::<_, crate::users::UsersError>(changed)
    }};
}

mod account;
mod account_flows;
mod dialect;
mod email_keys;
pub mod import;
mod known_devices;
mod postgres;
mod sqlite;
mod table;
mod user;

pub(crate) use email_keys::refold_email_keys;
pub use jwt_allauth::email::MAX_EMAIL_CHARS;
pub use jwt_allauth_axum::PasswordChange;
pub use user::{NewUser, ServerUser};

use std::sync::Arc;

use jwt_allauth::email::email_key;
use jwt_allauth::events::{EventType, NewEvent};
use jwt_allauth::{StoreError, UserStore, UserStoreError};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::db::{Database, ReadBatches, ReadPool};
use crate::passwords::{PasswordError, Passwords};

/// Why a users-table operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// Another user has this address (compared regardless of case).
    #[error("a user with e-mail {0} already exists")]
    DuplicateEmail(String),
    /// The address is empty, has no `@` or several, contains spaces, control or invisible
    /// formatting characters, or is too long (see [`normalize_email`]). The message
    /// shows it escaped.
    #[error("invalid e-mail address {0:?}")]
    InvalidEmail(String),
    /// A text the table would store contains the NUL character, which PostgreSQL cannot
    /// store (and SQLite tools truncate at): refused on both backends.
    #[error("the {0} must not contain the NUL character (\\u0000)")]
    NulCharacter(&'static str),
    /// An empty password.
    #[error("the password must not be empty")]
    EmptyPassword,
    /// The database cannot be reached (connection refused, pool timed out, busy).
    #[error("the database is unavailable")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// Any other database error.
    #[error("the users table query failed")]
    Database(#[source] Arc<sqlx::Error>),
    /// A stored profile is not a JSON object (the table's check forbids it).
    #[error("a stored user profile is not a JSON object")]
    CorruptProfile(#[source] Option<serde_json::Error>),
    /// Hashing or verifying a password failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The transaction of an account change, or the event that records it, failed.
    #[error("the account change could not be recorded")]
    Store(#[source] StoreError),
}

impl UsersError {
    /// Classifies a sqlx error by kind: unreachable or busy → [`Unavailable`], anything
    /// else → [`Database`].
    ///
    /// [`Unavailable`]: UsersError::Unavailable
    /// [`Database`]: UsersError::Database
    pub(crate) fn from_sqlx(err: sqlx::Error) -> Self {
        Self::from_shared(Arc::new(err))
    }

    /// [`from_sqlx`](Self::from_sqlx) for an error that several reads share (one
    /// statement answered them all: see [`ReadBatches`]).
    pub(crate) fn from_shared(err: Arc<sqlx::Error>) -> Self {
        if jwt_allauth_sqlx::is_unavailable(&err) {
            UsersError::Unavailable(err)
        } else {
            UsersError::Database(err)
        }
    }

    /// Whether the database could not be reached: servers answer 503.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            UsersError::Unavailable(_) | UsersError::Store(StoreError::Unavailable(_))
        )
    }
}

/// An INSERT error: a unique violation is a duplicate e-mail address.
fn insert_error(err: sqlx::Error, email: &str) -> UsersError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            UsersError::DuplicateEmail(email.to_owned())
        }
        _ => UsersError::from_sqlx(err),
    }
}

fn parse_profile(text: &str) -> Result<Map<String, Value>, UsersError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(UsersError::CorruptProfile(None)),
        Err(err) => Err(UsersError::CorruptProfile(Some(err))),
    }
}

/// The address trimmed and its key, or [`UsersError::InvalidEmail`]: the one validation
/// of e-mail addresses, used by the HTTP routes (through [`Users::find_by_email`] and
/// [`Users::authenticate`]) and by every command of the command line.
///
/// The key is [`email_key`]: the address in Unicode compatibility caseless form, so case
/// variants (all three sigmas), decomposed spellings (`e` + U+0301 for `é`) and
/// compatibility forms (fullwidth `ａ`) of one address are one account, and an address
/// that looks the same cannot be registered twice. Look-alikes from other scripts (a
/// Cyrillic `а`) stay different addresses. The address itself is kept as written.
///
/// The check is deliberately loose (something `@` something, at most
/// [`MAX_EMAIL_CHARS`]): the address is confirmed by mail, not by a parser. It refuses
/// what makes an address read as another one: a second `@` (`eve@evil.example@bank.com`),
/// whitespace, control characters, and invisible formatting characters (see
/// [`is_invisible_format`](jwt_allauth::email::is_invisible_format)), such as a right-to-left override that displays
/// `eve\u{202E}moc.knab@evil.example` as `eve@evil.example` reversed into `bank.com`.
pub fn normalize_email(email: &str) -> Result<(String, String), UsersError> {
    let email = email.trim();
    if !jwt_allauth::email::is_valid_email(email) {
        return Err(UsersError::InvalidEmail(email.to_owned()));
    }
    Ok((email.to_owned(), email_key(email)))
}

/// Whether a JSON value holds the NUL character in a string or an object key, at any
/// depth.
pub fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map_contains_nul(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// [`contains_nul`] for an object.
pub fn map_contains_nul(map: &Map<String, Value>) -> bool {
    map.iter()
        .any(|(key, value)| key.contains('\0') || contains_nul(value))
}

/// [`UsersError::NulCharacter`] naming `field` if `text` contains NUL.
fn refuse_nul(field: &'static str, text: &str) -> Result<(), UsersError> {
    if text.contains('\0') {
        Err(UsersError::NulCharacter(field))
    } else {
        Ok(())
    }
}

/// [`UsersError::NulCharacter`] if the profile contains NUL.
fn refuse_nul_profile(profile: &Map<String, Value>) -> Result<(), UsersError> {
    if map_contains_nul(profile) {
        Err(UsersError::NulCharacter("profile"))
    } else {
        Ok(())
    }
}

/// A user id from a `user_id` claim: only the canonical decimal form of a positive
/// integer (`"1"`, not `"01"`, `"+1"` or `" 1"`).
pub fn parse_user_id(user_id: &str) -> Option<i64> {
    let id: i64 = user_id.parse().ok()?;
    (id > 0 && id.to_string() == user_id).then_some(id)
}

/// The row to insert, password already hashed.
struct StoredUser<'a> {
    email: &'a str,
    email_lower: String,
    password_hash: String,
    first_name: &'a str,
    last_name: &'a str,
    role: Option<i64>,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    email_verified: bool,
    profile: String,
    date_joined: OffsetDateTime,
}

/// The users table on the server's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Users {
    db: Database,
    /// On PostgreSQL, the reads of [`find_by_id`](Self::find_by_id): through a
    /// [`ReadPool`], batched while others are under way (see [`ReadBatches`]).
    reads: Option<table::ReadsById>,
    passwords: Passwords,
    outbox: Option<crate::mail::Outbox>,
}

impl Users {
    /// The users table of `db` (migrated by [`Database::migrate`]), hashing with
    /// `passwords`.
    ///
    /// On PostgreSQL, lookups by id (every request that loads its caller) go through a
    /// [`ReadPool`] of their own, on the same connection options as the database's pool,
    /// and the lookups asked for while others are under way share one statement
    /// ([`ReadBatches`]).
    pub fn new(db: Database, passwords: Passwords) -> Self {
        let reads = match &db {
            Database::Sqlite(_) => None,
            Database::Postgres(pool) => ReadPool::new((*pool.connect_options()).clone())
                .map(table::reads_by_id)
                .inspect_err(|error| {
                    // The reads then share the database's pool, as writes do.
                    tracing::warn!(error = %crate::error::report(error), "no read pool");
                })
                .ok(),
        };
        Self {
            db,
            reads,
            passwords,
            outbox: None,
        }
    }

    /// The pool user reads by id go through, on PostgreSQL (for the pool metrics).
    pub fn read_pool(&self) -> Option<&ReadPool> {
        self.reads.as_ref().map(ReadBatches::pool)
    }

    /// The same table queueing the account flows' mails in `outbox`, in the transaction
    /// that stores their token. Without it, the flows that send mail fail (and log it).
    pub fn with_outbox(mut self, outbox: crate::mail::Outbox) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// The password hasher.
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Creates a user, hashing the password. [`UsersError::DuplicateEmail`] when an
    /// address equal regardless of case exists.
    pub async fn create(
        &self,
        new: &NewUser,
        now: OffsetDateTime,
    ) -> Result<ServerUser, UsersError> {
        normalize_email(&new.email)?;
        if new.password.is_empty() {
            return Err(UsersError::EmptyPassword);
        }
        refuse_nul("first name", &new.first_name)?;
        refuse_nul("last name", &new.last_name)?;
        refuse_nul_profile(&new.profile)?;
        let password_hash = self.passwords.hash(&new.password).await?;
        self.create_with_hash(new, password_hash, now).await
    }

    /// [`create`](Self::create) with the password already hashed.
    pub(crate) async fn create_with_hash(
        &self,
        new: &NewUser,
        password_hash: String,
        now: OffsetDateTime,
    ) -> Result<ServerUser, UsersError> {
        let (email, email_lower) = normalize_email(&new.email)?;
        refuse_nul("first name", &new.first_name)?;
        refuse_nul("last name", &new.last_name)?;
        refuse_nul_profile(&new.profile)?;
        let row = StoredUser {
            email: &email,
            email_lower,
            password_hash,
            first_name: &new.first_name,
            last_name: &new.last_name,
            role: new.role,
            is_active: new.is_active,
            is_staff: new.is_staff,
            is_superuser: new.is_superuser,
            email_verified: new.email_verified,
            profile: Value::Object(new.profile.clone()).to_string(),
            date_joined: now,
        };
        account_change!(&self.db, tx, D => table::Table::<D>::insert_on(&mut tx, &row),
            |user: &ServerUser| Some(account_event(EventType::UserRegistered, user.id, now)))
    }

    /// The user with this id.
    pub async fn find_by_id(&self, id: i64) -> Result<Option<ServerUser>, UsersError> {
        if let Some(reads) = &self.reads {
            return table::by_id_read(reads, id).await;
        }
        on_table!(&self.db, table => table.by_id(id))
    }

    /// The user with this e-mail address, compared regardless of case. An address that
    /// is not valid finds nobody.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<ServerUser>, UsersError> {
        let Ok((_, email_lower)) = normalize_email(email) else {
            return Ok(None);
        };
        on_table!(&self.db, table => table.by_email(&email_lower))
    }

    /// Sets the user's own role (`None`: derive it from staff/superuser). The updated
    /// user, or `None` if there is no such user.
    pub async fn set_role(
        &self,
        id: i64,
        role: Option<i64>,
    ) -> Result<Option<ServerUser>, UsersError> {
        on_table!(&self.db, table => table.set_role(id, role))
    }

    /// Activates or deactivates the user. The updated user, or `None` if there is no such
    /// user. Deactivating writes a `user.deactivated` event (at `now`) in the same
    /// transaction, which makes the revocation feed of every instance refuse the user's
    /// access tokens; it does not end the user's sessions by itself: their next rotation
    /// fails; call `SessionManager::revoke_credentials` to end them at once. Activating
    /// writes no event.
    pub async fn set_active(
        &self,
        id: i64,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<Option<ServerUser>, UsersError> {
        account_change!(&self.db, tx, D => table::Table::<D>::set_active_on(&mut tx, id, active),
            |user: &Option<ServerUser>| user.as_ref().filter(|_| !active)
                .map(|user| account_event(EventType::UserDeactivated, user.id, now)))
    }

    /// Deletes the user, with a `user.deleted` event (at `now`) in the same transaction.
    /// The deleted user, or `None` if there is no such user. Their sessions and purpose
    /// tokens are not in this table: a refresh or a route that loads the user ends them,
    /// or call `SessionManager::revoke_credentials`.
    pub async fn delete(
        &self,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<Option<ServerUser>, UsersError> {
        account_change!(&self.db, tx, D => table::Table::<D>::delete_on(&mut tx, id),
            |user: &Option<ServerUser>| user.as_ref()
                .map(|user| account_event(EventType::UserDeleted, user.id, now)))
    }

    /// Marks the e-mail address confirmed or not; confirming writes a
    /// `user.email_verified` event (at `now`) in the same transaction. The updated user,
    /// or `None`.
    pub async fn set_email_verified(
        &self,
        id: i64,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<Option<ServerUser>, UsersError> {
        account_change!(&self.db, tx, D =>
            table::Table::<D>::set_email_verified_on(&mut tx, id, verified),
            |user: &Option<ServerUser>| user.as_ref().filter(|_| verified)
                .map(|user| account_event(EventType::UserEmailVerified, user.id, now)))
    }

    /// Replaces the user's profile. The updated user, or `None`.
    /// [`UsersError::NulCharacter`] if it contains NUL.
    pub async fn set_profile(
        &self,
        id: i64,
        profile: &Map<String, Value>,
    ) -> Result<Option<ServerUser>, UsersError> {
        refuse_nul_profile(profile)?;
        on_table!(&self.db, table => table.set_profile(id, profile))
    }

    /// Updates the names given (`None` keeps the current one). The updated user, or
    /// `None`. [`UsersError::NulCharacter`] if a name contains NUL.
    pub async fn update_names(
        &self,
        id: i64,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Result<Option<ServerUser>, UsersError> {
        refuse_nul("first name", first_name.unwrap_or_default())?;
        refuse_nul("last name", last_name.unwrap_or_default())?;
        on_table!(&self.db, table => table.update_names(id, first_name, last_name))
    }

    /// Sets a new password without checking the old one (administration), with a
    /// `user.password_changed` event (at `now`) in the same transaction. Whether the user
    /// exists. The caller ends the user's sessions (`SessionManager::revoke_credentials`).
    pub async fn set_password(
        &self,
        id: i64,
        password: &str,
        now: OffsetDateTime,
    ) -> Result<bool, UsersError> {
        if password.is_empty() {
            return Err(UsersError::EmptyPassword);
        }
        let hash = self.passwords.hash(password).await?;
        account_change!(&self.db, tx, D =>
            table::Table::<D>::set_password_hash_on(&mut tx, id, &hash),
            |changed: &bool| changed.then(|| account_event(EventType::UserPasswordChanged, id, now)))
    }

    /// Records a successful login at `now`. Whether the user exists.
    pub async fn record_last_login(
        &self,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<bool, UsersError> {
        on_table!(&self.db, table => table.record_login(id, now))
    }

    /// Replaces the password hash only if it is still `old_hash`, with a
    /// `user.password_changed` event (at `now`) when it was. Whether it was replaced.
    async fn set_password_hash_if(
        &self,
        id: i64,
        old_hash: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, UsersError> {
        account_change!(&self.db, tx, D =>
            table::Table::<D>::set_password_hash_if_on(&mut tx, id, old_hash, new_hash),
            |changed: &bool| changed.then(|| account_event(EventType::UserPasswordChanged, id, now)))
    }
}

/// The account event `event_type` of user `id` at `now`.
pub(crate) fn account_event(event_type: EventType, id: i64, now: OffsetDateTime) -> NewEvent {
    NewEvent::account(event_type, id.to_string(), now)
}

impl UserStore for Users {
    type User = ServerUser;

    /// Loads by id; an id that is not the decimal form of a positive integer is
    /// `Ok(None)`.
    async fn load_user(&self, user_id: &str) -> Result<Option<ServerUser>, UserStoreError> {
        let Some(id) = parse_user_id(user_id) else {
            return Ok(None);
        };
        Ok(self.find_by_id(id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized() {
        let (email, key) = normalize_email("  Ada@Example.COM ").expect("valid");
        assert_eq!(email, "Ada@Example.COM");
        assert_eq!(key, "ada@example.com");
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a da@example.com",
            "a\n@b",
            "a\0@b",
            "eve@evil.example@example.com",
            "@@example.com",
            "a@@example.com",
            "eve\u{202E}moc.elpmaxe@example.com",
            "ad\u{2066}min@example.com",
            "a\u{200B}lice@example.com",
            "alice@example.com\u{FEFF}",
            "alice@exam\u{AD}ple.com",
            "alice\u{E0041}@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@b.c", "a".repeat(260))).is_err());
    }

    #[test]
    fn spellings_that_look_the_same_share_a_key() {
        let key = |email: &str| normalize_email(email).expect("valid").1;
        let composed = key("Ünïcødé@Exämple.com");
        assert_eq!(key("U\u{308}ni\u{308}cødé@Exa\u{308}mple.com"), composed);
        assert_eq!(key("ÜNÏCØDÉ@EXÄMPLE.COM"), composed);
        assert_eq!(
            key("\u{ff21}lice@example.com"),
            "alice@example.com",
            "fullwidth"
        );
        assert_ne!(key("\u{430}lice@example.com"), "alice@example.com");
        // The address is kept as written.
        let (email, _) = normalize_email("A\u{301}da@example.com").expect("valid");
        assert_eq!(email, "A\u{301}da@example.com");
    }

    #[test]
    fn nul_is_found_at_any_depth() {
        for (value, nul) in [
            (serde_json::json!({"a": "b", "c": [1, {"d": null}]}), false),
            (serde_json::json!({"a": "b\u{0}"}), true),
            (serde_json::json!({"a\u{0}": 1}), true),
            (serde_json::json!({"a": {"b": ["x", {"c\u{0}": 1}]}}), true),
            (serde_json::json!(["\u{0}"]), true),
        ] {
            assert_eq!(contains_nul(&value), nul, "{value}");
        }
    }

    #[test]
    fn user_ids_are_canonical() {
        assert_eq!(parse_user_id("1"), Some(1));
        assert_eq!(parse_user_id("1234567890"), Some(1_234_567_890));
        for bad in [
            "",
            "0",
            "-1",
            "01",
            "+1",
            " 1",
            "1.0",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(parse_user_id(bad), None, "{bad:?}");
        }
    }
}
