//! MQTT: `mqtt://[USER[:PASSWORD]@]HOST[:PORT][?protocol=5]`, `mqtts://…` (ports
//! 1883 / 8883).
//!
//! One attempt sends CONNECT (clean session, keep-alive 10 s, client id
//! `whenready-<random>`), reads CONNACK, and on "accepted" sends DISCONNECT and
//! closes. MQTT 3.1.1 unless the URL says `?protocol=5`. The wire code is written by
//! hand (two packets out, one in); the CONNACK's length is capped and every field is
//! read through [`Cursor`], bounds-checked, so nothing the server sends can make it
//! panic.

use super::error::{io_reason, tls_failure, ProbeError};
use super::net;
use super::tls::{self, Tls};
use super::wire::Cursor;
use crate::endpoint::decode;
use crate::endpoint::Endpoint;
use crate::env::Env;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use url::Url;

/// Keep-alive announced in CONNECT, in seconds (the session lasts one round trip).
const KEEP_ALIVE: u16 = 10;

/// The largest CONNACK accepted (a v5 CONNACK with properties is a few hundred bytes).
pub const MAX_CONNACK: usize = 64 * 1024;

/// The protocol version spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttVersion {
    /// MQTT 3.1.1 (protocol level 4), the default.
    V311,
    /// MQTT 5 (protocol level 5), with `?protocol=5`.
    V5,
}

/// A parsed `mqtt://` or `mqtts://` target.
#[derive(Clone)]
pub struct MqttTarget {
    /// Broker address.
    pub endpoint: Endpoint,
    /// `mqtts://`: TLS with certificate verification.
    pub tls: bool,
    /// User name, if any.
    pub username: Option<String>,
    /// Password, if any.
    pub password: Option<String>,
    /// Protocol version.
    pub version: MqttVersion,
}

impl std::fmt::Debug for MqttTarget {
    // Never shows the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttTarget")
            .field("endpoint", &self.endpoint)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("version", &self.version)
            .finish()
    }
}

/// Parses an `mqtt://` or `mqtts://` URL. Errors never contain the password.
pub fn parse(url: &Url, _env: &Env) -> Result<MqttTarget, String> {
    let tls = url.scheme().eq_ignore_ascii_case("mqtts");
    let endpoint = crate::endpoint::url_endpoint(url, Some(if tls { 8883 } else { 1883 }))?;
    if !matches!(url.path(), "" | "/") {
        return Err("an mqtt URL has no path: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]".into());
    }
    let username = Some(decode(url.username())).filter(|u| !u.is_empty());
    let password = url.password().map(decode);
    let mut version = MqttVersion::V311;
    for (k, v) in url.query_pairs() {
        match &*k {
            "protocol" => {
                version = match &*v {
                    "3.1.1" | "4" => MqttVersion::V311,
                    "5" | "5.0" => MqttVersion::V5,
                    other => {
                        return Err(format!(
                            "invalid protocol {other:?}: expected 3.1.1 (the default) or 5"
                        ))
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown parameter {other:?}: an mqtt URL takes only ?protocol=5"
                ))
            }
        }
    }
    if password.is_some() && username.is_none() && version == MqttVersion::V311 {
        return Err(
            "MQTT 3.1.1 sends a password only with a user name: add USER@ or ?protocol=5".into(),
        );
    }
    if username.as_ref().is_some_and(|u| u.len() > 65_535)
        || password.as_ref().is_some_and(|p| p.len() > 65_535)
    {
        return Err("a user name or password longer than 65535 bytes".into());
    }
    Ok(MqttTarget {
        endpoint,
        tls,
        username,
        password,
        version,
    })
}

/// One attempt at an MQTT broker.
pub async fn probe(t: &MqttTarget, tls_settings: &Tls) -> Result<(), ProbeError> {
    let stream = net::connect(&t.endpoint).await?;
    if t.tls {
        let stream = tls::connect(stream, &t.endpoint.host, tls_settings.verified()).await?;
        converse(stream, t).await
    } else {
        converse(stream, t).await
    }
}

fn io_failure(e: std::io::Error, waiting_for: &str) -> ProbeError {
    if let Some(tls) = tls_failure(&e) {
        return tls;
    }
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return ProbeError::transient(format!(
            "connection closed by the server before {waiting_for}"
        ));
    }
    ProbeError::transient(io_reason(&e))
}

