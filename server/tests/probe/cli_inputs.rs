//! Findings 6 and 11 of issue 10: what the command line prints about a database URL, and
//! what it accepts as an e-mail address or a profile.

use std::io::Read;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use jwt_allauth_server::db::Database;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::users::{NewUser, Users, UsersError};
use time::OffsetDateTime;

use crate::common::{self, TestDb, failure, success};

/// The two words every secret below is made of; neither may ever be printed.
const SECRET_PARTS: [&str; 2] = ["Hunter2", "SecretPw"];

/// Asserts a failed run with one `error: ` line about the database and no part of a
/// secret on stdout or stderr. Returns the error line.
#[track_caller]
fn refused_without_secret(output: &Output, url: &str) -> String {
    let line = failure(output, "database");
    let stdout = common::stdout(output);
    for part in SECRET_PARTS {
        assert!(
            !line.contains(part) && !stdout.contains(part),
            "{url:?} printed {part:?}:\nstderr: {line}\nstdout: {stdout}"
        );
    }
    line
}

/// Malformed URLs whose password (or a query parameter) holds a secret: characters a
/// password must percent-encode (`/ ? # @ %`), a bad escape, a `password=` or
/// `sslpassword=` query, an unencoded `&` in a query value, no `//`, no scheme and
/// schemes the server does not support.
const MALFORMED_URLS: [&str; 17] = [
    "postgres://postgres:Hunter2/SecretPw@127.0.0.1:5432/x",
    "postgres://postgres:Hunter2?SecretPw@127.0.0.1:5432/x",
    "postgres://postgres:Hunter2#SecretPw@127.0.0.1:5432/x",
    "postgres://postgres:Hunter2@SecretPw@127.0.0.1:5432/x",
    "postgres://postgres:Hunter2%zzSecretPw@127.0.0.1:5432/x",
    "postgres://postgres:Hunter2%ffSecretPw@127.0.0.1:5432/x",
    "postgres://postgres:1234/Hunter2SecretPw@127.0.0.1:5432/x",
    "postgres://postgres:1234?Hunter2SecretPw@127.0.0.1:5432/x",
    "postgres://postgres:1234#Hunter2SecretPw@127.0.0.1:5432/x",
    "postgres://postgres@127.0.0.1:5432/x?password=Hunter2SecretPw",
    "postgres://postgres@127.0.0.1:5432/x?sslpassword=Hunter2SecretPw",
    "postgres://postgres@127.0.0.1:5432/x?password=Hunter2&SecretPw",
    "postgresql:postgres:Hunter2SecretPw@127.0.0.1:5432/x",
    "mysql://root:Hunter2/SecretPw@127.0.0.1:3306/x",
    "root:Hunter2/SecretPw@127.0.0.1/x",
    "sqlite://root:Hunter2/SecretPw@127.0.0.1/x",
    "sqlite://root:Hunter2?SecretPw@127.0.0.1/x",
];

#[test]
fn finding_6_database_url_credentials_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    for url in MALFORMED_URLS {
        for args in [
            &["migrate"][..],
            &[
                "user",
                "create",
                "--email",
                "a@example.com",
                "--password",
                "pw",
            ],
        ] {
            let output = common::command_in(dir.path(), args)
                .args(["--database-url", url])
                .output()
                .unwrap();
            refused_without_secret(&output, url);
        }
        // From the environment, the way a deployment usually sets it.
        let output = common::command_in(dir.path(), &["purge", "--dry-run"])
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        refused_without_secret(&output, url);
    }
    // A malformed URL is refused for what it is, not reported as unreachable.
    let output = common::command_in(dir.path(), &["migrate"])
        .args([
            "--database-url",
            "postgres://postgres:1234/Hunter2SecretPw@127.0.0.1:5432/x",
        ])
        .output()
        .unwrap();
    let line = refused_without_secret(&output, "1234/...");
    assert!(line.contains("percent-encode"), "{line}");
}

