//! gRPC health: `grpc://HOST:PORT[/SERVICE]` (HTTP/2 without TLS, prior knowledge)
//! and `grpcs://HOST[:PORT][/SERVICE]` (TLS with ALPN `h2`, port 443).
//!
//! One attempt calls `grpc.health.v1.Health/Check` with `HealthCheckRequest{service}`
//! (the empty service asks about the server as a whole) and is ready when the answer
//! is `SERVING`. The call follows gRPC's HTTP/2 mapping (grpc/grpc
//! doc/PROTOCOL-HTTP2.md): a POST with `content-type: application/grpc` and
//! `te: trailers`, one length-prefixed message each way, and `grpc-status` in the
//! trailers or, for an answer without a message, in the headers (Trailers-Only).
//! HTTP/2 is [`super::http2`], a client for this one request; the two one-field
//! protobuf messages are encoded and decoded here ([`encode_request`],
//! [`decode_response`], reading through [`Cursor`]) rather than through a protobuf
//! crate. Nothing the server sends can make it panic.

use super::error::{io_reason, tls_failure, ProbeError};
use super::http2;
use super::kind::{Attempt, Check, Ctx, Kind};
use super::net;
use super::tls::{self, Tls};
use super::wire::{Cursor, VarintError};
use crate::endpoint::{decode, url_endpoint, Endpoint};
use crate::env::Env;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use url::Url;

/// The port of `grpcs://` when the URL has none (`grpc://` needs one).
pub const DEFAULT_TLS_PORT: u16 = 443;

/// The gRPC health kind.
pub struct Grpc;

const FORM: &str = "grpc://HOST:PORT[/SERVICE] or grpcs://HOST[:PORT][/SERVICE]";

impl Kind for Grpc {
    fn name(&self) -> &'static str {
        "grpc"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["grpc", "grpcs"]
    }
    fn forms(&self) -> &'static str {
        "grpc(s)://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "grpc://HOST:PORT[/SERVICE], grpcs://...",
            "Health/Check answers SERVING",
        )
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(parse(url)?))
    }
}

/// A parsed `grpc://` or `grpcs://` target.
#[derive(Debug)]
pub struct GrpcTarget {
    /// Server address.
    pub endpoint: Endpoint,
    /// `grpcs://`: TLS with ALPN h2, certificate verified.
    pub tls: bool,
    /// The service asked about; empty for the server as a whole.
    pub service: String,
    /// The `:authority` sent: the URL's host and port.
    pub authority: String,
    config: OnceLock<Arc<rustls::ClientConfig>>,
}

/// Parses a `grpc://` or `grpcs://` URL.
pub fn parse(url: &Url) -> Result<GrpcTarget, String> {
    let tls = url.scheme() == "grpcs";
    let endpoint =
        url_endpoint(url, tls.then_some(DEFAULT_TLS_PORT)).map_err(|e| format!("{e}: {FORM}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("a gRPC URL has no user or password: {FORM}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "a gRPC URL has no ?parameters or #fragment: {FORM}"
        ));
    }
    let path = url.path().strip_prefix('/').unwrap_or(url.path());
    let service = decode(path);
    if service.contains('/') {
        return Err(format!(
            "invalid service {service:?}: one name such as my.pkg.Service ({FORM})"
        ));
    }
    if service.len() > 1024 {
        return Err(format!(
            "a service name of {} bytes: at most 1024",
            service.len()
        ));
    }
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", endpoint.host),
        None => endpoint.host.to_string(),
    };
    Ok(GrpcTarget {
        endpoint,
        tls,
        service,
        authority,
        config: OnceLock::new(),
    })
}

impl Check for GrpcTarget {
    fn probe<'a>(&'a self, ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(probe(self, &ctx.tls))
    }
}

