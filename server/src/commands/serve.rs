//! `serve`: migrate, then serve HTTP until SIGINT or SIGTERM.
//!
//! [`prepare`] and [`serve`] are the two halves of the command, public so that a program
//! serving a router of its own around [`app`] (the benchmark server,
//! `server/examples/bench_server.rs`) starts exactly like `jwt-allauth serve`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::config::{self, Overrides, ServerSettings};
use crate::connections::{self, ConnectionLimits};
use crate::db::{Database, DatabaseUrl, DbError};
use crate::error::CommandError;
use crate::file_limit::{self, OpenFileLimit, Raised};
use crate::keys::{self, KeyReloader, KeySource, RingSummary, SigningKeys};
use crate::mail::{EmailUrl, MailTransport, MailWorker, WorkerConfig};
use crate::monitoring::{Gauges, MetricsExporter};
use crate::passwords::Passwords;
use crate::webhooks::WebhookDelivery;
use crate::{AppState, app, revocations};

pub(super) async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<(), CommandError> {
    let prepared = prepare(global, args).await?;
    let router = app(prepared.state.clone()).await;
    serve(&prepared, router).await
}

/// A server ready to listen: its state and where it listens.
#[derive(Debug)]
pub struct Prepared {
    /// The application state, on the migrated database.
    pub state: AppState,
    /// The address to listen on (`--bind`, else the `BIND` setting).
    pub addr: SocketAddr,
    /// The database URL (`Display` and `Debug` without its password).
    pub database_url: DatabaseUrl,
    /// The server's settings (connections).
    pub server: ServerSettings,
    /// Where mail goes (`EMAIL_URL`), checked at start.
    pub mail_transport: MailTransport,
    /// Where the key ring comes from, reloaded every [`key_reload_interval`](Self::key_reload_interval).
    pub key_source: KeySource,
    /// `KEY_RELOAD_INTERVAL`.
    pub key_reload_interval: Duration,
}

/// Everything `serve` does before it listens: loads the settings (file, environment,
/// `args`), refuses a weak HMAC secret outside `DEVELOPMENT_MODE`, connects and
/// migrates, prepares the mail transport (creating the mail directory of a `file://`
/// `EMAIL_URL`), loads or creates the signing key, builds the key ring from the settings
/// and the database's keys (failing when they cannot be decrypted), prepares the
/// password hasher and builds the [`AppState`] (which loads the mail templates).
pub async fn prepare(global: &GlobalArgs, args: &ServeArgs) -> Result<Prepared, CommandError> {
    let mut config = config::load_config(
        global.config.as_deref(),
        &Overrides {
            database_url: global.database_url.as_deref(),
            bind: args.bind,
        },
    )?;
    config::check_secret_strength(&config)?;
    let text = config::database_url(&config);
    let url = DatabaseUrl::parse(text).map_err(|source| DbError::invalid_url(text, source))?;
    let db = Database::connect_to(&url).await?;
    db.migrate().await?;
    let email_url = config::email_url(&config);
    if let EmailUrl::File(dir) = &email_url {
        std::fs::create_dir_all(dir).map_err(|source| CommandError::MailDirectory {
            dir: dir.clone(),
            source,
        })?;
    }
    let mail_transport = MailTransport::from_url(&email_url, config.mail.email_from.clone())
        .map_err(CommandError::MailTransport)?;
    let explicit = keys::explicit_signing_key(&config);
    config::ensure_signing_key(&mut config)?;
    let settings_ring = config::signing_keys(&config).map_err(CommandError::Keys)?;
    let key_source = KeySource::new(
        &config,
        settings_ring,
        explicit,
        SigningKeys::new(db.clone()),
    )?;
    let ring = key_source.ring(OffsetDateTime::now_utc()).await?;
    let key_reload_interval = config.keys.key_reload_interval;
    let addr = config.server.bind;
    let server = config.server.clone();
    let passwords = Passwords::new();
    passwords.warm_up().await.map_err(CommandError::Passwords)?;
    let state = AppState::with_keys(config, db, passwords, ring).map_err(CommandError::State)?;
    Ok(Prepared {
        state,
        addr,
        database_url: url,
        server,
        mail_transport,
        key_source,
        key_reload_interval,
    })
}

