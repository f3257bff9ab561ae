//! The mail outbox: the table `jwt_allauth_mail_outbox`, where a request writes a mail
//! and the [`MailWorker`](super::MailWorker) takes it from.
//!
//! [`Outbox::enqueue`] writes on the caller's connection, so that a mail is written in
//! the same transaction as what it is about (a purpose token): both or neither. The
//! caller wakes the worker with [`Outbox::wake`] once that transaction has committed.
//!
//! Delivery is claim, send, then delete (or release for a retry). [`Outbox::claim`]
//! leases due rows with one conditional `UPDATE` (`locked_until`, and one more attempt
//! counted), so that several workers, in one process or in several server processes on
//! one PostgreSQL database, never hold the same row: PostgreSQL's claim skips rows
//! another worker is claiming (`FOR UPDATE SKIP LOCKED`). A worker that dies holding a
//! row leaves it leased until the lease runs out, then another takes it: a crash loses
//! nothing. The statements are written once for both backends (see `outbox_sql.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{ColumnIndex, Decode, Encode, Executor, Pool, Type};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::outbox_sql::{self, Dialect};
use super::transport::OutgoingMail;
use crate::db::Database;

/// Runs `$queue.$call` on the outbox of `$db`, whichever its backend.
macro_rules! on_queue {
    ($db:expr, $queue:ident => $call:expr) => {
        match $db {
            Database::Sqlite(pool) => {
                let $queue = Queue(pool);
                $call.await
            }
            Database::Postgres(pool) => {
                let $queue = Queue(pool);
                $call.await
            }
        }
    };
}

/// The longest `last_error` stored, in characters.
const MAX_ERROR_CHARS: usize = 1000;

/// Why an outbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The database cannot be reached (connection refused, pool timed out, busy).
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Any other database error.
    #[error("the mail outbox query failed")]
    Database(#[source] sqlx::Error),
}

impl OutboxError {
    fn from_sqlx(err: sqlx::Error) -> Self {
        if jwt_allauth_sqlx::is_unavailable(&err) {
            OutboxError::Unavailable(err)
        } else {
            OutboxError::Database(err)
        }
    }

    /// Whether the database could not be reached.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, OutboxError::Unavailable(_))
    }
}

/// A connection (or an open transaction: `&mut *transaction`) to write a mail on.
#[derive(Debug)]
pub enum OutboxConnection<'c> {
    /// SQLite.
    Sqlite(&'c mut SqliteConnection),
    /// PostgreSQL.
    Postgres(&'c mut PgConnection),
}

impl<'c> From<&'c mut SqliteConnection> for OutboxConnection<'c> {
    fn from(connection: &'c mut SqliteConnection) -> Self {
        OutboxConnection::Sqlite(connection)
    }
}

impl<'c> From<&'c mut PgConnection> for OutboxConnection<'c> {
    fn from(connection: &'c mut PgConnection) -> Self {
        OutboxConnection::Postgres(connection)
    }
}

/// A mail a worker has claimed: everything needed to send it. `Debug` never shows the
/// bodies.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    /// The row.
    pub id: i64,
    /// The unique key of its `Message-ID`, the same at every attempt.
    pub message_key: String,
    /// The recipient, as [`lettre::message::Mailbox`] writes it.
    pub recipient: String,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
    /// When it was queued.
    pub created_at: OffsetDateTime,
    /// The attempts so far, this one included.
    pub attempts: i64,
}

impl fmt::Debug for ClaimedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedMail")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("subject", &self.subject)
            .field("created_at", &self.created_at)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// A queued mail as [`Outbox::queued`] lists it: no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// The row.
    pub id: i64,
    /// The recipient.
    pub recipient: String,
    /// The subject.
    pub subject: String,
    /// When it was queued.
    pub created_at: OffsetDateTime,
    /// The attempts so far.
    pub attempts: i64,
    /// When it is due.
    pub next_attempt_at: OffsetDateTime,
    /// The end of the lease of the worker that holds it, if one does (or did).
    pub locked_until: Option<OffsetDateTime>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The outbox on the server's database, and the handle that wakes its worker. Cheap to
