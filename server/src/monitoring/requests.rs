//! [`RequestRecording`]: requests by route and status, and their duration.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, RwLock};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Request, StatusCode};
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

/// One request being recorded: its route's template (never the raw path) and when it
/// started. The request guard ([`RequestGuard`](crate::guard::RequestGuard), a layer of
/// every route, so the matched route is known) starts one per request and finishes it
/// with the status of the answer, its own answers included: the answer is counted in
/// `jwt_allauth_http_requests_total` and its duration recorded in
/// `jwt_allauth_http_request_duration_seconds`. While nothing is recorded, starting one
/// costs an atomic load and nothing else.
#[derive(Debug)]
pub struct RequestRecording {
    route: Option<MatchedPath>,
    started: Instant,
}

impl RequestRecording {
    /// Starts recording `request`, or `None` while no recorder is installed.
    pub fn start<B>(request: &Request<B>) -> Option<Self> {
        if !RECORDING.load(Ordering::Relaxed) {
            return None;
        }
        Some(Self {
            route: request.extensions().get::<MatchedPath>().cloned(),
            started: Instant::now(),
        })
    }

    /// Records the answer `status`.
    pub fn finish(self, status: StatusCode) {
        let route = self
            .route
            .as_ref()
            .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
        record(route, status.as_u16(), self.started.elapsed().as_secs_f64());
    }
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
