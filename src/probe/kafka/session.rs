//! One attempt at one bootstrap broker: connect (TLS for `kafkas://`), learn its
//! API versions, log in with SASL when the URL has credentials, ask Metadata, and
//! judge the answer.
//!
//! Versions are negotiated as the clients do: ApiVersions v3 first (the first
//! flexible version); a broker that does not take it answers UNSUPPORTED_VERSION
//! in version 0, with the highest version it takes (KIP-511) or without (older
//! brokers), and is asked again at that version or at 0, on the same connection.
//! Every other request uses the highest version both sides speak.

use super::codec::{garbage, Conn};
use super::messages::*;
use super::target::{KafkaTarget, Mechanism, Sasl};
use super::{error_text, MAX_ITERATIONS};
use crate::endpoint::Endpoint;
use crate::probe::error::ProbeError;
use crate::probe::kind::Ctx;
use crate::probe::net;
use crate::probe::scram::{self, Refusal};
use crate::probe::tls;
use tokio::io::{AsyncRead, AsyncWrite};

/// The largest Metadata response read: enough for every topic of a big cluster
/// which a broker older than Kafka 0.11 sends when topics are waited for.
pub const MAX_METADATA: usize = 2 * 1024 * 1024;
/// The largest response to ApiVersions, SaslHandshake or SaslAuthenticate.
pub const MAX_SMALL: usize = 64 * 1024;

/// The error code of SASL_AUTHENTICATION_FAILED.
const SASL_AUTHENTICATION_FAILED: i16 = 58;
/// The error code of UNSUPPORTED_SASL_MECHANISM.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
/// The error code of TOPIC_AUTHORIZATION_FAILED.
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
/// The error code of UNKNOWN_TOPIC_OR_PARTITION.
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// One attempt at the broker at `ep`.
pub async fn broker(ep: &Endpoint, t: &KafkaTarget, ctx: &Ctx) -> Result<(), ProbeError> {
    let stream = net::connect(ep).await?;
    if t.tls {
        let stream = tls::connect(stream, &ep.host, ctx.tls.verified()).await?;
        session(Conn::new(stream), t).await
    } else {
        session(Conn::new(stream), t).await
    }
}

/// The conversation over an open connection.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: Conn<S>,
    t: &KafkaTarget,
) -> Result<(), ProbeError> {
    let ranges = api_versions(&mut conn).await?;
    if let Some(sasl) = &t.sasl {
        authenticate(&mut conn, &ranges, sasl, t)
            .await
            .map_err(|e| masked(e, sasl))?;
    }
    let version = negotiate(METADATA_VERSIONS, ranges.metadata).ok_or_else(|| {
        ProbeError::transient(format!(
            "the broker takes no Metadata version from {} to {} ({})",
            METADATA_VERSIONS.0,
            METADATA_VERSIONS.1,
            shown_range(ranges.metadata)
        ))
    })?;
    let (api, body) = metadata_request(version, &t.topics);
    let response = conn
        .call(api, &body, MAX_METADATA, "Metadata")
        .await
        .map_err(|mut e| {
            if t.sasl.is_none() && e.reason.contains("closed the connection") {
                e.reason = format!(
                    "{} (a listener that requires SASL does so: give USER:PASSWORD@ and ?sasl=)",
                    e.reason
                )
                .into();
            }
            e
        })?;
    let cluster = read_metadata(&response, version, &t.topics)
        .map_err(|g| garbage(&format!("Metadata v{version}"), &g))?;
    judge(&cluster, &t.topics)
}

fn shown_range(range: Option<(i16, i16)>) -> String {
    match range {
        Some((a, b)) => format!("it takes {a} to {b}"),
        None => "it does not list the API".into(),
    }
}

/// ApiVersions, v3 first, lower when the broker says so.
async fn api_versions<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
) -> Result<Ranges, ProbeError> {
    let mut version = API_VERSIONS_FIRST;
    loop {
        let (api, body) = api_versions_request(version);
        let what = format!("ApiVersions v{version}");
        let response = conn.call(api, &body, MAX_SMALL, &what).await?;
        match read_api_versions(&response, version).map_err(|g| garbage(&what, &g))? {
            ApiVersionsAnswer::Ranges(ranges) => return Ok(ranges),
            ApiVersionsAnswer::Retry(lower) if lower < version => version = lower,
            ApiVersionsAnswer::Retry(_) => {
                return Err(ProbeError::transient(
                    "the broker takes no ApiVersions version (UNSUPPORTED_VERSION even for v0)",
                ))
            }
            ApiVersionsAnswer::Error(code) => {
                return Err(ProbeError::transient(format!(
                    "ApiVersions failed: {}",
                    error_text(code)
                )))
            }
        }
    }
}