/// `serve` logs at `info`: neither its start-up line nor the database driver may show a
/// password or an unsupported parameter's value.
#[tokio::test]
async fn finding_6_serve_never_logs_database_credentials() {
    let Some(db) = TestDb::postgres("finding_6_serve").await else {
        return;
    };
    // Trust authentication: a password in the query is sent and ignored, so the server
    // starts and logs the URL it listens with.
    for (query, starts) in [
        ("?password=Hunter2SecretPw", true),
        ("?sslpassword=Hunter2SecretPw", false),
    ] {
        let url = format!("{}{query}", db.url);
        let log = db.dir.path().join("serve.log");
        let port = common::free_port().to_string();
        let mut child = db
            .command(&[
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &url,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let exited = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("listening")
                || Instant::now() > deadline
            {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if exited.is_none() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(exited.is_none(), starts, "{query}: {text}");
        if starts {
            assert!(text.contains("listening"), "{query}: {text}");
        } else {
            assert_eq!(text.lines().count(), 1, "{query}: {text}");
            assert!(text.contains("sslpassword"), "{query}: {text}");
        }
        for part in SECRET_PARTS {
            assert!(
                !text.contains(part) && !stdout.contains(part),
                "{query}: {text}{stdout}"
            );
        }
    }
}

/// The rows of the users table: (e-mail, profile as JSON text).
async fn rows(db: &TestDb) -> Vec<(String, String)> {
    let database = db.connect().await;
    let rows = match &database {
        Database::Sqlite(pool) => {
            sqlx::query_as("SELECT email, profile FROM jwt_allauth_users ORDER BY id")
                .fetch_all(pool)
                .await
        }
        Database::Postgres(pool) => {
            sqlx::query_as("SELECT email, profile::text FROM jwt_allauth_users ORDER BY id")
                .fetch_all(pool)
                .await
        }
    }
    .unwrap();
    database.close().await;
    rows
}

/// Addresses the validator of the HTTP routes refuses: a right-to-left override, other
/// invisible formatting characters, two `@`.
const BAD_EMAILS: [&str; 5] = [
    "eve\u{202E}moc.elpmaxe@example.com",
    "ad\u{2066}min@example.com",
    "a\u{200B}lice@example.com",
    "eve@evil.example@example.com",
    "@@example.com",
];

async fn cli_emails_flow(db: &TestDb) {
    for email in BAD_EMAILS {
        let output = db.run(&["user", "create", "--email", email, "--password", "pw"]);
        let line = failure(&output, "invalid e-mail address");
        // The address is shown escaped: a terminal never renders a raw override.
        assert!(
            !line.contains(['\u{202E}', '\u{2066}', '\u{200B}']),
            "{line:?}"
        );
    }
    assert_eq!(rows(db).await, Vec::new(), "nothing is written");
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "  Alice@Example.com ",
        "--password",
        "pw",
    ]));
    // Every command taking --email validates it the same way, before any lookup.
    for email in BAD_EMAILS {
        for args in [
            &["user", "set-role", "--role", "5"][..],
            &["user", "deactivate"],
            &["user", "activate"],
            &["user", "set-profile", "--profile", "{}"],
            &["user", "delete"],
            &["sessions", "list"],
            &["sessions", "revoke-all"],
        ] {
            let mut args = args.to_vec();
            args.extend(["--email", email]);
            let line = failure(&db.run(&args), "invalid e-mail address");
            assert!(
                !line.contains(['\u{202E}', '\u{2066}', '\u{200B}']),
                "{line:?}"
            );
        }
    }
    // A valid address is normalised as on the HTTP side: trimmed, any case.
    success(&db.run(&[
        "user",
        "set-role",
        "--email",
        "ALICE@example.COM",
        "--role",
        "5",
    ]));
    assert_eq!(
        rows(db).await,
        vec![("Alice@Example.com".to_owned(), "{}".to_owned())]
    );
}

#[tokio::test]
async fn finding_11_cli_emails_are_validated_like_the_http_routes() {
    cli_emails_flow(&TestDb::sqlite()).await;
    if let Some(db) = TestDb::postgres("finding_11_emails").await {
        cli_emails_flow(&db).await;
    }
}

/// Profiles with a NUL character: in a value, a key, nested in an object or an array.
const NUL_PROFILES: [&str; 4] = [
    r#"{"note": "a\u0000b"}"#,
    r#"{"a\u0000": 1}"#,
    r#"{"org": {"name": "\u0000"}}"#,
    r#"{"tags": ["x", {"y": ["\u0000"]}]}"#,
];

async fn nul_profiles_flow(db: &TestDb) {
    for profile in NUL_PROFILES {
        let output = db.run(&[
            "user",
            "create",
            "--email",
            "bob@example.com",
            "--password",
            "pw",
            "--profile",
            profile,
        ]);
        failure(&output, "--profile must not contain the NUL character");
    }
    assert_eq!(rows(db).await, Vec::new(), "nothing is written");
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "bob@example.com",
        "--password",
        "pw",
        "--profile",
        r#"{"org": 1}"#,
    ]));
    for profile in NUL_PROFILES {
        let output = db.run(&[
            "user",
            "set-profile",
            "--email",
            "bob@example.com",
            "--profile",
            profile,
        ]);
        failure(&output, "--profile must not contain the NUL character");
    }
    // The users table refuses it whoever writes: the HTTP routes (whose names are
    // checked first, "Null characters are not allowed.") or an embedding application.
    let database = db.connect().await;
    let users = Users::new(database.clone(), Passwords::with_permits(1));
    let bob = users
        .find_by_email("bob@example.com")
        .await
        .unwrap()
        .unwrap();
    for profile in NUL_PROFILES {
        let profile = serde_json::from_str(profile).unwrap();
        let refused = users.set_profile(bob.id, &profile).await;
        assert!(
            matches!(refused, Err(UsersError::NulCharacter("profile"))),
            "{refused:?}"
        );
    }
    let refused = users.update_names(bob.id, Some("a\0b"), None).await;
    assert!(
        matches!(refused, Err(UsersError::NulCharacter("first name"))),
        "{refused:?}"
    );
    let mut carol = NewUser::new("carol@example.com", "pw");
    carol.last_name = "\0".to_owned();
    let refused = users.create(&carol, OffsetDateTime::now_utc()).await;
    assert!(
        matches!(refused, Err(UsersError::NulCharacter("last name"))),
        "{refused:?}"
    );
    database.close().await;
    let rows = rows(db).await;
    assert_eq!(rows.len(), 1);
    let profile: serde_json::Value = serde_json::from_str(&rows[0].1).unwrap();
    assert_eq!(profile, serde_json::json!({"org": 1}), "unchanged");
}

#[tokio::test]
async fn finding_11_profiles_with_nul_are_refused_on_both_backends() {
    nul_profiles_flow(&TestDb::sqlite()).await;
    if let Some(db) = TestDb::postgres("finding_11_nul").await {
        nul_profiles_flow(&db).await;
    }
}
