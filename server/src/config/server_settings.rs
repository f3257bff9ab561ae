//! [`ServerSettings`]: the settings of the server process itself.

use std::net::SocketAddr;
use std::time::Duration;

use jwt_allauth::Secret;
use jwt_allauth::settings::Value;
use jwt_allauth::settings::value::{self, Reason, expected, string};

use crate::webhooks::{WebhookSecret, WebhookUrl};

jwt_allauth::settings_group! {
    /// The settings of the server process: its database, its listen address, its
    /// start-up checks and its connections.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct ServerSettings {
        /// `DATABASE_URL` (plain `DATABASE_URL` is read too). Defaults to none (the
        /// server uses `sqlite://jwt-allauth.sqlite3`). A [`Secret`]: the URL may hold a
        /// password, so `Debug` does not show it.
        DATABASE_URL database_url: Option<Secret> = None => value::optional_secret;
        /// `BIND`: the server's listen address. Defaults to `127.0.0.1:8000`.
        BIND bind: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8000)) => socket_addr;
        /// `DEVELOPMENT_MODE`: relaxes the server's start-up checks (an HMAC `SECRET_KEY`
        /// shorter than 32 bytes is then only a warning). Defaults to false.
        DEVELOPMENT_MODE development_mode: bool = false => value::boolean;
        /// `HEADER_READ_TIMEOUT`: how long the server waits for a complete request head
        /// on a new connection, or once the first byte of the next request arrived on a
        /// kept-alive one; the connection is then closed. Defaults to 10 seconds.
        HEADER_READ_TIMEOUT header_read_timeout: Duration = Duration::from_secs(10)
            => value::positive_duration;
        /// `IDLE_TIMEOUT`: how long the server keeps a connection open between a response
        /// and the first byte of the next request (HTTP keep-alive). Defaults to 60
        /// seconds.
        IDLE_TIMEOUT idle_timeout: Duration = Duration::from_secs(60)
            => value::positive_duration;
        /// `MAX_CONNECTIONS`: the most client connections the server keeps open at once;
        /// a connection over the cap is answered 503 and closed. The server lowers it,
        /// with a warning, to what its open-file limit allows. Defaults to 4096.
        MAX_CONNECTIONS max_connections: u32 = 4096 => value::positive_count;
        /// `REVOCATION_FEED`: every access-token check consults the revocations of the
        /// last access-token lifetime, kept in memory and fed from the event log, so that
        /// a revoked session's access token is refused at once on every instance with no
        /// query per request. Defaults to true; off, an access token stays valid until it
        /// expires (unless `ACCESS_TOKEN_SESSION_CHECK`).
        REVOCATION_FEED revocation_feed: bool = true => value::boolean;
        /// `WEBHOOK_URLS`: the endpoints every event is posted to, `http` or `https` URLs
        /// separated by commas (or a TOML list); see [`crate::webhooks`]. Defaults to
        /// none: no webhooks.
        WEBHOOK_URLS webhook_urls: Vec<WebhookUrl> = Vec::new() => webhook_urls;
        /// `WEBHOOK_SECRET`: the key webhook messages are signed with, `whsec_` and at
        /// least 16 random bytes in standard base64, as Standard Webhooks writes it.
        /// Required when `WEBHOOK_URLS` is set. Defaults to none. `Debug` never shows it.
        WEBHOOK_SECRET webhook_secret: Option<WebhookSecret> = None => webhook_secret;
        /// `METRICS_BIND`: the address of a second listener serving `GET /metrics` (the
        /// Prometheus text format), such as `127.0.0.1:9100`; `/metrics` is never served
        /// on `BIND`. Defaults to none: no metrics listener, and nothing recorded.
        METRICS_BIND metrics_bind: Option<SocketAddr> = None => optional_socket_addr;
    }
}

/// `WEBHOOK_URLS`: a comma-separated string or a list of strings. The reason never
/// quotes a URL (it may hold credentials), only its position.
fn webhook_urls(value: &Value) -> Result<Vec<WebhookUrl>, Reason> {
    let text = match value {
        Value::Array(items) => items
            .iter()
            .map(|item| string(item).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        other => string(other)?.to_owned(),
    };
    WebhookUrl::parse_list(&text).map_err(|error| error.to_string())
}

/// `WEBHOOK_SECRET`: `whsec_<base64>`; empty means none. The reason never quotes it.
fn webhook_secret(value: &Value) -> Result<Option<WebhookSecret>, Reason> {
    match value.as_str().map(str::trim) {
        Some("") => Ok(None),
        Some(text) => WebhookSecret::parse(text)
            .map(Some)
            .map_err(|error| error.to_string()),
        None => Err("expected a string".to_owned()),
    }
}

/// A socket address like `127.0.0.1:9100`, or nothing (an empty string too).
fn optional_socket_addr(value: &Value) -> Result<Option<SocketAddr>, Reason> {
    if string(value)?.trim().is_empty() {
        return Ok(None);
    }
    socket_addr(value).map(Some)
}

/// A socket address like `127.0.0.1:8000` or `[::1]:8000`.
fn socket_addr(value: &Value) -> Result<SocketAddr, Reason> {
    string(value)?
        .trim()
        .parse()
        .map_err(|_| expected("expected an address like 127.0.0.1:8000", value))
}
