//! Kafka: `kafka://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…][?topic=T1,T2&sasl=M]`
//! and `kafkas://` (TLS, verified against the system's roots and `--cacert`;
//! `--cert`/`--key` for mTLS). Ports 9092 and 9093.
//!
//! Ready when a bootstrap broker answers ApiVersions and Metadata, the metadata
//! lists at least one broker and a controller, and each topic of the URL exists
//! with a leader for every partition. The bootstrap brokers are tried at once
//! ([`super::cluster`]); the first that finds the cluster ready decides.
//!
//! Failures: a rejected login (SASL_AUTHENTICATION_FAILED, 58), a topic the user
//! may not describe (TOPIC_AUTHORIZATION_FAILED, 29) and a mechanism the broker
//! does not enable (UNSUPPORTED_SASL_MECHANISM, 33) are permanent; a missing topic,
//! a partition without a leader, no controller yet, and everything else transient.
//! The probe never creates a topic ([`messages`]).
//!
//! The protocol is written by hand, from Kafka's message schemas: four requests
//! and their responses, each read through limits ([`codec`]). The Kafka crates
//! (rdkafka with librdkafka in C, or the pure-Rust clients) bring producers,
//! consumers, compression and their own runtimes, and several hundred KB.
//!
//! Passwords: SCRAM sends a proof, never the password; PLAIN sends the password
//! itself, only when the URL says `sasl=plain` (the broker never chooses the
//! mechanism), as the application's own client configured for SASL_PLAINTEXT or
//! SASL_SSL would.

pub mod codec;
pub mod messages;
pub mod session;
pub mod target;

pub use target::{parse, KafkaTarget};

use super::cluster::{first_ok, name, summarize};
use super::kind::{Attempt, Check, Ctx, Kind};
use crate::env::Env;
use url::Url;

/// The most SCRAM iterations a broker may ask for: what Kafka itself allows for a
/// credential (its ScramMechanism's maximum), so no real broker asks for more.
pub const MAX_ITERATIONS: u32 = 16_384;

/// The Kafka kind.
pub struct Kafka;

impl Kind for Kafka {
    /// `kafka://b1:9092,b2:9092`, `mongodb://h1,h2/db`: a comma in the authority
    /// belongs to the URL, also in `WHENREADY_TARGETS`.
    fn authority_is_host_list(&self) -> bool {
        true
    }
    fn name(&self) -> &'static str {
        "kafka"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["kafka", "kafkas"]
    }
    fn forms(&self) -> &'static str {
        "kafka(s)://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "kafka(s)://[USER:PASS@]HOST[:PORT][,...]",
            "Metadata names a controller; ?topic=T: T has leaders (?sasl=M)",
        )
    }
    fn parse_text(&self, text: &str, _env: &Env) -> Option<Result<Box<dyn Check>, String>> {
        Some(parse(text).map(|t| Box::new(t) as Box<dyn Check>))
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(parse(url.as_str())?))
    }
}

impl Check for KafkaTarget {
    fn probe<'a>(&'a self, ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(async move {
            let entrants = self
                .brokers
                .iter()
                .map(|ep| {
                    let attempt: Attempt<'a> = Box::pin(session::broker(ep, self, ctx));
                    (name(ep), attempt)
                })
                .collect();
            first_ok(entrants).await.map_err(summarize)
        })
    }
}

/// A Kafka error code as a reason: its name and number.
pub fn error_text(code: i16) -> String {
    let name = match code {
        -1 => "UNKNOWN_SERVER_ERROR",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        9 => "REPLICA_NOT_AVAILABLE",
        15 => "COORDINATOR_NOT_AVAILABLE",
        17 => "INVALID_TOPIC_EXCEPTION",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        33 => "UNSUPPORTED_SASL_MECHANISM",
        34 => "ILLEGAL_SASL_STATE",
        35 => "UNSUPPORTED_VERSION",
        42 => "INVALID_REQUEST",
        56 => "KAFKA_STORAGE_ERROR",
        58 => "SASL_AUTHENTICATION_FAILED",
        72 => "LISTENER_NOT_FOUND",
        100 => "UNKNOWN_TOPIC_ID",
        _ => return format!("error {code}"),
    };
    format!("{name}, {code}")
}
