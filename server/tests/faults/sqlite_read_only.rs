//! A migrated SQLite database the server may read but not write:
//!
//! - in a directory it cannot write either (SQLite cannot create the write-ahead log and
//!   its index beside the file, so it cannot even read): `serve` and the command line
//!   refuse at once with one `error: ...` line naming the read-only database, rather than
//!   serving a database they cannot use;
//! - the file alone read-only (the directory writable): the schema is current, so
//!   `serve` starts; reads and stateless requests answer 200, requests that write (login,
//!   refresh) answer the documented 503 with a log line naming the read-only database,
//!   and the command line reads but prints one clear error line for a write.
//!
//! Permission bits do not bind root, so as root the binary runs as `nobody`.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use jwt_allauth_server::db::sqlite_file;

use crate::api::{Api, EMAIL, SECRET_KEY, create_user, server_env};
use crate::common::{Server, TestDb, failure, free_port, success};
use crate::unprivileged::{DirMode, Unprivileged};

/// How long `serve` may take to refuse a database it cannot open.
const REFUSE_WITHIN: Duration = Duration::from_secs(30);

#[test]
fn read_only_directory_refuses_at_once_with_one_clear_line() {
    let db = TestDb::sqlite();
    create_user(&db);
    let user = Unprivileged::detect(db.dir.path());
    let file = sqlite_file(&db.url).unwrap();
    set_mode(&file, 0o444);
    let _dir = DirMode::set(db.dir.path(), 0o555);

    let bind = format!("127.0.0.1:{}", free_port());
    let mut serve = user.command(
        db.dir.path(),
        &["serve", "--bind", &bind, "--database-url", &db.url],
    );
    serve.env("JWT_ALLAUTH_SECRET_KEY", SECRET_KEY);
    let line = failure(&finish_within(serve, REFUSE_WITHIN), "readonly database");
    assert!(line.contains(&db.url), "{line}");
    println!("sqlite read-only directory, serve: {line}");

    let create = second_user_create(&user, &db);
    failure(&finish_within(create, REFUSE_WITHIN), "readonly database");
    let list = user.command(
        db.dir.path(),
        &[
            "sessions",
            "list",
            "--email",
            EMAIL,
            "--database-url",
            &db.url,
        ],
    );
    failure(&finish_within(list, REFUSE_WITHIN), "readonly database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_file_serves_reads_and_answers_503_to_writes() {
    let db = TestDb::sqlite();
    create_user(&db);
    let mut writable = Server::start_with_env(&db, &[], &server_env()).await;
    let tokens = Api::new(&writable.base)
        .login()
        .await
        .unwrap()
        .tokens("login on the writable file");
    assert!(writable.terminate(), "{}", writable.log_text());
    let file = sqlite_file(&db.url).unwrap();
    let wal = file.with_extension("sqlite3-wal");
    assert!(
        !wal.exists(),
        "a clean shutdown removes the write-ahead log"
    );

    let user = Unprivileged::detect(db.dir.path());
    set_mode(&file, 0o444);
    let _dir = DirMode::set(db.dir.path(), 0o777);
    let bind = format!("127.0.0.1:{}", free_port());
    let mut command = user.command(
        db.dir.path(),
        &["serve", "--bind", &bind, "--database-url", &db.url],
    );
    command.envs(server_env());
    let log = db.dir.path().join("serve-read-only.log");
    let server = Server::spawn(command, &bind, log).await;
    let api = Api::new(&server.base);

    for path in ["/health/", "/ready/", "/whoami/", "/user/", "/sessions/"] {
        api.get(path, Some(&tokens.access)).await.unwrap().ok(path);
    }
    api.login()
        .await
        .unwrap()
        .assert_unavailable("/login/ on a read-only file");
    api.refresh(&tokens.refresh)
        .await
        .unwrap()
        .assert_unavailable("/refresh/ on a read-only file");
    let log = server.log_text();
    assert!(log.contains("database unavailable"), "{log}");
    assert!(log.contains("readonly database"), "{log}");

    let create = second_user_create(&user, &db);
    let line = failure(&finish_within(create, REFUSE_WITHIN), "readonly database");
    println!("sqlite read-only file, user create: {line}");
    let list = user.command(
        db.dir.path(),
        &[
            "sessions",
            "list",
            "--email",
            EMAIL,
            "--database-url",
            &db.url,
        ],
    );
    let sessions = success(&finish_within(list, REFUSE_WITHIN));
    assert_eq!(sessions.lines().count(), 1, "{sessions}");
}

/// `jwt-allauth user create` of a second user on `db`, run as `user`.
fn second_user_create(user: &Unprivileged, db: &TestDb) -> Command {
    user.command(
        db.dir.path(),
        &[
            "user",
            "create",
            "--email",
            "second@example.com",
            "--password",
            "pw",
            "--database-url",
            &db.url,
        ],
    )
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `command` to its end, failing the test if it is still running after `within`
/// (for `serve`: it served a database it cannot use).
fn finish_within(mut command: Command, within: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{command:?} still ran after {within:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
