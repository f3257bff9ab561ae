//! Reads of users by id batched while others are under way
//! (`jwt_allauth_server::db::ReadBatches`), on PostgreSQL: the reads queued behind a
//! statement share the next one, each gets its own row (or none), a read whose request
//! went away takes no other read's answer with it, a failed statement fails exactly the
//! reads it carried; and over HTTP, many concurrent `GET /user/` of different users each
//! answer their own caller and see a change made just before. Run when
//! `JWT_ALLAUTH_TEST_POSTGRES_URL` is set (the HTTP test also on SQLite).

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, TestDb, success};
use jwt_allauth_server::db::{ReadBatches, ReadFuture, ReadPool, STATEMENT_TIMEOUT};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::Mutex as AsyncMutex;

/// The statements each test's query ran, as the ids they carried. One test at a time
/// uses it (`SERIAL`).
static STATEMENTS: Mutex<Vec<Vec<i64>>> = Mutex::new(Vec::new());

/// The tests that record statements run one at a time.
static SERIAL: AsyncMutex<()> = AsyncMutex::const_new(());

/// Id 1 takes 300 ms to read, so reads asked for meanwhile queue behind it.
const SLOW_ID: i64 = 1;

/// Reading id 99 takes 30 s: a statement that hangs.
const HANGING_ID: i64 = 99;

/// Reading id 13 fails (a division by zero: an error PostgreSQL reports, the connection
/// stays usable).
const FAILING_ID: i64 = 13;

/// The "rows" of `ids`: every positive id is a row (its own value), the others have
/// none. Records the statement; sleeps 300 ms when it carries [`SLOW_ID`], fails when it
/// carries [`FAILING_ID`].
fn rows(connection: &mut PgConnection, ids: Vec<i64>) -> ReadFuture<'_, Vec<i64>> {
    STATEMENTS.lock().unwrap().push(ids.clone());
    Box::pin(async move {
        let sleep = if ids.contains(&HANGING_ID) {
            30.0
        } else if ids.contains(&SLOW_ID) {
            0.3
        } else {
            0.0
        };
        let divisor = i64::from(!ids.contains(&FAILING_ID));
        sqlx::query_scalar(
            "SELECT id / $3 FROM unnest($1::int8[]) AS t(id), pg_sleep($2) WHERE id > 0",
        )
        .bind(ids)
        .bind(sleep)
        .bind(divisor)
        .fetch_all(connection)
        .await
    })
}

/// A fresh PostgreSQL database for `test` (none: the test is skipped), the turn of the
/// tests that record statements, and reads of [`rows`] on it failing after `timeout`,
/// with nothing recorded yet.
async fn setup(
    test: &str,
    timeout: Duration,
) -> Option<(
    TestDb,
    tokio::sync::MutexGuard<'static, ()>,
    ReadBatches<i64>,
)> {
    let db = TestDb::postgres(test).await?;
    let serial = SERIAL.lock().await;
    let pool = ReadPool::new(PgConnectOptions::from_str(&db.url).unwrap()).unwrap();
    let batches = ReadBatches::new(pool, rows, |id| *id, timeout);
    statements();
    Some((db, serial, batches))
}

fn statements() -> Vec<Vec<i64>> {
    std::mem::take(&mut *STATEMENTS.lock().unwrap())
}

/// Starts a read of `id` in a task of its own, as a request would; it fails after 20 s
/// (a read that is never answered).
fn spawn_read(
    batches: &ReadBatches<i64>,
    id: i64,
) -> tokio::task::JoinHandle<Result<Option<i64>, Arc<sqlx::Error>>> {
    let batches = batches.clone();
    tokio::spawn(async move { answered(batches.read(id)).await })
}

