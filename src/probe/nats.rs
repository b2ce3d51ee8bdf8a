//! NATS: `nats://[USER:PASSWORD@ or TOKEN@]HOST[:PORT][?tls=true]`, port 4222.
//!
//! One attempt reads the server's `INFO`, upgrades to TLS when the server requires
//! it (`tls_required`, NATS's TLS-after-INFO) or the URL asks for it (`?tls=true`),
//! sends `CONNECT` with the credentials and `PING`, and is ready on `PONG`. The wire
//! code is written by hand: a line protocol of a few messages, read by [`Lines`].
//! Every line read is capped ([`MAX_LINE`]); nothing the server sends can make it
//! panic.

use super::error::{io_reason, tls_failure, ProbeError};
use super::net;
use super::tls::{self, Tls};
use super::wire::{LineError, Lines};
use crate::endpoint::decode;
use crate::endpoint::Endpoint;
use crate::env::Env;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use url::Url;

/// The port of `nats://` when the URL has none.
pub const DEFAULT_PORT: u16 = 4222;

/// The longest line accepted from the server (an `INFO` with many cluster URLs fits).
pub const MAX_LINE: usize = 64 * 1024;

/// How a NATS client proves who it is.
#[derive(Clone, PartialEq, Eq)]
pub enum NatsAuth {
    /// No credentials.
    None,
    /// `USER:PASSWORD@`.
    User {
        /// The user name.
        user: String,
        /// The password.
        pass: String,
    },
    /// `TOKEN@`: a user part without a password is a token, as in the NATS clients.
    Token(String),
}

/// A parsed `nats://` target.
#[derive(Clone)]
pub struct NatsTarget {
    /// Server address.
    pub endpoint: Endpoint,
    /// Credentials.
    pub auth: NatsAuth,
    /// `?tls=true`: TLS even when the server's INFO does not require it.
    pub tls: bool,
}

impl std::fmt::Debug for NatsTarget {
    // Never shows the password or the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            NatsAuth::None => "none".to_string(),
            NatsAuth::User { user, .. } => format!("user {user:?} with password ***"),
            NatsAuth::Token(_) => "token ***".to_string(),
        };
        f.debug_struct("NatsTarget")
            .field("endpoint", &self.endpoint)
            .field("auth", &format_args!("{auth}"))
            .field("tls", &self.tls)
            .finish()
    }
}

/// Parses a `nats://` URL. Errors never contain the password or the token.
pub fn parse(url: &Url, _env: &Env) -> Result<NatsTarget, String> {
    let endpoint = crate::endpoint::url_endpoint(url, Some(DEFAULT_PORT))?;
    if !matches!(url.path(), "" | "/") {
        return Err("a nats URL has no path: nats://[USER:PASSWORD@ or TOKEN@]HOST[:PORT]".into());
    }
    let user = decode(url.username());
    let auth = match url.password() {
        Some(p) => NatsAuth::User {
            user,
            pass: decode(p),
        },
        None if user.is_empty() => NatsAuth::None,
        None => NatsAuth::Token(user),
    };
    let mut tls = false;
    for (k, v) in url.query_pairs() {
        match &*k {
            "tls" => {
                tls = match &*v {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    other => {
                        return Err(format!(
                            "invalid tls value {other:?}: expected true or false"
                        ))
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown parameter {other:?}: a nats URL takes only ?tls=true"
                ))
            }
        }
    }
    Ok(NatsTarget {
        endpoint,
        auth,
        tls,
    })
}

/// One attempt at a NATS server.
pub async fn probe(t: &NatsTarget, tls_settings: &Tls) -> Result<(), ProbeError> {
    let mut stream = net::connect(&t.endpoint).await?;
    let mut lines = Lines::new(MAX_LINE);
    let server_tls = read_info(&mut stream, &mut lines).await?;
    if server_tls || t.tls {
        if !lines.buffered().is_empty() {
            return Err(ProbeError::transient(
                "the server sent data before the TLS handshake",
            ));
        }
        let stream = tls::connect(stream, &t.endpoint.host, tls_settings.verified()).await?;
        converse(stream, lines, t, true).await
    } else {
        converse(stream, lines, t, false).await
    }
}

/// Reads the server's first line, its `INFO`: whether it requires TLS.
async fn read_info<S: AsyncRead + Unpin>(
    stream: &mut S,
    lines: &mut Lines,
) -> Result<bool, ProbeError> {
    let info = read_line(stream, lines).await?;
    let Some(json) = info
        .strip_prefix("INFO")
        .filter(|r| r.starts_with([' ', '\t']))
    else {
        return Err(ProbeError::transient(format!(
            "not a NATS server: expected INFO, got {:?}",
            short(&info)
        )));
    };
    Ok(json_bool(json, "tls_required"))
}

