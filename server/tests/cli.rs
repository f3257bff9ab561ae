//! The `jwt-allauth` command line, run as a process on a fresh database per test: SQLite
//! always, PostgreSQL when `JWT_ALLAUTH_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestDb, failure, success};
use jwt_allauth::{Algorithm, DeviceInfo, KeyRing, SessionManager, Settings, User};
use jwt_allauth_server::db::Database;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::users::{ServerUser, Users};
use serde_json::json;
use time::OffsetDateTime;

fn users(db: &Database) -> Users {
    Users::new(db.clone(), Passwords::with_permits(2))
}

async fn find(db: &Database, email: &str) -> Option<ServerUser> {
    users(db).find_by_email(email).await.unwrap()
}

// ---- flows shared by both backends -----------------------------------------------------

async fn migrate_flow(db: &TestDb) {
    assert_eq!(success(&db.run(&["migrate"])), "");
    // Idempotent.
    success(&db.run(&["migrate"]));
    let pool = db.connect().await;
    assert!(find(&pool, "nobody@example.com").await.is_none());
    pool.close().await;
}

async fn user_flow(db: &TestDb) {
    let out = success(&db.run(&[
        "user",
        "create",
        "--email",
        "Ada@Example.com",
        "--password",
        "s3cret-pw",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--staff",
        "--profile",
        r#"{"organization": {"id": 7}}"#,
    ]));
    assert_eq!(out.trim(), "created user 1 Ada@Example.com");

    // Unique regardless of case; the password never shows.
    let duplicate = db.run(&[
        "user",
        "create",
        "--email",
        "ada@EXAMPLE.com",
        "--password",
        "other-pw",
    ]);
    let line = failure(
        &duplicate,
        "a user with e-mail ada@EXAMPLE.com already exists",
    );
    assert!(!line.contains("other-pw"));
    assert!(!common::stdout(&duplicate).contains("other-pw"));

    // Every flag.
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "bob@example.com",
        "--password",
        "pw",
        "--role",
        "42",
        "--superuser",
        "--inactive",
        "--unverified",
    ]));

    let pool = db.connect().await;
    let ada = find(&pool, "ADA@example.com").await.unwrap();
    assert_eq!(
        (ada.first_name.as_str(), ada.last_name.as_str()),
        ("Ada", "Lovelace")
    );
    assert!(ada.is_staff && !ada.is_superuser && ada.is_active && ada.email_verified);
    assert_eq!((ada.role, User::role(&ada)), (None, 1000));
    assert_eq!(ada.to_json()["profile"], json!({"organization": {"id": 7}}));
    assert!(
        users(&pool)
            .authenticate("ada@example.com", "s3cret-pw")
            .await
            .unwrap()
            .is_some()
    );

    let bob = find(&pool, "bob@example.com").await.unwrap();
    assert_eq!((bob.role, User::role(&bob)), (Some(42), 42));
    assert!(bob.is_superuser && !bob.is_active && !bob.email_verified && !bob.is_staff);
    assert!(bob.profile.is_empty());

    // set-role, deactivate, activate, set-profile.
    assert_eq!(
        success(&db.run(&[
            "user",
            "set-role",
            "--email",
            "ada@example.com",
            "--role",
            "7"
        ]))
        .trim(),
        "role of Ada@Example.com set to 7"
    );
    assert_eq!(find(&pool, "ada@example.com").await.unwrap().role, Some(7));

    success(&db.run(&["user", "activate", "--email", "BOB@example.com"]));
    assert!(find(&pool, "bob@example.com").await.unwrap().is_active);

    // verify (issue 12): as the mailed link would.
    let bob = find(&pool, "bob@example.com").await.unwrap();
    users(&pool)
        .set_email_verified(bob.id, false, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(!find(&pool, "bob@example.com").await.unwrap().email_verified);
    let out = success(&db.run(&["user", "verify", "--email", "Bob@Example.com"]));
    assert_eq!(out.trim(), "verified bob@example.com");
    assert!(find(&pool, "bob@example.com").await.unwrap().email_verified);
    let out = success(&db.run(&["user", "deactivate", "--email", "bob@example.com"]));
    assert!(out.starts_with("deactivated bob@example.com"), "{out}");
    assert!(!find(&pool, "bob@example.com").await.unwrap().is_active);

    success(&db.run(&[
        "user",
        "set-profile",
        "--email",
        "ada@example.com",
        "--profile",
        r#"{"tier": "gold"}"#,
    ]));
    assert_eq!(
        find(&pool, "ada@example.com").await.unwrap().to_json()["profile"],
        json!({"tier": "gold"})
    );

    // Unknown user, bad JSON, a profile that is not an object.
    for args in [
        &[
            "user",
            "set-role",
            "--email",
            "nobody@example.com",
            "--role",
            "1",
        ][..],
        &["user", "activate", "--email", "nobody@example.com"],
        &["user", "deactivate", "--email", "nobody@example.com"],
        &[
            "user",
            "set-profile",
            "--email",
            "nobody@example.com",
            "--profile",
            "{}",
        ],
        &["sessions", "list", "--email", "nobody@example.com"],
        &["sessions", "revoke-all", "--email", "nobody@example.com"],
    ] {
        assert_eq!(
            failure(&db.run(args), "no user with e-mail nobody@example.com"),
            "error: no user with e-mail nobody@example.com"
        );
    }
    failure(
        &db.run(&[
            "user",
            "set-profile",
            "--email",
            "ada@example.com",
            "--profile",
            "{not json",
        ]),
        "error: --profile is not valid JSON: ",
    );
    failure(
        &db.run(&[
            "user",
            "create",
            "--email",
            "carol@example.com",
            "--password",
            "pw",
            "--profile",
            "[1,",
        ]),
        "--profile is not valid JSON",
    );
    assert!(find(&pool, "carol@example.com").await.is_none());
    failure(
        &db.run(&[
            "user",
            "set-profile",
            "--email",
            "ada@example.com",
            "--profile",
            "[1]",
        ]),
        "--profile must be a JSON object",
    );
    failure(
        &db.run(&[
            "user",
            "create",
            "--email",
            "not-an-address",
            "--password",
            "pw",
        ]),
        "invalid e-mail address",
    );
    failure(
        &db.run(&[
            "user",
            "create",
            "--email",
            "dan@example.com",
            "--password",
            "",
        ]),
        "the password must not be empty",
    );

    // The event log (events.md): one event per account change that happened; the
    // refused commands, the activation and the un-verification by the API wrote none.
    let listed = success(&db.run(&["events", "list"]));
    let kinds: Vec<(String, String)> = listed
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                event["type"].as_str().unwrap().to_owned(),
                event["user_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let (ada, bob) = (ada.id.to_string(), bob.id.to_string());
    assert_eq!(
        kinds,
        [
            ("user.registered".to_owned(), ada),
            ("user.registered".to_owned(), bob.clone()),
            ("user.email_verified".to_owned(), bob.clone()),
            ("user.deactivated".to_owned(), bob),
        ],
        "{listed}"
    );
    pool.close().await;
}

async fn sessions_flow(db: &TestDb) {
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--password",
        "pw",
    ]));
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "bob@example.com",
        "--password",
        "pw",
    ]));
    let pool = db.connect().await;
    let users = users(&pool);
    let keys = KeyRing::hmac(Algorithm::HS256, b"a test secret of enough length, 32+").unwrap();
    let manager = SessionManager::new(
        Settings::default(),
        keys,
        pool.session_store(),
        users.clone(),
    );
    let ada = users
        .find_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    let bob = users
        .find_by_email("bob@example.com")
        .await
        .unwrap()
        .unwrap();
    let device = DeviceInfo {
        ip: Some("203.0.113.9".into()),
        browser: Some("Firefox".into()),
        browser_version: Some("128.0".into()),
        os: Some("Linux".into()),
        ..DeviceInfo::default()
    };
    let now = OffsetDateTime::now_utc();
    let first = manager.open_session(&ada, &device, now).await.unwrap();
    let second = manager
        .open_session(&ada, &DeviceInfo::default(), now)
        .await
        .unwrap();
    manager.open_session(&bob, &device, now).await.unwrap();
    // Expired long ago: refresh lifetime is 14 days.
    manager
        .open_session(&bob, &device, now - time::Duration::days(30))
        .await
        .unwrap();
    let first_id = first.refresh.claims().session.clone().unwrap();
    let second_id = second.refresh.claims().session.clone().unwrap();

    let listed = success(&db.run(&["sessions", "list", "--email", "ADA@example.com"]));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    let line = lines
        .iter()
        .find(|line| line.starts_with(&first_id))
        .unwrap();
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields.len(), 8, "{line}");
    assert_eq!(&fields[4..], ["203.0.113.9", "Firefox 128.0", "Linux", "-"]);

    let json_lines =
        success(&db.run(&["sessions", "list", "--email", "ada@example.com", "--json"]));
    let objects: Vec<serde_json::Value> = json_lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(objects.len(), 2);
    assert!(
        objects
            .iter()
            .any(|o| o["session"] == first_id.as_str() && o["ip"] == "203.0.113.9")
    );
    assert!(
        objects
            .iter()
            .all(|o| o.get("jti").is_none() && o.get("refresh_claims").is_none())
    );

    // revoke one, then an unknown one.
    assert_eq!(
        success(&db.run(&["sessions", "revoke", "--session", &first_id])).trim(),
        format!("ended session {first_id}")
    );
    failure(
        &db.run(&["sessions", "revoke", "--session", &first_id]),
        "no session with id",
    );
    let listed = success(&db.run(&["sessions", "list", "--email", "ada@example.com"]));
    assert!(
        listed.starts_with(&second_id) && listed.lines().count() == 1,
        "{listed}"
    );

    // purge: one expired session of bob's.
    assert_eq!(
        success(&db.run(&["purge", "--dry-run"])).trim(),
        "would delete 1 expired session(s) and 0 expired purpose token(s)\nwould delete 0 event(s) older than EVENT_RETENTION\n0 mail(s) waiting in the outbox (delivered mail is deleted at delivery)"
    );
    assert_eq!(
        success(&db.run(&["purge"])).trim(),
        "deleted 1 expired session(s) and 0 expired purpose token(s)\ndeleted 0 event(s) older than EVENT_RETENTION\n0 mail(s) waiting in the outbox (delivered mail is deleted at delivery)"
    );
    assert_eq!(
        success(&db.run(&["purge", "--dry-run"])).trim(),
        "would delete 0 expired session(s) and 0 expired purpose token(s)\nwould delete 0 event(s) older than EVENT_RETENTION\n0 mail(s) waiting in the outbox (delivered mail is deleted at delivery)"
    );

    // revoke-all ends ada's remaining session, not bob's.
    assert_eq!(
        success(&db.run(&["sessions", "revoke-all", "--email", "ada@example.com"])).trim(),
        "ended 1 session(s) of ada@example.com"
    );
    assert_eq!(
        success(&db.run(&["sessions", "list", "--email", "ada@example.com"])),
        ""
    );
    assert_eq!(
        success(&db.run(&["sessions", "list", "--email", "bob@example.com"]))
            .lines()
            .count(),
        1
    );

    // deactivate ends bob's sessions at once.
    let out = success(&db.run(&["user", "deactivate", "--email", "bob@example.com"]));
    assert!(out.contains("ended 1 session(s)"), "{out}");
    assert_eq!(
        success(&db.run(&["sessions", "list", "--email", "bob@example.com"])),
        ""
    );

    // delete removes ada with her sessions and purpose tokens; her tokens die with them.
    let session = manager.open_session(&ada, &device, now).await.unwrap();
    manager
        .make_purpose_token(&ada.id.to_string(), "password_reset", &device, now)
        .await
        .unwrap();
    let out = success(&db.run(&["user", "delete", "--email", "Ada@example.com"]));
    assert_eq!(
        out.trim(),
        "deleted ada@example.com; ended 1 session(s) and 1 purpose token(s)"
    );
    assert!(
        users
            .find_by_email("ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let refused = manager
        .rotate(session.refresh.as_str(), &device, OffsetDateTime::now_utc())
        .await;
    assert!(
        matches!(refused, Ok(jwt_allauth::RotationOutcome::UserInactive)),
        "{refused:?}"
    );
    assert_eq!(
        failure(
            &db.run(&["user", "delete", "--email", "ada@example.com"]),
            "no user with e-mail ada@example.com"
        ),
        "error: no user with e-mail ada@example.com"
    );

    // The account's end is in the event log, before the sessions it ended.
    let listed = success(&db.run(&["events", "list"]));
    let tail: Vec<String> = listed
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            match event["reason"].as_str() {
                Some(reason) => format!("{} {reason}", event["type"].as_str().unwrap()),
                None => event["type"].as_str().unwrap().to_owned(),
            }
        })
        .skip_while(|kind| kind != "user.deactivated")
        .collect();
    assert_eq!(
        tail,
        [
            "user.deactivated",
            "session.revoked deactivated",
            "session.created",
            "user.deleted",
            "session.revoked deleted",
        ],
        "{listed}"
    );

    // The one-shot commands never create the signing key file (it would be in the
    // working directory, beside the SQLite file, for both backends here).
    assert!(!db.dir.path().join("jwt-allauth.key").exists());
    pool.close().await;
}

