//! MongoDB: `mongodb://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…][/DB][?OPTIONS]`
//! and `mongodb+srv://[USER:PASSWORD@]NAME[/DB][?OPTIONS]` (port 27017).
//!
//! Ready when a server answers `hello`, the login succeeds (SCRAM-SHA-256, or
//! SCRAM-SHA-1 where the user has only that), and `ping` answers `ok: 1`. With
//! `replicaSet`, that server must be the set's writable primary: the seeds are
//! tried at once ([`crate::probe::cluster`]), and when none is the primary, the
//! primary and members they name are tried next. `mongodb+srv://` finds its seeds
//! and default options in DNS ([`srv`]) at every attempt, and speaks TLS unless
//! the URL says `tls=false`.
//!
//! Failures: AuthenticationFailed (18) is permanent, as is a rejected certificate;
//! a node that is recovering, not primary, in another set, or has no primary yet,
//! and everything else, is transient.
//!
//! The protocol is written by hand: OP_MSG ([`message`]), the BSON of a few
//! commands and replies ([`bson`]), and SCRAM ([`crate::probe::scram`]). The
//! MongoDB driver crate brings its own runtime use, a DNS resolver, a BSON library
//! with serde, and most of a megabyte.

pub mod auth;
pub mod bson;
pub mod message;
pub mod session;
pub mod srv;
pub mod target;

pub use target::{parse, MongoTarget};

use super::cluster::{first_ok, host_list, name, summarize, Entrant};
use super::error::ProbeError;
use super::kind::{Attempt, Check, Ctx, Kind};
use super::tls;
use crate::endpoint::Endpoint;
use crate::env::Env;
use std::sync::Mutex;
use target::{Seeds, Shared};
use url::Url;

/// The most SCRAM iterations a server may ask for: librdkafka's cap, 66 times
/// MongoDB's default of 15,000 (the server sets no maximum; pymongo none either).
/// The derivation runs off the runtime's thread and is kept between attempts.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// The MongoDB kind.
pub struct Mongodb;

impl Kind for Mongodb {
    /// `kafka://b1:9092,b2:9092`, `mongodb://h1,h2/db`: a comma in the authority
    /// belongs to the URL, also in `WHENREADY_TARGETS`.
    fn authority_is_host_list(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "mongodb"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["mongodb", "mongodb+srv"]
    }
    fn forms(&self) -> &'static str {
        "mongodb(+srv)://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "mongodb(+srv)://[USER:PASS@]HOST[,...]",
            "hello, SCRAM login and ping (/DB, ?replicaSet=: its primary)",
        )
    }
    fn secret_params(&self) -> &'static [&'static str] {
        &["password", "proxypassword", "tlscertificatekeyfilepassword"]
    }
    fn parse_text(&self, text: &str, _env: &Env) -> Option<Result<Box<dyn Check>, String>> {
        Some(parse(text).map(|t| Box::new(t) as Box<dyn Check>))
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(parse(url.as_str())?))
    }
}

impl Check for MongoTarget {
    fn prepare(&self, shown: &str) -> Result<(), String> {
        if let Some(path) = &self.tls.ca_file {
            let certs =
                tls::load_pem(path).map_err(|e| format!("invalid tlsCAFile for {shown}: {e}"))?;
            let _ = self.ca.set(certs);
        }
        let file = self.tls.cert_key_file.as_deref();
        self.identity.load(
            file.map(|f| (f, f)),
            &format!("tlsCertificateKeyFile for {shown}"),
        )
    }
    fn warnings(&self) -> Vec<String> {
        self.identity.warnings()
    }
    fn probe<'a>(&'a self, ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(probe(self, ctx))
    }
}

