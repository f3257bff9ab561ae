//! Serves the embedded example: `cargo run -p jwt-allauth-example-embedded`.
//!
//! Settings are the library's defaults with `cookie_secure` off, overlaid with the
//! library's `JWT_ALLAUTH_*` environment variables (`JWT_ALLAUTH_SECRET_KEY`,
//! `JWT_ALLAUTH_ACCESS_TOKEN_LIFETIME`, ...). The example's own are `BIND` (default
//! 127.0.0.1:3000) and `DATABASE_URL`: without it, sessions live in memory. Without a
//! secret the demo constant is used.

use std::net::SocketAddr;

use jwt_allauth::{BoxError, Secret};
use jwt_allauth_example_embedded::{Accounts, AppState, DEMO_SECRET, DEMO_STAFF, DEMO_USER};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let (mut settings, mut http) =
        jwt_allauth_example_embedded::local_settings(Secret::new(DEMO_SECRET));
    jwt_allauth_example_embedded::apply_env_vars(&mut settings, &mut http, std::env::vars())?;
    if settings
        .secret_key
        .as_ref()
        .is_some_and(|secret| secret.expose() == DEMO_SECRET)
    {
        tracing::warn!("using the demo secret; set JWT_ALLAUTH_SECRET_KEY outside a demo");
    }
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".to_owned());
    let bind: SocketAddr = match std::env::var("BIND") {
        Ok(bind) => bind.parse()?,
        Err(_) => SocketAddr::from(([127, 0, 0, 1], 3000)),
    };

    let accounts = Accounts::seeded().await?;
    let state = AppState::new(settings, http, &database_url, accounts, "embedded example").await?;
    let app = jwt_allauth_example_embedded::app(state);

    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(
        address = %listener.local_addr()?,
        user = DEMO_USER.0,
        staff = DEMO_STAFF.0,
        "listening; log in at /auth/login/"
    );
    // The peer address feeds the per-IP login throttle and the sessions' IP.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C; serving until killed");
            std::future::pending::<()>().await;
        }
    })
    .await?;
    Ok(())
}
