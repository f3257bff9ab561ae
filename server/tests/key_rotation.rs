//! Key rotation on a running deployment: the server restarted with a new `SECRET_KEY`
//! and the old one as `PREVIOUS_SECRET_KEY` keeps every session alive, re-signs on
//! refresh, and once the previous key is removed the old tokens stop working.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, TestDb, success};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";
const OLD_SECRET: &str = "the old secret of at least thirty-two bytes";
const NEW_SECRET: &str = "the new secret of at least thirty-two bytes";

/// The server in body mode (tokens in JSON bodies), signing with `secret`, plus `env`.
async fn serve(db: &TestDb, secret: &str, env: &[(&str, &str)]) -> Server {
    let mut all = vec![
        ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false"),
        ("JWT_ALLAUTH_SECRET_KEY", secret),
    ];
    all.extend_from_slice(env);
    Server::start_with_env(db, &[], &all).await
}

async fn post(
    server: &Server,
    path: &str,
    bearer: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = Client::new().post(server.url(path)).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn whoami(server: &Server, access: &str) -> StatusCode {
    Client::new()
        .get(server.url("/whoami/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

/// The `kid` of a token's header, if any.
fn kid(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn rotating_the_secret_keeps_sessions_and_retiring_it_ends_old_tokens() {
    let db = TestDb::sqlite();
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));

    // Before: tokens signed with the old secret.
    let mut server = serve(&db, OLD_SECRET, &[]).await;
    let (status, login) = post(
        &server,
        "/login/",
        None,
        json!({"email": EMAIL, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let old_access = login["access"].as_str().unwrap().to_owned();
    let old_refresh = login["refresh"].as_str().unwrap().to_owned();
    assert!(server.terminate());

    // During: the new secret signs, the old one still verifies.
    let mut server = serve(
        &db,
        NEW_SECRET,
        &[
            ("JWT_ALLAUTH_KEY_ID", "2026"),
            ("JWT_ALLAUTH_PREVIOUS_SECRET_KEY", OLD_SECRET),
        ],
    )
    .await;
    assert_eq!(whoami(&server, &old_access).await, StatusCode::OK);
    let (status, refreshed) =
        post(&server, "/refresh/", None, json!({"refresh": old_refresh})).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let new_access = refreshed["access"].as_str().unwrap().to_owned();
    let new_refresh = refreshed["refresh"].as_str().unwrap().to_owned();
    assert_eq!(kid(&new_access).as_deref(), Some("2026"));
    assert_eq!(kid(&new_refresh).as_deref(), Some("2026"));
    assert!(server.terminate());

    // After: the previous secret is retired; old tokens are refused, the session lives on.
    let mut server = serve(&db, NEW_SECRET, &[("JWT_ALLAUTH_KEY_ID", "2026")]).await;
    assert_eq!(whoami(&server, &old_access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&server, &new_access).await, StatusCode::OK);
    let (status, body) = post(&server, "/refresh/", None, json!({"refresh": new_refresh})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(server.terminate());
}
