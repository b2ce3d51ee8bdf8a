//! RESP2, the Redis protocol, as much of it as a probe needs: commands encoded as
//! arrays of bulk strings, and replies (simple strings, errors, integers, bulk
//! strings, arrays) read through limits, so that nothing a peer sends makes a reply
//! hold more than [`MAX_REPLY`] bytes, or read more than that, one line and one
//! [`CHUNK`] from the connection.
//!
//! The limits, and why they are enough:
//! - a line (a simple string, an error, a length or an integer) holds at most
//!   [`MAX_LINE`] (64 KiB): the replies a probe reads are `+OK`, `+PONG`, a type
//!   name, `:1`, and Redis's own error lines, which are a sentence long;
//! - a bulk string holds at most [`MAX_BULK`] (512 KiB): a value read to compare
//!   with an expectation is a marker, a version or a status, not a dataset;
//! - an array holds at most [`MAX_ELEMENTS`] (1,024), nested at most [`MAX_DEPTH`]
//!   (8) deep; none of the probe's commands is answered with an array;
//! - a whole reply holds at most [`MAX_REPLY`] (1 MiB), every line, bulk string and
//!   element counted, so limits multiplied by nesting stay bounded too.
//!
//! A reply over a limit is garbage from the peer, rejected as soon as its header or
//! line says so, before anything more is read; so is a first byte that starts no
//! RESP value (another protocol). The read buffer is [`CHUNK`] (8 KiB). An attempt
//! thus holds at most about 1.1 MiB of what the peer sent, far under the contract's
//! 16 MiB. Reading never panics and always ends: every byte read counts against a
//! line or the reply's budget.

use std::fmt;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest line of a reply: a simple string, an error, a length or an integer.
pub const MAX_LINE: usize = 64 * 1024;
/// The longest bulk string.
pub const MAX_BULK: usize = 512 * 1024;
/// The most elements one array may announce.
pub const MAX_ELEMENTS: usize = 1024;
/// The most arrays open at once (an array in an array in ...).
pub const MAX_DEPTH: usize = 8;
/// The most one reply may hold: its lines, its bulk strings, and [`ELEMENT`] bytes
/// for each value in it.
pub const MAX_REPLY: usize = 1024 * 1024;
/// The read buffer.
pub const CHUNK: usize = 8 * 1024;
/// What one value of a reply costs in memory, counted against [`MAX_REPLY`].
pub const ELEMENT: usize = std::mem::size_of::<Reply>();

/// Appends one command, as RESP's array of bulk strings, to `out`.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// One reply, as RESP2 writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+text`: `OK`, `PONG`, a type name.
    Simple(Vec<u8>),
    /// `-CODE message`.
    Error(Vec<u8>),
    /// `:n`.
    Integer(i64),
    /// `$n` and n bytes.
    Bulk(Vec<u8>),
    /// `$-1` or `*-1`: no value (a missing key).
    Nil,
    /// `*n` and n replies.
    Array(Vec<Reply>),
}

impl Reply {
    /// A short description for a reason: the text of a simple string (quoted, at
    /// most 60 characters), the kind and size of anything else.
    pub fn describe(&self) -> String {
        match self {
            Reply::Simple(s) => format!("+{}", shown(s, 60)),
            Reply::Error(s) => format!("-{}", shown(s, 60)),
            Reply::Integer(n) => format!("the integer {n}"),
            Reply::Bulk(b) => format!("a bulk string of {} bytes", b.len()),
            Reply::Nil => "nil".to_string(),
            Reply::Array(a) => format!("an array of {} elements", a.len()),
        }
    }
}

/// Why no reply could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The connection ended before a whole reply.
    Closed,
    /// Reading failed (a reset, a TLS alert, ...).
    Io(io::Error),
    /// The bytes are not RESP, or break a limit: what is wrong with them.
    Garbage(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Closed => f.write_str("connection closed"),
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Garbage(what) => f.write_str(what),
        }
    }
}

/// At most `max` characters of what a peer sent, quoted and escaped.
pub fn shown(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4 * max)]);
    let cut = crate::secret::excerpt(&text, max);
    let more = text.chars().nth(max).is_some() || bytes.len() > 4 * max;
    format!("{cut:?}{}", if more { "…" } else { "" })
}

fn garbage(what: impl Into<String>) -> ReadError {
    ReadError::Garbage(what.into())
}

/// What is left of a reply's [`MAX_REPLY`].
struct Budget(usize);

