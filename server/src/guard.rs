//! [`RequestGuardLayer`]: the header limit, the request timeout, `Connection: close`
//! after a refused body, the request metrics and the request log, as one middleware.
//!
//! Written as a plain tower service rather than three `axum::middleware::from_fn`
//! layers: each of those clones the whole service below it and boxes two values for
//! every request, while this one calls the service below it in place and boxes the
//! request's future once.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower::{Layer, Service};

use crate::limits::{header_block_len, headers_too_large};
use tracing::Instrument;

use crate::monitoring::RequestRecording;
use crate::request_log::RequestLog;

/// Refuses a request whose header block is over a limit (431, see
/// [`limits`](crate::limits)), answers 503 `{"detail":"Request timed out."}` to one
/// that takes over a duration, adds `Connection: close` to an error answer to a
/// request that carries a body, and records every answer, its own included, in the
/// request metrics ([`RequestRecording`], nothing while no recorder is installed) and
/// the request log ([`RequestLog`]).
///
/// Such an answer may come before the body was read (413 over the body limit, 401
/// before the body is parsed), and then the connection cannot serve another request:
/// hyper closes it after the answer. Said in the answer, the client knows not to send
/// its next request on it; unsaid, a client that reuses the connection meanwhile sees
/// its request fail with a broken pipe.
#[derive(Debug, Clone, Copy)]
pub struct RequestGuardLayer {
    header_limit: usize,
    timeout: Duration,
}

impl RequestGuardLayer {
    /// Header blocks over `header_limit` bytes are refused, requests are answered 503
    /// after `timeout`.
    pub fn new(header_limit: usize, timeout: Duration) -> Self {
        Self {
            header_limit,
            timeout,
        }
    }
}

impl<S> Layer<S> for RequestGuardLayer {
    type Service = RequestGuard<S>;

    fn layer(&self, inner: S) -> RequestGuard<S> {
        RequestGuard {
            inner,
            settings: *self,
        }
    }
}

/// The service of [`RequestGuardLayer`].
#[derive(Debug, Clone)]
pub struct RequestGuard<S> {
    inner: S,
    settings: RequestGuardLayer,
}

/// The future of [`RequestGuard`].
pub type RequestGuardFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request<Body>> for RequestGuard<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RequestGuardFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> RequestGuardFuture {
        let has_body = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
            || request.headers().contains_key(header::TRANSFER_ENCODING);
        let recording = RequestRecording::start(&request);
        let log = RequestLog::start(&request);
        let span = log.span();
        let limit = self.settings.header_limit;
        if header_block_len(request.headers()) > limit {
            // The size only: the headers may carry credentials.
            span.in_scope(|| tracing::warn!(limit, "request headers too large"));
            let response = close_after_refused_body(headers_too_large(), has_body);
            if let Some(recording) = recording {
                recording.finish(response.status());
            }
            log.finish(response.status());
            return Box::pin(std::future::ready(Ok(response)));
        }
        let running =
            span.in_scope(|| tokio::time::timeout(self.settings.timeout, self.inner.call(request)));
        Box::pin(async move {
            let response = match running.instrument(span).await {
                Ok(Ok(response)) => response,
                Ok(Err(infallible)) => match infallible {},
                Err(_) => {
                    tracing::warn!("request timed out");
                    timed_out()
                }
            };
            if let Some(recording) = recording {
                recording.finish(response.status());
            }
            log.finish(response.status());
            Ok(close_after_refused_body(response, has_body))
        })
    }
}

/// `response` with `Connection: close` if it is an error answer to a request with a
/// body.
fn close_after_refused_body(mut response: Response, has_body: bool) -> Response {
    let status = response.status();
    if has_body && (status.is_client_error() || status.is_server_error()) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// 503 `{"detail":"Request timed out."}`.
fn timed_out() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({"detail": "Request timed out."})),
    )
        .into_response()
}
