//! Fake MySQL servers for the hostile cases a real server cannot be made to produce
//! (tests/hostile_mysql.rs): the wire format a fake needs (packets, a greeting, an
//! auth switch), a TLS upgrade with a test certificate, a record of every byte the
//! client sent (after TLS, so a password sent inside it is seen), and an RSA public
//! key with an absurd exponent.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// CLIENT_LONG_PASSWORD | CONNECT_WITH_DB | PROTOCOL_41 | TRANSACTIONS |
/// SECURE_CONNECTION | PLUGIN_AUTH | PLUGIN_AUTH_LENENC_CLIENT_DATA.
pub const SERVER_CAPS: u32 = 1 | 8 | 0x200 | 0x2000 | 0x8000 | 0x8_0000 | 0x20_0000;
/// CLIENT_SSL: the server offers TLS.
pub const CLIENT_SSL: u32 = 0x800;
/// An OK packet.
pub const OK: &[u8] = &[0, 0, 0, 2, 0, 0, 0];
/// The 20-byte nonce of every fake greeting.
pub const NONCE: [u8; 20] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
];

/// One packet: 3-byte length, sequence id, payload.
pub fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

/// Reads one packet; `None` when the client closed, reset or went quiet (the
/// stream's read timeout).
pub fn read_packet(s: &mut impl Read) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).ok()?;
    let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).ok()?;
    Some((h[3], p))
}

/// A HandshakeV10 greeting naming `plugin`, with the capability flags `caps`.
pub fn greeting(plugin: &str, caps: u32) -> Vec<u8> {
    let mut g = vec![10];
    g.extend_from_slice(b"8.0.36-fake\0");
    g.extend_from_slice(&7u32.to_le_bytes());
    g.extend_from_slice(&NONCE[..8]);
    g.push(0);
    g.extend_from_slice(&(caps as u16).to_le_bytes());
    g.push(45);
    g.extend_from_slice(&2u16.to_le_bytes());
    g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(&NONCE[8..]);
    g.push(0);
    g.extend_from_slice(plugin.as_bytes());
    g.push(0);
    g
}

/// An AuthSwitchRequest to `plugin` with a fresh nonce.
pub fn auth_switch(plugin: &str) -> Vec<u8> {
    let mut p = vec![0xFE];
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p.extend_from_slice(&NONCE);
    p.push(0);
    p
}

/// Every byte a fake read from its clients, in order (plaintext: after TLS).
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<u8>>>);

impl Received {
    /// Whether `needle` occurs anywhere in what the clients sent.
    pub fn contains(&self, needle: &[u8]) -> bool {
        let got = self.0.lock().unwrap();
        got.windows(needle.len()).any(|w| w == needle)
    }

    /// How many bytes the clients sent.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A stream whose reads are recorded.
pub struct Recording<S> {
    inner: S,
    log: Received,
}

impl<S> Recording<S> {
    /// Records what is read from `inner` into `log`.
    pub fn new(inner: S, log: &Received) -> Self {
        Recording {
            inner,
            log: log.clone(),
        }
    }
}

impl<S: Read> Read for Recording<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.log.0.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl<S: Write> Write for Recording<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A fake's connection after the greeting: plain or TLS, its reads recorded.
pub type Conn = Box<dyn ReadWrite>;

/// Read + Write, boxed.
pub trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

/// Sends a greeting offering TLS, reads the SSLRequest, and completes the TLS
/// handshake with `config` (see [`super::tls_server`]); what the client sends is recorded in
/// `log` in plaintext (inside TLS too). `None` if the client went away or
/// did not ask for TLS.
pub fn accept_tls(
    mut s: TcpStream,
    plugin: &str,
    config: &Arc<rustls::ServerConfig>,
    log: &Received,
) -> Option<Conn> {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(&packet(0, &greeting(plugin, SERVER_CAPS | CLIENT_SSL)))
        .ok()?;
    let mut rec = Recording::new(s, log);
    let (_, request) = read_packet(&mut rec)?;
    if request.len() != 32 {
        return None;
    }
    let conn = rustls::ServerConnection::new(config.clone()).ok()?;
    let tls = rustls::StreamOwned::new(conn, rec.inner);
    Some(Box::new(Recording::new(tls, log)))
}

/// Answers a finished login: OK, then OK to COM_PING; reads COM_QUIT.
pub fn finish_login(c: &mut Conn, seq: u8) {
    let _ = c.write_all(&packet(seq, OK));
    if read_packet(c).is_some() {
        let _ = c.write_all(&packet(1, OK));
        let _ = read_packet(c);
    }
}

/// One DER element.
fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(body);
    out
}

/// A PEM SubjectPublicKeyInfo RSA key (what MySQL sends) with a `modulus_bits`
/// modulus and an `exponent_bits` public exponent, both odd and of full length:
/// not a real key, but well-formed and as costly to use as its sizes say.
pub fn rsa_public_key_pem(modulus_bits: usize, exponent_bits: usize) -> Vec<u8> {
    use base64::Engine;
    let integer = |bits: usize| {
        // 0x00 keeps the INTEGER positive; then 0xC3, 0xFF, ..., 0xFF (odd).
        let mut v = vec![0u8, 0xC3];
        v.resize(bits / 8 + 1, 0xFF);
        der(0x02, &v)
    };
    let rsa_key = der(
        0x30,
        &[integer(modulus_bits), integer(exponent_bits)].concat(),
    );
    // rsaEncryption (1.2.840.113549.1.1.1), NULL parameters.
    let algorithm = der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    let bits = der(0x03, &[&[0u8][..], &rsa_key].concat());
    let spki = der(0x30, &[algorithm, bits].concat());
    let b64 = base64::engine::general_purpose::STANDARD.encode(spki);
    let mut pem = b"-----BEGIN PUBLIC KEY-----\n".to_vec();
    for line in b64.as_bytes().chunks(64) {
        pem.extend_from_slice(line);
        pem.push(b'\n');
    }
    pem.extend_from_slice(b"-----END PUBLIC KEY-----\n");
    pem
}
