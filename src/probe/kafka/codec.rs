//! The Kafka wire format, as much as the probe needs: the primitive types of the
//! protocol guide (big-endian integers, strings and arrays with 16- or 32-bit
//! lengths, and the "compact" forms of flexible versions with unsigned varint
//! lengths and tagged fields), requests framed with their header, and responses
//! read through a size limit with their correlation ID checked.
//!
//! Every length a broker sends is checked against what is left of its response
//! before anything is read or allocated: a response is at most the caller's limit
//! ([`Conn::call`]), and no count inside it can make the decoder read past its end
//! or allocate for elements that are not there.

use crate::probe::error::{io_reason, tls_failure, ProbeError};
use crate::probe::wire::Cursor;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Builds a request body.
#[derive(Debug, Default)]
pub struct Writer {
    /// The bytes so far.
    pub bytes: Vec<u8>,
}

impl Writer {
    /// A signed byte, a boolean.
    pub fn i8(&mut self, v: i8) {
        self.bytes.push(v as u8);
    }
    /// A big-endian 16-bit integer.
    pub fn i16(&mut self, v: i16) {
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }
    /// A big-endian 32-bit integer.
    pub fn i32(&mut self, v: i32) {
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }
    /// An unsigned varint (7 bits a byte, least significant first).
    pub fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.bytes.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.bytes.push(v as u8);
    }
    /// A string: a 16-bit length, or in flexible versions a varint length + 1.
    pub fn string(&mut self, s: &str, compact: bool) {
        if compact {
            self.uvarint(s.len() as u32 + 1);
        } else {
            self.i16(s.len() as i16);
        }
        self.bytes.extend_from_slice(s.as_bytes());
    }
    /// Bytes: a 32-bit length, or in flexible versions a varint length + 1.
    pub fn bytes(&mut self, b: &[u8], compact: bool) {
        if compact {
            self.uvarint(b.len() as u32 + 1);
        } else {
            self.i32(b.len() as i32);
        }
        self.bytes.extend_from_slice(b);
    }
    /// The length of an array (`None`: null): 32 bits, or a varint length + 1.
    pub fn array_len(&mut self, n: Option<usize>, compact: bool) {
        match (n, compact) {
            (None, true) => self.uvarint(0),
            (None, false) => self.i32(-1),
            (Some(n), true) => self.uvarint(n as u32 + 1),
            (Some(n), false) => self.i32(n as i32),
        }
    }
    /// An empty set of tagged fields (flexible versions only).
    pub fn no_tags(&mut self) {
        self.uvarint(0);
    }
}

/// Why a response cannot be read: what is wrong with it.
pub type Garbage = String;

/// Reads a response body, every length checked against what is left.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    cur: Cursor<'a>,
    /// Whether the version read is flexible (compact forms, tagged fields).
    pub compact: bool,
}

fn cut(what: &str) -> Garbage {
    format!("the response ends inside {what}")
}

impl<'a> Reader<'a> {
    /// A reader of `bytes` in the given encoding.
    pub fn new(bytes: &'a [u8], compact: bool) -> Reader<'a> {
        Reader {
            cur: Cursor::new(bytes),
            compact,
        }
    }

    /// How many bytes are left.
    pub fn left(&self) -> usize {
        self.cur.rest().len()
    }

    /// A boolean or signed byte.
    pub fn i8(&mut self, what: &str) -> Result<i8, Garbage> {
        self.cur.u8().map(|b| b as i8).ok_or_else(|| cut(what))
    }
    /// A 16-bit integer.
    pub fn i16(&mut self, what: &str) -> Result<i16, Garbage> {
        self.cur.u16().map(|v| v as i16).ok_or_else(|| cut(what))
    }
    /// A 32-bit integer.
    pub fn i32(&mut self, what: &str) -> Result<i32, Garbage> {
        self.cur.u32().map(|v| v as i32).ok_or_else(|| cut(what))
    }
    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize, what: &str) -> Result<(), Garbage> {
        self.cur.skip(n).ok_or_else(|| cut(what))
    }
    /// An unsigned varint of at most 32 bits.
    pub fn uvarint(&mut self, what: &str) -> Result<u32, Garbage> {
        match self.cur.varint(5) {
            Ok(v) => u32::try_from(v).map_err(|_| format!("{what} is over 32 bits")),
            Err(_) => Err(format!("{what} is not a varint")),
        }
    }

    /// A length in the current encoding: `None` for null. The length may not
    /// promise more than `unit` bytes an element beyond what is left.
    fn length(&mut self, wide: bool, unit: usize, what: &str) -> Result<Option<usize>, Garbage> {
        let n: Option<usize> = if self.compact {
            match self.uvarint(what)? {
                0 => None,
                n => Some(n as usize - 1),
            }
        } else {
            let n = if wide {
                self.i32(what)?
            } else {
                i32::from(self.i16(what)?)
            };
            match n {
                -1 => None,
                n if n < 0 => return Err(format!("{what} has the length {n}")),
                n => Some(n as usize),
            }
        };
        if let Some(n) = n {
            if n.saturating_mul(unit) > self.left() {
                return Err(format!(
                    "{what} claims {n} {}, more than the {} bytes left",
                    if unit == 1 { "bytes" } else { "elements" },
                    self.left()
                ));
            }
        }
        Ok(n)
    }

