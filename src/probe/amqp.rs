//! AMQP 0-9-1 (RabbitMQ): `amqp://[USER[:PASSWORD]@]HOST[:PORT][/VHOST]`, `amqps://…`
//! (ports 5672 / 5671).
//!
//! One attempt sends the protocol header, answers Connection.Start with Start-Ok
//! (PLAIN login, client properties announcing `authentication_failure_close`),
//! Tune with Tune-Ok, sends Open(VHOST), and is ready on Open-Ok; it then closes the
//! connection politely (Close, Close-Ok). The frame code is written by hand: five
//! methods of one class on channel 0 need no client library. Frames are capped at
//! [`MAX_FRAME`] bytes and every field is read through [`Cursor`], bounds-checked,
//! so nothing the server sends can make it panic.

use super::error::{io_reason, tls_failure, ProbeError};
use super::net;
use super::tls::{self, Tls};
use super::wire::Cursor;
use crate::endpoint::decode;
use crate::endpoint::Endpoint;
use crate::env::Env;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use url::Url;

/// The largest frame accepted during the handshake (RabbitMQ's Start is < 1 KiB).
pub const MAX_FRAME: usize = 128 * 1024;

/// How long the polite close waits for Close-Ok before closing the socket anyway.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

const FRAME_METHOD: u8 = 1;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;

/// A parsed `amqp://` or `amqps://` target, with RabbitMQ's defaults applied.
#[derive(Clone)]
pub struct AmqpTarget {
    /// Broker address.
    pub endpoint: Endpoint,
    /// `amqps://`: TLS with certificate verification.
    pub tls: bool,
    /// User name (`guest` when the URL has none, as RabbitMQ clients do).
    pub user: String,
    /// Password (`guest` when the URL has none).
    pub password: String,
    /// Virtual host (`/` when the URL has none).
    pub vhost: String,
}

impl std::fmt::Debug for AmqpTarget {
    // Never shows the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpTarget")
            .field("endpoint", &self.endpoint)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &"***")
            .field("vhost", &self.vhost)
            .finish()
    }
}

/// Query parameters of RabbitMQ URIs that tune long-lived connections: accepted
/// and ignored (whenready's own timeouts bound each attempt).
const IGNORED_PARAMS: [&str; 4] = [
    "heartbeat",
    "connection_timeout",
    "channel_max",
    "frame_max",
];

/// Parses an `amqp://` or `amqps://` URL. Errors never contain the password.
pub fn parse(url: &Url, _env: &Env) -> Result<AmqpTarget, String> {
    let tls = url.scheme().eq_ignore_ascii_case("amqps");
    let endpoint = crate::endpoint::url_endpoint(url, Some(if tls { 5671 } else { 5672 }))?;
    let user = Some(decode(url.username()))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "guest".into());
    let password = url.password().map(decode).unwrap_or_else(|| "guest".into());
    let path = url.path().strip_prefix('/').unwrap_or(url.path());
    if path.contains('/') {
        return Err(format!(
            "invalid vhost {path:?}: percent-encode a '/' in the vhost (/ is %2F)"
        ));
    }
    let vhost = Some(decode(path))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "/".into());
    if vhost.len() > 255 || user.len() > 65_535 || password.len() > 65_535 {
        return Err("a vhost longer than 255 bytes, or a user name or password too long".into());
    }
    for (k, _) in url.query_pairs() {
        if !IGNORED_PARAMS.contains(&&*k) {
            return Err(format!(
                "unknown parameter {k:?}: an amqp URL is amqp[s]://[USER[:PASSWORD]@]HOST[:PORT][/VHOST]"
            ));
        }
    }
    Ok(AmqpTarget {
        endpoint,
        tls,
        user,
        password,
        vhost,
    })
}

