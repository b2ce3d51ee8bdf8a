//! The four Kafka requests the probe sends and the responses it reads, written from
//! the message schemas of Apache Kafka (clients/src/main/resources/common/message:
//! ApiVersions, Metadata, SaslHandshake, SaslAuthenticate), for every version the
//! probe may choose.
//!
//! Metadata never names a topic in a version before 4: before 4 the request has no
//! `AllowAutoTopicCreation` field, and a broker with `auto.create.topics.enable`
//! creates every topic such a request names. [`metadata_request`] then asks for
//! every topic, and the probe looks for its names in the answer; from version 4 on
//! it names them with `AllowAutoTopicCreation` false.

use super::codec::{Api, Garbage, Reader, Writer};

/// The API key of Metadata.
pub const METADATA: i16 = 3;
/// The API key of SaslHandshake.
pub const SASL_HANDSHAKE: i16 = 17;
/// The API key of ApiVersions.
pub const API_VERSIONS: i16 = 18;
/// The API key of SaslAuthenticate.
pub const SASL_AUTHENTICATE: i16 = 36;

/// The Metadata versions the probe speaks (1 is the first with the controller).
pub const METADATA_VERSIONS: (i16, i16) = (1, 12);
/// The SaslHandshake versions the probe speaks (1: SaslAuthenticate follows).
pub const HANDSHAKE_VERSIONS: (i16, i16) = (1, 1);
/// The SaslAuthenticate versions the probe speaks.
pub const AUTHENTICATE_VERSIONS: (i16, i16) = (0, 2);
/// The ApiVersions version asked first, as the clients do (the first flexible one).
pub const API_VERSIONS_FIRST: i16 = 3;

/// The error code of UNSUPPORTED_VERSION.
pub const UNSUPPORTED_VERSION: i16 = 35;

/// The highest version both sides speak, if any: `ours` and the broker's range.
pub fn negotiate(ours: (i16, i16), theirs: Option<(i16, i16)>) -> Option<i16> {
    let (min, max) = theirs?;
    let v = ours.1.min(max);
    (v >= ours.0.max(min)).then_some(v)
}

/// The broker's version ranges of the APIs the probe uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ranges {
    /// Metadata.
    pub metadata: Option<(i16, i16)>,
    /// SaslHandshake.
    pub handshake: Option<(i16, i16)>,
    /// SaslAuthenticate.
    pub authenticate: Option<(i16, i16)>,
    /// ApiVersions itself.
    pub api_versions: Option<(i16, i16)>,
}

/// ApiVersions at `version` (0 to 3): the client's name and version from 3 on.
pub fn api_versions_request(version: i16) -> (Api, Vec<u8>) {
    let flexible = version >= 3;
    let mut w = Writer::default();
    if flexible {
        w.string(super::codec::CLIENT_ID, true);
        w.string(env!("CARGO_PKG_VERSION"), true);
        w.no_tags();
    }
    let api = Api {
        key: API_VERSIONS,
        version,
        flexible,
        // The one exception of the protocol: ApiVersions answers with header v0,
        // so that a client can read the error of any version it tried.
        flexible_response_header: false,
    };
    (api, w.bytes)
}

/// What the broker said to ApiVersions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiVersionsAnswer {
    /// Its ranges.
    Ranges(Ranges),
    /// UNSUPPORTED_VERSION: ask again at this version (the highest the broker
    /// said it takes, or 0).
    Retry(i16),
    /// Another error code.
    Error(i16),
}

/// Reads an ApiVersions response to a request at `version`.
pub fn read_api_versions(body: &[u8], version: i16) -> Result<ApiVersionsAnswer, Garbage> {
    let error = Reader::new(body, false).i16("the error code")?;
    if error == UNSUPPORTED_VERSION {
        // The broker answers in version 0 (KIP-511: with its ApiVersions range).
        let retry = read_ranges(body, 0)
            .ok()
            .and_then(|r| negotiate((0, API_VERSIONS_FIRST), r.api_versions))
            .filter(|v| *v < version)
            .unwrap_or(0);
        return Ok(ApiVersionsAnswer::Retry(retry));
    }
    if error != 0 {
        return Ok(ApiVersionsAnswer::Error(error));
    }
    read_ranges(body, version).map(ApiVersionsAnswer::Ranges)
}

