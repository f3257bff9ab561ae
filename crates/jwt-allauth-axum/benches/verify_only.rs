//! A verify-only service (no store, keys from a JWKS URL) and EdDSA verification against
//! its floor.
//!
//! - `verify_only/plain` and `verify_only/jwks`: the same fixed JSON answer through a
//!   tiny [`Router`] with `oneshot`, on a route without authentication and on one behind
//!   [`AuthUser`] over [`Authenticator::from_jwks`], with the same EdDSA access token
//!   (`verify_only/key_ring`: the same behind [`Authenticator::verify_only`] over the same
//!   keys, to show that the JWKS path adds nothing for a known key).
//!   `verify_only/key_ring_uncached`: the same with the ring's cache of verified tokens
//!   off (`KeyRing::with_verified_token_cache(0)`), so that every request checks the
//!   signature; the other two check it once and answer the same token from the cache
//!   afterwards, as a service does for a client presenting its token again.
//! - `eddsa/codec_decode`: [`TokenCodec::decode`] of that token with a codec over the same
//!   public key and no cache (header, key selection by `kid`, Ed25519 signature, payload,
//!   claim checks); `eddsa/codec_decode_remembered`: the same with the cache (the
//!   token's SHA-256, a look-up, the claims copied, claim checks).
//! - `eddsa/floor`: what no verifier of this token can skip: base64url-decode the
//!   signature, one Ed25519 verification (`ed25519_dalek`, RFC 8032 `verify`, as the
//!   codec does) of `header.payload` with the key already in hand, base64url-decode the
//!   payload and parse it into [`Claims`]. It reads no header and checks no claim.
//!
//! The JWKS is served by an axum router on 127.0.0.1 in the same process, fetched once.
//! Run with `cargo bench -p jwt-allauth-axum --features jwks --bench verify_only`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::Verifier;
use ed25519_dalek::pkcs8::DecodePublicKey;
use jwt_allauth::keys::{Algorithm, KeyPair, KeyRing};
use jwt_allauth::{Claims, ExtraClaims, Settings, TokenCodec, TokenType};
use jwt_allauth_axum::jwks::RemoteKeySet;
use jwt_allauth_axum::{AuthUser, Authenticator, Clock};
use time::OffsetDateTime;
use tokio::runtime::Runtime;
use tower::ServiceExt;

const FIXED_BODY: &str = r#"{"status":"ok","benchmark":true}"#;
const KID: &str = "bench-ed25519";

fn fixed_body() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        FIXED_BODY,
    )
}

async fn plain() -> impl IntoResponse {
    fixed_body()
}

async fn authenticated(_caller: AuthUser) -> impl IntoResponse {
    fixed_body()
}

fn access_claims(now: OffsetDateTime) -> Claims {
    Claims {
        token_type: TokenType::Access,
        exp: now.unix_timestamp() + 86_400,
        iat: now.unix_timestamp(),
        jti: "0123456789abcdef0123456789abcdef".into(),
        user_id: "7".into(),
        session: Some("fedcba9876543210fedcba9876543210".into()),
        session_iat: Some(now.unix_timestamp()),
        role: 0,
        email_verified: true,
        iss: None,
        aud: None,
        extra: ExtraClaims::new(),
    }
}

fn router(authenticator: Authenticator) -> Router {
    Router::new()
        .route("/plain", get(plain))
        .route("/authenticated", get(authenticated))
        .with_state(authenticator)
}

fn call(runtime: &Runtime, router: &Router, uri: &'static str, authorization: &str) -> StatusCode {
    let request = Request::get(uri)
        .header(AUTHORIZATION, authorization)
        .body(Body::empty())
        .unwrap();
    runtime
        .block_on(router.clone().oneshot(request))
        .unwrap()
        .status()
}

