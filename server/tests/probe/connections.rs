//! Finding 3 of issue 10: connections are never timed out or capped. A trickled request
//! head, an idle keep-alive connection and a silent connection stayed open for minutes,
//! and with a file limit of 256, 300 such sockets made the server stop accepting (`Too
//! many open files`).
//!
//! Each test starts the binary with short settings (`HEADER_READ_TIMEOUT`,
//! `IDLE_TIMEOUT`, `MAX_CONNECTIONS`) and talks to it over raw TCP sockets, with every
//! wait bounded.

use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Server, TestDb, free_port};

/// The header-read timeout of these servers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// The idle keep-alive timeout of these servers: longer than the header-read timeout, so
/// that the test tells them apart.
const IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// Slack for a loaded machine: a close may come this much after its deadline.
const SLACK: Duration = Duration::from_secs(3);

/// The 503 body of a connection over the cap.
const OVER_CAPACITY_BODY: &str =
    r#"{"detail":"Too many open connections. Try again later.","code":"service_unavailable"}"#;

/// A server with a header-read timeout of 1 s and an idle timeout of 4 s.
async fn short_timeouts(db: &TestDb) -> Server {
    Server::start_with_env(
        db,
        &[],
        &[
            ("JWT_ALLAUTH_HEADER_READ_TIMEOUT", "1s"),
            ("JWT_ALLAUTH_IDLE_TIMEOUT", "4s"),
        ],
    )
    .await
}

fn authority(server: &Server) -> &str {
    server.base.strip_prefix("http://").unwrap()
}

/// Waits at most `limit` for the server to close `stream` (end of stream or reset);
/// the time it took, or `None` if it is still open. Bytes the server sends before
/// closing are returned too.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> (Option<Duration>, Vec<u8>) {
    let start = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (None, received),
            Ok(Ok(0)) | Ok(Err(_)) => return (Some(start.elapsed()), received),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response with a `Content-Length` body from `stream`, at most 10 s; its
/// status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let read = async {
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse().unwrap());
                if received.len() >= end + 4 + length {
                    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                    let body = String::from_utf8_lossy(&received[end + 4..end + 4 + length]);
                    return (status, body.into_owned());
                }
            }
            let n = stream.read(&mut buf).await.expect("read a response");
            assert!(n > 0, "closed before a whole response: {received:?}");
            received.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("no response within 10 s")
}

/// A keep-alive `GET /health/`.
fn health_request(authority: &str) -> Vec<u8> {
    format!("GET /health/ HTTP/1.1\r\nHost: {authority}\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn finding_3_a_trickled_request_head_is_closed_after_the_header_read_timeout() {
    let db = TestDb::sqlite();
    let server = short_timeouts(&db).await;
    let stream = TcpStream::connect(authority(&server)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // One byte of a never-ending header field every 100 ms: the head is never complete,
    // and the connection is never quiet for long.
    let trickle = tokio::spawn(async move {
        let head = b"GET /health/ HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        let mut sent = write.write_all(head).await;
        while sent.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sent = write.write_all(b"a").await;
        }
    });
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let outcome = tokio::time::timeout(HEADER_READ_TIMEOUT + SLACK, read.read(&mut buf)).await;
    let elapsed = start.elapsed();
    trickle.abort();
    assert!(
        matches!(outcome, Ok(Ok(0)) | Ok(Err(_))),
        "a trickled head was still open after {elapsed:?}: {outcome:?}"
    );
    assert!(
        elapsed >= HEADER_READ_TIMEOUT - Duration::from_millis(200),
        "closed before the header-read timeout: {elapsed:?}"
    );
}

#[tokio::test]
async fn finding_3_a_silent_connection_is_closed_after_the_header_read_timeout() {
    let db = TestDb::sqlite();
    let server = short_timeouts(&db).await;
    let mut stream = TcpStream::connect(authority(&server)).await.unwrap();
    let (closed, received) = closed_within(&mut stream, HEADER_READ_TIMEOUT + SLACK).await;
    let elapsed = closed.expect("a silent connection is closed after the header-read timeout");
    assert!(
        elapsed >= HEADER_READ_TIMEOUT - Duration::from_millis(200),
        "closed before the header-read timeout: {elapsed:?}"
    );
    assert!(received.is_empty(), "{received:?}");
}

#[tokio::test]
async fn finding_3_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let db = TestDb::sqlite();
    let server = short_timeouts(&db).await;
    let authority = authority(&server).to_owned();
    let mut stream = TcpStream::connect(&authority).await.unwrap();
    // Two requests on the connection: it is kept alive between them.
    for _ in 0..2 {
        stream.write_all(&health_request(&authority)).await.unwrap();
        let (status, _) = read_response(&mut stream).await;
        assert_eq!(status, 200);
    }
    // Idle: still open after the header-read timeout (the idle timeout is longer)...
    let (closed, _) = closed_within(&mut stream, HEADER_READ_TIMEOUT * 2).await;
    assert_eq!(
        closed, None,
        "an idle keep-alive connection was closed before the idle timeout"
    );
    // ...and closed after the idle timeout.
    let (closed, received) = closed_within(&mut stream, IDLE_TIMEOUT + SLACK).await;
    assert!(
        closed.is_some(),
        "an idle keep-alive connection was still open {:?} after its response",
        HEADER_READ_TIMEOUT * 2 + IDLE_TIMEOUT + SLACK
    );
    assert!(received.is_empty(), "{received:?}");
}

