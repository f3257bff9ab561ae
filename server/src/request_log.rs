//! [`RequestLog`]: the one log line of each request.
//!
//! Each answered request writes one line at `INFO` (`ERROR` for a 5xx answer), target
//! `jwt_allauth_server::request`, with the method, the path as [`log_path`] shows it
//! (never the query string, never a token segment), the status and the time taken:
//!
//! ```text
//! 2026-12-06T01:02:03.456789Z  INFO jwt_allauth_server::request: answered method=GET path=/user/ status=200 latency=412.3µs
//! ```
//!
//! The request's other lines (a refused login, a mail that could not be queued) sit in
//! a `request` span with the same method and path at `DEBUG` only (`RUST_LOG=debug`):
//! a span at `INFO` cost every request about as much as its line, for context that
//! only debugging needs (BENCHMARKS.md, "The user read, batched").

use std::fmt;
use std::time::Instant;

use axum::http::{Method, Request, StatusCode, Uri};
use tracing::{Level, Span};

use crate::log_path;

/// The log target of the request lines.
pub const REQUEST_LOG_TARGET: &str = "jwt_allauth_server::request";

/// A request whose line is written when it is answered. Its `Debug` shows the path as
/// the log does, never the query string or a link's token.
pub struct RequestLog {
    method: Method,
    /// The whole URI, cheap to clone; only its path is ever written.
    uri: Uri,
    started: Instant,
}

impl fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestLog")
            .field("method", &self.method)
            .field("path", &log_path(self.uri.path()))
            .field("started", &self.started)
            .finish()
    }
}

impl RequestLog {
    /// Starts timing `request`.
    pub fn start<B>(request: &Request<B>) -> Self {
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            started: Instant::now(),
        }
    }

    /// The `request` span of its other lines, at `DEBUG` (disabled, and free, below it).
    pub fn span(&self) -> Span {
        tracing::debug_span!(
            "request",
            method = %self.method,
            path = %log_path(self.uri.path()),
        )
    }

    /// Writes the line of the answer `status`.
    pub fn finish(self, status: StatusCode) {
        let latency = self.started.elapsed();
        let path = log_path(self.uri.path());
        let status = status.as_u16();
        // One call site per level: `tracing` fixes an event's level where it is written.
        macro_rules! answered {
            ($level:expr) => {
                tracing::event!(
                    target: REQUEST_LOG_TARGET,
                    $level,
                    method = %self.method,
                    %path,
                    status,
                    ?latency,
                    "answered",
                )
            };
        }
        if status >= 500 {
            answered!(Level::ERROR);
        } else {
            answered!(Level::INFO);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::http::{Request, StatusCode};

    use super::RequestLog;

    /// What a subscriber wrote.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines `RequestLog` writes for a request to `uri` answered `status`, at the
    /// server's default level (`info`).
    fn line(uri: &str, status: StatusCode) -> String {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let request = Request::post(uri).body(()).expect("request");
            RequestLog::start(&request).finish(status);
        });
        let bytes = sink.0.lock().expect("sink").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn one_line_per_answer_with_method_path_status_and_latency() {
        let line = line("/login/?next=secret", StatusCode::OK);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.contains(" INFO jwt_allauth_server::request: answered method=POST path=/login/ status=200 latency="), "{line}");
        assert!(!line.contains("secret"), "no query string: {line}");
    }

    #[test]
    fn a_server_error_is_an_error_line() {
        let line = line("/user/", StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            line.contains(
                " ERROR jwt_allauth_server::request: answered method=POST path=/user/ status=503"
            ),
            "{line}"
        );
    }

    #[test]
    fn debug_shows_no_query_string_and_no_token() {
        let request = Request::get("/password/reset/confirm/MQ/abc-secret-token/?q=hidden")
            .body(())
            .expect("request");
        let shown = format!("{:?}", RequestLog::start(&request));
        assert!(
            shown.contains("/password/reset/confirm/{uidb64}/{token}/"),
            "{shown}"
        );
        assert!(
            !shown.contains("abc-secret-token") && !shown.contains("hidden"),
            "{shown}"
        );
    }

    #[test]
    fn account_links_never_reach_the_log() {
        let line = line(
            "/password/reset/confirm/MQ/abc-secret-token/",
            StatusCode::OK,
        );
        assert!(
            line.contains("path=/password/reset/confirm/{uidb64}/{token}/"),
            "{line}"
        );
        assert!(!line.contains("abc-secret-token"), "{line}");
    }
}
