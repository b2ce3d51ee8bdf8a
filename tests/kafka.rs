//! Kafka targets (`kafka://`, `kafkas://`) against a fake broker written from the
//! protocol's specification (tests/common/kafka.rs), first checked with the real
//! clients: kcat and confluent-kafka (librdkafka) and kafka-python must accept it,
//! with and without SASL, and refuse a wrong password as they refuse a broker's.

mod common;
use common::kafka::{kcat, python, KafkaFake, SaslConf, State, Topic};
use common::*;
use std::time::Duration;

const PW: &str = "kafka-Canary-9c2d";

fn sasl(mechanisms: &[&str]) -> SaslConf {
    SaslConf {
        mechanisms: mechanisms.iter().map(|s| s.to_string()).collect(),
        user: "app".into(),
        password: PW.into(),
        iterations: 4096,
        lenient_nonce: false,
    }
}

fn cluster() -> State {
    State {
        topics: vec![Topic::led("orders", 3), Topic::led("events", 1)],
        ..State::default()
    }
}

// ---------------------------------------------------------------- the fake, checked

#[test]
fn kcat_lists_the_fake_cluster() {
    let k = KafkaFake::start(cluster(), None);
    let (ok, out) = kcat(&k.addr(), &[]);
    assert!(ok, "{out}");
    assert!(out.contains("1 brokers:"), "{out}");
    assert!(
        out.contains(&format!("broker 1 at {} (controller)", k.addr())),
        "{out}"
    );
    assert!(out.contains("topic \"orders\" with 3 partitions"), "{out}");
    assert!(out.contains("topic \"events\" with 1 partitions"), "{out}");
    assert!(k.created().is_empty());
}

#[test]
fn kcat_logs_in_with_sasl_and_is_refused_a_wrong_password() {
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let k = KafkaFake::start(
            State {
                sasl: Some(sasl(&[mechanism])),
                ..cluster()
            },
            None,
        );
        let settings = |pw: &'static str| {
            vec![
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanisms", mechanism),
                ("sasl.username", "app"),
                ("sasl.password", pw),
            ]
        };
        if mechanism.starts_with("SCRAM") {
            // Debian 12's librdkafka (2.0.2) repeats its nonce in its final SCRAM
            // message (librdkafka#4895, fixed in 2.6.1): Kafka 4 refuses it, as this
            // fake does by default; Kafka 3.8.1 to 3.9 accept it, and so does the
            // fake when told to.
            let (ok, out) = kcat(&k.addr(), &settings(PW));
            assert!(!ok, "{mechanism}: {out}");
            assert!(out.contains("Authentication failed"), "{mechanism}: {out}");
            k.set(|s| s.sasl.as_mut().unwrap().lenient_nonce = true);
        }
        let (ok, out) = kcat(&k.addr(), &settings(PW));
        assert!(ok, "{mechanism}: {out}");
        assert!(
            out.contains("topic \"orders\" with 3 partitions"),
            "{mechanism}: {out}"
        );
        let (ok, out) = kcat(&k.addr(), &settings("wrong-password"));
        assert!(!ok, "{mechanism}: {out}");
        assert!(out.contains("Authentication failed"), "{mechanism}: {out}");
    }
}

#[test]
fn kcat_reads_the_fake_over_tls() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let k = KafkaFake::start(cluster(), Some(&certs));
    let ca = certs.ca.to_str().unwrap().to_string();
    let (ok, out) = kcat(
        &k.addr(),
        &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
    );
    assert!(ok, "{out}");
    assert!(out.contains("topic \"orders\""), "{out}");
}

/// confluent-kafka's AdminClient.list_topics() (the wheel's own librdkafka).
fn confluent(addr: &str, extra: &str) -> (bool, String) {
    python(&format!(
        r#"
from confluent_kafka.admin import AdminClient
a = AdminClient({{"bootstrap.servers": "{addr}", "socket.timeout.ms": 5000 {extra}}})
md = a.list_topics(timeout=10)
print("topics", sorted(md.topics), "controller", md.controller_id, "brokers", len(md.brokers))
for t in sorted(md.topics):
    print(t, len(md.topics[t].partitions), [p.leader for p in md.topics[t].partitions.values()])
"#
    ))
}