/// SaslHandshake, then SaslAuthenticate with PLAIN or SCRAM.
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ranges: &Ranges,
    sasl: &Sasl,
    t: &KafkaTarget,
) -> Result<(), ProbeError> {
    let mechanism = sasl.mechanism.name();
    let handshake = negotiate(HANDSHAKE_VERSIONS, ranges.handshake).ok_or_else(|| {
        ProbeError::transient(format!(
            "the broker takes no SaslHandshake v1 ({}): SASL needs Kafka 1.0 or later",
            shown_range(ranges.handshake)
        ))
    })?;
    let (api, body) = handshake_request(handshake, mechanism);
    let response = conn.call(api, &body, MAX_SMALL, "SaslHandshake").await?;
    let (error, enabled) = read_handshake(&response).map_err(|g| garbage("SaslHandshake", &g))?;
    match error {
        0 => {}
        UNSUPPORTED_SASL_MECHANISM => {
            return Err(ProbeError::permanent(format!(
                "the broker does not enable SASL mechanism {mechanism} (it enables {}; UNSUPPORTED_SASL_MECHANISM, 33)",
                if enabled.is_empty() {
                    "none".to_string()
                } else {
                    enabled.join(", ")
                }
            )))
        }
        code => {
            return Err(ProbeError::transient(format!(
                "SaslHandshake failed: {}",
                error_text(code)
            )))
        }
    }
    let version = negotiate(AUTHENTICATE_VERSIONS, ranges.authenticate).ok_or_else(|| {
        ProbeError::transient(format!(
            "the broker takes no SaslAuthenticate version from 0 to 2 ({})",
            shown_range(ranges.authenticate)
        ))
    })?;
    match sasl.mechanism {
        Mechanism::Plain => {
            // RFC 4616: no authorization identity, the user, the password.
            let mut token = vec![0];
            token.extend_from_slice(sasl.user.as_bytes());
            token.push(0);
            token.extend_from_slice(&sasl.password);
            step(conn, version, &token).await.map(|_| ())
        }
        Mechanism::Scram(hash) => {
            let client = scram::Client::new(hash, &sasl.user);
            let first = step(conn, version, client.first().as_bytes()).await?;
            let challenge = client
                .challenge(&first, MAX_ITERATIONS)
                .map_err(ProbeError::transient)?;
            let keys = t
                .keys
                .keys(
                    hash,
                    sasl.password.clone(),
                    &challenge.salt,
                    challenge.iterations,
                )
                .await
                .map_err(ProbeError::transient)?;
            let (last, signature) = client.finish(&challenge, &keys);
            let end = step(conn, version, last.as_bytes()).await?;
            scram::verify_final(&end, &signature).map_err(|r| match r {
                Refusal::Refused(why) => ProbeError::permanent(format!(
                    "SASL authentication failed: the broker refused the SCRAM proof ({why})"
                )),
                Refusal::Garbage(why) => ProbeError::transient(why),
            })
        }
    }
}

/// One SaslAuthenticate round: the broker's token, or why it refused.
async fn step<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    version: i16,
    token: &[u8],
) -> Result<Vec<u8>, ProbeError> {
    let (api, body) = authenticate_request(version, token);
    let response = conn.call(api, &body, MAX_SMALL, "SaslAuthenticate").await?;
    let answer =
        read_authenticate(&response, version).map_err(|g| garbage("SaslAuthenticate", &g))?;
    if answer.error == 0 {
        return Ok(answer.token);
    }
    let message = answer
        .message
        .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    let reason = format!(
        "SASL authentication failed ({}){message}",
        error_text(answer.error)
    );
    Err(if answer.error == SASL_AUTHENTICATION_FAILED {
        ProbeError::permanent(reason)
    } else {
        ProbeError::transient(reason)
    })
}

