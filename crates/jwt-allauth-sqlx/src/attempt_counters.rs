//! [`PostgresAttemptCounters`]: the login throttle's and rate limits' counters in
//! PostgreSQL, shared by every instance on the database.

use std::sync::atomic::{AtomicI64, Ordering};

use jwt_allauth::StoreError;
use jwt_allauth::attempts::{
    AttemptCounters, BoxFuture, CounterKey, CounterQuery, CounterState, Decide, GiveBack, Refused,
};
use sqlx::PgPool;

use crate::error::store_error;

/// How often, in milliseconds of the callers' `now`, a reservation also deletes expired
/// attempts.
const PURGE_EVERY_MS: i64 = 60_000;
/// Most rows one purge statement deletes.
const PURGE_BATCH: i64 = 5_000;

/// Takes the transaction-scoped advisory lock of one counter.
const LOCK: &str = "SELECT pg_advisory_xact_lock($1)";

/// The newest `limit` live attempts of each counter: how many, and the oldest of them,
/// in the order of the queries.
const STATES: &str = "\
SELECT q.ord, s.n, s.oldest
FROM unnest($1::text[], $2::bytea[], $3::int8[], $4::int8[]) WITH ORDINALITY
    AS q(scope, key, since, lim, ord)
CROSS JOIN LATERAL (
    SELECT count(*) AS n, min(a.started_ms) AS oldest FROM (
        SELECT started_ms FROM jwt_allauth_attempts
        WHERE scope = q.scope AND key = q.key AND started_ms > q.since
        ORDER BY started_ms DESC
        LIMIT q.lim
    ) a
) s
ORDER BY q.ord";

/// Records one attempt per counter.
const RECORD: &str = "\
INSERT INTO jwt_allauth_attempts (scope, key, started_ms, expires_ms)
SELECT scope, key, $3, $3 + window_ms
FROM unnest($1::text[], $2::bytea[], $4::int8[]) AS q(scope, key, window_ms)";

/// Deletes one attempt of a counter.
const GIVE_BACK_ONE: &str = "\
DELETE FROM jwt_allauth_attempts WHERE ctid = (
    SELECT ctid FROM jwt_allauth_attempts
    WHERE scope = $1 AND key = $2 AND started_ms = $3
    LIMIT 1
)";

/// Deletes every attempt of a counter.
const GIVE_BACK_ALL: &str = "DELETE FROM jwt_allauth_attempts WHERE scope = $1 AND key = $2";

/// Deletes a batch of expired attempts.
const PURGE: &str = "\
DELETE FROM jwt_allauth_attempts WHERE ctid IN (
    SELECT ctid FROM jwt_allauth_attempts WHERE expires_ms <= $1 LIMIT $2
)";

/// [`AttemptCounters`] in the table `jwt_allauth_attempts` (created by the
/// [`PostgresStore`](crate::PostgresStore)'s migrations): what makes the login throttle
/// and the rate limits count across every server instance on one database.
///
/// A reservation is one transaction: it takes a transaction-scoped advisory lock
/// (`pg_advisory_xact_lock`) per counter, in a fixed order (so two reservations cannot
/// deadlock), reads the counters, and inserts one row per counter unless refused.
/// Concurrent reservations on a counter, from any instance, are thus decided one after
/// the other. Keys are stored as the digests the caller gives (never an address).
///
/// Rows live until their window has passed: [`purge`](AttemptCounters::purge) deletes
/// them, and every instance also deletes a batch of them about once a minute while it
/// reserves, so the table holds about one window of attempts.
#[derive(Clone)]
pub struct PostgresAttemptCounters {
    pool: PgPool,
    last_purge: std::sync::Arc<AtomicI64>,
}

impl std::fmt::Debug for PostgresAttemptCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's options are not needed to tell what this is.
        f.debug_struct("PostgresAttemptCounters")
            .finish_non_exhaustive()
    }
}