#[test]
fn confluent_kafka_lists_the_topics_with_and_without_sasl() {
    let k = KafkaFake::start(cluster(), None);
    let (ok, out) = confluent(&k.addr(), "");
    assert!(ok, "{out}");
    assert!(
        out.contains("topics ['events', 'orders'] controller 1 brokers 1"),
        "{out}"
    );
    assert!(out.contains("orders 3 [1, 1, 1]"), "{out}");
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let k = KafkaFake::start(
            State {
                sasl: Some(sasl(&[mechanism])),
                ..cluster()
            },
            None,
        );
        let conf = |pw: &str| {
            format!(
                r#", "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "{mechanism}", "sasl.username": "app", "sasl.password": "{pw}""#
            )
        };
        let (ok, out) = confluent(&k.addr(), &conf(PW));
        assert!(ok, "{mechanism}: {out}");
        assert!(out.contains("controller 1 brokers 1"), "{mechanism}: {out}");
        let (ok, out) = confluent(&k.addr(), &conf("wrong-password"));
        assert!(!ok, "{mechanism}: {out}");
        assert!(out.contains("Authentication failed"), "{mechanism}: {out}");
    }
}

/// kafka-python's KafkaAdminClient: list_topics() and describe_cluster().
fn kafka_python(addr: &str, extra: &str) -> (bool, String) {
    python(&format!(
        r#"
import logging
logging.basicConfig(level=logging.ERROR)
from kafka import KafkaAdminClient
a = KafkaAdminClient(bootstrap_servers="{addr}", request_timeout_ms=10000, bootstrap_timeout_ms=5000 {extra})
print("topics", sorted(a.list_topics()))
c = a.describe_cluster()
print("controller", c["controller_id"], "brokers", len(c["brokers"]))
a.close()
"#
    ))
}

#[test]
fn kafka_python_lists_the_topics_with_and_without_sasl() {
    let k = KafkaFake::start(cluster(), None);
    let (ok, out) = kafka_python(&k.addr(), "");
    assert!(ok, "{out}");
    assert!(out.contains("topics ['events', 'orders']"), "{out}");
    assert!(out.contains("controller 1 brokers 1"), "{out}");
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let k = KafkaFake::start(
            State {
                sasl: Some(sasl(&[mechanism])),
                ..cluster()
            },
            None,
        );
        let conf = |pw: &str| {
            format!(
                r#", security_protocol="SASL_PLAINTEXT", sasl_mechanism="{mechanism}", sasl_plain_username="app", sasl_plain_password="{pw}""#
            )
        };
        let (ok, out) = kafka_python(&k.addr(), &conf(PW));
        assert!(ok, "{mechanism}: {out}");
        assert!(
            out.contains("topics ['events', 'orders']"),
            "{mechanism}: {out}"
        );
        let (ok, out) = kafka_python(&k.addr(), &conf("wrong-password"));
        assert!(!ok, "{mechanism}: {out}");
        assert!(out.contains("uthentication"), "{mechanism}: {out}");
    }
}

// ---------------------------------------------------------------- whenready

fn url(k: &KafkaFake, query: &str) -> String {
    format!("kafka://{}{query}", k.addr())
}

fn scram_url(k: &KafkaFake, pw: &str, mechanism: &str, query: &str) -> String {
    format!("kafka://app:{pw}@{}?sasl={mechanism}{query}", k.addr())
}

#[test]
fn ready_then_command_runs_and_no_topic_is_created() {
    let k = KafkaFake::start(cluster(), None);
    let r = wr(&[&url(&k, "?topic=orders,events"), "--", "echo", "ran"]);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    assert!(r.stderr.contains("ready after"), "{r:?}");
    let log = k.log();
    // ApiVersions v3, then Metadata v12 naming the topics, never creating one.
    assert_eq!((log[0].key, log[0].version), (18, 3), "{log:?}");
    let md = log.iter().find(|l| l.key == 3).unwrap();
    assert_eq!(md.version, 12);
    assert_eq!(md.topics, Some(vec!["orders".into(), "events".into()]));
    assert_eq!(md.allow_auto, Some(false));
    assert!(k.created().is_empty());
}

