//! `examples/resource-server` against the real binary: the server signs access tokens
//! with an EdDSA key from key files (`ALGORITHM`, `PRIVATE_KEY_FILE`, `PUBLIC_KEY_FILE`,
//! `KEY_ID`), the resource server verifies them with the public keys of a JWKS URL, on
//! SQLite and on PostgreSQL.
//!
//! The JWKS is the server's own `/.well-known/jwks.json` when the binary serves it;
//! a binary without that route gets one served here from the same public key file (the
//! same document: `KeyRing::jwks` of the key, with its `kid`).
#![allow(clippy::unwrap_used)]

mod common;

use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Server, TestDb, success};
use hmac::{Hmac, Mac};
use jwt_allauth::keys::{Algorithm, KeyPair, KeyRing, VerifyingKey};
use jwt_allauth::{Settings, TokenCodec};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

const EMAIL: &str = "alice@example.com";
const STAFF_EMAIL: &str = "staff@example.com";
const PASSWORD: &str = "correct horse battery staple";
const KID: &str = "2026-12-ed25519";

/// Serves `app` on a free port of 127.0.0.1; its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The server's JWKS URL, or, for a binary without that route, the URL of the same
/// key set served here from `public_pem`.
async fn jwks_url(server: &Server, public_pem: &str) -> String {
    let url = server.url("/.well-known/jwks.json");
    let answer = Client::new().get(&url).send().await.unwrap();
    if answer.status() == StatusCode::OK {
        let jwks: Value = answer.json().await.unwrap();
        assert_eq!(jwks["keys"][0]["kid"], KID, "{jwks}");
        return url;
    }
    eprintln!("this binary serves no /.well-known/jwks.json; serving one from the key file");
    let key = VerifyingKey::from_pem(Algorithm::EdDSA, public_pem.as_bytes())
        .unwrap()
        .with_key_id(KID);
    let jwks = serde_json::to_string(&KeyRing::verify_only([key]).unwrap().jwks()).unwrap();
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move {
                (
                    [
                        ("content-type", "application/json"),
                        ("cache-control", "public, max-age=300"),
                    ],
                    jwks,
                )
            }
        }),
    );
    format!("{}/.well-known/jwks.json", serve(app).await)
}

async fn login(server: &Server, email: &str) -> String {
    let response = Client::new()
        .post(server.url("/login/"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access"].as_str().unwrap().to_owned()
}

/// `GET url` with `Authorization: Bearer <token>` if given: status and JSON body.
async fn call(url: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The header of a token, decoded.
fn header(token: &str) -> Value {
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice(&header).unwrap()
}

/// `token`'s header and payload with an HS256 signature keyed with `secret`, the header
/// saying HS256.
fn hs256_with(token: &str, secret: &[u8]) -> String {
    let mut header = header(token);
    header["alg"] = "HS256".into();
    let payload = token.split('.').nth(1).unwrap();
    let message = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(message.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{message}.{signature}")
}

async fn resource_server_verifies_the_servers_tokens(db: TestDb) {
    let pair = KeyPair::generate(Algorithm::EdDSA).unwrap();
    let private = db.dir.path().join("private.pem");
    let public = db.dir.path().join("public.pem");
    std::fs::write(&private, pair.private_pem()).unwrap();
    std::fs::write(&public, pair.public_pem()).unwrap();
    success(&db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]));
    success(&db.run(&[
        "user",
        "create",
        "--email",
        STAFF_EMAIL,
        "--password",
        PASSWORD,
        "--staff",
    ]));
    let server = Server::start_with_env(
        &db,
        &[],
        &[
            ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false"),
            ("JWT_ALLAUTH_ALGORITHM", "EdDSA"),
            ("JWT_ALLAUTH_PRIVATE_KEY_FILE", private.to_str().unwrap()),
            ("JWT_ALLAUTH_PUBLIC_KEY_FILE", public.to_str().unwrap()),
            ("JWT_ALLAUTH_KEY_ID", KID),
        ],
    )
    .await;

    let jwks_url = jwks_url(&server, pair.public_pem()).await;
    let app = jwt_allauth_example_resource_server::app_from_jwks_url(&jwks_url)
        .await
        .unwrap();
    let resource = serve(app).await;
    let me = format!("{resource}/me/");

    // A login at the server; the access token works at the resource server.
    let access = login(&server, EMAIL).await;
    assert_eq!(header(&access)["alg"], "EdDSA");
    assert_eq!(header(&access)["kid"], KID);
    let (status, body) = call(&me, Some(&access)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], "1");
    assert_eq!(body["role"], 0);
    let (status, body) = call(&format!("{resource}/public/"), Some(&access)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"hello": "1"})));
    assert_eq!(
        call(&format!("{resource}/staff/"), Some(&access)).await.0,
        StatusCode::FORBIDDEN
    );
    let staff = login(&server, STAFF_EMAIL).await;
    assert_eq!(
        call(&format!("{resource}/staff/"), Some(&staff)).await.0,
        StatusCode::OK
    );

    // Without a token: 401 with the contract's body; the public route answers.
    let (status, body) = call(&me, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"detail": "Authentication credentials were not provided."})
    );
    let (status, body) = call(&format!("{resource}/public/"), None).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"hello": "stranger"}))
    );

    // Forged: another EdDSA key under the server's kid, and HS256 keyed with the public
    // key's PEM.
    let forger = KeyPair::generate(Algorithm::EdDSA).unwrap();
    let forger = KeyRing::new(
        forger.signing_key().unwrap().with_key_id(KID),
        forger.verifying_key().unwrap(),
    )
    .unwrap();
    let server_keys = KeyRing::verify_only([pair.verifying_key().unwrap().with_key_id(KID)]);
    let claims = TokenCodec::new(server_keys.unwrap(), &Settings::default())
        .decode(
            &access,
            jwt_allauth::TokenType::Access,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    let forged = TokenCodec::new(forger, &Settings::default())
        .encode(&claims)
        .unwrap();
    let confused = hs256_with(&access, pair.public_pem().as_bytes());
    for token in [forged.as_str(), confused.as_str()] {
        let (status, body) = call(&me, Some(token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "token_not_valid", "{body}");
        assert_eq!(body["messages"][0]["message"], "Token is invalid", "{body}");
    }
}

#[tokio::test]
async fn resource_server_verifies_the_servers_tokens_on_sqlite() {
    resource_server_verifies_the_servers_tokens(TestDb::sqlite()).await;
}

#[tokio::test]
async fn resource_server_verifies_the_servers_tokens_on_postgres() {
    let Some(db) = TestDb::postgres("resource_server").await else {
        return;
    };
    resource_server_verifies_the_servers_tokens(db).await;
}
