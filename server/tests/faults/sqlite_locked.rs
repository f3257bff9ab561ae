//! Another program holds the SQLite file's write lock (`BEGIN EXCLUSIVE`) while the
//! server serves: requests that write answer the documented 503 once the busy timeout
//! (5 s) has passed, reads and stateless requests keep answering 200 meanwhile (WAL
//! readers never wait for the writer), the command line prints one clear error line,
//! and everything works again as soon as the lock is released, without a restart.

use std::time::Duration;

use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Executor};

use crate::api::{Api, EMAIL, create_user, server_env};
use crate::common::{Server, TestDb, failure, success};

/// The SQLite busy timeout (`BUSY_TIMEOUT` of the SQLite store): how long a writer waits
/// for the lock. Reads must answer well before it.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_answer_503_while_another_program_holds_the_lock() {
    let db = TestDb::sqlite();
    create_user(&db);
    let server = Server::start_with_env(&db, &[], &server_env()).await;
    let api = Api::new(&server.base);
    let tokens = api.login().await.unwrap().tokens("login before the lock");

    let mut holder = SqliteConnection::connect(&db.url).await.unwrap();
    holder.execute("BEGIN EXCLUSIVE").await.unwrap();

    let cli_db_dir = db.dir.path().to_owned();
    let cli_url = db.url.clone();
    let cli = tokio::task::spawn_blocking(move || {
        crate::common::command_in(
            &cli_db_dir,
            &[
                "user",
                "create",
                "--email",
                "second@example.com",
                "--password",
                "pw",
                "--database-url",
                &cli_url,
            ],
        )
        .output()
        .unwrap()
    });
    let (refresh, login, reads) = tokio::join!(api.refresh(&tokens.refresh), api.login(), async {
        let mut answers = Vec::new();
        for path in ["/user/", "/sessions/", "/ready/", "/whoami/", "/health/"] {
            answers.push((path, api.get(path, Some(&tokens.access)).await.unwrap()));
        }
        answers
    });
    for (path, answer) in reads {
        answer.ok(path);
        assert!(
            answer.elapsed < BUSY_TIMEOUT,
            "{path} waited {:?} for the lock",
            answer.elapsed
        );
    }
    refresh
        .unwrap()
        .assert_unavailable("/refresh/ with the file locked");
    login
        .unwrap()
        .assert_unavailable("/login/ with the file locked");
    let line = failure(&cli.await.unwrap(), "database is locked");
    println!("sqlite locked, command line: {line}");

    holder.execute("ROLLBACK").await.unwrap();
    // The refresh that got a 503 rotated nothing: its token is still the current one.
    let after = api
        .refresh(&tokens.refresh)
        .await
        .unwrap()
        .tokens("refresh after the lock");
    api.login().await.unwrap().tokens("login after the lock");
    api.get("/user/", Some(&after.access))
        .await
        .unwrap()
        .ok("/user/ after the lock");
    success(&db.run(&["sessions", "list", "--email", EMAIL]));
    let log = server.log_text();
    assert!(log.contains("database unavailable"), "{log}");
    assert!(log.contains("database is locked"), "{log}");
    let _ = holder.close().await;
}
