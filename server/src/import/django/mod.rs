//! `jwt-allauth import django --from URL [--dry-run]`: users, verified addresses, roles,
//! names and live sessions from a django-jwt-allauth 1.5 database.
//!
//! What is kept, so that nobody notices the switch:
//!
//! - each user's **id** (refresh and access tokens carry it in `user_id`), address, names,
//!   flags, role (the `role` column of `JAUser` or `RoleMixin` models; without one the role
//!   is derived from the flags, as Django does), `date_joined` and `last_login`;
//! - the **password hash** as Django wrote it (`pbkdf2_sha256`, `argon2`, `bcrypt_sha256`,
//!   `bcrypt`; see [`crate::passwords::django_hash`]), replaced by argon2id at the first
//!   successful login; an unusable password (`!...`, a social account) stays unusable;
//! - **verified**: the user's address has a verified row in allauth's
//!   `account_emailaddress`;
//! - each **session** of the whitelist with its `session` id, the `jti` of its current
//!   refresh token (so that the token in the browser's cookie rotates here, and a token
//!   rotated before the switch is a replay), `enabled`, and its device metadata. Django
//!   keeps no expiry nor the start of the session: `created` and `last_used` are the row's
//!   `created` (the login, or the last rotation there), and `expires_at` is `created` plus
//!   this server's `REFRESH_TOKEN_LIFETIME` (set it to Django's before importing); a
//!   session already past it is skipped. A Django token carries `session_iat`; one that
//!   does not is anchored at its first rotation here;
//! - each pending **password reset** link (`PASS_RESET`), whose stored SHA-256 is this
//!   server's token hash, so the mailed link works here until `password_reset`'s lifetime
//!   after it was made. Other purposes have no equivalent and are skipped.
//!
//! Each user is written in one transaction with its sessions and links: a row that fails
//! leaves nothing of its user. A user whose id is present already (with the same address)
//! is left exactly as it is, sessions included: running the import again changes nothing,
//! and never brings back a session ended here since. A user whose id or address belongs
//! to another account here is skipped and reported. The import writes no events (it is
//! neither a sign-up nor a login), and `--dry-run` runs every check and every write in
//! transactions it rolls back, so its report is the import's.

mod report;
mod source;

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use jwt_allauth::claims::default_role;
use jwt_allauth::email::email_key;
use jwt_allauth::store::{NewPurposeToken, NewSession};
use jwt_allauth::{Claims, ExtraClaims, Settings, StoreError, TokenType};
use jwt_allauth_sqlx::{PostgresStore, SqliteStore};
use time::OffsetDateTime;

pub use self::report::{Counts, Skipped, Summary};
use self::source::{DjangoAddress, DjangoDatabase, DjangoPurposeToken, DjangoSession, DjangoUser};
use crate::db::Database;
use crate::passwords::django_hash::DjangoHash;
use crate::users::UsersError;
use crate::users::import::{self as users_import, ExistingUser, ImportedUser};

/// The Django user table of `jwt-allauth startproject` projects.
pub const DEFAULT_USER_TABLE: &str = "jwt_allauth_jauser";
/// Users read and written per batch.
pub const DEFAULT_BATCH_SIZE: u32 = 500;
/// The Django purpose of password reset links, and ours.
const DJANGO_PASSWORD_RESET: &str = "PASS_RESET";
const PASSWORD_RESET: &str = "password_reset";

