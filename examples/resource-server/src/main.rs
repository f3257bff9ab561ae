//! `resource-server --jwks-url URL [--bind ADDR]`: serves the example's routes,
//! verifying access tokens with the issuer's JWKS.

use std::process::ExitCode;

use clap::Parser;

/// A service that accepts jwt-allauth access tokens, verified with the issuer's JWKS.
#[derive(Parser)]
struct Args {
    /// The issuer's JWKS URL, e.g. http://127.0.0.1:8000/.well-known/jwks.json (plain http
    /// only to a loopback address).
    #[arg(long, env = "RESOURCE_SERVER_JWKS_URL")]
    jwks_url: String,
    /// The address to listen on.
    #[arg(long, env = "RESOURCE_SERVER_BIND", default_value = "127.0.0.1:8001")]
    bind: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut text = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("resource-server: {text}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let app = jwt_allauth_example_resource_server::app_from_jwks_url(&args.jwks_url).await?;
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
