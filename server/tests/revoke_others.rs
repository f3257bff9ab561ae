//! Issue 15 point 2: `POST /sessions/revoke-others/` against the real binary, on SQLite
//! and PostgreSQL, with the refresh token in the cookie and in the body: every session
//! of the caller but the access token's own ends (refresh tokens 401, access tokens
//! refused through the revocation feed), the caller's goes on, its cookie untouched.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Server, TestDb, success};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// One scenario on SQLite and on PostgreSQL (when configured), in cookie and body mode.
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_cookie_mode() {
                super::$name(&super::TestDb::sqlite(), true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_body_mode() {
                super::$name(&super::TestDb::sqlite(), false).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_cookie_mode() {
                let test = concat!(stringify!($name), "::postgres_cookie");
                if let Some(db) = super::TestDb::postgres(test).await {
                    super::$name(&db, true).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_body_mode() {
                let test = concat!(stringify!($name), "::postgres_body");
                if let Some(db) = super::TestDb::postgres(test).await {
                    super::$name(&db, false).await;
                }
            }
        }
    };
}

/// The server, answering refresh tokens in the cookie or in the body.
async fn serve(db: &TestDb, cookie_mode: bool) -> Server {
    let mode = if cookie_mode { "true" } else { "false" };
    Server::start_with_env(
        db,
        &[],
        &[
            ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", mode),
            ("JWT_ALLAUTH_COOKIE_SECURE", "false"),
        ],
    )
    .await
}

/// A session: its access token, its refresh token (from the cookie or the body) and
/// its id.
struct Session {
    access: String,
    refresh: String,
    session: String,
}

/// The refresh token a response set in the `refresh_token` cookie.
fn cookie_token(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| cookie.split(';').next()?.strip_prefix("refresh_token="))
        .map(str::to_owned)
}

/// The session of `tokens` (a 200 of `/login/` or `/refresh/`).
async fn session_of(response: reqwest::Response, cookie_mode: bool) -> Session {
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = cookie_token(&response);
    let body: Value = response.json().await.unwrap();
    let access = body["access"].as_str().unwrap().to_owned();
    let refresh = if cookie_mode {
        assert!(body.get("refresh").is_none(), "{body}");
        cookie.expect("the refresh cookie")
    } else {
        body["refresh"].as_str().unwrap().to_owned()
    };
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    Session {
        session: claims["session"].as_str().unwrap().to_owned(),
        access,
        refresh,
    }
}

async fn login(client: &Client, server: &Server, cookie_mode: bool) -> Session {
    let response = client
        .post(server.url("/login/"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    session_of(response, cookie_mode).await
}

/// `POST /refresh/` with `refresh`, in the cookie or the body.
async fn refresh(
    client: &Client,
    server: &Server,
    cookie_mode: bool,
    refresh: &str,
) -> reqwest::Response {
    let request = client.post(server.url("/refresh/"));
    let request = if cookie_mode {
        request
            .header("Cookie", format!("refresh_token={refresh}"))
            .json(&json!({}))
    } else {
        request.json(&json!({ "refresh": refresh }))
    };
    request.send().await.unwrap()
}

async fn revoke_others(client: &Client, server: &Server, access: &str) -> reqwest::Response {
    client
        .post(server.url("/sessions/revoke-others/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

/// Three sessions; the second signs out of the other devices: 200 `revoked: 2`, no
/// cookie touched; the others' refresh tokens 401 and access tokens refused, the
/// caller's go on; a second call ends nothing; no token is 401.
async fn ends_every_other_session(db: &TestDb, cookie_mode: bool) {
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    let server = serve(db, cookie_mode).await;
    let client = Client::new();
    let first = login(&client, &server, cookie_mode).await;
    let caller = login(&client, &server, cookie_mode).await;
    let third = login(&client, &server, cookie_mode).await;

    let response = revoke_others(&client, &server, &caller.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "the caller's own session keeps its cookie"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"detail": "Signed out of other devices.", "revoked": 2})
    );

    for (name, ended) in [("first", &first), ("third", &third)] {
        let (status, body) = server.get_user(&client, &ended.access).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(body["code"], "token_not_valid", "{name}: {body}");
        let refused = refresh(&client, &server, cookie_mode, &ended.refresh).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{name}");
    }

    let (status, body) = server.get_user(&client, &caller.access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], EMAIL);
    let rotated = refresh(&client, &server, cookie_mode, &caller.refresh).await;
    let rotated = session_of(rotated, cookie_mode).await;
    assert_eq!(rotated.session, caller.session);
    let listed: Value = client
        .get(server.url("/sessions/"))
        .bearer_auth(&rotated.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["session"], caller.session.as_str());
    assert_eq!(listed[0]["current"], true);

    // Nothing else to end; and no token at all is 401.
    let again: Value = revoke_others(&client, &server, &rotated.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["revoked"], 0);
    let anonymous = client
        .post(server.url("/sessions/revoke-others/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = server.get_user(&client, &rotated.access).await;
    assert_eq!(status, StatusCode::OK);
}

on_both_databases!(ends_every_other_session);

/// Another user's sessions are none of the caller's business.
async fn leaves_other_users_alone(db: &TestDb, cookie_mode: bool) {
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    success(&db.run(&[
        "user",
        "create",
        "--email",
        "bob@example.com",
        "--password",
        PASSWORD,
    ]));
    let server = serve(db, cookie_mode).await;
    let client = Client::new();
    let bob = client
        .post(server.url("/login/"))
        .json(&json!({"email": "bob@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let bob = session_of(bob, cookie_mode).await;
    let alice = login(&client, &server, cookie_mode).await;
    let body: Value = revoke_others(&client, &server, &alice.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["revoked"], 0);
    let (status, _) = server.get_user(&client, &bob.access).await;
    assert_eq!(status, StatusCode::OK);
    let rotated = refresh(&client, &server, cookie_mode, &bob.refresh).await;
    assert_eq!(rotated.status(), StatusCode::OK);
}

on_both_databases!(leaves_other_users_alone);
