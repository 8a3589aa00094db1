//! The client's address: the TCP peer's, unless the peer is a trusted proxy, which then says
//! whose request it forwards in `X-Forwarded-For` or `Forwarded: for=` (RFC 7239).
//!
//! Each proxy appends the address it received the request from, so the list is read from the
//! right: entries written by trusted proxies are skipped, and the first untrusted one is the
//! client. Entries further left were written by that client and prove nothing. A value that
//! cannot be read where it matters falls back to the peer: a broken header must not let a
//! client choose the address it is counted under.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// An address block such as `10.0.0.0/8` or `::1/128`; a bare address is the block of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // Bits that must match, counted from the left; a shift by the whole width would
        // overflow, and a /0 matches everything anyway.
        let same =
            |a: u128, b: u128, width: u8| self.prefix == 0 || (a ^ b) >> (width - self.prefix) == 0;
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => same(u32::from(n).into(), u32::from(a).into(), 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => same(n.into(), a.into(), 128),
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network = addr
            .parse::<IpAddr>()
            .map_err(|_| format!("{s:?} is not an address block such as 10.0.0.0/8 or ::1/128"))?
            .to_canonical();
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => Some(p)
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u8>().ok())
                .filter(|&p| p <= width)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {width}"))?,
        };
        Ok(Self { network, prefix })
    }
}

/// The address `peer`'s request is counted and logged under (see the module's comment).
/// `X-Forwarded-For` is read when present, else `Forwarded`: the header nearly every proxy
/// writes is the one a client cannot slip past it.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.iter().any(|cidr| cidr.contains(peer)) {
        return peer;
    }
    let hops = if headers.contains_key("x-forwarded-for") {
        joined(headers, "x-forwarded-for").map(|list| {
            list.split(',')
                .map(|entry| node(entry.trim()))
                .collect::<Vec<_>>()
        })
    } else if headers.contains_key("forwarded") {
        joined(headers, "forwarded").and_then(|list| forwarded_for(&list))
    } else {
        return peer;
    };
    let Some(hops) = hops else {
        return peer;
    };
    let mut nearest_trusted = peer;
    for hop in hops.into_iter().rev() {
        let Some(hop) = hop else {
            return peer;
        };
        if !trusted.iter().any(|cidr| cidr.contains(hop)) {
            return hop;
        }
        nearest_trusted = hop;
    }
    // Trusted all the way: the furthest proxy is the best known client.
    nearest_trusted
}

/// Every line of the header `name`, joined as one list; `None` when one is not text.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let lines = headers
        .get_all(name)
        .iter()
        .map(|value| value.to_str().ok())
        .collect::<Option<Vec<_>>>()?;
    Some(lines.join(","))
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`, with or
/// without a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn node(s: &str) -> Option<IpAddr> {
    let ip = s
        .parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| s.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// The `for=` of each element of a `Forwarded` list, in order (`None` for an element without
/// a readable address: `unknown`, an obfuscated name, or none); `None` when the list is not
/// RFC 7239 syntax (an unterminated quote).
fn forwarded_for(list: &str) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for element in split_unquoted(list, ',')? {
        if element.trim().is_empty() {
            continue;
        }
        let mut address = None;
        for pair in split_unquoted(&element, ';')? {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("for") {
                address = node(&unquote(value.trim())?);
            }
        }
        hops.push(address);
    }
    Some(hops)
}

/// `s` split at each `separator` outside double quotes; `None` when a quote is left open.
fn split_unquoted(s: &str, separator: char) -> Option<Vec<String>> {
    let (mut parts, mut current) = (Vec::new(), String::new());
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    if quoted {
        return None;
    }
    parts.push(current);
    Some(parts)
}

/// A token as it is, or a quoted string without its quotes and escapes.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Some(value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped peers");
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.1.0.1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        assert!("::/0".parse::<Cidr>().unwrap().contains(ip("::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "localhost",
            "10.0.0/8",
            "10.0.0.0/+8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=198.51.100.1"),
        ]);
        assert_eq!(client_address(ip("192.0.2.7"), &h, &[]), ip("192.0.2.7"));
        let trusted = cidrs(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("192.0.2.7"), &h, &trusted),
            ip("192.0.2.7")
        );
    }

    #[test]
    fn x_forwarded_for_is_walked_from_the_right_past_trusted_hops() {
        let trusted = cidrs(&["10.0.0.0/8", "127.0.0.1/32"]);
        let peer = ip("127.0.0.1");
        let client =
            |xff: &str| client_address(peer, &headers(&[("x-forwarded-for", xff)]), &trusted);
        // What a client claims left of its own address changes nothing.
        assert_eq!(client("1.1.1.1, 203.0.113.9, 10.0.0.2"), ip("203.0.113.9"));
        assert_eq!(client("203.0.113.9"), ip("203.0.113.9"));
        assert_eq!(client("[2001:db8::5]:4711 , 10.9.9.9"), ip("2001:db8::5"));
        assert_eq!(client("203.0.113.9:5000"), ip("203.0.113.9"));
        assert_eq!(
            client("10.0.0.3, 10.0.0.2"),
            ip("10.0.0.3"),
            "trusted all the way"
        );
        // Malformed where it is read: the peer.
        assert_eq!(client("203.0.113.9, nonsense"), peer);
        assert_eq!(client(""), peer);
        assert_eq!(
            client("nonsense, 203.0.113.9"),
            ip("203.0.113.9"),
            "not read"
        );
        // Several header lines are one list.
        let two = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "10.0.0.1"),
        ]);
        assert_eq!(client_address(peer, &two, &trusted), ip("203.0.113.9"));
        assert_eq!(client_address(peer, &HeaderMap::new(), &trusted), peer);
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        let client =
            |value: &str| client_address(peer, &headers(&[("forwarded", value)]), &trusted);
        assert_eq!(
            client("for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\""),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client("for=192.0.2.60, for=10.1.1.1;proto=https"),
            ip("192.0.2.60")
        );
        assert_eq!(client("for=\"192.0.2.60:80\""), ip("192.0.2.60"));
        assert_eq!(
            client("for=\"x,y\", for=192.0.2.61"),
            ip("192.0.2.61"),
            "commas in quotes"
        );
        for bad in [
            "for=unknown",
            "for=_hidden",
            "proto=https",
            "for=\"192.0.2.60",
            "for=192.0.2.1, by=10.0.0.1",
        ] {
            assert_eq!(client(bad), peer, "{bad:?}");
        }
        let both = headers(&[
            ("forwarded", "for=192.0.2.60"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_address(peer, &both, &trusted),
            ip("203.0.113.9"),
            "X-Forwarded-For wins"
        );
    }
}
