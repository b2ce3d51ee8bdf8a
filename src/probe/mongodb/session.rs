//! One attempt at one MongoDB server: connect (TLS when the URL asks or for
//! `mongodb+srv://`), `hello`, log in, `ping`.
//!
//! `hello` is asked first, over OP_MSG; a server that does not know it (before
//! MongoDB 4.4.2, error 59) is asked the legacy `isMaster`, as the drivers
//! negotiate. With `replicaSet`, the server must be the writable primary of that
//! set; a member that is not says who the primary is (or its hosts), which the
//! probe then tries ([`super`]).

use super::auth;
use super::bson::{self, DocBuf};
use super::command_error;
use super::message::{garbage, Conn};
use super::target::{MongoTarget, Shared};
use crate::endpoint::Endpoint;
use crate::probe::error::ProbeError;
use crate::probe::kind::Ctx;
use crate::probe::net;
use crate::probe::tls;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};

/// The most hosts one `hello` may add to the servers tried.
pub const MAX_HINTS: usize = 50;

/// The error code of CommandNotFound.
const COMMAND_NOT_FOUND: i32 = 59;

/// What `hello` says that the probe uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hello {
    /// `isWritablePrimary` (or `ismaster` from `isMaster`).
    pub writable: bool,
    /// `secondary`.
    pub secondary: bool,
    /// `arbiterOnly`.
    pub arbiter: bool,
    /// `setName`.
    pub set_name: Option<String>,
    /// `primary`: the primary as this member knows it.
    pub primary: Option<String>,
    /// `hosts` and `passives`: the set's data-bearing members.
    pub hosts: Vec<String>,
    /// `saslSupportedMechs`: the user's mechanisms, when asked.
    pub mechanisms: Vec<String>,
}

/// Reads a `hello` (or `isMaster`) reply.
pub fn read_hello(reply: &[u8]) -> Result<Hello, ProbeError> {
    let doc = bson::parse(reply).map_err(|why| garbage("hello", &why))?;
    command_error(&doc, "hello")?;
    let mut hosts = doc.strings("hosts", MAX_HINTS);
    hosts.extend(doc.strings("passives", MAX_HINTS - hosts.len()));
    Ok(Hello {
        writable: doc.truth("isWritablePrimary") || doc.truth("ismaster"),
        secondary: doc.truth("secondary"),
        arbiter: doc.truth("arbiterOnly"),
        set_name: doc.text("setName"),
        primary: doc.text("primary"),
        hosts,
        mechanisms: doc.strings("saslSupportedMechs", 8),
    })
}

/// The TLS configuration of the target: `tlsInsecure`, `tlsCAFile`,
/// `tlsAllowInvalidHostnames`, or the run's (system roots and `--cacert`); with
/// `tlsCertificateKeyFile`'s certificate when given.
fn tls_config(t: &MongoTarget, ctx: &Ctx) -> Arc<rustls::ClientConfig> {
    let config = if t.tls.insecure {
        tls::unverified()
    } else if let Some(ca) = t.ca.get() {
        tls::with_roots(ca, !t.tls.any_name)
    } else if t.tls.any_name {
        tls::with_system_roots_any_name()
    } else {
        ctx.tls.verified()
    };
    match t.identity.get() {
        Some(identity) => tls::with_identity(config, identity),
        None => config,
    }
}

/// One attempt at the server at `ep`. A member that is not the primary the target
/// waits for adds the hosts it names to `hints`.
pub async fn server(
    ep: &Endpoint,
    t: &MongoTarget,
    shared: &Shared,
    ctx: &Ctx,
    hints: &Mutex<Vec<String>>,
) -> Result<(), ProbeError> {
    let stream = net::connect(ep).await?;
    if t.tls.enabled {
        let stream = tls::connect(stream, &ep.host, tls_config(t, ctx)).await?;
        session(Conn::new(stream), t, shared, hints).await
    } else {
        session(Conn::new(stream), t, shared, hints).await
    }
    .map_err(|mut e| {
        if e.reason.contains("closed the connection") && !t.tls.enabled {
            e.reason = format!(
                "{} (a server that requires TLS does so: add ?tls=true)",
                e.reason
            )
            .into();
        }
        e
    })
}

