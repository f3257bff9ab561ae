//! The client IP: the peer address, or behind trusted proxies the right-most untrusted
//! `X-Forwarded-For` entry.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// Most `X-Forwarded-For` entries examined, counted from the right. Entries further left
/// could only have been written by the client itself, so they never matter in practice.
const MAX_ENTRIES: usize = 32;

/// Longest entry that can be an address: `[` IPv6 with an embedded IPv4 `]:65535` is 54.
const MAX_ENTRY_BYTES: usize = 64;

/// Resolves the client IP of a request.
///
/// Addresses are compared in canonical form, so an IPv4-mapped IPv6 address
/// (`::ffff:192.0.2.1`, as dual-stack sockets report IPv4 peers) matches the IPv4
/// networks and is returned as IPv4.
#[derive(Debug, Clone, Default)]
pub struct ClientIpResolver {
    trusted_proxies: Vec<IpNet>,
}

impl ClientIpResolver {
    /// A resolver trusting `X-Forwarded-For` only from these networks.
    pub fn new(trusted_proxies: Vec<IpNet>) -> Self {
        Self { trusted_proxies }
    }

    /// The client IP: `peer` itself unless it is a trusted proxy, in which case the
    /// right-most `X-Forwarded-For` entry that is not a trusted proxy. An unparseable
    /// header is ignored (the peer is returned).
    ///
    /// In detail, when `peer` is inside a trusted network the header's comma-separated
    /// entries are walked from right to left, skipping trusted ones; the first untrusted
    /// entry is the client, and if every entry is trusted the left-most one is. Entries
    /// may be `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]` or
    /// `[2001:db8::1]:443`. If an entry reached by this walk cannot be parsed, the whole
    /// header is ignored and the peer returned; entries left of the client's are never
    /// read, since only the client could have written them (so junk there cannot hide
    /// the address our proxy appended). At most 32 entries are examined.
    ///
    /// Several `X-Forwarded-For` headers should be passed joined with `,`, in order. With
    /// no `peer` (unknown transport) the header cannot be trusted and `None` is returned.
    pub fn resolve(&self, peer: Option<IpAddr>, x_forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let Some(header) = x_forwarded_for.filter(|h| !h.trim().is_empty()) else {
            return Some(peer);
        };
        let mut left_most = None;
        for entry in header.rsplit(',').take(MAX_ENTRIES) {
            let Some(ip) = parse_entry(entry) else {
                return Some(peer);
            };
            if !self.is_trusted(ip) {
                return Some(ip);
            }
            left_most = Some(ip);
        }
        left_most.or(Some(peer))
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// One `X-Forwarded-For` entry as a canonical address, with any port dropped.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if entry.len() > MAX_ENTRY_BYTES {
        return None;
    }
    let ip = if let Ok(ip) = entry.parse::<IpAddr>() {
        ip
    } else if let Ok(socket) = entry.parse::<SocketAddr>() {
        // `192.0.2.1:443` or `[2001:db8::1]:443`.
        socket.ip()
    } else {
        // `[2001:db8::1]` without a port.
        let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
        IpAddr::V6(inner.parse().ok()?)
    };
    Some(ip.to_canonical())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn behind(proxies: &[&str]) -> ClientIpResolver {
        ClientIpResolver::new(proxies.iter().map(|p| p.parse().unwrap()).collect())
    }