// ---- SQLite ---------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_migrate() {
    let db = TestDb::sqlite();
    migrate_flow(&db).await;
    assert!(db.dir.path().join("auth.sqlite3").exists());
}

#[tokio::test]
async fn sqlite_users() {
    user_flow(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn sqlite_sessions_and_purge() {
    sessions_flow(&TestDb::sqlite()).await;
}

#[test]
fn default_database_is_created_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::command_in(dir.path(), &["migrate"])
        .output()
        .unwrap();
    success(&output);
    assert!(dir.path().join("jwt-allauth.sqlite3").exists());
}

#[test]
fn database_url_from_the_config_file_and_flag_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("jwt-allauth.toml");
    std::fs::write(&config, "database_url = \"sqlite://from-config.sqlite3\"\n").unwrap();
    let config = config.to_str().unwrap();
    success(
        &common::command_in(dir.path(), &["migrate", "--config", config])
            .output()
            .unwrap(),
    );
    assert!(dir.path().join("from-config.sqlite3").exists());
    // The environment overrides the file, the flag overrides both.
    let output = common::command_in(dir.path(), &["migrate", "--config", config])
        .env("JWT_ALLAUTH_DATABASE_URL", "sqlite://from-env.sqlite3")
        .output()
        .unwrap();
    success(&output);
    assert!(dir.path().join("from-env.sqlite3").exists());
    let output = common::command_in(
        dir.path(),
        &[
            "--config",
            config,
            "migrate",
            "--database-url",
            "sqlite://from-flag.sqlite3",
        ],
    )
    .env("JWT_ALLAUTH_DATABASE_URL", "sqlite://from-env-2.sqlite3")
    .output()
    .unwrap();
    success(&output);
    assert!(dir.path().join("from-flag.sqlite3").exists());
    assert!(!dir.path().join("from-env-2.sqlite3").exists());
}

