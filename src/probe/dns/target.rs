//! The `dns://` target: its form, the record type asked for, what a record must
//! match (`expect=`) and where the query goes (`server=`).

use super::message::{Record, RecordType};
use crate::endpoint::{decode, parse_host, parse_port, Endpoint, Host};
use std::net::IpAddr;
use url::Url;

/// The form of a `dns://` target, for messages.
const FORM: &str = "dns://NAME?type=A|AAAA|CNAME|MX|TXT|SRV[&expect=VALUE][&server=HOST[:PORT]]";

/// What a record must hold, with `expect=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// An A or AAAA record with this address.
    Address(IpAddr),
    /// A CNAME or MX record naming this host (lowercase, no final dot).
    Name(String),
    /// A TXT record with this text (its strings joined).
    Text(String),
    /// An SRV record with this target, and this port when given.
    Service(String, Option<u16>),
}

impl Expect {
    /// Whether `record` holds what is expected.
    pub fn matches(&self, record: &Record) -> bool {
        match (record, self) {
            (Record::Address(a), Expect::Address(b)) => a == b,
            (Record::Cname(n) | Record::Mx(_, n), Expect::Name(m)) => n == m,
            (Record::Txt(t), Expect::Text(u)) => t == u,
            (Record::Srv(_, _, port, target), Expect::Service(t, p)) => {
                target == t && p.is_none_or(|p| p == *port)
            }
            _ => false,
        }
    }
}

/// Where the query goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// The nameservers of /etc/resolv.conf, read at every attempt.
    System,
    /// `server=HOST[:PORT]`.
    Given(Endpoint),
}

/// A parsed `dns://` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTarget {
    /// The name asked for: lowercase ASCII (IDNA applied), no final dot.
    pub name: String,
    /// The record type asked for.
    pub rtype: RecordType,
    /// What one record must match, if anything.
    pub expect: Option<Expect>,
    /// Where the query goes.
    pub server: Server,
}

/// Parses a `dns://` URL.
pub fn parse(url: &Url) -> Result<DnsTarget, String> {
    let raw = url.host_str().map(decode).unwrap_or_default();
    if raw.is_empty() {
        return Err(format!("missing name: {FORM}"));
    }
    if url.port().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "a DNS name has no port or user: the server is given by server=HOST:PORT ({FORM})"
        ));
    }
    if !matches!(url.path(), "" | "/") {
        return Err(format!("a dns URL has no path: {FORM}"));
    }
    if url.fragment().is_some() {
        return Err(format!("a dns URL has no #fragment: {FORM}"));
    }
    let name = parse_name(&raw)?;
    let mut rtype = None;
    let mut expect = None;
    let mut server = Server::System;
    for (k, v) in url.query_pairs() {
        match &*k {
            "type" => {
                rtype = Some(RecordType::from_name(&v).ok_or_else(|| {
                    format!("unknown record type {v:?}: expected A, AAAA, CNAME, MX, TXT or SRV")
                })?)
            }
            "expect" => expect = Some(v.into_owned()),
            "server" => server = Server::Given(parse_server(&v)?),
            other => {
                return Err(format!(
                    "unknown parameter {other:?}: a dns URL takes type, expect and server ({FORM})"
                ))
            }
        }
    }
    let rtype = rtype.unwrap_or(RecordType::A);
    let expect = expect.map(|v| parse_expect(rtype, &v)).transpose()?;
    Ok(DnsTarget {
        name,
        rtype,
        expect,
        server,
    })
}

/// A name as asked for: IDNA to ASCII, lowercase, labels of 1 to 63 bytes, 253 in
/// all; one final dot allowed.
fn parse_name(raw: &str) -> Result<String, String> {
    let trimmed = raw.strip_suffix('.').unwrap_or(raw);
    let name = match url::Host::parse(trimmed) {
        Ok(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Ok(_) => {
            return Err(format!(
                "{raw:?} is an address, not a name: ask for a name's records"
            ))
        }
        Err(e) => return Err(format!("invalid name {raw:?}: {e}")),
    };
    if name.len() > 253 {
        return Err(format!("invalid name {raw:?}: longer than 253 characters"));
    }
    if name.split('.').any(|l| l.is_empty() || l.len() > 63) {
        return Err(format!(
            "invalid name {raw:?}: every label must have 1 to 63 characters"
        ));
    }
    Ok(name)
}

/// `server=HOST`, `HOST:PORT`, `[IPV6]:PORT` or a bare IPv6 address; port 53.
fn parse_server(text: &str) -> Result<Endpoint, String> {
    let bad = |why: String| format!("invalid server {text:?}: {why}");
    if text.is_empty() {
        return Err(bad("empty".into()));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Endpoint {
            host: Host::Ip(ip),
            port: 53,
        });
    }
    if text.starts_with('[') || text.contains(':') {
        return crate::endpoint::parse_host_port(text).map_err(bad);
    }
    Ok(Endpoint {
        host: parse_host(text).map_err(bad)?,
        port: 53,
    })
}

