//! End to end: `jwt-allauth serve` on a free port with a temporary database, spoken to
//! with a real HTTP client; the generated key file; graceful shutdown.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Server, TestDb, failure, success};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn key_mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn smoke(db: &TestDb) {
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--password",
        "correct horse",
    ]));
    let mut server = Server::start(db, &[]).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();

    let health = client.get(server.url("/health/")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );
    let ready = client.get(server.url("/ready/")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ok", "revocation_feed": "live"})
    );

    // Wrong method and unknown path answer JSON.
    let wrong = client.post(server.url("/health/")).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong.headers().contains_key("allow"));
    assert_eq!(
        wrong.json::<Value>().await.unwrap(),
        json!({"detail": "Method \"POST\" not allowed."})
    );
    let missing = client.get(server.url("/nowhere/")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // The API is wired: log in (the peer IP is recorded), read the user.
    let login = client
        .post(server.url("/login/"))
        .json(&json!({"email": "ADA@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login.headers().get("set-cookie").is_some());
    let access = login.json::<Value>().await.unwrap()["access"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = client
        .get(server.url("/user/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<Value>().await.unwrap(),
        json!({"email": "ada@example.com", "first_name": "", "last_name": ""})
    );
    let sessions = client
        .get(server.url("/sessions/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let sessions = sessions.json::<Value>().await.unwrap();
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    let bad = client
        .post(server.url("/login/"))
        .json(&json!({"email": "ada@example.com", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);

    // The CLI sees the session the server opened.
    let listed = success(&db.run(&["sessions", "list", "--email", "ada@example.com"]));
    assert_eq!(listed.lines().count(), 1);

    // SIGTERM: graceful shutdown, exit status 0; the log never holds the secrets.
    assert!(
        server.terminate(),
        "exit status after SIGTERM: {}",
        server.log_text()
    );
    let log = server.log_text();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(
        !log.contains(&access) && !log.contains("correct horse"),
        "{log}"
    );
}

#[tokio::test]
async fn sqlite_serve_smoke() {
    smoke(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_serve_smoke() {
    if let Some(db) = TestDb::postgres("postgres_serve_smoke").await {
        smoke(&db).await;
    }
}

#[tokio::test]
async fn generated_key_file_is_private_and_reused() {
    let db = TestDb::sqlite();
    let key = db.dir.path().join("jwt-allauth.key");
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--password",
        "pw",
    ]));

    let mut server = Server::start(&db, &[]).await;
    assert_eq!(key_mode(&key), 0o600);
    let secret = std::fs::read_to_string(&key).unwrap();
    assert_eq!(secret.trim().len(), 128);
    assert!(secret.trim().chars().all(|c| c.is_ascii_hexdigit()));
    assert!(server.log_text().contains("no SECRET_KEY is configured"));
    let client = reqwest::Client::new();
    let login = client
        .post(server.url("/login/"))
        .json(&json!({"email": "ada@example.com", "password": "pw"}))
        .send()
        .await
        .unwrap();
    let access = login.json::<Value>().await.unwrap()["access"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(server.terminate());

    // The next start reuses the key: tokens minted before still verify.
    let mut server = Server::start(&db, &[]).await;
    assert_eq!(std::fs::read_to_string(&key).unwrap(), secret);
    let me = client
        .get(server.url("/whoami/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert!(server.terminate());

    // A key file others can read is refused, with one clear line.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = db.run(&[
        "serve",
        "--bind",
        &format!("127.0.0.1:{}", common::free_port()),
    ]);
    let line = failure(&output, "has permissions 0644");
    assert!(line.contains("chmod 600"), "{line}");
    assert!(!line.contains(secret.trim()));
}

#[tokio::test]
async fn configured_secret_needs_no_key_file() {
    let db = TestDb::sqlite();
    let config = db.dir.path().join("jwt-allauth.toml");
    std::fs::write(
        &config,
        "secret_key = \"a configured secret, 32 bytes or more\"\n",
    )
    .unwrap();
    let mut server = Server::start(&db, &["--config", config.to_str().unwrap()]).await;
    assert!(!db.dir.path().join("jwt-allauth.key").exists());
    assert!(!server.log_text().contains("no SECRET_KEY"));
    assert!(server.terminate());
}

#[test]
fn a_short_secret_key_is_refused() {
    let db = TestDb::sqlite();
    let output = db
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env("JWT_ALLAUTH_SECRET_KEY", "short")
        .output()
        .unwrap();
    let line = failure(&output, "SECRET_KEY is too short: 5 bytes");
    assert!(line.contains("DEVELOPMENT_MODE"), "{line}");
    assert!(!db.dir.path().join("jwt-allauth.key").exists());
}

#[tokio::test]
async fn development_mode_accepts_a_short_secret_key_with_a_warning() {
    let db = TestDb::sqlite();
    let mut server = Server::start_with_env(
        &db,
        &[],
        &[
            ("JWT_ALLAUTH_SECRET_KEY", "short"),
            ("JWT_ALLAUTH_DEVELOPMENT_MODE", "true"),
        ],
    )
    .await;
    let log = server.log_text();
    assert!(log.contains("SECRET_KEY is too short"), "{log}");
    assert!(log.contains("DEVELOPMENT_MODE"), "{log}");
    assert!(server.terminate());
}

#[test]
fn bind_failure_is_one_line() {
    let db = TestDb::sqlite();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = db.run(&["serve", "--bind", &addr]);
    // The subscriber logs the key warning on stderr too; the error is the last line.
    assert!(!output.status.success());
    let err = common::stderr(&output);
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("error: cannot listen on {addr}: ")),
        "{err}"
    );
}

/// Issue 12: with no `EMAIL_URL`, mail is written to files under `mail/` beside the
/// SQLite database, which `serve` creates, and the log says where mail goes.
#[tokio::test]
async fn mail_goes_to_files_beside_the_database_by_default() {
    let db = TestDb::sqlite();
    let mut server = Server::start(&db, &[]).await;
    let dir = db.dir.path().join("mail");
    assert!(dir.is_dir(), "{}", dir.display());
    let log = server.log_text();
    assert!(log.contains("mail is delivered from the outbox"), "{log}");
    assert!(
        log.contains(&format!("files in {}", dir.display())),
        "{log}"
    );
    assert!(server.terminate());
}

/// Issue 12: a configured SMTP server is named in the log without its password, and a
/// bad mail setting stops `serve` with one line naming it.
#[tokio::test]
async fn mail_settings_are_checked_at_start() {
    let db = TestDb::sqlite();
    let mut server = Server::start_with_env(
        &db,
        &[],
        &[(
            "JWT_ALLAUTH_EMAIL_URL",
            "smtp://mailer:Hunter2-secret@127.0.0.1:2525?tls=none",
        )],
    )
    .await;
    let log = server.log_text();
    assert!(log.contains("127.0.0.1:2525"), "{log}");
    assert!(!log.contains("Hunter2-secret"), "{log}");
    assert!(server.terminate());

    let output = db
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env(
            "JWT_ALLAUTH_EMAIL_URL",
            "smtps://mailer:Hunter2-secret@host",
        )
        .output()
        .unwrap();
    let line = failure(&output, "invalid value for EMAIL_URL");
    assert!(!line.contains("Hunter2-secret"), "{line}");

    let missing = db.dir.path().join("no-such-templates");
    let output = db
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env(
            "JWT_ALLAUTH_SECRET_KEY",
            "a configured secret, 32 bytes or more",
        )
        .env("JWT_ALLAUTH_EMAIL_TEMPLATES_DIR", &missing)
        .output()
        .unwrap();
    let line = failure(&output, &missing.display().to_string());
    assert_eq!(line.lines().count(), 1, "{line}");
}

/// SIGTERM sent the moment the port accepts a connection, before any request was
/// answered, still shuts down gracefully (exit 0, "SIGTERM received"): the server
/// listens for the signal before it binds, not when its accept loop first runs.
#[test]
fn sigterm_as_soon_as_the_port_accepts_is_graceful() {
    let db = TestDb::sqlite();
    success(&db.run(&["migrate"]));
    for _ in 0..5 {
        let port = common::free_port();
        let bind = format!("127.0.0.1:{port}");
        let log = db.dir.path().join(format!("early-{port}.log"));
        let mut child = db
            .command(&["serve", "--bind", &bind, "--database-url", &db.url])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(&bind).is_err() {
            assert!(child.try_wait().unwrap().is_none(), "exited early");
            assert!(std::time::Instant::now() < deadline, "never listened");
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let pid = child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(status.success(), "{status}: {text}");
        assert!(text.contains("SIGTERM received"), "{text}");
    }
}
