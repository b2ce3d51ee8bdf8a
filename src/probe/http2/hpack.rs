//! HPACK (RFC 7541), the header compression of HTTP/2: a complete decoder
//! ([`Decoder`]: static and dynamic tables, Huffman strings) for the server's
//! header blocks, and [`encode_headers`] for the request's own fields, sent as
//! literals without indexing and without Huffman coding, which every decoder
//! accepts. Every integer, string and table index is read through [`Cursor`],
//! bounds-checked; the dynamic table stays within the 4096 bytes we announce, and
//! a block's decoded fields within [`MAX_HEADERS`].

use crate::probe::wire::Cursor;

/// The most bytes of decoded header fields in one header block.
pub const MAX_HEADERS: usize = 64 * 1024;

/// The HPACK dynamic table size we announce (the default).
const TABLE_SIZE: usize = 4096;

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
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, String> {
        let mut block = Cursor::new(block);
        let mut fields = Vec::new();
        let mut total = 0;
        while let Some(&first) = block.rest().first() {
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
    fn literal(&self, block: &mut Cursor, prefix: u32) -> Result<(String, String), String> {
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
fn int(block: &mut Cursor, n: u32) -> Result<usize, String> {
    let cut = || "an HPACK integer cut short".to_string();
    let first = block.u8().ok_or_else(cut)?;
    let max = (1usize << n) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok(value);
    }
    for shift in (0..28).step_by(7) {
        let b = block.u8().ok_or_else(cut)?;
        value += (usize::from(b) & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("an HPACK integer too large".into())
}

/// An HPACK string literal, Huffman-coded or not (RFC 7541 5.2).
fn string(block: &mut Cursor) -> Result<String, String> {
    let huffman = block.rest().first().is_some_and(|b| b & 0x80 != 0);
    let len = int(block, 7)?;
    let raw = block.take(len).ok_or("an HPACK string cut short")?;
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
    use crate::probe::wire::fuzz;

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

    /// Header blocks, one to three in a row through one decoder (its dynamic table
    /// carried from block to block), and Huffman strings on their own.
    #[test]
    fn fuzz_header_blocks() {
        let seeds: Vec<Vec<u8>> = vec![
            // RFC 7541 C.4.1 to C.4.3 (Huffman), one after the other.
            vec![
                0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
                0x90, 0xf4, 0xff, 0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c,
                0xbf,
            ],
            // C.3.1 (no Huffman), a table size update, a never-indexed literal.
            [
                &[0x82, 0x86, 0x84, 0x41, 0x0f][..],
                b"www.example.com",
                &[0x3f, 0xe1, 0x1f, 0x10, 0x01, b'k', 0x01, b'v', 0x20, 0xbe],
            ]
            .concat(),
            encode_headers(&[(":status", "200"), ("content-type", "application/grpc")]),
            vec![0x88, 0x5f, 0x10],
        ];
        fuzz::run("hpack", &seeds, 8192, |input, case| {
            let mut d = Decoder::new();
            let cuts = [
                (case as usize) % (input.len() + 1),
                ((case >> 20) as usize) % (input.len() + 1),
            ];
            let (a, b) = (cuts[0].min(cuts[1]), cuts[0].max(cuts[1]));
            let mut seen = String::new();
            for block in [&input[..a], &input[a..b], &input[b..]] {
                let result = d.decode(block);
                assert!(
                    d.size <= d.max && d.max <= TABLE_SIZE,
                    "table {} of {}",
                    d.size,
                    d.max
                );
                if let Ok(fields) = &result {
                    let bytes: usize = fields.iter().map(|(n, v)| n.len() + v.len()).sum();
                    assert!(bytes <= MAX_HEADERS);
                }
                seen = fuzz::outcome(&result);
            }
            if let Ok(text) = huffman_decode(input) {
                assert!(text.len() <= input.len() * 8 / 5);
            }
            seen
        });
    }
}