/// Why an import stopped. Rows that cannot be imported do not stop it: they are
/// reported in the [`Summary`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `--from` is neither `sqlite:` nor `postgres://`.
    #[error("--from must be a sqlite://FILE or postgres://... URL, not {0}")]
    SourceUrl(String),
    /// The Django database cannot be opened.
    #[error("cannot open the Django database at {url}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// `--user-table` is not a plain table name.
    #[error("--user-table must be a plain lowercase table name, not {0:?}")]
    UserTable(String),
    /// A table the import reads is missing.
    #[error(
        "the Django database has no table {0} (is it a django-jwt-allauth database, \
         migrated? see --user-table)"
    )]
    NoTable(String),
    /// Reading the Django database failed.
    #[error("cannot read {what} of the Django database")]
    Read {
        /// What was being read.
        what: &'static str,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// This server's database failed.
    #[error("cannot write the users table")]
    Users(#[source] UsersError),
    /// This server's session store failed.
    #[error("cannot write the sessions")]
    Store(#[source] StoreError),
}

/// What to import, and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The Django database's URL.
    pub from: String,
    /// The Django user table.
    pub user_table: String,
    /// Users per batch (at least 1).
    pub batch_size: u32,
    /// Check and report without writing anything.
    pub dry_run: bool,
}

/// A user ready to write, with what goes with it.
struct UserPlan<'a> {
    django: &'a DjangoUser,
    /// The address (the primary allauth address when the user row has none).
    email: String,
    /// Its key (case-folded).
    key: String,
    /// Whether the address is verified.
    verified: bool,
    sessions: Vec<NewSession>,
    tokens: Vec<NewPurposeToken>,
}

impl UserPlan<'_> {
    /// The row to insert.
    fn user(&self) -> ImportedUser<'_> {
        imported_user(self.django, &self.email, self.verified)
    }
}

/// `user` as the users table stores it.
fn imported_user<'a>(user: &'a DjangoUser, email: &'a str, verified: bool) -> ImportedUser<'a> {
    ImportedUser {
        id: user.id,
        email,
        password_hash: &user.password,
        first_name: &user.first_name,
        last_name: &user.last_name,
        role: Some(
            user.role
                .unwrap_or(default_role(user.is_staff, user.is_superuser)),
        ),
        is_active: user.is_active,
        is_staff: user.is_staff,
        is_superuser: user.is_superuser,
        email_verified: verified,
        date_joined: at(user.date_joined),
        last_login: user.last_login.map(at),
    }
}

/// The outcome of one user's transaction.
enum Written {
    Imported,
    Present,
    Refused(String),
}

/// Imports the Django database `options.from` into `target`, reporting progress on
/// `progress` (one step per user). `settings` gives the lifetimes sessions and reset links
/// get here; `now` decides what has expired.
pub async fn import(
    target: &Database,
    settings: &Settings,
    options: &ImportOptions,
    now: OffsetDateTime,
    progress: &ProgressBar,
) -> Result<Summary, ImportError> {
    let source = DjangoDatabase::open(&options.from, &options.user_table).await?;
    let result = import_from(&source, target, settings, options, now, progress).await;
    source.close().await;
    result
}

async fn import_from(
    source: &DjangoDatabase,
    target: &Database,
    settings: &Settings,
    options: &ImportOptions,
    now: OffsetDateTime,
    progress: &ProgressBar,
) -> Result<Summary, ImportError> {
    let mut summary = Summary {
        dry_run: options.dry_run,
        ..Summary::default()
    };
    progress.set_length(source.count_users().await?);
    // Addresses taken by this run (a dry run writes none, yet must report the same).
    let mut keys: HashMap<String, i64> = HashMap::new();
    let limit = i64::from(options.batch_size.max(1));
    let mut after = i64::MIN;
    loop {
        let users = source.users_after(after, limit).await?;
        let (Some(first), Some(last)) = (users.first(), users.last()) else {
            break;
        };
        let (first, last) = (first.id, last.id);
        let mut addresses = group(source.addresses(first, last).await?, |a| a.user_id);
        let mut sessions = group(source.sessions(first, last).await?, |s| s.user_id);
        let mut tokens = group(source.purpose_tokens(first, last).await?, |t| t.user_id);
        for user in &users {
            let plan = plan_user(
                user,
                addresses.remove(&user.id).unwrap_or_default(),
                sessions.remove(&user.id).unwrap_or_default(),
                tokens.remove(&user.id).unwrap_or_default(),
                settings,
                now,
                &keys,
                &mut summary,
            );
            if let Some(plan) = plan {
                let written = write_user(target, &plan, options.dry_run).await?;
                record(&mut summary, &plan, written, &mut keys);
            }
            progress.inc(1);
        }
        after = last;
    }
    for row in source.orphan_sessions().await? {
        summary.sessions.skipped += 1;
        summary.skip(format!("session row {row}"), "its user does not exist");
    }
    if let Database::Postgres(pool) = target
        && !options.dry_run
        && summary.users.imported > 0
    {
        users_import::advance_id_sequence(pool)
            .await
            .map_err(ImportError::Users)?;
    }
    Ok(summary)
}