fn read_ranges(body: &[u8], version: i16) -> Result<Ranges, Garbage> {
    let mut r = Reader::new(body, version >= 3);
    r.i16("the error code")?;
    let n = r.array(6, "the API keys")?.unwrap_or(0);
    let mut ranges = Ranges::default();
    for _ in 0..n {
        let key = r.i16("an API key")?;
        let range = (r.i16("a minimum version")?, r.i16("a maximum version")?);
        r.tags("an API key")?;
        match key {
            METADATA => ranges.metadata = Some(range),
            SASL_HANDSHAKE => ranges.handshake = Some(range),
            API_VERSIONS => ranges.api_versions = Some(range),
            SASL_AUTHENTICATE => ranges.authenticate = Some(range),
            _ => {}
        }
    }
    if version >= 1 {
        r.i32("the throttle time")?;
    }
    r.tags("the response")?;
    Ok(ranges)
}

/// Metadata at `version` for the topics `named`: those names from version 4 on
/// (with `AllowAutoTopicCreation` false); before 4, every topic when some are
/// named (naming them could create them); no topic when none is.
pub fn metadata_request(version: i16, named: &[String]) -> (Api, Vec<u8>) {
    let flexible = version >= 9;
    let mut w = Writer::default();
    if named.is_empty() {
        w.array_len(Some(0), flexible);
    } else if version < 4 {
        w.array_len(None, flexible);
    } else {
        w.array_len(Some(named.len()), flexible);
        for name in named {
            if version >= 10 {
                w.bytes.extend_from_slice(&[0; 16]);
            }
            w.string(name, flexible);
            if flexible {
                w.no_tags();
            }
        }
    }
    if version >= 4 {
        // Never create a topic.
        w.i8(0);
    }
    if (8..=10).contains(&version) {
        w.i8(0);
    }
    if version >= 8 {
        w.i8(0);
    }
    if flexible {
        w.no_tags();
    }
    let api = Api {
        key: METADATA,
        version,
        flexible,
        flexible_response_header: flexible,
    };
    (api, w.bytes)
}

/// What Metadata says of one topic the probe waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicState {
    /// Not in the answer (every topic was asked for).
    Missing,
    /// A topic-level error code.
    Error(i16),
    /// Its partitions.
    Partitions {
        /// How many.
        count: usize,
        /// The first partition without a leader (leader -1), if any.
        leaderless: Option<i32>,
        /// The first partition with an error other than REPLICA_NOT_AVAILABLE
        /// (9, which comes with a leader), and its code.
        error: Option<(i32, i16)>,
    },
}

/// What the probe reads from Metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// How many brokers it lists.
    pub brokers: usize,
    /// The controller's ID, -1 for none.
    pub controller: i32,
    /// The state of each topic waited for, in the order given.
    pub topics: Vec<TopicState>,
}

/// The error code of REPLICA_NOT_AVAILABLE (a partition with a leader, some
/// replica offline: served).
const REPLICA_NOT_AVAILABLE: i16 = 9;

/// Reads a Metadata response at `version`, keeping what concerns `wanted`.
pub fn read_metadata(body: &[u8], version: i16, wanted: &[String]) -> Result<Cluster, Garbage> {
    let mut r = Reader::new(body, version >= 9);
    if version >= 3 {
        r.i32("the throttle time")?;
    }
    // A broker is at least an ID, a host's length and a port.
    let brokers = r.array(10, "the brokers")?.unwrap_or(0);
    for _ in 0..brokers {
        r.i32("a broker's ID")?;
        r.skip_string("a broker's host")?;
        r.i32("a broker's port")?;
        if version >= 1 {
            r.skip_string("a broker's rack")?;
        }
        r.tags("a broker")?;
    }
    if version >= 2 {
        r.skip_string("the cluster ID")?;
    }
    let controller = if version >= 1 {
        r.i32("the controller ID")?
    } else {
        -1
    };
    let mut topics = vec![TopicState::Missing; wanted.len()];
    let n = r.array(8, "the topics")?.unwrap_or(0);
    for _ in 0..n {
        let error = r.i16("a topic's error code")?;
        let mut which = None;
        {
            let mut peek = r.clone();
            if let Some(name) = peek.string("a topic's name")? {
                which = wanted.iter().position(|w| *w == name);
            }
        }
        r.skip_string("a topic's name")?;
        if version >= 10 {
            r.skip(16, "a topic's ID")?;
        }
        if version >= 1 {
            r.i8("a topic's internal flag")?;
        }
        let partitions = r.array(14, "a topic's partitions")?.unwrap_or(0);
        let (mut leaderless, mut perror) = (None, None);
        for _ in 0..partitions {
            let code = r.i16("a partition's error code")?;
            let index = r.i32("a partition's index")?;
            let leader = r.i32("a partition's leader")?;
            if version >= 7 {
                r.i32("a partition's leader epoch")?;
            }
            r.skip_i32s("a partition's replicas")?;
            r.skip_i32s("a partition's in-sync replicas")?;
            if version >= 5 {
                r.skip_i32s("a partition's offline replicas")?;
            }
            r.tags("a partition")?;
            if leader < 0 && leaderless.is_none() {
                leaderless = Some(index);
            }
            if code != 0 && code != REPLICA_NOT_AVAILABLE && perror.is_none() {
                perror = Some((index, code));
            }
        }
        if version >= 8 {
            r.i32("a topic's authorized operations")?;
        }
        r.tags("a topic")?;
        if let Some(i) = which {
            topics[i] = if error != 0 {
                TopicState::Error(error)
            } else {
                TopicState::Partitions {
                    count: partitions,
                    leaderless,
                    error: perror,
                }
            };
        }
    }
    if (8..=10).contains(&version) {
        r.i32("the cluster's authorized operations")?;
    }
    r.tags("the response")?;
    Ok(Cluster {
        brokers,
        controller,
        topics,
    })
}

