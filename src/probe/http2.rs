//! A minimal HTTP/2 client for one request on a fresh connection: what the gRPC
//! health call needs, written from RFC 9113 (HTTP/2) and RFC 7541 (HPACK).
//!
//! [`request`] sends the connection preface, SETTINGS, one HEADERS and one DATA frame
//! on stream 1, answers the server's SETTINGS and PINGs, and reads stream 1's header
//! blocks (headers, then trailers) and data until END_STREAM. The header blocks are
//! decoded by a complete HPACK decoder ([`Decoder`]: static and dynamic tables,
//! Huffman strings); the request's own fields go out as literals without indexing
//! and without Huffman coding, which every decoder accepts. A general client (hyper's
//! `http2` feature, the h2 crate) would add 258 KB to the static binary for this one
//! exchange (measured). Every length the server sends is bounded: a frame by the
//! default SETTINGS_MAX_FRAME_SIZE (16 KiB), the data by [`MAX_DATA`], a header list
//! by [`MAX_HEADERS`]; nothing the server sends can make it panic.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most response data kept (a health answer is a few bytes).
pub const MAX_DATA: usize = 64 * 1024;

/// The most bytes of decoded header fields in one header block.
pub const MAX_HEADERS: usize = 64 * 1024;

/// The frame size every HTTP/2 peer must accept, and the largest we accept.
const MAX_FRAME: usize = 16 * 1024;

/// The HPACK dynamic table size we announce (the default).
const TABLE_SIZE: usize = 4096;

/// What the server answered on stream 1.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Response {
    /// The first header block (`:status` included).
    pub headers: Vec<(String, String)>,
    /// The data frames' payloads, joined.
    pub data: Vec<u8>,
    /// The second header block, if any.
    pub trailers: Vec<(String, String)>,
}

impl Response {
    /// The value of `name` in the headers.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The value of `name` in the trailers.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        find(&self.trailers, name)
    }
}

