//! DNS messages (RFC 1035): the query whenready sends, and the server's answer read
//! back, every offset bounds-checked through [`Cursor`]. Name compression pointers
//! are followed only backwards, at most [`MAX_HOPS`] times: no input can make
//! [`parse_response`] loop or panic (fuzzed here, property-tested in
//! tests/parsers.rs).

use crate::probe::wire::Cursor;
use std::net::IpAddr;

/// The most compression pointers followed in one name.
pub const MAX_HOPS: usize = 64;

/// The longest name read (its text, escapes included), well above DNS's 255 bytes.
const MAX_NAME: usize = 1024;

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

    /// The type named `text` (any case), if whenready can ask for it.
    pub fn from_name(text: &str) -> Option<RecordType> {
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
pub fn read_name(msg: &[u8], at: usize) -> Result<(String, usize), String> {
    let mut c = Cursor::at(msg, at);
    let mut name = String::new();
    let mut after = None;
    let mut hops = 0;
    // A pointer must go to an offset before the one it sits at: no loops.
    let mut limit = at;
    loop {
        let len = c.u8().ok_or("name runs past the end")?;
        match len & 0xC0 {
            0x00 if len == 0 => {
                return Ok((name, after.unwrap_or(c.pos())));
            }
            0x00 => {
                let label = c.take(len.into()).ok_or("label runs past the end")?;
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
                if name.len() > MAX_NAME {
                    return Err("name too long".into());
                }
            }
            0xC0 => {
                let lo = c.u8().ok_or("pointer runs past the end")?;
                let target = (usize::from(len & 0x3F) << 8) | usize::from(lo);
                if after.is_none() {
                    after = Some(c.pos());
                }
                hops += 1;
                if hops > MAX_HOPS || target >= limit {
                    return Err("compression pointer loops or points forward".into());
                }
                limit = target;
                c = Cursor::at(msg, target);
            }
            _ => return Err("unknown label type".into()),
        }
    }
}

/// Reads a server's message as the answer to the query `id`/`name`/`rtype`.
pub fn parse_response(
    msg: &[u8],
    id: u16,
    name: &str,
    rtype: RecordType,
) -> Result<Answer, Mismatch> {
    let mut header = Cursor::new(msg);
    let (Some(msg_id), Some(flags), Some(qd), Some(an), Some(_)) = (
        header.u16(),
        header.u16(),
        header.u16(),
        header.u16(),
        header.skip(4), // NSCOUNT, ARCOUNT
    ) else {
        return Err(Mismatch::Foreign);
    };
    // Our ID; QR set, opcode QUERY.
    if msg_id != id || flags & 0x8000 == 0 || (flags >> 11) & 0xF != 0 {
        return Err(Mismatch::Foreign);
    }
    let rcode = (flags & 0xF) as u8;
    // The question must be ours. Some servers omit it in an error answer (FORMERR,
    // NOTIMP); such an answer is not trusted as an answer to us.
    if qd != 1 {
        return Err(Mismatch::Foreign);
    }
    let (qname, at) = read_name(msg, header.pos()).map_err(|_| Mismatch::Foreign)?;
    let mut c = Cursor::at(msg, at);
    let (Some(qtype), Some(qclass)) = (c.u16(), c.u16()) else {
        return Err(Mismatch::Foreign);
    };
    if qname != name || qtype != rtype.code() || qclass != 1 {
        return Err(Mismatch::Foreign);
    }
    if flags & 0x0200 != 0 {
        return Ok(Answer::Truncated);
    }
    if rcode != 0 {
        return Ok(Answer::Rcode(rcode));
    }
    let bad = |e: &str| Mismatch::Malformed(format!("malformed answer: {e}"));
    let early = || bad("message ends early");
    // Names that lead to the answer: the question's, then the CNAMEs' targets.
    let mut names = vec![name.to_string()];
    let mut records = Vec::new();
    for _ in 0..an {
        let (owner, next) = read_name(msg, c.pos()).map_err(|e| bad(&e))?;
        c = Cursor::at(msg, next);
        let t = c.u16().ok_or_else(early)?;
        let class = c.u16().ok_or_else(early)?;
        c.skip(4).ok_or_else(early)?; // TTL
        let len = c.u16().ok_or_else(early)?;
        let start = c.pos();
        let data = c
            .take(len.into())
            .ok_or_else(|| bad("record data runs past the end"))?;
        let end = c.pos();
        if class != 1 || !names.contains(&owner) {
            continue;
        }
        // A name in the record's data, which must end within the record.
        let name_at = |offset: usize, what: &str| match read_name(msg, start + offset) {
            Ok((n, after)) if after <= end => Ok(n),
            Ok(_) => Err(bad(&format!("{what} runs past its record"))),
            Err(e) => Err(bad(&e)),
        };
        let mut fields = Cursor::new(data);
        let record = match t {
            5 => {
                let target = name_at(0, "CNAME")?;
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
                Err(_) => return Err(bad("an A record that is not 4 bytes")),
            },
            28 => match <[u8; 16]>::try_from(data) {
                Ok(a) => Record::Address(IpAddr::from(a)),
                Err(_) => return Err(bad("an AAAA record that is not 16 bytes")),
            },
            15 => {
                let pref = fields.u16().ok_or_else(early)?;
                Record::Mx(pref, name_at(2, "MX")?)
            }
            16 => {
                let mut text = Vec::new();
                while let Some(n) = fields.u8() {
                    let s = fields
                        .take(n.into())
                        .ok_or_else(|| bad("TXT string runs past its record"))?;
                    text.extend_from_slice(s);
                }
                Record::Txt(String::from_utf8_lossy(&text).into_owned())
            }
            33 => {
                let (Some(priority), Some(weight), Some(port)) =
                    (fields.u16(), fields.u16(), fields.u16())
                else {
                    return Err(early());
                };
                Record::Srv(priority, weight, port, name_at(6, "SRV")?)
            }
            _ => continue,
        };
        records.push(record);
    }
    Ok(Answer::Records(records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::wire::fuzz;

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

    /// Answers of every type, as a server could send them for "db.test".
    fn seeds() -> Vec<Vec<u8>> {
        let q = |t| build_query(7, "db.test", t);
        let mut mx = vec![0, 10];
        mx.extend_from_slice(b"\x04mail\xC0\x0F");
        let mut srv = vec![0, 1, 0, 5, 0x1F, 0x90];
        srv.extend_from_slice(b"\x03web\xC0\x0F");
        let mut cname = b"\x04real\xC0\x0F".to_vec();
        let cname_at = 12 + (q(RecordType::A).len() - 12) + 12;
        let mut chained_a = vec![0xC0, cname_at as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4];
        chained_a.extend_from_slice(&[10, 0, 0, 6]);
        let chain = answer(7, &q(RecordType::A), 0x8180, &[rr(5, &cname), chained_a]);
        cname.truncate(5);
        vec![
            answer(
                7,
                &q(RecordType::A),
                0x8180,
                &[rr(1, &[10, 0, 0, 5]), rr(1, &[10, 0, 0, 7])],
            ),
            answer(7, &q(RecordType::Aaaa), 0x8180, &[rr(28, &[0xfd; 16])]),
            chain,
            answer(
                7,
                &q(RecordType::Cname),
                0x8180,
                &[rr(5, b"\x04real\x04test\x00")],
            ),
            answer(7, &q(RecordType::Mx), 0x8180, &[rr(15, &mx)]),
            answer(
                7,
                &q(RecordType::Txt),
                0x8180,
                &[rr(16, b"\x03v=1\x02ab\x00")],
            ),
            answer(7, &q(RecordType::Srv), 0x8180, &[rr(33, &srv)]),
            answer(7, &q(RecordType::A), 0x8183, &[]),
            answer(7, &q(RecordType::A), 0x8380, &[]),
            answer(
                7,
                &q(RecordType::A),
                0x8180,
                &[rr(1, &[10, 0, 0, 5]), vec![0xC0, 0x1d]],
            ),
        ]
    }

    /// Every message read as the answer to each type of question, and names read
    /// from anywhere in it.
    #[test]
    fn fuzz_answers() {
        const TYPES: [RecordType; 6] = [
            RecordType::A,
            RecordType::Aaaa,
            RecordType::Cname,
            RecordType::Mx,
            RecordType::Txt,
            RecordType::Srv,
        ];
        fuzz::run("dns", &seeds(), 4096, |msg, case| {
            let count = Cursor::at(msg, 6).u16().unwrap_or(0);
            let mut seen = "foreign".to_string();
            for rtype in TYPES {
                match parse_response(msg, 7, "db.test", rtype) {
                    Ok(Answer::Records(records)) => {
                        assert!(records.len() <= count.into(), "{records:?}");
                        for r in &records {
                            if let Record::Cname(n) | Record::Mx(_, n) | Record::Srv(.., n) = r {
                                assert!(n.len() <= MAX_NAME + 4 * 63, "{n}");
                            }
                        }
                        seen = format!("{} {}", records.len().min(2), rtype.name());
                    }
                    Ok(other) => seen = format!("{other:?}"),
                    Err(Mismatch::Malformed(why)) => {
                        fuzz::assert_reason(&why);
                        seen = fuzz::outcome::<(), _>(&Err(why));
                    }
                    Err(Mismatch::Foreign) => {}
                }
            }
            let at = (case as usize) % (msg.len() + 1);
            if let Ok((name, after)) = read_name(msg, at) {
                assert!(name.len() <= MAX_NAME + 4 * 63 && after <= msg.len());
            }
            seen
        });
    }
}