/// One attempt at an AMQP 0-9-1 broker.
pub async fn probe(t: &AmqpTarget, tls_settings: &Tls) -> Result<(), ProbeError> {
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
    t: &AmqpTarget,
) -> Result<(), ProbeError> {
    let write = |e| io_failure(e, "Connection.Start");
    stream
        .write_all(b"AMQP\x00\x00\x09\x01")
        .await
        .map_err(write)?;
    stream.flush().await.map_err(write)?;

    // Connection.Start
    let start = next_method(&mut stream, "Connection.Start").await?;
    let mut args = expect(&start, (10, 10), "Connection.Start")?;
    let _version = (args.u8()?, args.u8()?);
    args.table()?; // server properties
    let mechanisms = String::from_utf8_lossy(args.longstr()?).into_owned();
    if !mechanisms.split_whitespace().any(|m| m == "PLAIN") {
        return Err(ProbeError::permanent(format!(
            "the broker does not offer the PLAIN login (it offers {:?})",
            clean(&mechanisms)
        )));
    }

    // Connection.Start-Ok
    stream
        .write_all(&method_frame(&start_ok(&t.user, &t.password)))
        .await
        .map_err(|e| io_failure(e, "Connection.Tune"))?;
    stream
        .flush()
        .await
        .map_err(|e| io_failure(e, "Connection.Tune"))?;

    // Connection.Tune; a refused login is a Close 403 here (authentication_failure_close).
    let tune = next_method(&mut stream, "Connection.Tune (after the login)").await?;
    let mut args = expect(&tune, (10, 30), "Connection.Tune")?;
    let channel_max = args.u16()?;
    let frame_max = match args.u32()? {
        0 => MAX_FRAME as u32,
        n => n.min(MAX_FRAME as u32),
    };

    // Connection.Tune-Ok (heartbeats off) and Connection.Open in one write.
    let mut tune_ok = method_header(10, 31);
    tune_ok.extend(channel_max.to_be_bytes());
    tune_ok.extend(frame_max.to_be_bytes());
    tune_ok.extend(0u16.to_be_bytes());
    let mut open = method_header(10, 40);
    put_shortstr(&mut open, &t.vhost);
    put_shortstr(&mut open, "");
    open.push(0);
    let mut out = method_frame(&tune_ok);
    out.extend(method_frame(&open));
    stream
        .write_all(&out)
        .await
        .map_err(|e| io_failure(e, "Connection.Open-Ok"))?;
    stream
        .flush()
        .await
        .map_err(|e| io_failure(e, "Connection.Open-Ok"))?;

    // Connection.Open-Ok; a vhost that is missing or not permitted is a Close 530.
    let open_ok = next_method(&mut stream, "Connection.Open-Ok").await?;
    expect(&open_ok, (10, 41), "Connection.Open-Ok")?;

    // Ready. Close politely: Connection.Close, wait briefly for Close-Ok.
    let mut close = method_header(10, 50);
    close.extend(200u16.to_be_bytes());
    put_shortstr(&mut close, "Normal shutdown");
    close.extend([0, 0, 0, 0]);
    if stream.write_all(&method_frame(&close)).await.is_ok() && stream.flush().await.is_ok() {
        let _ = tokio::time::timeout(CLOSE_WAIT, read_method(&mut stream, "Close-Ok")).await;
    }
    let _ = stream.shutdown().await;
    Ok(())
}

/// A method frame on channel 0 around `payload`.
fn method_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![FRAME_METHOD, 0, 0];
    f.extend((payload.len() as u32).to_be_bytes());
    f.extend(payload);
    f.push(FRAME_END);
    f
}

fn method_header(class: u16, method: u16) -> Vec<u8> {
    let mut p = class.to_be_bytes().to_vec();
    p.extend(method.to_be_bytes());
    p
}

fn put_shortstr(out: &mut Vec<u8>, s: &str) {
    // Lengths were checked at parse time; longer text is cut, never a panic.
    let b = &s.as_bytes()[..s.len().min(255)];
    out.push(b.len() as u8);
    out.extend(b);
}

fn put_longstr(out: &mut Vec<u8>, b: &[u8]) {
    out.extend((b.len() as u32).to_be_bytes());
    out.extend(b);
}

/// Connection.Start-Ok: client properties, PLAIN, the credentials, locale en_US.
fn start_ok(user: &str, password: &str) -> Vec<u8> {
    let mut props = Vec::new();
    for (k, v) in [
        ("product", "whenready"),
        ("version", env!("CARGO_PKG_VERSION")),
        ("platform", "Rust"),
        ("connection_name", "whenready"),
    ] {
        put_shortstr(&mut props, k);
        props.push(b'S');
        put_longstr(&mut props, v.as_bytes());
    }
    // capabilities: { authentication_failure_close: true } makes RabbitMQ answer a
    // refused login with Connection.Close 403 instead of just closing the socket.
    let mut caps = Vec::new();
    put_shortstr(&mut caps, "authentication_failure_close");
    caps.extend([b't', 1]);
    put_shortstr(&mut props, "capabilities");
    props.push(b'F');
    put_longstr(&mut props, &caps);

    let mut p = method_header(10, 11);
    put_longstr(&mut p, &props);
    put_shortstr(&mut p, "PLAIN");
    let mut response = vec![0];
    response.extend(user.as_bytes());
    response.push(0);
    response.extend(password.as_bytes());
    put_longstr(&mut p, &response);
    put_shortstr(&mut p, "en_US");
    p
}

