//! What the hand-written protocol decoders share: a bounds-checked [`Cursor`] over a
//! message a peer sent, and [`Lines`], a reader of `\r\n`-terminated lines with a
//! length cap.
//!
//! Every read of a [`Cursor`] is checked: it returns `None` (or [`VarintError`])
//! when the bytes run out, never panics, and never allocates. [`Lines`] keeps at
//! most its cap plus one read's worth ([`CHUNK`]) of a line that does not end, and
//! looks at each byte once however the line arrives.
//!
//! The kinds that use them: amqp, nats, memcached, mqtt, dns, http2 (HPACK) and grpc.

use tokio::io::{AsyncRead, AsyncReadExt};

#[cfg(test)]
pub(crate) mod fuzz;

/// A position in bytes a peer sent, read forward with every length checked.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Why a variable-length integer could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The bytes ran out before its last byte.
    CutShort,
    /// More bytes than the encoding allows, all with the continuation bit set.
    TooLong,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    /// A cursor at offset `pos` of `bytes` (past the end: every read fails), for
    /// formats that point into the message (DNS names).
    pub fn at(bytes: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor { bytes, pos }
    }

    /// The offset of the next byte to read, from the start of the whole message.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// What is left to read.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// Whether nothing is left to read.
    pub fn is_empty(&self) -> bool {
        self.rest().is_empty()
    }

    /// The next `n` bytes, or `None` (and nothing consumed) if fewer are left.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let taken = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(taken)
    }

    /// Skips `n` bytes, or returns `None` (and skips nothing) if fewer are left.
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    /// A big-endian (network order) 16-bit integer.
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian 24-bit integer (HTTP/2 frame lengths).
    pub fn u24(&mut self) -> Option<u32> {
        let [a, b, c] = self.array()?;
        Some(u32::from_be_bytes([0, a, b, c]))
    }

    /// A big-endian 32-bit integer.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// A base-128 integer, least significant group first, of at most `max_bytes`
    /// bytes (MQTT's variable byte integer: 4; protobuf's varint: 10). Bits beyond
    /// 64 are dropped, as protobuf decoders do.
    pub fn varint(&mut self, max_bytes: usize) -> Result<u64, VarintError> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = self.u8().ok_or(VarintError::CutShort)?;
            if let Some(bits) = u64::from(b & 0x7F).checked_shl(7 * i as u32) {
                value |= bits;
            }
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(VarintError::TooLong)
    }
}

/// How much [`Lines`] asks the stream for at a time.
pub const CHUNK: usize = 4096;

/// Why no line could be read.
#[derive(Debug)]
pub enum LineError {
    /// More than the cap arrived without a line end.
    TooLong,
    /// The peer closed the connection; what it sent of an unfinished line, as text
    /// (lossy UTF-8), at most 80 characters, empty if nothing.
    Closed(String),
    /// Reading failed.
    Io(std::io::Error),
}

/// Reads `\r\n`-terminated lines from a stream, keeping what follows a line for the
/// next one. A line longer than the cap is an error, found after at most the cap
/// plus one [`CHUNK`] is buffered.
#[derive(Debug)]
pub struct Lines {
    buf: Vec<u8>,
    max: usize,
    /// How much of `buf` is known to hold no `\r\n`.
    scanned: usize,
}

impl Lines {
    /// A reader of lines of at most `max` bytes.
    pub fn new(max: usize) -> Lines {
        Lines {
            buf: Vec::new(),
            max,
            scanned: 0,
        }
    }

    /// What was received after the last line returned.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// The next line, without its `\r\n`, as text (lossy UTF-8).
    pub async fn next<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> Result<String, LineError> {
        loop {
            // A `\r` at the end of what was scanned may begin the terminator.
            let from = self.scanned.saturating_sub(1);
            let found = self
                .buf
                .get(from..)
                .unwrap_or_default()
                .windows(2)
                .position(|w| w == b"\r\n");
            if let Some(i) = found {
                let end = from + i;
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                self.scanned = 0;
                return Ok(line);
            }
            self.scanned = self.buf.len();
            if self.buf.len() > self.max {
                return Err(LineError::TooLong);
            }
            let mut chunk = [0u8; CHUNK];
            let n = stream.read(&mut chunk).await.map_err(LineError::Io)?;
            if n == 0 {
                let text = String::from_utf8_lossy(&self.buf);
                return Err(LineError::Closed(text.chars().take(80).collect()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_reads_are_checked() {
        let mut c = Cursor::new(&[1, 0, 2, 0, 0, 0, 3, 9]);
        assert_eq!(c.u8(), Some(1));
        assert_eq!(c.u16(), Some(2));
        assert_eq!(c.u32(), Some(3));
        assert_eq!(c.pos(), 7);
        assert_eq!(c.u16(), None);
        assert_eq!(c.pos(), 7, "a failed read consumes nothing");
        assert_eq!(c.take(usize::MAX), None);
        assert_eq!(c.rest(), &[9]);
        assert_eq!(c.u8(), Some(9));
        assert!(c.is_empty());
        let mut past = Cursor::at(&[1, 2], 5);
        assert!(past.is_empty() && past.u8().is_none() && past.skip(0).is_none());
        assert_eq!(Cursor::at(&[1, 2, 3, 4], 1).u24(), Some(0x020304));
    }

    #[test]
    fn varints() {
        assert_eq!(Cursor::new(&[0x7F]).varint(4), Ok(127));
        assert_eq!(Cursor::new(&[0xAC, 0x02]).varint(10), Ok(300));
        assert_eq!(
            Cursor::new(&[0xFF, 0xFF, 0xFF, 0x7F]).varint(4),
            Ok(268_435_455)
        );
        assert_eq!(
            Cursor::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]).varint(4),
            Err(VarintError::TooLong)
        );
        assert_eq!(Cursor::new(&[0x80]).varint(4), Err(VarintError::CutShort));
        let mut max = vec![0xFF; 9];
        max.push(0x01);
        assert_eq!(Cursor::new(&max).varint(10), Ok(u64::MAX));
        assert_eq!(
            Cursor::new(&[0xFF; 11]).varint(10),
            Err(VarintError::TooLong)
        );
    }

    fn lines(input: &[u8], max: usize, chunks: usize) -> (Vec<String>, LineError) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut peer = fuzz::Peer::new(input.to_vec(), chunks as u64);
        rt.block_on(async {
            let mut l = Lines::new(max);
            let mut got = Vec::new();
            loop {
                match l.next(&mut peer).await {
                    Ok(line) => got.push(line),
                    Err(e) => return (got, e),
                }
            }
        })
    }

    #[test]
    fn lines_across_reads() {
        for seed in 0..20 {
            let (got, end) = lines(b"a\r\n\r\nb\rc\r\nrest", 64, seed);
            assert_eq!(got, ["a", "", "b\rc"], "seed {seed}");
            assert!(
                matches!(end, LineError::Closed(ref r) if r == "rest"),
                "{end:?}"
            );
        }
        let (got, end) = lines(&[b'x'; 10_000], 100, 1);
        assert!(got.is_empty() && matches!(end, LineError::TooLong));
        let (_, end) = lines(b"", 100, 1);
        assert!(matches!(end, LineError::Closed(ref r) if r.is_empty()));
    }
}