    fn resolve(resolver: &ClientIpResolver, peer: &str, header: Option<&str>) -> Option<IpAddr> {
        resolver.resolve(Some(ip(peer)), header)
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let resolver = ClientIpResolver::default();
        let header = Some("198.51.100.1, 10.0.0.2");
        assert_eq!(resolve(&resolver, "10.0.0.1", header), Some(ip("10.0.0.1")));
        assert_eq!(resolve(&resolver, "10.0.0.1", None), Some(ip("10.0.0.1")));
        assert_eq!(resolver.resolve(None, header), None);
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() {
        let resolver = behind(&["10.0.0.0/8"]);
        // The client forged the first entry; our proxies appended the others.
        let header = Some("1.2.3.4, 198.51.100.7, 10.0.0.3");
        assert_eq!(
            resolve(&resolver, "10.0.0.1", header),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            resolve(&resolver, "10.0.0.1", Some("198.51.100.7")),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn a_trusted_proxy_without_header_is_the_client() {
        let resolver = behind(&["10.0.0.0/8"]);
        for header in [None, Some(""), Some("  ")] {
            assert_eq!(resolve(&resolver, "10.0.0.1", header), Some(ip("10.0.0.1")));
        }
    }

    #[test]
    fn a_header_from_an_untrusted_peer_is_ignored() {
        let resolver = behind(&["10.0.0.0/8"]);
        let header = Some("1.2.3.4");
        assert_eq!(
            resolve(&resolver, "203.0.113.9", header),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn when_every_entry_is_trusted_the_left_most_is_the_client() {
        let resolver = behind(&["10.0.0.0/8", "192.168.0.0/16"]);
        let header = Some("192.168.1.5, 10.0.0.7, 10.0.0.3");
        assert_eq!(
            resolve(&resolver, "10.0.0.1", header),
            Some(ip("192.168.1.5"))
        );
    }

    #[test]
    fn ipv6_entries_and_networks() {
        let resolver = behind(&["2001:db8:ffff::/48", "10.0.0.0/8"]);
        let header = Some("2001:db8:1::5, 2001:db8:ffff::2");
        assert_eq!(
            resolve(&resolver, "2001:db8:ffff::1", header),
            Some(ip("2001:db8:1::5"))
        );
        // A dual-stack socket reports an IPv4 proxy as IPv4-mapped IPv6.
        let header = Some("::ffff:198.51.100.7");
        assert_eq!(
            resolve(&resolver, "::ffff:10.0.0.1", header),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            resolve(&resolver, "::ffff:203.0.113.9", None),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn entries_with_ports_and_brackets() {
        let resolver = behind(&["10.0.0.0/8"]);
        let cases = [
            ("198.51.100.7:51234", "198.51.100.7"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("  198.51.100.7  ", "198.51.100.7"),
            ("198.51.100.7, 10.0.0.3:8080", "198.51.100.7"),
        ];
        for (header, expected) in cases {
            assert_eq!(
                resolve(&resolver, "10.0.0.1", Some(header)),
                Some(ip(expected)),
                "{header}"
            );
        }
    }

    #[test]
    fn malformed_headers_are_ignored() {
        let resolver = behind(&["10.0.0.0/8"]);
        for header in [
            "garbage",
            "unknown",
            "198.51.100.7, ",
            "198.51.100.7,,10.0.0.3",
            "198.51.100.300",
            "[2001:db8::7",
            "2001:db8::7]:443",
            "fe80::1%eth0",
            "198.51.100.7:99999",
            "1.2.3.4\u{0}",
            "10.0.0.3 10.0.0.4",
        ] {
            assert_eq!(
                resolve(&resolver, "10.0.0.1", Some(header)),
                Some(ip("10.0.0.1")),
                "{header:?}"
            );
        }
    }

    #[test]
    fn junk_left_of_the_client_entry_is_never_read() {
        let resolver = behind(&["10.0.0.0/8"]);
        let header = Some("not an address, 198.51.100.7, 10.0.0.3");
        assert_eq!(
            resolve(&resolver, "10.0.0.1", header),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn overlong_headers_are_bounded() {
        let resolver = behind(&["10.0.0.0/8"]);
        // Thousands of entries: only the right-most are examined.
        let mut header = "10.0.0.9, ".repeat(10_000);
        header.push_str("198.51.100.7, 10.0.0.3");
        assert_eq!(
            resolve(&resolver, "10.0.0.1", Some(&header)),
            Some(ip("198.51.100.7"))
        );
        // A trusted chain longer than the cap ends at the left-most examined entry.
        let header = "10.0.0.9, ".repeat(10_000) + "10.0.0.8";
        assert_eq!(
            resolve(&resolver, "10.0.0.1", Some(&header)),
            Some(ip("10.0.0.9"))
        );
        // One enormous entry is not an address.
        let header = "1".repeat(100_000);
        assert_eq!(
            resolve(&resolver, "10.0.0.1", Some(&header)),
            Some(ip("10.0.0.1"))
        );
    }
}