#[tokio::test]
async fn finding_3_over_the_cap_are_answered_503_and_serving_resumes() {
    const CAP: usize = 3;
    let db = TestDb::sqlite();
    let server = Server::start_with_env(
        &db,
        &[],
        &[
            ("JWT_ALLAUTH_MAX_CONNECTIONS", "3"),
            ("JWT_ALLAUTH_HEADER_READ_TIMEOUT", "60s"),
            ("JWT_ALLAUTH_IDLE_TIMEOUT", "60s"),
        ],
    )
    .await;
    let authority = authority(&server).to_owned();
    // Fill the cap with kept-alive connections, each proven served. The start-up health
    // check's connection may take a moment to go away: retry a refused one.
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while held.len() < CAP {
        let mut stream = TcpStream::connect(&authority).await.unwrap();
        stream.write_all(&health_request(&authority)).await.unwrap();
        let (status, body) = read_response(&mut stream).await;
        if status == 200 {
            held.push(stream);
        } else {
            assert_eq!(status, 503, "{body}");
            assert!(Instant::now() < deadline, "the cap was never free");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // One more: answered 503 in the contract's error format, then closed, promptly.
    let start = Instant::now();
    let mut extra = TcpStream::connect(&authority).await.unwrap();
    extra.write_all(&health_request(&authority)).await.unwrap();
    let (status, body) = read_response(&mut extra).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body, OVER_CAPACITY_BODY);
    let (closed, _) = closed_within(&mut extra, SLACK).await;
    assert!(closed.is_some(), "the refused connection was left open");
    assert!(start.elapsed() < SLACK * 2, "{:?}", start.elapsed());
    // The held connections still work; once they go away, new ones are served again.
    for stream in &mut held {
        stream.write_all(&health_request(&authority)).await.unwrap();
        assert_eq!(read_response(stream).await.0, 200);
    }
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = TcpStream::connect(&authority).await.unwrap();
        stream.write_all(&health_request(&authority)).await.unwrap();
        let (status, body) = read_response(&mut stream).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "still refused after the cap was free"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.log_text();
    assert!(log.contains("connection limit reached"), "{log}");
}

/// `jwt-allauth serve` on a free port in `db`'s directory, run by `sh` after the shell
/// command `ulimit` (for example `ulimit -S -n 256`).
async fn start_with_ulimit(db: &TestDb, ulimit: &str) -> Server {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let log = db.dir.path().join(format!("serve-{port}.log"));
    let inner = db.command(&["serve", "--bind", &bind, "--database-url", &db.url]);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{ulimit} && exec \"$0\" \"$@\""))
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(db.dir.path());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    Server::spawn(command, &bind, log).await
}

/// The soft and hard `Max open files` of process `pid`.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    let mut fields = line["Max open files".len()..].split_whitespace();
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn finding_3_the_server_raises_its_soft_file_limit_to_the_hard_limit() {
    let db = TestDb::sqlite();
    let (_, hard) = open_file_limits(std::process::id());
    if hard.parse::<u64>().is_ok_and(|hard| hard <= 256) {
        eprintln!("skipping: the hard open-file limit is {hard}, nothing to raise");
        return;
    }
    let server = start_with_ulimit(&db, "ulimit -S -n 256").await;
    let (soft, server_hard) = open_file_limits(server.child.id());
    assert_eq!(server_hard, hard);
    assert_eq!(soft, hard, "the soft limit was not raised");
    let log = server.log_text();
    assert!(
        log.contains("raised the open-file limit") && log.contains("from 256"),
        "{log}"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn finding_3_with_a_file_limit_of_256_the_server_keeps_accepting_past_300_sockets() {
    let db = TestDb::sqlite();
    // Soft and hard 256: the server cannot raise it, and must fit its cap into it.
    let server = start_with_ulimit(&db, "ulimit -n 256").await;
    let authority = authority(&server).to_owned();
    // 300 silent sockets (the header-read timeout is the default 10 s).
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(&authority).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A new connection is still accepted: answered 503 or closed, within seconds.
    let mut probe = TcpStream::connect(&authority).await.unwrap();
    probe.write_all(&health_request(&authority)).await.unwrap();
    let (closed, received) = closed_within(&mut probe, SLACK).await;
    assert!(
        closed.is_some(),
        "a connection past 300 silent ones was left hanging"
    );
    let received = String::from_utf8_lossy(&received);
    assert!(
        received.is_empty() || received.starts_with("HTTP/1.1 503 "),
        "{received}"
    );
    // Once they go away, the server serves again.
    drop(silent);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = TcpStream::connect(&authority).await.unwrap();
        stream.write_all(&health_request(&authority)).await.unwrap();
        let (status, _) = read_response(&mut stream).await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still refused after the sockets closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.log_text();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(log.contains("MAX_CONNECTIONS"), "{log}");
}
