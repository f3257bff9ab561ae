//! A verify-only service for HTTP benchmarks (wrk): `GET /plain/` answers a fixed JSON
//! document, `GET /verified/` the same behind [`AuthUser`] over
//! [`Authenticator::from_jwks`], with the keys of an EdDSA issuer whose JWKS this process
//! serves itself on another port of 127.0.0.1.
//!
//! `cargo run --release -p jwt-allauth-axum --features jwks --example verify_only_server
//! -- 127.0.0.1:8002 token.txt` serves on 127.0.0.1:8002 and writes a valid access token
//! (a day long) to `token.txt`. See BENCHMARKS.md for the wrk commands.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use jwt_allauth::keys::{Algorithm, KeyPair, KeyRing};
use jwt_allauth::{Claims, ExtraClaims, Settings, TokenCodec, TokenType};
use jwt_allauth_axum::jwks::RemoteKeySet;
use jwt_allauth_axum::{AuthUser, Authenticator, Clock};
use time::OffsetDateTime;

const FIXED_BODY: &str = r#"{"status":"ok","benchmark":true}"#;

fn fixed_body() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        FIXED_BODY,
    )
}

async fn plain() -> impl IntoResponse {
    fixed_body()
}

async fn verified(_caller: AuthUser) -> impl IntoResponse {
    fixed_body()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:8002".to_owned());
    let token_file = args.next().unwrap_or_else(|| "token.txt".to_owned());

    let pair = KeyPair::generate(Algorithm::EdDSA).unwrap();
    let issuer = KeyRing::new(
        pair.signing_key().unwrap().with_key_id("bench"),
        pair.verifying_key().unwrap(),
    )
    .unwrap();
    let jwks = serde_json::to_string(&issuer.jwks()).unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token = TokenCodec::new(issuer, &Settings::default())
        .encode(&Claims {
            token_type: TokenType::Access,
            exp: now + 86_400,
            iat: now,
            jti: "0123456789abcdef0123456789abcdef".into(),
            user_id: "7".into(),
            session: Some("fedcba9876543210fedcba9876543210".into()),
            session_iat: Some(now),
            role: 0,
            email_verified: true,
            iss: None,
            aud: None,
            extra: ExtraClaims::new(),
        })
        .unwrap();
    std::fs::write(&token_file, &token).unwrap();

    let jwks_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/jwks.json", jwks_listener.local_addr().unwrap());
    let jwks_app = Router::new().route("/jwks.json", get(move || async move { jwks }));
    tokio::spawn(async move { axum::serve(jwks_listener, jwks_app).await.unwrap() });
    let keys = RemoteKeySet::builder(jwks_url).build().await.unwrap();

    let app = Router::new()
        .route("/plain/", get(plain))
        .route("/verified/", get(verified))
        .with_state(Authenticator::from_jwks(keys, Clock::system()));
    let listener = tokio::net::TcpListener::bind(&bind).await.unwrap();
    eprintln!("serving on http://{bind}; token in {token_file}");
    axum::serve(listener, app).await.unwrap();
}