#[test]
fn invalid_settings_are_one_line_errors_naming_the_setting() {
    let db = TestDb::sqlite();
    let config = db.dir.path().join("bad.toml");
    std::fs::write(&config, "access_token_lifetime = \"forever\"\n").unwrap();
    failure(
        &db.run(&["migrate", "--config", config.to_str().unwrap()]),
        "ACCESS_TOKEN_LIFETIME",
    );
    failure(
        &db.run(&[
            "migrate",
            "--config",
            db.dir.path().join("missing.toml").to_str().unwrap(),
        ]),
        "cannot read the configuration file",
    );
    let output = db
        .command(&["migrate", "--database-url", &db.url])
        .env("JWT_ALLAUTH_LEEWAY", "soon")
        .output()
        .unwrap();
    failure(&output, "LEEWAY");
    failure(
        &db.command(&["migrate", "--database-url", "mysql://localhost/db"])
            .output()
            .unwrap(),
        "unsupported database URL",
    );
}

#[test]
fn unreachable_database_fails_fast_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["migrate"][..],
        &[
            "user",
            "create",
            "--email",
            "a@example.com",
            "--password",
            "hunter2",
        ],
        &["sessions", "list", "--email", "a@example.com"],
        &["purge", "--dry-run"],
    ] {
        let started = Instant::now();
        let output = common::command_in(dir.path(), args)
            .args([
                "--database-url",
                "postgres://postgres:pw-secret@127.0.0.1:1/none",
            ])
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        let line = failure(
            &output,
            "error: cannot connect to the database at postgres://postgres:***@127.0.0.1:1/none: ",
        );
        assert!(
            !line.contains("pw-secret") && !line.contains("hunter2"),
            "{line}"
        );
        assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    }
    let output = common::command_in(
        dir.path(),
        &[
            "migrate",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/none",
        ],
    )
    .output()
    .unwrap();
    failure(
        &output,
        "error: cannot connect to the database at postgres://postgres@127.0.0.1:1/none: ",
    );
}

