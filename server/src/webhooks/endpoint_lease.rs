//! [`EndpointLease`]: an endpoint's row in `jwt_allauth_webhook_endpoints`, its durable
//! cursor and the lease of the one process delivering to it.
//!
//! The statements are the same on both backends; only the timestamps differ (epoch
//! milliseconds on SQLite, `timestamptz` on PostgreSQL). A claim is one conditional
//! `UPDATE`: on PostgreSQL, two processes claiming at once are ordered by the row lock,
//! and the second sees the first's lease and gets nothing.

use std::time::Duration;

use time::OffsetDateTime;

use crate::db::Database;

/// Creates the row of a new endpoint, whose cursor starts at the beginning of the log.
/// Binds url.
const ENSURE: &str = "INSERT INTO jwt_allauth_webhook_endpoints (url, delivered_seq) \
     VALUES ($1, 0) ON CONFLICT (url) DO NOTHING";

/// Takes (or renews) the lease when it is free, ours or run out; returns the cursor.
/// Binds url, holder, now, lease end.
const CLAIM: &str = "UPDATE jwt_allauth_webhook_endpoints SET locked_by = $2, locked_until = $4 \
     WHERE url = $1 AND (locked_by IS NULL OR locked_by = $2 OR locked_until <= $3) \
     RETURNING delivered_seq";

/// Records the cursor and renews the lease, if it is still ours. Binds url, holder,
/// cursor, lease end.
const SAVE: &str = "UPDATE jwt_allauth_webhook_endpoints SET delivered_seq = $3, locked_until = $4 \
     WHERE url = $1 AND locked_by = $2";

/// Gives the lease back. Binds url, holder.
const RELEASE: &str = "UPDATE jwt_allauth_webhook_endpoints SET locked_by = NULL, \
     locked_until = NULL WHERE url = $1 AND locked_by = $2";

/// The cursor of an endpoint. Binds url.
const CURSOR: &str = "SELECT delivered_seq FROM jwt_allauth_webhook_endpoints WHERE url = $1";

/// Runs `$body` with `$pool` the pool of `$db` and `$time` its timestamp encoding.
macro_rules! on_pool {
    ($db:expr, |$pool:ident, $time:ident| $body:expr) => {
        match $db {
            Database::Sqlite($pool) => {
                let $time = sqlite_time;
                $body
            }
            Database::Postgres($pool) => {
                let $time = postgres_time;
                $body
            }
        }
    };
}

/// SQLite: epoch milliseconds.
fn sqlite_time(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// PostgreSQL: `timestamptz`.
fn postgres_time(t: OffsetDateTime) -> OffsetDateTime {
    t
}

/// One endpoint's delivery state, held as `holder` (one id per server process).
#[derive(Debug, Clone)]
pub struct EndpointLease {
    db: Database,
    url: String,
    holder: String,
    lease: Duration,
}

impl EndpointLease {
    /// The state of the endpoint `url`, for the process `holder`, leased `lease` at a
    /// time.
    pub fn new(db: Database, url: &str, holder: &str, lease: Duration) -> Self {
        Self {
            db,
            url: url.to_owned(),
            holder: holder.to_owned(),
            lease,
        }
    }

    /// Creates the endpoint's row if it has none (cursor 0: every event still in the log).
    pub async fn ensure(&self) -> Result<(), sqlx::Error> {
        on_pool!(&self.db, |pool, _time| {
            sqlx::query(ENSURE)
                .bind(&self.url)
                .execute(pool)
                .await
                .map(drop)
        })
    }

    /// Takes the lease until `now` + the lease, unless another process holds it: the
    /// cursor, or `None` when another process delivers.
    pub async fn claim(&self, now: OffsetDateTime) -> Result<Option<i64>, sqlx::Error> {
        let until = now + self.lease;
        on_pool!(&self.db, |pool, time| {
            sqlx::query_scalar::<_, i64>(CLAIM)
                .bind(&self.url)
                .bind(&self.holder)
                .bind(time(now))
                .bind(time(until))
                .fetch_optional(pool)
                .await
        })
    }

    /// Records `cursor` and renews the lease from `now`: false when the lease is no longer
    /// ours (another process took it over after it ran out).
    pub async fn save(&self, cursor: i64, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
        let until = now + self.lease;
        on_pool!(&self.db, |pool, time| {
            sqlx::query(SAVE)
                .bind(&self.url)
                .bind(&self.holder)
                .bind(cursor)
                .bind(time(until))
                .execute(pool)
                .await
                .map(|done| done.rows_affected() == 1)
        })
    }

    /// Gives the lease back, so that another process takes over at once.
    pub async fn release(&self) -> Result<(), sqlx::Error> {
        on_pool!(&self.db, |pool, _time| {
            sqlx::query(RELEASE)
                .bind(&self.url)
                .bind(&self.holder)
                .execute(pool)
                .await
                .map(drop)
        })
    }

    /// The endpoint's cursor, if it has a row.
    pub async fn cursor(&self) -> Result<Option<i64>, sqlx::Error> {
        on_pool!(&self.db, |pool, _time| {
            sqlx::query_scalar::<_, i64>(CURSOR)
                .bind(&self.url)
                .fetch_optional(pool)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite() -> Database {
        let db = Database::connect("sqlite::memory:").await.expect("SQLite");
        db.migrate().await.expect("migrations");
        db
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).expect("a time")
    }

    #[tokio::test]
    async fn one_holder_at_a_time_until_its_lease_runs_out() {
        let db = sqlite().await;
        let lease = Duration::from_secs(15);
        let a = EndpointLease::new(db.clone(), "https://a.example/", "a", lease);
        let b = EndpointLease::new(db.clone(), "https://a.example/", "b", lease);
        a.ensure().await.expect("row");
        b.ensure().await.expect("row again");
        assert_eq!(a.claim(at(100)).await.expect("claim"), Some(0));
        assert_eq!(b.claim(at(105)).await.expect("claim"), None, "a holds it");
        assert!(a.save(7, at(110)).await.expect("save"));
        assert_eq!(
            b.claim(at(120)).await.expect("claim"),
            None,
            "renewed to 125"
        );
        // a stopped renewing: b takes over with a's cursor, and a's next save fails.
        assert_eq!(b.claim(at(125)).await.expect("claim"), Some(7));
        assert!(!a.save(9, at(126)).await.expect("save"));
        assert_eq!(a.cursor().await.expect("cursor"), Some(7));
        b.release().await.expect("release");
        assert_eq!(a.claim(at(127)).await.expect("claim"), Some(7));
    }
}
