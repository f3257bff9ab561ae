//! What a request tells about its client: peer address, `X-Forwarded-For`, User-Agent.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use jwt_allauth::{ClientIpResolver, DeviceInfo, UserAgentParser};

/// The client facts of a request, from which the client IP and the device metadata of a
/// session are derived. Extracting it never fails.
///
/// The peer address comes from `ConnectInfo<SocketAddr>`, present when the application
/// is served with `into_make_service_with_connect_info::<SocketAddr>()`; without it
/// (for example in tests calling the router directly) the peer, and so the client IP, is
/// unknown, and the per-IP login throttle does not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The TCP peer's address.
    pub peer: Option<IpAddr>,
    /// All `X-Forwarded-For` headers joined with `,`, in order; `None` when absent or
    /// when one of them is not visible ASCII (then it is ignored, never an error).
    pub forwarded_for: Option<String>,
    /// The `User-Agent` header, decoded lossily: bytes that are not UTF-8 (Latin-1 from
    /// old clients, say) become U+FFFD rather than losing the whole header, and with it
    /// the session's device details.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// Reads the client facts from request parts.
    pub fn from_parts(parts: &Parts) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Self::from_headers(peer, &parts.headers)
    }

    /// Reads the client facts from headers, with a known (or unknown) peer.
    pub fn from_headers(peer: Option<IpAddr>, headers: &HeaderMap) -> Self {
        let mut forwarded: Option<String> = None;
        let mut unreadable = false;
        for value in headers.get_all("x-forwarded-for") {
            match value.to_str() {
                Ok(text) => match &mut forwarded {
                    Some(joined) => {
                        joined.push(',');
                        joined.push_str(text);
                    }
                    None => forwarded = Some(text.to_owned()),
                },
                Err(_) => unreadable = true,
            }
        }
        let user_agent = headers
            .get(header::USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        Self {
            peer,
            forwarded_for: forwarded.filter(|_| !unreadable),
            user_agent,
        }
    }

    /// The client IP: the peer, or behind a trusted proxy the right-most untrusted
    /// `X-Forwarded-For` entry (see [`ClientIpResolver::resolve`]).
    pub fn client_ip(&self, resolver: &ClientIpResolver) -> Option<IpAddr> {
        resolver.resolve(self.peer, self.forwarded_for.as_deref())
    }

    /// The device metadata to record for a session: the parsed User-Agent (when a parser
    /// is given, that is when `COLLECT_USER_AGENT` is on) and the client IP.
    pub fn device_info(
        &self,
        parser: Option<&UserAgentParser>,
        resolver: &ClientIpResolver,
    ) -> DeviceInfo {
        DeviceInfo::from_request(parser, self.user_agent.as_deref(), self.client_ip(resolver))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}