/// The next method of the handshake. A Connection.Close from the broker is
/// acknowledged with Close-Ok (best effort) and returned for [`expect`] to classify.
async fn next_method<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    waiting_for: &str,
) -> Result<Vec<u8>, ProbeError> {
    let payload = read_method(stream, waiting_for).await?;
    if payload.starts_with(&[0, 10, 0, 50]) {
        let _ = stream
            .write_all(&method_frame(&method_header(10, 51)))
            .await;
        let _ = stream.flush().await;
    }
    Ok(payload)
}

/// One method frame's payload on channel 0, skipping heartbeats.
async fn read_method<S: AsyncRead + Unpin>(
    stream: &mut S,
    waiting_for: &str,
) -> Result<Vec<u8>, ProbeError> {
    loop {
        let mut header = [0u8; 7];
        stream
            .read_exact(&mut header[..1])
            .await
            .map_err(|e| io_failure(e, waiting_for))?;
        if header[0] == b'A' {
            // "AMQP" and the version the server speaks instead: it refused ours.
            let mut rest = [0u8; 7];
            let _ = stream.read_exact(&mut rest).await;
            return Err(ProbeError::transient(if &rest[..3] == b"MQP" {
                format!(
                    "the server does not speak AMQP 0-9-1 (it offers {}-{}-{})",
                    rest[4], rest[5], rest[6]
                )
            } else {
                "not an AMQP broker (garbage from the peer)".to_string()
            }));
        }
        stream
            .read_exact(&mut header[1..])
            .await
            .map_err(|e| io_failure(e, waiting_for))?;
        let kind = header[0];
        let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
        if !matches!(kind, FRAME_METHOD | FRAME_HEARTBEAT) || size > MAX_FRAME {
            return Err(ProbeError::transient(
                "not an AMQP 0-9-1 broker (an unexpected frame; garbage from the peer)",
            ));
        }
        let mut payload = vec![0u8; size + 1];
        stream
            .read_exact(&mut payload)
            .await
            .map_err(|e| io_failure(e, waiting_for))?;
        if payload.pop() != Some(FRAME_END) {
            return Err(ProbeError::transient(
                "not an AMQP 0-9-1 broker (a frame without its end marker)",
            ));
        }
        if kind == FRAME_METHOD {
            return Ok(payload);
        }
    }
}

/// The arguments of the method `want`; a Connection.Close is classified instead.
fn expect<'a>(payload: &'a [u8], want: (u16, u16), name: &str) -> Result<Args<'a>, ProbeError> {
    let mut args = Args(Cursor::new(payload));
    let id = (args.u16()?, args.u16()?);
    if id == want {
        return Ok(args);
    }
    if id == (10, 50) {
        let code = args.u16()?;
        let text = String::from_utf8_lossy(args.shortstr()?).into_owned();
        return Err(classify(code, &text));
    }
    Err(ProbeError::transient(format!(
        "expected {name}, got method {}.{} (garbage from the peer)",
        id.0, id.1
    )))
}

/// Method arguments read from a [`Cursor`]; running out is a truncated method.
struct Args<'a>(Cursor<'a>);

fn truncated() -> ProbeError {
    ProbeError::transient("a truncated AMQP method (garbage from the peer)")
}

impl<'a> Args<'a> {
    fn u8(&mut self) -> Result<u8, ProbeError> {
        self.0.u8().ok_or_else(truncated)
    }
    fn u16(&mut self) -> Result<u16, ProbeError> {
        self.0.u16().ok_or_else(truncated)
    }
    fn u32(&mut self) -> Result<u32, ProbeError> {
        self.0.u32().ok_or_else(truncated)
    }
    fn shortstr(&mut self) -> Result<&'a [u8], ProbeError> {
        let n = self.u8()?;
        self.0.take(n.into()).ok_or_else(truncated)
    }
    fn longstr(&mut self) -> Result<&'a [u8], ProbeError> {
        let n = self.u32()?;
        self.0.take(n as usize).ok_or_else(truncated)
    }
    fn table(&mut self) -> Result<&'a [u8], ProbeError> {
        self.longstr()
    }
}

