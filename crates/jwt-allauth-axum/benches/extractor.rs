//! What the [`AuthUser`] extractor costs a request: the same handler, answering a fixed
//! JSON document, called through a tiny [`Router`] with `oneshot`, once on a route without
//! authentication and once behind `AuthUser` (as `GET /bench/plain/` and
//! `GET /bench/authenticated/` of `server/examples/bench_server.rs`, without HTTP).
//!
//! Both routes get the same request, with the same valid HS256 `Authorization: Bearer`
//! access token, so their difference is the extractor alone (the HTTP benchmark,
//! `bench/http.sh`, also counts hyper parsing the header). `access_decode/hs256` is
//! [`AccessToken::decode`] of that token alone: the floor of the difference, the
//! verification no extractor can avoid (plus a copy of the token text, which the
//! extractor does not make). `ACCESS_TOKEN_SESSION_CHECK` is off, as by default: the
//! extractor reads no database.
//!
//! On a shared machine the speed changes in phases lasting seconds, so before the
//! criterion group the ratio is also measured paired: the two routes run in alternating
//! batches of 200 requests, and the quartiles of the per-batch ratios are printed, with
//! the median extractor cost per request next to the decode floor.
//!
//! Run with `cargo bench -p jwt-allauth-axum --bench extractor`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use jwt_allauth::keys::{Algorithm, KeyRing};
use jwt_allauth::{
    AccessToken, Claims, ExtraClaims, SessionManager, Settings, TokenType, User, UserStore,
    UserStoreError,
};
use jwt_allauth_axum::{AuthState, AuthUser, HttpSettings};
use jwt_allauth_sqlx::SqliteStore;
use time::OffsetDateTime;
use tokio::runtime::Runtime;
use tower::ServiceExt;

const SECRET: &[u8] = b"a benchmark secret of thirty-two bytes or more";

/// The answer of both routes (the benchmark server's).
const FIXED_BODY: &str = r#"{"status":"ok","benchmark":true}"#;

/// A user type for the store the extractor never calls.
#[derive(Debug, Clone)]
struct BenchUser;

impl User for BenchUser {
    fn id(&self) -> String {
        "7".to_owned()
    }

    fn is_active(&self) -> bool {
        true
    }

    fn email_verified(&self) -> bool {
        true
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "id": 7 })
    }
}

/// A user store with no users: `AuthUser` never loads one.
#[derive(Debug, Clone)]
struct NoUsers;

impl UserStore for NoUsers {
    type User = BenchUser;

    async fn load_user(&self, _user_id: &str) -> Result<Option<BenchUser>, UserStoreError> {
        Ok(None)
    }
}

type State = AuthState<NoUsers>;

/// Access-token claims as a login makes them, valid for a day.
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

/// The fixed JSON answer.
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

/// One request through `router`, with `authorization`; the response's status.
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

/// Seconds per call of `f`, over one batch of `batch` calls.
fn time_batch(f: &mut dyn FnMut(), batch: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed().as_secs_f64() / f64::from(batch)
}

/// Seconds per call of `a` and of `b`, timed in alternating batches (`b` first every other
/// round), one pair per round.
fn paired_times(
    mut a: impl FnMut(),
    mut b: impl FnMut(),
    batch: u32,
    rounds: usize,
) -> Vec<(f64, f64)> {
    (0..rounds)
        .map(|round| {
            if round % 2 == 0 {
                let ta = time_batch(&mut a, batch);
                (ta, time_batch(&mut b, batch))
            } else {
                let tb = time_batch(&mut b, batch);
                (time_batch(&mut a, batch), tb)
            }
        })
        .collect()
}

/// The median and quartiles of `values`.
fn quartiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    (values[n / 2], values[n / 4], values[n * 3 / 4])
}

/// The median of `seconds`, in nanoseconds.
fn median_ns(seconds: Vec<f64>) -> f64 {
    quartiles(seconds).0 * 1e9
}

fn extractor(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // An in-memory SQLite store the extractor never reads (the session check is off).
    let store = runtime
        .block_on(SqliteStore::connect("sqlite::memory:"))
        .unwrap();
    let settings = Settings::default();
    assert!(!settings.access_token_session_check);
    let keys = KeyRing::hmac(Algorithm::HS256, SECRET).unwrap();
    let manager = SessionManager::new(settings, keys, store, NoUsers);
    let token = manager
        .codec()
        .encode(&access_claims(OffsetDateTime::now_utc()))
        .unwrap();
    let authorization = format!("Bearer {token}");
    let state: State =
        AuthState::with_user_agent_parser(manager, HttpSettings::default(), None).unwrap();
    let router = Router::new()
        .route("/plain", get(plain))
        .route("/authenticated", get(authenticated))
        .with_state(state.clone());

    // Both routes answer the request; the extractor accepts the token and rejects none.
    assert_eq!(
        call(&runtime, &router, "/plain", &authorization),
        StatusCode::OK
    );
    assert_eq!(
        call(&runtime, &router, "/authenticated", &authorization),
        StatusCode::OK
    );
    assert_eq!(
        call(&runtime, &router, "/authenticated", "Bearer garbage"),
        StatusCode::UNAUTHORIZED
    );
    let codec = state.manager().codec();
    let decode = || AccessToken::decode(codec, black_box(&token), OffsetDateTime::now_utc());
    assert_eq!(decode().unwrap().user_id(), "7");

    // Only under `cargo bench` (not when `cargo test --benches` runs each benchmark once,
    // nor with `--profile-time`, under a profiler).
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--profile-time") {
        let pairs = paired_times(
            || {
                black_box(call(&runtime, &router, "/authenticated", &authorization));
            },
            || {
                black_box(call(&runtime, &router, "/plain", &authorization));
            },
            200,
            1000,
        );
        let mut decode_once = || {
            black_box(decode().unwrap());
        };
        let decodes: Vec<f64> = (0..200)
            .map(|_| time_batch(&mut decode_once, 200))
            .collect();
        let (ratio, low, high) =
            quartiles(pairs.iter().map(|(auth, plain)| plain / auth).collect());
        println!(
            "paired plain ÷ authenticated (rate authenticated ÷ plain): median {ratio:.3} \
             (quartiles {low:.3}–{high:.3}) over {} rounds of 200",
            pairs.len(),
        );
        println!(
            "paired medians per request: plain {:.0} ns, authenticated {:.0} ns, \
             authenticated − plain {:.0} ns; access_decode/hs256 alone {:.0} ns",
            median_ns(pairs.iter().map(|(_, plain)| *plain).collect()),
            median_ns(pairs.iter().map(|(auth, _)| *auth).collect()),
            median_ns(pairs.iter().map(|(auth, plain)| auth - plain).collect()),
            median_ns(decodes),
        );
    }

    let mut group = c.benchmark_group("extractor");
    group.bench_function("plain", |b| {
        b.iter(|| call(&runtime, &router, "/plain", black_box(&authorization)))
    });
    group.bench_function("authenticated", |b| {
        b.iter(|| {
            call(
                &runtime,
                &router,
                "/authenticated",
                black_box(&authorization),
            )
        })
    });
    group.bench_function("access_decode/hs256", |b| b.iter(|| decode().unwrap()));
    group.finish();
}

criterion_group!(benches, extractor);
criterion_main!(benches);