/// The run's verified TLS configuration with ALPN `h2`, as gRPC requires.
fn h2_config(settings: &Tls) -> Arc<rustls::ClientConfig> {
    let mut config = (*settings.verified()).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

async fn probe(t: &GrpcTarget, settings: &Tls) -> Result<(), ProbeError> {
    let stream = net::connect(&t.endpoint).await?;
    if t.tls {
        let config = t.config.get_or_init(|| h2_config(settings)).clone();
        let stream = tls::connect(stream, &t.endpoint.host, config).await?;
        call(stream, t).await
    } else {
        call(stream, t).await
    }
}

/// The health call over a connected stream.
async fn call<S>(mut stream: S, t: &GrpcTarget) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let scheme = if t.tls { "https" } else { "http" };
    let fields = [
        (":method", "POST"),
        (":scheme", scheme),
        (":path", "/grpc.health.v1.Health/Check"),
        (":authority", t.authority.as_str()),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        (
            "user-agent",
            concat!("whenready/", env!("CARGO_PKG_VERSION")),
        ),
    ];
    let response = http2::request(&mut stream, &fields, &encode_request(&t.service))
        .await
        .map_err(|e| match e {
            http2::Error::Io(e) => {
                tls_failure(&e).unwrap_or_else(|| ProbeError::transient(io_reason(&e)))
            }
            http2::Error::Protocol(why) => ProbeError::transient(format!("HTTP/2: {why}")),
        })?;
    let _ = stream.shutdown().await;
    judge(&response)
}

/// Ready or why not, from the server's answer.
fn judge(response: &http2::Response) -> Result<(), ProbeError> {
    let status = response.header(":status").unwrap_or("");
    if status != "200" {
        return Err(ProbeError::transient(format!(
            "HTTP {status:.3} instead of a gRPC answer"
        )));
    }
    let is_grpc = response
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/grpc"));
    if !is_grpc {
        return Err(ProbeError::transient(
            "not a gRPC answer (content-type is not application/grpc)",
        ));
    }
    // Trailers-Only: the status is in the headers and there is no message.
    let status = grpc_status(
        response.trailer("grpc-status"),
        response.trailer("grpc-message"),
    )
    .or_else(|| {
        grpc_status(
            response.header("grpc-status"),
            response.header("grpc-message"),
        )
    });
    match status {
        None => Err(ProbeError::transient(
            "the answer ended without a grpc-status",
        )),
        Some((0, _)) => match decode_response(&response.data) {
            Ok(1) => Ok(()),
            Ok(s) => Err(ProbeError::transient(format!(
                "health status {}",
                serving_status(s)
            ))),
            Err(why) => Err(ProbeError::transient(format!("not a health answer: {why}"))),
        },
        Some((code, message)) => Err(classify_status(code, &message)),
    }
}

/// The request message, framed: `HealthCheckRequest { string service = 1; }`
/// behind gRPC's 5-byte prefix (uncompressed, length).
pub fn encode_request(service: &str) -> Vec<u8> {
    let mut message = Vec::new();
    if !service.is_empty() {
        message.push(0x0A); // field 1, length-delimited
        let mut n = service.len();
        while n >= 0x80 {
            message.push((n as u8) | 0x80);
            n >>= 7;
        }
        message.push(n as u8);
        message.extend_from_slice(service.as_bytes());
    }
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    framed
}

/// The serving status in a framed `HealthCheckResponse { ServingStatus status = 1; }`
/// (0 when the field is absent, as proto3 reads it); the error says what is wrong.
pub fn decode_response(data: &[u8]) -> Result<u64, String> {
    let mut framed = Cursor::new(data);
    let flag = framed.u8().ok_or("no message")?;
    if flag != 0 {
        return Err("a compressed message, which was not asked for".into());
    }
    let len = framed.u32().ok_or("a message prefix cut short")?;
    let mut message = Cursor::new(framed.take(len as usize).ok_or("a message cut short")?);
    let cut = || "a field cut short".to_string();
    let mut status = 0;
    while !message.is_empty() {
        let key = varint(&mut message)?;
        match (key >> 3, key & 7) {
            (1, 0) => status = varint(&mut message)?,
            (_, 0) => {
                varint(&mut message)?;
            }
            (_, 1) => message.skip(8).ok_or_else(cut)?,
            (_, 5) => message.skip(4).ok_or_else(cut)?,
            (_, 2) => {
                let n = usize::try_from(varint(&mut message)?).map_err(|_| "a huge field")?;
                message.skip(n).ok_or_else(cut)?;
            }
            (_, w) => return Err(format!("a field of wire type {w}")),
        }
    }
    Ok(status)
}

