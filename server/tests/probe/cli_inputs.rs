//! Findings 6 and 11 of issue 10: what the command line prints about a database URL, and
//! what it accepts as an e-mail address or a profile.

use std::io::Read;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, TestDb, failure};

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