/// SaslHandshake v1 for `mechanism`.
pub fn handshake_request(version: i16, mechanism: &str) -> (Api, Vec<u8>) {
    let mut w = Writer::default();
    w.string(mechanism, false);
    let api = Api {
        key: SASL_HANDSHAKE,
        version,
        flexible: false,
        flexible_response_header: false,
    };
    (api, w.bytes)
}

/// The most mechanism names kept from a SaslHandshake response (for the reason).
pub const MAX_MECHANISMS: usize = 16;

/// Reads a SaslHandshake response: its error code and the mechanisms the broker
/// enables (at most [`MAX_MECHANISMS`], each at most 64 characters).
pub fn read_handshake(body: &[u8]) -> Result<(i16, Vec<String>), Garbage> {
    let mut r = Reader::new(body, false);
    let error = r.i16("the error code")?;
    let n = r.array(2, "the mechanisms")?.unwrap_or(0);
    let mut mechanisms = Vec::new();
    for _ in 0..n {
        let name = r.string("a mechanism")?.unwrap_or_default();
        if mechanisms.len() < MAX_MECHANISMS {
            mechanisms.push(name.chars().take(64).collect());
        }
    }
    Ok((error, mechanisms))
}

/// SaslAuthenticate at `version` carrying `token`.
pub fn authenticate_request(version: i16, token: &[u8]) -> (Api, Vec<u8>) {
    let flexible = version >= 2;
    let mut w = Writer::default();
    w.bytes(token, flexible);
    if flexible {
        w.no_tags();
    }
    let api = Api {
        key: SASL_AUTHENTICATE,
        version,
        flexible,
        flexible_response_header: flexible,
    };
    (api, w.bytes)
}

/// What a broker answered to SaslAuthenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The error code.
    pub error: i16,
    /// Its message, if any.
    pub message: Option<String>,
    /// The mechanism's next token.
    pub token: Vec<u8>,
}

