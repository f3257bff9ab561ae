//! `X-Forwarded-For` and the client IP: `ClientInfo::from_headers` (axum crate) and
//! `ClientIpResolver::resolve` (core), with arbitrary header values and settings.
//!
//! The input's first line is the peer address (none when it does not parse), its second
//! line the trusted proxies, comma-separated networks or addresses (entries that do not
//! parse are left out), and the rest `name:value` header lines (see `src/header_map.rs`),
//! typically several `X-Forwarded-For` headers.
//!
//! Checks, besides the absence of panics, what the documentation says:
//! - `forwarded_for` is every `X-Forwarded-For` value joined with `,` in order, or none
//!   when there is none or one is not visible ASCII; `user_agent` is the first
//!   `User-Agent`, decoded lossily (bytes that are not UTF-8 become U+FFFD);
//! - `client_ip` is `resolve(peer, forwarded_for)`; with no peer there is no client IP;
//!   an untrusted peer is the client (in canonical form);
//! - behind a trusted peer the answer is the peer or an address written in the header,
//!   and when the right-most entry is a plain untrusted address, it is that address.
#![no_main]

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, header};
use ipnet::IpNet;
use jwt_allauth::ClientIpResolver;
use jwt_allauth_axum::ClientInfo;
use jwt_allauth_fuzz::header_map;
use libfuzzer_sys::fuzz_target;

/// The trusted networks of a comma-separated list; single addresses become `/32` or
/// `/128` networks.
fn networks(line: &str) -> Vec<IpNet> {
    line.split(',')
        .map(str::trim)
        .filter_map(|text| {
            text.parse::<IpNet>()
                .ok()
                .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
        })
        .collect()
}

/// Every address an `X-Forwarded-For` entry may be read as, in canonical form: a
/// superset of what the resolver accepts (it also bounds the entry's length).
fn entry_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

/// What `ClientInfo::from_headers` must join: all values, or none if one is unreadable.
fn expected_forwarded_for(headers: &HeaderMap) -> Option<String> {
    let values: Option<Vec<&str>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|value| value.to_str().ok())
        .collect();
    values
        .filter(|values| !values.is_empty())
        .map(|values| values.join(","))
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let peer_line = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let proxies_line = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let headers = header_map::from_lines(lines.next().unwrap_or_default());

    let peer = peer_line.trim().parse::<IpAddr>().ok();
    let trusted = networks(&proxies_line);
    let resolver = ClientIpResolver::new(trusted.clone());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));

    let info = ClientInfo::from_headers(peer, &headers);
    assert_eq!(info.peer, peer);
    assert_eq!(info.forwarded_for, expected_forwarded_for(&headers));
    let user_agent = headers.get(header::USER_AGENT).map(|value| {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        // Visible ASCII stays as sent; other bytes never blank the header.
        if let Ok(ascii) = value.to_str() {
            assert_eq!(text, ascii);
        }
        text
    });
    assert_eq!(info.user_agent, user_agent);

    let client = info.client_ip(&resolver);
    let forwarded = info.forwarded_for.as_deref();
    assert_eq!(client, resolver.resolve(peer, forwarded));
    let Some(peer) = peer.map(|peer| peer.to_canonical()) else {
        assert_eq!(client, None, "a client IP without a peer");
        return;
    };
    let client = client.expect("a known peer gives a client IP");
    if !is_trusted(peer) {
        assert_eq!(client, peer, "an untrusted peer is the client");
        return;
    }
    let entries: Vec<&str> = forwarded
        .map(|h| h.split(',').collect())
        .unwrap_or_default();
    assert!(
        client == peer || entries.iter().any(|e| entry_address(e) == Some(client)),
        "{client} is neither the peer nor in {forwarded:?}"
    );
    if let Some(last) = entries.last()
        && let Ok(ip) = last.trim().parse::<IpAddr>()
        && !is_trusted(ip.to_canonical())
    {
        assert_eq!(client, ip.to_canonical(), "the right-most untrusted entry");
    }
});
