//! Issue 16: `jwt-allauth import django` against a database written by django-jwt-allauth
//! 1.5 itself (`tests/django_fixture/`: its migrations, Django's hashers, the library's
//! own `RefreshToken`; see `generate.py` there), from SQLite and PostgreSQL sources into
//! SQLite and PostgreSQL targets, through the built binary and a served instance.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::str::FromStr;

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, Response, StatusCode, redirect};
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row};

use common::{Server, TestDb, stdout, success};

const SQLITE_FIXTURE: &str = include_str!("django_fixture/source.sqlite.sql");
const POSTGRES_FIXTURE: &str = include_str!("django_fixture/source.postgres.sql");
const FACTS: &str = include_str!("django_fixture/facts.json");

/// The fixture's tokens live 100 years (the generator's settings): the import must give
/// the sessions the same lifetime, as the guide says (REFRESH_TOKEN_LIFETIME = Django's),
/// and the reset link too.
const LIFETIMES: [(&str, &str); 2] = [
    ("JWT_ALLAUTH_REFRESH_TOKEN_LIFETIME", "36500d"),
    (
        "JWT_ALLAUTH_PURPOSE_TOKEN_LIFETIMES",
        r#"{"password_reset": "36500d"}"#,
    ),
];

/// The summary of the first import of the fixture (every source and target).
const FIRST_SUMMARY: &[&str] = &[
    "users: 5 imported, 0 already present, 3 skipped (4 with a verified address)",
    "sessions: 5 imported, 0 already present, 2 skipped",
    "password reset links: 1 imported, 0 already present, 1 skipped",
];

/// A test run with a SQLite target and, when PostgreSQL is available, a PostgreSQL one.
macro_rules! on_both_targets {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(&super::TestDb::sqlite()).await;
            }

            #[tokio::test]
            async fn postgres() {
                let test = concat!(stringify!($name), "::postgres");
                if let Some(db) = super::TestDb::postgres(test).await {
                    super::$name(&db).await;
                }
            }
        }
    };
}

fn facts() -> Value {
    serde_json::from_str(FACTS).unwrap()
}

fn fact(path: &str) -> String {
    let facts = facts();
    let mut value = &facts;
    for key in path.split('.') {
        value = &value[key];
    }
    value
        .as_str()
        .unwrap_or_else(|| panic!("{path}"))
        .to_owned()
}

/// The Django database as a fresh SQLite file in `dir`: its URL.
async fn sqlite_source(dir: &Path) -> String {
    let path = dir.join("django.sqlite3");
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .unwrap()
        .create_if_missing(true)
        // `.dump` writes tables in name order, before the tables they reference.
        .foreign_keys(false);
    let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::raw_sql(SQLITE_FIXTURE)
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    format!("sqlite://{}", path.display())
}

/// The Django database in a fresh PostgreSQL database (`None` without PostgreSQL).
async fn postgres_source(test: &str) -> Option<TestDb> {
    let db = TestDb::postgres(test).await?;
    let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(POSTGRES_FIXTURE)
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    Some(db)
}

/// `jwt-allauth import django --from SOURCE [EXTRA] --database-url TARGET`.
fn import(target: &TestDb, source: &str, extra: &[&str]) -> std::process::Output {
    let mut command = target.command(&["import", "django", "--from", source]);
    command
        .args(extra)
        .args(["--database-url", &target.url])
        .envs(LIFETIMES);
    command.output().unwrap()
}