async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    t: &MqttTarget,
) -> Result<(), ProbeError> {
    let client_id = format!("whenready-{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
    let packet = connect_packet(t, &client_id);
    stream
        .write_all(&packet)
        .await
        .map_err(|e| io_failure(e, "CONNACK"))?;
    stream.flush().await.map_err(|e| io_failure(e, "CONNACK"))?;
    let mut first = [0u8; 1];
    stream
        .read_exact(&mut first)
        .await
        .map_err(|e| io_failure(e, "CONNACK"))?;
    if first[0] != 0x20 {
        return Err(ProbeError::transient(format!(
            "not an MQTT broker: expected CONNACK, got a packet starting with 0x{:02x}",
            first[0]
        )));
    }
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let mut b = [0u8; 1];
        stream
            .read_exact(&mut b)
            .await
            .map_err(|e| io_failure(e, "CONNACK"))?;
        len |= usize::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return Err(ProbeError::transient(
                "not an MQTT broker: malformed CONNACK length",
            ));
        }
    }
    if !(2..=MAX_CONNACK).contains(&len) {
        return Err(ProbeError::transient(format!(
            "not an MQTT broker: a CONNACK of {len} bytes"
        )));
    }
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| io_failure(e, "CONNACK"))?;
    let code = body[1];
    if code != 0 {
        let reason = match t.version {
            MqttVersion::V5 if len > 2 => reason_string(&body[2..]),
            _ => None,
        };
        let mut err = classify(t.version, code, len == 2);
        if let Some(r) = reason {
            err.reason = format!("{} ({})", err.reason, r).into();
        }
        return Err(err);
    }
    // DISCONNECT, normal disconnection; then close.
    let _ = stream.write_all(&[0xE0, 0x00]).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    Ok(())
}

/// The CONNECT packet for `t`.
fn connect_packet(t: &MqttTarget, client_id: &str) -> Vec<u8> {
    let level = match t.version {
        MqttVersion::V311 => 4,
        MqttVersion::V5 => 5,
    };
    let mut flags = 0x02; // clean session / clean start
    if t.username.is_some() {
        flags |= 0x80;
    }
    if t.password.is_some() {
        flags |= 0x40;
    }
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', level, flags];
    body.extend(KEEP_ALIVE.to_be_bytes());
    if t.version == MqttVersion::V5 {
        body.push(0); // no properties
    }
    let mut field = |bytes: &[u8]| {
        // Lengths were checked at parse time (at most 65535 bytes).
        let n = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        body.extend(n.to_be_bytes());
        body.extend(&bytes[..usize::from(n)]);
    };
    field(client_id.as_bytes());
    if let Some(u) = &t.username {
        field(u.as_bytes());
    }
    if let Some(p) = &t.password {
        field(p.as_bytes());
    }
    let mut packet = vec![0x10];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        packet.push(b);
        if len == 0 {
            break;
        }
    }
    packet.extend(body);
    packet
}

/// The Reason String property (0x1F) of a v5 CONNACK's properties, if present.
fn reason_string(props: &[u8]) -> Option<String> {
    let mut c = Cursor::new(props);
    let len = usize::try_from(c.varint(4).ok()?).ok()?;
    let mut p = Cursor::new(c.take(len)?);
    // Skip each property by its type; stop at the first unknown one.
    while let Some(id) = p.u8() {
        match id {
            0x11 | 0x27 => p.skip(4)?,                      // four-byte integers
            0x13 | 0x21 | 0x22 => p.skip(2)?,               // two-byte integers
            0x24 | 0x25 | 0x28 | 0x29 | 0x2A => p.skip(1)?, // bytes
            0x1F => {
                let n = p.u16()?;
                let text = String::from_utf8_lossy(p.take(n.into())?);
                return Some(crate::secret::excerpt(&text, 120));
            }
            0x12 | 0x15 | 0x16 | 0x1A | 0x1C => {
                // Strings and binary data.
                let n = p.u16()?;
                p.skip(n.into())?
            }
            0x26 => {
                // A user property: two strings.
                for _ in 0..2 {
                    let n = p.u16()?;
                    p.skip(n.into())?;
                }
            }
            _ => return None,
        }
    }
    None
}

