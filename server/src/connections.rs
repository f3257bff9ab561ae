//! Serving connections: the accept loop of `serve`, with a header-read timeout, an idle
//! keep-alive timeout and a cap on open connections.
//!
//! Each connection is served by hyper's HTTP/1 server with the application [`Router`],
//! the peer address as `ConnectInfo<SocketAddr>`, and a watchdog that closes it:
//!
//! - when its request head is not complete within `HEADER_READ_TIMEOUT`, counted from
//!   the moment it was accepted (a silent or trickling client) or, on a kept-alive
//!   connection, from the first byte of its next request;
//! - when it stays idle for `IDLE_TIMEOUT` between a response and the first byte of the
//!   next request.
//!
//! While a request is handled no watchdog deadline runs: the application's own
//! `REQUEST_TIMEOUT` answers a slow request (or a slowly sent body) 503.
//!
//! At most [`ConnectionLimits::max_connections`] connections are served at once. A
//! connection over the cap is answered 503 [`OVER_CAPACITY_DETAIL`] and closed; at most
//! [`REFUSING_AT_ONCE`] of those answers are under way at a time, and a connection beyond
//! that is closed at once without an answer. Every accepted socket is thus served,
//! answered or closed: none waits unseen, and the server never holds more descriptors
//! than the cap and these answers need.
//!
//! hyper's own `header_read_timeout` is not used: it also runs between requests, so a
//! kept-alive connection could never stay idle longer than the header-read timeout.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::config::ServerSettings;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use jwt_allauth_axum::{ErrorBody, ErrorCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::SECURITY_HEADERS;

/// File descriptors kept for everything but client connections (the listener, the
/// database pool, the runtime, standard streams, key and log files) when the cap is
/// fitted under the open-file limit ([`connection_cap`]).
pub const RESERVED_FILES: u64 = 64;

/// How many connections over the cap are answered 503 at a time; the next ones are
/// closed unanswered until an answer is done.
pub const REFUSING_AT_ONCE: u32 = 64;

/// How long answering a connection over the cap may take: writing the 503, then reading
/// what the client sent until it closes (so that closing does not reset the connection
/// before the client has read the answer).
pub const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// The most bytes read from a connection over the cap before it is closed.
const REFUSAL_READ_LIMIT: usize = 64 * 1024;

/// The `detail` of the answer to a connection over the cap (`code`:
/// `service_unavailable`).
pub const OVER_CAPACITY_DETAIL: &str = "Too many open connections. Try again later.";

/// How long to wait after an `accept` error that is not the peer's (for example `Too
/// many open files`), before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// How often, at most, reaching the cap is logged.
const CAP_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// The limits of the connections [`serve`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `HEADER_READ_TIMEOUT`.
    pub header_read_timeout: Duration,
    /// `IDLE_TIMEOUT`.
    pub idle_timeout: Duration,
    /// The cap: `MAX_CONNECTIONS`, or less to fit the open-file limit.
    pub max_connections: u32,
}

impl ConnectionLimits {
    /// The limits of `settings`, the cap fitted under the soft open-file limit
    /// `open_files` ([`connection_cap`]; `None` is unlimited).
    pub fn new(settings: &ServerSettings, open_files: Option<u64>) -> Self {
        Self {
            header_read_timeout: settings.header_read_timeout,
            idle_timeout: settings.idle_timeout,
            max_connections: connection_cap(settings.max_connections, open_files),
        }
    }
}

/// `max_connections`, lowered if needed so that the connections, the answers to
/// connections over the cap ([`REFUSING_AT_ONCE`]) and the [`RESERVED_FILES`] fit under
/// the soft open-file limit `open_files` (`None` is unlimited); at least 1.
pub fn connection_cap(max_connections: u32, open_files: Option<u64>) -> u32 {
    let Some(open_files) = open_files else {
        return max_connections;
    };
    let room = open_files
        .saturating_sub(RESERVED_FILES + u64::from(REFUSING_AT_ONCE))
        .max(1);
    u32::try_from(room).map_or(max_connections, |room| max_connections.min(room))
}

/// Accepts connections on `listener` and serves `router` on them within `limits`, until
/// `shutdown` resolves; then stops accepting, lets every connection finish its
/// in-flight request (idle ones close at once) and returns when all have closed.
pub async fn serve<F>(listener: TcpListener, router: Router, limits: ConnectionLimits, shutdown: F)
where
    F: Future<Output = ()>,
{
    let open = Arc::new(Semaphore::new(limits.max_connections as usize));
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE as usize));
    let (stop, stopped) = watch::channel(false);
    let mut refused = CapReport::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, peer)) => match Arc::clone(&open).try_acquire_owned() {
                Ok(permit) => {
                    let connection = Connection {
                        router: router.clone(),
                        peer,
                        limits,
                        _permit: permit,
                    };
                    tokio::spawn(connection.serve(stream, stopped.clone()));
                    continue;
                }
                Err(_) => stream,
            },
            Err(error) if is_peer_error(&error) => continue,
            Err(error) => {
                tracing::error!(%error, "cannot accept a connection; trying again in 1 s");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        refused.count(limits.max_connections);
        refuse(stream, &refusing);
    }
    drop(listener);
    let _ = stop.send(true);
    // Each connection holds a permit until it closes: all permits back, all closed.
    let _ = open.acquire_many(limits.max_connections).await;
}