/// `read`'s answer, or a panic after 20 s.
async fn answered<T>(read: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("a read was never answered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_asked_for_during_a_statement_share_the_next_one() {
    let Some((_db, _serial, batches)) = setup(
        "reads_asked_for_during_a_statement_share_the_next_one",
        STATEMENT_TIMEOUT,
    )
    .await
    else {
        return;
    };

    // Alone, a read runs at once, in a statement of its own.
    assert_eq!(answered(batches.read(5)).await.unwrap(), Some(5));
    assert_eq!(statements(), vec![vec![5]]);

    let slow = spawn_read(&batches, SLOW_ID);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // While the slow statement runs: ten users, one of them twice, and an id with no row.
    let mut queued = Vec::new();
    for id in [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 2, -5] {
        queued.push((id, spawn_read(&batches, id)));
    }
    assert_eq!(slow.await.unwrap().unwrap(), Some(SLOW_ID));
    for (id, read) in queued {
        let expected = (id > 0).then_some(id);
        assert_eq!(read.await.unwrap().unwrap(), expected, "the read of {id}");
    }
    assert_eq!(
        statements(),
        vec![vec![SLOW_ID], vec![-5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
        "the twelve reads queued behind the slow one went in one statement, each id once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_request_went_away_takes_no_other_answer_with_it() {
    let Some((_db, _serial, batches)) =
        setup("a_read_whose_request_went_away", STATEMENT_TIMEOUT).await
    else {
        return;
    };

    // The slow read's request goes away while its statement runs.
    let gone = tokio::time::timeout(Duration::from_millis(50), batches.read(SLOW_ID)).await;
    assert!(gone.is_err(), "the slow read was still under way");
    let queued = spawn_read(&batches, 2);
    assert_eq!(queued.await.unwrap().unwrap(), Some(2));
    // And the next read still finds a statement to run in.
    assert_eq!(answered(batches.read(3)).await.unwrap(), Some(3));
    assert_eq!(statements(), vec![vec![SLOW_ID], vec![2], vec![3]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_statement_fails_exactly_the_reads_it_carried() {
    let Some((_db, _serial, batches)) = setup(
        "a_failed_statement_fails_exactly_the_reads",
        STATEMENT_TIMEOUT,
    )
    .await
    else {
        return;
    };

    let slow = spawn_read(&batches, SLOW_ID);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let failing = spawn_read(&batches, FAILING_ID);
    let beside = spawn_read(&batches, 14);
    assert_eq!(slow.await.unwrap().unwrap(), Some(SLOW_ID));
    let failing = failing.await.unwrap().unwrap_err();
    let beside = beside.await.unwrap().unwrap_err();
    assert!(
        Arc::ptr_eq(&failing, &beside),
        "both reads of the statement got its error"
    );
    assert!(
        failing.to_string().contains("division by zero"),
        "{failing}"
    );
    // The next statement, without the failing id, answers.
    assert_eq!(answered(batches.read(14)).await.unwrap(), Some(14));
    assert_eq!(
        statements(),
        vec![vec![SLOW_ID], vec![FAILING_ID, 14], vec![14]]
    );
}

/// `count` users `user<i>@example.com`, logged in: their access tokens, in order.
async fn users_logged_in(
    db: &TestDb,
    server: &Server,
    client: &Client,
    count: usize,
) -> Vec<String> {
    let mut tokens = Vec::new();
    for i in 0..count {
        let email = format!("user{i}@example.com");
        success(&db.run(&[
            "user",
            "create",
            "--email",
            &email,
            "--password",
            "pass-word-123",
        ]));
        let login = server.login(client, &email, "pass-word-123").await;
        tokens.push(login["access"].as_str().unwrap().to_owned());
    }
    tokens
}

async fn each_concurrent_read_answers_its_own_caller(db: &TestDb) {
    let server = Server::start(db, &[]).await;
    let client = Client::new();
    let tokens = users_logged_in(db, &server, &client, 8).await;

    // 16 requests per user at once, the users interleaved.
    let mut requests = Vec::new();
    for round in 0..16 {
        for (i, token) in tokens.iter().enumerate() {
            let (client, token) = (client.clone(), token.clone());
            let url = server.url("/user/");
            requests.push(tokio::spawn(async move {
                let response = client.get(url).bearer_auth(token).send().await.unwrap();
                (
                    i,
                    round,
                    response.status(),
                    response.json::<Value>().await.unwrap(),
                )
            }));
        }
    }
    for request in requests {
        let (i, round, status, body) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK, "user {i}, round {round}: {body}");
        assert_eq!(
            body["email"],
            format!("user{i}@example.com"),
            "round {round}"
        );
    }

    // A change is seen by the next read, while the other users' reads keep statements
    // under way.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for token in &tokens[1..] {
        let (client, stop, token) = (client.clone(), Arc::clone(&stop), token.clone());
        let url = server.url("/user/");
        load.push(tokio::spawn(async move {
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && answered < 10_000 {
                let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                answered += 1;
            }
            answered
        }));
    }
    for round in 0..20 {
        let name = format!("Name {round}");
        let patched = client
            .patch(server.url("/user/"))
            .bearer_auth(&tokens[0])
            .json(&json!({"first_name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), StatusCode::OK);
        let (status, body) = server.get_user(&client, &tokens[0]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["first_name"], name,
            "round {round}: the read saw the change"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        assert!(task.await.unwrap() > 0, "the load ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_concurrent_read_answers_its_own_caller_sqlite() {
    each_concurrent_read_answers_its_own_caller(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_concurrent_read_answers_its_own_caller_postgres() {
    if let Some(db) = TestDb::postgres("each_concurrent_read_answers_its_own_caller").await {
        each_concurrent_read_answers_its_own_caller(&db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_unreachable_queued_reads_fail_with_the_statement_ahead() {
    // A "database" that accepts connections and never answers: taking a connection
    // fails after the pool's CONNECT_TIMEOUT (5 s).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let accepting = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let url = format!("postgres://postgres@127.0.0.1:{port}/none");
    let pool = ReadPool::new(PgConnectOptions::from_str(&url).unwrap()).unwrap();
    let batches = ReadBatches::new(pool, rows, |id| *id, STATEMENT_TIMEOUT);

    let started = std::time::Instant::now();
    let first = spawn_read(&batches, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queued = spawn_read(&batches, 2);
    let first = first.await.unwrap().unwrap_err();
    let queued = queued.await.unwrap().unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(*first, sqlx::Error::PoolTimedOut), "{first}");
    assert!(
        Arc::ptr_eq(&first, &queued),
        "the queued read failed with the statement ahead of it"
    );
    // One CONNECT_TIMEOUT, not two.
    assert!(
        elapsed < jwt_allauth_server::db::CONNECT_TIMEOUT + Duration::from_secs(3),
        "{elapsed:?}"
    );
    accepting.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_statement_times_out_with_the_reads_behind_it() {
    let Some((_db, _serial, batches)) =
        setup("a_hanging_statement_times_out", Duration::from_secs(1)).await
    else {
        return;
    };

    let started = std::time::Instant::now();
    let hanging = spawn_read(&batches, HANGING_ID);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let queued = spawn_read(&batches, 2);
    let hanging = hanging.await.unwrap().unwrap_err();
    let queued = queued.await.unwrap().unwrap_err();
    assert!(jwt_allauth_sqlx::is_unavailable(&hanging), "{hanging}");
    assert!(
        Arc::ptr_eq(&hanging, &queued),
        "the queued read failed with it"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The next statement runs, on another connection: the hung one was closed.
    assert_eq!(answered(batches.read(3)).await.unwrap(), Some(3));
    assert_eq!(statements(), vec![vec![HANGING_ID], vec![3]]);
}
