//! Which addresses a document may be fetched from: every hop's URL is
//! checked (https, no credentials) and resolved by us, and refused if any of
//! its addresses is not globally routable, unless its `host:port` is
//! allow-listed (development and tests only).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use super::DocumentError;

/// Validates one hop and returns the addresses the connection must be pinned to.
pub async fn check(allow_hosts: &[String], url: &Url) -> Result<Vec<SocketAddr>, DocumentError> {
    let http = match url.scheme() {
        "https" => false,
        "http" => true,
        _ => return Err(DocumentError::Scheme),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DocumentError::Credentials);
    }
    let host = url.host().ok_or(DocumentError::InvalidUrl)?;
    let port = url
        .port_or_known_default()
        .ok_or(DocumentError::InvalidUrl)?;
    // `Host` displays IPv6 as "[::1]", matching how allow-list entries are written.
    let allowed = allow_hosts.contains(&format!("{host}:{port}"));
    if http && !allowed {
        return Err(DocumentError::Scheme);
    }

    let addrs: Vec<SocketAddr> = match host {
        Host::Ipv4(ip) => vec![SocketAddr::new(ip.into(), port)],
        Host::Ipv6(ip) => vec![SocketAddr::new(ip.into(), port)],
        Host::Domain(name) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| DocumentError::unreachable(format!("resolving {name}: {e}")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(DocumentError::unreachable(format!("{host} has no address")));
    }
    // Refuse if ANY address is internal: the client could pick any of them.
    if !allowed && !addrs.iter().all(|a| is_public_ip(a.ip())) {
        tracing::warn!(host = %host, "documentUrl refused: non-public address");
        return Err(DocumentError::NonPublic);
    }
    Ok(addrs)
}

/// IPv4 ranges that are not globally routable unicast.
const BLOCKED_V4: [(Ipv4Addr, u32); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),  // "this network", incl. unspecified
    (Ipv4Addr::new(10, 0, 0, 0), 8), // private
    (Ipv4Addr::new(100, 64, 0, 0), 10), // CGNAT
    (Ipv4Addr::new(127, 0, 0, 0), 8), // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16), // link-local (cloud metadata)
    (Ipv4Addr::new(172, 16, 0, 0), 12), // private
    (Ipv4Addr::new(192, 0, 0, 0), 24), // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24), // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24), // deprecated 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16), // private
    (Ipv4Addr::new(198, 18, 0, 0), 15), // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24), // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4), // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4), // reserved, incl. broadcast
];

/// IPv6 ranges that are not globally routable unicast. Addresses that embed an IPv4
/// address (mapped, compatible, NAT64, 6to4, Teredo) are refused whatever they embed.
const BLOCKED_V6: [(Ipv6Addr, u32); 16] = [
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96), // IPv4-compatible, incl. :: and ::1
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96), // IPv4-mapped
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96), // NAT64
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64), // discard
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32), // Teredo
    (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48), // benchmarking
    (Ipv6Addr::new(0x2001, 0x10, 0, 0, 0, 0, 0, 0), 28), // ORCHID
    (Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28), // ORCHIDv2
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), // unique-local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10), // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), // site-local
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8), // multicast
];

/// true only for globally routable unicast addresses.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let ip = u32::from(ip);
            !BLOCKED_V4
                .iter()
                .any(|&(net, len)| in_prefix(ip.into(), u32::from(net).into(), len + 96))
        }
        IpAddr::V6(ip) => {
            let ip = u128::from(ip);
            // Only 2000::/3 is allocated as global unicast; everything else is refused too.
            in_prefix(ip, 0x2000 << 112, 3)
                && !BLOCKED_V6
                    .iter()
                    .any(|&(net, len)| in_prefix(ip, net.into(), len))
        }
    }
}

/// Compares the top `len` bits; IPv4 values are widened into the low 32 bits (so len + 96).
fn in_prefix(ip: u128, net: u128, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    ip & mask == net & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ip_table() {
        let cases = [
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("93.184.216.34", true),
            ("2606:4700::1111", true),
            ("2a00:1450:4001::200e", true),
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("224.0.0.1", false),
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("255.255.255.255", false),
            ("192.0.2.1", false),
            ("198.51.100.1", false),
            ("203.0.113.1", false),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("240.0.0.1", false),
            ("192.0.0.8", false),
            ("::1", false),
            ("::", false),
            ("fe80::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:8.8.8.8", false),
            ("::127.0.0.1", false),
            ("64:ff9b::a00:1", false),
            ("2002:7f00:1::", false),
            ("2001::1", false),
            ("100::1", false),
        ];
        for (ip, public) in cases {
            assert_eq!(is_public_ip(ip.parse().unwrap()), public, "{ip}");
        }
        // Neighbours just outside the blocked ranges stay public.
        for ip in ["172.32.0.1", "100.128.0.1", "198.20.0.1", "11.0.0.1"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }
}
