//! [`MetricsExporter`]: the Prometheus recorder, and the listener serving `GET /metrics`
//! on `METRICS_BIND`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::requests::start_recording;
use super::{
    DB_POOL_CONNECTIONS, Gauges, HTTP_DURATION_BUCKETS, HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUESTS_TOTAL, MAILS_TOTAL, REVOCATION_FEED_FALLBACK, REVOCATION_FEED_LAG_SECONDS,
    REVOCATIONS_TOTAL,
};

/// The path of the metrics, on `METRICS_BIND` only.
pub const METRICS_PATH: &str = "/metrics";

/// The content type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histograms are folded into their buckets between scrapes, so that samples
/// do not pile up when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Why metrics cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The Prometheus recorder cannot be built or installed (installed twice).
    #[error("cannot install the metrics recorder")]
    Install(#[source] BuildError),
    /// `METRICS_BIND` cannot be bound.
    #[error("cannot listen on METRICS_BIND {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The process's Prometheus recorder: once installed, every series of
/// [`monitoring`](super) is recorded.
#[derive(Debug, Clone)]
pub struct MetricsExporter {
    handle: PrometheusHandle,
}

impl MetricsExporter {
    /// Installs the recorder for the whole process (once: a second call fails), with
    /// real histogram buckets for the request durations, and starts recording requests.
    pub fn install() -> Result<Self, MetricsError> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
                &HTTP_DURATION_BUCKETS,
            )
            .map_err(MetricsError::Install)?
            .install_recorder()
            .map_err(MetricsError::Install)?;
        describe();
        start_recording();
        Ok(Self { handle })
    }

    /// The metrics now, in the Prometheus text format, with `gauges` sampled first.
    pub fn render(&self, gauges: &Gauges) -> String {
        gauges.update(OffsetDateTime::now_utc());
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// Listens on `addr` and serves `GET /metrics` there (anything else is 404), until
    /// the returned listener is dropped.
    pub async fn listen(
        &self,
        addr: SocketAddr,
        gauges: Gauges,
    ) -> Result<MetricsListener, MetricsError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| MetricsError::Bind { addr, source })?;
        let local = listener.local_addr().unwrap_or(addr);
        let router = Router::new()
            .route(METRICS_PATH, get(scrape))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state(Scrape {
                exporter: self.clone(),
                gauges,
            });
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
        let handle = self.handle.clone();
        let upkeep = tokio::spawn(async move {
            loop {
                tokio::time::sleep(UPKEEP_INTERVAL).await;
                handle.run_upkeep();
            }
        });
        tracing::info!(address = %local, "metrics served at {METRICS_PATH}");
        Ok(MetricsListener {
            local,
            tasks: [server, upkeep],
        })
    }
}

/// The running metrics listener: it stops when dropped.
#[derive(Debug)]
pub struct MetricsListener {
    local: SocketAddr,
    tasks: [JoinHandle<()>; 2],
}

impl MetricsListener {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for MetricsListener {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[derive(Clone)]
struct Scrape {
    exporter: MetricsExporter,
    gauges: Gauges,
}

async fn scrape(State(scrape): State<Scrape>) -> Response {
    let body = scrape.exporter.render(&scrape.gauges);
    (
        [(CONTENT_TYPE, TEXT_FORMAT), (CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response()
}

/// The `# HELP` lines of the server's series.
fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by route template and status."
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "How long HTTP requests took, by route template."
    );
    metrics::describe_counter!(
        jwt_allauth_axum::counters::LOGINS_TOTAL,
        "Logins, by outcome."
    );
    metrics::describe_counter!(
        jwt_allauth_axum::counters::ROTATIONS_TOTAL,
        "Refresh-token rotations, by outcome."
    );
    metrics::describe_counter!(
        jwt_allauth_axum::counters::REPLAYS_TOTAL,
        "Refresh tokens replayed after rotation (their session was revoked)."
    );
    // Present from the first scrape, at 0: a series with no labels has nothing to wait for.
    metrics::counter!(jwt_allauth_axum::counters::REPLAYS_TOTAL).increment(0);
    metrics::describe_counter!(
        REVOCATIONS_TOTAL,
        "Sessions ended by this instance, by reason."
    );
    metrics::describe_counter!(
        MAILS_TOTAL,
        "Mails, by state: queued, delivered, retried, failed."
    );
    metrics::describe_gauge!(
        REVOCATION_FEED_LAG_SECONDS,
        metrics::Unit::Seconds,
        "Seconds since the revocation feed last read the whole event log."
    );
    metrics::describe_gauge!(
        REVOCATION_FEED_FALLBACK,
        "1 while access-token checks ask the database because the revocation set is behind."
    );
    metrics::describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database connections, by pool and state."
    );
}