/// Reads `expect=` for the record type; the error says what a value looks like.
fn parse_expect(rtype: RecordType, v: &str) -> Result<Expect, String> {
    let bad = |what: &str| format!("invalid expect={v:?} for type {}: {what}", rtype.name());
    match rtype {
        RecordType::A => match v.parse::<IpAddr>() {
            Ok(ip @ IpAddr::V4(_)) => Ok(Expect::Address(ip)),
            _ => Err(bad("expected an IPv4 address, e.g. 10.0.0.5")),
        },
        RecordType::Aaaa => match v.parse::<IpAddr>() {
            Ok(ip @ IpAddr::V6(_)) => Ok(Expect::Address(ip)),
            _ => Err(bad("expected an IPv6 address, e.g. fd00::5")),
        },
        RecordType::Cname | RecordType::Mx => Ok(Expect::Name(
            parse_name(v).map_err(|_| bad("expected a host name"))?,
        )),
        RecordType::Txt => Ok(Expect::Text(v.to_string())),
        RecordType::Srv => {
            let (host, port) = match v.rsplit_once(':') {
                Some((h, p)) => (h, Some(parse_port(p).map_err(|e| bad(&e))?)),
                None => (v, None),
            };
            let host = parse_name(host).map_err(|_| bad("expected TARGET or TARGET:PORT"))?;
            Ok(Expect::Service(host, port))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<DnsTarget, String> {
        parse(&Url::parse(text).unwrap())
    }

    #[test]
    fn forms() {
        let t = p("dns://DB.Example.com.").unwrap();
        assert_eq!(t.name, "db.example.com");
        assert_eq!(t.rtype, RecordType::A);
        assert_eq!(t.server, Server::System);
        let t =
            p("dns://_http._tcp.svc?type=srv&expect=web.svc.:8080&server=127.0.0.1:5353").unwrap();
        assert_eq!(t.rtype, RecordType::Srv);
        assert_eq!(
            t.expect,
            Some(Expect::Service("web.svc".into(), Some(8080)))
        );
        assert_eq!(
            t.server,
            Server::Given(Endpoint {
                host: Host::Ip("127.0.0.1".parse().unwrap()),
                port: 5353
            })
        );
        let t = p("dns://x?type=AAAA&expect=fd00::1&server=::1").unwrap();
        assert_eq!(t.expect, Some(Expect::Address("fd00::1".parse().unwrap())));
        assert_eq!(
            t.server,
            Server::Given(Endpoint {
                host: Host::Ip("::1".parse().unwrap()),
                port: 53
            })
        );
        let t = p("dns://x?type=txt&expect=a%20b%3Dc").unwrap();
        assert_eq!(t.expect, Some(Expect::Text("a b=c".into())));
        let t = p("dns://x?type=MX&expect=Mail.X.").unwrap();
        assert_eq!(t.expect, Some(Expect::Name("mail.x".into())));
        let t = p("dns://x?server=ns1.local").unwrap();
        assert!(matches!(t.server, Server::Given(Endpoint { port: 53, .. })));
    }

    #[test]
    fn bad_forms_name_the_bad_part() {
        for (url, needle) in [
            ("dns://x?type=PTR", "PTR"),
            ("dns://x?ttl=5", "ttl"),
            ("dns://x?type=A&expect=fd00::1", "IPv4"),
            ("dns://x?type=AAAA&expect=10.0.0.1", "IPv6"),
            ("dns://x?type=SRV&expect=h:99999", "99999"),
            ("dns://x?server=h:0", "server"),
            ("dns://x?server=", "server"),
            ("dns://x:53", "port"),
            ("dns://u:p@x", "user"),
            ("dns://x/path", "path"),
            ("dns://x#frag", "fragment"),
            ("dns://10.0.0.1", "address"),
            ("dns://a..b", "label"),
        ] {
            let e = p(url).unwrap_err();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains('\n'));
        }
        let long = format!("dns://{}", "a".repeat(64));
        assert!(p(&long).unwrap_err().contains("63"));
    }
    #[test]
    fn matching_per_type() {
        let srv = Record::Srv(0, 0, 8080, "web.svc".into());
        assert!(Expect::Service("web.svc".into(), None).matches(&srv));
        assert!(Expect::Service("web.svc".into(), Some(8080)).matches(&srv));
        assert!(!Expect::Service("web.svc".into(), Some(80)).matches(&srv));
        assert!(Expect::Name("mail.x".into()).matches(&Record::Mx(10, "mail.x".into())));
        assert!(Expect::Text("v=1".into()).matches(&Record::Txt("v=1".into())));
        assert!(!Expect::Text("v=2".into()).matches(&Record::Txt("v=1".into())));
    }
}