    /// A nullable string, as text (lossy UTF-8).
    pub fn string(&mut self, what: &str) -> Result<Option<String>, Garbage> {
        let Some(n) = self.length(false, 1, what)? else {
            return Ok(None);
        };
        let bytes = self.cur.take(n).ok_or_else(|| cut(what))?;
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// A string compared with `name` without copying it; `None` if null.
    pub fn string_is(&mut self, name: &str, what: &str) -> Result<Option<bool>, Garbage> {
        let Some(n) = self.length(false, 1, what)? else {
            return Ok(None);
        };
        let bytes = self.cur.take(n).ok_or_else(|| cut(what))?;
        Ok(Some(bytes == name.as_bytes()))
    }

    /// Skips a nullable string.
    pub fn skip_string(&mut self, what: &str) -> Result<(), Garbage> {
        if let Some(n) = self.length(false, 1, what)? {
            self.skip(n, what)?;
        }
        Ok(())
    }

    /// Nullable bytes.
    pub fn bytes(&mut self, what: &str) -> Result<Option<&'a [u8]>, Garbage> {
        let Some(n) = self.length(true, 1, what)? else {
            return Ok(None);
        };
        self.cur.take(n).map(Some).ok_or_else(|| cut(what))
    }

    /// The length of a nullable array whose elements take at least `unit` bytes
    /// each.
    pub fn array(&mut self, unit: usize, what: &str) -> Result<Option<usize>, Garbage> {
        self.length(true, unit.max(1), what)
    }

    /// Skips an array of 32-bit integers.
    pub fn skip_i32s(&mut self, what: &str) -> Result<(), Garbage> {
        if let Some(n) = self.array(4, what)? {
            self.skip(n * 4, what)?;
        }
        Ok(())
    }

    /// Skips the tagged fields of a flexible structure (none in other versions).
    pub fn tags(&mut self, what: &str) -> Result<(), Garbage> {
        if !self.compact {
            return Ok(());
        }
        let count = self.uvarint(what)?;
        if count as usize > self.left() {
            return Err(format!("{what} claims {count} tagged fields"));
        }
        for _ in 0..count {
            self.uvarint(what)?;
            let size = self.uvarint(what)? as usize;
            self.skip(size, what)?;
        }
        Ok(())
    }
}

/// A request's API key and version, and how its header and its response's header
/// are encoded.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// The API key.
    pub key: i16,
    /// The version used.
    pub version: i16,
    /// Flexible request (header v2, tagged fields).
    pub flexible: bool,
    /// Flexible response header (v1): every flexible API but ApiVersions.
    pub flexible_response_header: bool,
}

/// A connection to one broker and the next correlation ID.
pub struct Conn<S> {
    /// The stream.
    pub stream: S,
    next_id: i32,
}

/// The client ID in every request header.
pub const CLIENT_ID: &str = "whenready";

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// A connection over `stream`.
    pub fn new(stream: S) -> Conn<S> {
        Conn { stream, next_id: 1 }
    }

    /// Sends one request and reads its response body (after the header), of at
    /// most `limit` bytes. `what` names the request in reasons.
    pub async fn call(
        &mut self,
        api: Api,
        body: &[u8],
        limit: usize,
        what: &str,
    ) -> Result<Vec<u8>, ProbeError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut head = Writer::default();
        head.i16(api.key);
        head.i16(api.version);
        head.i32(id);
        // The client ID keeps its 16-bit length in every header version.
        head.string(CLIENT_ID, false);
        if api.flexible {
            head.no_tags();
        }
        let size = head.bytes.len() + body.len();
        let mut frame = Vec::with_capacity(4 + size);
        frame.extend_from_slice(&(size as i32).to_be_bytes());
        frame.extend_from_slice(&head.bytes);
        frame.extend_from_slice(body);
        self.stream.write_all(&frame).await.map_err(io_error)?;
        self.stream.flush().await.map_err(io_error)?;
        let response = read_frame(&mut self.stream, limit, what).await?;
        let mut r = Reader::new(&response, api.flexible_response_header);
        let got = r.i32("the correlation ID").map_err(|g| garbage(what, &g))?;
        if got != id {
            return Err(garbage(
                what,
                &format!("the response's correlation ID {got} is not the request's {id}"),
            ));
        }
        r.tags("the response header")
            .map_err(|g| garbage(what, &g))?;
        let start = response.len() - r.left();
        // In place: a second copy of a large response would double its memory.
        let mut response = response;
        response.drain(..start);
        Ok(response)
    }
}