/// Server text made printable and short.
fn clean(text: &str) -> String {
    crate::secret::excerpt(text, 200)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The classification of the broker's Connection.Close during the handshake.
pub fn classify(code: u16, text: &str) -> ProbeError {
    let text = clean(text);
    let reason = if text.is_empty() {
        format!("Connection.Close {code}")
    } else {
        format!("Connection.Close {code}: {text}")
    };
    match code {
        // ACCESS_REFUSED: the login was refused. NOT_ALLOWED: the vhost is missing or
        // the user has no permission on it. INVALID_PATH: an unknown vhost (0-9-1).
        403 | 530 | 402 => ProbeError::permanent(reason),
        // CONNECTION_FORCED (broker shutting down), RESOURCE_ERROR, INTERNAL_ERROR,
        // frame or syntax errors, ...: the broker may recover.
        _ => ProbeError::transient(reason),
    }
}

/// The AMQP 0-9-1 (RabbitMQ) kind.
pub struct Amqp;

impl super::kind::Kind for Amqp {
    fn name(&self) -> &'static str {
        "amqp"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["amqp", "amqps"]
    }
    fn forms(&self) -> &'static str {
        "amqp(s)://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "amqp://[USER[:PASS]@]HOST[:PORT][/VHOST]",
            "AMQP 0-9-1 handshake reaches Open-Ok (amqps://)",
        )
    }
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn super::kind::Check>, String> {
        Ok(Box::new(parse(url, env)?))
    }
}

