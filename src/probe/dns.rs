//! DNS records: `dns://NAME?type=A|AAAA|CNAME|MX|TXT|SRV[&expect=VALUE][&server=HOST[:PORT]]`.
//!
//! Ready when NAME has a record of the type (and, with `expect`, one record
//! matches). One attempt sends one query over UDP to the server of the URL, or to
//! the nameservers of /etc/resolv.conf in turn, with a fresh random ID from the
//! system's random source, from a fresh socket (a random source port); an answer
//! counts only when it comes from the server asked, carries the query's ID and
//! repeats its question (RFC 5452's checks against spoofing); anything else is
//! ignored until the server's time is up. A truncated answer (TC) is asked again
//! over TCP.
//!
//! The messages are written and read by hand (RFC 1035): one question out, the
//! answer section in; hickory-proto would cost more than the whole probe (README,
//! "Why DNS is written by hand"). [`parse_response`] bounds-checks every offset and
//! follows name compression pointers only backwards, at most [`MAX_HOPS`] times:
//! no input can make it loop or panic (property-tested in tests/parsers.rs).

use super::error::{io_reason, ProbeError};
use super::{net, Attempt, Check, Ctx, Kind};
use crate::env::Env;
use crate::target::{decode, parse_host, parse_port, Endpoint, Host};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use url::Url;

/// How long one server has to answer a query before the next one is asked.
const SERVER_TIMEOUT: Duration = Duration::from_secs(2);

/// The most compression pointers followed in one name.
pub const MAX_HOPS: usize = 64;

/// Where the system's nameservers are listed.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The DNS kind.
pub struct Dns;

const FORM: &str = "dns://NAME?type=A|AAAA|CNAME|MX|TXT|SRV[&expect=VALUE][&server=HOST[:PORT]]";

impl Kind for Dns {
    fn name(&self) -> &'static str {
        "dns"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["dns"]
    }
    fn forms(&self) -> &'static str {
        "dns://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "dns://NAME?type=T[&expect=V][&server=S]",
            "NAME has such a record (matching V)",
        )
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(parse(url)?))
    }
}

/// A record type whenready can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Service location.
    Srv,
}

impl RecordType {
    /// The type's number on the wire.
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Cname => 5,
            RecordType::Mx => 15,
            RecordType::Txt => 16,
            RecordType::Aaaa => 28,
            RecordType::Srv => 33,
        }
    }

    /// Its name, as in zone files.
    pub fn name(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Srv => "SRV",
        }
    }

    fn parse(text: &str) -> Option<RecordType> {
        Some(match text.to_ascii_uppercase().as_str() {
            "A" => RecordType::A,
            "AAAA" => RecordType::Aaaa,
            "CNAME" => RecordType::Cname,
            "MX" => RecordType::Mx,
            "TXT" => RecordType::Txt,
            "SRV" => RecordType::Srv,
            _ => return None,
        })
    }
}

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
                rtype = Some(RecordType::parse(&v).ok_or_else(|| {
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
        return crate::target::parse_host_port(text).map_err(bad);
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

// ------------------------------------------------------------------ the wire

/// One record of the asked type from an answer, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A or AAAA.
    Address(IpAddr),
    /// CNAME: the canonical name.
    Cname(String),
    /// MX: preference and exchange.
    Mx(u16, String),
    /// TXT: the character-strings joined (lossy UTF-8).
    Txt(String),
    /// SRV: priority, weight, port, target.
    Srv(u16, u16, u16, String),
}

impl Record {
    fn matches(&self, e: &Expect) -> bool {
        match (self, e) {
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

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dot = |n: &str| {
            if n.is_empty() {
                ".".to_string()
            } else {
                n.to_string()
            }
        };
        match self {
            Record::Address(a) => write!(f, "{a}"),
            Record::Cname(n) => f.write_str(&dot(n)),
            Record::Mx(p, n) => write!(f, "{p} {}", dot(n)),
            Record::Txt(t) => write!(f, "{t:?}"),
            Record::Srv(pr, w, port, n) => write!(f, "{pr} {w} {port} {}", dot(n)),
        }
    }
}

/// What a server answered, once the answer is known to be for our question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// RCODE 0 with the records of the asked type found for the name (or the
    /// names its CNAMEs lead to); empty is NODATA.
    Records(Vec<Record>),
    /// The TC bit: ask again over TCP.
    Truncated,
    /// Another RCODE: NXDOMAIN (3), SERVFAIL (2), REFUSED (5), ...
    Rcode(u8),
}

/// Why an answer is not the one to our query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Not a reply to our query (ID, flags or question differ): ignore it, keep
    /// waiting for the real one.
    Foreign,
    /// A reply to our query that cannot be read: the server speaks no DNS.
    Malformed(String),
}

/// The query for `name` (lowercase, no final dot) and `rtype` with `id`, RD set.
pub fn build_query(id: u16, name: &str, rtype: RecordType) -> Vec<u8> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD 1, AN 0, NS 0, AR 0
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&rtype.code().to_be_bytes());
    q.extend_from_slice(&[0, 1]); // IN
    q
}

