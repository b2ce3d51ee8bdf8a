//! Hosts and ports as targets write them: `HOST:PORT`, `[IPV6]:PORT`, the host and
//! port of a URL, percent-decoding, and the path of a `unix:` or `file:` URL. A leaf:
//! what [`crate::target`] and every kind ([`crate::probe`]) parse with.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use url::Url;

/// How a `HOST:PORT` without its port is reported (the caller may add more forms).
pub const MISSING_PORT: &str = "missing port: write HOST:PORT";

/// A host and a port; names are resolved again at every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host as given.
    pub host: Host,
    /// The TCP port.
    pub port: u16,
}

/// A host: an address literal or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 or IPv6 literal: no resolution needed.
    Ip(IpAddr),
    /// A DNS name, resolved at every attempt.
    Name(String),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(a) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// Parses `HOST:PORT` or `[IPV6]:PORT`.
pub fn parse_host_port(text: &str) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or("missing ']' after the IPv6 address")?;
        let addr: Ipv6Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
        let port = after
            .strip_prefix(':')
            .ok_or("missing port: write [IPV6]:PORT, e.g. [::1]:5432")?;
        (Host::Ip(IpAddr::V6(addr)), port)
    } else {
        let Some((host, port)) = text.rsplit_once(':') else {
            // Echo the input in the hint only when it is a plain name.
            let plain = text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            let example = if plain { text } else { "db" };
            return Err(format!("{MISSING_PORT}, e.g. {example}:5432"));
        };
        if host.contains(':') {
            return Err("an IPv6 address needs brackets: [::1]:5432".into());
        }
        (parse_host(host)?, port)
    };
    Ok(Endpoint {
        host,
        port: parse_port(port)?,
    })
}

/// Parses a host: an address literal or a name.
pub fn parse_host(host: &str) -> Result<Host, String> {
    if host.is_empty() {
        return Err("missing host".into());
    }
    // Plain dotted decimal, the usual form, without the URL standard's host
    // processing (IDNA mapping first, then its IPv4 parser): std accepts no form that
    // the URL standard would read as another address (no leading zeros, no hex, no
    // short forms), so the result is the same, for a tenth of the work.
    if let Ok(a) = host.parse::<std::net::Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(a)));
    }
    match url::Host::parse(host) {
        Ok(url::Host::Ipv4(a)) => Ok(Host::Ip(IpAddr::V4(a))),
        Ok(url::Host::Ipv6(a)) => Ok(Host::Ip(IpAddr::V6(a))),
        Ok(url::Host::Domain(d)) => Ok(Host::Name(d)),
        Err(e) => Err(format!("invalid host {host:?}: {e}")),
    }
}

/// Parses a port from 1 to 65535.
pub fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "invalid port {port:?}: expected a number from 1 to 65535"
        )),
        Ok(p) => Ok(p),
    }
}

/// The host and port of a URL; `default_port` when the URL has none.
pub fn url_endpoint(url: &Url, default_port: Option<u16>) -> Result<Endpoint, String> {
    let host = match url.host() {
        None => return Err("missing host".into()),
        Some(url::Host::Ipv4(a)) => Host::Ip(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Host::Ip(IpAddr::V6(a)),
        Some(url::Host::Domain("")) => return Err("missing host".into()),
        // Hosts of non-special schemes (tcp, redis, postgres) stay opaque in the url
        // crate: decode and validate them like a HOST of HOST:PORT.
        Some(url::Host::Domain(d)) => parse_host(&decode(d))?,
    };
    let port = url.port().or(default_port).ok_or("missing port")?;
    if port == 0 {
        return Err("invalid port \"0\": expected a number from 1 to 65535".into());
    }
    Ok(Endpoint { host, port })
}

/// Percent-decodes a URL component.
pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The absolute path of a `unix:///PATH` or `file:///PATH` URL.
pub fn local_path(url: &Url) -> Result<PathBuf, String> {
    if url
        .host_str()
        .is_some_and(|h| !h.is_empty() && h != "localhost")
    {
        return Err(
            "expected an absolute path: write unix:///PATH or file:///PATH (three slashes)".into(),
        );
    }
    let path = decode(url.path());
    if !path.starts_with('/') || path == "/" && url.path().is_empty() {
        return Err("expected an absolute path".into());
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn endpoint(text: &str) -> Endpoint {
        url_endpoint(&Url::parse(text).unwrap(), None).unwrap()
    }

    #[test]
    fn dotted_decimal_hosts_parse_as_the_url_standard_reads_them() {
        for text in [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "10.1.2.3",
            "192.168.0.10",
        ] {
            let Ok(url::Host::Ipv4(expected)) = url::Host::parse(text) else {
                panic!("{text}");
            };
            assert_eq!(
                parse_host(text),
                Ok(Host::Ip(IpAddr::V4(expected))),
                "{text}"
            );
        }
        // Forms only the URL standard reads as addresses still go its way.
        for (text, expected) in [
            ("010.0.0.1", [8, 0, 0, 1]),
            ("0x7f.1", [127, 0, 0, 1]),
            ("127.1", [127, 0, 0, 1]),
        ] {
            assert_eq!(
                parse_host(text),
                Ok(Host::Ip(IpAddr::from(expected))),
                "{text}"
            );
        }
        assert_eq!(
            parse_host("256.0.0.1").map(|_| ()),
            Err("invalid host \"256.0.0.1\": invalid IPv4 address".into())
        );
    }
    #[test]
    fn host_port_forms() {
        let name = |n: &str| Host::Name(n.into());
        let ip = |a: &str| Host::Ip(a.parse().unwrap());
        for (text, host, port) in [
            ("db:5432", name("db"), 5432),
            ("127.0.0.1:80", ip("127.0.0.1"), 80),
            ("[::1]:6379", ip("::1"), 6379),
        ] {
            assert_eq!(parse_host_port(text).unwrap(), Endpoint { host, port });
        }
        for (text, host, port) in [
            ("tcp://[::1]:6379", ip("::1"), 6379),
            ("tcp://localhost:1", name("localhost"), 1),
            ("tcp://10.0.0.1:1", ip("10.0.0.1"), 1),
        ] {
            assert_eq!(endpoint(text), Endpoint { host, port });
        }
        assert!(parse_host_port("db").unwrap_err().starts_with(MISSING_PORT));
    }

    #[test]
    fn local_paths() {
        let path = |t: &str| local_path(&Url::parse(t).unwrap());
        assert_eq!(
            path("unix:///run/app.sock").unwrap(),
            Path::new("/run/app.sock")
        );
        assert_eq!(path("file:///tmp/a%20b").unwrap(), Path::new("/tmp/a b"));
        assert!(path("file://host/x").is_err());
    }
}