/// `rows` by the key `of` gives.
fn group<T>(rows: Vec<T>, of: impl Fn(&T) -> i64) -> HashMap<i64, Vec<T>> {
    let mut grouped: HashMap<i64, Vec<T>> = HashMap::new();
    for row in rows {
        grouped.entry(of(&row)).or_default().push(row);
    }
    grouped
}

fn record(
    summary: &mut Summary,
    plan: &UserPlan<'_>,
    written: Written,
    keys: &mut HashMap<String, i64>,
) {
    let sessions = plan.sessions.len() as u64;
    let tokens = plan.tokens.len() as u64;
    match written {
        Written::Imported => {
            keys.insert(plan.key.clone(), plan.django.id);
            summary.users.imported += 1;
            summary.sessions.imported += sessions;
            summary.purpose_tokens.imported += tokens;
            summary.verified += u64::from(plan.verified);
        }
        Written::Present => {
            keys.insert(plan.key.clone(), plan.django.id);
            summary.users.present += 1;
            summary.sessions.present += sessions;
            summary.purpose_tokens.present += tokens;
        }
        Written::Refused(reason) => {
            summary.users.skipped += 1;
            summary.sessions.skipped += sessions;
            summary.purpose_tokens.skipped += tokens;
            summary.skip(user_row(plan.django.id, &plan.email), reason);
        }
    }
}

fn user_row(id: i64, email: &str) -> String {
    if email.is_empty() {
        format!("user {id}")
    } else {
        format!("user {id} <{email}>")
    }
}

/// Whether `text` is 32 lowercase hexadecimal digits (a session id or a `jti`).
fn is_hex_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// What to write for `user`, or `None` (reported in `summary`) when it cannot be imported.
#[allow(clippy::too_many_arguments)]
fn plan_user<'a>(
    user: &'a DjangoUser,
    addresses: Vec<DjangoAddress>,
    sessions: Vec<DjangoSession>,
    tokens: Vec<DjangoPurposeToken>,
    settings: &Settings,
    now: OffsetDateTime,
    keys: &HashMap<String, i64>,
    summary: &mut Summary,
) -> Option<UserPlan<'a>> {
    let email = match user.email.trim() {
        "" => addresses
            .iter()
            .find(|address| address.primary)
            .map(|address| address.email.as_str())
            .unwrap_or(""),
        email => email,
    };
    let refuse = |summary: &mut Summary, reason: String| {
        summary.users.skipped += 1;
        summary.sessions.skipped += sessions.len() as u64;
        summary.purpose_tokens.skipped += tokens.len() as u64;
        let with = match sessions.len() {
            0 => String::new(),
            n => format!(" (with its {n} session(s))"),
        };
        summary.skip(user_row(user.id, email), format!("{reason}{with}"));
    };
    if email.is_empty() {
        refuse(
            summary,
            "no e-mail address (this server signs in by address)".into(),
        );
        return None;
    }
    match DjangoHash::parse(&user.password) {
        Some(Ok(_)) => {}
        Some(Err(error)) => {
            refuse(summary, error.to_string());
            return None;
        }
        None => {
            refuse(
                summary,
                "the password hash is not in a Django format".into(),
            );
            return None;
        }
    }
    let verified = addresses.iter().any(|address| {
        address.verified && email_key(address.email.trim()) == email_key(email.trim())
    });
    let key = match imported_user(user, email, verified).validate() {
        Ok(key) => key,
        Err(error) => {
            refuse(summary, error.to_string());
            return None;
        }
    };
    if let Some(other) = keys.get(&key).filter(|&&other| other != user.id) {
        refuse(
            summary,
            format!(
                "the address is user {other}'s, regardless of case (addresses are unique \
                 regardless of case here)"
            ),
        );
        return None;
    }
    let email = email.to_owned();
    let role = user
        .role
        .unwrap_or(default_role(user.is_staff, user.is_superuser));
    let sessions = plan_sessions(user.id, sessions, role, verified, settings, now, summary);
    let tokens = plan_tokens(user.id, tokens, settings, now, summary);
    Some(UserPlan {
        django: user,
        email,
        key,
        verified,
        sessions,
        tokens,
    })
}