/// clone; clones share the handle.
#[derive(Debug, Clone)]
pub struct Outbox {
    db: Database,
    wake: Arc<Notify>,
}

impl Outbox {
    /// The outbox on `db`, which must be migrated.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Writes `mail` on `connection` (a transaction of the caller's, usually), due at
    /// `now`, and returns its id. The outbox gives it a `Message-ID` key of its own, the
    /// same at every attempt (`mail.message_id` is not stored). Call [`Outbox::wake`]
    /// once the transaction has committed.
    pub async fn enqueue<'c>(
        connection: impl Into<OutboxConnection<'c>>,
        mail: &OutgoingMail,
        now: OffsetDateTime,
    ) -> Result<i64, OutboxError> {
        let id = match connection.into() {
            OutboxConnection::Sqlite(connection) => {
                insert::<sqlx::Sqlite>(connection, mail, now).await
            }
            OutboxConnection::Postgres(connection) => {
                insert::<sqlx::Postgres>(connection, mail, now).await
            }
        }?;
        crate::mail::count_mail(crate::mail::MailState::Queued);
        Ok(id)
    }

    /// Writes `mail` in a transaction of its own, due at `now`, and wakes the worker.
    pub async fn push(&self, mail: &OutgoingMail, now: OffsetDateTime) -> Result<i64, OutboxError> {
        let id = match &self.db {
            Database::Sqlite(pool) => {
                let mut connection = pool.acquire().await.map_err(OutboxError::from_sqlx)?;
                Self::enqueue(&mut *connection, mail, now).await?
            }
            Database::Postgres(pool) => {
                let mut connection = pool.acquire().await.map_err(OutboxError::from_sqlx)?;
                Self::enqueue(&mut *connection, mail, now).await?
            }
        };
        self.wake();
        Ok(id)
    }

    /// Wakes the worker of this process (if it waits, else its next wait ends at once).
    /// Workers of other processes find the mail at their next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The handle [`Outbox::wake`] notifies.
    pub(crate) fn wake_handle(&self) -> &Notify {
        &self.wake
    }

    /// Leases at most `limit` mails due at `now` until `now + lease`, counting one more
    /// attempt for each, oldest first. No other claim returns them before the lease runs
    /// out.
    pub async fn claim(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedMail>, OutboxError> {
        on_queue!(&self.db, queue => queue.claim(now, now + lease, limit))
    }

    /// Deletes mail `id` (sent, or given up); whether it was there.
    pub async fn remove(&self, id: i64) -> Result<bool, OutboxError> {
        on_queue!(&self.db, queue => queue.remove(id))
    }

    /// Releases the claimed mail `id` for another attempt at `at`, with why this one
    /// failed (cut to 1000 characters); whether it was there.
    pub async fn retry_at(
        &self,
        id: i64,
        at: OffsetDateTime,
        error: &str,
    ) -> Result<bool, OutboxError> {
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        on_queue!(&self.db, queue => queue.retry_at(id, at, &error))
    }

    /// When the next mail is due (its next attempt, or the end of its lease), `None`
    /// when the outbox is empty.
    pub async fn next_due(&self) -> Result<Option<OffsetDateTime>, OutboxError> {
        on_queue!(&self.db, queue => queue.next_due())
    }

    /// Every queued mail, without its bodies, oldest first.
    pub async fn queued(&self) -> Result<Vec<QueuedMail>, OutboxError> {
        on_queue!(&self.db, queue => queue.queued())
    }
}

/// A fresh `Message-ID` key: 128 random bits in hex.
fn message_key() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

