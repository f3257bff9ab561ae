//! The client IP: the peer address, or behind trusted proxies the right-most untrusted
//! `X-Forwarded-For` entry.

use std::net::IpAddr;

use ipnet::IpNet;

/// Resolves the client IP of a request.
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
    pub fn resolve(&self, peer: Option<IpAddr>, x_forwarded_for: Option<&str>) -> Option<IpAddr> {
        let _ = (&self.trusted_proxies, x_forwarded_for);
        todo!("helper: {peer:?}")
    }
}