impl super::kind::Check for AmqpTarget {
    fn probe<'a>(&'a self, ctx: &'a super::kind::Ctx) -> super::kind::Attempt<'a> {
        Box::pin(probe(self, &ctx.tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::error::Transience::*;
    use crate::probe::wire::fuzz;

    fn p(text: &str) -> Result<AmqpTarget, String> {
        parse(&Url::parse(text).unwrap(), &Env::default())
    }

    #[test]
    fn access_refused_is_permanent() {
        let e = classify(
            403,
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN.",
        );
        assert_eq!(e.transience, Permanent);
        assert!(e.reason.contains("403") && e.reason.contains("ACCESS_REFUSED"));
    }
    #[test]
    fn not_allowed_is_permanent() {
        assert_eq!(
            classify(530, "NOT_ALLOWED - vhost nope not found").transience,
            Permanent
        );
    }
    #[test]
    fn invalid_path_is_permanent() {
        assert_eq!(classify(402, "INVALID_PATH").transience, Permanent);
    }
    #[test]
    fn connection_forced_is_transient() {
        assert_eq!(
            classify(320, "CONNECTION_FORCED - broker forced connection closure").transience,
            Transient
        );
    }
    #[test]
    fn internal_and_resource_errors_are_transient() {
        assert_eq!(classify(541, "INTERNAL_ERROR").transience, Transient);
        assert_eq!(classify(506, "RESOURCE_ERROR").transience, Transient);
        assert_eq!(classify(501, "FRAME_ERROR").transience, Transient);
    }
    #[test]
    fn server_text_is_cleaned() {
        assert!(!classify(541, "a\x1b[2Jb\n").reason.contains('\x1b'));
    }

    #[test]
    fn forms() {
        let a = p("amqp://h").unwrap();
        assert_eq!(
            (
                a.endpoint.port,
                a.tls,
                a.user.as_str(),
                a.password.as_str(),
                a.vhost.as_str()
            ),
            (5672, false, "guest", "guest", "/")
        );
        let a = p("amqps://u:p%40w@h:1/").unwrap();
        assert_eq!((a.endpoint.port, a.tls, a.vhost.as_str()), (1, true, "/"));
        assert_eq!(a.password, "p@w");
        assert!(!format!("{a:?}").contains("p@w"));
        assert_eq!(p("amqp://h/%2F").unwrap().vhost, "/");
        assert_eq!(p("amqp://h/prod%2Fa").unwrap().vhost, "prod/a");
        assert_eq!(p("amqp://h/v?heartbeat=10").unwrap().vhost, "v");
        assert!(p("amqp://h/a/b").unwrap_err().contains("%2F"));
        let e = p("amqp://u:s3cret@h?cacertfile=x").unwrap_err();
        assert!(e.contains("cacertfile") && !e.contains("s3cret"));
        assert!(p(&format!("amqp://h/{}", "v".repeat(256))).is_err());
    }

    /// Runs `converse` against a peer that sends `bytes` and then ends its side: it must end
    /// with an outcome, never a panic.
    fn against(bytes: Vec<u8>, t: &AmqpTarget) -> Result<(), ProbeError> {
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

    fn frame(payload: &[u8]) -> Vec<u8> {
        method_frame(payload)
    }

    fn start() -> Vec<u8> {
        let mut p = vec![0, 10, 0, 10, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5];
        p.extend(b"PLAIN");
        p.extend([0, 0, 0, 5]);
        p.extend(b"en_US");
        frame(&p)
    }

    /// A Connection.Start with server properties, as RabbitMQ sends it (shortened).
    fn start_with_properties() -> Vec<u8> {
        let mut props = Vec::new();
        put_shortstr(&mut props, "product");
        props.push(b'S');
        put_longstr(&mut props, b"RabbitMQ");
        put_shortstr(&mut props, "capabilities");
        props.push(b'F');
        let mut caps = Vec::new();
        put_shortstr(&mut caps, "authentication_failure_close");
        caps.extend([b't', 1]);
        put_longstr(&mut props, &caps);
        let mut p = vec![0, 10, 0, 10, 0, 9];
        put_longstr(&mut p, &props);
        put_longstr(&mut p, b"AMQPLAIN PLAIN");
        put_longstr(&mut p, b"en_US");
        frame(&p)
    }

    /// The handshake against every byte stream: seeds are whole handshakes, a
    /// refusal, heartbeats and the protocol headers a broker answers with.
    #[test]
    fn fuzz_handshake() {
        let rt = fuzz::runtime();
        let t = p("amqp://u:p@h/v").unwrap();
        let tune = frame(&[0, 10, 0, 30, 0, 0, 0, 2, 0, 0, 0, 60]);
        let open_ok = frame(&[0, 10, 0, 41, 0]);
        let close_ok = frame(&[0, 10, 0, 51]);
        let heartbeat = vec![FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END];
        let mut close = vec![0, 10, 0, 50, 1, 147, 14];
        close.extend(b"ACCESS_REFUSED");
        close.extend([0, 0, 0, 0]);
        let seeds = vec![
            [start(), tune.clone(), open_ok.clone(), close_ok.clone()].concat(),
            [
                start_with_properties(),
                heartbeat.clone(),
                tune.clone(),
                heartbeat,
                open_ok,
            ]
            .concat(),
            [start(), frame(&close)].concat(),
            [start(), tune, frame(&close)].concat(),
            b"AMQP\x00\x00\x09\x01".to_vec(),
            b"AMQP\x01\x01\x00\x0a".to_vec(),
            close_ok,
        ];
        fuzz::run("amqp", &seeds, 300_000, |input, case| {
            let mut peer = fuzz::Peer::new(input.to_vec(), case);
            let result = fuzz::settle(&rt, converse(&mut peer, &t));
            if let Err(e) = &result {
                fuzz::assert_reason(&e.reason);
            }
            fuzz::outcome(&result)
        });
    }

    #[test]
    fn a_whole_handshake_is_ready() {
        let mut all = start();
        all.extend(frame(&[0, 10, 0, 30, 0, 0, 0, 2, 0, 0, 0, 60]));
        all.extend(frame(&[0, 10, 0, 41, 0]));
        all.extend(frame(&[0, 10, 0, 51]));
        assert!(against(all, &p("amqp://h").unwrap()).is_ok());
        let mut refused = start();
        let mut close = vec![0, 10, 0, 50, 1, 147, 14];
        close.extend(b"ACCESS_REFUSED");
        close.extend([0, 0, 0, 0]);
        refused.extend(frame(&close));
        assert!(against(refused, &p("amqp://h").unwrap())
            .unwrap_err()
            .is_permanent());
    }

    #[test]
    fn start_ok_layout() {
        let s = start_ok("u", "pw");
        assert_eq!(&s[..4], &[0, 10, 0, 11]);
        let mut a = Args(Cursor::new(&s[4..]));
        let props = a.table().unwrap();
        assert!(props
            .windows(28)
            .any(|w| w == b"authentication_failure_close"));
        assert_eq!(a.shortstr().unwrap(), b"PLAIN");
        assert_eq!(a.longstr().unwrap(), b"\0u\0pw");
        assert_eq!(a.shortstr().unwrap(), b"en_US");
        assert!(a.0.is_empty());
    }

    #[test]
    fn truncated_or_foreign_methods_are_errors() {
        assert!(expect(&[0, 10], (10, 10), "x").is_err());
        assert!(expect(&[0, 10, 0, 50, 1], (10, 10), "x").is_err());
        let e = expect(
            &[0, 10, 0, 50, 1, 147, 2, b'n', b'o', 0, 0, 0, 0],
            (10, 41),
            "x",
        )
        .err()
        .unwrap();
        assert_eq!(e.transience, Permanent);
        assert!(e.reason.contains("403: no"), "{}", e.reason);
        let mut a = Args(Cursor::new(&[0, 0, 0, 9, 1]));
        assert!(a.longstr().is_err());
    }
}
