//! The devices each account signed in from (`jwt_allauth_known_devices`, migration
//! 0005), for the new sign-in mail: the axum crate's [`KnownDevices`] over the users'
//! database, with the mail's token and the mail itself written in the transaction that
//! decides.

use jwt_allauth::UserStoreError;
use jwt_allauth_axum::known_devices::{
    BoxFuture, DeviceHistory, KnownDevices, SignIn, SignInNotice, decide, recent_mails_since,
};
use jwt_allauth_sqlx::{PostgresStore, SqliteStore};
use sqlx::{ColumnIndex, Decode, Encode, Executor, Type};

use super::dialect::Dialect;
use super::{Users, UsersError};
use crate::db::Database;
use crate::mail::{Mailbox, Outbox, OutboxError, OutgoingMail};

/// On PostgreSQL, serializes the sign-ins of one account (binds the user id) until the
/// transaction ends; SQLite's write transaction (`BEGIN IMMEDIATE`) already does.
const LOCK_ACCOUNT_POSTGRES: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('jwt_allauth_known_devices:' || $1, 0))";

/// When this device was last seen: binds user id, browser, OS, device.
const LAST_SEEN: &str = "SELECT last_seen FROM jwt_allauth_known_devices \
     WHERE user_id = $1 AND browser = $2 AND os = $3 AND device = $4";

/// How many devices the account has: binds user id.
const DEVICES: &str = "SELECT COUNT(*) FROM jwt_allauth_known_devices WHERE user_id = $1";

/// How many new sign-in mails the account got since $2: binds user id, since.
const RECENT_MAILS: &str = "SELECT COUNT(*) FROM jwt_allauth_known_devices \
     WHERE user_id = $1 AND notified_at >= $2";

/// Records a device as seen at $5, mailed at $6 (or NULL, keeping an earlier mail's
/// time): binds user id, browser, OS, device, now, notified at.
const RECORD: &str = "INSERT INTO jwt_allauth_known_devices \
     (user_id, browser, os, device, first_seen, last_seen, notified_at) \
     VALUES ($1, $2, $3, $4, $5, $5, $6) \
     ON CONFLICT (user_id, browser, os, device) DO UPDATE SET \
     last_seen = excluded.last_seen, \
     notified_at = COALESCE(excluded.notified_at, jwt_allauth_known_devices.notified_at)";

