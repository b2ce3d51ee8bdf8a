//! A fake Kafka broker on 127.0.0.1, written from the protocol guide and Apache
//! Kafka's message schemas (clients/src/main/resources/common/message/*.json),
//! independently of whenready's own encoder: ApiVersions v0-v4 (UNSUPPORTED_VERSION
//! answered in v0 with its range, as KIP-511 says), Metadata v0-v12, SaslHandshake
//! v0-v1 and SaslAuthenticate v0-v2 with PLAIN and SCRAM-SHA-256/512 (RFC 5802,
//! the server's side). No Kafka broker can be installed here, so tests/kafka.rs
//! checks this fake with the real clients (kcat and confluent-kafka, both
//! librdkafka, and kafka-python): a fake a real client rejects is a wrong fake.
//!
//! Its state (brokers, controller, topics, SASL, the highest versions it takes) is
//! shared with the test, which changes it while whenready waits; every request is
//! logged, and a topic created by a request (with `auto_create`, as a broker with
//! `auto.create.topics.enable` does) is recorded, so a test can show that none was.

use super::{require, tls_server, Certs, Fake};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A topic of the fake cluster.
#[derive(Debug, Clone)]
pub struct Topic {
    /// Its name.
    pub name: String,
    /// A topic-level error code (0 for none).
    pub error: i16,
    /// Its partitions: (index, leader; -1 for none).
    pub partitions: Vec<(i32, i32)>,
}

impl Topic {
    /// A topic whose partitions all have broker 1 as leader.
    pub fn led(name: &str, partitions: i32) -> Topic {
        Topic {
            name: name.into(),
            error: 0,
            partitions: (0..partitions).map(|p| (p, 1)).collect(),
        }
    }
}

/// The broker's SASL configuration.
#[derive(Debug, Clone)]
pub struct SaslConf {
    /// Mechanisms enabled (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub mechanisms: Vec<String>,
    /// The one user.
    pub user: String,
    /// Its password.
    pub password: String,
    /// SCRAM iterations asked for.
    pub iterations: u32,
    /// Accept a SCRAM client-final nonce that merely ends with the server's, as
    /// Kafka 3.8.1 to 3.9 do for librdkafka before 2.6.1 (Debian 12's kcat), which
    /// repeats its own nonce in front (librdkafka#4895); Kafka 4, like RFC 5802,
    /// demands the server's nonce itself.
    pub lenient_nonce: bool,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// API key.
    pub key: i16,
    /// Version.
    pub version: i16,
    /// For Metadata: the topics named (`None`: all topics).
    pub topics: Option<Vec<String>>,
    /// For Metadata v4+: AllowAutoTopicCreation.
    pub allow_auto: Option<bool>,
}

/// What the fake says and does.
#[derive(Debug, Clone)]
pub struct State {
    /// (node ID, host, port) of each broker; empty until [`KafkaFake::start`]
    /// puts itself in.
    pub brokers: Vec<(i32, String, i32)>,
    /// The controller's ID (-1: none).
    pub controller: i32,
    /// The topics.
    pub topics: Vec<Topic>,
    /// Topics whose description is refused (TOPIC_AUTHORIZATION_FAILED).
    pub denied: Vec<String>,
    /// Create a topic a request names, as `auto.create.topics.enable` does (always
    /// before Metadata v4; from v4 when the request allows it).
    pub auto_create: bool,
    /// SASL: required before Metadata when set.
    pub sasl: Option<SaslConf>,
    /// The highest ApiVersions version it takes.
    pub api_versions_max: i16,
    /// Whether an UNSUPPORTED_VERSION answer carries the ApiVersions range
    /// (KIP-511, Kafka 2.4+).
    pub kip511: bool,
    /// The highest Metadata version it takes.
    pub metadata_max: i16,
    /// Every request, in order.
    pub log: Vec<Logged>,
    /// Topics created by requests.
    pub created: Vec<String>,
}

impl Default for State {
    fn default() -> State {
        State {
            brokers: Vec::new(),
            controller: 1,
            topics: Vec::new(),
            denied: Vec::new(),
            auto_create: true,
            sasl: None,
            api_versions_max: 4,
            kip511: true,
            metadata_max: 12,
            log: Vec::new(),
            created: Vec::new(),
        }
    }
}

/// A fake broker.
pub struct KafkaFake {
    /// The listener.
    pub fake: Fake,
    /// Its state, shared with the connections.
    pub state: Arc<Mutex<State>>,
}