/// The classification of a refused CONNACK: which refusals waiting cannot fix.
/// `short` is a two-byte CONNACK (the 3.1.1 form, which a 3.1.1-only broker also
/// sends to refuse a v5 CONNECT).
pub fn classify(version: MqttVersion, code: u8, short: bool) -> ProbeError {
    use ProbeError as E;
    if version == MqttVersion::V311 || short && code < 0x80 {
        return match code {
            1 => E::permanent(
                "CONNACK 1: connection refused, unacceptable protocol version (the broker does not speak this MQTT version)",
            ),
            2 => E::transient("CONNACK 2: connection refused, identifier rejected"),
            3 => E::transient("CONNACK 3: connection refused, server unavailable"),
            4 => E::permanent("CONNACK 4: connection refused, bad user name or password"),
            5 => E::permanent("CONNACK 5: connection refused, not authorized"),
            other => E::transient(format!("CONNACK {other}: connection refused (unknown return code)")),
        };
    }
    let text = |what: &str| format!("CONNACK 0x{code:02X}: {what}");
    match code {
        0x84 => E::permanent(text("unsupported protocol version")),
        0x86 => E::permanent(text("bad user name or password")),
        0x87 => E::permanent(text("not authorized")),
        0x8C => E::permanent(text("bad authentication method")),
        0x80 => E::transient(text("unspecified error")),
        0x81 => E::transient(text("malformed packet")),
        0x82 => E::transient(text("protocol error")),
        0x83 => E::transient(text("implementation specific error")),
        0x85 => E::transient(text("client identifier not valid")),
        0x88 => E::transient(text("server unavailable")),
        0x89 => E::transient(text("server busy")),
        0x8A => E::transient(text("banned")),
        0x95 => E::transient(text("packet too large")),
        0x97 => E::transient(text("quota exceeded")),
        0x9C => E::transient(text("use another server")),
        0x9D => E::transient(text("server moved")),
        0x9F => E::transient(text("connection rate exceeded")),
        _ => E::transient(text("connection refused")),
    }
}

/// The MQTT kind.
pub struct Mqtt;

impl super::kind::Kind for Mqtt {
    fn name(&self) -> &'static str {
        "mqtt"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["mqtt", "mqtts"]
    }
    fn forms(&self) -> &'static str {
        "mqtt(s)://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "mqtt://[USER[:PASS]@]HOST[:PORT], mqtts://",
            "CONNACK accepts the CONNECT (?protocol=5)",
        )
    }
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn super::kind::Check>, String> {
        Ok(Box::new(parse(url, env)?))
    }
}