#[test]
fn a_missing_topic_is_waited_for_and_never_created() {
    let k = KafkaFake::start(cluster(), None);
    let mut w = Watched::spawn(whenready().args([
        "-t",
        "20s",
        &url(&k, "?topic=late"),
        "--",
        "echo",
        "ran",
    ]));
    let start = std::time::Instant::now();
    w.wait_for_line("topic \"late\" does not exist", Duration::from_secs(10));
    assert!(k.created().is_empty(), "the probe created the topic");
    k.set(|s| s.topics.push(Topic::led("late", 2)));
    let r = w.finish(start, Duration::from_secs(20));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    assert!(k.created().is_empty());
}

#[test]
fn a_broker_that_starts_late_and_a_controller_that_comes_late() {
    let port = free_port();
    let target = format!("kafka://127.0.0.1:{port}");
    let mut w = Watched::spawn(whenready().args(["-t", "20s", &target, "--", "echo", "ran"]));
    let start = std::time::Instant::now();
    w.wait_for_line("connection refused", Duration::from_secs(10));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let k = KafkaFake::on(
        listener,
        State {
            controller: -1,
            ..cluster()
        },
        None,
    );
    w.wait_for_line("the cluster has no controller yet", Duration::from_secs(10));
    k.set(|s| s.controller = 1);
    let r = w.finish(start, Duration::from_secs(20));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
}

#[test]
fn never_ready_exits_1_with_the_reason() {
    assert_never_started(
        &format!("kafka://127.0.0.1:{}", free_port()),
        &format!("kafkas://127.0.0.1:{}", free_port()),
    );
    let mut state = cluster();
    state.topics.push(Topic {
        name: "leaderless".into(),
        error: 0,
        partitions: vec![(0, 1), (1, -1)],
    });
    let k = KafkaFake::start(state, None);
    for (query, reason) in [
        ("?topic=nope", "topic \"nope\" does not exist"),
        (
            "?topic=orders,leaderless",
            "partition 1 of topic \"leaderless\" has no leader",
        ),
    ] {
        let r = wr(&["-t", "1s", &url(&k, query), "--", "echo", "ran"]);
        assert_exited(&r, 1);
        assert_eq!(r.stdout, "");
        assert!(r.stderr.contains(reason), "{reason}: {r:?}");
    }
    let no_brokers = KafkaFake::start(cluster(), None);
    no_brokers.set(|s| s.brokers.clear());
    let r = wr(&["-t", "1s", &url(&no_brokers, "")]);
    assert_exited(&r, 1);
    assert!(
        r.stderr.contains("the metadata lists no broker yet"),
        "{r:?}"
    );
    assert!(k.created().is_empty());
}

#[test]
fn once_exits_0_or_1() {
    let k = KafkaFake::start(cluster(), None);
    let r = wr(&["--once", &url(&k, "?topic=orders")]);
    assert_exited(&r, 0);
    let r = wr(&["--once", &url(&k, "?topic=missing")]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("does not exist"), "{r:?}");
    let r = wr(&["--once", &format!("kafka://127.0.0.1:{}", free_port())]);
    assert_exited(&r, 1);
}