/// Serves `router` on `prepared.addr`, with the peer address available to handlers,
/// until SIGINT or SIGTERM; in-flight requests then finish and the database pool is
/// closed. First raises the soft open-file limit to the hard one where it can; then
/// serves within `HEADER_READ_TIMEOUT`, `IDLE_TIMEOUT` and `MAX_CONNECTIONS` (fitted
/// under the open-file limit), as [`connections::serve`] describes. Reloads the key ring
/// every `KEY_RELOAD_INTERVAL` meanwhile ([`KeyReloader`]), and posts the event log to
/// `WEBHOOK_URLS` ([`WebhookDelivery`]), stopped before the pool closes. With
/// `METRICS_BIND`, installs the metrics recorder and serves `/metrics` there
/// ([`MetricsExporter`]).
pub async fn serve(prepared: &Prepared, router: Router) -> Result<(), CommandError> {
    let open_files = raise_open_file_limit();
    let settings = &prepared.server;
    let limits = ConnectionLimits::new(settings, open_files.soft);
    if limits.max_connections < settings.max_connections {
        tracing::warn!(
            "MAX_CONNECTIONS {} does not fit the open-file limit {}: serving at most {} \
             connections at once",
            settings.max_connections,
            file_limit::show(&open_files.soft),
            limits.max_connections
        );
    }
    // Listening for SIGINT and SIGTERM starts before the listener exists: a signal sent
    // as soon as the first request is answered must shut down gracefully, not kill.
    let shutdown = shutdown_signal();
    let addr = prepared.addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| CommandError::Bind { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    tracing::info!(
        address = %local,
        database = %prepared.database_url,
        header_read_timeout = ?limits.header_read_timeout,
        idle_timeout = ?limits.idle_timeout,
        max_connections = limits.max_connections,
        "jwt-allauth listening"
    );
    tracing::info!(
        destination = prepared.mail_transport.destination(),
        "mail is delivered from the outbox"
    );
    RingSummary::of(&prepared.state.manager().codec().keys()).log("signing keys loaded");
    // Before the first request: the set is live when the listener accepts.
    let feed = match prepared.state.manager().revocations() {
        Some(set) => {
            let retention = revocations::retention(prepared.state.manager().settings());
            Some(
                revocations::start_feed(&prepared.state.db, Arc::clone(set), retention)
                    .await
                    .map_err(CommandError::RevocationFeed)?,
            )
        }
        None => None,
    };
    let metrics = match settings.metrics_bind {
        Some(addr) => {
            let exporter = MetricsExporter::install()?;
            let gauges = Gauges::new(
                prepared.state.db.clone(),
                prepared.state.manager().revocations().cloned(),
            )
            .with_read_pool(prepared.state.users.read_pool().cloned())
            .with_feed_pool(feed.as_ref().and_then(|feed| feed.pool().cloned()));
            Some(exporter.listen(addr, gauges).await?)
        }
        None => None,
    };
    let key_reloader = KeyReloader::spawn(
        prepared.key_source.clone(),
        prepared.state.manager().codec().clone(),
        prepared.key_reload_interval,
    );
    let worker = MailWorker::spawn(
        prepared.state.outbox.clone(),
        prepared.mail_transport.clone(),
        WorkerConfig::default(),
    );
    let webhooks = match &prepared.server.webhook_secret {
        Some(secret) => {
            WebhookDelivery::start(&prepared.state.db, &prepared.server.webhook_urls, secret)
                .map_err(CommandError::Webhooks)?
        }
        None => None,
    };
    connections::serve(listener, router, limits, shutdown).await;
    drop(key_reloader);
    drop(metrics);
    if let Some(feed) = feed {
        feed.stop().await;
    }
    // A mail the SMTP server is accepting finishes; the rest stays queued.
    if tokio::time::timeout(MAIL_SHUTDOWN_GRACE, worker.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("the mail worker did not stop in time; queued mail stays queued");
    }
    // An attempt in flight is abandoned (sent again later); the leases are given back.
    if let Some(webhooks) = webhooks
        && tokio::time::timeout(MAIL_SHUTDOWN_GRACE, webhooks.shutdown())
            .await
            .is_err()
    {
        tracing::warn!(
            "the webhook delivery did not stop in time; other instances take over when its leases run out"
        );
    }
    prepared.state.db.close().await;
    tracing::info!("jwt-allauth stopped");
    Ok(())
}

/// How long `serve` waits at shutdown for a mail being delivered.
const MAIL_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Raises the soft open-file limit to the hard one ([`file_limit::raise_to_hard`]),
/// logging what it did; the limits then in force.
fn raise_open_file_limit() -> OpenFileLimit {
    match file_limit::raise_to_hard() {
        Ok(Raised { before, after }) if before != after => {
            tracing::info!(
                "raised the open-file limit from {} to {}",
                file_limit::show(&before.soft),
                file_limit::show(&after.soft)
            );
            after
        }
        Ok(Raised { after, .. }) => {
            tracing::info!("open-file limit {}", file_limit::show(&after.soft));
            after
        }
        Err(error) => {
            tracing::warn!("{}", crate::error::report(&error));
            OpenFileLimit::current()
        }
    }
}

/// Starts listening for SIGINT (Ctrl-C) and SIGTERM at once (not when first polled: a
/// signal that comes before then would take the default action and kill the process),
/// and resolves at the first of them: in-flight requests then finish and no new
/// connection is accepted. A signal that cannot be listened for is logged and never
/// resolves.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &'static str| {
            let stream = signal(kind)
                .inspect_err(|error| tracing::error!(%error, "cannot listen for {name}"))
                .ok();
            async move {
                match stream {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
        };
        (
            listen(SignalKind::interrupt(), "SIGINT"),
            listen(SignalKind::terminate(), "SIGTERM"),
        )
    };
    #[cfg(not(unix))]
    let (interrupt, terminate) = (
        async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::error!(%error, "cannot listen for SIGINT");
                std::future::pending::<()>().await;
            }
        },
        std::future::pending::<()>(),
    );
    async move {
        tokio::select! {
            () = interrupt => tracing::info!("SIGINT received: shutting down"),
            () = terminate => tracing::info!("SIGTERM received: shutting down"),
        }
    }
}
