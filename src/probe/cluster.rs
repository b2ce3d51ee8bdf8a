//! Targets with several servers, Kafka's bootstrap brokers and MongoDB's seeds:
//! the list of hosts in their URLs ([`host_list`]), and trying the servers at once
//! ([`first_ok`]). The first that succeeds decides; a permanent failure (a
//! rejected password) ends the race at once, since every server of one cluster
//! would say the same; otherwise every server has its say, and the reason names
//! each one whose reason differs ([`summarize`]). One server that drops packets
//! thus cannot hide another that answers, as with the addresses of one name
//! ([`super::net`]).

use super::error::ProbeError;
use crate::endpoint::{parse_host, parse_port, Endpoint, Host};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// The most hosts one URL may list.
pub const MAX_HOSTS: usize = 64;

/// Reads `HOST[:PORT][,HOST[:PORT]…]` (an IPv6 address in brackets), with
/// `default_port` for a host without one. The error names the bad entry.
pub fn host_list(text: &str, default_port: u16) -> Result<Vec<Endpoint>, String> {
    if text.is_empty() {
        return Err("missing host".into());
    }
    let mut hosts = Vec::new();
    for entry in text.split(',') {
        if hosts.len() == MAX_HOSTS {
            return Err(format!("more than {MAX_HOSTS} hosts"));
        }
        let decoded = crate::endpoint::decode(entry);
        let (host, port) = if let Some(rest) = decoded.strip_prefix('[') {
            let (addr, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("missing ']' in {decoded:?}"))?;
            let ip: std::net::Ipv6Addr = addr
                .parse()
                .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| {
                    format!("unexpected {p:?} after the IPv6 address in {decoded:?}")
                })?),
            };
            (Host::Ip(ip.into()), port)
        } else {
            let (host, port) = match decoded.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (decoded.as_str(), None),
            };
            if host.is_empty() {
                return Err(
                    if text.contains(",,") || text.starts_with(',') || text.ends_with(',') {
                        "an empty host in the list".to_string()
                    } else {
                        "missing host".to_string()
                    },
                );
            }
            if host.contains(':') {
                return Err(format!("an IPv6 address needs brackets: [{host}]"));
            }
            (parse_host(host)?, port)
        };
        let port = match port {
            Some(p) => parse_port(p)?,
            None => default_port,
        };
        hosts.push(Endpoint { host, port });
    }
    Ok(hosts)
}

/// `HOST:PORT` of an endpoint, for reasons.
pub fn name(ep: &Endpoint) -> String {
    format!("{}:{}", ep.host, ep.port)
}

/// One server's attempt, named for the reason.
pub type Entrant<'a, T> = (
    String,
    Pin<Box<dyn Future<Output = Result<T, ProbeError>> + Send + 'a>>,
);

/// Runs the attempts at once, on this task: the first success, the first permanent
/// failure, or, when every attempt failed, every failure with its server's name.
pub async fn first_ok<T>(entrants: Vec<Entrant<'_, T>>) -> Result<T, Vec<(String, ProbeError)>> {
    let mut running: Vec<Option<Entrant<'_, T>>> = entrants.into_iter().map(Some).collect();
    let mut failures: Vec<(usize, String, ProbeError)> = Vec::new();
    std::future::poll_fn(|cx| {
        for (i, slot) in running.iter_mut().enumerate() {
            let Some((_, attempt)) = slot else { continue };
            if let Poll::Ready(outcome) = attempt.as_mut().poll(cx) {
                let (name, _) = slot.take().expect("polled a finished entrant");
                match outcome {
                    Ok(value) => return Poll::Ready(Ok(value)),
                    Err(e) if e.is_permanent() => return Poll::Ready(Err(vec![(name, e)])),
                    Err(e) => failures.push((i, name, e)),
                }
            }
        }
        if running.iter().all(Option::is_none) {
            failures.sort_by_key(|(i, _, _)| *i);
            let all = failures.drain(..).map(|(_, n, e)| (n, e)).collect();
            return Poll::Ready(Err(all));
        }
        Poll::Pending
    })
    .await
}

/// One reason for the failures of several servers: the reason alone when they
/// agree (or there is one server), else each server's name and reason. Transient,
/// unless one of them is permanent (then that one alone, named).
pub fn summarize(failures: Vec<(String, ProbeError)>) -> ProbeError {
    if let Some((name, e)) = failures.iter().find(|(_, e)| e.is_permanent()) {
        return if failures.len() == 1 {
            e.clone()
        } else {
            ProbeError::permanent(format!("{name}: {}", e.reason))
        };
    }
    let Some((_, first)) = failures.first() else {
        return ProbeError::transient("no server to try");
    };
    if failures.iter().all(|(_, e)| e.reason == first.reason) {
        return first.clone();
    }
    ProbeError::transient(
        failures
            .iter()
            .map(|(n, e)| format!("{n}: {}", e.reason))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entrant<'a>(
        name: &str,
        delay_ms: u64,
        outcome: Result<u32, ProbeError>,
    ) -> Entrant<'a, u32> {
        (
            name.to_string(),
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                outcome
            }),
        )
    }

    fn run<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn host_lists() {
        let eps = host_list("a,b:2,[::1],[::1]:3,127.0.0.1:4", 9).unwrap();
        let shown: Vec<String> = eps.iter().map(name).collect();
        assert_eq!(shown, ["a:9", "b:2", "[::1]:9", "[::1]:3", "127.0.0.1:4"]);
        for (bad, why) in [
            ("", "missing host"),
            ("a,,b", "empty host"),
            ("a,", "empty host"),
            (":1", "missing host"),
            ("a:0", "invalid port"),
            ("a:x", "invalid port"),
            ("::1", "brackets"),
            ("[::1", "missing ']'"),
            ("[::1]x", "unexpected"),
            ("[x]:1", "not an IPv6"),
            ("a b", "invalid host"),
        ] {
            let e = host_list(bad, 9).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        let many = vec!["h"; MAX_HOSTS + 1].join(",");
        assert!(host_list(&many, 1).unwrap_err().contains("more than"));
    }

    #[test]
    fn the_first_success_wins_over_a_slow_or_failed_server() {
        let r = run(first_ok(vec![
            entrant("a", 1000, Ok(1)),
            entrant("b", 10, Err(ProbeError::transient("refused"))),
            entrant("c", 20, Ok(3)),
        ]));
        assert_eq!(r.unwrap(), 3);
    }

    #[test]
    fn a_permanent_failure_ends_the_race() {
        let r = run(first_ok(vec![
            entrant("a", 1000, Ok(1)),
            entrant("b", 10, Err(ProbeError::permanent("bad password"))),
        ]));
        let e = summarize(r.unwrap_err());
        assert!(e.is_permanent());
        assert_eq!(e.reason, "bad password");
    }

    #[test]
    fn every_failure_is_said_once_or_by_server() {
        let r = run(first_ok(vec![
            entrant("a", 30, Err(ProbeError::transient("refused"))),
            entrant("b", 10, Err(ProbeError::transient("refused"))),
        ]));
        assert_eq!(summarize(r.unwrap_err()).reason, "refused");
        let r = run(first_ok(vec![
            entrant("a", 30, Err(ProbeError::transient("refused"))),
            entrant("b", 10, Err(ProbeError::transient("reset"))),
        ]));
        assert_eq!(summarize(r.unwrap_err()).reason, "a: refused; b: reset");
        assert!(!summarize(Vec::new()).is_permanent());
    }
}