/// Every row of the tables the import writes, as text, in a stable order.
async fn snapshot(target: &TestDb) -> Vec<String> {
    let db = target.connect().await;
    let statements = [
        "SELECT id, email, email_lower, password_hash, first_name, last_name, role, is_active, \
         is_staff, is_superuser, email_verified, CAST(profile AS TEXT), last_login \
         FROM jwt_allauth_users ORDER BY id",
        "SELECT session, user_id, jti, previous_jti, refresh_claims, enabled, created, \
         last_used, expires_at, ip, browser, os, device_brand, is_mobile \
         FROM jwt_allauth_sessions ORDER BY session",
        "SELECT purpose, user_id, created, expires_at FROM jwt_allauth_purpose_tokens \
         ORDER BY user_id, purpose",
        "SELECT type, user_id FROM jwt_allauth_events ORDER BY seq",
    ];
    let mut rows = Vec::new();
    for statement in statements {
        match &db {
            jwt_allauth_server::db::Database::Sqlite(pool) => {
                for row in sqlx::query(statement).fetch_all(pool).await.unwrap() {
                    rows.push(sqlite_row_text(&row));
                }
            }
            jwt_allauth_server::db::Database::Postgres(pool) => {
                let text = format!("SELECT CAST(ROW(t.*) AS TEXT) FROM ({statement}) t");
                for row in sqlx::query(AssertSqlSafe(text))
                    .fetch_all(pool)
                    .await
                    .unwrap()
                {
                    rows.push(row.get::<String, _>(0));
                }
            }
        }
    }
    db.close().await;
    rows
}

fn sqlite_row_text(row: &sqlx::sqlite::SqliteRow) -> String {
    use sqlx::ValueRef;
    let mut fields = Vec::new();
    for index in 0..row.len() {
        let raw = row.try_get_raw(index).unwrap();
        fields.push(if raw.is_null() {
            "NULL".to_owned()
        } else if let Ok(number) = row.try_get::<i64, _>(index) {
            number.to_string()
        } else {
            row.try_get::<String, _>(index).unwrap()
        });
    }
    fields.join("|")
}

/// One user's stored password hash.
async fn password_hash(target: &TestDb, email: &str) -> String {
    const HASH: &str = "SELECT password_hash FROM jwt_allauth_users WHERE email_lower = $1";
    let key = email.to_lowercase();
    let db = target.connect().await;
    let hash = match &db {
        jwt_allauth_server::db::Database::Sqlite(pool) => {
            sqlx::query_scalar(HASH).bind(&key).fetch_one(pool).await
        }
        jwt_allauth_server::db::Database::Postgres(pool) => {
            sqlx::query_scalar(HASH).bind(&key).fetch_one(pool).await
        }
    };
    db.close().await;
    hash.unwrap()
}

async fn serve(target: &TestDb) -> Server {
    Server::start_with_env(
        target,
        &[],
        &[
            ("JWT_ALLAUTH_SECRET_KEY", &fact("secret_key")),
            ("JWT_ALLAUTH_COOKIE_SECURE", "false"),
            LIFETIMES[0],
            LIFETIMES[1],
        ],
    )
    .await
}

