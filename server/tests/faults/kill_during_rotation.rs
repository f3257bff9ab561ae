//! `kill -9` of the server while sixteen clients rotate their sessions, then a restart
//! on the same database, three times over, on SQLite and (when
//! `JWT_ALLAUTH_TEST_POSTGRES_URL` is set) PostgreSQL.
//!
//! After each kill, read from the database directly: every session is still there
//! exactly once (none lost, none duplicated, no other row), and each one is either not
//! rotated by the request in flight (its `jti` is the client's last confirmed token) or
//! rotated by it with the answer lost (its `previous_jti` is the confirmed token); an
//! answer the client received is never missing from the row. Then, on the restarted
//! server, every client carries on: with a reuse interval configured, presenting the
//! confirmed token either rotates it or, after a lost answer, returns exactly the token
//! the database holds as current, and that token rotates in turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jwt_allauth_server::db::Database;

use crate::api::{Api, create_user, jti, server_env, session};
use crate::common::{Server, TestDb};

/// Clients, each with a session of its own.
const CLIENTS: usize = 16;
/// Kills (and restarts) per database.
const KILLS: usize = 3;
/// Rotations confirmed to the clients, after a start, before the kill.
const ROTATIONS_BEFORE_KILL: usize = 3 * CLIENTS;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    kill_during_rotation(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(db) = TestDb::postgres("kill_during_rotation::postgres").await {
        kill_during_rotation(&db).await;
    }
}

/// One session row: `session`, `jti`, `previous_jti`.
type SessionRow = (String, String, Option<String>);

async fn kill_during_rotation(db: &TestDb) {
    create_user(db);
    let mut env = server_env();
    env.push(("JWT_ALLAUTH_REUSE_INTERVAL", "600"));
    let mut server = Server::start_with_env(db, &[], &env).await;
    let mut api = Api::new(&server.base);
    let mut tokens = Vec::new();
    for _ in 0..CLIENTS {
        tokens.push(api.login().await.unwrap().tokens("login").refresh);
    }
    let database = db.connect().await;
    let mut lost_answers = 0;
    for round in 0..KILLS {
        let confirmed = rotate_until_killed(&api, tokens, &mut server).await;
        let rows = session_rows(&database).await;
        lost_answers += check_rows(&rows, &confirmed, round);

        server = Server::start_with_env(db, &[], &env).await;
        api = Api::new(&server.base);
        tokens = carry_on(&api, &confirmed, &rows).await;
    }
    assert_eq!(session_rows(&database).await.len(), CLIENTS);
    database.close().await;
    println!(
        "kill during rotation: {KILLS} kills of {CLIENTS} rotating clients, \
         {lost_answers} rotations committed with their answer lost"
    );
}

/// Every client rotates its session in a loop; once [`ROTATIONS_BEFORE_KILL`] rotations
/// have been confirmed, the server gets SIGKILL. The clients stop at their first failed
/// request; their last confirmed refresh tokens.
async fn rotate_until_killed(api: &Api, tokens: Vec<String>, server: &mut Server) -> Vec<String> {
    let confirmed = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = tokens
        .into_iter()
        .map(|mut token| {
            let (api, confirmed) = (api.clone(), confirmed.clone());
            tokio::spawn(async move {
                while let Ok(answer) = api.refresh(&token).await {
                    token = answer.tokens("rotation before the kill").refresh;
                    confirmed.fetch_add(1, Ordering::Relaxed);
                }
                token
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while confirmed.load(Ordering::Relaxed) < ROTATIONS_BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "too few rotations before the kill"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut last = Vec::new();
    for client in clients {
        last.push(client.await.unwrap());
    }
    last
}

/// Checks the table against the clients' confirmed tokens; how many sessions were
/// rotated by a request whose answer was lost.
fn check_rows(rows: &[SessionRow], confirmed: &[String], round: usize) -> usize {
    assert_eq!(
        rows.len(),
        CLIENTS,
        "after kill {round}: one row per session, no other: {rows:?}"
    );
    let mut lost = 0;
    for token in confirmed {
        let (session, jti) = (session(token), jti(token));
        let matching: Vec<_> = rows.iter().filter(|row| row.0 == session).collect();
        assert_eq!(matching.len(), 1, "after kill {round}: session {session}");
        let (_, current, previous) = matching[0];
        if *current == jti {
            continue;
        }
        assert_eq!(
            previous.as_deref(),
            Some(jti.as_str()),
            "after kill {round}: session {session} is neither at the confirmed token nor \
             one rotation past it"
        );
        lost += 1;
    }
    lost
}

/// On the restarted server, every client presents its confirmed token: the answer's
/// refresh token is the row's current one when that rotation had committed (a retry
/// within the reuse interval), else a new one; either way it then rotates. The clients'
/// new tokens.
async fn carry_on(api: &Api, confirmed: &[String], rows: &[SessionRow]) -> Vec<String> {
    let mut tokens = Vec::new();
    for token in confirmed {
        let row = rows.iter().find(|row| row.0 == session(token)).unwrap();
        let answer = api.refresh(token).await.unwrap();
        let next = answer
            .tokens("the confirmed token after the restart")
            .refresh;
        if row.1 == jti(token) {
            assert_ne!(jti(&next), row.1, "a rotation issues a new token");
        } else {
            assert_eq!(jti(&next), row.1, "a retry answers the current token");
        }
        let after = api.refresh(&next).await.unwrap();
        tokens.push(after.tokens("the current token after the restart").refresh);
    }
    tokens
}

/// `session`, `jti` and `previous_jti` of every row of the sessions table.
async fn session_rows(database: &Database) -> Vec<SessionRow> {
    const QUERY: &str = "SELECT session, jti, previous_jti FROM jwt_allauth_sessions";
    match database {
        Database::Sqlite(pool) => sqlx::query_as(QUERY).fetch_all(pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_as(QUERY).fetch_all(pool).await.unwrap(),
    }
}
