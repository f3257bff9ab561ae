//! [`record_request`]: requests by route and status, and their duration.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};

use super::{HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL};

/// The `route` label of a request no route matched (404s of unknown paths): one label
/// for all of them, so that scanning random paths cannot grow the series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Whether requests are recorded: set once the recorder is installed.
static RECORDING: AtomicBool = AtomicBool::new(false);

/// The series of each route, registered at its first request: afterwards a request
/// costs a read lock, two map lookups and two atomic updates, with no allocation. Routes
/// are the router's templates (`MatchedPath`), so the map is bounded by the routes and
/// the statuses they answer.
static SERIES: LazyLock<RwLock<HashMap<Box<str>, RouteSeries>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

struct RouteSeries {
    duration: Histogram,
    by_status: HashMap<u16, Counter>,
}

/// Starts recording requests (called once the recorder is installed: handles
/// registered before would go nowhere).
pub(super) fn start_recording() {
    RECORDING.store(true, Ordering::Relaxed);
}

/// Middleware (`axum::middleware::from_fn`, as a layer of the router so that the
/// matched route is known): counts each answer in `jwt_allauth_http_requests_total`
/// and records its duration in `jwt_allauth_http_request_duration_seconds`, labelled by
/// the route's template (never the raw path). Passes requests through untouched while
/// nothing is recorded.
pub async fn record_request(request: Request, next: Next) -> Response {
    if !RECORDING.load(Ordering::Relaxed) {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    record(
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

fn record(route: &str, status: u16, seconds: f64) {
    if let Ok(series) = SERIES.read()
        && let Some(route_series) = series.get(route)
        && let Some(counter) = route_series.by_status.get(&status)
    {
        counter.increment(1);
        route_series.duration.record(seconds);
        return;
    }
    let Ok(mut series) = SERIES.write() else {
        return;
    };
    let route_series = series
        .entry(Box::from(route))
        .or_insert_with(|| RouteSeries {
            duration: metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, "route" => route.to_owned()),
            by_status: HashMap::new(),
        });
    route_series
        .by_status
        .entry(status)
        .or_insert_with(|| {
            metrics::counter!(
                HTTP_REQUESTS_TOTAL,
                "route" => route.to_owned(),
                "status" => status.to_string()
            )
        })
        .increment(1);
    route_series.duration.record(seconds);
}