/// The sessions of user `id` to write; the others are reported.
fn plan_sessions(
    id: i64,
    mut rows: Vec<DjangoSession>,
    role: i64,
    email_verified: bool,
    settings: &Settings,
    now: OffsetDateTime,
    summary: &mut Summary,
) -> Vec<NewSession> {
    // Newest first: of two rows of one session (a rotation racing in Django), the
    // newest holds the current token.
    rows.sort_by_key(|row| std::cmp::Reverse((row.created, row.id)));
    let lifetime = settings.refresh_token_lifetime;
    let mut planned: Vec<NewSession> = Vec::new();
    for row in rows {
        let name = format!("session row {} of user {id}", row.id);
        let reason = if !is_hex_id(&row.session) {
            Some("malformed session id (not 32 lowercase hex digits)")
        } else if !is_hex_id(&row.jti) {
            Some("malformed jti (not 32 lowercase hex digits)")
        } else if planned.iter().any(|session| session.session == row.session) {
            Some("an older row of a session imported from a newer row")
        } else if at(row.created) + lifetime <= now {
            Some("expired: its refresh token is older than REFRESH_TOKEN_LIFETIME")
        } else {
            None
        };
        if let Some(reason) = reason {
            summary.sessions.skipped += 1;
            summary.skip(name, reason);
            continue;
        }
        let created = at(row.created);
        let expires_at = created + lifetime;
        // Django keeps no token: this stands for the current one, never re-signed (a
        // retry re-signs only a token minted here).
        let claims = Claims {
            token_type: TokenType::Refresh,
            exp: expires_at.unix_timestamp(),
            iat: row.created,
            jti: row.jti.clone(),
            user_id: id.to_string(),
            session: Some(row.session.clone()),
            session_iat: None,
            role,
            email_verified,
            iss: None,
            aud: None,
            extra: ExtraClaims::new(),
        };
        planned.push(NewSession {
            session: row.session,
            user_id: id.to_string(),
            jti: row.jti,
            refresh_claims: serde_json::to_string(&claims).unwrap_or_default(),
            enabled: row.enabled,
            created,
            expires_at,
            device: row.device.into_device(),
        });
    }
    planned
}

/// The pending password reset links of user `id` to write; the others are reported.
fn plan_tokens(
    id: i64,
    mut rows: Vec<DjangoPurposeToken>,
    settings: &Settings,
    now: OffsetDateTime,
    summary: &mut Summary,
) -> Vec<NewPurposeToken> {
    rows.sort_by_key(|row| std::cmp::Reverse((row.created, row.id)));
    let lifetime: Duration = settings.purpose_token_lifetime_for(PASSWORD_RESET);
    let mut planned: Vec<NewPurposeToken> = Vec::new();
    for row in rows {
        let name = format!(
            "purpose token row {} ({}) of user {id}",
            row.id, row.purpose
        );
        let hash = hex::decode(&row.token)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
        let reason = if row.purpose != DJANGO_PASSWORD_RESET {
            Some("no equivalent purpose on this server".to_owned())
        } else if hash.is_none() {
            Some("malformed token hash".to_owned())
        } else if !planned.is_empty() {
            Some("superseded by a newer link".to_owned())
        } else if at(row.created) + lifetime <= now {
            Some("expired (the password_reset lifetime)".to_owned())
        } else {
            None
        };
        let (None, Some(token_hash)) = (reason.clone(), hash) else {
            summary.purpose_tokens.skipped += 1;
            summary.skip(name, reason.unwrap_or_default());
            continue;
        };
        let created = at(row.created);
        planned.push(NewPurposeToken {
            token_hash,
            purpose: PASSWORD_RESET.to_owned(),
            user_id: id.to_string(),
            created,
            expires_at: created + lifetime,
            device: row.device.into_device(),
        });
    }
    planned
}