#[test]
fn usage_errors_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::command_in(dir.path(), &["user", "create", "--email", "a@b.c"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(common::stderr(&output).contains("--password"));
    let output = common::command_in(
        dir.path(),
        &["user", "set-role", "--email", "a@b.c", "--role", "x"],
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
}

// ---- PostgreSQL -----------------------------------------------------------------------

#[tokio::test]
async fn postgres_migrate() {
    if let Some(db) = TestDb::postgres("postgres_migrate").await {
        migrate_flow(&db).await;
    }
}

#[tokio::test]
async fn postgres_users() {
    if let Some(db) = TestDb::postgres("postgres_users").await {
        user_flow(&db).await;
    }
}

#[tokio::test]
async fn postgres_sessions_and_purge() {
    if let Some(db) = TestDb::postgres("postgres_sessions_and_purge").await {
        sessions_flow(&db).await;
    }
}

/// `events list --follow` prints an event whose transaction commits after one with a
/// higher sequence number was printed (PostgreSQL hands out `seq` at insert, and commits
/// in any order): it waits below the gap rather than skip it, and prints each event once.
#[tokio::test]
async fn postgres_events_follow_waits_for_a_late_commit() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;

    let Some(db) = TestDb::postgres("postgres_events_follow_waits_for_a_late_commit").await else {
        return;
    };
    success(&db.run(&["migrate"]));
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let insert = |id: &'static str| {
        sqlx::query(
            "INSERT INTO jwt_allauth_events (id, type, time, user_id) \
             VALUES ($1, 'user.registered', now(), '1')",
        )
        .bind(id)
    };

    let mut follow = db.command(&["events", "list", "--follow"]);
    follow
        .args(["--database-url", &db.url])
        .stdout(Stdio::piped());
    let mut child = follow.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, printed) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let next_id = |printed: &mpsc::Receiver<String>| -> String {
        let line = printed
            .recv_timeout(Duration::from_secs(15))
            .expect("events list --follow printed the event");
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        event["id"].as_str().unwrap().to_owned()
    };

    // `evt_early` takes its number first, `evt_late` commits first.
    let mut early = pool.begin().await.unwrap();
    insert("evt_early").execute(&mut *early).await.unwrap();
    insert("evt_late").execute(&pool).await.unwrap();
    assert_eq!(next_id(&printed), "evt_late");
    early.commit().await.unwrap();
    assert_eq!(
        next_id(&printed),
        "evt_early",
        "the lower number, committed late"
    );

    // Nothing twice: the next line is the next event.
    insert("evt_next").execute(&pool).await.unwrap();
    assert_eq!(next_id(&printed), "evt_next");
    child.kill().unwrap();
    child.wait().unwrap();
    pool.close().await;
}