impl PostgresAttemptCounters {
    /// The counters of the database of `pool` (migrated by
    /// [`PostgresStore::migrate`](crate::PostgresStore::migrate)).
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            last_purge: std::sync::Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    async fn reserve_in_tx(
        &self,
        queries: &[CounterQuery],
        now: i64,
        decide: Decide<'_>,
    ) -> Result<Result<(), Refused>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let mut locks: Vec<i64> = queries
            .iter()
            .filter(|query| query.limit > 0)
            .map(|query| lock_id(&query.key))
            .collect();
        locks.sort_unstable();
        locks.dedup();
        for lock in locks {
            sqlx::query(LOCK).bind(lock).execute(&mut *tx).await?;
        }

        let scopes: Vec<&str> = queries.iter().map(|q| q.key.scope).collect();
        let keys: Vec<Vec<u8>> = queries.iter().map(|q| q.key.digest.to_vec()).collect();
        let since: Vec<i64> = queries
            .iter()
            .map(|q| now.saturating_sub(q.window_ms()))
            .collect();
        let limits: Vec<i64> = queries.iter().map(|q| i64::from(q.limit)).collect();
        let rows: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(STATES)
            .bind(&scopes)
            .bind(&keys)
            .bind(&since)
            .bind(&limits)
            .fetch_all(&mut *tx)
            .await?;
        let states: Vec<CounterState> = rows
            .into_iter()
            .map(|(_, count, oldest)| CounterState {
                count: u32::try_from(count).unwrap_or(u32::MAX),
                oldest,
            })
            .collect();
        if let Err(refused) = decide(&states) {
            tx.rollback().await?;
            return Ok(Err(refused));
        }

        let recorded: Vec<&CounterQuery> = queries.iter().filter(|q| q.limit > 0).collect();
        if !recorded.is_empty() {
            let scopes: Vec<&str> = recorded.iter().map(|q| q.key.scope).collect();
            let keys: Vec<Vec<u8>> = recorded.iter().map(|q| q.key.digest.to_vec()).collect();
            let windows: Vec<i64> = recorded.iter().map(|q| q.window_ms()).collect();
            sqlx::query(RECORD)
                .bind(&scopes)
                .bind(&keys)
                .bind(now)
                .bind(&windows)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Deletes a batch of expired attempts when the last was a minute ago or more (by
    /// this instance's clock); a failure is only logged: the next one retries.
    async fn purge_if_due(&self, now: i64) {
        let last = self.last_purge.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PURGE_EVERY_MS
            || self
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Err(error) = sqlx::query(PURGE)
            .bind(now)
            .bind(PURGE_BATCH)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(%error, "expired throttle attempts not purged");
        }
    }
}

/// The advisory lock of a counter: 64 bits of the SHA-256 of its scope and digest.
fn lock_id(key: &CounterKey) -> i64 {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(key.scope.as_bytes());
    hasher.update([0]);
    hasher.update(key.digest);
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl AttemptCounters for PostgresAttemptCounters {
    fn reserve<'a>(
        &'a self,
        queries: &'a [CounterQuery],
        now: i64,
        decide: Decide<'a>,
    ) -> BoxFuture<'a, Result<Result<(), Refused>, StoreError>> {
        Box::pin(async move {
            let outcome = self
                .reserve_in_tx(queries, now, decide)
                .await
                .map_err(store_error)?;
            self.purge_if_due(now).await;
            Ok(outcome)
        })
    }

    fn give_back<'a>(&'a self, items: &'a [GiveBack]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await.map_err(store_error)?;
            for item in items {
                let statement = match item {
                    GiveBack::One { key, started } => sqlx::query(GIVE_BACK_ONE)
                        .bind(key.scope)
                        .bind(&key.digest[..])
                        .bind(*started),
                    GiveBack::All { key } => sqlx::query(GIVE_BACK_ALL)
                        .bind(key.scope)
                        .bind(&key.digest[..]),
                };
                statement.execute(&mut *tx).await.map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)
        })
    }

    fn purge(&self, now: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut total = 0;
            loop {
                let deleted = sqlx::query(PURGE)
                    .bind(now)
                    .bind(PURGE_BATCH)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                total += deleted;
                if deleted < PURGE_BATCH as u64 {
                    return Ok(total);
                }
            }
        })
    }
}