async fn insert<D>(
    connection: &mut D::Connection,
    mail: &OutgoingMail,
    now: OffsetDateTime,
) -> Result<i64, OutboxError>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'a> &'a str: Encode<'a, D> + Type<D>,
    String: for<'q> Encode<'q, D> + Type<D>,
    i64: for<'r> Decode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
{
    let (id,): (i64,) = sqlx::query_as(outbox_sql::INSERT)
        .bind(message_key())
        .bind(mail.to.to_string())
        .bind(mail.subject.as_str())
        .bind(mail.text.as_str())
        .bind(mail.html.as_str())
        .bind(D::encode_time(now))
        .fetch_one(connection)
        .await
        .map_err(OutboxError::from_sqlx)?;
    Ok(id)
}

/// A claimed row, timestamps as the dialect stores them.
#[derive(sqlx::FromRow)]
struct ClaimedRow<T> {
    id: i64,
    message_key: String,
    recipient: String,
    subject: String,
    text_body: String,
    html_body: String,
    created_at: T,
    attempts: i64,
}

/// A row of [`outbox_sql::QUEUED`].
#[derive(sqlx::FromRow)]
struct QueuedRow<T> {
    id: i64,
    recipient: String,
    subject: String,
    created_at: T,
    attempts: i64,
    next_attempt_at: T,
    locked_until: Option<T>,
    last_error: Option<String>,
}

/// The outbox table on a pool of dialect `D`.
struct Queue<'p, D: sqlx::Database>(&'p Pool<D>);

