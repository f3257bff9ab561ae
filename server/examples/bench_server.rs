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
//! Their ratio is the cost of authenticating a request. Both routes are merged after
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
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Parser;
use jwt_allauth_axum::AuthUser;
use jwt_allauth_server::cli::{GlobalArgs, ServeArgs};
use jwt_allauth_server::commands::serve;
use jwt_allauth_server::error::{self, CommandError};
use jwt_allauth_server::{Auth, app};

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
    let router = app(prepared.state.clone())
        .await
        .merge(bench_routes(prepared.state.auth.clone()));
    serve::serve(&prepared, router).await
}

/// `GET /bench/plain/` and `GET /bench/authenticated/`.
fn bench_routes(auth: Auth) -> Router {
    Router::new()
        .route("/bench/plain/", get(plain))
        .route("/bench/authenticated/", get(authenticated))
        .with_state(auth)
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
