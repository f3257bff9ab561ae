//! HTTP/1.1 over a bare TCP socket, for requests an HTTP client refuses to send or would
//! normalize: duplicate and malformed headers, CR, LF and control bytes, huge heads.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a raw exchange may take before the test fails.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// What came back on the socket.
#[derive(Debug)]
pub enum RawOutcome {
    /// A response (the connection then closed).
    Response(RawResponse),
    /// The server closed or reset the connection without a complete response.
    Closed(String),
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The header fields in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl RawOutcome {
    /// The response, or a panic naming `what`.
    #[track_caller]
    pub fn response(self, what: &str) -> RawResponse {
        match self {
            RawOutcome::Response(response) => response,
            RawOutcome::Closed(why) => panic!("{what}: no response ({why})"),
        }
    }
}

/// The `host:port` of a `http://host:port` base URL.
pub fn authority(base: &str) -> &str {
    base.strip_prefix("http://").expect("an http:// base URL")
}

/// Builds `METHOD PATH HTTP/1.1` with `Host`, the given raw header lines (each written as
/// given, followed by CRLF), `Connection: close`, and `body` with its `Content-Length`.
pub fn request(method: &str, path: &str, host: &str, lines: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n").into_bytes();
    for line in lines {
        bytes.extend_from_slice(line);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"Connection: close\r\n");
    if !body.is_empty() || method == "POST" || method == "PATCH" {
        bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// Writes `bytes` to a new connection to `authority` and reads until the server closes.
/// A failed write (the server answered early and closed) is not an error: what was read
/// counts.
pub async fn exchange(authority: &str, bytes: &[u8]) -> RawOutcome {
    let run = async {
        let mut stream = TcpStream::connect(authority).await.expect("connect");
        let written = stream.write_all(bytes).await;
        let _ = stream.flush().await;
        let mut received = Vec::new();
        let read = stream.read_to_end(&mut received).await;
        match parse(&received) {
            Some(response) => RawOutcome::Response(response),
            None => RawOutcome::Closed(format!(
                "write: {written:?}, read: {read:?}, {} bytes received",
                received.len()
            )),
        }
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, run)
        .await
        .expect("the raw exchange timed out")
}

/// Parses one complete response (the body delimited by `Content-Length`, or by the end
/// of the stream).
fn parse(bytes: &[u8]) -> Option<RawResponse> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let rest = &bytes[end + 4..];
    let body = match headers.iter().find(|(n, _)| n == "content-length") {
        Some((_, len)) => rest.get(..len.parse::<usize>().ok()?)?.to_vec(),
        None => rest.to_vec(),
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}