/// The conversation over an open connection.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: Conn<S>,
    t: &MongoTarget,
    shared: &Shared,
    hints: &Mutex<Vec<String>>,
) -> Result<(), ProbeError> {
    let auth_source = shared
        .auth_source
        .as_deref()
        .or(t.database.as_deref())
        .unwrap_or("admin");
    let hello = hello(&mut conn, t, shared, auth_source).await?;
    if let Some(set) = &shared.replica_set {
        match &hello.set_name {
            None => {
                return Err(ProbeError::transient(format!(
                    "not a member of replica set {set:?} (it names no set)"
                )))
            }
            Some(n) if n != set => {
                return Err(ProbeError::transient(format!(
                    "a member of replica set {:?}, not of {set:?}",
                    short(n)
                )))
            }
            Some(_) => {}
        }
        if !hello.writable {
            if let Ok(mut h) = hints.lock() {
                for host in hello.primary.iter().chain(&hello.hosts) {
                    if h.len() < MAX_HINTS && !h.contains(host) {
                        h.push(host.clone());
                    }
                }
            }
            let role = if hello.arbiter {
                "an arbiter"
            } else if hello.secondary {
                "a secondary"
            } else {
                "neither primary nor secondary (starting or recovering)"
            };
            let primary = match &hello.primary {
                Some(p) => format!("the primary is {}", short(p)),
                None => "no primary is known".into(),
            };
            return Err(ProbeError::transient(format!(
                "{role} of replica set {set:?}; {primary}"
            )));
        }
    }
    auth::login(&mut conn, t, auth_source, &hello.mechanisms).await?;
    let ping = DocBuf::new().i32("ping", 1).str("$db", "admin").finish();
    let reply = conn.command(ping, "ping").await?;
    let doc = bson::parse(&reply).map_err(|why| garbage("ping", &why))?;
    command_error(&doc, "ping")
}

/// `hello`, or `isMaster` for a server that does not know it.
async fn hello<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    t: &MongoTarget,
    shared: &Shared,
    auth_source: &str,
) -> Result<Hello, ProbeError> {
    let build = |command: &str| {
        let mut d = DocBuf::new().i32(command, 1).bool("helloOk", true);
        if let (Some((user, _)), None) = (&t.credentials, t.mechanism) {
            d = d.str("saslSupportedMechs", &format!("{auth_source}.{user}"));
        }
        if shared.load_balanced == Some(true) {
            d = d.bool("loadBalanced", true);
        }
        d.str("$db", "admin").finish()
    };
    let reply = conn.command(build("hello"), "hello").await?;
    let doc = bson::parse(&reply).map_err(|why| garbage("hello", &why))?;
    let unknown = !doc.truth("ok")
        && matches!(doc.get("code").and_then(|c| c.number()), Some(c) if c as i32 == COMMAND_NOT_FOUND);
    if !unknown {
        return read_hello(&reply);
    }
    let reply = conn.command(build("isMaster"), "isMaster").await?;
    read_hello(&reply)
}

fn short(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_replies_are_read() {
        let reply = DocBuf::new()
            .bool("isWritablePrimary", false)
            .bool("secondary", true)
            .str("setName", "rs0")
            .str("primary", "b:2")
            .i32("ok", 1)
            .finish();
        let h = read_hello(&reply).unwrap();
        assert!(!h.writable && h.secondary);
        assert_eq!(h.set_name.as_deref(), Some("rs0"));
        assert_eq!(h.primary.as_deref(), Some("b:2"));
        let legacy = DocBuf::new().bool("ismaster", true).i32("ok", 1).finish();
        assert!(read_hello(&legacy).unwrap().writable);
        let failed = DocBuf::new()
            .i32("ok", 0)
            .str("errmsg", "Authentication failed.")
            .i32("code", 18)
            .str("codeName", "AuthenticationFailed")
            .finish();
        let e = read_hello(&failed).unwrap_err();
        assert!(e.is_permanent(), "{e}");
    }
}
