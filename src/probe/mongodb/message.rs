//! MongoDB's wire protocol for commands: OP_MSG (MongoDB 3.6 and later), one
//! command document out, one reply document in. Every reply is read through a
//! size limit ([`MAX_REPLY`]) before its body is read, and must answer the request
//! sent (`responseTo`); its document is validated whole ([`super::bson`]).

use super::bson;
use crate::probe::error::{io_reason, tls_failure, ProbeError};
use crate::probe::wire::Cursor;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// OP_MSG.
const OP_MSG: i32 = 2013;
/// OP_REPLY, the legacy reply (servers before 3.6, or a legacy request).
const OP_REPLY: i32 = 1;
/// OP_COMPRESSED: never negotiated, never expected.
const OP_COMPRESSED: i32 = 2012;
/// OP_MSG's flag: a CRC-32C follows the sections.
const CHECKSUM_PRESENT: u32 = 1;

/// The largest reply read: `hello` with a 50-member set, SCRAM's messages and
/// `ping` are a few KiB.
pub const MAX_REPLY: usize = 1024 * 1024;

/// A connection that sends commands and reads their replies.
pub struct Conn<S> {
    /// The stream.
    pub stream: S,
    next_id: i32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// A connection over `stream`.
    pub fn new(stream: S) -> Conn<S> {
        Conn { stream, next_id: 1 }
    }

    /// Sends one command (a document with its `$db`) and returns the reply's
    /// document, as bytes; `what` names the command in reasons.
    pub async fn command(&mut self, doc: Vec<u8>, what: &str) -> Result<Vec<u8>, ProbeError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let len = 16 + 4 + 1 + doc.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as i32).to_le_bytes());
        msg.extend_from_slice(&id.to_le_bytes());
        msg.extend_from_slice(&0i32.to_le_bytes());
        msg.extend_from_slice(&OP_MSG.to_le_bytes());
        msg.extend_from_slice(&0u32.to_le_bytes());
        msg.push(0);
        msg.extend_from_slice(&doc);
        self.stream.write_all(&msg).await.map_err(io_error)?;
        self.stream.flush().await.map_err(io_error)?;
        let reply = read_message(&mut self.stream, what).await?;
        body(&reply, id).map_err(|why| garbage(what, &why))
    }
}

/// A transient failure for a reply that cannot be read.
pub fn garbage(what: &str, why: &str) -> ProbeError {
    ProbeError::transient(format!("not a MongoDB reply to {what}: {why}"))
}

/// An I/O failure: a rejected certificate is permanent, anything else transient.
pub fn io_error(e: std::io::Error) -> ProbeError {
    tls_failure(&e).unwrap_or_else(|| ProbeError::transient(io_reason(&e)))
}

/// Reads one message (its length checked before its body is read).
async fn read_message<S: AsyncRead + Unpin>(
    stream: &mut S,
    what: &str,
) -> Result<Vec<u8>, ProbeError> {
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ProbeError::transient(format!(
                "the server closed the connection instead of answering {what}"
            ))
        } else {
            io_error(e)
        }
    })?;
    let len = i32::from_le_bytes(head);
    if len < 16 || len as usize > MAX_REPLY {
        return Err(garbage(
            what,
            &format!(
                "a message of {len} bytes (at most {} KiB)",
                MAX_REPLY / 1024
            ),
        ));
    }
    let rest = len as usize - 4;
    let mut msg = Vec::with_capacity(rest);
    let n = (&mut *stream)
        .take(rest as u64)
        .read_to_end(&mut msg)
        .await
        .map_err(io_error)?;
    if n < rest {
        return Err(ProbeError::transient(format!(
            "the server closed the connection inside its reply to {what} ({} of {len} bytes)",
            n + 4
        )));
    }
    Ok(msg)
}

