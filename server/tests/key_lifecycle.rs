//! The key lifecycle against the real binary: keys generated, activated and retired
//! with `jwt-allauth keys ...` reach two running servers on one PostgreSQL database
//! without a restart, and tokens signed before keep verifying until they may; the
//! key-encryption key, wrong or missing, stops the server with one line, and a stored
//! private key is never in clear.
#![allow(clippy::unwrap_used)]

mod common;
mod key_support;

use std::process::Output;

use common::{TestDb, failure, stderr, stdout, success};
use jwt_allauth_server::db::Database;
use key_support::{
    access_signed_by, create_user, env_with_kek, eventually, generate, header, jwks, kek, keys,
    kids, login, serve, whoami,
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The `keys list` line of `kid`, split on tabs.
fn listed(db: &TestDb, kid: &str, env: &[(&str, String)]) -> Vec<String> {
    let out = success(&keys(db, &["list"], env));
    let line = out
        .lines()
        .find(|line| line.starts_with(kid))
        .unwrap_or_else(|| panic!("{kid} not listed: {out}"));
    line.split('\t').map(str::to_owned).collect()
}

/// Refreshes with `refresh` (body mode): the new access token.
async fn refresh(server: &common::Server, refresh: &str) -> String {
    let response = Client::new()
        .post(server.url("/refresh/"))
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rotation_reaches_two_running_servers_on_postgres_without_downtime() {
    let Some(db) =
        TestDb::postgres("rotation_reaches_two_running_servers_on_postgres_without_downtime").await
    else {
        return;
    };
    create_user(&db);
    let env = env_with_kek(&kek(2));
    // Two instances on one database (and one working directory, so one generated key
    // file: they sign alike before any key is in the database).
    let a = serve(&db, &env).await;
    let b = serve(&db, &env).await;
    let servers = [&a, &b];
    let (hmac_access, hmac_refresh) = login(&a).await;
    assert_eq!(header(&hmac_access)["alg"], "HS256");
    assert_eq!(whoami(&b, &hmac_access).await, StatusCode::OK);

    // generate: published by both (standby), not signing.
    let first = generate(&db, "EdDSA", &env);
    assert_eq!(listed(&db, &first, &env)[1..3], ["EdDSA", "standby"]);
    for server in servers {
        eventually("the standby key is published", || async {
            kids(&jwks(server).await).contains(&first)
        })
        .await;
        let (access, _) = login(server).await;
        assert_eq!(
            header(&access)["alg"],
            "HS256",
            "a standby key signs nothing"
        );
    }

    // activate: new tokens carry the new kid on both servers within the bound. Activated
    // at once, it has not been published for the JWKS max-age: a warning.
    let output = keys(&db, &["activate", &first], &env);
    success(&output);
    assert!(
        stderr(&output).contains("warning: key") && stderr(&output).contains("max-age"),
        "{}",
        stderr(&output)
    );
    let eddsa_a = access_signed_by(&a, &first).await;
    let eddsa_b = access_signed_by(&b, &first).await;
    assert_eq!(header(&eddsa_a)["alg"], "EdDSA");
    // Minted before: the HMAC token still verifies on both, as do both new ones; the
    // refresh token of before rotates into an access token of the new key.
    for server in servers {
        assert_eq!(whoami(server, &hmac_access).await, StatusCode::OK);
        assert_eq!(whoami(server, &eddsa_a).await, StatusCode::OK);
        assert_eq!(whoami(server, &eddsa_b).await, StatusCode::OK);
    }
    assert_eq!(header(&refresh(&b, &hmac_refresh).await)["kid"], first);

    // retire: refused while the key signs.
    failure(&keys(&db, &["retire", &first], &env), "is active");

    // A second rotation: the first key becomes previous and keeps verifying.
    let second = generate(&db, "ES256", &env);
    for server in servers {
        eventually("the second key is published", || async {
            let published = kids(&jwks(server).await);
            published.contains(&first) && published.contains(&second)
        })
        .await;
    }
    let output = keys(&db, &["activate", &second], &env);
    assert!(
        stdout(&output).contains(&format!("{first} is previous")),
        "{}",
        stdout(&output)
    );
    for server in servers {
        access_signed_by(server, &second).await;
        assert_eq!(whoami(server, &eddsa_a).await, StatusCode::OK);
        assert_eq!(whoami(server, &eddsa_b).await, StatusCode::OK);
        assert!(kids(&jwks(server).await).contains(&first));
    }
    let line = listed(&db, &first, &env);
    assert_eq!(line[2], "previous");
    assert!(line[4].starts_with("retire after "), "{line:?}");
    failure(
        &keys(&db, &["retire", &first], &env),
        "may still verify live tokens",
    );

    // --force: retired; its tokens stop verifying and it is no longer published, on both.
    let output = keys(&db, &["retire", &first, "--force"], &env);
    success(&output);
    assert!(stderr(&output).contains("--force"), "{}", stderr(&output));
    assert_eq!(listed(&db, &first, &env)[2], "retired");
    for server in servers {
        eventually("the retired key's tokens are refused", || async {
            whoami(server, &eddsa_a).await == StatusCode::UNAUTHORIZED
                && !kids(&jwks(server).await).contains(&first)
        })
        .await;
        assert_eq!(whoami(server, &hmac_access).await, StatusCode::OK);
    }
    // A standby key signed nothing: retired without --force.
    let third = generate(&db, "RS256", &env);
    success(&keys(&db, &["retire", &third], &env));
}

/// Asserts a failed start: non-zero exit, no panic, and the last line of stderr (the
/// server may log before) is the one `error: ` line, containing `expected`.
#[track_caller]
fn fails_at_start(output: &Output, expected: &str) -> String {
    let err = stderr(output);
    assert!(!output.status.success(), "expected a failure: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.matches("error: ").count(), 1, "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert!(last.contains(expected), "expected {expected:?} in {last:?}");
    last.to_owned()
}

/// The raw key rows: `(private_nonce, private_sealed, public_pem)`.
async fn raw_rows(db: &TestDb) -> Vec<(Vec<u8>, Vec<u8>, String)> {
    const RAW: &str =
        "SELECT private_nonce, private_sealed, public_pem FROM jwt_allauth_signing_keys";
    match db.connect().await {
        Database::Sqlite(pool) => sqlx::query_as(RAW).fetch_all(&pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_as(RAW).fetch_all(&pool).await.unwrap(),
    }
}

/// `serve` on `db` with `env`, expected to fail before it listens.
fn serve_output(db: &TestDb, env: &[(&str, String)]) -> Output {
    db.command(&["serve", "--bind", "127.0.0.1:0", "--database-url", &db.url])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

async fn key_encryption_key_wrong_or_missing(db: TestDb) {
    // `keys generate` needs it, well formed.
    failure(
        &keys(&db, &["generate", "--algorithm", "EdDSA"], &[]),
        "set KEY_ENCRYPTION_KEY",
    );
    failure(
        &keys(
            &db,
            &["generate", "--algorithm", "EdDSA"],
            &[("JWT_ALLAUTH_KEY_ENCRYPTION_KEY", "c2hvcnQ=".to_owned())],
        ),
        "KEY_ENCRYPTION_KEY must be 32 random bytes in standard base64",
    );
    assert!(raw_rows(&db).await.is_empty());

    // From a file.
    let file = db.dir.path().join("kek.txt");
    std::fs::write(&file, format!("{}\n", kek(3))).unwrap();
    let from_file = vec![(
        "JWT_ALLAUTH_KEY_ENCRYPTION_KEY_FILE",
        file.display().to_string(),
    )];
    let kid = generate(&db, "ES256", &from_file);

    // The stored row holds ciphertext, never the private PEM.
    let rows = raw_rows(&db).await;
    assert_eq!(rows.len(), 1);
    let (nonce, sealed, public_pem) = &rows[0];
    assert_eq!(nonce.len(), 24);
    assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    for needle in [&b"PRIVATE KEY"[..], b"-----"] {
        assert!(
            !sealed.windows(needle.len()).any(|w| w == needle),
            "the sealed key contains {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    if let Some(file) = jwt_allauth_server::db::sqlite_file(&db.url) {
        for path in [file.clone(), file.with_extension("sqlite3-wal")] {
            let bytes = std::fs::read(&path).unwrap_or_default();
            assert!(
                !bytes.windows(11).any(|w| w == b"PRIVATE KEY"),
                "{} holds a private key in clear",
                path.display()
            );
        }
    }

    // The server refuses to start without it, or with another one: one line, no panic.
    let secret = (
        "JWT_ALLAUTH_SECRET_KEY",
        "a shared secret of at least thirty-two bytes".to_owned(),
    );
    let line = fails_at_start(
        &serve_output(&db, std::slice::from_ref(&secret)),
        "the database holds signing keys, but neither KEY_ENCRYPTION_KEY nor \
         KEY_ENCRYPTION_KEY_FILE is set",
    );
    assert!(!line.contains(&kek(3)));
    let wrong = ("JWT_ALLAUTH_KEY_ENCRYPTION_KEY", kek(4));
    let line = fails_at_start(
        &serve_output(&db, &[secret, wrong.clone()]),
        &format!("the private key of {kid} cannot be decrypted: KEY_ENCRYPTION_KEY"),
    );
    assert!(!line.contains(&kek(4)));
    // With the generated key file (a warning logged first) too.
    fails_at_start(
        &serve_output(&db, std::slice::from_ref(&wrong)),
        "cannot be decrypted",
    );
    // Nor is a key sealed under another key-encryption key stored.
    failure(
        &keys(&db, &["generate", "--algorithm", "EdDSA"], &[wrong]),
        "cannot be decrypted",
    );
    assert_eq!(raw_rows(&db).await.len(), 1);

    // The right key, given as a value this time: the server starts and publishes it.
    let server = serve(&db, &[("JWT_ALLAUTH_KEY_ENCRYPTION_KEY", kek(3))]).await;
    assert_eq!(kids(&jwks(&server).await), vec![kid]);
}

#[tokio::test]
async fn key_encryption_key_wrong_or_missing_on_sqlite() {
    key_encryption_key_wrong_or_missing(TestDb::sqlite()).await;
}

#[tokio::test]
async fn key_encryption_key_wrong_or_missing_on_postgres() {
    if let Some(db) = TestDb::postgres("key_encryption_key_wrong_or_missing_on_postgres").await {
        key_encryption_key_wrong_or_missing(db).await;
    }
}

/// A reload that fails (here a row that does not decrypt) keeps the ring in use and logs
/// once; the next good reload says so.
#[tokio::test]
async fn a_failed_reload_keeps_the_keys_and_logs_once() {
    const FAILED: &str = "cannot reload the signing keys";
    let db = TestDb::sqlite();
    create_user(&db);
    let env = env_with_kek(&kek(5));
    let kid = generate(&db, "EdDSA", &env);
    success(&keys(&db, &["activate", &kid], &env));
    let server = serve(&db, &env).await;
    let (before, _) = login(&server).await;
    assert_eq!(header(&before)["kid"], kid);

    let Database::Sqlite(pool) = db.connect().await else {
        panic!("SQLite");
    };
    sqlx::query(
        "INSERT INTO jwt_allauth_signing_keys (kid, algorithm, state, public_pem, \
         private_nonce, private_sealed, created_at) VALUES ('broken', 'EdDSA', 'standby', \
         'not a key', zeroblob(24), zeroblob(64), 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    eventually("the failed reload is logged", || async {
        server.log_text().contains(FAILED)
    })
    .await;
    // Three more reload intervals at least: the keys in use keep working, no new line.
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(3) {
        let (access, _) = login(&server).await;
        assert_eq!(header(&access)["kid"], kid);
        assert_eq!(whoami(&server, &before).await, StatusCode::OK);
    }
    let log = server.log_text();
    assert_eq!(log.matches(FAILED).count(), 1, "{log}");
    assert!(!log.contains("panicked"), "{log}");

    sqlx::query("DELETE FROM jwt_allauth_signing_keys WHERE kid = 'broken'")
        .execute(&pool)
        .await
        .unwrap();
    eventually("the recovery is logged", || async {
        server.log_text().contains("read from the database again")
    })
    .await;
}