async fn login(server: &Server, email: &str, password: &str) -> Response {
    Client::new()
        .post(server.url("/login/"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn refresh(server: &Server, token: &str) -> Response {
    Client::new()
        .post(server.url("/refresh/"))
        .header(COOKIE, format!("refresh_token={token}"))
        .send()
        .await
        .unwrap()
}

/// The new refresh token a response sets in its cookie.
fn refresh_cookie(response: &Response) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .find_map(|value| {
            let value = value.to_str().unwrap();
            value
                .strip_prefix("refresh_token=")
                .map(|rest| rest.split(';').next().unwrap().to_owned())
        })
        .expect("a refresh cookie")
}

async fn body(response: Response) -> Value {
    response.json().await.unwrap()
}

/// The whole story on one source and one target.
async fn import_and_switch(source: &str, target: &TestDb) {
    success(&target.run(&["migrate"]));
    let empty = snapshot(target).await;

    // A dry run reports what an import would do, and writes nothing.
    let dry = success(&import(target, source, &["--dry-run"]));
    assert!(dry.starts_with("dry run: nothing was written"), "{dry}");
    for line in FIRST_SUMMARY {
        assert!(dry.contains(line), "{line:?} in {dry}");
    }
    assert_eq!(snapshot(target).await, empty, "the dry run wrote nothing");

    // The import: the summary, with each skipped row and why.
    let output = import(target, source, &["--batch-size", "3"]);
    let first = success(&output);
    assert_eq!(
        common::stderr(&output),
        "",
        "no progress bar when stderr is not a terminal, and no log line"
    );
    for line in FIRST_SUMMARY {
        assert!(first.contains(line), "{line:?} in {first}");
    }
    let broken_session = skipped_line(&first, "session row");
    for expected in [
        "skipped user 6 <ALICE@example.com>: the address is user 1's, regardless of case",
        "skipped user 7: no e-mail address",
        "skipped user 8 <eve@example.com>: malformed pbkdf2_sha256 password hash (with its 1 session(s))",
        "of user 1: malformed session id (not 32 lowercase hex digits)",
        "(INVITATION) of user 3: no equivalent purpose on this server",
    ] {
        assert!(first.contains(expected), "{expected:?} in {first}");
    }
    assert!(broken_session.contains("of user 1"), "{broken_session}");
    let imported = snapshot(target).await;
    assert!(
        !imported
            .iter()
            .any(|row| row.contains("eve@example.com") || row.contains("|8|")),
        "nothing of the corrupt user: {imported:#?}"
    );

    // A second run changes nothing.
    let second = success(&import(target, source, &[]));
    for line in [
        "users: 0 imported, 5 already present, 3 skipped",
        "sessions: 0 imported, 5 already present, 2 skipped",
        "password reset links: 0 imported, 1 already present, 1 skipped",
    ] {
        assert!(second.contains(line), "{line:?} in {second}");
    }
    assert_eq!(
        snapshot(target).await,
        imported,
        "the second run changed nothing"
    );

    let server = serve(target).await;
    let tokens = facts()["tokens"].clone();
    let token = |name: &str| tokens[name].as_str().unwrap().to_owned();

    // An access token minted by Django before the switch verifies.
    let me = Client::new()
        .get(server.url("/user/"))
        .bearer_auth(token("alice_laptop_access"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        body(me).await,
        json!({"email": "alice@example.com", "first_name": "Alice", "last_name": "Liddell"})
    );

    // The refresh token in alice's laptop cookie rotates; presenting it again is a replay
    // that ends the session, successor included.
    let rotated = refresh(&server, &token("alice_laptop_refresh")).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let successor = refresh_cookie(&rotated);
    let access = body(rotated).await["access"].as_str().unwrap().to_owned();
    let sessions = Client::new()
        .get(server.url("/sessions/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let sessions = body(sessions).await;
    let laptop = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == json!(true))
        .unwrap()
        .clone();
    assert_eq!(laptop["session"], json!(token("alice_laptop_session")));
    assert_eq!(
        sessions.as_array().unwrap().len(),
        2,
        "laptop and phone: {sessions}"
    );
    let phone = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["session"] == json!(token("alice_phone_session")))
        .unwrap();
    assert_eq!(
        (
            &phone["ip"],
            &phone["os"],
            &phone["device_brand"],
            &phone["is_mobile"]
        ),
        (
            &json!("198.51.100.23"),
            &json!("iOS"),
            &json!("Apple"),
            &json!(true)
        ),
        "the device metadata came over: {phone}"
    );
    let replay = refresh(&server, &token("alice_laptop_refresh")).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(replay).await["code"], json!("token_not_valid"));
    assert_eq!(
        refresh(&server, &successor).await.status(),
        StatusCode::UNAUTHORIZED,
        "the replay ended the session"
    );
    // Her phone's session is untouched and rotates.
    assert_eq!(
        refresh(&server, &token("alice_phone_refresh"))
            .await
            .status(),
        StatusCode::OK
    );

    // A token that Django had rotated before the switch is a replay here too.
    let old = refresh(&server, &token("bob_rotated_in_django")).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&server, &token("bob_refresh")).await.status(),
        StatusCode::UNAUTHORIZED,
        "the replay of a pre-switch token ended bob's session"
    );

    // carol's session waits for her address, as it did in Django.
    let waiting = refresh(&server, &token("carol_refresh")).await;
    assert_eq!(waiting.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(waiting).await["code"], json!("email_not_verified"));

    // Old passwords log in (pbkdf2_sha256, argon2, bcrypt_sha256), and the stored hash
    // becomes argon2id at the first success, not before.
    assert_eq!(
        login(&server, "alice@example.com", "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(
        password_hash(target, "alice@example.com")
            .await
            .starts_with("pbkdf2_sha256$")
    );
    // carol's address is unverified: her right password is answered as in Django
    // (mandatory verification), not as a wrong one.
    for (user, prefix, answer) in [
        ("alice", "pbkdf2_sha256$", None),
        ("bob", "argon2$argon2id$", None),
        ("carol", "bcrypt_sha256$", Some("email_not_verified")),
    ] {
        let email = fact(&format!("users.{user}.email"));
        let password = fact(&format!("users.{user}.password"));
        assert!(
            password_hash(target, &email).await.starts_with(prefix),
            "{user}"
        );
        let mut hashes = Vec::new();
        for attempt in ["first", "second"] {
            let response = login(&server, &email, &password).await;
            match answer {
                None => assert_eq!(response.status(), StatusCode::OK, "{user}: {attempt}"),
                Some(code) => {
                    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{user}");
                    assert_eq!(body(response).await["code"], json!(code), "{user}");
                }
            }
            let rehashed = password_hash(target, &email).await;
            assert!(
                rehashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
                "{user}: re-hashed at the first success"
            );
            hashes.push(rehashed);
        }
        assert_eq!(hashes[0], hashes[1], "{user}: hashed once, then left alone");
    }
    // The inactive staff member and the social account cannot log in with a password.
    let dave = login(&server, "dave@example.com", &fact("users.dave.password")).await;
    assert_eq!(dave.status(), StatusCode::UNAUTHORIZED);
    for password in ["!unusable", "unusable"] {
        let frank = login(&server, "frank@example.com", password).await;
        assert_eq!(frank.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body(frank).await["code"], json!("incorrect_credentials"));
    }
    assert_eq!(
        password_hash(target, "frank@example.com").await,
        "!unusable"
    );

    // bob's pending reset link works here.
    let link = format!(
        "/password/reset/confirm/{}/{}/",
        token("bob_password_reset_uidb64"),
        token("bob_password_reset")
    );
    let no_redirects = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let opened = no_redirects.get(server.url(&link)).send().await.unwrap();
    assert!(
        opened
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|cookie| cookie
                .to_str()
                .unwrap()
                .starts_with("password_reset_access_token=")),
        "a live link: {:?}",
        opened.headers()
    );
    drop(server);
}