/// An `accept` error about one connection (it was reset before it was accepted), not
/// about the listener.
fn is_peer_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// Logs reaching the cap at most once per [`CAP_REPORT_INTERVAL`], with the number of
/// connections refused since the last report.
#[derive(Debug, Default)]
struct CapReport {
    refused: u64,
    last: Option<Instant>,
}

impl CapReport {
    fn count(&mut self, max_connections: u32) {
        self.refused += 1;
        let now = Instant::now();
        if self
            .last
            .is_none_or(|last| now.duration_since(last) >= CAP_REPORT_INTERVAL)
        {
            tracing::warn!(
                max_connections,
                refused = self.refused,
                "connection limit reached: new connections are answered 503 until some close"
            );
            self.refused = 0;
            self.last = Some(now);
        }
    }
}

/// The answer to a connection over the cap: 503 `{"detail":"Too many open connections.
/// Try again later.","code":"service_unavailable"}`, `Connection: close`, `Retry-After:
/// 1` and the [`SECURITY_HEADERS`].
static OVER_CAPACITY_RESPONSE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = serde_json::to_string(&ErrorBody::new(
        OVER_CAPACITY_DETAIL,
        ErrorCode::ServiceUnavailable,
    ))
    .unwrap_or_default();
    let mut head = String::from("HTTP/1.1 503 Service Unavailable\r\n");
    head.push_str("content-type: application/json\r\n");
    head.push_str(&format!("content-length: {}\r\n", body.len()));
    head.push_str("connection: close\r\nretry-after: 1\r\n");
    for (name, value) in &SECURITY_HEADERS {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(&body);
    head.into_bytes()
});

/// Answers `stream`, a connection over the cap, 503 if fewer than [`REFUSING_AT_ONCE`]
/// answers are under way, else closes it at once.
fn refuse(stream: TcpStream, refusing: &Arc<Semaphore>) {
    let Ok(permit) = Arc::clone(refusing).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(REFUSAL_TIMEOUT, answer_over_capacity(stream)).await;
    });
}

async fn answer_over_capacity(mut stream: TcpStream) -> io::Result<()> {
    stream.write_all(&OVER_CAPACITY_RESPONSE).await?;
    stream.shutdown().await?;
    let mut buf = [0u8; 4096];
    let mut read = 0;
    while read < REFUSAL_READ_LIMIT {
        match stream.read(&mut buf).await? {
            0 => break,
            n => read += n,
        }
    }
    Ok(())
}

/// One accepted connection under the cap.
struct Connection {
    router: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    /// Its place under the cap, given back when the connection ends.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Serves the connection until the client or the watchdog closes it; once `stop`
    /// turns true, it ends after its in-flight request.
    async fn serve(self, stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let activity = Arc::new(Activity::new(Instant::now()));
        let io = TokioIo::new(WatchedIo {
            stream,
            activity: Arc::clone(&activity),
        });
        let service = ConnectionService {
            router: self.router,
            peer: self.peer,
            activity: Arc::clone(&activity),
        };
        let mut builder = http1::Builder::new();
        // The watchdog below is the header-read timeout (see the module documentation).
        builder.header_read_timeout(None);
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            let deadline = activity.deadline(&self.limits);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%error, "connection closed with an error");
                    }
                    return;
                }
                () = sleep_until(deadline) => {
                    if let Some(why) = activity.expired(&self.limits, Instant::now()) {
                        tracing::debug!("closing a connection: {why}");
                        return;
                    }
                }
                () = activity.changed.notified() => {}
                _ = stop.wait_for(|stop| *stop), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Sleeps until `deadline`, forever if there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Where a connection stands, for its watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a complete request head since `since`: the accept, or the first
    /// byte after a response.
    Head { since: Instant },
    /// Handling `requests` requests (hyper serves one at a time over HTTP/1, but a
    /// response body may outlive its request for a moment).
    Busy { requests: usize },
    /// Idle since the last response ended.
    Idle { since: Instant },
}

/// The phase of a connection, updated by its reads ([`WatchedIo`]) and requests
/// ([`ConnectionService`]) and watched by its task.
#[derive(Debug)]
struct Activity {
    phase: Mutex<Phase>,
    /// Signalled at each change of phase, so the watchdog moves its deadline.
    changed: Notify,
}

