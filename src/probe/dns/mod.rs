//! DNS records: `dns://NAME?type=A|AAAA|CNAME|MX|TXT|SRV[&expect=VALUE][&server=HOST[:PORT]]`.
//!
//! Ready when NAME has a record of the type (and, with `expect`, one record
//! matches). One attempt sends one query over UDP to the server of the URL, or to
//! the nameservers of /etc/resolv.conf in turn, with a fresh random ID from the
//! system's random source, from a fresh socket (a random source port); an answer
//! counts only when it comes from the server asked, carries the query's ID and
//! repeats its question (RFC 5452's checks against spoofing); anything else is
//! ignored until the server's time is up. A truncated answer (TC) is asked again
//! over TCP.
//!
//! The messages are written and read by hand (RFC 1035): one question out, the
//! answer section in; hickory-proto would cost more than the whole probe (README,
//! "Why DNS is written by hand"). [`parse_response`] bounds-checks every offset and
//! follows name compression pointers only backwards, at most [`MAX_HOPS`] times:
//! no input can make it loop or panic.
//!
//! The parts: [`target`] reads the URL, [`message`] writes the query and reads the
//! answer, [`transport`] asks the servers; this module judges the answer.

pub mod message;
pub mod target;
pub mod transport;

pub use message::{
    build_query, parse_response, read_name, Answer, Mismatch, Record, RecordType, MAX_HOPS,
};
pub use target::{parse, DnsTarget, Expect, Server};
pub use transport::nameservers;
pub(crate) use transport::{ask, servers};

use super::error::ProbeError;
use super::kind::{Attempt, Check, Ctx, Kind};
use crate::env::Env;
use std::net::SocketAddr;
use url::Url;

/// The DNS kind.
pub struct Dns;

impl Kind for Dns {
    fn name(&self) -> &'static str {
        "dns"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["dns"]
    }
    fn forms(&self) -> &'static str {
        "dns://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "dns://NAME?type=T[&expect=V][&server=S]",
            "NAME has such a record (matching V)",
        )
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(parse(url)?))
    }
}

/// The outcome of an answer for the target: ready, or why not.
fn judge(t: &DnsTarget, answer: Answer, server: SocketAddr) -> Result<(), ProbeError> {
    let what = format!("{} record of {}", t.rtype.name(), t.name);
    match answer {
        Answer::Records(records) if records.is_empty() => Err(ProbeError::transient(format!(
            "no {what} (NODATA from {server})"
        ))),
        Answer::Records(records) => match &t.expect {
            None => Ok(()),
            Some(e) if records.iter().any(|r| e.matches(r)) => Ok(()),
            Some(_) => {
                let mut seen: Vec<String> = records.iter().take(3).map(|r| r.to_string()).collect();
                if records.len() > 3 {
                    seen.push(format!("and {} more", records.len() - 3));
                }
                let shown: String = seen.join(", ").chars().take(200).collect();
                Err(ProbeError::transient(format!(
                    "no {what} matches expect (found {shown})"
                )))
            }
        },
        Answer::Rcode(3) => Err(ProbeError::transient(format!(
            "{} does not exist (NXDOMAIN from {server})",
            t.name
        ))),
        // The server failed, not the name: with --reverse, not gone either.
        Answer::Rcode(code) => Err(ProbeError::unsettled(format!(
            "{server} answered {}",
            rcode_name(code)
        ))),
        // Only after TCP, which never sets TC in a way we follow again.
        Answer::Truncated => Err(ProbeError::unsettled(format!(
            "{server} answered truncated even over TCP"
        ))),
    }
}

fn rcode_name(code: u8) -> String {
    match code {
        1 => "FORMERR (format error)".into(),
        2 => "SERVFAIL (server failure)".into(),
        4 => "NOTIMP (not implemented)".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE {n}"),
    }
}

impl Check for DnsTarget {
    fn probe<'a>(&'a self, _ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(probe(self))
    }

    /// What is waited on is a record: a silent server says nothing of it.
    fn silence_is_gone(&self) -> bool {
        false
    }
}

/// One attempt: every server in turn until one gives an answer to our question.
/// Only an answer can show the record gone (NXDOMAIN, NODATA, no match for
/// `expect`); a server that cannot be found, reached or understood leaves that
/// unsettled under `--reverse`.
async fn probe(t: &DnsTarget) -> Result<(), ProbeError> {
    let servers = transport::servers(t).await.map_err(|e| {
        if e.is_permanent() {
            e
        } else {
            ProbeError::unsettled(e.reason)
        }
    })?;
    let mut failures = Vec::new();
    for server in servers {
        match transport::ask(t, server).await {
            Ok(answer) => return judge(t, answer, server),
            Err(why) => failures.push(format!("{server}: {why}")),
        }
    }
    Err(ProbeError::unsettled(if failures.len() == 1 {
        failures.remove(0)
    } else {
        failures.join("; ")
    }))
}