impl super::kind::Check for MqttTarget {
    fn probe<'a>(&'a self, ctx: &'a super::kind::Ctx) -> super::kind::Attempt<'a> {
        Box::pin(probe(self, &ctx.tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::error::Transience::*;
    use crate::probe::wire::fuzz;
    use MqttVersion::*;

    fn p(text: &str) -> Result<MqttTarget, String> {
        parse(&Url::parse(text).unwrap(), &Env::default())
    }
    fn t(v: MqttVersion, code: u8) -> crate::probe::error::Transience {
        classify(v, code, v == V311).transience
    }

    #[test]
    fn v311_unacceptable_protocol_version_is_permanent() {
        assert_eq!(t(V311, 1), Permanent);
    }
    #[test]
    fn v311_identifier_rejected_is_transient() {
        assert_eq!(t(V311, 2), Transient);
    }
    #[test]
    fn v311_server_unavailable_is_transient() {
        assert_eq!(t(V311, 3), Transient);
    }
    #[test]
    fn v311_bad_user_name_or_password_is_permanent() {
        assert_eq!(t(V311, 4), Permanent);
        assert!(classify(V311, 4, true)
            .reason
            .contains("bad user name or password"));
    }
    #[test]
    fn v311_not_authorized_is_permanent() {
        assert_eq!(t(V311, 5), Permanent);
    }
    #[test]
    fn v311_unknown_code_is_transient() {
        assert_eq!(t(V311, 77), Transient);
    }
    #[test]
    fn v5_bad_user_name_or_password_is_permanent() {
        assert_eq!(t(V5, 0x86), Permanent);
    }
    #[test]
    fn v5_not_authorized_is_permanent() {
        assert_eq!(t(V5, 0x87), Permanent);
    }
    #[test]
    fn v5_unsupported_version_and_bad_auth_method_are_permanent() {
        assert_eq!(t(V5, 0x84), Permanent);
        assert_eq!(t(V5, 0x8C), Permanent);
    }
    #[test]
    fn v5_server_unavailable_and_busy_are_transient() {
        assert_eq!(t(V5, 0x88), Transient);
        assert_eq!(t(V5, 0x89), Transient);
        assert_eq!(t(V5, 0x9F), Transient);
        assert_eq!(t(V5, 0x80), Transient);
        assert_eq!(t(V5, 0xFF), Transient);
    }
    #[test]
    fn v5_refused_by_a_v311_broker_is_permanent() {
        assert_eq!(classify(V5, 1, true).transience, Permanent);
    }

    #[test]
    fn forms() {
        let m = p("mqtt://h").unwrap();
        assert_eq!((m.endpoint.port, m.tls, m.version), (1883, false, V311));
        let m = p("mqtts://u:p%40w@h?protocol=5").unwrap();
        assert_eq!((m.endpoint.port, m.tls, m.version), (8883, true, V5));
        assert_eq!(m.password.as_deref(), Some("p@w"));
        assert!(!format!("{m:?}").contains("p@w"));
        assert!(p("mqtt://:s3cret@h").unwrap_err().contains("user name"));
        assert!(p("mqtt://:s3cret@h?protocol=5").is_ok());
        let e = p("mqtt://u:s3cret@h?qos=1").unwrap_err();
        assert!(e.contains("qos") && !e.contains("s3cret"));
        assert!(p("mqtt://h?protocol=3").is_err());
        assert!(p("mqtt://h/topic").is_err());
    }

    #[test]
    fn connect_packets() {
        let m = p("mqtt://u:pw@h").unwrap();
        let pk = connect_packet(&m, "id");
        assert_eq!(
            pk,
            [
                0x10, 21, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 10, 0, 2, b'i', b'd', 0, 1,
                b'u', 0, 2, b'p', b'w'
            ]
        );
        let m = p("mqtt://h?protocol=5").unwrap();
        let pk = connect_packet(&m, "id");
        assert_eq!(
            pk,
            [0x10, 15, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 10, 0, 0, 2, b'i', b'd']
        );
        // A long password takes a two-byte remaining length.
        let m = p(&format!("mqtt://u:{}@h", "x".repeat(200))).unwrap();
        let pk = connect_packet(&m, "id");
        let mut length = Cursor::new(&pk[1..]);
        assert_eq!(length.varint(4), Ok(pk.len() as u64 - 3));
        assert_eq!(length.pos(), 2);
    }

    /// Runs `converse` against a peer that sends `bytes` and then ends its side: it must end
    /// with an outcome, never a panic.
    fn against(bytes: Vec<u8>, t: &MqttTarget) -> Result<(), ProbeError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, mut server) = tokio::io::duplex(1 << 20);
            server.write_all(&bytes).await.unwrap();
            // Half-close: the client reads EOF after `bytes`, and may still write.
            server.shutdown().await.unwrap();
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = server.read_to_end(&mut sink).await;
            });
            converse(client, t).await
        })
    }

    /// v5 CONNACK properties: session expiry, receive maximum, a user property,
    /// the reason string.
    fn properties() -> Vec<u8> {
        let mut props = vec![0x11, 0, 0, 0, 10, 0x21, 0, 20, 0x26, 0, 1, b'k', 0, 1, b'v'];
        props.extend([0x1F, 0, 6]);
        props.extend(b"banned");
        props
    }

    /// The CONNACK against every byte stream, for both versions.
    #[test]
    fn fuzz_connack() {
        let rt = fuzz::runtime();
        let targets = [
            p("mqtt://u:p@h").unwrap(),
            p("mqtt://u:p@h?protocol=5").unwrap(),
        ];
        let props = properties();
        let mut refused = vec![0x20, 3 + props.len() as u8, 0, 0x8A, props.len() as u8];
        refused.extend(&props);
        let seeds = vec![
            vec![0x20, 2, 0, 0],
            vec![0x20, 2, 0, 5],
            vec![0x20, 3, 0, 0, 0],
            vec![0x20, 3, 0, 0x86, 0],
            refused,
            vec![0x20, 0x80, 0x01, 0, 0],
            vec![0x30, 2, 0, 0],
        ];
        fuzz::run("mqtt", &seeds, 200_000, |input, case| {
            let t = &targets[(case % 2) as usize];
            let mut peer = fuzz::Peer::new(input.to_vec(), case);
            let result = fuzz::settle(&rt, converse(&mut peer, t));
            if let Err(e) = &result {
                fuzz::assert_reason(&e.reason);
            }
            fuzz::outcome(&result)
        });
    }

    /// A v5 CONNACK's properties on their own.
    #[test]
    fn fuzz_properties() {
        let props = properties();
        let seeds = [[&[props.len() as u8][..], &props].concat(), props];
        fuzz::run(
            "mqtt-properties",
            &seeds,
            1024,
            |input, _| match reason_string(input) {
                Some(r) => {
                    assert!(r.chars().count() <= 120);
                    "reason".into()
                }
                None => "none".into(),
            },
        );
    }

    #[test]
    fn accepted_connack_is_ready() {
        assert!(against(vec![0x20, 2, 0, 0], &p("mqtt://h").unwrap()).is_ok());
        assert!(against(vec![0x20, 3, 0, 0, 0], &p("mqtt://h?protocol=5").unwrap()).is_ok());
    }

    #[test]
    fn reason_strings_are_read_safely() {
        // session expiry (4 bytes), then reason string "no".
        let props = [10, 0x11, 0, 0, 0, 1, 0x1F, 0, 2, b'n', b'o'];
        assert_eq!(reason_string(&props).as_deref(), Some("no"));
        assert_eq!(reason_string(&[5, 0x1F, 0, 200, b'x']), None);
        assert_eq!(reason_string(&[]), None);
        assert_eq!(reason_string(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), None);
        assert_eq!(reason_string(&[3, 0x26, 0xFF, 0xFF]), None);
    }
}