/// Reads a name at `at`, following compression pointers (only backwards, at most
/// [`MAX_HOPS`]); returns it (lowercase, no final dot) and the offset after it
/// where it appears in line.
pub fn read_name(msg: &[u8], mut at: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut after = None;
    let mut hops = 0;
    // A pointer must go to an offset before the one it sits at: no loops.
    let mut limit = at;
    loop {
        let len = *msg.get(at).ok_or("name runs past the end")? as usize;
        match len & 0xC0 {
            0x00 if len == 0 => {
                return Ok((name, after.unwrap_or(at + 1)));
            }
            0x00 => {
                let label = msg
                    .get(at + 1..at + 1 + len)
                    .ok_or("label runs past the end")?;
                if !name.is_empty() {
                    name.push('.');
                }
                for &b in label {
                    // Dots and bytes outside printable ASCII are escaped, as dig does.
                    match b {
                        b'.' | b'\\' => name.push_str(&format!("\\{}", b as char)),
                        0x21..=0x7e => name.push(b.to_ascii_lowercase() as char),
                        _ => name.push_str(&format!("\\{b:03}")),
                    }
                }
                if name.len() > 1024 {
                    return Err("name too long".into());
                }
                at += 1 + len;
            }
            0xC0 => {
                let lo = *msg.get(at + 1).ok_or("pointer runs past the end")? as usize;
                let target = ((len & 0x3F) << 8) | lo;
                if after.is_none() {
                    after = Some(at + 2);
                }
                hops += 1;
                if hops > MAX_HOPS || target >= limit {
                    return Err("compression pointer loops or points forward".into());
                }
                limit = target;
                at = target;
            }
            _ => return Err("unknown label type".into()),
        }
    }
}

fn u16_at(msg: &[u8], at: usize) -> Result<u16, String> {
    msg.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| "message ends early".to_string())
}

