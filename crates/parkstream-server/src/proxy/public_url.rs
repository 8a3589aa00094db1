//! `--public-url`: where people reach the dashboard through a proxy, such as
//! `https://ops.example.com/parking/`. The server prints it as the sign-in link and scopes
//! the token cookie to its path; the dashboard itself uses relative URLs only, so it works
//! under any path the proxy strips.

use std::str::FromStr;

/// An `http(s)://host[:port][/path/]` URL; the path always ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    url: String,
    path_start: usize,
}

impl PublicUrl {
    /// The whole URL, ending with `/`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The path, from `/` to `/`: the token cookie's `Path`.
    pub fn path(&self) -> &str {
        &self.url[self.path_start..]
    }

    pub fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }
}

impl FromStr for PublicUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let scheme_end = if s.starts_with("https://") {
            "https://".len()
        } else if s.starts_with("http://") {
            "http://".len()
        } else {
            return Err("must start with http:// or https://".into());
        };
        let rest = &s[scheme_end..];
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
        if !host_ok {
            return Err("names no host (http(s)://HOST[:PORT]/PATH/)".into());
        }
        // The path becomes a cookie attribute and a link: nothing that would end either.
        let path_ok = path
            .chars()
            .all(|c| c.is_ascii_graphic() && !"?#;,\"\\".contains(c));
        if !path_ok {
            return Err("the path may hold no query, fragment, space, `;`, `,` or quote".into());
        }
        let mut url = s.to_owned();
        if !url.ends_with('/') {
            url.push('/');
        }
        Ok(Self {
            url,
            path_start: scheme_end + host.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_what_the_proxy_serves_the_dashboard_under() {
        let url: PublicUrl = "https://ops.example.com/parking/".parse().unwrap();
        assert_eq!(url.as_str(), "https://ops.example.com/parking/");
        assert_eq!(url.path(), "/parking/");
        assert!(url.is_https());
        let bare: PublicUrl = "http://[::1]:8080".parse().unwrap();
        assert_eq!(bare.as_str(), "http://[::1]:8080/");
        assert_eq!(bare.path(), "/");
        assert!(!bare.is_https());
        let slashless: PublicUrl = "https://ops.example.com/a/parking".parse().unwrap();
        assert_eq!(slashless.path(), "/a/parking/");
        for bad in [
            "ops.example.com/parking/",
            "ftp://ops.example.com/",
            "https:///parking/",
            "https://user@ops.example.com/",
            "https://ops.example.com/parking/?x=1",
            "https://ops.example.com/park ing/",
            "https://ops.example.com/parking;x/",
        ] {
            assert!(bad.parse::<PublicUrl>().is_err(), "{bad:?}");
        }
    }
}