impl KafkaFake {
    /// A broker with `state`, listening on a free port (TLS with `certs`); it
    /// lists itself as broker 1 unless the state lists brokers.
    pub fn start(state: State, certs: Option<&Certs>) -> KafkaFake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        KafkaFake::on(listener, state, certs)
    }

    /// The same on an existing listener (a port chosen before the broker starts).
    pub fn on(listener: std::net::TcpListener, state: State, certs: Option<&Certs>) -> KafkaFake {
        let shared = Arc::new(Mutex::new(state));
        let s = shared.clone();
        let tls = certs.map(tls_server);
        let fake = Fake::on(listener, move |stream, _| {
            let state = s.clone();
            match &tls {
                Some(config) => {
                    let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                    serve(rustls::StreamOwned::new(conn, stream), &state);
                }
                None => serve(stream, &state),
            }
        });
        {
            let mut st = shared.lock().unwrap();
            if st.brokers.is_empty() {
                st.brokers.push((1, "127.0.0.1".into(), fake.port as i32));
            }
        }
        KafkaFake {
            fake,
            state: shared,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.fake.addr()
    }

    /// Changes the state.
    pub fn set(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap());
    }

    /// The requests so far.
    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    /// The topics created so far.
    pub fn created(&self) -> Vec<String> {
        self.state.lock().unwrap().created.clone()
    }
}

// ------------------------------------------------------------------ encoding

#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn i8(&mut self, v: i8) {
        self.0.push(v as u8);
    }
    fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn uv(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn string(&mut self, s: Option<&str>, flex: bool) {
        match (s, flex) {
            (None, true) => self.uv(0),
            (None, false) => self.i16(-1),
            (Some(s), true) => {
                self.uv(s.len() as u64 + 1);
                self.0.extend_from_slice(s.as_bytes());
            }
            (Some(s), false) => {
                self.i16(s.len() as i16);
                self.0.extend_from_slice(s.as_bytes());
            }
        }
    }
    fn bytes(&mut self, b: &[u8], flex: bool) {
        if flex {
            self.uv(b.len() as u64 + 1);
        } else {
            self.i32(b.len() as i32);
        }
        self.0.extend_from_slice(b);
    }
    fn len(&mut self, n: usize, flex: bool) {
        if flex {
            self.uv(n as u64 + 1);
        } else {
            self.i32(n as i32);
        }
    }
    fn tags(&mut self, flex: bool) {
        if flex {
            self.uv(0);
        }
    }
}

struct In<'a>(&'a [u8]);