#[test]
fn sasl_logs_in_with_each_mechanism() {
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let k = KafkaFake::start(
            State {
                sasl: Some(sasl(&["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])),
                ..cluster()
            },
            None,
        );
        let lower = mechanism.to_ascii_lowercase();
        let r = wr(&["--once", &scram_url(&k, PW, &lower, "&topic=orders")]);
        assert_exited(&r, 0);
        assert!(r.stderr.contains("kafka://app:***@"), "{r:?}");
        assert_no_secret(&r, PW);
        let keys: Vec<i16> = k.log().iter().map(|l| l.key).collect();
        let rounds = if mechanism == "PLAIN" { 1 } else { 2 };
        let mut want = vec![18, 17];
        want.extend(std::iter::repeat_n(36, rounds));
        want.push(3);
        assert_eq!(keys, want, "{mechanism}");
    }
}

#[test]
fn a_rejected_login_is_permanent_and_never_printed() {
    let wrong = "Wrong-kafka-Canary-31";
    for mechanism in ["plain", "scram-sha-256", "scram-sha-512"] {
        let k = KafkaFake::start(
            State {
                sasl: Some(sasl(&["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])),
                ..cluster()
            },
            None,
        );
        let target = scram_url(&k, wrong, mechanism, "");
        for r in &assert_permanent(&target, "SASL_AUTHENTICATION_FAILED, 58") {
            assert_no_secret(r, wrong);
        }
    }
}

#[test]
fn other_permanent_failures() {
    // A topic the user may not describe.
    let k = KafkaFake::start(
        State {
            denied: vec!["secret-topic".into()],
            topics: vec![Topic::led("secret-topic", 1)],
            ..State::default()
        },
        None,
    );
    let r = wr(&["-t", "30s", &url(&k, "?topic=secret-topic")]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("TOPIC_AUTHORIZATION_FAILED, 29"), "{r:?}");
    // A mechanism the broker does not enable: it says which it does.
    let k = KafkaFake::start(
        State {
            sasl: Some(sasl(&["SCRAM-SHA-512"])),
            ..cluster()
        },
        None,
    );
    let r = wr(&["-t", "30s", &scram_url(&k, PW, "plain", "")]);
    assert_exited(&r, 3);
    assert!(
        r.stderr
            .contains("does not enable SASL mechanism PLAIN (it enables SCRAM-SHA-512"),
        "{r:?}"
    );
    assert_no_secret(&r, PW);
}

#[test]
fn a_sasl_listener_without_credentials_is_waited_on_with_a_hint() {
    let k = KafkaFake::start(
        State {
            sasl: Some(sasl(&["SCRAM-SHA-512"])),
            ..cluster()
        },
        None,
    );
    let r = wr(&["-t", "1s", &url(&k, "")]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("requires SASL"), "{r:?}");
}

#[test]
fn old_brokers_are_asked_in_their_versions() {
    // ApiVersions: UNSUPPORTED_VERSION with the range (KIP-511), then without.
    for (kip511, second) in [(true, 2), (false, 0)] {
        let k = KafkaFake::start(
            State {
                api_versions_max: 2,
                kip511,
                ..cluster()
            },
            None,
        );
        let r = wr(&["--once", &url(&k, "?topic=orders")]);
        assert_exited(&r, 0);
        let versions: Vec<(i16, i16)> = k.log().iter().map(|l| (l.key, l.version)).collect();
        assert_eq!(versions, [(18, 3), (18, second), (3, 12)]);
    }
    // Metadata before v4 names no topic: it asks for all of them, so a broker that
    // creates topics creates none.
    let k = KafkaFake::start(
        State {
            metadata_max: 3,
            auto_create: true,
            ..cluster()
        },
        None,
    );
    let r = wr(&["--once", &url(&k, "?topic=orders")]);
    assert_exited(&r, 0);
    let r = wr(&["--once", &url(&k, "?topic=not-yet")]);
    assert_exited(&r, 1);
    assert!(
        r.stderr.contains("topic \"not-yet\" does not exist"),
        "{r:?}"
    );
    for l in k.log().iter().filter(|l| l.key == 3) {
        assert_eq!((l.version, &l.topics), (3, &None), "{l:?}");
    }
    assert!(k.created().is_empty());
    // Without topics: an empty list (none), at v3 too.
    let r = wr(&["--once", &url(&k, "")]);
    assert_exited(&r, 0);
    assert_eq!(k.log().last().unwrap().topics, Some(vec![]));
}

#[test]
fn bootstrap_brokers_are_tried_at_once() {
    let k = KafkaFake::start(cluster(), None);
    // A port that refuses, one that never answers, and the broker.
    let silent_broker = Fake::start(silent);
    let target = format!(
        "kafka://127.0.0.1:{},{},{}?topic=orders",
        free_port(),
        silent_broker.addr(),
        k.addr()
    );
    let r = wr(&["--once", &target]);
    assert_exited(&r, 0);
    assert!(r.elapsed < Duration::from_secs(4), "{r:?}");
    // All down: each says why, by name.
    let target = format!("kafka://127.0.0.1:{},{}", free_port(), silent_broker.addr());
    let r = wr(&["--once", "--attempt-timeout", "1s", &target]);
    assert_exited(&r, 1);
}

#[test]
fn kafkas_verifies_the_certificate() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let k = KafkaFake::start(cluster(), Some(&certs));
    let target = format!("kafkas://localhost:{}?topic=orders", k.fake.port);
    let ca = certs.ca.to_str().unwrap();
    let r = wr(&["--once", "--cacert", ca, &target]);
    assert_exited(&r, 0);
    let r = wr(&["-t", "30s", &target]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("certificate"), "{r:?}");
    // A client certificate is presented when given (the fake does not ask).
    let r = wr(&[
        "--once",
        "--cacert",
        ca,
        "--cert",
        certs.client_cert.to_str().unwrap(),
        "--key",
        certs.client_key.to_str().unwrap(),
        &target,
    ]);
    assert_exited(&r, 0);
}

#[test]
fn malformed_targets_exit_2_naming_them() {
    for (target, needle) in [
        ("kafka://", "missing host"),
        ("kafka://h:99999", "invalid port"),
        ("kafka://h?topic=bad%20name", "invalid topic name"),
        ("kafka://app:Hidden-Canary@h", "need a SASL mechanism"),
        (
            "kafka://app:Hidden-Canary@h?sasl=gssapi",
            "unknown SASL mechanism",
        ),
        ("kafka://h?tpoic=x", "unknown parameter"),
        ("kafka://h/path", "no path"),
        ("kafka://a,,b", "empty host"),
    ] {
        let r = wr(&[target]);
        assert_exited(&r, 2);
        assert!(r.stderr.contains(needle), "{target}: {r:?}");
        assert!(r.stderr.contains("invalid target"), "{target}: {r:?}");
        assert_no_secret(&r, "Hidden-Canary");
        assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    }
}

// ---------------------------------------------------------------- hostile peers

mod hostile_peers {
    use super::common::hostile::{
        self, assert_bounded_memory, assert_no_forged_line, assert_within_deadline, attack,
        endless, Measured,
    };
    use super::common::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    const PW: &str = "hostile-kafka-Canary-77";
    const FIVE: Duration = Duration::from_secs(5);

    /// Reads one request; returns its API key and correlation ID.
    fn request(s: &mut TcpStream) -> Option<(i16, i32)> {
        let mut size = [0u8; 4];
        s.read_exact(&mut size).ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(size).clamp(0, 1 << 20) as usize];
        s.read_exact(&mut body).ok()?;
        let key = i16::from_be_bytes([body[0], body[1]]);
        let id = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
        Some((key, id))
    }

    /// A size-prefixed frame.
    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as i32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    /// A valid ApiVersions v3 response (header v0): Metadata 0-12, SaslHandshake
    /// 0-1, ApiVersions 0-4, SaslAuthenticate 0-2.
    fn api_versions(id: i32) -> Vec<u8> {
        let mut b = id.to_be_bytes().to_vec();
        b.extend_from_slice(&[0, 0, 5]);
        for (k, max) in [(3i16, 12i16), (17, 1), (18, 4), (36, 2)] {
            b.extend_from_slice(&k.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&max.to_be_bytes());
            b.push(0);
        }
        b.extend_from_slice(&[0, 0, 0, 0, 0]);
        frame(&b)
    }

    /// A broker that answers ApiVersions, then every other request with `attack`.
    fn broker(attack: fn(&mut TcpStream, i16, i32)) -> Fake {
        Fake::start(move |mut s, _| {
            while let Some((key, id)) = request(&mut s) {
                if key == 18 {
                    if s.write_all(&api_versions(id)).is_err() {
                        return;
                    }
                } else {
                    attack(&mut s, key, id);
                    return;
                }
            }
        })
    }

    /// The shared checks, and no line a peer forged.
    fn assert_held(m: &Measured, reason: &str) {
        hostile::assert_held(m, FIVE, reason, PW);
        assert_no_forged_line(&m.run, "whenready: forged", 2048);
    }

    #[test]
    fn a_response_of_two_gigabytes() {
        let fake = Fake::start(|mut s, _| {
            if request(&mut s).is_some() {
                let _ = s.write_all(&0x7fff_ffffi32.to_be_bytes());
                endless(&mut s, b"\nwhenready: forged\n");
            }
        });
        let url = format!("kafka://app:{PW}@{}?sasl=scram-sha-512", fake.addr());
        let reason = "not a Kafka response to ApiVersions v3: a response of 2147483647 bytes (at most 64 KiB)";
        assert_held(&attack(&["-t", "5s"], &url), reason);
        assert_held(&attack(&["-t", "5s", "--once"], &url), reason);
        assert_held(
            &attack(&["-t", "5s", "--json"], &url),
            "a response of 2147483647 bytes",
        );
    }

    #[test]
    fn an_endless_metadata_response() {
        // As large as Metadata may be (2 MiB), then more, forever.
        let fake = broker(|s, _, id| {
            let mut head = (2 * 1024 * 1024i32).to_be_bytes().to_vec();
            head.extend_from_slice(&id.to_be_bytes());
            if s.write_all(&head).is_ok() {
                endless(s, &[0x7f, 0xff, 0xff, 0xff]);
            }
        });
        let url = format!("kafka://{}", fake.addr());
        let m = attack(&["-t", "5s", "--attempt-timeout", "15s"], &url);
        assert_held(&m, "not a Kafka response to Metadata");
        let m = attack(&["-t", "5s", "--once"], &url);
        assert_held(&m, "not a Kafka response to Metadata");
    }

    #[test]
    fn a_response_over_the_limit_and_one_that_stalls() {
        let fake = broker(|s, _, id| {
            let mut head = (2 * 1024 * 1024i32 + 1).to_be_bytes().to_vec();
            head.extend_from_slice(&id.to_be_bytes());
            let _ = s.write_all(&head);
        });
        let m = attack(&["-t", "5s"], &format!("kafka://{}", fake.addr()));
        assert_held(&m, "a response of 2097153 bytes (at most 2048 KiB)");
        // A few bytes of a response, then nothing: the deadline ends it.
        let stalled = broker(|s, _, id| {
            let mut head = 100i32.to_be_bytes().to_vec();
            head.extend_from_slice(&id.to_be_bytes());
            let _ = s.write_all(&head);
            std::thread::sleep(Duration::from_secs(30));
        });
        let url = format!("kafka://{}", stalled.addr());
        let m = attack(&["-t", "5s", "--attempt-timeout", "15s"], &url);
        assert_exited(&m.run, 1);
        assert_within_deadline(&m.run, FIVE);
        assert_bounded_memory(&m);
    }

    #[test]
    fn two_billion_brokers() {
        let fake = broker(|s, _, id| {
            let mut body = id.to_be_bytes().to_vec();
            body.push(0); // header tags
            body.extend_from_slice(&[0, 0, 0, 0]); // throttle
            body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]); // brokers: 2^31 - 1
            body.extend_from_slice(&[1; 64]);
            let _ = s.write_all(&frame(&body));
            std::thread::sleep(Duration::from_secs(10));
        });
        let m = attack(&["-t", "5s"], &format!("kafka://{}", fake.addr()));
        assert_held(&m, "the brokers claims 2147483646 elements");
    }

    #[test]
    fn a_scram_count_of_two_billion() {
        let fake = broker(|s, key, id| {
            // SaslHandshake: accepted.
            if key != 17 {
                return;
            }
            let mut b = id.to_be_bytes().to_vec();
            b.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 13]);
            b.extend_from_slice(b"SCRAM-SHA-512");
            if s.write_all(&frame(&b)).is_err() {
                return;
            }
            // The client's first message (its nonce extended): a count of 2^31 - 1.
            let mut size = [0u8; 4];
            if s.read_exact(&mut size).is_err() {
                return;
            }
            let mut body = vec![0u8; i32::from_be_bytes(size).clamp(0, 4096) as usize];
            if s.read_exact(&mut body).is_err() {
                return;
            }
            let id = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
            let text = String::from_utf8_lossy(&body).into_owned();
            let nonce: String = text
                .split("r=")
                .nth(1)
                .unwrap_or("")
                .chars()
                .take_while(|c| *c != '\0')
                .collect();
            let server_first = format!("r={nonce}xyz,s=c2FsdA==,i=2147483647");
            let server_first = server_first.as_bytes();
            let mut b = id.to_be_bytes().to_vec();
            b.push(0); // header tags (v2 is flexible)
            b.extend_from_slice(&[0, 0, 0]); // error 0, null message
            b.push(server_first.len() as u8 + 1);
            b.extend_from_slice(server_first);
            b.extend_from_slice(&[0; 8]);
            b.push(0);
            let _ = s.write_all(&frame(&b));
            std::thread::sleep(Duration::from_secs(10));
        });
        let url = format!("kafka://app:{PW}@{}?sasl=scram-sha-512", fake.addr());
        let reason =
            "the server asks for 2147483647 SCRAM iterations, over the 16384 whenready allows";
        assert_held(&attack(&["-t", "5s"], &url), reason);
        let m = attack(&["-t", "5s", "--once"], &url);
        assert_held(&m, reason);
        assert!(m.run.elapsed < Duration::from_secs(2), "{:?}", m.run);
    }
}
