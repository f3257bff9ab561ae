//! The PostgreSQL pool of read connections (`jwt_allauth_server::db::ReadPool`): a
//! connection whose statement was dropped mid-flight is closed, never reused; one that
//! PostgreSQL closed is replaced without failing the read; and `GET /user/` answers
//! after PostgreSQL killed every connection of the server. Run when
//! `JWT_ALLAUTH_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)]

mod common;

use std::str::FromStr;
use std::time::Duration;

use common::TestDb;
use jwt_allauth_server::db::{ReadFuture, ReadPool};
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// The backend process id of the connection a read ran on.
fn backend_pid(connection: &mut PgConnection) -> ReadFuture<'_, i32> {
    Box::pin(sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(connection))
}

async fn read_pool(db: &TestDb) -> ReadPool {
    ReadPool::new(PgConnectOptions::from_str(&db.url).unwrap()).unwrap()
}

/// Ends the backend `pid` from another connection, as an administrator (or a PostgreSQL
/// restart) would.
async fn terminate(db: &TestDb, pid: i32) {
    let pool = db.connect().await;
    let jwt_allauth_server::db::Database::Postgres(pool) = &pool else {
        panic!("not PostgreSQL");
    };
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(ended, "backend {pid} was not running");
    pool.close().await;
}

#[tokio::test]
async fn a_read_dropped_mid_flight_closes_its_connection() {
    let Some(db) = TestDb::postgres("a_read_dropped_mid_flight_closes_its_connection").await else {
        return;
    };
    let reads = read_pool(&db).await;
    let first = reads.read(backend_pid).await.unwrap();
    assert_eq!(
        reads.read(backend_pid).await.unwrap(),
        first,
        "a finished read hands its connection back"
    );

    // A statement still running when its future is dropped (a request timed out, a
    // client went away).
    let cancelled = tokio::time::timeout(
        Duration::from_millis(200),
        reads.read(|connection| Box::pin(sqlx::query("SELECT pg_sleep(30)").execute(connection))),
    )
    .await;
    assert!(cancelled.is_err(), "the slow read finished: {cancelled:?}");
    assert_eq!(reads.size(), 0, "the interrupted connection left the pool");

    let next = reads.read(backend_pid).await.unwrap();
    assert_ne!(next, first, "the interrupted connection was reused");
    assert_eq!(reads.read(backend_pid).await.unwrap(), next);
}

#[tokio::test]
async fn a_connection_postgres_closed_is_replaced_without_failing_the_read() {
    let Some(db) =
        TestDb::postgres("a_connection_postgres_closed_is_replaced_without_failing_the_read").await
    else {
        return;
    };
    let reads = read_pool(&db).await;
    let first = reads.read(backend_pid).await.unwrap();
    terminate(&db, first).await;

    let next = reads
        .read(backend_pid)
        .await
        .expect("the read after the connection was killed");
    assert_ne!(next, first);
    assert_eq!(reads.size(), 1, "the dead connection left the pool");
}

#[tokio::test]
async fn the_user_route_answers_after_postgres_killed_the_servers_connections() {
    let Some(db) =
        TestDb::postgres("the_user_route_answers_after_postgres_killed_the_servers_connections")
            .await
    else {
        return;
    };
    let (email, password) = ("reads@example.com", "correct horse battery staple");
    common::success(&db.run(&["user", "create", "--email", email, "--password", password]));
    let env = [
        ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false"),
        ("JWT_ALLAUTH_COOKIE_SECURE", "false"),
    ];
    let server = common::Server::start_with_env(&db, &[], &env).await;
    let client = reqwest::Client::new();
    let login = server.login(&client, email, password).await;
    let access = login["access"].as_str().unwrap().to_owned();
    let me = || client.get(server.url("/user/")).bearer_auth(&access).send();
    assert_eq!(me().await.unwrap().status(), reqwest::StatusCode::OK);

    // Every connection of the server ends, as in a restart of PostgreSQL.
    let admin = db.connect().await;
    let jwt_allauth_server::db::Database::Postgres(pool) = &admin else {
        panic!("not PostgreSQL");
    };
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(ended >= 1, "no connection of the server was found");
    pool.close().await;

    let answer = me().await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    assert_eq!(
        me().await.unwrap().status(),
        reqwest::StatusCode::OK,
        "the next request works too"
    );
}
