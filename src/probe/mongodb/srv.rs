//! `mongodb+srv://NAME`: the seeds from the SRV records of `_mongodb._tcp.NAME`
//! and default options from NAME's TXT record, as MongoDB's "Initial DNS Seedlist
//! Discovery" specification says, looked up again at every attempt through the dns
//! kind's own client ([`crate::probe::dns`]: its query, answer and transport, the
//! nameservers of /etc/resolv.conf).
//!
//! Every host an SRV record names must lie under NAME's domain (NAME without its
//! first label when it has three or more, else NAME itself, with a label more):
//! whenready connects to no other. A TXT record may set `authSource`,
//! `replicaSet` and `loadBalanced` only; more than one TXT record is an error.
//! Records that break these rules, no SRV record, or no answer are transient
//! failures: DNS is fixed, and records appear late, while the wait goes on.

use super::target::{shared_option, Shared};
use crate::endpoint::{Endpoint, Host};
use crate::probe::dns::{self, Answer, DnsTarget, Record, RecordType, Server};
use crate::probe::error::ProbeError;

/// The most SRV records used (a replica set has at most 50 members).
pub const MAX_SEEDS: usize = 64;

/// The records of `rtype` for `name`, from the first nameserver that answers.
async fn lookup(name: &str, rtype: RecordType) -> Result<Answer, ProbeError> {
    let query = DnsTarget {
        name: name.to_string(),
        rtype,
        expect: None,
        server: Server::System,
    };
    let mut failures = Vec::new();
    for server in dns::servers(&query).await? {
        match dns::ask(&query, server).await {
            Ok(answer) => return Ok(answer),
            Err(why) => failures.push(format!("{server}: {why}")),
        }
    }
    Err(ProbeError::transient(format!(
        "no answer to the {} query for {name} ({})",
        rtype.name(),
        failures.join("; ")
    )))
}

/// The domain the SRV records' hosts must lie under, and whether they need a
/// label more than NAME (names of one or two labels).
fn domain(name: &str) -> (&str, bool) {
    if name.split('.').count() >= 3 {
        (name.split_once('.').map_or(name, |(_, d)| d), false)
    } else {
        (name, true)
    }
}

/// Whether an SRV record's host may be used for NAME.
pub fn allowed(name: &str, host: &str) -> bool {
    let (domain, deeper) = domain(name);
    host.len() > domain.len() + 1
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && (!deeper || host.split('.').count() > name.split('.').count())
}

/// The seeds and the TXT record's options for `name`.
pub async fn resolve(name: &str, service: &str) -> Result<(Vec<Endpoint>, Shared), ProbeError> {
    let srv_name = format!("_{service}._tcp.{name}");
    let records = match lookup(&srv_name, RecordType::Srv).await? {
        Answer::Records(r) => r,
        Answer::Rcode(3) => {
            return Err(ProbeError::transient(format!(
                "{srv_name} does not exist (NXDOMAIN)"
            )))
        }
        Answer::Rcode(code) => {
            return Err(ProbeError::transient(format!(
                "the SRV query for {srv_name} failed (RCODE {code})"
            )))
        }
        Answer::Truncated => {
            return Err(ProbeError::transient(format!(
                "the SRV answer for {srv_name} is truncated even over TCP"
            )))
        }
    };
    let mut seeds = Vec::new();
    for r in records {
        let Record::Srv(_, _, port, host) = r else {
            continue;
        };
        if !allowed(name, &host) {
            return Err(ProbeError::transient(format!(
                "the SRV record for {srv_name} names {host:?}, which is not under {}: not connected to",
                domain(name).0
            )));
        }
        if port == 0 {
            return Err(ProbeError::transient(format!(
                "the SRV record for {srv_name} names port 0"
            )));
        }
        if seeds.len() < MAX_SEEDS {
            seeds.push(Endpoint {
                host: Host::Name(host),
                port,
            });
        }
    }
    if seeds.is_empty() {
        return Err(ProbeError::transient(format!(
            "no SRV record for {srv_name}"
        )));
    }
    let shared = match lookup(name, RecordType::Txt).await? {
        Answer::Records(texts) => {
            let texts: Vec<String> = texts
                .into_iter()
                .filter_map(|r| match r {
                    Record::Txt(t) => Some(t),
                    _ => None,
                })
                .collect();
            match texts.as_slice() {
                [] => Shared::default(),
                [one] => txt_options(one).map_err(|why| {
                    ProbeError::transient(format!("the TXT record of {name}: {why}"))
                })?,
                _ => {
                    return Err(ProbeError::transient(format!(
                        "{name} has {} TXT records: MongoDB allows one",
                        texts.len()
                    )))
                }
            }
        }
        // No TXT record: no default options.
        Answer::Rcode(3) => Shared::default(),
        Answer::Rcode(code) => {
            return Err(ProbeError::transient(format!(
                "the TXT query for {name} failed (RCODE {code})"
            )))
        }
        Answer::Truncated => {
            return Err(ProbeError::transient(format!(
                "the TXT answer for {name} is truncated even over TCP"
            )))
        }
    };
    Ok((seeds, shared))
}

/// The options of a TXT record: `authSource`, `replicaSet`, `loadBalanced`.
pub fn txt_options(text: &str) -> Result<Shared, String> {
    let mut shared = Shared::default();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("{:?} is not KEY=VALUE", short(pair)))?;
        let (k, v) = (crate::endpoint::decode(k), crate::endpoint::decode(v));
        if !shared_option(&mut shared, &k, &v)? {
            return Err(format!(
                "the option {:?} may not come from DNS (only authSource, replicaSet and loadBalanced)",
                short(&k)
            ));
        }
    }
    Ok(shared)
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_must_lie_under_the_domain() {
        assert!(allowed("cluster0.example.net", "shard-0.example.net"));
        assert!(allowed("cluster0.example.net", "a.b.example.net"));
        assert!(!allowed("cluster0.example.net", "shard-0.evil.net"));
        assert!(!allowed("cluster0.example.net", "xexample.net"));
        assert!(!allowed("cluster0.example.net", "example.net"));
        // One or two labels: the hosts lie under the name itself, deeper.
        assert!(allowed("mongo.local", "a.mongo.local"));
        assert!(!allowed("mongo.local", "mongo.local"));
        assert!(!allowed("mongo.local", "other.local"));
        assert!(allowed("localhost", "a.localhost"));
        assert!(!allowed("localhost", "localhost"));
    }

    #[test]
    fn txt_records_set_three_options() {
        let s = txt_options("replicaSet=rs0&authSource=admin&loadBalanced=false").unwrap();
        assert_eq!(s.replica_set.as_deref(), Some("rs0"));
        assert_eq!(s.auth_source.as_deref(), Some("admin"));
        assert_eq!(s.load_balanced, Some(false));
        assert!(txt_options("ssl=false")
            .unwrap_err()
            .contains("may not come from DNS"));
        assert!(txt_options("replicaSet").unwrap_err().contains("KEY=VALUE"));
        assert!(txt_options("loadBalanced=x").is_err());
        assert_eq!(txt_options("").unwrap(), Shared::default());
    }
}