fn find<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Why the exchange failed: an I/O error, or what the server did wrong.
#[derive(Debug)]
pub enum Error {
    /// Reading or writing failed.
    Io(std::io::Error),
    /// The server broke the protocol, reset the stream or went away.
    Protocol(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

fn protocol<T>(why: impl Into<String>) -> Result<T, Error> {
    Err(Error::Protocol(why.into()))
}

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Appends an HPACK integer with an `n`-bit prefix whose high bits are `first`.
fn put_int(out: &mut Vec<u8>, first: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A header block of literal fields without indexing, names and values as they are.
pub fn encode_headers(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x00);
        put_int(&mut out, 0, 7, name.len());
        out.extend_from_slice(name.as_bytes());
        put_int(&mut out, 0, 7, value.len());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Sends one request on stream 1 of a fresh connection and reads its response:
/// `fields` are the request's header fields, pseudo-headers first.
pub async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    fields: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, Error> {
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS_ENABLE_PUSH = 0: nothing but our one stream.
    out.extend(frame(SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 0]));
    let block = encode_headers(fields);
    if block.len() > MAX_FRAME || body.len() > MAX_FRAME {
        return protocol("the request is larger than one frame");
    }
    out.extend(frame(HEADERS, END_HEADERS, 1, &block));
    out.extend(frame(DATA, END_STREAM, 1, body));
    stream.write_all(&out).await?;
    stream.flush().await?;

    let mut decoder = Decoder::new();
    let mut response = Response::default();
    let mut blocks = 0;
    // A header block in progress (HEADERS without END_HEADERS, then CONTINUATION),
    // and whether its HEADERS frame ended the stream.
    let mut pending: Option<(Vec<u8>, bool)> = None;
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7FFF_FFFF;
        if len > MAX_FRAME {
            return protocol(format!(
                "not an HTTP/2 server (a frame of {len} bytes, or no frame at all)"
            ));
        }
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await?;
        if let Some((block, _)) = &mut pending {
            if kind != CONTINUATION || id != 1 {
                return protocol("a header block interrupted by another frame");
            }
            block.extend_from_slice(&payload);
            if block.len() > MAX_HEADERS {
                return protocol("a header block larger than 64 KiB");
            }
        }
        match kind {
            SETTINGS if id == 0 => {
                if flags & ACK == 0 {
                    if !len.is_multiple_of(6) {
                        return protocol("a SETTINGS frame of the wrong size");
                    }
                    stream.write_all(&frame(SETTINGS, ACK, 0, &[])).await?;
                    stream.flush().await?;
                }
                continue;
            }
            PING if id == 0 => {
                if flags & ACK == 0 && len == 8 {
                    stream.write_all(&frame(PING, ACK, 0, &payload)).await?;
                    stream.flush().await?;
                }
                continue;
            }
            GOAWAY => {
                let code = payload
                    .get(4..8)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(0);
                let debug = String::from_utf8_lossy(payload.get(8..).unwrap_or_default());
                let debug: String = debug.chars().take(80).collect();
                return protocol(format!(
                    "the server closed the connection (GOAWAY, {}{})",
                    error_name(code),
                    if debug.is_empty() {
                        String::new()
                    } else {
                        format!(": {debug:?}")
                    }
                ));
            }
            RST_STREAM if id == 1 => {
                let code = payload
                    .get(..4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(0);
                return protocol(format!(
                    "the server reset the stream ({})",
                    error_name(code)
                ));
            }
            PUSH_PROMISE => return protocol("a PUSH_PROMISE, which was disabled"),
            _ if id != 1 => continue,
            DATA => {
                if blocks == 0 {
                    return protocol("data before the response headers");
                }
                let data = unpad(&payload, flags)?;
                if response.data.len() + data.len() > MAX_DATA {
                    return protocol("more than 64 KiB of response data");
                }
                response.data.extend_from_slice(data);
                if flags & END_STREAM != 0 {
                    return Ok(response);
                }
            }
            HEADERS => {
                let mut fragment = unpad(&payload, flags)?;
                if flags & PRIORITY != 0 {
                    fragment = fragment
                        .get(5..)
                        .ok_or(Error::Protocol("a HEADERS frame cut short".into()))?;
                }
                pending = Some((fragment.to_vec(), flags & END_STREAM != 0));
                if flags & END_HEADERS == 0 {
                    continue;
                }
            }
            CONTINUATION => {
                if pending.is_none() {
                    return protocol("a CONTINUATION without HEADERS");
                }
                if flags & END_HEADERS == 0 {
                    continue;
                }
            }
            _ => continue,
        }
        // A header block is complete.
        if let Some((block, ends)) = pending.take() {
            let fields = decoder.decode(&block).map_err(Error::Protocol)?;
            let informational = blocks == 0
                && find(&fields, ":status").is_some_and(|s| s.len() == 3 && s.starts_with('1'));
            if !informational {
                match blocks {
                    0 => response.headers = fields,
                    _ => response.trailers = fields,
                }
                blocks += 1;
            }
            if ends {
                return Ok(response);
            }
        }
    }
}

/// A frame's payload without its padding (when PADDED is set).
fn unpad(payload: &[u8], flags: u8) -> Result<&[u8], Error> {
    if flags & PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(Error::Protocol(
        "a padded frame without its pad length".into(),
    ))?;
    rest.len()
        .checked_sub(pad as usize)
        .map(|end| &rest[..end])
        .ok_or(Error::Protocol("padding longer than the frame".into()))
}

fn error_name(code: u32) -> String {
    let name = match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xd => "HTTP_1_1_REQUIRED",
        n => return format!("error {n}"),
    };
    name.to_string()
}

// ------------------------------------------------------------------ HPACK

/// RFC 7541 Appendix A: the static table (index 1 to 61).
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// RFC 7541 Appendix B: the Huffman code's length for each octet. The code is
/// canonical (codes assigned in order of length, then symbol; EOS is 30 ones), so
/// the lengths define it.
const HUFFMAN_LENGTHS: [u8; 256] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
];

/// An HPACK decoder: the dynamic table of one connection.
pub struct Decoder {
    table: std::collections::VecDeque<(String, String)>,
    size: usize,
    max: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with an empty dynamic table of the default size.
    pub fn new() -> Decoder {
        Decoder {
            table: Default::default(),
            size: 0,
            max: TABLE_SIZE,
        }
    }

    fn get(&self, index: usize) -> Result<(String, String), String> {
        let entry = match index {
            0 => None,
            1..=61 => STATIC
                .get(index - 1)
                .map(|(n, v)| (n.to_string(), v.to_string())),
            _ => self.table.get(index - 62).cloned(),
        };
        entry.ok_or_else(|| format!("HPACK index {index} is not in the table"))
    }

    fn insert(&mut self, name: String, value: String) {
        self.size += name.len() + value.len() + 32;
        self.table.push_front((name, value));
        self.evict();
    }