impl In<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn i8(&mut self) -> Option<i8> {
        Some(self.take(1)?[0] as i8)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn uv(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn string(&mut self, flex: bool) -> Option<Option<String>> {
        let n: i64 = if flex {
            self.uv()? as i64 - 1
        } else {
            i64::from(self.i16()?)
        };
        if n < 0 {
            return Some(None);
        }
        Some(Some(
            String::from_utf8_lossy(self.take(n as usize)?).into_owned(),
        ))
    }
    fn bytes(&mut self, flex: bool) -> Option<Vec<u8>> {
        let n: i64 = if flex {
            self.uv()? as i64 - 1
        } else {
            i64::from(self.i32()?)
        };
        Some(self.take(n.max(0) as usize)?.to_vec())
    }
    fn len(&mut self, flex: bool) -> Option<Option<usize>> {
        let n: i64 = if flex {
            self.uv()? as i64 - 1
        } else {
            i64::from(self.i32()?)
        };
        Some((n >= 0).then_some(n as usize))
    }
    fn tags(&mut self, flex: bool) -> Option<()> {
        if flex {
            for _ in 0..self.uv()? {
                self.uv()?;
                let n = self.uv()? as usize;
                self.take(n)?;
            }
        }
        Some(())
    }
}

/// Whether a request of `key` at `version` is flexible.
fn flexible(key: i16, version: i16) -> bool {
    match key {
        18 => version >= 3,
        3 => version >= 9,
        36 => version >= 2,
        _ => false,
    }
}

// ------------------------------------------------------------------ serving

/// Per connection: SASL progress.
#[derive(Default)]
struct Session {
    mechanism: Option<String>,
    authenticated: bool,
    scram: Option<Scram>,
}

struct Scram {
    auth_start: String,
    server_first: String,
    nonce: String,
}

fn serve<S: Read + Write>(mut s: S, state: &Arc<Mutex<State>>) {
    let mut session = Session::default();
    loop {
        let mut size = [0u8; 4];
        if s.read_exact(&mut size).is_err() {
            return;
        }
        let size = i32::from_be_bytes(size);
        if !(0..=(1 << 20)).contains(&size) {
            return;
        }
        let mut req = vec![0u8; size as usize];
        if s.read_exact(&mut req).is_err() {
            return;
        }
        let Some(response) = answer(&req, state, &mut session) else {
            // What a broker does with a request it will not serve: hang up.
            return;
        };
        let mut frame = (response.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&response);
        if s.write_all(&frame).and_then(|_| s.flush()).is_err() {
            return;
        }
        if session.mechanism.as_deref() == Some("failed") {
            // connection.failed.authentication.delay.ms (100 by default): the
            // broker closes a connection whose login failed a little later.
            std::thread::sleep(std::time::Duration::from_millis(100));
            return;
        }
    }
}

/// The response (header and body) to one request, or `None` to hang up.
fn answer(req: &[u8], state: &Arc<Mutex<State>>, session: &mut Session) -> Option<Vec<u8>> {
    let mut r = In(req);
    let key = r.i16()?;
    let version = r.i16()?;
    let correlation = r.i32()?;
    r.string(false)?; // client ID: always a 16-bit length
    let flex = flexible(key, version);
    r.tags(flex)?;
    let mut st = state.lock().unwrap();
    st.log.push(Logged {
        key,
        version,
        topics: None,
        allow_auto: None,
    });
    let mut out = Out::default();
    out.i32(correlation);
    // ApiVersions answers with header v0 whatever its version.
    if flex && key != 18 {
        out.tags(true);
    }
    match key {
        18 => api_versions(&mut out, version, &st),
        17 => {
            let mechanism = r.string(false)??;
            let enabled = st.sasl.as_ref().map(|s| s.mechanisms.clone());
            let error = match &enabled {
                None => 34,
                Some(m) if m.contains(&mechanism) => 0,
                Some(_) => 33,
            };
            out.i16(error);
            let list = enabled.unwrap_or_default();
            out.len(list.len(), false);
            for m in &list {
                out.string(Some(m), false);
            }
            if error == 0 {
                session.mechanism = Some(mechanism);
            }
        }
        36 => {
            let token = r.bytes(flex)?;
            let conf = st.sasl.clone()?;
            let mechanism = session.mechanism.clone()?;
            let (error, message, reply) = sasl_step(&conf, &mechanism, &token, session);
            out.i16(error);
            out.string(message.as_deref(), flex);
            out.bytes(&reply, flex);
            if version >= 1 {
                out.i64(0);
            }
            out.tags(flex);
            if error != 0 {
                session.mechanism = Some("failed".into());
            }
        }
        3 => {
            if st.sasl.is_some() && !session.authenticated {
                // A SASL listener closes a connection that asks before logging in.
                return None;
            }
            if version > st.metadata_max {
                return None;
            }
            metadata(&mut r, &mut out, version, &mut st)?;
        }
        _ => return None,
    }
    Some(out.0)
}

fn api_versions(out: &mut Out, version: i16, st: &State) {
    if version > st.api_versions_max {
        // UNSUPPORTED_VERSION, in version 0, with our range when KIP-511 applies.
        out.i16(35);
        if st.kip511 {
            out.len(1, false);
            out.i16(18);
            out.i16(0);
            out.i16(st.api_versions_max);
        } else {
            out.len(0, false);
        }
        return;
    }
    let flex = version >= 3;
    let mut keys: Vec<(i16, i16, i16)> = vec![
        (0, 0, 9),  // Produce
        (1, 4, 13), // Fetch
        (2, 0, 8),  // ListOffsets
        (3, 0, st.metadata_max),
        (8, 0, 8),  // OffsetCommit
        (9, 0, 8),  // OffsetFetch
        (10, 0, 4), // FindCoordinator
        (11, 0, 7), // JoinGroup
        (12, 0, 4), // Heartbeat
        (13, 0, 4), // LeaveGroup
        (14, 0, 5), // SyncGroup
        (15, 0, 5), // DescribeGroups
        (16, 0, 4), // ListGroups
        (17, 0, 1),
        (18, 0, st.api_versions_max),
        (19, 0, 7), // CreateTopics
        (32, 0, 4), // DescribeConfigs
        (36, 0, 2),
    ];
    keys.sort();
    out.i16(0);
    out.len(keys.len(), flex);
    for (k, min, max) in keys {
        out.i16(k);
        out.i16(min);
        out.i16(max);
        out.tags(flex);
    }
    if version >= 1 {
        out.i32(0);
    }
    out.tags(flex);
}

fn metadata(r: &mut In, out: &mut Out, version: i16, st: &mut State) -> Option<()> {
    let flex = version >= 9;
    let named: Option<Vec<String>> = match r.len(flex)? {
        None => None,
        Some(0) if version == 0 => None,
        Some(n) => {
            let mut names = Vec::new();
            for _ in 0..n {
                if version >= 10 {
                    r.take(16)?;
                }
                names.push(r.string(flex)?.unwrap_or_default());
                r.tags(flex)?;
            }
            Some(names)
        }
    };
    let allow_auto = if version >= 4 { r.i8()? != 0 } else { true };
    if let Some(last) = st.log.last_mut() {
        last.topics = named.clone();
        last.allow_auto = (version >= 4).then_some(allow_auto);
    }
    if (8..=10).contains(&version) {
        r.i8()?;
    }
    if version >= 8 {
        r.i8()?;
    }
    r.tags(flex)?;
    // Auto-creation, as a broker with auto.create.topics.enable does.
    if let Some(names) = &named {
        for n in names {
            if st.auto_create && allow_auto && !st.topics.iter().any(|t| &t.name == n) {
                st.topics.push(Topic::led(n, 1));
                st.created.push(n.clone());
            }
        }
    }
    if version >= 3 {
        out.i32(0);
    }
    out.len(st.brokers.len(), flex);
    for (id, host, port) in &st.brokers {
        out.i32(*id);
        out.string(Some(host), flex);
        out.i32(*port);
        if version >= 1 {
            out.string(None, flex);
        }
        out.tags(flex);
    }
    if version >= 2 {
        out.string(Some("whenready-fake-cluster"), flex);
    }
    if version >= 1 {
        out.i32(st.controller);
    }
    let topics: Vec<Topic> = match &named {
        None => st.topics.clone(),
        Some(names) => names
            .iter()
            .map(|n| {
                st.topics
                    .iter()
                    .find(|t| &t.name == n)
                    .cloned()
                    .unwrap_or(Topic {
                        name: n.clone(),
                        error: 3,
                        partitions: Vec::new(),
                    })
            })
            .collect(),
    };
    out.len(topics.len(), flex);
    for t in &topics {
        let denied = st.denied.contains(&t.name);
        out.i16(if denied { 29 } else { t.error });
        out.string(Some(&t.name), flex);
        if version >= 10 {
            let mut id = [0u8; 16];
            if t.error == 0 && !denied {
                id[15] = 1 + (t.name.len() as u8);
            }
            out.0.extend_from_slice(&id);
        }
        if version >= 1 {
            out.i8(0);
        }
        let parts: &[(i32, i32)] = if denied { &[] } else { &t.partitions };
        out.len(parts.len(), flex);
        for (index, leader) in parts {
            out.i16(if *leader < 0 { 5 } else { 0 });
            out.i32(*index);
            out.i32(*leader);
            if version >= 7 {
                out.i32(0);
            }
            let replicas: Vec<i32> = if *leader < 0 { vec![1] } else { vec![*leader] };
            for _ in 0..2 {
                out.len(replicas.len(), flex);
                for id in &replicas {
                    out.i32(*id);
                }
            }
            if version >= 5 {
                out.len(0, flex);
            }
            out.tags(flex);
        }
        if version >= 8 {
            out.i32(i32::MIN);
        }
        out.tags(flex);
    }
    if (8..=10).contains(&version) {
        out.i32(i32::MIN);
    }
    out.tags(flex);
    Some(())
}

// ------------------------------------------------------------------ SASL

fn hmac(hash: &str, key: &[u8], data: &[u8]) -> Vec<u8> {
    let alg = if hash == "SCRAM-SHA-512" {
        ring::hmac::HMAC_SHA512
    } else {
        ring::hmac::HMAC_SHA256
    };
    ring::hmac::sign(&ring::hmac::Key::new(alg, key), data)
        .as_ref()
        .to_vec()
}

fn sha(hash: &str, data: &[u8]) -> Vec<u8> {
    let alg = if hash == "SCRAM-SHA-512" {
        &ring::digest::SHA512
    } else {
        &ring::digest::SHA256
    };
    ring::digest::digest(alg, data).as_ref().to_vec()
}

/// The server's keys for a password: (stored key, server key), RFC 5802.
pub fn scram_server_keys(hash: &str, password: &[u8], salt: &[u8], i: u32) -> (Vec<u8>, Vec<u8>) {
    let (alg, len) = if hash == "SCRAM-SHA-512" {
        (ring::pbkdf2::PBKDF2_HMAC_SHA512, 64)
    } else {
        (ring::pbkdf2::PBKDF2_HMAC_SHA256, 32)
    };
    let mut salted = vec![0u8; len];
    ring::pbkdf2::derive(alg, i.try_into().unwrap(), salt, password, &mut salted);
    let client_key = hmac(hash, &salted, b"Client Key");
    (sha(hash, &client_key), hmac(hash, &salted, b"Server Key"))
}

const SALT: &[u8] = b"whenready-fake-salt";
const FAILED: &str =
    "Authentication failed during authentication due to invalid credentials with SASL mechanism";

fn sasl_step(
    conf: &SaslConf,
    mechanism: &str,
    token: &[u8],
    session: &mut Session,
) -> (i16, Option<String>, Vec<u8>) {
    let failed = |m: &str| (58, Some(format!("{FAILED} {m}")), Vec::new());
    if mechanism == "PLAIN" {
        let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
        if parts.len() == 3
            && parts[1] == conf.user.as_bytes()
            && parts[2] == conf.password.as_bytes()
        {
            session.authenticated = true;
            return (0, None, Vec::new());
        }
        return (
            58,
            Some("Authentication failed: Invalid username or password".into()),
            Vec::new(),
        );
    }
    let text = String::from_utf8_lossy(token).into_owned();
    match session.scram.take() {
        None => {
            // client-first: n,,n=USER,r=NONCE
            let Some(bare) = text.strip_prefix("n,,") else {
                return failed(mechanism);
            };
            let mut user = None;
            let mut nonce = None;
            for a in bare.split(',') {
                if let Some(u) = a.strip_prefix("n=") {
                    user = Some(u.replace("=2C", ",").replace("=3D", "="));
                }
                if let Some(n) = a.strip_prefix("r=") {
                    nonce = Some(n.to_string());
                }
            }
            let (Some(user), Some(nonce)) = (user, nonce) else {
                return failed(mechanism);
            };
            if user != conf.user {
                return failed(mechanism);
            }
            let nonce = format!("{nonce}fakeServerNonce42");
            let server_first = format!("r={nonce},s={},i={}", B64.encode(SALT), conf.iterations);
            session.scram = Some(Scram {
                auth_start: bare.to_string(),
                server_first: server_first.clone(),
                nonce,
            });
            (0, None, server_first.into_bytes())
        }
        Some(sc) => {
            // client-final: c=biws,r=NONCE,p=PROOF
            let Some((without, proof)) = text.rsplit_once(",p=") else {
                return failed(mechanism);
            };
            let nonce_ok = match without.strip_prefix("c=biws,r=") {
                Some(n) if conf.lenient_nonce => n.ends_with(&sc.nonce),
                Some(n) => n == sc.nonce,
                None => false,
            };
            if !nonce_ok {
                return failed(mechanism);
            }
            let Ok(proof) = B64.decode(proof) else {
                return failed(mechanism);
            };
            let (stored, server_key) =
                scram_server_keys(mechanism, conf.password.as_bytes(), SALT, conf.iterations);
            let auth = format!("{},{},{without}", sc.auth_start, sc.server_first);
            let signature = hmac(mechanism, &stored, auth.as_bytes());
            if proof.len() != signature.len() {
                return failed(mechanism);
            }
            let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
            if sha(mechanism, &client_key) != stored {
                return failed(mechanism);
            }
            session.authenticated = true;
            let v = hmac(mechanism, &server_key, auth.as_bytes());
            (0, None, format!("v={}", B64.encode(v)).into_bytes())
        }
    }
}

// ------------------------------------------------------------------ real clients

/// The python of the clients' venv (.ci/clients), or a failure saying how to make
/// it.
pub fn clients_python() -> PathBuf {
    let path = std::env::var_os("WHENREADY_CLIENTS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
                });
            cache.join("whenready-ci/clients-venv/bin/python")
        });
    assert!(
        path.exists(),
        "{} is missing: the real Kafka and MongoDB clients (confluent-kafka, kafka-python, pymongo) are installed by `bash .ci/clients`",
        path.display()
    );
    path
}

/// Runs a Python snippet with the clients' python; returns (success, stdout and
/// stderr).
pub fn python(code: &str) -> (bool, String) {
    let out = std::process::Command::new(clients_python())
        .arg("-c")
        .arg(code)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs `kcat -L` against `addr` with extra `-X` settings; returns (success,
/// output).
pub fn kcat(addr: &str, settings: &[(&str, &str)]) -> (bool, String) {
    let kcat = require("kcat", "kcat");
    let mut cmd = std::process::Command::new(kcat);
    cmd.args(["-L", "-b", addr, "-m", "10"]);
    for (k, v) in settings {
        cmd.arg("-X").arg(format!("{k}={v}"));
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