async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mut lines: Lines,
    t: &NatsTarget,
    tls: bool,
) -> Result<(), ProbeError> {
    let hello = format!("CONNECT {}\r\nPING\r\n", connect_json(&t.auth, tls));
    let io =
        |e: std::io::Error| tls_failure(&e).unwrap_or_else(|| ProbeError::transient(io_reason(&e)));
    stream.write_all(hello.as_bytes()).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    loop {
        let line = read_line(&mut stream, &mut lines).await?;
        let upper = line.trim_end().to_ascii_uppercase();
        if upper == "PONG" {
            let _ = stream.shutdown().await;
            return Ok(());
        } else if upper == "PING" {
            // The server checks that we are alive: answer, keep waiting for PONG.
            stream.write_all(b"PONG\r\n").await.map_err(io)?;
        } else if upper == "+OK" || upper.starts_with("INFO ") {
            // An acknowledgement or an updated INFO: not what we wait for.
        } else if let Some(message) = line.strip_prefix("-ERR").or(line.strip_prefix("-err")) {
            return Err(classify(message.trim()));
        } else {
            return Err(ProbeError::transient(format!(
                "unexpected reply from the NATS server: {:?}",
                short(&line)
            )));
        }
    }
}

/// The `CONNECT` payload, with every string escaped as JSON.
fn connect_json(auth: &NatsAuth, tls: bool) -> String {
    let mut json = String::from("{\"verbose\":false,\"pedantic\":false");
    if tls {
        json.push_str(",\"tls_required\":true");
    }
    match auth {
        NatsAuth::None => {}
        NatsAuth::User { user, pass } => {
            json.push_str(&format!(
                ",\"user\":{},\"pass\":{}",
                crate::text::quote(user),
                crate::text::quote(pass)
            ));
        }
        NatsAuth::Token(token) => {
            json.push_str(&format!(",\"auth_token\":{}", crate::text::quote(token)));
        }
    }
    json.push_str(&format!(
        ",\"name\":\"whenready\",\"lang\":\"rust\",\"version\":\"{}\",\"protocol\":1}}",
        env!("CARGO_PKG_VERSION")
    ));
    json
}

/// Whether the JSON object text has `"key": true` (a minimal reading of INFO).
fn json_bool(json: &str, key: &str) -> bool {
    let needle = format!("\"{key}\"");
    let Some(at) = json.find(&needle) else {
        return false;
    };
    let rest = json[at + needle.len()..].trim_start();
    rest.strip_prefix(':')
        .is_some_and(|v| v.trim_start().starts_with("true"))
}

/// Reads one `\r\n`-terminated line (the terminator removed).
async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    lines: &mut Lines,
) -> Result<String, ProbeError> {
    lines.next(stream).await.map_err(|e| match e {
        LineError::TooLong => ProbeError::transient("not a NATS server: a line longer than 64 KiB"),
        LineError::Closed(after) if after.is_empty() => {
            ProbeError::transient("connection closed by the server")
        }
        LineError::Closed(after) => {
            ProbeError::transient(format!("connection closed by the server after {after:?}"))
        }
        LineError::Io(e) => tls_failure(&e).unwrap_or_else(|| ProbeError::transient(io_reason(&e))),
    })
}

fn short(s: &str) -> String {
    crate::secret::excerpt(s, 80)
}

/// The classification of a server's `-ERR`: which refusals waiting cannot fix.
pub fn classify(message: &str) -> ProbeError {
    let text = message.trim_matches('\'').trim();
    let lower = text.to_ascii_lowercase();
    let shown = format!("-ERR '{}'", short(text));
    if lower.starts_with("authorization violation")
        || lower.starts_with("user authentication expired")
        || lower.starts_with("user authentication revoked")
        || lower.starts_with("account authentication expired")
    {
        ProbeError::permanent(shown)
    } else {
        // Maximum Connections Exceeded, Authentication Timeout, Secure Connection -
        // TLS Required, Stale Connection, ...: the server or the network may change.
        ProbeError::transient(shown)
    }
}

/// The NATS kind.
pub struct Nats;

impl super::kind::Kind for Nats {
    fn name(&self) -> &'static str {
        "nats"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["nats"]
    }
    fn forms(&self) -> &'static str {
        "nats://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "nats://[USER:PASS@ or TOKEN@]HOST[:PORT]",
            "CONNECT accepted, PING answers PONG",
        )
    }
    fn user_is_token(&self) -> bool {
        true
    }
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn super::kind::Check>, String> {
        Ok(Box::new(parse(url, env)?))
    }
}