    fn evict(&mut self) {
        while self.size > self.max {
            match self.table.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + 32,
                None => break,
            }
        }
    }

    /// Decodes one header block into its fields (names lowercase as sent).
    pub fn decode(&mut self, mut block: &[u8]) -> Result<Vec<(String, String)>, String> {
        let mut fields = Vec::new();
        let mut total = 0;
        while let Some(&first) = block.first() {
            let (name, value) = if first & 0x80 != 0 {
                let index = int(&mut block, 7)?;
                self.get(index)?
            } else if first & 0x40 != 0 {
                let (n, v) = self.literal(&mut block, 6)?;
                self.insert(n.clone(), v.clone());
                (n, v)
            } else if first & 0x20 != 0 {
                let size = int(&mut block, 5)?;
                if size > TABLE_SIZE {
                    return Err(format!("HPACK table size {size} above the 4096 allowed"));
                }
                self.max = size;
                self.evict();
                continue;
            } else {
                // Without indexing (0000) or never indexed (0001).
                self.literal(&mut block, 4)?
            };
            total += name.len() + value.len() + 32;
            if total > MAX_HEADERS {
                return Err("more than 64 KiB of header fields".into());
            }
            fields.push((name, value));
        }
        Ok(fields)
    }

    /// A literal field whose name is indexed (`prefix`-bit index) or literal.
    fn literal(&self, block: &mut &[u8], prefix: u32) -> Result<(String, String), String> {
        let index = int(block, prefix)?;
        let name = if index == 0 {
            string(block)?
        } else {
            self.get(index)?.0
        };
        Ok((name, string(block)?))
    }
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 5.1).
fn int(block: &mut &[u8], n: u32) -> Result<usize, String> {
    let cut = || "an HPACK integer cut short".to_string();
    let (&first, rest) = block.split_first().ok_or_else(cut)?;
    *block = rest;
    let max = (1usize << n) - 1;
    let mut value = first as usize & max;
    if value < max {
        return Ok(value);
    }
    for shift in (0..28).step_by(7) {
        let (&b, rest) = block.split_first().ok_or_else(cut)?;
        *block = rest;
        value += (b as usize & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("an HPACK integer too large".into())
}

/// An HPACK string literal, Huffman-coded or not (RFC 7541 5.2).
fn string(block: &mut &[u8]) -> Result<String, String> {
    let huffman = block.first().is_some_and(|b| b & 0x80 != 0);
    let len = int(block, 7)?;
    let raw = block.get(..len).ok_or("an HPACK string cut short")?;
    *block = &block[len..];
    let bytes = if huffman {
        huffman_decode(raw)?
    } else {
        raw.to_vec()
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Decodes the canonical Huffman code of RFC 7541 Appendix B.
pub fn huffman_decode(data: &[u8]) -> Result<Vec<u8>, String> {
    // Symbols in code order, and for each length its first code and first position.
    let mut symbols: Vec<u16> = (0..257).collect();
    let length = |s: u16| HUFFMAN_LENGTHS.get(s as usize).copied().unwrap_or(30);
    symbols.sort_by_key(|&s| (length(s), s));
    let mut first_code = [0u32; 31];
    let mut first_at = [0usize; 31];
    let mut count = [0usize; 31];
    let (mut code, mut prev) = (0u32, length(symbols[0]));
    for (i, &s) in symbols.iter().enumerate() {
        let l = length(s);
        if i > 0 {
            code = (code + 1) << (l - prev);
        }
        if count[l as usize] == 0 {
            first_code[l as usize] = code;
            first_at[l as usize] = i;
        }
        count[l as usize] += 1;
        prev = l;
    }
    let mut out = Vec::with_capacity(data.len() * 2);
    let (mut acc, mut bits) = (0u32, 0usize);
    for byte in data {
        for i in (0..8).rev() {
            acc = (acc << 1) | u32::from((byte >> i) & 1);
            bits += 1;
            if bits >= 5 && count[bits] > 0 && acc >= first_code[bits] {
                let offset = (acc - first_code[bits]) as usize;
                if offset < count[bits] {
                    match symbols[first_at[bits] + offset] {
                        256 => return Err("EOS inside a Huffman string".into()),
                        s => out.push(s as u8),
                    }
                    acc = 0;
                    bits = 0;
                }
            }
            if bits > 30 {
                return Err("an invalid Huffman code".into());
            }
        }
    }
    // What is left must be a prefix of EOS (all ones), shorter than a byte.
    if bits > 7 || acc != (1 << bits) - 1 {
        return Err("invalid Huffman padding".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huffman_examples_of_rfc_7541() {
        // C.4.1: "www.example.com"
        let www = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        assert_eq!(huffman_decode(&www).unwrap(), b"www.example.com");
        // C.6.1: "Mon, 21 Oct 2013 20:13:21 GMT"
        let date = [
            0xd0, 0x7a, 0xbe, 0x94, 0x10, 0x54, 0xd4, 0x44, 0xa8, 0x20, 0x05, 0x95, 0x04, 0x0b,
            0x81, 0x66, 0xe0, 0x82, 0xa6, 0x2d, 0x1b, 0xff,
        ];
        assert_eq!(
            huffman_decode(&date).unwrap(),
            b"Mon, 21 Oct 2013 20:13:21 GMT"
        );
        assert!(huffman_decode(&[0x00]).is_err(), "padding of zeros");
        assert!(huffman_decode(&[0xff, 0xff, 0xff, 0xff]).is_err(), "EOS");
        assert_eq!(huffman_decode(&[]).unwrap(), b"");
    }

    #[test]
    fn request_examples_of_rfc_7541_with_huffman_and_the_dynamic_table() {
        // C.4.1 to C.4.3: three requests on one connection.
        let mut d = Decoder::new();
        let first = [
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff,
        ];
        let f = d.decode(&first).unwrap();
        assert_eq!(f[3], (":authority".into(), "www.example.com".into()));
        let second = [
            0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
        ];
        let f = d.decode(&second).unwrap();
        assert_eq!(f[3], (":authority".into(), "www.example.com".into()));
        assert_eq!(f[4], ("cache-control".into(), "no-cache".into()));
        let third = [
            0x82, 0x87, 0x85, 0xbf, 0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f,
            0x89, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
        ];
        let f = d.decode(&third).unwrap();
        assert_eq!(f[1], (":scheme".into(), "https".into()));
        assert_eq!(f[3], (":authority".into(), "www.example.com".into()));
        assert_eq!(f[4], ("custom-key".into(), "custom-value".into()));
        assert_eq!(d.size, 164);
    }

    #[test]
    fn our_literals_decode() {
        let fields = [(":method", "POST"), ("x", &"v".repeat(300)[..])];
        let block = encode_headers(&fields);
        let got = Decoder::new().decode(&block).unwrap();
        assert_eq!(got[1].1.len(), 300);
        assert_eq!(got[0], (":method".into(), "POST".into()));
    }

    #[test]
    fn bad_blocks_are_errors() {
        let mut d = Decoder::new();
        for bad in [
            &[0x80][..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x40, 0x05, b'a'],
            &[0x3f, 0xe2, 0x1f],
            &[0xc0],
        ] {
            assert!(d.decode(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_panic_on_any_header_block(block in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = Decoder::new().decode(&block);
        }
    }

    fn exchange(bytes: Vec<u8>) -> Result<Response, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut client, mut server) = tokio::io::duplex(1 << 20);
            server.write_all(&bytes).await.unwrap();
            server.shutdown().await.unwrap();
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = server.read_to_end(&mut sink).await;
            });
            request(&mut client, &[(":method", "POST")], b"x").await
        })
    }

    #[test]
    fn a_response_with_trailers() {
        let mut s = frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]);
        s.extend(frame(PING, 0, 0, &[1; 8]));
        s.extend(frame(HEADERS, END_HEADERS, 1, &[0x88])); // :status 200
        s.extend(frame(DATA, PADDED, 1, &[2, 7, 7, 0, 0]));
        let trailers = encode_headers(&[("grpc-status", "0")]);
        // The trailers in two frames: HEADERS (ending the stream), CONTINUATION.
        s.extend(frame(HEADERS, END_STREAM, 1, &trailers[..3]));
        s.extend(frame(CONTINUATION, END_HEADERS, 1, &trailers[3..]));
        let r = exchange(s).unwrap();
        assert_eq!(r.header(":status"), Some("200"));
        assert_eq!(r.data, vec![7, 7]);
        assert_eq!(r.trailer("grpc-status"), Some("0"));
    }

    #[test]
    fn goaway_reset_and_garbage_are_errors() {
        let e = exchange(frame(GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0, 0xb])).unwrap_err();
        assert!(
            matches!(e, Error::Protocol(ref m) if m.contains("ENHANCE_YOUR_CALM")),
            "{e:?}"
        );
        let e = exchange(frame(RST_STREAM, 0, 1, &[0, 0, 0, 7])).unwrap_err();
        assert!(
            matches!(e, Error::Protocol(ref m) if m.contains("REFUSED_STREAM")),
            "{e:?}"
        );
        let e = exchange(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()).unwrap_err();
        assert!(
            matches!(e, Error::Protocol(ref m) if m.contains("not an HTTP/2 server")),
            "{e:?}"
        );
        let e = exchange(Vec::new()).unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{e:?}");
    }

    proptest::proptest! {
        #[test]
        fn no_panic_on_any_frames(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut all = frame(HEADERS, END_HEADERS, 1, &[0x88]);
            all.extend(bytes);
            let _ = exchange(all);
        }
    }
}