impl Activity {
    fn new(accepted: Instant) -> Self {
        Self {
            phase: Mutex::new(Phase::Head { since: accepted }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, next: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        let new = next(*phase);
        if new != *phase {
            *phase = new;
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: on an idle connection, the next request head has begun.
    fn bytes_received(&self, now: Instant) {
        self.update(|phase| match phase {
            Phase::Idle { .. } => Phase::Head { since: now },
            other => other,
        });
    }

    /// A request head was read and the request is handled until the guard drops.
    fn request_started(self: &Arc<Self>) -> BusyGuard {
        self.update(|phase| match phase {
            Phase::Busy { requests } => Phase::Busy {
                requests: requests + 1,
            },
            _ => Phase::Busy { requests: 1 },
        });
        BusyGuard(Arc::clone(self))
    }

    fn request_ended(&self, now: Instant) {
        self.update(|phase| match phase {
            Phase::Busy { requests } if requests > 1 => Phase::Busy {
                requests: requests - 1,
            },
            Phase::Busy { .. } => Phase::Idle { since: now },
            other => other,
        });
    }

    /// When the watchdog closes the connection if nothing changes.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        match self.phase() {
            Phase::Head { since } => Some(since + limits.header_read_timeout),
            Phase::Idle { since } => Some(since + limits.idle_timeout),
            Phase::Busy { .. } => None,
        }
    }

    /// Why the connection must close at `now`, if it must.
    fn expired(&self, limits: &ConnectionLimits, now: Instant) -> Option<&'static str> {
        let deadline = self.deadline(limits)?;
        if now < deadline {
            return None;
        }
        Some(match self.phase() {
            Phase::Idle { .. } => "idle for IDLE_TIMEOUT",
            _ => "no complete request head within HEADER_READ_TIMEOUT",
        })
    }
}

/// Held while a request is handled and its response sent; ends the request when dropped.
#[derive(Debug)]
struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.request_ended(Instant::now());
    }
}

/// The socket of a connection, reporting the bytes it receives to its [`Activity`].
struct WatchedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_received(Instant::now());
        }
        read
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The router as a hyper service for one connection: adds `ConnectInfo<SocketAddr>` and
/// marks the connection busy from the request head to the end of the response body.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<GuardedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<GuardedBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let guard = self.activity.request_started();
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await?;
            Ok(response.map(|body| GuardedBody {
                body,
                _guard: guard,
            }))
        })
    }
}

/// A response body that keeps its connection busy until it is sent (or dropped).
struct GuardedBody {
    body: Body,
    _guard: BusyGuard,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 100,
        }
    }

    #[test]
    fn the_cap_fits_under_the_open_file_limit() {
        assert_eq!(connection_cap(4096, None), 4096);
        assert_eq!(connection_cap(4096, Some(1_048_576)), 4096);
        // 256 - 64 reserved - 64 answers over the cap.
        assert_eq!(connection_cap(4096, Some(256)), 128);
        assert_eq!(connection_cap(100, Some(256)), 100);
        assert_eq!(connection_cap(4096, Some(16)), 1);
        assert_eq!(connection_cap(4096, Some(u64::MAX)), 4096);
    }

    #[test]
    fn the_watchdog_deadline_follows_the_phase() {
        let limits = limits();
        let start = Instant::now();
        let activity = Arc::new(Activity::new(start));
        // A new connection has HEADER_READ_TIMEOUT for its head, however it trickles.
        assert_eq!(
            activity.deadline(&limits),
            Some(start + limits.header_read_timeout)
        );
        activity.bytes_received(start + Duration::from_secs(5));
        assert_eq!(
            activity.deadline(&limits),
            Some(start + limits.header_read_timeout)
        );
        assert!(
            activity
                .expired(&limits, start + Duration::from_secs(9))
                .is_none()
        );
        assert!(
            activity
                .expired(&limits, start + Duration::from_secs(10))
                .is_some()
        );
        // No deadline while a request is handled.
        let guard = activity.request_started();
        assert_eq!(activity.deadline(&limits), None);
        // Idle from the end of the response: IDLE_TIMEOUT.
        let before = Instant::now();
        drop(guard);
        let after = Instant::now();
        let idle = activity.deadline(&limits).expect("a deadline") - limits.idle_timeout;
        assert!(before <= idle && idle <= after);
        assert_eq!(
            activity.expired(&limits, idle + limits.idle_timeout),
            Some("idle for IDLE_TIMEOUT")
        );
        // The next request's first byte: HEADER_READ_TIMEOUT from then.
        let first_byte = idle + Duration::from_secs(30);
        activity.bytes_received(first_byte);
        assert_eq!(
            activity.deadline(&limits),
            Some(first_byte + limits.header_read_timeout)
        );
    }

    #[test]
    fn the_over_capacity_answer_is_json_in_the_error_format() {
        let response = String::from_utf8(OVER_CAPACITY_RESPONSE.clone()).expect("text");
        let (head, body) = response.split_once("\r\n\r\n").expect("a head");
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}\r\n", body.len())),
            "{head}"
        );
        assert!(head.contains("connection: close"), "{head}");
        assert!(head.contains("cache-control: no-store"), "{head}");
        assert_eq!(
            body,
            r#"{"detail":"Too many open connections. Try again later.","code":"service_unavailable"}"#
        );
    }
}