/// Why a sign-in could not be noted.
#[derive(Debug, thiserror::Error)]
enum KnownDevicesError {
    #[error("the user id is not one of the users table")]
    UserId,
    #[error("the account's address cannot receive mail")]
    Recipient,
    #[error("the known devices cannot be read or written")]
    Database(#[source] sqlx::Error),
    #[error("the transaction cannot begin")]
    Begin(#[source] jwt_allauth::StoreError),
    #[error("the purpose token cannot be stored")]
    Token(#[source] jwt_allauth::StoreError),
    #[error("the mail cannot be queued")]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Users(#[from] UsersError),
}

impl From<KnownDevicesError> for UserStoreError {
    /// An unreachable database is [`StoreError::Unavailable`](jwt_allauth::StoreError)
    /// in the chain.
    fn from(error: KnownDevicesError) -> Self {
        let unavailable = match &error {
            KnownDevicesError::Database(source) => jwt_allauth_sqlx::is_unavailable(source),
            KnownDevicesError::Begin(jwt_allauth::StoreError::Unavailable(_))
            | KnownDevicesError::Token(jwt_allauth::StoreError::Unavailable(_))
            | KnownDevicesError::Outbox(OutboxError::Unavailable(_)) => true,
            KnownDevicesError::Users(users) => users.is_unavailable(),
            _ => false,
        };
        if unavailable {
            UserStoreError(Box::new(jwt_allauth::StoreError::Unavailable(Box::new(
                error,
            ))))
        } else {
            UserStoreError(Box::new(error))
        }
    }
}

/// Reads the account's history of `sign_in`'s device, decides, and records: the rule of
/// [`decide`], written once for both backends.
async fn decide_and_record<D>(
    connection: &mut D::Connection,
    user_id: i64,
    sign_in: &SignIn,
) -> Result<SignInNotice, KnownDevicesError>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'a> &'a str: Encode<'a, D> + Type<D>,
    for<'q> Option<D::Time>: Encode<'q, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    i64: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D>,
{
    let device = &sign_in.device;
    let last_seen: Option<(D::Time,)> = sqlx::query_as(LAST_SEEN)
        .bind(user_id)
        .bind(device.browser.as_str())
        .bind(device.os.as_str())
        .bind(device.device.as_str())
        .fetch_optional(&mut *connection)
        .await
        .map_err(KnownDevicesError::Database)?;
    let last_seen = match last_seen {
        Some((time,)) => Some(D::decode_time(time)?),
        None => None,
    };
    let (devices,): (i64,) = sqlx::query_as(DEVICES)
        .bind(user_id)
        .fetch_one(&mut *connection)
        .await
        .map_err(KnownDevicesError::Database)?;
    let (recent_mails,): (i64,) = sqlx::query_as(RECENT_MAILS)
        .bind(user_id)
        .bind(Some(D::encode_time(recent_mails_since(sign_in.now))))
        .fetch_one(&mut *connection)
        .await
        .map_err(KnownDevicesError::Database)?;
    let history = DeviceHistory {
        last_seen,
        any_device: devices > 0,
        recent_mails: u32::try_from(recent_mails).unwrap_or(u32::MAX),
    };
    let notice = decide(&history, sign_in.now);
    if notice.records_device() {
        let mailed = notice == SignInNotice::Mailed && sign_in.mail.is_some();
        sqlx::query(RECORD)
            .bind(user_id)
            .bind(device.browser.as_str())
            .bind(device.os.as_str())
            .bind(device.device.as_str())
            .bind(Some(D::encode_time(sign_in.now)))
            .bind(mailed.then(|| D::encode_time(sign_in.now)))
            .execute(&mut *connection)
            .await
            .map_err(KnownDevicesError::Database)?;
    }
    Ok(notice)
}

impl Users {
    async fn note(&self, sign_in: SignIn) -> Result<SignInNotice, KnownDevicesError> {
        let user_id: i64 = sign_in
            .user_id
            .parse()
            .map_err(|_| KnownDevicesError::UserId)?;
        let outgoing = match &sign_in.mail {
            Some(mail) => {
                let to: Mailbox = mail
                    .mail
                    .to
                    .parse()
                    .map_err(|_| KnownDevicesError::Recipient)?;
                let mail = mail.mail.clone();
                Some(OutgoingMail::new(to, mail.subject, mail.text, mail.html))
            }
            None => None,
        };
        let now = sign_in.now;
        macro_rules! note_on {
            ($pool:expr, $store:ty, $db:ty, $lock:expr) => {{
                let mut tx = <$store>::begin_write($pool)
                    .await
                    .map_err(KnownDevicesError::Begin)?;
                if let Some(lock) = $lock {
                    sqlx::query(lock)
                        .bind(sign_in.user_id.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(KnownDevicesError::Database)?;
                }
                let notice = decide_and_record::<$db>(&mut tx, user_id, &sign_in).await?;
                let queued = match (notice, &sign_in.mail, &outgoing) {
                    (SignInNotice::Mailed, Some(mail), Some(outgoing)) => {
                        <$store>::replace_purpose_token_on(&mut tx, &mail.token)
                            .await
                            .map_err(KnownDevicesError::Token)?;
                        Outbox::enqueue(&mut *tx, outgoing, now).await?;
                        true
                    }
                    _ => false,
                };
                tx.commit()
                    .await
                    .map_err(|error| KnownDevicesError::Users(UsersError::from_sqlx(error)))?;
                (notice, queued)
            }};
        }
        let (notice, queued) = match &self.db {
            Database::Sqlite(pool) => {
                note_on!(pool, SqliteStore, sqlx::Sqlite, None::<&'static str>)
            }
            Database::Postgres(pool) => {
                note_on!(
                    pool,
                    PostgresStore,
                    sqlx::Postgres,
                    Some(LOCK_ACCOUNT_POSTGRES)
                )
            }
        };
        if queued && let Some(outbox) = &self.outbox {
            outbox.wake();
        }
        Ok(notice)
    }
}

impl KnownDevices for Users {
    fn note_sign_in(&self, sign_in: SignIn) -> BoxFuture<'_, Result<SignInNotice, UserStoreError>> {
        Box::pin(async move { Ok(self.note(sign_in).await?) })
    }
}
