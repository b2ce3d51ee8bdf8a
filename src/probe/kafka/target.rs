//! `kafka://` and `kafkas://` URLs: `[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]`
//! (the bootstrap brokers), `?topic=T1,T2` (repeatable), `?sasl=MECHANISM`
//! (`authMechanism=` as wait4x writes it). Credentials need a mechanism, and a
//! mechanism needs credentials: neither is guessed, and neither is dropped.

use crate::endpoint::{decode, Endpoint};
use crate::probe::cluster::host_list;
use crate::probe::scram::{Hash, KeyCache};
use std::sync::Arc;
use url::Url;

/// The port of `kafka://` when a host has none.
pub const DEFAULT_PORT: u16 = 9092;
/// The port of `kafkas://` when a host has none (the usual TLS listener).
pub const DEFAULT_TLS_PORT: u16 = 9093;

/// The longest topic name Kafka accepts.
const MAX_TOPIC: usize = 249;

/// A SASL mechanism the probe speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// PLAIN: the password itself, as the URL asks (never chosen by the broker).
    Plain,
    /// SCRAM-SHA-256 or SCRAM-SHA-512: a proof, never the password.
    Scram(Hash),
}

impl Mechanism {
    /// The SASL name sent in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(h) => h.mechanism(),
        }
    }
}

/// The credentials of the URL and the mechanism that carries them.
#[derive(Clone)]
pub struct Sasl {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The user name (decoded).
    pub user: String,
    /// The password (decoded, its UTF-8 bytes: Kafka normalises nothing).
    pub password: Arc<[u8]>,
}

/// A parsed `kafka://` or `kafkas://` target.
pub struct KafkaTarget {
    /// The bootstrap brokers, tried at once.
    pub brokers: Vec<Endpoint>,
    /// `kafkas://`: TLS, verified.
    pub tls: bool,
    /// The topics that must exist with a leader for every partition.
    pub topics: Vec<String>,
    /// SASL, when the URL has credentials.
    pub sasl: Option<Sasl>,
    /// SCRAM keys kept between attempts.
    pub keys: KeyCache,
}

impl std::fmt::Debug for KafkaTarget {
    // Never shows the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTarget")
            .field("brokers", &self.brokers)
            .field("tls", &self.tls)
            .field("topics", &self.topics)
            .field(
                "sasl",
                &self
                    .sasl
                    .as_ref()
                    .map(|s| format!("{} as {:?} with password ***", s.mechanism.name(), s.user)),
            )
            .finish()
    }
}

const FORM: &str = "kafka(s)://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]...][?topic=T1,T2&sasl=plain|scram-sha-256|scram-sha-512]";

/// Parses the text of a `kafka://` or `kafkas://` target. Errors never contain
/// the password.
pub fn parse(text: &str) -> Result<KafkaTarget, String> {
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| format!("expected {FORM}"))?;
    let tls = scheme.eq_ignore_ascii_case("kafkas");
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if tail.contains('#') {
        return Err("a kafka target takes no #fragment".into());
    }
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let default_port = if tls { DEFAULT_TLS_PORT } else { DEFAULT_PORT };
    let brokers = host_list(hosts, default_port)?;
    // The rest is a URL's: user information, path and query, read by the URL
    // parser on a stand-in host.
    let stand_in = format!(
        "kafka://{}x{tail}",
        userinfo.map(|u| format!("{u}@")).unwrap_or_default()
    );
    let url = Url::parse(&stand_in).map_err(|e| e.to_string())?;
    if !matches!(url.path(), "" | "/") {
        return Err(format!("a kafka URL has no path: {FORM}"));
    }
    let mut topics = Vec::new();
    let mut mechanism = None;
    for (key, value) in url.query_pairs() {
        match &*key {
            "topic" => {
                for name in value.split(',') {
                    topics.push(topic(name)?);
                }
            }
            "sasl" | "authMechanism" => {
                mechanism = Some(match value.to_ascii_lowercase().as_str() {
                    "plain" => Mechanism::Plain,
                    "scram-sha-256" => Mechanism::Scram(Hash::Sha256),
                    "scram-sha-512" => Mechanism::Scram(Hash::Sha512),
                    other => {
                        return Err(format!(
                            "unknown SASL mechanism {other:?}: use plain, scram-sha-256 or scram-sha-512"
                        ))
                    }
                })
            }
            other => {
                return Err(format!(
                    "unknown parameter {other:?}: a kafka URL takes topic= and sasl="
                ))
            }
        }
    }
    let user = decode(url.username());
    let password = url.password().map(decode);
    let sasl = match (mechanism, password) {
        (None, None) if user.is_empty() => None,
        (None, _) => return Err(
            "credentials need a SASL mechanism: add ?sasl=scram-sha-512, scram-sha-256 or plain"
                .into(),
        ),
        (Some(m), _) if user.is_empty() => {
            return Err(format!(
                "sasl={} needs USER:PASSWORD@ before the host",
                m.name().to_ascii_lowercase()
            ))
        }
        (Some(_), None) => return Err("missing password: write USER:PASSWORD@HOST".into()),
        (Some(mechanism), Some(password)) => Some(Sasl {
            mechanism,
            user,
            password: Arc::from(password.into_bytes()),
        }),
    };
    topics.dedup();
    Ok(KafkaTarget {
        brokers,
        tls,
        topics,
        sasl,
        keys: KeyCache::default(),
    })
}

