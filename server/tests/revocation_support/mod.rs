//! What the revocation tests share: a server answering refresh tokens in the body, a
//! login, and `/whoami/`.

#![allow(dead_code, clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::common::{Server, TestDb};

pub const EMAIL: &str = "alice@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
/// A server answering refresh tokens in the body (no cookie jar needed).
pub async fn serve(db: &TestDb, env: &[(&str, &str)]) -> Server {
    let mut all = vec![("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false")];
    all.extend_from_slice(env);
    Server::start_with_env(db, &[], &all).await
}

/// A logged-in session: its tokens and its id.
pub struct Login {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
    /// The session id.
    pub session: String,
}

pub async fn login(client: &Client, server: &Server) -> Login {
    let response = client
        .post(server.url("/login/"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let access = body["access"].as_str().unwrap().to_owned();
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    Login {
        session: claims["session"].as_str().unwrap().to_owned(),
        refresh: body["refresh"].as_str().unwrap().to_owned(),
        access,
    }
}

/// `GET /whoami/` with `access`: its status and body.
pub async fn whoami(client: &Client, server: &Server, access: &str) -> (StatusCode, Value) {
    let response = client
        .get(server.url("/whoami/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}
