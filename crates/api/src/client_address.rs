//! The client address of a request: the socket peer, or, when the peer is a trusted proxy
//! (`JWTD_TRUSTED_PROXIES`), the right-most `X-Forwarded-For` entry that is not itself a
//! trusted proxy.
//!
//! Each proxy appends the address it received the request from, so the entries to the right
//! were written by proxies jwtd trusts and the first untrusted one from the right is the
//! client as the outermost trusted proxy saw it. Anything left of it was written by the
//! client and proves nothing (reading the left-most entry let any client choose its
//! address, and with it its rate-limit bucket and its grace binding).

use std::net::IpAddr;

use axum::http::HeaderMap;

pub use ipnet::IpNet;

/// The client address of a request that came over a socket from `peer`.
pub fn of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    // Every header line in order, as one comma-separated list (RFC 9110 §5.3).
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut last_trusted = peer;
    for entry in entries.iter().rev() {
        match parse(entry) {
            Some(address) if is_trusted(address, trusted) => last_trusted = address,
            Some(address) => return address,
            // Not an address: written by no proxy of ours; the hop that passed it on is
            // the client as far as anything trusted can tell.
            None => return last_trusted,
        }
    }
    // Every hop is a trusted proxy (a request made by a proxy itself): the first of them.
    last_trusted
}

fn is_trusted(address: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|network| network.contains(&address))
}

/// An entry: an address, possibly with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| socket.ip().to_canonical())
}

/// Parses `JWTD_TRUSTED_PROXIES` entries: addresses (`10.0.0.5`, `::1`) or networks
/// (`10.0.0.0/8`).
///
/// # Errors
/// The first entry that is neither, as given.
pub fn parse_trusted(entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| entry.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies() -> Vec<IpNet> {
        parse_trusted(&["10.0.0.0/8".to_owned(), "::1".to_owned()]).unwrap()
    }

    #[test]
    fn without_a_trusted_peer_the_header_is_ignored() {
        let forged = headers(&["198.51.100.1"]);
        assert_eq!(
            of(address("203.0.113.9"), &forged, &proxies()),
            address("203.0.113.9")
        );
        assert_eq!(of(address("10.0.0.2"), &forged, &[]), address("10.0.0.2"));
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client_whatever_the_client_wrote_before_it() {
        let chain = headers(&["1.2.3.4, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(
            of(address("10.0.0.2"), &chain, &proxies()),
            address("198.51.100.7")
        );
        let with_port = headers(&["[2001:db8::5]:4711"]);
        assert_eq!(
            of(address("::1"), &with_port, &proxies()),
            address("2001:db8::5")
        );
    }

    #[test]
    fn garbage_or_only_proxies_fall_back_to_the_last_trusted_hop() {
        let garbage = headers(&["evil, 10.2.2.2"]);
        assert_eq!(
            of(address("10.0.0.2"), &garbage, &proxies()),
            address("10.2.2.2")
        );
        assert_eq!(
            of(address("10.0.0.2"), &HeaderMap::new(), &proxies()),
            address("10.0.0.2")
        );
        let mapped = headers(&["::ffff:192.0.2.8"]);
        assert_eq!(
            of(address("10.0.0.2"), &mapped, &proxies()),
            address("192.0.2.8")
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        assert_eq!(proxies().len(), 2);
        assert!(is_trusted(address("::1"), &proxies()));
        assert_eq!(
            parse_trusted(&["10.0.0.0/8".to_owned(), "proxy.local".to_owned()]),
            Err("proxy.local".to_owned())
        );
    }
}
