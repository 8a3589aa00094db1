//! Where webhooks may be sent: `http` or `https` URLs whose host is not on this machine or
//! its private networks, unless `--webhook-allow-private`. Checked when an endpoint is saved
//! and again at every connection (the resolver below), since a name can resolve elsewhere
//! later (DNS rebinding).

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// The longest URL accepted.
const MAX_URL: usize = 2_048;

/// Whether `ip` is loopback, private, link-local, unique-local, unspecified, shared
/// (carrier-grade NAT), broadcast or multicast: nothing a webhook should reach from a server.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
                || (first & 0xffc0) == 0xfe80 // link local, fe80::/10
        }
    }
}

/// Parses an endpoint's URL: absolute, `http` or `https`, with a host and no credentials.
pub fn parse_url(raw: &str) -> Result<Url, String> {
    if raw.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let url = Url::parse(raw).map_err(|e| format!("not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    Ok(url)
}

/// Checks that `url`'s host resolves, and only to addresses a webhook may reach.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), String> {
    let host = url.host_str().ok_or("must name a host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = resolve(host, port, allow_private).await?;
    if addrs.is_empty() {
        return Err(format!("{host} does not resolve"));
    }
    Ok(())
}

/// `host`'s addresses; an error when one of them is private and that is not allowed.
async fn resolve(host: &str, port: u16, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("{host} does not resolve: {e}"))?
            .collect(),
    };
    if !allow_private {
        if let Some(private) = addrs.iter().find(|addr| is_private(addr.ip())) {
            return Err(format!(
                "{host} resolves to {}, a private or local address (see --webhook-allow-private)",
                private.ip()
            ));
        }
    }
    Ok(addrs)
}

/// The resolver of the delivery client: refuses names that resolve to private addresses.
/// (Addresses written in the URL never reach a resolver: delivery checks them itself.)
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver {
    pub allow_private: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs = resolve(name.as_str(), 0, allow_private).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_private_addresses_are_private() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_plain_http_and_https_urls() {
        assert!(parse_url("https://hooks.example.com/parking").is_ok());
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "https://user:pw@example.com/",
            "",
        ] {
            assert!(parse_url(bad).is_err(), "{bad:?}");
        }
    }
}
