//! memcached: `memcached://[USER:PASSWORD@]HOST[:PORT]`, port 11211.
//!
//! One attempt sends `version` in the text protocol and is ready on `VERSION x`.
//! With a user and password, the attempt first authenticates the way memcached's
//! text protocol does (1.5.15+, servers started with `-Y AUTHFILE`): a `set` of any
//! key whose data is `USER PASSWORD`, answered by `STORED`. The exchange is written
//! by hand (two lines out, at most two lines back): a client crate would bring a
//! connection pool for nothing. Every line read is capped (4 KiB, [`Lines`]); nothing
//! the server sends can make it panic.
//!
//! SASL (`-S`) speaks only memcached's binary protocol. Such a server reads a
//! 24-byte binary header before it looks at a byte, so whenready always sends at
//! least 24 bytes (`version` more than once if need be: a text server answers each,
//! and only the first answer is read); the SASL server then finds no binary magic
//! and closes the connection without a word. whenready cannot tell that apart from
//! a server going away: it keeps waiting and says why (SASL is not supported).

use super::error::{io_reason, ProbeError};
use super::kind::{Attempt, Check, Ctx, Kind};
use super::net;
use super::wire::{LineError, Lines};
use crate::endpoint::{decode, url_endpoint, Endpoint};
use crate::env::Env;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use url::Url;

/// The port of `memcached://` when the URL has none.
pub const DEFAULT_PORT: u16 = 11211;

/// The longest reply line accepted (a `VERSION` line is a few dozen bytes).
pub const MAX_LINE: usize = 4096;

/// The memcached kind.
pub struct Memcached;

impl Kind for Memcached {
    fn name(&self) -> &'static str {
        "memcached"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["memcached"]
    }
    fn forms(&self) -> &'static str {
        "memcached://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "memcached://[USER:PASS@]HOST[:PORT]",
            "version answers VERSION",
        )
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(parse(url)?))
    }
}

/// A parsed `memcached://` target.
#[derive(Clone)]
pub struct MemcachedTarget {
    /// Server address.
    pub endpoint: Endpoint,
    /// User and password for the text protocol's authentication, if given.
    pub auth: Option<(String, String)>,
}

impl std::fmt::Debug for MemcachedTarget {
    // Never shows the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemcachedTarget")
            .field("endpoint", &self.endpoint)
            .field("user", &self.auth.as_ref().map(|(u, _)| u))
            .finish()
    }
}

const FORM: &str = "memcached://[USER:PASSWORD@]HOST[:PORT]";