/// A protobuf varint (at most 10 bytes).
fn varint(data: &mut Cursor) -> Result<u64, String> {
    data.varint(10).map_err(|e| match e {
        VarintError::CutShort => "a number cut short".into(),
        VarintError::TooLong => "a number longer than 10 bytes".into(),
    })
}

fn serving_status(s: u64) -> String {
    match s {
        0 => "UNKNOWN".into(),
        2 => "NOT_SERVING".into(),
        3 => "SERVICE_UNKNOWN".into(),
        n => format!("{n}"),
    }
}

/// `grpc-status` and the percent-decoded `grpc-message`, when there is a status.
fn grpc_status(status: Option<&str>, message: Option<&str>) -> Option<(u32, String)> {
    // An unreadable status is UNKNOWN, as the gRPC clients read it.
    let code = status?.trim().parse().unwrap_or(2);
    Some((code, message.map(decode).unwrap_or_default()))
}

/// The name of a gRPC status code.
pub fn status_name(code: u32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "an unknown status",
    }
}

/// What a gRPC status other than OK means for readiness. UNIMPLEMENTED (the server
/// has no health service), UNAUTHENTICATED and PERMISSION_DENIED (it wants
/// credentials whenready does not send) cannot change by waiting; NOT_FOUND (the
/// service is not registered yet: Check's SERVICE_UNKNOWN), UNAVAILABLE and every
/// other status can.
pub fn classify_status(code: u32, message: &str) -> ProbeError {
    let message: String = message.chars().take(120).collect();
    let mut reason = format!("gRPC status {} ({code})", status_name(code));
    if !message.is_empty() {
        reason.push_str(&format!(": {message:?}"));
    }
    match code {
        12 => ProbeError::permanent(format!("{reason}: the server has no health service")),
        7 | 16 => ProbeError::permanent(reason),
        5 => ProbeError::transient(format!("{reason}: the service is not known (yet)")),
        _ => ProbeError::transient(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::error::Transience::*;
    use crate::probe::wire::fuzz;

    fn p(text: &str) -> Result<GrpcTarget, String> {
        parse(&Url::parse(text).unwrap())
    }

    #[test]
    fn forms() {
        let t = p("grpc://h:50051").unwrap();
        assert_eq!(
            (t.endpoint.port, t.tls, t.service.as_str()),
            (50051, false, "")
        );
        assert_eq!(t.authority, "h:50051");
        let t = p("grpcs://h/my.pkg.Svc").unwrap();
        assert_eq!(
            (t.endpoint.port, t.tls, t.service.as_str()),
            (443, true, "my.pkg.Svc")
        );
        assert_eq!(t.authority, "h");
        let t = p("grpc://[::1]:1/a%20b").unwrap();
        assert_eq!(
            (t.service.as_str(), t.authority.as_str()),
            ("a b", "[::1]:1")
        );
        for (bad, needle) in [
            ("grpc://h", "missing port"),
            ("grpc://h:1/a/b", "one name"),
            ("grpc://h:1?x=1", "parameters"),
            ("grpc://h:1#x", "fragment"),
            ("grpc://u:pw@h:1", "no user"),
            ("grpc://h:0", "0"),
        ] {
            let e = p(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn request_encoding() {
        assert_eq!(encode_request(""), vec![0, 0, 0, 0, 0]);
        assert_eq!(
            encode_request("ab"),
            vec![0, 0, 0, 0, 4, 0x0A, 2, b'a', b'b']
        );
        let long = "x".repeat(300);
        let e = encode_request(&long);
        assert_eq!(&e[..8], &[0, 0, 0, 1, 0x2F, 0x0A, 0xAC, 0x02]);
        assert_eq!(e.len(), 5 + 3 + 300);
    }

    #[test]
    fn response_decoding() {
        assert_eq!(decode_response(&[0, 0, 0, 0, 2, 0x08, 1]), Ok(1));
        assert_eq!(decode_response(&[0, 0, 0, 0, 2, 0x08, 2]), Ok(2));
        assert_eq!(decode_response(&[0, 0, 0, 0, 0]), Ok(0));
        // Unknown fields are skipped.
        assert_eq!(
            decode_response(&[0, 0, 0, 0, 7, 0x12, 1, b'x', 0x18, 5, 0x08, 1]),
            Ok(1)
        );
        for bad in [
            &[][..],
            &[1, 0, 0, 0, 0],
            &[0, 0, 0],
            &[0, 0, 0, 0, 9, 0x08],
            &[0, 0, 0, 0, 1, 0x08],
            &[0, 0, 0, 0, 2, 0x0B, 0],
            &[
                0, 0, 0, 0, 11, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ],
        ] {
            assert!(decode_response(bad).is_err(), "{bad:?}");
        }
    }

    /// Health answers (messages behind their prefix) on their own.
    #[test]
    fn fuzz_messages() {
        let seeds = vec![
            vec![0, 0, 0, 0, 2, 0x08, 1],
            vec![0, 0, 0, 0, 0],
            vec![0, 0, 0, 0, 7, 0x12, 1, b'x', 0x18, 5, 0x08, 2],
            vec![
                0, 0, 0, 0, 14, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x0D, 1, 2, 3, 4,
            ],
        ];
        fuzz::run("grpc-message", &seeds, 1024, |data, _| {
            let result = decode_response(data);
            if let Err(why) = &result {
                fuzz::assert_reason(why);
            }
            fuzz::outcome(&result)
        });
    }

    /// The whole health call (HTTP/2, HPACK, the message, the statuses) against
    /// every byte stream.
    #[test]
    fn fuzz_call() {
        use crate::probe::http2::tests::full_response;
        use crate::probe::http2::{encode_headers, frame};
        let rt = fuzz::runtime();
        let t = p("grpc://h:1/svc").unwrap();
        // Trailers-Only: the status in the headers, which end the stream.
        let trailers_only = encode_headers(&[
            (":status", "200"),
            ("content-type", "application/grpc"),
            ("grpc-status", "12"),
            ("grpc-message", "unknown%20service"),
        ]);
        let seeds = vec![
            full_response(&[0, 0, 0, 0, 2, 0x08, 1]),
            full_response(&[0, 0, 0, 0, 2, 0x08, 2]),
            frame(0x1, 0x4 | 0x1, 1, &trailers_only),
        ];
        fuzz::run("grpc", &seeds, 200_000, |input, case| {
            let mut peer = fuzz::Peer::new(input.to_vec(), case);
            let result = fuzz::settle(&rt, call(&mut peer, &t));
            if let Err(e) = &result {
                fuzz::assert_reason(&e.reason);
            }
            fuzz::outcome(&result)
        });
    }

    #[test]
    fn statuses() {
        assert_eq!(classify_status(12, "").transience, Permanent);
        assert_eq!(classify_status(16, "no token").transience, Permanent);
        assert_eq!(classify_status(7, "").transience, Permanent);
        assert_eq!(classify_status(5, "unknown service").transience, Transient);
        assert_eq!(classify_status(14, "").transience, Transient);
        assert_eq!(classify_status(13, "").transience, Transient);
        assert_eq!(classify_status(99, "").transience, Transient);
        assert_eq!(
            classify_status(12, "").reason,
            "gRPC status UNIMPLEMENTED (12): the server has no health service"
        );
    }
}