/// A topic name as Kafka allows it: 1 to 249 of `[A-Za-z0-9._-]`, not `.` or
/// `..`. A name Kafka would refuse could never exist: a usage error.
fn topic(name: &str) -> Result<String, String> {
    let legal = !name.is_empty()
        && name.len() <= MAX_TOPIC
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if legal {
        Ok(name.to_string())
    } else {
        let shown: String = name.chars().take(60).collect();
        Err(format!(
            "invalid topic name {shown:?}: Kafka allows 1 to 249 of A-Z a-z 0-9 . _ -"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = parse("kafka://b1").unwrap();
        assert_eq!((t.brokers[0].port, t.tls, t.topics.len()), (9092, false, 0));
        assert!(t.sasl.is_none());
        let t = parse("kafkas://b1,b2:1/?topic=a,b&topic=c.d_e-f").unwrap();
        assert_eq!(
            (t.brokers[0].port, t.brokers[1].port, t.tls),
            (9093, 1, true)
        );
        assert_eq!(t.topics, ["a", "b", "c.d_e-f"]);
        let t = parse("kafka://u%40x:p%2Cw@h:1?sasl=SCRAM-SHA-512").unwrap();
        let s = t.sasl.as_ref().unwrap();
        assert_eq!(s.mechanism, Mechanism::Scram(Hash::Sha512));
        assert_eq!((s.user.as_str(), &s.password[..]), ("u@x", &b"p,w"[..]));
        assert!(!format!("{t:?}").contains("p,w"));
        let t = parse("kafka://u:p@h?authMechanism=plain").unwrap();
        assert_eq!(t.sasl.unwrap().mechanism, Mechanism::Plain);
    }

    #[test]
    fn bad_forms_say_why_without_the_password() {
        for (text, why) in [
            ("kafka://", "missing host"),
            ("kafka://h:0", "invalid port"),
            ("kafka://h/x", "no path"),
            ("kafka://h?x=1", "unknown parameter \"x\""),
            ("kafka://h?topic=", "invalid topic name"),
            ("kafka://h?topic=a%20b", "invalid topic name"),
            ("kafka://h?topic=..", "invalid topic name"),
            ("kafka://u:s3cret@h", "need a SASL mechanism"),
            ("kafka://h?sasl=plain", "needs USER:PASSWORD@"),
            ("kafka://u@h?sasl=plain", "missing password"),
            ("kafka://u:s3cret@h?sasl=gssapi", "unknown SASL mechanism"),
            ("kafka://h#x", "fragment"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
            assert!(!e.contains("s3cret"), "{text}: {e}");
        }
        let long = "t".repeat(250);
        assert!(parse(&format!("kafka://h?topic={long}")).is_err());
        assert!(parse(&format!("kafka://h?topic={}", &long[1..])).is_ok());
    }
}
