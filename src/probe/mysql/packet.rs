//! The MySQL wire format, as far as a readiness check needs it: packets (3-byte
//! length, sequence id, payload) read through a size cap, a bounds-checked cursor,
//! the server's greeting (HandshakeV10), ERR packets, and the fixed part of the
//! client's login (HandshakeResponse41, also the SSLRequest).

use super::classify;
use crate::probe::error::{io_reason, ProbeError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A byte stream the session can run over: TCP, TLS over TCP, or a test's pipe.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

// Capability flags (protocol documentation, "Capabilities Flags").
pub(super) const CLIENT_LONG_PASSWORD: u32 = 1;
pub(super) const CLIENT_CONNECT_WITH_DB: u32 = 8;
pub(super) const CLIENT_PROTOCOL_41: u32 = 0x200;
pub(super) const CLIENT_SSL: u32 = 0x800;
pub(super) const CLIENT_TRANSACTIONS: u32 = 0x2000;
pub(super) const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
pub(super) const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
pub(super) const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x20_0000;

/// No packet a readiness check needs is near this size; larger ones are garbage.
pub(super) const MAX_PACKET: usize = 64 * 1024;
/// utf8mb4_general_ci, known to MySQL 5.5+ and every MariaDB.
pub(super) const CHARSET: u8 = 45;
/// Auth round trips before the exchange counts as a misbehaving server.
pub(super) const MAX_AUTH_ROUNDS: usize = 8;

pub(super) const COM_QUIT: u8 = 0x01;
pub(super) const COM_INIT_DB: u8 = 0x02;
pub(super) const COM_PING: u8 = 0x0e;

/// A connection with its packet sequence number.
pub(super) struct Conn {
    pub(super) io: Box<dyn Io>,
    pub(super) seq: u8,
    /// Plain, TLS, or TLS with a verified certificate.
    pub(super) link: Link,
}

pub(super) fn closed() -> ProbeError {
    ProbeError::transient("connection closed by the server")
}

pub(super) fn io_err(e: std::io::Error) -> ProbeError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return closed();
    }
    ProbeError::transient(io_reason(&e))
}

/// What a connection protects a password from, for the methods that send it as it
/// is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    /// No TLS: anyone on the path reads it.
    Plain,
    /// TLS whose certificate was not verified (ssl-mode PREFERRED, or REQUIRED without
    /// ssl-ca): hidden from a listener, not from an active attacker who answers in the
    /// server's place.
    Unverified,
    /// TLS whose certificate was verified against ssl-ca (VERIFY_CA, VERIFY_IDENTITY,
    /// or REQUIRED with ssl-ca).
    Verified,
}

pub(super) fn garbage(what: &str) -> ProbeError {
    ProbeError::transient(format!("not a MySQL server? {what}"))
}

impl Conn {
    /// Reads one packet (3-byte length, sequence id, payload); the next packet we send
    /// continues the sequence. A length over [`MAX_PACKET`] is garbage; below it, the
    /// buffer grows with the bytes that arrive, not with the length the peer claims.
    pub(super) async fn read(&mut self) -> Result<Vec<u8>, ProbeError> {
        let mut header = [0u8; 4];
        self.io.read_exact(&mut header).await.map_err(io_err)?;
        let len =
            usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
        if len > MAX_PACKET {
            return Err(garbage(&format!("a packet of {len} bytes")));
        }
        let mut payload = Vec::new();
        (&mut self.io)
            .take(len as u64)
            .read_to_end(&mut payload)
            .await
            .map_err(io_err)?;
        if payload.len() < len {
            return Err(closed());
        }
        self.seq = header[3].wrapping_add(1);
        Ok(payload)
    }

    /// Sends one packet with the next sequence id.
    pub(super) async fn write(&mut self, payload: &[u8]) -> Result<(), ProbeError> {
        let len = payload.len();
        if len >= 0xFF_FFFF {
            return Err(ProbeError::permanent("a login packet too large to send"));
        }
        let mut packet = Vec::with_capacity(4 + len);
        packet.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
        packet.push(self.seq);
        packet.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.io.write_all(&packet).await.map_err(io_err)?;
        self.io.flush().await.map_err(io_err)
    }

    /// Starts a new command (sequence 0) and sends it.
    pub(super) async fn command(&mut self, payload: &[u8]) -> Result<(), ProbeError> {
        self.seq = 0;
        self.write(payload).await
    }
}

/// A little cursor over a packet; every read is bounds-checked.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    pub(super) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub(super) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub(super) fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A NUL-terminated string, or the rest of the packet when there is no NUL.
    pub(super) fn cstr(&mut self) -> &'a [u8] {
        let end = self.0.iter().position(|&b| b == 0);
        let s = &self.0[..end.unwrap_or(self.0.len())];
        self.0 = &self.0[end.map_or(self.0.len(), |e| e + 1)..];
        s
    }
    pub(super) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// The parts of the server's greeting that the client needs.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Greeting {
    pub(super) capabilities: u32,
    pub(super) nonce: Vec<u8>,
    pub(super) plugin: String,
}

