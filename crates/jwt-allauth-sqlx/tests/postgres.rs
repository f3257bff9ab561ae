//! The conformance suite of `jwt_allauth::conformance` on PostgreSQL, each test in a fresh schema of the database named
//! by `JWT_ALLAUTH_TEST_POSTGRES_URL` (so tests run in parallel in one database).
//!
//! Without that variable every test prints a notice and passes, unless
//! `JWT_ALLAUTH_REQUIRE_POSTGRES=1`, in which case it fails (CI sets it).

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use futures::FutureExt;
use jwt_allauth::StoreError;
use jwt_allauth::attempts::AttemptCounters;
use jwt_allauth::store::SessionStore;
use jwt_allauth_sqlx::{MIGRATIONS_TABLE, PostgresAttemptCounters, PostgresStore};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The variable naming the test database.
pub const URL_VAR: &str = "JWT_ALLAUTH_TEST_POSTGRES_URL";
/// Set to `1` to fail, rather than skip, when [`URL_VAR`] is unset.
pub const REQUIRE_VAR: &str = "JWT_ALLAUTH_REQUIRE_POSTGRES";
/// Connections per test pool (enough for the concurrency cases to contend for real).
pub const POOL_SIZE: u32 = 16;

/// The test database URL, or `None` (after a notice) when PostgreSQL tests are skipped.
///
/// # Panics
///
/// When the URL is unset and `JWT_ALLAUTH_REQUIRE_POSTGRES=1`.
pub fn postgres_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
                "{REQUIRE_VAR}=1 but {URL_VAR} is not set: \
                 set {URL_VAR}=postgres://postgres@127.0.0.1:5432/test"
            );
            eprintln!(
                "PostgreSQL tests skipped: set {URL_VAR}=postgres://postgres@127.0.0.1:5432/test"
            );
            None
        }
    }
}

/// A fresh schema name.
pub fn random_schema() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("jwt_allauth_test_{}_{random:016x}", std::process::id())
}

/// A migrated store whose pool works in the fresh schema `schema` (created here).
pub async fn store_in_schema(url: &str, schema: &str) -> PostgresStore {
    let mut admin = PgConnection::connect(url).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();

    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect_with(options)
        .await
        .unwrap();
    let store = PostgresStore::new(pool);
    store.migrate().await.unwrap();
    store
}

/// Drops a test schema, best-effort.
pub async fn drop_schema(url: &str, schema: &str) {
    if let Ok(mut admin) = PgConnection::connect(url).await {
        let dropped = sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
        )))
        .execute(&mut admin)
        .await;
        if let Err(err) = dropped {
            eprintln!("could not drop test schema {schema}: {err}");
        }
        let _ = admin.close().await;
    }
}

/// Runs `test` on a store in a fresh schema, then drops the schema (even if `test`
/// panics). Returns at once when PostgreSQL tests are skipped.
pub async fn with_store<F, Fut>(test: F)
where
    F: FnOnce(PostgresStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(url) = postgres_url() else {
        return;
    };
    let schema = random_schema();
    let store = store_in_schema(&url, &schema).await;
    let pool = store.pool().clone();
    let outcome = AssertUnwindSafe(test(store)).catch_unwind().await;
    pool.close().await;
    drop_schema(&url, &schema).await;
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
}

jwt_allauth::conformance_tests!(crate::with_store);
jwt_allauth::event_log_tests!(crate::with_store);

/// Runs `test` on the shared attempt counters of a store in a fresh schema.
pub async fn with_attempt_counters<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn AttemptCounters>) -> Fut,
    Fut: Future<Output = ()>,
{
    with_store(|store| async move {
        test(Arc::new(PostgresAttemptCounters::new(store.pool().clone()))).await;
    })
    .await;
}

jwt_allauth::attempt_counter_tests!(crate::with_attempt_counters);

/// Migrations are recorded in the library's own table, not `_sqlx_migrations`, and
/// running them again is a no-op.
#[tokio::test]
async fn migrations_use_own_table_and_are_idempotent() {
    with_store(|store| async move {
        store.migrate().await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY table_name",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(
            tables,
            [
                MIGRATIONS_TABLE,
                "jwt_allauth_attempts",
                "jwt_allauth_events",
                "jwt_allauth_purpose_tokens",
                "jwt_allauth_sessions"
            ]
        );
    })
    .await;
}

/// Timestamps are `timestamptz`.
#[tokio::test]
async fn timestamps_are_timestamptz() {
    with_store(|store| async move {
        let types: Vec<String> = sqlx::query_scalar(
            "SELECT data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() \
               AND column_name IN ('created', 'last_used', 'expires_at', 'rotated_at')",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(types.len(), 6);
        assert!(
            types.iter().all(|t| t == "timestamp with time zone"),
            "{types:?}"
        );
    })
    .await;
}

/// An unreachable server is `StoreError::Unavailable` (runs without PostgreSQL).
#[tokio::test]
async fn unreachable_database_is_unavailable() {
    let pool = PgPoolOptions::new()
        .acquire_timeout(StdDuration::from_secs(2))
        .connect_lazy("postgres://postgres@127.0.0.1:1/test")
        .unwrap();
    let store = PostgresStore::new(pool);
    let err = store.session_is_active("0123").await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
