//! A verify-only service for HTTP benchmarks (wrk). Every route answers the same fixed
//! JSON document:
//!
//! - `GET /plain/`: no authentication;
//! - `GET /verified/`: behind [`AuthUser`] over [`Authenticator::from_jwks`], with the
//!   keys of an EdDSA issuer whose JWKS this process serves itself on another port of
//!   127.0.0.1;
//! - `GET /floor/`: after the least any verifier of the EdDSA token must do, written by
//!   hand: the Bearer value taken as is, base64url-decoding the signature, one Ed25519
//!   verification of `header.payload` with the key in hand (no header read, no key
//!   selection), base64url-decoding the payload and parsing it into [`Claims`] (no claim
//!   checked); 401 if the signature fails;
//! - `GET /verified-hs256/`: behind `AuthUser` over [`Authenticator::verify_only`] with an
//!   HS256 key ring (a verify-only service sharing a secret);
//! - `GET /verified-uncached/` and `GET /verified-hs256-uncached/`: the same two with the
//!   key ring's cache of verified tokens off (`verified_token_cache(0)`,
//!   `KeyRing::with_verified_token_cache(0)`), so that every request checks the token's
//!   signature; with the cache (the routes above, the default), a token presented again
//!   is answered from memory after its first check.
//!
//! `cargo run --release -p jwt-allauth-axum --features jwks --example verify_only_server
//! -- 127.0.0.1:8002 token.txt` serves on 127.0.0.1:8002 and writes a valid EdDSA access
//! token (a day long) to `token.txt`, and an HS256 one to `token.txt.hs256`. See
//! BENCHMARKS.md for the wrk commands.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Verifier;
use ed25519_dalek::pkcs8::DecodePublicKey;
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

/// The floor: see the module documentation.
async fn floor(
    State(key): State<Arc<ed25519_dalek::VerifyingKey>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, StatusCode> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let (message, signature) = token.rsplit_once('.').ok_or(StatusCode::UNAUTHORIZED)?;
    let mut bytes = [0u8; 64];
    match URL_SAFE_NO_PAD.decode_slice(signature, &mut bytes) {
        Ok(64) => {}
        _ => return Err(StatusCode::UNAUTHORIZED),
    }
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    key.verify(message.as_bytes(), &signature)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    let payload = message.split_once('.').ok_or(StatusCode::UNAUTHORIZED)?.1;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    let _claims: Claims = serde_json::from_slice(&payload).map_err(|_| StatusCode::UNAUTHORIZED)?;
    Ok(fixed_body())
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
    let claims = Claims {
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
    };
    let token = TokenCodec::new(issuer, &Settings::default())
        .encode(&claims)
        .unwrap();
    std::fs::write(&token_file, &token).unwrap();
    let secret = b"a benchmark secret of thirty-two bytes or more";
    let hs256_ring = || KeyRing::hmac(Algorithm::HS256, secret).unwrap();
    let hs256 = TokenCodec::new(hs256_ring(), &Settings::default());
    let hs256_uncached = TokenCodec::new(
        hs256_ring().with_verified_token_cache(0),
        &Settings::default(),
    );
    std::fs::write(
        format!("{token_file}.hs256"),
        hs256.encode(&claims).unwrap(),
    )
    .unwrap();
    let dalek =
        Arc::new(ed25519_dalek::VerifyingKey::from_public_key_pem(pair.public_pem()).unwrap());

    let jwks_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/jwks.json", jwks_listener.local_addr().unwrap());
    let jwks_app = Router::new().route("/jwks.json", get(move || async move { jwks }));
    tokio::spawn(async move { axum::serve(jwks_listener, jwks_app).await.unwrap() });
    let keys = RemoteKeySet::builder(jwks_url.clone())
        .build()
        .await
        .unwrap();
    let keys_uncached = RemoteKeySet::builder(jwks_url)
        .verified_token_cache(0)
        .build()
        .await
        .unwrap();

    let app = Router::new()
        .route("/plain/", get(plain))
        .route("/verified/", get(verified))
        .with_state(Authenticator::from_jwks(keys, Clock::system()))
        .merge(Router::new().route("/floor/", get(floor)).with_state(dalek))
        .merge(
            Router::new()
                .route("/verified-hs256/", get(verified))
                .with_state(Authenticator::verify_only(hs256, Clock::system())),
        )
        .merge(
            Router::new()
                .route("/verified-uncached/", get(verified))
                .with_state(Authenticator::from_jwks(keys_uncached, Clock::system())),
        )
        .merge(
            Router::new()
                .route("/verified-hs256-uncached/", get(verified))
                .with_state(Authenticator::verify_only(hs256_uncached, Clock::system())),
        );
    let listener = tokio::net::TcpListener::bind(&bind).await.unwrap();
    eprintln!("serving on http://{bind}; token in {token_file}");
    axum::serve(listener, app).await.unwrap();
}