/// Parses the initial packet: HandshakeV10, or an ERR (too many connections, host
/// blocked) sent instead of it.
pub(super) fn parse_greeting(p: &[u8]) -> Result<Greeting, ProbeError> {
    if p.first() == Some(&0xFF) {
        return Err(server_error(p));
    }
    let bad = || garbage("its greeting is not a protocol 10 handshake");
    let mut r = Reader(p);
    if r.u8() != Some(10) {
        return Err(bad());
    }
    let _version = r.cstr();
    let _connection_id = r.u32().ok_or_else(bad)?;
    let mut nonce = r.take(8).ok_or_else(bad)?.to_vec();
    let _filler = r.u8();
    let low = r.u16().ok_or_else(bad)?;
    let mut capabilities = u32::from(low);
    let mut plugin = String::from("mysql_native_password");
    if let (Some(_charset), Some(_status), Some(high)) = (r.u8(), r.u16(), r.u16()) {
        capabilities |= u32::from(high) << 16;
        let auth_len = usize::from(r.u8().ok_or_else(bad)?);
        let _reserved = r.take(10).ok_or_else(bad)?;
        if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let n = auth_len.saturating_sub(8).max(13);
            let part2 = r.take(n.min(r.0.len())).unwrap_or_default();
            // The second part ends with a NUL that is not part of the nonce.
            let part2 = part2.strip_suffix(&[0]).unwrap_or(part2);
            nonce.extend_from_slice(part2);
        }
        if capabilities & CLIENT_PLUGIN_AUTH != 0 {
            let name = r.cstr();
            if !name.is_empty() {
                plugin = String::from_utf8_lossy(name).into_owned();
            }
        }
    }
    if capabilities & CLIENT_PROTOCOL_41 == 0 {
        return Err(ProbeError::transient(
            "the server is older than MySQL 4.1 (no protocol 4.1 support)",
        ));
    }
    Ok(Greeting {
        capabilities,
        nonce,
        plugin,
    })
}

/// An AuthSwitchRequest (`0xFE`, the method's name, NUL, its nonce): the method
/// and the nonce. Without a name it is the pre-4.1 request for mysql_old_password.
pub(super) fn parse_auth_switch(p: &[u8]) -> Result<(String, Vec<u8>), ProbeError> {
    let mut r = Reader(p);
    if r.u8() != Some(0xFE) {
        return Err(garbage("an auth switch request that is none"));
    }
    if r.0.is_empty() {
        return Err(ProbeError::permanent(
            "the server asks for the pre-4.1 password method (mysql_old_password), which whenready does not support",
        ));
    }
    let plugin = String::from_utf8_lossy(r.cstr()).into_owned();
    Ok((plugin, r.rest().to_vec()))
}

/// The server's ERR packet as a failure: its message and code, classified.
pub(super) fn server_error(p: &[u8]) -> ProbeError {
    let mut r = Reader(p);
    let _ = r.u8();
    let Some(code) = r.u16() else {
        return garbage("an error packet without a code");
    };
    let mut rest = r.rest();
    // Protocol 4.1 errors carry '#' and a five-character SQLSTATE.
    if rest.first() == Some(&b'#') && rest.len() >= 6 {
        rest = &rest[6..];
    }
    let message = String::from_utf8_lossy(rest);
    let reason = format!("{} ({code})", message.trim());
    ProbeError::new(classify(code), reason)
}

/// The first 32 bytes of HandshakeResponse41 (also the whole SSLRequest).
pub(super) fn fixed_part(out: &mut Vec<u8>, caps: u32) {
    out.extend_from_slice(&caps.to_le_bytes());
    out.extend_from_slice(&(16u32 << 20).to_le_bytes());
    out.push(CHARSET);
    out.extend_from_slice(&[0; 23]);
}

/// A length-encoded integer.
pub(super) fn lenenc(out: &mut Vec<u8>, n: usize) {
    match n {
        0..=250 => out.push(n as u8),
        251..=0xFFFF => {
            out.push(0xFC);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        _ => {
            out.push(0xFD);
            out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::mysql::fake::*;

    #[test]
    fn greeting_parser_never_panics_on_truncations() {
        let g = greeting("caching_sha2_password", SERVER_CAPS);
        for n in 0..g.len() {
            let _ = parse_greeting(&g[..n]);
        }
        let full = parse_greeting(&g).unwrap();
        assert_eq!(full.nonce, NONCE);
        assert_eq!(full.plugin, "caching_sha2_password");
    }
}