/// A transient failure for a response that cannot be read.
pub fn garbage(what: &str, why: &str) -> ProbeError {
    ProbeError::transient(format!("not a Kafka response to {what}: {why}"))
}

/// An I/O failure: a rejected certificate is permanent, anything else transient.
pub fn io_error(e: std::io::Error) -> ProbeError {
    tls_failure(&e).unwrap_or_else(|| ProbeError::transient(io_reason(&e)))
}

/// Reads one size-prefixed response of at most `limit` bytes. The size is checked
/// before anything else is read, and the body grows only as bytes arrive.
pub async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, ProbeError> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ProbeError::transient(format!(
                "the broker closed the connection instead of answering {what}"
            ))
        } else {
            io_error(e)
        }
    })?;
    let size = i32::from_be_bytes(size);
    if size < 4 || size as usize > limit {
        return Err(garbage(
            what,
            &format!("a response of {size} bytes (at most {} KiB)", limit / 1024),
        ));
    }
    // One allocation of the announced size (bounded by the limit): its pages are
    // touched only as bytes arrive.
    let mut body = Vec::with_capacity(size as usize);
    let n = (&mut *stream)
        .take(size as u64)
        .read_to_end(&mut body)
        .await
        .map_err(io_error)?;
    if n < size as usize {
        return Err(ProbeError::transient(format!(
            "the broker closed the connection inside its response to {what} ({n} of {size} bytes)"
        )));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_compact_forms_round_trip() {
        let mut w = Writer::default();
        w.uvarint(300);
        w.string("abc", true);
        w.string("de", false);
        w.array_len(None, true);
        w.array_len(Some(2), false);
        w.bytes(b"xyz", true);
        let mut r = Reader::new(&w.bytes, true);
        assert_eq!(r.uvarint("n").unwrap(), 300);
        assert_eq!(r.string("s").unwrap().unwrap(), "abc");
        r.compact = false;
        assert_eq!(r.string("s").unwrap().unwrap(), "de");
        r.compact = true;
        assert_eq!(r.array(1, "a").unwrap(), None);
        r.compact = false;
        assert_eq!(r.i32("n").unwrap(), 2);
        r.compact = true;
        assert_eq!(r.bytes("b").unwrap().unwrap(), b"xyz");
        assert_eq!(r.left(), 0);
    }

    #[test]
    fn lengths_past_the_end_are_refused_before_reading() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 0, 0], false);
        let e = r.array(4, "the brokers").unwrap_err();
        assert!(e.contains("claims 2147483647 elements"), "{e}");
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f], true);
        assert!(r.array(1, "x").unwrap_err().contains("claims"));
        let mut r = Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], true);
        assert!(r.uvarint("x").unwrap_err().contains("not a varint"));
        let mut r = Reader::new(&[0xff, 0xfe], false);
        assert!(r.string("s").unwrap_err().contains("length -2"));
        let mut r = Reader::new(&[5, 1, 2], true);
        assert!(r.tags("t").unwrap_err().contains("claims 5 tagged"));
    }

    #[test]
    fn fuzz_kafka_frames() {
        use crate::probe::wire::fuzz::{assert_reason, outcome, run, runtime, settle, Peer};
        let rt = runtime();
        let seeds = vec![
            vec![0, 0, 0, 4, 1, 2, 3, 4],
            vec![0x7f, 0xff, 0xff, 0xff, 0],
        ];
        run("kafka_frames", &seeds, 4096, |input, case| {
            let mut peer = Peer::new(input.to_vec(), case);
            let r = settle(&rt, read_frame(&mut peer, 1024, "Metadata"));
            if let Err(e) = &r {
                assert_reason(&e.reason);
            }
            if let Ok(body) = &r {
                assert!(body.len() <= 1024);
            }
            outcome(&r)
        });
    }

    #[test]
    fn frames_are_read_through_the_limit() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut huge: &[u8] = &[0x7f, 0xff, 0xff, 0xff, 1, 2, 3];
            let e = read_frame(&mut huge, 1 << 20, "Metadata").await.unwrap_err();
            assert_eq!(
                e.reason,
                "not a Kafka response to Metadata: a response of 2147483647 bytes (at most 1024 KiB)"
            );
            let mut short: &[u8] = &[0, 0, 0, 8, 1, 2, 3];
            let e = read_frame(&mut short, 1 << 20, "Metadata").await.unwrap_err();
            assert!(e.reason.contains("3 of 8 bytes"), "{e}");
            let mut ok: &[u8] = &[0, 0, 0, 4, 1, 2, 3, 4, 9];
            assert_eq!(read_frame(&mut ok, 8, "x").await.unwrap(), [1, 2, 3, 4]);
            let mut none: &[u8] = &[];
            let e = read_frame(&mut none, 8, "ApiVersions").await.unwrap_err();
            assert!(e.reason.contains("closed the connection instead"), "{e}");
        });
    }
}