impl Budget {
    fn spend(&mut self, n: usize) -> Result<(), ReadError> {
        match self.0.checked_sub(n) {
            Some(left) => {
                self.0 = left;
                Ok(())
            }
            None => Err(garbage("a reply over 1 MiB")),
        }
    }
}

/// Replies read from a stream, one after the other, through the limits.
pub struct Reader<S> {
    stream: S,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl<S: AsyncRead + Unpin> Reader<S> {
    /// Reads from `stream` (anything already written to it, or written later
    /// through [`Reader::get_mut`], is answered in order).
    pub fn new(stream: S) -> Self {
        Reader {
            stream,
            buf: vec![0; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// The stream, to write more commands or shut it down.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The next reply, whole. Over a limit or not RESP: [`ReadError::Garbage`].
    pub async fn reply(&mut self) -> Result<Reply, ReadError> {
        let mut budget = Budget(MAX_REPLY);
        // The arrays being filled: their elements so far and how many they announced.
        let mut open: Vec<(Vec<Reply>, usize)> = Vec::new();
        loop {
            let mut value = match self.value(&mut budget).await? {
                Header::Value(v) => v,
                Header::Array(n) => {
                    if open.len() == MAX_DEPTH {
                        return Err(garbage(format!("arrays nested deeper than {MAX_DEPTH}")));
                    }
                    budget.spend(n * ELEMENT)?;
                    open.push((Vec::with_capacity(n), n));
                    continue;
                }
            };
            // Close every array that this value completes.
            loop {
                match open.last_mut() {
                    None => return Ok(value),
                    Some((items, want)) => {
                        items.push(value);
                        if items.len() < *want {
                            break;
                        }
                        let (items, _) = open.pop().unwrap_or_default();
                        value = Reply::Array(items);
                    }
                }
            }
        }
    }

    /// One value, or the header of a non-empty array whose elements follow.
    async fn value(&mut self, budget: &mut Budget) -> Result<Header, ReadError> {
        budget.spend(ELEMENT)?;
        // Another protocol is told from the first byte, without waiting for a line.
        if self.start == self.end {
            self.fill().await?;
        }
        let ahead = &self.buf[self.start..self.end];
        let Some(first) = ahead.first() else {
            return Err(ReadError::Closed);
        };
        if !b"+-:$*".contains(first) {
            let line = &ahead[..ahead
                .iter()
                .position(|&b| b == b'\r')
                .unwrap_or(ahead.len())];
            return Err(garbage(match line.is_empty() {
                true => "an empty line".to_string(),
                false => format!("garbage from the peer, {}", shown(line, 40)),
            }));
        }
        let line = self.line().await?;
        budget.spend(line.len() + 2)?;
        let Some((&kind, rest)) = line.split_first() else {
            return Err(garbage("an empty line"));
        };
        Ok(Header::Value(match kind {
            b'+' => Reply::Simple(rest.to_vec()),
            b'-' => Reply::Error(rest.to_vec()),
            b':' => Reply::Integer(
                integer(rest)
                    .ok_or_else(|| garbage(format!("a bad integer {}", shown(&line, 40))))?,
            ),
            b'$' => match length(rest) {
                Some(Length::Nil) => Reply::Nil,
                Some(Length::Of(n)) if n > MAX_BULK as u64 => {
                    return Err(garbage(format!(
                        "a bulk string of {n} bytes (over {} KiB)",
                        MAX_BULK / 1024
                    )))
                }
                Some(Length::Of(n)) => {
                    let n = n as usize;
                    budget.spend(n + 2)?;
                    Reply::Bulk(self.bulk(n).await?)
                }
                None => return Err(garbage(format!("a bad length {}", shown(&line, 40)))),
            },
            b'*' => match length(rest) {
                Some(Length::Nil) => Reply::Nil,
                Some(Length::Of(0)) => Reply::Array(Vec::new()),
                Some(Length::Of(n)) if n > MAX_ELEMENTS as u64 => {
                    return Err(garbage(format!(
                        "an array of {n} elements (over {MAX_ELEMENTS})"
                    )))
                }
                Some(Length::Of(n)) => return Ok(Header::Array(n as usize)),
                None => return Err(garbage(format!("a bad length {}", shown(&line, 40)))),
            },
            _ => {
                return Err(garbage(format!(
                    "garbage from the peer, {}",
                    shown(&line, 40)
                )))
            }
        }))
    }

    /// One line, without its `\r\n`; at most [`MAX_LINE`] bytes.
    async fn line(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut line = Vec::new();
        loop {
            let ahead = &self.buf[self.start..self.end];
            // A line ends at "\r\n", whose '\r' may have come in the last read.
            let end = ahead.iter().enumerate().position(|(i, &b)| {
                b == b'\n'
                    && match i {
                        0 => line.last() == Some(&b'\r'),
                        _ => ahead[i - 1] == b'\r',
                    }
            });
            let take = end.map_or(ahead.len(), |i| i + 1);
            // The content, plus the '\r' that may start the next read's "\r\n".
            if line.len() + take > MAX_LINE + if end.is_some() { 2 } else { 1 } {
                return Err(garbage(format!("a line over {} KiB", MAX_LINE / 1024)));
            }
            line.extend_from_slice(&ahead[..take]);
            self.start += take;
            if end.is_some() {
                line.truncate(line.len() - 2);
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    /// A bulk string's `n` bytes and the `\r\n` after them.
    async fn bulk(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        let mut data = Vec::with_capacity(n + 2);
        while data.len() < n + 2 {
            if self.start == self.end {
                self.fill().await?;
            }
            let take = (n + 2 - data.len()).min(self.end - self.start);
            data.extend_from_slice(&self.buf[self.start..self.start + take]);
            self.start += take;
        }
        if !data.ends_with(b"\r\n") {
            return Err(garbage(format!(
                "a bulk string of {n} bytes not followed by \\r\\n"
            )));
        }
        data.truncate(n);
        Ok(data)
    }

    /// Reads more into the buffer, once everything in it was used.
    async fn fill(&mut self) -> Result<(), ReadError> {
        debug_assert_eq!(self.start, self.end);
        let n = self
            .stream
            .read(&mut self.buf)
            .await
            .map_err(ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        (self.start, self.end) = (0, n);
        Ok(())
    }
}

enum Header {
    Value(Reply),
    Array(usize),
}

enum Length {
    Nil,
    Of(u64),
}

/// A length: `-1` (nil) or a non-negative number.
fn length(text: &[u8]) -> Option<Length> {
    match integer(text)? {
        -1 => Some(Length::Nil),
        n => u64::try_from(n).ok().map(Length::Of),
    }
}

/// A decimal integer as Redis writes one: an optional '-', then digits.
fn integer(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    /// A peer that sends these chunks, at most one per read, then ends the stream
    /// (or, `endless`, starts over, forever); counts what it gave.
    struct Peer {
        chunks: Vec<Vec<u8>>,
        next: usize,
        offset: usize,
        endless: bool,
        sent: usize,
    }

    impl Peer {
        fn new(mut chunks: Vec<Vec<u8>>, endless: bool) -> Self {
            // An empty chunk would read as the end of the stream.
            chunks.retain(|c| !c.is_empty());
            Peer {
                chunks,
                next: 0,
                offset: 0,
                endless,
                sent: 0,
            }
        }
    }

    impl AsyncRead for Peer {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let me = &mut *self;
            if me.endless && me.next == me.chunks.len() {
                me.next = 0;
            }
            if let Some(chunk) = me.chunks.get(me.next) {
                let rest = &chunk[me.offset..];
                let n = rest.len().min(buf.remaining());
                buf.put_slice(&rest[..n]);
                me.sent += n;
                me.offset += n;
                if me.offset == chunk.len() {
                    (me.next, me.offset) = (me.next + 1, 0);
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn read_all(chunks: &[&[u8]]) -> Vec<Result<Reply, String>> {
        let peer = Peer::new(chunks.iter().map(|c| c.to_vec()).collect(), false);
        let mut reader = Reader::new(peer);
        block_on(async {
            let mut out = Vec::new();
            loop {
                match reader.reply().await {
                    Ok(r) => out.push(Ok(r)),
                    Err(ReadError::Closed) => return out,
                    Err(e) => {
                        out.push(Err(e.to_string()));
                        return out;
                    }
                }
            }
        })
    }

    fn one(bytes: &[u8]) -> Result<Reply, String> {
        read_all(&[bytes]).remove(0)
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&mut out, &[b"AUTH", b"bob", b"p w\r\n"]);
        command(&mut out, &[b"PING"]);
        assert_eq!(
            out,
            b"*3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$5\r\np w\r\n\r\n*1\r\n$4\r\nPING\r\n"
        );
    }

    #[test]
    fn every_kind_of_reply() {
        let replies = read_all(&[
            b"+PONG\r\n-ERR no\r\n:42\r\n:-7\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n*0\r\n",
            b"*2\r\n:1\r\n*1\r\n$0\r\n\r\n+",
            b"OK\r",
            b"\n",
        ]);
        use Reply::*;
        assert_eq!(
            replies,
            vec![
                Ok(Simple(b"PONG".to_vec())),
                Ok(Error(b"ERR no".to_vec())),
                Ok(Integer(42)),
                Ok(Integer(-7)),
                Ok(Bulk(b"he\r\no".to_vec())),
                Ok(Nil),
                Ok(Nil),
                Ok(Array(vec![])),
                Ok(Array(vec![Integer(1), Array(vec![Bulk(vec![])])])),
                Ok(Simple(b"OK".to_vec())),
            ]
        );
    }

    #[test]
    fn a_line_split_between_reads_and_a_bare_newline() {
        assert_eq!(
            read_all(&[b"+a\nb\r", b"\n+c", b"\r\n"]),
            vec![
                Ok(Reply::Simple(b"a\nb".to_vec())),
                Ok(Reply::Simple(b"c".to_vec()))
            ]
        );
    }

    #[test]
    fn garbage_is_named() {
        for (bytes, why) in [
            (
                &b"HTTP/1.1 400 Bad Request\r\n"[..],
                "garbage from the peer, \"HTTP/1.1 400 Bad Request\"",
            ),
            (b"\r\n", "an empty line"),
            (b":x\r\n", "a bad integer \":x\""),
            (b":99999999999999999999\r\n", "a bad integer"),
            (b"$-2\r\n", "a bad length \"$-2\""),
            (b"*1x\r\n", "a bad length"),
            (
                b"$3\r\nabcd\r\n",
                "a bulk string of 3 bytes not followed by \\r\\n",
            ),
            (
                b"$3000000000\r\n",
                "a bulk string of 3000000000 bytes (over 512 KiB)",
            ),
            (
                b"*2147483647\r\n",
                "an array of 2147483647 elements (over 1024)",
            ),
            (
                b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n",
                "arrays nested deeper than 8",
            ),
        ] {
            let got = one(bytes);
            assert!(
                matches!(&got, Err(e) if e.contains(why)),
                "{:?}: {got:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn the_limits_hold_exactly() {
        let line = |n: usize| [&b"+"[..], &vec![b'a'; n - 1], b"\r\n"].concat();
        assert!(one(&line(MAX_LINE)).is_ok());
        assert_eq!(one(&line(MAX_LINE + 1)), Err("a line over 64 KiB".into()));
        let bulk = |n: usize| [format!("${n}\r\n").as_bytes(), &vec![b'a'; n], b"\r\n"].concat();
        assert!(one(&bulk(MAX_BULK)).is_ok());
        assert!(one(&bulk(MAX_BULK + 1)).is_err());
        // Two bulk strings of 512 KiB are over the reply's 1 MiB.
        let two = [&b"*2\r\n"[..], &bulk(MAX_BULK), &bulk(MAX_BULK)].concat();
        assert_eq!(one(&two), Err("a reply over 1 MiB".into()));
        let deep = [&b"*1\r\n".repeat(MAX_DEPTH)[..], b":1\r\n"].concat();
        assert!(one(&deep).is_ok());
    }

    #[test]
    fn closed_before_a_whole_reply() {
        for partial in [&b""[..], b"+PO", b"+PONG\r", b"$5\r\nab", b"*2\r\n:1\r\n"] {
            let peer = Peer::new(vec![partial.to_vec()], false);
            let got = block_on(Reader::new(peer).reply());
            assert!(
                matches!(got, Err(ReadError::Closed)),
                "{partial:?}: {got:?}"
            );
        }
    }

    /// The heap a reply holds, roughly as the budget counts it.
    fn held(r: &Reply) -> usize {
        ELEMENT
            + match r {
                Reply::Simple(s) | Reply::Error(s) | Reply::Bulk(s) => s.len(),
                Reply::Integer(_) | Reply::Nil => 0,
                Reply::Array(a) => a.iter().map(held).sum(),
            }
    }

    /// The most a reply may make the reader take from the peer: its budget, one
    /// line over it, and what one read brings beyond.
    const MOST_READ: usize = MAX_REPLY + MAX_LINE + 2 + CHUNK;

    /// Reads replies from an endless peer until one fails or `n` were read: each
    /// reply ends, holds at most the budget, and takes at most [`MOST_READ`].
    fn bounded(chunks: Vec<Vec<u8>>, n: usize) -> Result<(), TestCaseError> {
        let peer = Peer::new(chunks, true);
        if peer.chunks.is_empty() {
            return Ok(());
        }
        let mut reader = Reader::new(peer);
        block_on(async {
            for _ in 0..n {
                let before = reader.get_mut().sent;
                let got = reader.reply().await;
                let took = reader.get_mut().sent - before;
                prop_assert!(took <= MOST_READ, "read {took} bytes for one reply");
                match got {
                    Ok(r) => prop_assert!(held(&r) <= MAX_REPLY, "{} bytes", held(&r)),
                    Err(ReadError::Garbage(_)) => return Ok(()),
                    Err(e) => prop_assert!(false, "an endless peer gave {e}"),
                }
            }
            Ok(())
        })
    }

    /// Headers as a peer might send them, with lengths small, at the limits, huge
    /// or malformed; whole lines and bulk strings at the limits; bits of payload.
    fn header() -> impl Strategy<Value = Vec<u8>> {
        let number = prop_oneof![
            0i64..4,
            Just(-1),
            Just(-2),
            Just(MAX_ELEMENTS as i64),
            Just(MAX_ELEMENTS as i64 + 1),
            Just(MAX_BULK as i64),
            Just(MAX_BULK as i64 + 1),
            Just(3_000_000_000),
            Just(i64::MAX),
            any::<i64>(),
        ];
        let size = prop_oneof![
            0usize..4,
            Just(MAX_BULK),
            Just(MAX_LINE),
            Just(MAX_LINE + 1)
        ];
        prop_oneof![
            (prop::sample::select(vec!["*", "$", ":", "+", "-"]), number)
                .prop_map(|(t, n)| format!("{t}{n}\r\n").into_bytes()),
            size.clone()
                .prop_map(|n| [format!("${n}\r\n").as_bytes(), &vec![b'x'; n], b"\r\n"].concat()),
            size.prop_map(|n| [&b"+"[..], &vec![b'x'; n], b"\r\n"].concat()),
            Just(b"\r\n".to_vec()),
            Just(b"+".to_vec()),
            Just(b"*1\r\n".to_vec()),
            Just(format!("*{MAX_ELEMENTS}\r\n").into_bytes()),
            prop::collection::vec(any::<u8>(), 0..16),
            prop::collection::vec(prop::sample::select(vec![b'a', b'\r', b'\n']), 0..4096),
        ]
    }

    /// Whole values only, at the limits and below: any sequence of them, repeated,
    /// is RESP, which only the limits can stop.
    fn valid() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => prop::sample::select(vec![1usize, 2, 3, MAX_ELEMENTS])
                .prop_map(|n| format!("*{n}\r\n").into_bytes()),
            3 => prop::sample::select(vec![0usize, 1, MAX_BULK, MAX_BULK])
                .prop_map(|n| [format!("${n}\r\n").as_bytes(), &vec![b'x'; n], b"\r\n"].concat()),
            1 => prop::sample::select(vec![0usize, MAX_LINE])
                .prop_map(|n| [&b"+"[..], &vec![b'x'; n], b"\r\n"].concat()),
            1 => Just(b":1\r\n".to_vec()),
            1 => Just(b"*0\r\n".to_vec()),
            1 => Just(b"$-1\r\n".to_vec()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Random bytes, in random chunks, repeated without end.
        #[test]
        fn random_bytes_are_bounded(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..512), 1..16)
        ) {
            bounded(chunks, 16)?;
        }

        /// Headers that look valid, with huge lengths, repeated without end.
        #[test]
        fn valid_looking_headers_are_bounded(
            headers in prop::collection::vec(header(), 1..24)
        ) {
            bounded(headers, 16)?;
        }

        /// Valid values, at the limits, repeated without end.
        #[test]
        fn valid_values_are_bounded(values in prop::collection::vec(valid(), 1..8)) {
            bounded(values, 4)?;
        }

        /// A finite stream never panics and ends (closed, garbage or replies).
        #[test]
        fn a_finite_stream_ends(
            chunks in prop::collection::vec(header(), 0..24)
        ) {
            let peer = Peer::new(chunks, false);
            let mut reader = Reader::new(peer);
            block_on(async {
                while reader.reply().await.is_ok() {}
            });
        }
    }
}
