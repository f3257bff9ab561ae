//! Helpers of the tests of the published keys and of the key lifecycle: the `keys`
//! commands, logging in, reading a token's header, polling with a deadline.

#![allow(dead_code, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::common::{Server, TestDb, success};

pub const EMAIL: &str = "alice@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

/// How long a change may take to reach a running server in these tests (reload every
/// second), with room for a loaded machine.
pub const RELOAD_DEADLINE: Duration = Duration::from_secs(20);

/// A key-encryption key, as the setting takes it.
pub fn kek(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

/// `("JWT_ALLAUTH_KEY_ENCRYPTION_KEY", kek)`, a one-second reload and tokens in bodies.
pub fn env_with_kek(kek: &str) -> Vec<(&'static str, String)> {
    vec![
        ("JWT_ALLAUTH_KEY_ENCRYPTION_KEY", kek.to_owned()),
        ("JWT_ALLAUTH_KEY_RELOAD_INTERVAL", "1s".to_owned()),
        ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false".to_owned()),
    ]
}

/// Runs `jwt-allauth keys ARGS` on `db` with `env`.
pub fn keys(db: &TestDb, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut command = db.command(&["keys"]);
    command
        .args(args)
        .args(["--database-url", &db.url])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command.output().unwrap()
}

/// `keys generate --algorithm ALG`: the new kid (the last line).
pub fn generate(db: &TestDb, algorithm: &str, env: &[(&str, String)]) -> String {
    let out = success(&keys(db, &["generate", "--algorithm", algorithm], env));
    out.lines().last().unwrap().trim().to_owned()
}

/// Creates the test user.
pub fn create_user(db: &TestDb) {
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
}

/// Starts `serve` on `db` with `env`.
pub async fn serve(db: &TestDb, env: &[(&str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with_env(db, &[], &env).await
}

/// Logs the test user in: `(access, refresh)`.
pub async fn login(server: &Server) -> (String, String) {
    let response = Client::new()
        .post(server.url("/login/"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    (
        body["access"].as_str().unwrap().to_owned(),
        body["refresh"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The JOSE header of a token.
pub fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The status of `GET /whoami/` with `access`.
pub async fn whoami(server: &Server, access: &str) -> StatusCode {
    Client::new()
        .get(server.url("/whoami/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

/// `GET /.well-known/jwks.json`: the key set.
pub async fn jwks(server: &Server) -> Value {
    let response = Client::new()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The kids of a key set.
pub fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls `check` until it holds, failing with `what` after [`RELOAD_DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + RELOAD_DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not within {RELOAD_DEADLINE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until new tokens of `server` carry `kid` in their header; returns such a
/// token.
pub async fn access_signed_by(server: &Server, kid: &str) -> String {
    let deadline = Instant::now() + RELOAD_DEADLINE;
    loop {
        let (access, _) = login(server).await;
        if header(&access)["kid"] == kid {
            return access;
        }
        assert!(
            Instant::now() < deadline,
            "new tokens of {} not signed by {kid} within {RELOAD_DEADLINE:?}: {}",
            server.base,
            header(&access)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