/// The line reporting a skipped `kind` row.
fn skipped_line(summary: &str, kind: &str) -> String {
    summary
        .lines()
        .find(|line| line.starts_with(&format!("skipped {kind}")))
        .unwrap_or_else(|| panic!("no skipped {kind} in {summary}"))
        .to_owned()
}

#[tokio::test]
async fn sqlite_source_into_sqlite() {
    let target = TestDb::sqlite();
    let source = sqlite_source(target.dir.path()).await;
    import_and_switch(&source, &target).await;
}

#[tokio::test]
async fn postgres_source_into_postgres() {
    let Some(source) = postgres_source("postgres_source_into_postgres::source").await else {
        return;
    };
    let Some(target) = TestDb::postgres("postgres_source_into_postgres").await else {
        return;
    };
    import_and_switch(&source.url, &target).await;
}

#[tokio::test]
async fn sqlite_source_into_postgres() {
    let Some(target) = TestDb::postgres("sqlite_source_into_postgres").await else {
        return;
    };
    let source = sqlite_source(target.dir.path()).await;
    import_and_switch(&source, &target).await;
    // The identity moved past the imported ids: a new user gets a fresh one.
    success(&target.run(&[
        "user",
        "create",
        "--email",
        "new@example.com",
        "--password",
        "pw-new-user",
    ]));
    // (Without moving the identity past them, it would hand out id 1 again.)
}

#[tokio::test]
async fn postgres_source_into_sqlite() {
    let Some(source) = postgres_source("postgres_source_into_sqlite::source").await else {
        return;
    };
    let target = TestDb::sqlite();
    import_and_switch(&source.url, &target).await;
}