/// Reads a SaslAuthenticate response at `version`.
pub fn read_authenticate(body: &[u8], version: i16) -> Result<Authenticated, Garbage> {
    let mut r = Reader::new(body, version >= 2);
    let error = r.i16("the error code")?;
    let message = r.string("the error message")?;
    let token = r
        .bytes("the authentication bytes")?
        .unwrap_or_default()
        .to_vec();
    if version >= 1 {
        r.skip(8, "the session lifetime")?;
    }
    r.tags("the response")?;
    Ok(Authenticated {
        error,
        message,
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_negotiated_as_the_clients_do() {
        assert_eq!(negotiate(METADATA_VERSIONS, Some((0, 13))), Some(12));
        assert_eq!(negotiate(METADATA_VERSIONS, Some((0, 7))), Some(7));
        assert_eq!(negotiate(METADATA_VERSIONS, Some((0, 0))), None);
        assert_eq!(negotiate(METADATA_VERSIONS, Some((13, 14))), None);
        assert_eq!(negotiate(METADATA_VERSIONS, None), None);
    }

    #[test]
    fn metadata_names_topics_only_from_version_4() {
        let t = vec!["orders".to_string()];
        // v1-v3: a null array (all topics), nothing else.
        for v in 1..4 {
            assert_eq!(metadata_request(v, &t).1, [0xff, 0xff, 0xff, 0xff], "v{v}");
            assert_eq!(metadata_request(v, &[]).1, [0, 0, 0, 0], "v{v}");
        }
        // v4: the name, then AllowAutoTopicCreation false.
        let (_, b) = metadata_request(4, &t);
        assert_eq!(b, [&[0, 0, 0, 1, 0, 6][..], b"orders", &[0]].concat());
        // v12: compact, a zero topic ID, tags, three false flags... two (v11+).
        let (api, b) = metadata_request(12, &t);
        assert!(api.flexible && api.flexible_response_header);
        let mut want = vec![2];
        want.extend_from_slice(&[0; 16]);
        want.push(7);
        want.extend_from_slice(b"orders");
        want.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(b, want);
        // v9/v10: IncludeClusterAuthorizedOperations too.
        assert_eq!(metadata_request(9, &[]).1, [1, 0, 0, 0, 0]);
    }

    #[test]
    fn unsupported_version_asks_again_lower() {
        // v0 body: error 35, one key (ApiVersions 0-2).
        let body = [0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 2];
        assert_eq!(
            read_api_versions(&body, 3).unwrap(),
            ApiVersionsAnswer::Retry(2)
        );
        // Without a range (before KIP-511): version 0.
        assert_eq!(
            read_api_versions(&[0, 35, 0, 0, 0, 0], 3).unwrap(),
            ApiVersionsAnswer::Retry(0)
        );
        assert_eq!(
            read_api_versions(&[0, 42], 3).unwrap(),
            ApiVersionsAnswer::Error(42)
        );
    }

    #[test]
    fn api_versions_v3_is_read() {
        // error 0, 2 keys (compact: 3), Metadata 0-12, ApiVersions 0-4, throttle, tags.
        let body = [
            0, 0, 3, 0, 3, 0, 0, 0, 12, 0, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0,
        ];
        let ApiVersionsAnswer::Ranges(r) = read_api_versions(&body, 3).unwrap() else {
            panic!()
        };
        assert_eq!(r.metadata, Some((0, 12)));
        assert_eq!(r.api_versions, Some((0, 4)));
        assert_eq!(r.handshake, None);
    }

    fn metadata_v1(controller: i32, topic: &str, leader: i32) -> Vec<u8> {
        let mut w = Writer::default();
        w.i32(1); // one broker
        w.i32(1);
        w.string("b1", false);
        w.i32(9092);
        w.i16(-1); // rack null
        w.i32(controller);
        w.i32(1); // one topic
        w.i16(0);
        w.string(topic, false);
        w.i8(0);
        w.i32(1); // one partition
        w.i16(0);
        w.i32(0);
        w.i32(leader);
        w.i32(1);
        w.i32(1);
        w.i32(0);
        w.bytes
    }

    #[test]
    fn metadata_v1_is_read() {
        let wanted = vec!["t".to_string(), "u".to_string()];
        let c = read_metadata(&metadata_v1(1, "t", 1), 1, &wanted).unwrap();
        assert_eq!((c.brokers, c.controller), (1, 1));
        assert_eq!(
            c.topics,
            [
                TopicState::Partitions {
                    count: 1,
                    leaderless: None,
                    error: None
                },
                TopicState::Missing
            ]
        );
        let c = read_metadata(&metadata_v1(-1, "t", -1), 1, &wanted).unwrap();
        assert_eq!(c.controller, -1);
        assert!(matches!(
            c.topics[0],
            TopicState::Partitions {
                leaderless: Some(0),
                ..
            }
        ));
        let mut cut = metadata_v1(1, "t", 1);
        cut.truncate(cut.len() - 3);
        assert!(read_metadata(&cut, 1, &wanted).is_err());
    }

    #[test]
    fn fuzz_kafka_responses() {
        use crate::probe::wire::fuzz::{assert_reason, outcome, run};
        let wanted = vec!["t".to_string()];
        let seeds = vec![
            metadata_v1(1, "t", 1),
            vec![
                0, 0, 3, 0, 3, 0, 0, 0, 12, 0, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0,
            ],
            vec![0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 2],
            [&[0, 0, 0, 0, 0, 1, 0, 5][..], b"PLAIN"].concat(),
        ];
        run("kafka_responses", &seeds, 1024, |input, case| {
            let version = (case % 13) as i16;
            let metadata = read_metadata(input, version, &wanted);
            for reason in [
                metadata.as_ref().err(),
                read_api_versions(input, version.min(3)).as_ref().err(),
                read_handshake(input).as_ref().err(),
                read_authenticate(input, version.min(2)).as_ref().err(),
            ]
            .into_iter()
            .flatten()
            {
                assert_reason(reason);
            }
            outcome(&metadata)
        });
    }
}
