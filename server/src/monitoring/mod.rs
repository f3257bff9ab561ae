//! Prometheus metrics: what the server records, and the listener that serves them on
//! `METRICS_BIND` (never on `BIND`).
//!
//! Nothing is recorded until [`MetricsExporter::install`] installs the recorder, which
//! `serve` does only when `METRICS_BIND` is set; until then every series below costs an
//! atomic load. Where each series is recorded:
//!
//! | series | recorded by |
//! |---|---|
//! | [`HTTP_REQUESTS_TOTAL`], [`HTTP_REQUEST_DURATION_SECONDS`] | [`RequestRecording`], by the request guard of [`app`](crate::app) |
//! | `jwt_allauth_logins_total`, `jwt_allauth_rotations_total`, `jwt_allauth_replays_total` | the routers ([`jwt_allauth_axum::counters`]) |
//! | [`REVOCATIONS_TOTAL`] | [`MeteredStore`], around the session store |
//! | [`MAILS_TOTAL`] | the mail outbox and its worker ([`crate::mail`]) |
//! | `jwt_allauth_webhook_deliveries_total` | the webhook deliveries |
//! | [`REVOCATION_FEED_LAG_SECONDS`], [`REVOCATION_FEED_FALLBACK`], [`DB_POOL_CONNECTIONS`] | [`Gauges`], read at each scrape |

mod exporter;
mod gauges;
mod metered_store;
mod requests;

pub use exporter::{MetricsError, MetricsExporter};
pub use gauges::Gauges;
pub use metered_store::{MeteredStore, ended as sessions_ended};
pub use requests::{RequestRecording, UNMATCHED_ROUTE};

/// Counter: HTTP requests answered, by `route` (the route's template, such as
/// `/sessions/{id}/`, or [`UNMATCHED_ROUTE`]) and `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "jwt_allauth_http_requests_total";

/// Histogram: how long requests took, in seconds, by `route`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "jwt_allauth_http_request_duration_seconds";

/// The buckets of [`HTTP_REQUEST_DURATION_SECONDS`], in seconds: from 0.5 ms (a token
/// check) to 10 s (a request near the request timeout).
pub const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counter: sessions this instance ended, by `reason` (the reasons of the
/// `session.revoked` event: `logout`, `logout_all`, `replay`, `password_change`,
/// `password_reset`, `admin`, `deactivated`, `deleted`, `expired`).
pub const REVOCATIONS_TOTAL: &str = "jwt_allauth_revocations_total";

/// Counter: mails by `state`: `queued` (written to the outbox), `delivered` (accepted by
/// the mail server), `retried` (failed, tried again later) and `failed` (given up).
pub const MAILS_TOTAL: &str = "jwt_allauth_mails_total";

/// Gauge: seconds since the revocation feed last confirmed it had read the whole event
/// log (absent when `REVOCATION_FEED` is off).
pub const REVOCATION_FEED_LAG_SECONDS: &str = "jwt_allauth_revocation_feed_lag_seconds";

/// Gauge: 1 while access-token checks ask the database because the revocation set
/// cannot be trusted (feed behind by more than the bound, or set full), else 0.
pub const REVOCATION_FEED_FALLBACK: &str = "jwt_allauth_revocation_feed_fallback";

/// Gauge: database connections by `pool` (`main`; on PostgreSQL also `reads`, the user
/// reads, and `feed`, the revocation feed's) and `state` (`open`, `idle`).
pub const DB_POOL_CONNECTIONS: &str = "jwt_allauth_db_pool_connections";
