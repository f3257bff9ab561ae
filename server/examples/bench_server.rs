//! The benchmark server: exists only for the HTTP benchmarks (`bench/http.sh`,
//! `bench/scale.sh`, `bench/login.sh`); never deploy it.
//!
//! It starts exactly like `jwt-allauth serve` (same flags, settings, migrations, keys and
//! application: [`serve::prepare`], [`app`], [`serve::serve`]) and adds two routes with
//! the same handler body, a fixed JSON document:
//!
//! - `GET /bench/plain/`: no authentication;
//! - `GET /bench/authenticated/`: behind the stateless [`AuthUser`] extractor (a valid
//!   `Authorization: Bearer` access token, no database read), which the handler ignores.
//!
//! - `GET /bench/floor/`: the least work any HS256 verification of the same token must
//!   do, written out by hand (one HMAC-SHA256 from a pre-keyed state, base64url decoding
//!   of the signature and payload, a constant-time comparison, one `serde_json` parse
//!   into [`Claims`]: `floor/hs256` of the micro benchmarks), then the fixed answer.
//!
//! The plain/authenticated ratio is the cost of authenticating a request; the
//! authenticated/floor ratio is how much of it the extractor adds to the work no
//! verification can skip. All three routes are merged after
//! [`app`] has applied its middleware (request logging, security headers, body limit,
//! timeout), so neither pays for it and the ratio is not diluted by it; `/health/`, the
//! same kind of fixed answer inside the middleware, shows what the middleware costs.
//!
//! ```text
//! cargo run --release -p jwt-allauth-server --example bench_server -- \
//!     --database-url sqlite://bench.sqlite3 --bind 127.0.0.1:8000
//! ```

use std::process::ExitCode;

use axum::Router;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use hmac::{Hmac, Mac};
use jwt_allauth::Claims;
use jwt_allauth_axum::AuthUser;
use jwt_allauth_server::cli::{GlobalArgs, ServeArgs};
use jwt_allauth_server::commands::serve;
use jwt_allauth_server::error::{self, CommandError};
use jwt_allauth_server::{Auth, app};
use sha2::Sha256;

/// The answer of both benchmark routes.
const FIXED_BODY: &str = r#"{"status":"ok","benchmark":true}"#;

/// The benchmark server: `jwt-allauth serve` with `/bench/plain/` and
/// `/bench/authenticated/`. Only for benchmarks.
#[derive(Debug, Parser)]
#[command(name = "bench_server")]
struct BenchArgs {
    /// Options of every `jwt-allauth` command.
    #[command(flatten)]
    global: GlobalArgs,
    /// Options of `jwt-allauth serve`.
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    jwt_allauth_server::init_tracing("info");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error::report(&err));
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &BenchArgs) -> Result<(), CommandError> {
    let prepared = serve::prepare(&args.global, &args.serve).await?;
    let keyed = prepared
        .state
        .auth
        .settings()
        .secret_key
        .as_ref()
        .and_then(|secret| Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).ok());
    let router = app(prepared.state.clone())
        .await
        .merge(bench_routes(prepared.state.auth.clone()))
        .merge(floor_route(keyed));
    serve::serve(&prepared, router).await
}

/// `GET /bench/plain/` and `GET /bench/authenticated/`.
fn bench_routes(auth: Auth) -> Router {
    Router::new()
        .route("/bench/plain/", get(plain))
        .route("/bench/authenticated/", get(authenticated))
        .with_state(auth)
}

/// `GET /bench/floor/`, with the HMAC keyed by `SECRET_KEY` (none with an asymmetric
/// key: the route then answers 401).
fn floor_route(keyed: Option<Hmac<Sha256>>) -> Router {
    Router::new()
        .route("/bench/floor/", get(floor))
        .with_state(keyed)
}

/// The fixed JSON answer.
fn fixed_body() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        FIXED_BODY,
    )
}

/// `GET /bench/plain/`: the fixed answer, to anyone.
async fn plain() -> impl IntoResponse {
    fixed_body()
}

/// `GET /bench/authenticated/`: the fixed answer, to a caller with a valid access token.
async fn authenticated(_caller: AuthUser) -> impl IntoResponse {
    fixed_body()
}

/// `GET /bench/floor/`: the fixed answer after the floor of an HS256 verification of the
/// Bearer token (401 with an empty body if it fails).
async fn floor(State(keyed): State<Option<Hmac<Sha256>>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match (keyed, token) {
        (Some(keyed), Some(token)) if floor_hs256(&keyed, token).is_some() => {
            fixed_body().into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// What any HS256 verification of `token` into [`Claims`] must do, and nothing more.
fn floor_hs256(keyed: &Hmac<Sha256>, token: &str) -> Option<Claims> {
    let (message, signature) = token.rsplit_once('.')?;
    let (_, payload) = message.split_once('.')?;
    let mut tag = [0u8; 32];
    let len = URL_SAFE_NO_PAD.decode_slice(signature, &mut tag).ok()?;
    let mut mac = keyed.clone();
    mac.update(message.as_bytes());
    mac.verify_slice(tag.get(..len)?).ok()?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&payload).ok()
}