// The bounds say that the driver binds and reads the columns' types, as both sqlx
// drivers do; they are spelled out because Rust does not infer them from `Dialect`.
impl<D> Queue<'_, D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'a> &'a str: ColumnIndex<D::Row> + Encode<'a, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    i64: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D>,
    String: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D>,
    Option<String>: for<'r> Decode<'r, D>,
    Option<D::Time>: for<'r> Decode<'r, D>,
{
    async fn claim(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedMail>, OutboxError> {
        let rows: Vec<ClaimedRow<D::Time>> = sqlx::query_as(D::CLAIM)
            .bind(D::encode_time(now))
            .bind(D::encode_time(until))
            .bind(i64::from(limit))
            .fetch_all(self.0)
            .await
            .map_err(OutboxError::from_sqlx)?;
        let mut claimed = rows
            .into_iter()
            .map(|row| {
                Ok(ClaimedMail {
                    id: row.id,
                    message_key: row.message_key,
                    recipient: row.recipient,
                    subject: row.subject,
                    text: row.text_body,
                    html: row.html_body,
                    created_at: D::decode_time(row.created_at)?,
                    attempts: row.attempts,
                })
            })
            .collect::<Result<Vec<_>, OutboxError>>()?;
        // RETURNING has no order of its own.
        claimed.sort_by_key(|mail| mail.id);
        Ok(claimed)
    }

    async fn remove(&self, id: i64) -> Result<bool, OutboxError> {
        let done = sqlx::query(outbox_sql::DELETE)
            .bind(id)
            .execute(self.0)
            .await
            .map_err(OutboxError::from_sqlx)?;
        Ok(D::rows_affected(&done) > 0)
    }

    async fn retry_at(
        &self,
        id: i64,
        at: OffsetDateTime,
        error: &str,
    ) -> Result<bool, OutboxError> {
        let done = sqlx::query(outbox_sql::RETRY)
            .bind(id)
            .bind(D::encode_time(at))
            .bind(error)
            .execute(self.0)
            .await
            .map_err(OutboxError::from_sqlx)?;
        Ok(D::rows_affected(&done) > 0)
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>, OutboxError> {
        let (due,): (Option<D::Time>,) = sqlx::query_as(outbox_sql::NEXT_DUE)
            .fetch_one(self.0)
            .await
            .map_err(OutboxError::from_sqlx)?;
        due.map(D::decode_time).transpose()
    }

    async fn queued(&self) -> Result<Vec<QueuedMail>, OutboxError> {
        let rows: Vec<QueuedRow<D::Time>> = sqlx::query_as(outbox_sql::QUEUED)
            .fetch_all(self.0)
            .await
            .map_err(OutboxError::from_sqlx)?;
        rows.into_iter()
            .map(|row| {
                Ok(QueuedMail {
                    id: row.id,
                    recipient: row.recipient,
                    subject: row.subject,
                    created_at: D::decode_time(row.created_at)?,
                    attempts: row.attempts,
                    next_attempt_at: D::decode_time(row.next_attempt_at)?,
                    locked_until: row.locked_until.map(D::decode_time).transpose()?,
                    last_error: row.last_error,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use lettre::message::Mailbox;

    use super::*;

    fn at(millis: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).expect("time")
    }

    fn mail(to: &str) -> OutgoingMail {
        let to: Mailbox = to.parse().expect("a mailbox");
        OutgoingMail::new(to, "Subject", "text", "<p>html</p>")
    }

    async fn sqlite() -> Outbox {
        let db = Database::connect("sqlite::memory:").await.expect("SQLite");
        db.migrate().await.expect("migrations");
        Outbox::new(db)
    }

    #[tokio::test]
    async fn claim_leases_and_counts_attempts() {
        let outbox = sqlite().await;
        let first = outbox
            .push(&mail("Ada <ada@example.com>"), at(1_000))
            .await
            .expect("queued");
        let second = outbox
            .push(&mail("bob@example.com"), at(2_000))
            .await
            .expect("queued");
        assert_eq!(outbox.next_due().await.expect("due"), Some(at(1_000)));

        // Not due yet.
        assert!(
            outbox
                .claim(at(500), Duration::from_secs(60), 10)
                .await
                .expect("claim")
                .is_empty()
        );

        let claimed = outbox
            .claim(at(1_500), Duration::from_secs(60), 10)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, first);
        assert_eq!(claimed[0].attempts, 1);
        assert_eq!(claimed[0].recipient, "Ada <ada@example.com>");
        assert_eq!(claimed[0].message_key.len(), 32);
        assert!(!format!("{:?}", claimed[0]).contains("html"));

        // Leased: the next claim takes only the second.
        let claimed = outbox
            .claim(at(3_000), Duration::from_secs(60), 10)
            .await
            .expect("claim");
        assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), [second]);
        assert_eq!(outbox.next_due().await.expect("due"), Some(at(61_500)));

        // The lease of the first ran out: claimed again, a second attempt.
        let again = outbox
            .claim(at(61_500), Duration::from_secs(60), 10)
            .await
            .expect("claim");
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].id, again[0].attempts), (first, 2));

        assert!(
            outbox
                .retry_at(first, at(100_000), "SMTP down")
                .await
                .expect("retry")
        );
        assert!(outbox.remove(second).await.expect("removed"));
        let queued = outbox.queued().await.expect("queued");
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].attempts, 2);
        assert_eq!(queued[0].next_attempt_at, at(100_000));
        assert_eq!(queued[0].locked_until, None);
        assert_eq!(queued[0].last_error.as_deref(), Some("SMTP down"));
        assert!(!outbox.remove(second).await.expect("already gone"));
    }

    #[tokio::test]
    async fn enqueue_follows_the_callers_transaction() {
        let outbox = sqlite().await;
        let Database::Sqlite(pool) = &outbox.db else {
            panic!("not SQLite")
        };
        let mut tx = pool.begin().await.expect("begin");
        Outbox::enqueue(&mut *tx, &mail("a@example.com"), at(0))
            .await
            .expect("queued");
        tx.rollback().await.expect("rollback");
        assert!(outbox.queued().await.expect("queued").is_empty());

        let mut tx = pool.begin().await.expect("begin");
        Outbox::enqueue(&mut *tx, &mail("a@example.com"), at(0))
            .await
            .expect("queued");
        tx.commit().await.expect("commit");
        assert_eq!(outbox.queued().await.expect("queued").len(), 1);
    }
}