/// One attempt: the seeds at once, then the members they name.
async fn probe(t: &MongoTarget, ctx: &Ctx) -> Result<(), ProbeError> {
    let (seeds, shared) = match &t.seeds {
        Seeds::Hosts(hosts) => (hosts.clone(), t.shared.clone()),
        Seeds::Srv { name, service } => {
            let (seeds, txt) = srv::resolve(name, service).await?;
            // The URL's options win over the TXT record's.
            let shared = Shared {
                auth_source: t.shared.auth_source.clone().or(txt.auth_source),
                replica_set: t.shared.replica_set.clone().or(txt.replica_set),
                load_balanced: t.shared.load_balanced.or(txt.load_balanced),
            };
            (seeds, shared)
        }
    };
    let hints = Mutex::new(Vec::new());
    let mut failures = match round(&seeds, t, &shared, ctx, &hints).await {
        Ok(()) => return Ok(()),
        Err(f) => f,
    };
    if failures.iter().any(|(_, e)| e.is_permanent()) {
        return Err(summarize(failures));
    }
    let named: Vec<String> = hints.lock().map(|h| h.clone()).unwrap_or_default();
    let mut more: Vec<Endpoint> = Vec::new();
    for host in named {
        if let Ok(eps) = host_list(&host, target::DEFAULT_PORT) {
            for ep in eps {
                if !seeds.contains(&ep) && !more.contains(&ep) {
                    more.push(ep);
                }
            }
        }
    }
    if !more.is_empty() {
        match round(&more, t, &shared, ctx, &Mutex::new(Vec::new())).await {
            Ok(()) => return Ok(()),
            Err(f) => failures.extend(f),
        }
    }
    Err(summarize(failures))
}

/// The servers `eps` at once.
async fn round(
    eps: &[Endpoint],
    t: &MongoTarget,
    shared: &Shared,
    ctx: &Ctx,
    hints: &Mutex<Vec<String>>,
) -> Result<(), Vec<(String, ProbeError)>> {
    let entrants: Vec<Entrant<'_, ()>> = eps
        .iter()
        .map(|ep| {
            let attempt: Attempt<'_> = Box::pin(session::server(ep, t, shared, ctx, hints));
            (name(ep), attempt)
        })
        .collect();
    first_ok(entrants).await
}

/// The error of a command's reply (`ok` other than 1): AuthenticationFailed (18)
/// is permanent, everything else transient; the reason has the server's code, its
/// name and message (at most 200 characters).
pub fn command_error(doc: &bson::Doc<'_>, what: &str) -> Result<(), ProbeError> {
    if doc.get("ok").is_some_and(|v| v.number() == Some(1.0)) {
        return Ok(());
    }
    let code = doc.get("code").and_then(|c| c.number()).map(|c| c as i64);
    let name = doc.text("codeName").unwrap_or_default();
    let message: String = doc
        .text("errmsg")
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let label = match (code, name.is_empty()) {
        (Some(c), false) => format!("{} ({c})", short(&name)),
        (Some(c), true) => format!("error {c}"),
        (None, _) => "an error".to_string(),
    };
    let reason = if message.is_empty() {
        format!("{what} failed: {label}")
    } else {
        format!("{what} failed: {label}: {message}")
    };
    Err(if code == Some(AUTHENTICATION_FAILED) {
        ProbeError::permanent(reason)
    } else {
        ProbeError::transient(reason)
    })
}

/// The error code of AuthenticationFailed.
pub const AUTHENTICATION_FAILED: i64 = 18;

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::bson::DocBuf;
    use super::*;

    fn error(code: i32, name: &str) -> ProbeError {
        let reply = DocBuf::new()
            .i32("ok", 0)
            .str("errmsg", "message")
            .i32("code", code)
            .str("codeName", name)
            .finish();
        command_error(&bson::parse(&reply).unwrap(), "ping").unwrap_err()
    }

    #[test]
    fn only_authentication_failed_is_permanent() {
        let e = error(18, "AuthenticationFailed");
        assert!(e.is_permanent());
        assert_eq!(e.reason, "ping failed: AuthenticationFailed (18): message");
        for (code, name) in [
            (11600, "InterruptedAtShutdown"),
            (11602, "InterruptedDueToReplStateChange"),
            (13436, "NotPrimaryOrSecondary"),
            (189, "PrimarySteppedDown"),
            (91, "ShutdownInProgress"),
            (10107, "NotWritablePrimary"),
            (13435, "NotPrimaryNoSecondaryOk"),
            (13, "Unauthorized"),
        ] {
            assert!(!error(code, name).is_permanent(), "{name}");
        }
        let ok = DocBuf::new().str("x", "y").i32("ok", 1).finish();
        assert!(command_error(&bson::parse(&ok).unwrap(), "ping").is_ok());
        let double = DocBuf::new().finish();
        assert!(command_error(&bson::parse(&double).unwrap(), "ping").is_err());
    }
}
