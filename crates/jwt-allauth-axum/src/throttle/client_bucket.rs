//! The bucket a client IP is counted in.

use std::net::{IpAddr, Ipv6Addr};

/// The unit the per-client limits count: an IPv4 address, or an IPv6 /64 network.
///
/// An IPv6 /64 is what one subscriber line or one cloud host gets: counting single
/// addresses would give whoever holds a /64 2^64 fresh buckets. An IPv4 address written
/// as IPv6 (`::ffff:192.0.2.1`) is that IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientBucket(IpAddr);

impl ClientBucket {
    /// The bucket of `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let network = u128::from(v6) & (u128::MAX << 64);
                    Self(IpAddr::V6(Ipv6Addr::from(network)))
                }
            },
        }
    }

    /// The address naming the bucket: the IPv4 address, or the first address of the
    /// IPv6 /64.
    pub fn address(self) -> IpAddr {
        self.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bucket(text: &str) -> IpAddr {
        ClientBucket::of(text.parse().unwrap()).address()
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_bucket() {
        assert_eq!(
            bucket("2001:db8:1:2:aaaa::1"),
            bucket("2001:db8:1:2:ffff:1:2:3")
        );
        assert_eq!(bucket("2001:db8:1:2:aaaa::1"), bucket("2001:db8:1:2::"));
        assert_ne!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:3::1"));
    }

    #[test]
    fn ipv4_addresses_are_their_own_bucket_however_written() {
        assert_eq!(bucket("192.0.2.1"), bucket("::ffff:192.0.2.1"));
        assert_ne!(bucket("192.0.2.1"), bucket("192.0.2.2"));
    }
}