/// An error of a user's transaction: an unreachable database stops the import, anything
/// else refuses the user (the transaction is rolled back).
enum WriteError {
    Users(UsersError),
    Store(StoreError),
}

impl From<UsersError> for WriteError {
    fn from(error: UsersError) -> Self {
        WriteError::Users(error)
    }
}

impl From<StoreError> for WriteError {
    fn from(error: StoreError) -> Self {
        WriteError::Store(error)
    }
}

/// Writes a user, its sessions and its links in one transaction on the store `$store`
/// of the pool `$pool` (committed, or rolled back in a dry run).
macro_rules! write_on {
    ($pool:expr, $store:ty, $existing:path, $insert:path, $plan:expr, $dry_run:expr) => {{
        let plan = $plan;
        let user = plan.user();
        let mut tx = <$store>::begin_write($pool).await?;
        match $existing(&mut *tx, &user, &plan.key).await? {
            ExistingUser::Absent => {}
            ExistingUser::Imported => return Ok(Written::Present),
            ExistingUser::IdTaken => {
                return Ok(Written::Refused(format!(
                    "user id {} belongs to another account here",
                    user.id
                )));
            }
            ExistingUser::EmailTaken(other) => {
                return Ok(Written::Refused(format!(
                    "the address belongs to user {other} here"
                )));
            }
        }
        $insert(&mut *tx, &user, &plan.key).await?;
        for session in &plan.sessions {
            <$store>::import_session_on(&mut *tx, session).await?;
        }
        for token in &plan.tokens {
            <$store>::replace_purpose_token_on(&mut *tx, token).await?;
        }
        if $dry_run {
            tx.rollback().await.map_err(UsersError::from_sqlx)?;
        } else {
            tx.commit().await.map_err(UsersError::from_sqlx)?;
        }
        Ok(Written::Imported)
    }};
}

async fn write_user(
    target: &Database,
    plan: &UserPlan<'_>,
    dry_run: bool,
) -> Result<Written, ImportError> {
    match write_user_transaction(target, plan, dry_run).await {
        Ok(written) => Ok(written),
        Err(WriteError::Users(error)) if error.is_unavailable() => Err(ImportError::Users(error)),
        Err(WriteError::Store(error @ StoreError::Unavailable(_))) => {
            Err(ImportError::Store(error))
        }
        Err(WriteError::Users(error)) => Ok(Written::Refused(crate::error::report(&error))),
        Err(WriteError::Store(error)) => Ok(Written::Refused(crate::error::report(&error))),
    }
}

async fn write_user_transaction(
    target: &Database,
    plan: &UserPlan<'_>,
    dry_run: bool,
) -> Result<Written, WriteError> {
    match target {
        Database::Sqlite(pool) => write_on!(
            pool,
            SqliteStore,
            users_import::existing_on_sqlite,
            users_import::insert_on_sqlite,
            plan,
            dry_run
        ),
        Database::Postgres(pool) => write_on!(
            pool,
            PostgresStore,
            users_import::existing_on_postgres,
            users_import::insert_on_postgres,
            plan,
            dry_run
        ),
    }
}

/// A progress bar on stderr, one step per user; indicatif draws nothing when stderr is
/// not a terminal.
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} users ({eta} left)")
    {
        bar.set_style(style);
    }
    bar.set_message("importing");
    bar
}
