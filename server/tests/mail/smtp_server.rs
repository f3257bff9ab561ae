//! A real SMTP server on a local port: mailin-embedded (the SMTP implementation of the
//! `mailin` crate) in threads of its own, recording every message it accepts.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::{Handler, Response, Server, SslConfig, response};

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message as sent (headers and body).
    pub data: String,
}

impl Received {
    /// The value of header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut lines = head.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.eq_ignore_ascii_case(name) {
                let mut value = value.trim().to_owned();
                while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                }
                return Some(value);
            }
        }
        None
    }

    /// The parts of a multipart message, in order: each part's `Content-Type` and its
    /// body, decoded (7bit, quoted-printable or base64).
    pub fn parts(&self) -> Vec<(String, String)> {
        let content_type = self.header("Content-Type").unwrap_or_default();
        let boundary = content_type
            .split_once("boundary=")
            .map(|(_, b)| b.trim_matches('"').to_owned())
            .expect("a multipart message");
        let delimiter = format!("--{boundary}");
        self.data
            .split(delimiter.as_str())
            .skip(1)
            .filter(|part| !part.starts_with("--"))
            .map(|part| {
                let part = Received {
                    from: String::new(),
                    to: Vec::new(),
                    data: part.trim_start_matches("\r\n").to_owned(),
                };
                let body = part
                    .data
                    .split_once("\r\n\r\n")
                    .map_or("", |(_, body)| body);
                let decoded = match part.header("Content-Transfer-Encoding").as_deref() {
                    Some("quoted-printable") => decode_quoted_printable(body),
                    Some("base64") => {
                        use base64::Engine;
                        let compact: String = body.split_whitespace().collect();
                        String::from_utf8(
                            base64::engine::general_purpose::STANDARD
                                .decode(compact)
                                .unwrap(),
                        )
                        .unwrap()
                    }
                    _ => body.to_owned(),
                };
                (part.header("Content-Type").unwrap_or_default(), decoded)
            })
            .collect()
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[derive(Clone)]
struct Recorder {
    received: Arc<Mutex<Vec<Received>>>,
    current: Option<Received>,
    refused_recipient: Option<String>,
}

impl Handler for Recorder {
    fn rcpt(&mut self, to: &str) -> Response {
        match &self.refused_recipient {
            Some(refused) if to.contains(refused.as_str()) => response::NO_MAILBOX,
            _ => response::OK,
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Received {
            from: from.to_owned(),
            to: to.to_vec(),
            data: String::new(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(current) = &mut self.current {
            current.data.push_str(&String::from_utf8_lossy(buf));
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(current) = self.current.take() {
            self.received.lock().unwrap().push(current);
        }
        response::OK
    }
}

/// The running server (its threads live as long as the test process).
pub struct SmtpServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    /// A server on a free port, accepting every message.
    pub fn start() -> Self {
        Self::start_with(TcpListener::bind("127.0.0.1:0").unwrap(), None)
    }

    /// A server on `port` (free a moment ago), accepting every message.
    pub fn start_on(port: u16) -> Self {
        Self::start_with(TcpListener::bind(("127.0.0.1", port)).unwrap(), None)
    }

    /// A server that answers 550 to recipients containing `refused`.
    pub fn refusing(refused: &str) -> Self {
        Self::start_with(
            TcpListener::bind("127.0.0.1:0").unwrap(),
            Some(refused.to_owned()),
        )
    }

    fn start_with(listener: TcpListener, refused_recipient: Option<String>) -> Self {
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let handler = Recorder {
            received: Arc::clone(&received),
            current: None,
            refused_recipient,
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .unwrap()
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            if let Err(err) = server.serve() {
                panic!("the SMTP server stopped: {err}");
            }
        });
        Self { port, received }
    }

    /// `smtp://127.0.0.1:PORT` with `query` appended.
    pub fn url(&self, query: &str) -> String {
        format!("smtp://127.0.0.1:{}{query}", self.port)
    }

    /// The messages accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `count` messages were accepted, and returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{count} messages expected, {} received",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