/// The reply's document: `msg` is a message after its length, answering `id`.
fn body(msg: &[u8], id: i32) -> Result<Vec<u8>, String> {
    let mut c = Cursor::new(msg);
    let int = |c: &mut Cursor| c.array::<4>().map(i32::from_le_bytes).ok_or("a cut header");
    int(&mut c)?; // its own request ID
    let to = int(&mut c)?;
    let op = int(&mut c)?;
    match op {
        OP_MSG => {}
        OP_REPLY => return Err("a legacy OP_REPLY (MongoDB before 3.6?)".into()),
        OP_COMPRESSED => return Err("a compressed message, never asked for".into()),
        other => return Err(format!("an unknown message type {other}")),
    }
    if to != id {
        return Err(format!("a reply to request {to}, not to {id}"));
    }
    let flags = c
        .array::<4>()
        .map(u32::from_le_bytes)
        .ok_or("a cut header")?;
    let mut sections = c.rest();
    if flags & CHECKSUM_PRESENT != 0 {
        sections = &sections[..sections.len().saturating_sub(4)];
    }
    let mut c = Cursor::new(sections);
    let mut found = None;
    while !c.is_empty() {
        match c.u8() {
            Some(0) => {
                let rest = c.rest();
                let len = Cursor::new(rest)
                    .array::<4>()
                    .map(i32::from_le_bytes)
                    .ok_or("a cut section")?;
                if len < 5 || len as usize > rest.len() {
                    return Err(format!("a document of {len} bytes"));
                }
                let doc = c.take(len as usize).ok_or("a cut section")?;
                if found.replace(doc).is_some() {
                    return Err("two body sections".into());
                }
            }
            Some(1) => {
                // A document sequence: not sent by servers to these commands.
                let rest = c.rest();
                let len = Cursor::new(rest)
                    .array::<4>()
                    .map(i32::from_le_bytes)
                    .ok_or("a cut section")?;
                if len < 4 {
                    return Err(format!("a section of {len} bytes"));
                }
                c.skip(len as usize).ok_or("a cut section")?;
            }
            _ => return Err("an unknown section kind".into()),
        }
    }
    let doc = found.ok_or("no body section")?;
    bson::parse(doc)?;
    Ok(doc.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::DocBuf;

    fn reply(to: i32, flags: u32, doc: &[u8], extra: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&9i32.to_le_bytes());
        m.extend_from_slice(&to.to_le_bytes());
        m.extend_from_slice(&OP_MSG.to_le_bytes());
        m.extend_from_slice(&flags.to_le_bytes());
        m.push(0);
        m.extend_from_slice(doc);
        m.extend_from_slice(extra);
        m
    }

    #[test]
    fn replies_are_checked() {
        let doc = DocBuf::new().i32("ok", 1).finish();
        assert_eq!(body(&reply(5, 0, &doc, &[]), 5).unwrap(), doc);
        assert_eq!(body(&reply(5, 1, &doc, &[1, 2, 3, 4]), 5).unwrap(), doc);
        assert!(body(&reply(4, 0, &doc, &[]), 5)
            .unwrap_err()
            .contains("not to 5"));
        assert!(body(&reply(5, 0, &doc, &[0])[..], 5).is_err());
        let mut legacy = reply(5, 0, &doc, &[]);
        legacy[8..12].copy_from_slice(&OP_REPLY.to_le_bytes());
        assert!(body(&legacy, 5).unwrap_err().contains("OP_REPLY"));
        let mut two = reply(5, 0, &doc, &[0]);
        two.extend_from_slice(&doc);
        assert!(body(&two, 5).unwrap_err().contains("two body"));
    }

    #[test]
    fn a_huge_length_is_refused_before_reading() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut s: &[u8] = &[0xff, 0xff, 0xff, 0x7f, 1, 2];
            let e = read_message(&mut s, "hello").await.unwrap_err();
            assert_eq!(
                e.reason,
                "not a MongoDB reply to hello: a message of 2147483647 bytes (at most 1024 KiB)"
            );
        });
    }

    #[test]
    fn fuzz_op_msg() {
        use crate::probe::wire::fuzz::{assert_reason, outcome, run, runtime, settle, Peer};
        let rt = runtime();
        let doc = DocBuf::new().i32("ok", 1).finish();
        let mut whole = ((reply(1, 0, &doc, &[]).len() + 4) as i32)
            .to_le_bytes()
            .to_vec();
        whole.extend_from_slice(&reply(1, 0, &doc, &[]));
        let seeds = vec![whole, reply(1, 1, &doc, &[0, 0, 0, 0])];
        run("op_msg", &seeds, 2048, |input, case| {
            let mut peer = Peer::new(input.to_vec(), case);
            let read = settle(&rt, read_message(&mut peer, "hello"));
            if let Err(e) = &read {
                assert_reason(&e.reason);
            }
            let r = body(input, 1);
            if let Err(e) = &r {
                assert_reason(e);
            }
            outcome(&r)
        });
    }
}