/// Reads a server's message as the answer to the query `id`/`name`/`rtype`.
pub fn parse_response(
    msg: &[u8],
    id: u16,
    name: &str,
    rtype: RecordType,
) -> Result<Answer, Mismatch> {
    if msg.len() < 12 || u16_at(msg, 0).ok() != Some(id) {
        return Err(Mismatch::Foreign);
    }
    let flags = u16_at(msg, 2).map_err(|_| Mismatch::Foreign)?;
    // QR set, opcode QUERY.
    if flags & 0x8000 == 0 || (flags >> 11) & 0xF != 0 {
        return Err(Mismatch::Foreign);
    }
    let qd = u16_at(msg, 4).map_err(|_| Mismatch::Foreign)?;
    let an = u16_at(msg, 6).map_err(|_| Mismatch::Foreign)?;
    let rcode = (flags & 0xF) as u8;
    // The question must be ours. Some servers omit it in an error answer (FORMERR,
    // NOTIMP); such an answer is not trusted as an answer to us.
    if qd != 1 {
        return Err(Mismatch::Foreign);
    }
    let (qname, at) = read_name(msg, 12).map_err(|_| Mismatch::Foreign)?;
    let qtype = u16_at(msg, at).map_err(|_| Mismatch::Foreign)?;
    let qclass = u16_at(msg, at + 2).map_err(|_| Mismatch::Foreign)?;
    if qname != name || qtype != rtype.code() || qclass != 1 {
        return Err(Mismatch::Foreign);
    }
    if flags & 0x0200 != 0 {
        return Ok(Answer::Truncated);
    }
    if rcode != 0 {
        return Ok(Answer::Rcode(rcode));
    }
    let bad = |e: String| Mismatch::Malformed(format!("malformed answer: {e}"));
    let mut at = at + 4;
    // Names that lead to the answer: the question's, then the CNAMEs' targets.
    let mut names = vec![name.to_string()];
    let mut records = Vec::new();
    for _ in 0..an {
        let (owner, next) = read_name(msg, at).map_err(bad)?;
        let t = u16_at(msg, next).map_err(bad)?;
        let class = u16_at(msg, next + 2).map_err(bad)?;
        let len = u16_at(msg, next + 8).map_err(bad)? as usize;
        let start = next + 10;
        let data = msg
            .get(start..start + len)
            .ok_or_else(|| bad("record data runs past the end".into()))?;
        at = start + len;
        if class != 1 || !names.contains(&owner) {
            continue;
        }
        let record = match t {
            5 => {
                let (target, end) = read_name(msg, start).map_err(bad)?;
                if end > at {
                    return Err(bad("CNAME runs past its record".into()));
                }
                if rtype != RecordType::Cname {
                    if !names.contains(&target) {
                        names.push(target);
                    }
                    continue;
                }
                Record::Cname(target)
            }
            _ if t != rtype.code() => continue,
            1 => match <[u8; 4]>::try_from(data) {
                Ok(a) => Record::Address(IpAddr::from(a)),
                Err(_) => return Err(bad("an A record that is not 4 bytes".into())),
            },
            28 => match <[u8; 16]>::try_from(data) {
                Ok(a) => Record::Address(IpAddr::from(a)),
                Err(_) => return Err(bad("an AAAA record that is not 16 bytes".into())),
            },
            15 => {
                let pref = u16_at(data, 0).map_err(bad)?;
                let (host, end) = read_name(msg, start + 2).map_err(bad)?;
                if end > at {
                    return Err(bad("MX runs past its record".into()));
                }
                Record::Mx(pref, host)
            }
            16 => {
                let mut text = Vec::new();
                let mut i = 0;
                while i < data.len() {
                    let n = data[i] as usize;
                    let s = data
                        .get(i + 1..i + 1 + n)
                        .ok_or_else(|| bad("TXT string runs past its record".into()))?;
                    text.extend_from_slice(s);
                    i += 1 + n;
                }
                Record::Txt(String::from_utf8_lossy(&text).into_owned())
            }
            33 => {
                let priority = u16_at(data, 0).map_err(bad)?;
                let weight = u16_at(data, 2).map_err(bad)?;
                let port = u16_at(data, 4).map_err(bad)?;
                let (target, end) = read_name(msg, start + 6).map_err(bad)?;
                if end > at {
                    return Err(bad("SRV runs past its record".into()));
                }
                Record::Srv(priority, weight, port, target)
            }
            _ => continue,
        };
        records.push(record);
    }
    Ok(Answer::Records(records))
}

/// The outcome of an answer for the target: ready, or why not.
fn judge(t: &DnsTarget, answer: Answer, server: SocketAddr) -> Result<(), ProbeError> {
    let what = format!("{} record of {}", t.rtype.name(), t.name);
    match answer {
        Answer::Records(records) if records.is_empty() => Err(ProbeError::transient(format!(
            "no {what} (NODATA from {server})"
        ))),
        Answer::Records(records) => match &t.expect {
            None => Ok(()),
            Some(e) if records.iter().any(|r| r.matches(e)) => Ok(()),
            Some(_) => {
                let mut seen: Vec<String> = records.iter().take(3).map(|r| r.to_string()).collect();
                if records.len() > 3 {
                    seen.push(format!("and {} more", records.len() - 3));
                }
                let shown: String = seen.join(", ").chars().take(200).collect();
                Err(ProbeError::transient(format!(
                    "no {what} matches expect (found {shown})"
                )))
            }
        },
        Answer::Rcode(3) => Err(ProbeError::transient(format!(
            "{} does not exist (NXDOMAIN from {server})",
            t.name
        ))),
        Answer::Rcode(code) => Err(ProbeError::transient(format!(
            "{server} answered {}",
            rcode_name(code)
        ))),
        // Only after TCP, which never sets TC in a way we follow again.
        Answer::Truncated => Err(ProbeError::transient(format!(
            "{server} answered truncated even over TCP"
        ))),
    }
}

fn rcode_name(code: u8) -> String {
    match code {
        1 => "FORMERR (format error)".into(),
        2 => "SERVFAIL (server failure)".into(),
        4 => "NOTIMP (not implemented)".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE {n}"),
    }
}

// ------------------------------------------------------------------ the probe