/// The floor: signature and payload decoded, one Ed25519 verification, claims parsed.
fn floor(token: &str, key: &ed25519_dalek::VerifyingKey) -> Claims {
    let (message, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = [0u8; 64];
    let len = URL_SAFE_NO_PAD.decode_slice(signature, &mut bytes).unwrap();
    assert_eq!(len, 64);
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    key.verify(message.as_bytes(), &signature).unwrap();
    let payload = URL_SAFE_NO_PAD
        .decode(message.split_once('.').unwrap().1)
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

fn verify_only(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pair = KeyPair::generate(Algorithm::EdDSA).unwrap();
    let issuer = KeyRing::new(
        pair.signing_key().unwrap().with_key_id(KID),
        pair.verifying_key().unwrap(),
    )
    .unwrap();
    let jwks = serde_json::to_string(&issuer.jwks()).unwrap();
    let token = TokenCodec::new(issuer, &Settings::default())
        .encode(&access_claims(OffsetDateTime::now_utc()))
        .unwrap();
    let authorization = format!("Bearer {token}");

    let keys = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let app = Router::new().route("/jwks.json", get(move || async move { jwks }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RemoteKeySet::builder(url).build().await.unwrap()
    });
    let codec = keys.codec().clone();
    let from_jwks = router(Authenticator::from_jwks(keys, Clock::system()));
    let public_ring =
        || KeyRing::verify_only([pair.verifying_key().unwrap().with_key_id(KID)]).unwrap();
    let from_ring = router(Authenticator::verify_only(
        TokenCodec::new(public_ring(), &Settings::default()),
        Clock::system(),
    ));
    let uncached = TokenCodec::new(
        public_ring().with_verified_token_cache(0),
        &Settings::default(),
    );
    let from_ring_uncached = router(Authenticator::verify_only(
        uncached.clone(),
        Clock::system(),
    ));
    let dalek = ed25519_dalek::VerifyingKey::from_public_key_pem(pair.public_pem()).unwrap();

    assert_eq!(
        call(&runtime, &from_jwks, "/plain", &authorization),
        StatusCode::OK
    );
    assert_eq!(
        call(&runtime, &from_jwks, "/authenticated", &authorization),
        StatusCode::OK
    );
    assert_eq!(
        call(&runtime, &from_ring, "/authenticated", &authorization),
        StatusCode::OK
    );
    assert_eq!(
        call(
            &runtime,
            &from_ring_uncached,
            "/authenticated",
            &authorization
        ),
        StatusCode::OK
    );
    let decode = || {
        uncached
            .decode(
                black_box(&token),
                TokenType::Access,
                OffsetDateTime::now_utc(),
            )
            .unwrap()
    };
    let decode_remembered = || {
        codec
            .decode(
                black_box(&token),
                TokenType::Access,
                OffsetDateTime::now_utc(),
            )
            .unwrap()
    };
    assert_eq!(decode(), floor(&token, &dalek));
    assert_eq!(decode_remembered(), floor(&token, &dalek));

    let mut group = c.benchmark_group("verify_only");
    group.bench_function("plain", |b| {
        b.iter(|| call(&runtime, &from_jwks, "/plain", black_box(&authorization)))
    });
    group.bench_function("jwks", |b| {
        b.iter(|| {
            call(
                &runtime,
                &from_jwks,
                "/authenticated",
                black_box(&authorization),
            )
        })
    });
    group.bench_function("key_ring", |b| {
        b.iter(|| {
            call(
                &runtime,
                &from_ring,
                "/authenticated",
                black_box(&authorization),
            )
        })
    });
    group.bench_function("key_ring_uncached", |b| {
        b.iter(|| {
            call(
                &runtime,
                &from_ring_uncached,
                "/authenticated",
                black_box(&authorization),
            )
        })
    });
    group.finish();

    let mut group = c.benchmark_group("eddsa");
    group.bench_function("codec_decode", |b| b.iter(decode));
    group.bench_function("codec_decode_remembered", |b| b.iter(decode_remembered));
    group.bench_function("floor", |b| b.iter(|| floor(black_box(&token), &dalek)));
    group.finish();
}

criterion_group!(benches, verify_only);
criterion_main!(benches);
