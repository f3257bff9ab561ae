//! The conformance suite of `jwt_allauth::conformance` on SQLite: once on a fresh database file per test (WAL, several
//! connections, `BEGIN IMMEDIATE` under contention) and once on a fresh in-memory
//! database per test (`sqlite::memory:`, one connection); then what is particular to
//! SQLite: migrations, column types, pragmas, and a purge that shares the single writer.

#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use jwt_allauth::Settings;
use jwt_allauth::conformance;
use jwt_allauth::store::SessionStore;
use jwt_allauth_sqlx::{MIGRATIONS_TABLE, SqliteStore};

/// A fresh, unique path under the temporary directory.
pub fn temp_db_path() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    std::env::temp_dir().join(format!(
        "jwt-allauth-sqlx-test-{}-{random:016x}.sqlite",
        std::process::id()
    ))
}

/// A migrated store on a fresh database file, and the file's path.
pub async fn file_store() -> (SqliteStore, PathBuf) {
    let path = temp_db_path();
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (store, path)
}

/// A migrated store on a fresh in-memory database.
pub async fn memory_store() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Runs `test` on a fresh database file, then deletes the file (even if `test` panics).
pub async fn with_file_store<F, Fut>(test: F)
where
    F: FnOnce(SqliteStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let (store, path) = file_store().await;
    let pool = store.pool().clone();
    let outcome = AssertUnwindSafe(test(store)).catch_unwind().await;
    pool.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
}

/// Runs `test` on a fresh in-memory database.
pub async fn with_memory_store<F, Fut>(test: F)
where
    F: FnOnce(SqliteStore) -> Fut,
    Fut: Future<Output = ()>,
{
    test(memory_store().await).await;
}

mod file {
    jwt_allauth::conformance_tests!(crate::with_file_store);
    jwt_allauth::event_log_tests!(crate::with_file_store);
}

mod memory {
    jwt_allauth::conformance_tests!(crate::with_memory_store);
    jwt_allauth::event_log_tests!(crate::with_memory_store);
}

/// Migrations are recorded in the library's own table, not `_sqlx_migrations`, and
/// running them again is a no-op.
#[tokio::test]
async fn migrations_use_own_table_and_are_idempotent() {
    with_file_store(|store| async move {
        store.migrate().await.unwrap();
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert!(tables.iter().any(|t| t == MIGRATIONS_TABLE), "{tables:?}");
        assert!(
            !tables.iter().any(|t| t == "_sqlx_migrations"),
            "{tables:?}"
        );
        assert!(tables.iter().any(|t| t == "jwt_allauth_sessions"));
        assert!(tables.iter().any(|t| t == "jwt_allauth_purpose_tokens"));
    })
    .await;
}

/// Timestamps are INTEGER epoch seconds, never text.
#[tokio::test]
async fn timestamps_are_integers() {
    with_file_store(|store| async move {
        let session = conformance::new_session("0123", "alice", "j", conformance::at(0));
        store.open_session(&session).await.unwrap();
        let types: (String, String, String, i64) = sqlx::query_as(
            "SELECT typeof(created), typeof(last_used), typeof(expires_at), created \
             FROM jwt_allauth_sessions",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(
            types,
            (
                "integer".into(),
                "integer".into(),
                "integer".into(),
                conformance::at(0).unix_timestamp()
            )
        );
    })
    .await;
}

/// The file store runs in WAL mode with foreign keys on.
#[tokio::test]
async fn file_store_pragmas() {
    with_file_store(|store| async move {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(foreign_keys, 1);
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
    })
    .await;
}

/// Each `connect("sqlite::memory:")` is its own database, and it survives idle time
/// (its single connection is never closed).
#[tokio::test]
async fn memory_databases_are_separate() {
    let first = memory_store().await;
    let second = memory_store().await;
    let session = conformance::new_session("0123", "alice", "j", conformance::at(0));
    first.open_session(&session).await.unwrap();
    assert!(first.session_is_active("0123").await.unwrap());
    assert!(!second.session_is_active("0123").await.unwrap());
}

/// A purge of many batches gives the database's single write lock back between batches:
/// after each full batch it pauses (at least 10 ms, `PURGE_MIN_PAUSE`), and a writer that
/// writes without pause while it runs gets in between batches (here at least once per
/// three batches) instead of waiting for the whole purge. The purge still deletes every
/// expired row and none of the writer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purge_pauses_between_batches_and_lets_writers_in() {
    const EXPIRED: u32 = 3000;
    const MIN_PAUSE: Duration = Duration::from_millis(10);
    with_file_store(|store| async move {
        let full_batches = EXPIRED / store.expired_sessions_batch_size();
        assert!(full_batches >= 10, "the purge takes {full_batches} batches");
        let expired_at = conformance::at(0);
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO jwt_allauth_sessions \
                 (session, user_id, jti, refresh_claims, enabled, created, last_used, expires_at) \
             SELECT printf('%016x%016x', random(), i), 'expired-' || (i / 4), \
                 printf('%016x%016x', random(), i), '{}', 1, ?2, ?2, ?2 FROM n",
        )
        .bind(i64::from(EXPIRED))
        .bind(expired_at.unix_timestamp())
        .execute(store.pool())
        .await
        .unwrap();
        let now = conformance::at(60);

        let users = conformance::rules::TestUsers::default();
        let manager = conformance::rules::full_manager(store.clone(), &users, Settings::default());
        let started = Instant::now();
        let purge = tokio::spawn(async move {
            let report = manager.purge(now, false).await;
            (report, started.elapsed())
        });
        let (mut written, mut written_while_purging) = (0u32, 0u32);
        while !purge.is_finished() {
            let id = conformance::session_id(written.into());
            let session = conformance::new_session(&id, "writer", &id, now);
            store.open_session(&session).await.unwrap();
            written += 1;
            if !purge.is_finished() {
                written_while_purging += 1;
            }
        }
        let (purged, took) = purge.await.unwrap();

        assert_eq!(purged.unwrap().sessions, u64::from(EXPIRED));
        assert!(
            took >= MIN_PAUSE * full_batches,
            "{full_batches} full batches in {took:?}"
        );
        assert!(
            written_while_purging >= full_batches / 3,
            "{written_while_purging} writes during a purge of {full_batches} batches"
        );
        assert_eq!(store.count_expired_sessions(now).await.unwrap(), 0);
        let kept = store.list_user_sessions("writer").await.unwrap().len();
        assert_eq!(kept, usize::try_from(written).unwrap());
    })
    .await;
}