/// The reason with the password, should the broker echo it, shown as `***`.
fn masked(mut e: ProbeError, sasl: &Sasl) -> ProbeError {
    if let Ok(password) = std::str::from_utf8(&sasl.password) {
        if !password.is_empty() && e.reason.contains(password) {
            e.reason = e.reason.replace(password, "***").into();
        }
    }
    e
}

/// Whether the cluster is ready for the target: a broker, a controller, and each
/// topic with a leader for every partition.
pub fn judge(c: &Cluster, topics: &[String]) -> Result<(), ProbeError> {
    if c.brokers == 0 {
        return Err(ProbeError::transient("the metadata lists no broker yet"));
    }
    if c.controller < 0 {
        return Err(ProbeError::transient("the cluster has no controller yet"));
    }
    for (name, state) in topics.iter().zip(&c.topics) {
        match *state {
            TopicState::Missing | TopicState::Error(UNKNOWN_TOPIC_OR_PARTITION) => {
                return Err(ProbeError::transient(format!(
                    "topic {name:?} does not exist"
                )))
            }
            TopicState::Error(TOPIC_AUTHORIZATION_FAILED) => {
                return Err(ProbeError::permanent(format!(
                    "not authorized to describe topic {name:?} (TOPIC_AUTHORIZATION_FAILED, 29)"
                )))
            }
            TopicState::Error(code) => {
                return Err(ProbeError::transient(format!(
                    "topic {name:?}: {}",
                    error_text(code)
                )))
            }
            TopicState::Partitions { count: 0, .. } => {
                return Err(ProbeError::transient(format!(
                    "topic {name:?} has no partitions yet"
                )))
            }
            TopicState::Partitions {
                leaderless: Some(p),
                ..
            } => {
                return Err(ProbeError::transient(format!(
                    "partition {p} of topic {name:?} has no leader"
                )))
            }
            TopicState::Partitions {
                error: Some((p, code)),
                ..
            } => {
                return Err(ProbeError::transient(format!(
                    "partition {p} of topic {name:?}: {}",
                    error_text(code)
                )))
            }
            TopicState::Partitions { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(count: usize) -> TopicState {
        TopicState::Partitions {
            count,
            leaderless: None,
            error: None,
        }
    }

    #[test]
    fn readiness_table() {
        let names = vec!["a".to_string()];
        let cluster = |brokers, controller, state: TopicState| Cluster {
            brokers,
            controller,
            topics: vec![state],
        };
        assert!(judge(&cluster(1, 0, ok(3)), &names).is_ok());
        let cases = [
            (cluster(0, 0, ok(1)), false, "no broker"),
            (cluster(1, -1, ok(1)), false, "no controller"),
            (cluster(1, 1, TopicState::Missing), false, "does not exist"),
            (cluster(1, 1, TopicState::Error(3)), false, "does not exist"),
            (
                cluster(1, 1, TopicState::Error(5)),
                false,
                "LEADER_NOT_AVAILABLE",
            ),
            (
                cluster(1, 1, TopicState::Error(29)),
                true,
                "TOPIC_AUTHORIZATION_FAILED",
            ),
            (cluster(1, 1, ok(0)), false, "no partitions"),
            (
                cluster(
                    1,
                    1,
                    TopicState::Partitions {
                        count: 2,
                        leaderless: Some(1),
                        error: None,
                    },
                ),
                false,
                "partition 1 of topic \"a\" has no leader",
            ),
            (
                cluster(
                    1,
                    1,
                    TopicState::Partitions {
                        count: 2,
                        leaderless: None,
                        error: Some((0, 72)),
                    },
                ),
                false,
                "LISTENER_NOT_FOUND",
            ),
        ];
        for (c, permanent, why) in cases {
            let e = judge(&c, &names).unwrap_err();
            assert_eq!(e.is_permanent(), permanent, "{e}");
            assert!(e.reason.contains(why), "{e}");
        }
    }

    #[test]
    fn an_echoed_password_is_masked() {
        let sasl = Sasl {
            mechanism: Mechanism::Plain,
            user: "u".into(),
            password: std::sync::Arc::from(&b"s3cret"[..]),
        };
        let e = masked(ProbeError::permanent("bad password s3cret for u"), &sasl);
        assert_eq!(e.reason, "bad password *** for u");
    }
}