/// A fresh query ID from the system's random source (ring, already linked).
fn random_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u16::from_be_bytes(b)
}

/// The nameservers of resolv.conf (port 53); 127.0.0.1 when it lists none, as
/// the C libraries do.
pub fn nameservers(conf: &str) -> Vec<SocketAddr> {
    let mut found: Vec<SocketAddr> = conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            let addr = words.next()?;
            // A link-local IPv6 address may carry a zone (%eth0): not supported.
            addr.parse::<IpAddr>().ok()
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if found.is_empty() {
        found.push(SocketAddr::from(([127, 0, 0, 1], 53)));
    }
    found
}

/// The servers a target's query goes to: its `server=`, or resolv.conf's
/// nameservers (also for `mongodb+srv://`'s lookups).
pub(crate) async fn servers(t: &DnsTarget) -> Result<Vec<SocketAddr>, ProbeError> {
    match &t.server {
        Server::Given(ep) => net::resolve(ep).await,
        Server::System => {
            // On a thread of its own: a file read must not stall the runtime.
            let conf = tokio::task::spawn_blocking(|| std::fs::read_to_string(RESOLV_CONF))
                .await
                .map_err(|e| ProbeError::transient(e.to_string()))?;
            Ok(nameservers(&conf.unwrap_or_default()))
        }
    }
}

impl Check for DnsTarget {
    fn probe<'a>(&'a self, _ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(probe(self))
    }
}

/// One attempt: every server in turn until one gives an answer to our question.
async fn probe(t: &DnsTarget) -> Result<(), ProbeError> {
    let mut failures = Vec::new();
    for server in servers(t).await? {
        match ask(t, server).await {
            Ok(answer) => return judge(t, answer, server),
            Err(why) => failures.push(format!("{server}: {why}")),
        }
    }
    Err(ProbeError::transient(if failures.len() == 1 {
        failures.remove(0)
    } else {
        failures.join("; ")
    }))
}

/// Asks one server over UDP (then TCP if truncated); the error is why no answer
/// came.
pub(crate) async fn ask(t: &DnsTarget, server: SocketAddr) -> Result<Answer, String> {
    let id = random_id();
    let query = build_query(id, &t.name, t.rtype);
    let answer = tokio::time::timeout(SERVER_TIMEOUT, ask_udp(&query, id, t, server))
        .await
        .map_err(|_| format!("no answer within {}s", SERVER_TIMEOUT.as_secs()))??;
    if answer != Answer::Truncated {
        return Ok(answer);
    }
    let id = random_id();
    let query = build_query(id, &t.name, t.rtype);
    tokio::time::timeout(SERVER_TIMEOUT, ask_tcp(&query, id, t, server))
        .await
        .map_err(|_| format!("no answer over TCP within {}s", SERVER_TIMEOUT.as_secs()))?
}

async fn ask_udp(
    query: &[u8],
    id: u16,
    t: &DnsTarget,
    server: SocketAddr,
) -> Result<Answer, String> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let io = |e: std::io::Error| io_reason(&e);
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    // Connected: the kernel drops datagrams from any other address and port, and
    // reports an ICMP port unreachable as "connection refused".
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        match parse_response(&buf[..n], id, &t.name, t.rtype) {
            Ok(answer) => return Ok(answer),
            Err(Mismatch::Foreign) => continue,
            Err(Mismatch::Malformed(why)) => return Err(why),
        }
    }
}