impl super::kind::Check for NatsTarget {
    fn probe<'a>(&'a self, ctx: &'a super::kind::Ctx) -> super::kind::Attempt<'a> {
        Box::pin(probe(self, &ctx.tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::error::Transience::*;
    use crate::probe::wire::fuzz;
    use tokio::io::AsyncReadExt;

    fn p(text: &str) -> Result<NatsTarget, String> {
        parse(&Url::parse(text).unwrap(), &Env::default())
    }

    #[test]
    fn authorization_violation_is_permanent() {
        assert_eq!(classify("'Authorization Violation'").transience, Permanent);
    }
    #[test]
    fn expired_or_revoked_credentials_are_permanent() {
        assert_eq!(
            classify("'User Authentication Expired'").transience,
            Permanent
        );
        assert_eq!(
            classify("'User Authentication Revoked'").transience,
            Permanent
        );
        assert_eq!(
            classify("'Account Authentication Expired'").transience,
            Permanent
        );
    }
    #[test]
    fn maximum_connections_is_transient() {
        assert_eq!(
            classify("'maximum connections exceeded'").transience,
            Transient
        );
    }
    #[test]
    fn authentication_timeout_is_transient() {
        assert_eq!(classify("'Authentication Timeout'").transience, Transient);
    }
    #[test]
    fn other_errors_are_transient() {
        assert_eq!(
            classify("'Unknown Protocol Operation'").transience,
            Transient
        );
        assert_eq!(classify("").transience, Transient);
    }
    #[test]
    fn reason_quotes_the_server() {
        assert_eq!(
            classify("'Authorization Violation'").reason,
            "-ERR 'Authorization Violation'"
        );
    }

    #[test]
    fn forms() {
        let t = p("nats://h").unwrap();
        assert_eq!((t.endpoint.port, t.tls), (4222, false));
        assert!(t.auth == NatsAuth::None);
        let t = p("nats://u:p%40ss@h:5/?tls=true").unwrap();
        assert!(
            t.auth
                == NatsAuth::User {
                    user: "u".into(),
                    pass: "p@ss".into()
                }
        );
        assert_eq!((t.endpoint.port, t.tls), (5, true));
        let t = p("nats://s3cret@h").unwrap();
        assert!(t.auth == NatsAuth::Token("s3cret".into()));
        assert!(!format!("{t:?}").contains("s3cret"));
        let e = p("nats://s3cret@h?bogus=1").unwrap_err();
        assert!(e.contains("bogus") && !e.contains("s3cret"), "{e}");
        assert!(p("nats://h/x").is_err());
        assert!(p("nats://h?tls=maybe").is_err());
        assert!(p("nats://h:0").is_err());
    }

    #[test]
    fn connect_is_valid_json_with_escapes() {
        let j = connect_json(
            &NatsAuth::User {
                user: "a\"b".into(),
                pass: "c\\d\n\u{1}".into(),
            },
            true,
        );
        assert!(j.contains(r#""user":"a\"b","pass":"c\\d\n\u0001""#), "{j}");
        assert!(j.contains("\"tls_required\":true"));
        let j = connect_json(&NatsAuth::Token("t".into()), false);
        assert!(j.contains(r#""auth_token":"t""#), "{j}");
    }

    /// Runs `converse` against a peer that sends `bytes` and then ends its side: it must end
    /// with an outcome, never a panic.
    fn against(bytes: Vec<u8>, t: &NatsTarget) -> Result<(), ProbeError> {
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
            converse(client, Lines::new(MAX_LINE), t, false).await
        })
    }

    /// The INFO line and the conversation after it against every byte stream.
    #[test]
    fn fuzz_lines() {
        let rt = fuzz::runtime();
        let targets = [p("nats://u:p@h").unwrap(), p("nats://tok@h").unwrap()];
        let info = br#"INFO {"server_id":"N","version":"2.10.0","proto":1,"max_payload":1048576,"auth_required":true,"tls_required":false,"connect_urls":["10.0.0.1:4222"]}"#;
        let mut seeds: Vec<Vec<u8>> = [
            &b"+OK\r\nPONG\r\n"[..],
            b"PING\r\n+OK\r\nINFO {}\r\nPONG\r\n",
            b"-ERR 'Authorization Violation'\r\n",
            b"-ERR 'Maximum Connections Exceeded'\r\n",
            b"MSG x 1 2\r\nhi\r\n",
        ]
        .iter()
        .map(|reply| [&info[..], b"\r\n", reply].concat())
        .collect();
        seeds.push(b"INFO\t{\"tls_required\":true}\r\n".to_vec());
        fuzz::run("nats", &seeds, 200_000, |input, case| {
            let t = &targets[(case % 2) as usize];
            let mut peer = fuzz::Peer::new(input.to_vec(), case);
            let result = fuzz::settle(&rt, async {
                let mut lines = Lines::new(MAX_LINE);
                let tls = read_info(&mut peer, &mut lines).await?;
                converse(&mut peer, lines, t, tls).await
            });
            if let Err(e) = &result {
                fuzz::assert_reason(&e.reason);
            }
            fuzz::outcome(&result)
        });
    }

    #[test]
    fn pong_is_ready_and_err_is_classified() {
        let t = p("nats://h").unwrap();
        assert!(against(b"+OK\r\nPING\r\nPONG\r\n".to_vec(), &t).is_ok());
        let e = against(b"-ERR 'Authorization Violation'\r\n".to_vec(), &t).unwrap_err();
        assert!(e.is_permanent());
        let e = against(vec![b'x'; 70_000], &t).unwrap_err();
        assert!(e.reason.contains("64 KiB"), "{e}");
    }

    #[test]
    fn info_flags() {
        assert!(json_bool(
            r#"{"a":1,"tls_required" : true}"#,
            "tls_required"
        ));
        assert!(!json_bool(r#"{"tls_required":false}"#, "tls_required"));
        assert!(!json_bool(r#"{"x":"tls_required"}"#, "tls_required"));
        assert!(!json_bool("", "tls_required"));
    }
}