/// Parses a `memcached://` URL. Errors never contain the password.
pub fn parse(url: &Url) -> Result<MemcachedTarget, String> {
    let endpoint = url_endpoint(url, Some(DEFAULT_PORT))?;
    if !matches!(url.path(), "" | "/") {
        return Err(format!("a memcached URL has no path: {FORM}"));
    }
    if let Some((k, _)) = url.query_pairs().next() {
        return Err(format!(
            "unknown parameter {k:?}: a memcached URL is {FORM}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("a memcached URL is {FORM} and nothing more"));
    }
    let user = decode(url.username());
    let auth = match url.password() {
        Some(p) => {
            let pass = decode(p);
            // The server splits `USER PASSWORD` at the first space and ends the data
            // at CRLF: a user with white space, or a line break anywhere, cannot pass.
            if user.is_empty() || user.contains(char::is_whitespace) {
                return Err(
                    "memcached authentication needs a user name without white space".into(),
                );
            }
            if pass.contains(['\r', '\n']) {
                return Err("a memcached password cannot contain a line break".into());
            }
            Some((user, pass))
        }
        None if user.is_empty() => None,
        None => {
            return Err(format!(
                "a user without a password: memcached authentication needs both ({FORM})"
            ))
        }
    };
    Ok(MemcachedTarget { endpoint, auth })
}

impl Check for MemcachedTarget {
    fn probe<'a>(&'a self, _ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(async move {
            let stream = net::connect(&self.endpoint).await?;
            converse(stream, self).await
        })
    }
}

/// The exchange over a connected stream: authentication when asked, then `version`.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    t: &MemcachedTarget,
) -> Result<(), ProbeError> {
    let mut out = Vec::new();
    if let Some((user, pass)) = &t.auth {
        let data = format!("{user} {pass}");
        out.extend_from_slice(format!("set whenready 0 0 {}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"version\r\n");
    // At least 24 bytes: see the module's documentation (SASL-only servers).
    while out.len() < 24 {
        out.extend_from_slice(b"version\r\n");
    }
    let io = |e: std::io::Error| ProbeError::transient(io_reason(&e));
    stream.write_all(&out).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut lines = Lines::new(MAX_LINE);
    if t.auth.is_some() {
        let line = read_line(&mut stream, &mut lines).await?;
        if line != "STORED" {
            return Err(classify(&line, true));
        }
    }
    let line = read_line(&mut stream, &mut lines).await?;
    if line.starts_with("VERSION ") {
        let _ = stream.write_all(b"quit\r\n").await;
        let _ = stream.shutdown().await;
        Ok(())
    } else {
        Err(classify(&line, false))
    }
}

/// What a reply other than the expected one means. `authenticating`: the reply to
/// the `set` that carries the credentials.
pub fn classify(line: &str, authenticating: bool) -> ProbeError {
    let shown = short(line);
    if line.starts_with("CLIENT_ERROR unauthenticated") {
        // memcached answers this to a wrong user or password (then closes), and to
        // any command on a server that requires authentication when none was given:
        // waiting cannot change either.
        return ProbeError::permanent(if authenticating {
            format!("authentication failed ({shown:?})")
        } else {
            format!("the server requires authentication: give memcached://USER:PASSWORD@HOST ({shown:?})")
        });
    }
    if line.starts_with("CLIENT_ERROR auth") {
        // "CLIENT_ERROR authentication failure" and kin.
        return ProbeError::permanent(format!("authentication failed ({shown:?})"));
    }
    if line.starts_with("SERVER_ERROR") {
        // Out of memory, too many connections, ...: the server may recover.
        return ProbeError::transient(format!("memcached answered {shown:?}"));
    }
    ProbeError::transient(format!(
        "not a memcached server: expected {}, got {shown:?}",
        if authenticating { "STORED" } else { "VERSION" }
    ))
}

/// Reads one `\r\n`-terminated line (without it).
async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    lines: &mut Lines,
) -> Result<String, ProbeError> {
    lines.next(stream).await.map_err(|e| match e {
        LineError::TooLong => {
            ProbeError::transient("not a memcached server: a reply line longer than 4 KiB")
        }
        LineError::Closed(after) if after.is_empty() => ProbeError::transient(
            "connection closed by the server (a memcached that allows only SASL, \
             binary protocol, closes it so: not supported)",
        ),
        LineError::Closed(after) => {
            ProbeError::transient(format!("connection closed by the server after {after:?}"))
        }
        LineError::Io(e) => ProbeError::transient(io_reason(&e)),
    })
}

fn short(s: &str) -> String {
    crate::secret::excerpt(s, 80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::error::Transience::*;
    use crate::probe::wire::fuzz;
    use tokio::io::AsyncReadExt;

    fn p(text: &str) -> Result<MemcachedTarget, String> {
        parse(&Url::parse(text).unwrap())
    }

    #[test]
    fn forms() {
        let t = p("memcached://h").unwrap();
        assert_eq!(t.endpoint.port, 11211);
        assert!(t.auth.is_none());
        let t = p("memcached://app:p%20w@h:5/").unwrap();
        assert_eq!(t.endpoint.port, 5);
        assert_eq!(t.auth, Some(("app".into(), "p w".into())));
        assert!(!format!("{t:?}").contains("p w"));
        for bad in [
            "memcached://h/x",
            "memcached://h?x=1",
            "memcached://h:0",
            "memcached://app@h",
            "memcached://a%20b:pw@h",
            "memcached://:pw@h",
            "memcached://a:p%0Aw@h",
        ] {
            let e = p(bad).unwrap_err();
            assert!(!e.contains("pw"), "{bad}: {e}");
        }
    }

    #[test]
    fn classification() {
        assert_eq!(
            classify("CLIENT_ERROR unauthenticated", true).transience,
            Permanent
        );
        assert_eq!(
            classify("CLIENT_ERROR unauthenticated", false).transience,
            Permanent
        );
        assert_eq!(
            classify("CLIENT_ERROR authentication failure", true).transience,
            Permanent
        );
        assert_eq!(
            classify("SERVER_ERROR out of memory", false).transience,
            Transient
        );
        assert_eq!(classify("ERROR", false).transience, Transient);
        assert_eq!(classify("+PONG", false).transience, Transient);
    }

    fn against(bytes: Vec<u8>, t: &MemcachedTarget) -> Result<(), ProbeError> {
        exchange(bytes, t).0
    }

    /// The outcome against a peer that sends `bytes`, and what the client wrote.
    fn exchange(bytes: Vec<u8>, t: &MemcachedTarget) -> (Result<(), ProbeError>, Vec<u8>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, mut server) = tokio::io::duplex(1 << 16);
            server.write_all(&bytes).await.unwrap();
            server.shutdown().await.unwrap();
            let sink = tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = server.read_to_end(&mut sink).await;
                sink
            });
            let outcome = converse(client, t).await;
            (outcome, sink.await.unwrap())
        })
    }

    #[test]
    fn requests_ask_for_the_version_in_at_least_24_bytes() {
        for url in [
            "memcached://h",
            "memcached://u:p@h",
            "memcached://user:long-password@h",
        ] {
            let (_, sent) = exchange(b"STORED\r\nVERSION 1\r\n".to_vec(), &p(url).unwrap());
            let sent = String::from_utf8(sent).unwrap();
            assert!(sent.len() >= 24, "{url}: {sent:?}");
            let version = sent.find("version\r\n").expect("version sent");
            if url.contains('@') {
                assert!(sent.starts_with("set whenready 0 0 "), "{sent:?}");
                assert!(version > sent.find("\r\n").unwrap());
            }
        }
    }

    #[test]
    fn replies() {
        let plain = p("memcached://h").unwrap();
        let auth = p("memcached://u:p@h").unwrap();
        assert!(against(b"VERSION 1.6.18\r\n".to_vec(), &plain).is_ok());
        assert!(against(b"STORED\r\nVERSION 1.6.18\r\n".to_vec(), &auth).is_ok());
        let e = against(b"CLIENT_ERROR unauthenticated\r\n".to_vec(), &auth).unwrap_err();
        assert!(e.is_permanent() && e.reason.contains("authentication failed"));
        let e = against(b"VERSION 1\r\n".to_vec(), &auth).unwrap_err();
        assert!(
            !e.is_permanent() && e.reason.contains("expected STORED"),
            "{e}"
        );
        let e = against(Vec::new(), &plain).unwrap_err();
        assert!(e.reason.contains("SASL"), "{e}");
        let e = against(vec![b'x'; 5000], &plain).unwrap_err();
        assert!(e.reason.contains("4 KiB"), "{e}");
    }

    /// The replies to `set` and `version` against every byte stream.
    #[test]
    fn fuzz_lines() {
        let rt = fuzz::runtime();
        let targets = [p("memcached://h").unwrap(), p("memcached://u:p@h").unwrap()];
        let seeds: Vec<Vec<u8>> = [
            &b"VERSION 1.6.18\r\n"[..],
            b"STORED\r\nVERSION 1.6.18\r\n",
            b"CLIENT_ERROR unauthenticated\r\n",
            b"CLIENT_ERROR authentication failure\r\n",
            b"SERVER_ERROR out of memory storing object\r\n",
            b"ERROR\r\nERROR\r\n",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        fuzz::run("memcached", &seeds, 64 * 1024, |input, case| {
            let t = &targets[(case % 2) as usize];
            let mut peer = fuzz::Peer::new(input.to_vec(), case);
            let result = fuzz::settle(&rt, converse(&mut peer, t));
            if let Err(e) = &result {
                fuzz::assert_reason(&e.reason);
            }
            fuzz::outcome(&result)
        });
    }
}