/// Runs `statements` on the SQLite Django database at `url`, foreign keys off (as a
/// hand edit or a broken release would leave it).
async fn tamper(url: &str, statements: &str) {
    let options = SqliteConnectOptions::from_str(url)
        .unwrap()
        .foreign_keys(false);
    let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(statements.to_owned()))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
}

#[tokio::test]
async fn a_session_whose_user_is_missing_is_reported_and_skipped() {
    let target = TestDb::sqlite();
    let source = sqlite_source(target.dir.path()).await;
    // dave (id 4) gone, his session row left behind.
    tamper(&source, "DELETE FROM jwt_allauth_jauser WHERE id = 4").await;
    let summary = success(&import(&target, &source, &[]));
    assert!(
        summary.contains("users: 4 imported, 0 already present, 3 skipped"),
        "{summary}"
    );
    assert!(
        summary.contains("sessions: 4 imported, 0 already present, 3 skipped"),
        "{summary}"
    );
    let orphan = summary
        .lines()
        .find(|line| line.ends_with(": its user does not exist"))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(orphan.starts_with("skipped session row "), "{orphan}");
}

on_both_targets!(a_failing_row_leaves_nothing_of_its_user);

/// A session that cannot be written (its `jti` is taken here) refuses its user whole:
/// neither the user nor its other session is written.
async fn a_failing_row_leaves_nothing_of_its_user(target: &TestDb) {
    let source = sqlite_source(target.dir.path()).await;
    success(&target.run(&["migrate"]));
    let phone = fact("tokens.alice_phone_refresh");
    let payload = phone.split('.').nth(1).unwrap();
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    let jti = payload["jti"].as_str().unwrap();
    let db = target.connect().await;
    let now = time::OffsetDateTime::now_utc();
    let session = jwt_allauth::store::NewSession {
        session: "0123456789abcdef0123456789abcdef".into(),
        user_id: "1".into(),
        jti: jti.into(),
        refresh_claims: "{}".into(),
        enabled: true,
        created: now,
        expires_at: now + time::Duration::days(1),
        device: jwt_allauth::DeviceInfo::default(),
    };
    jwt_allauth::store::SessionStore::open_session(&db.session_store(), &session)
        .await
        .unwrap();
    db.close().await;
    let before = snapshot(target).await;

    let summary = success(&import(target, &source, &[]));
    let alice = summary
        .lines()
        .find(|line| line.starts_with("skipped user 1 <alice@example.com>: "))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        alice.contains("jti") || alice.contains("unique") || alice.contains("UNIQUE"),
        "{alice}"
    );
    // (ALICE@example.com, user 6, is imported: the address is nobody else's here.)
    assert!(
        summary.contains("users: 5 imported, 0 already present, 3 skipped"),
        "{summary}"
    );
    let after = snapshot(target).await;
    assert!(
        !after.iter().any(|row| row.contains("Liddell")),
        "no user row of alice: {after:#?}"
    );
    assert!(
        !after
            .iter()
            .any(|row| row.contains(&fact("tokens.alice_laptop_session"))),
        "nor her other session"
    );
    assert!(
        before.iter().all(|row| after.contains(row)),
        "what was there stays"
    );
}

#[tokio::test]
async fn a_source_that_is_not_a_django_database_is_one_error_line() {
    let target = TestDb::sqlite();
    let empty = target.dir.path().join("empty.sqlite3");
    std::fs::write(&empty, b"").unwrap();
    let output = import(&target, &format!("sqlite://{}", empty.display()), &[]);
    common::failure(&output, "has no table jwt_allauth_jauser");
    let output = import(&target, "mysql://localhost/django", &[]);
    common::failure(&output, "--from must be a sqlite://FILE or postgres://");
    assert!(stdout(&output).is_empty());
}

#[test]
fn the_help_says_what_is_imported() {
    let output = common::command_in(Path::new("."), &["import", "django", "--help"])
        .output()
        .unwrap();
    let help = success(&output);
    for expected in [
        "--from <URL>",
        "--dry-run",
        "REFRESH_TOKEN_LIFETIME",
        "read-only",
    ] {
        assert!(help.contains(expected), "{expected:?} in {help}");
    }
}