async fn ask_tcp(
    query: &[u8],
    id: u16,
    t: &DnsTarget,
    server: SocketAddr,
) -> Result<Answer, String> {
    let io = |e: std::io::Error| io_reason(&e);
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(io)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(io)?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut msg).await.map_err(io)?;
    match parse_response(&msg, id, &t.name, t.rtype) {
        // A truncated answer over TCP too: judged as such, never asked again.
        Ok(answer) => Ok(answer),
        Err(Mismatch::Foreign) => Err("the answer over TCP is not for our question".into()),
        Err(Mismatch::Malformed(why)) => Err(why),
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

    fn answer(id: u16, q: &[u8], flags: u16, records: &[Vec<u8>]) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&(records.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&q[12..]);
        for r in records {
            m.extend_from_slice(r);
        }
        m
    }

    /// A record whose owner is a pointer to the question's name (offset 12).
    fn rr(t: u16, data: &[u8]) -> Vec<u8> {
        let mut r = vec![0xC0, 12];
        r.extend_from_slice(&t.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        r.extend_from_slice(&(data.len() as u16).to_be_bytes());
        r.extend_from_slice(data);
        r
    }

    #[test]
    fn answers_are_read_and_checked() {
        let q = build_query(0x1234, "db.test", RecordType::A);
        assert_eq!(&q[12..21], b"\x02db\x04test\x00");
        let m = answer(0x1234, &q, 0x8180, &[rr(1, &[10, 0, 0, 5])]);
        assert_eq!(
            parse_response(&m, 0x1234, "db.test", RecordType::A),
            Ok(Answer::Records(vec![Record::Address(
                "10.0.0.5".parse().unwrap()
            )]))
        );
        // Another ID, another question, or not a response: not ours.
        assert_eq!(
            parse_response(&m, 0x1235, "db.test", RecordType::A),
            Err(Mismatch::Foreign)
        );
        assert_eq!(
            parse_response(&m, 0x1234, "db.tesu", RecordType::A),
            Err(Mismatch::Foreign)
        );
        assert_eq!(
            parse_response(&m, 0x1234, "db.test", RecordType::Aaaa),
            Err(Mismatch::Foreign)
        );
        let m = answer(0x1234, &q, 0x0180, &[]);
        assert_eq!(
            parse_response(&m, 0x1234, "db.test", RecordType::A),
            Err(Mismatch::Foreign)
        );
        let m = answer(0x1234, &q, 0x8183, &[]);
        assert_eq!(
            parse_response(&m, 0x1234, "db.test", RecordType::A),
            Ok(Answer::Rcode(3))
        );
        let m = answer(0x1234, &q, 0x8380, &[]);
        assert_eq!(
            parse_response(&m, 0x1234, "db.test", RecordType::A),
            Ok(Answer::Truncated)
        );
        // A CNAME chain: db.test -> real.test (written out), real.test A.
        let mut cname = vec![0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 7];
        cname.extend_from_slice(b"\x04real\xC0\x0F");
        let cname_at = 12 + (q.len() - 12) + 12; // where "real" starts
        let mut a = vec![0xC0, cname_at as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4];
        a.extend_from_slice(&[10, 0, 0, 6]);
        let m = answer(0x1234, &q, 0x8180, &[cname, a]);
        assert_eq!(
            parse_response(&m, 0x1234, "db.test", RecordType::A),
            Ok(Answer::Records(vec![Record::Address(
                "10.0.0.6".parse().unwrap()
            )]))
        );
    }

    #[test]
    fn names_cannot_loop_or_point_forward() {
        // A pointer to itself, to a later offset, and out of bounds.
        assert!(read_name(&[0xC0, 0], 0).is_err());
        assert!(read_name(&[0xC0, 2, 0], 0).is_err());
        assert!(read_name(&[0, 0xC0, 9], 1).is_err());
        // Two pointers that point at each other.
        assert!(read_name(&[0xC0, 2, 0xC0, 0], 2).is_err());
        // A label longer than the message; a reserved label type.
        assert!(read_name(&[5, b'a'], 0).is_err());
        assert!(read_name(&[0x40], 0).is_err());
        assert_eq!(
            read_name(b"\x01a\x00\x01B\xC0\x00", 3),
            Ok(("b.a".to_string(), 7))
        );
    }

    #[test]
    fn matching_per_type() {
        let srv = Record::Srv(0, 0, 8080, "web.svc".into());
        assert!(srv.matches(&Expect::Service("web.svc".into(), None)));
        assert!(srv.matches(&Expect::Service("web.svc".into(), Some(8080))));
        assert!(!srv.matches(&Expect::Service("web.svc".into(), Some(80))));
        assert!(Record::Mx(10, "mail.x".into()).matches(&Expect::Name("mail.x".into())));
        assert!(Record::Txt("v=1".into()).matches(&Expect::Text("v=1".into())));
        assert!(!Record::Txt("v=1".into()).matches(&Expect::Text("v=2".into())));
    }

    #[test]
    fn resolv_conf() {
        let conf = "# x\nsearch a.b\nnameserver 10.0.0.2\nnameserver ::1\nnameserver fe80::1%eth0\noptions ndots:5\n";
        assert_eq!(
            nameservers(conf),
            vec!["10.0.0.2:53".parse().unwrap(), "[::1]:53".parse().unwrap()]
        );
        assert_eq!(nameservers(""), vec!["127.0.0.1:53".parse().unwrap()]);
    }
}
