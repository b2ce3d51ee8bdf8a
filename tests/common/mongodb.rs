//! A fake MongoDB server on 127.0.0.1, written from MongoDB's wire protocol
//! documentation (OP_MSG, and OP_QUERY/OP_REPLY for a driver's first `hello`),
//! the BSON specification, the `hello` and SASL commands, and RFC 5802/7677 for
//! SCRAM's server side, independently of whenready's own code. No mongod can be
//! installed here, so tests/mongodb.rs checks this fake with pymongo (a SCRAM
//! login, a wrong password answered with code 18, replica-set discovery): a fake
//! a real driver rejects is a wrong fake.
//!
//! Its state (its role in a replica set, the user, whether it knows `hello`, an
//! error to answer with) is shared with the test, which changes it while whenready
//! waits; every command is logged.

use super::{tls_server, Certs, Fake};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

// ------------------------------------------------------------------ BSON

/// A BSON value, as much as the fake reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Bson {
    /// 0x01.
    Double(f64),
    /// 0x02.
    Str(String),
    /// 0x03.
    Doc(Vec<(String, Bson)>),
    /// 0x04.
    Array(Vec<Bson>),
    /// 0x05 (subtype, bytes).
    Binary(u8, Vec<u8>),
    /// 0x07.
    ObjectId([u8; 12]),
    /// 0x08.
    Bool(bool),
    /// 0x09.
    Date(i64),
    /// 0x0A.
    Null,
    /// 0x10.
    Int32(i32),
    /// 0x11.
    Timestamp(u64),
    /// 0x12.
    Int64(i64),
}

/// A document from pairs.
pub fn doc(pairs: Vec<(&str, Bson)>) -> Bson {
    Bson::Doc(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

impl Bson {
    fn kind(&self) -> u8 {
        match self {
            Bson::Double(_) => 0x01,
            Bson::Str(_) => 0x02,
            Bson::Doc(_) => 0x03,
            Bson::Array(_) => 0x04,
            Bson::Binary(..) => 0x05,
            Bson::ObjectId(_) => 0x07,
            Bson::Bool(_) => 0x08,
            Bson::Date(_) => 0x09,
            Bson::Null => 0x0A,
            Bson::Int32(_) => 0x10,
            Bson::Timestamp(_) => 0x11,
            Bson::Int64(_) => 0x12,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Bson::Double(d) => out.extend_from_slice(&d.to_le_bytes()),
            Bson::Str(s) => {
                out.extend_from_slice(&(s.len() as i32 + 1).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
            Bson::Doc(pairs) => write_doc(pairs.iter().map(|(k, v)| (k.clone(), v)), out),
            Bson::Array(items) => write_doc(
                items.iter().enumerate().map(|(i, v)| (i.to_string(), v)),
                out,
            ),
            Bson::Binary(sub, b) => {
                out.extend_from_slice(&(b.len() as i32).to_le_bytes());
                out.push(*sub);
                out.extend_from_slice(b);
            }
            Bson::ObjectId(id) => out.extend_from_slice(id),
            Bson::Bool(b) => out.push(*b as u8),
            Bson::Date(d) | Bson::Int64(d) => out.extend_from_slice(&d.to_le_bytes()),
            Bson::Null => {}
            Bson::Int32(i) => out.extend_from_slice(&i.to_le_bytes()),
            Bson::Timestamp(t) => out.extend_from_slice(&t.to_le_bytes()),
        }
    }

    /// The encoded document (for a `Doc`).
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// A field of a document.
    pub fn get(&self, key: &str) -> Option<&Bson> {
        match self {
            Bson::Doc(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The first key of a document: a command's name.
    pub fn first_key(&self) -> Option<&str> {
        match self {
            Bson::Doc(pairs) => pairs.first().map(|(k, _)| k.as_str()),
            _ => None,
        }
    }

    /// A string's text.
    pub fn str(&self) -> Option<&str> {
        match self {
            Bson::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn write_doc<'a>(pairs: impl Iterator<Item = (String, &'a Bson)>, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    for (k, v) in pairs {
        out.push(v.kind());
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        v.write(out);
    }
    out.push(0);
    let len = (out.len() - start) as i32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// Reads one document at the start of `b`; returns it and its length.
pub fn read_doc(b: &[u8]) -> Option<(Bson, usize)> {
    let len = i32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let body = b.get(4..len.checked_sub(1)?)?;
    let mut pairs = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let kind = body[at];
        at += 1;
        let end = at + body[at..].iter().position(|c| *c == 0)?;
        let key = String::from_utf8_lossy(&body[at..end]).into_owned();
        at = end + 1;
        let rest = &body[at..];
        let int = |r: &[u8]| Some(i32::from_le_bytes(r.get(..4)?.try_into().ok()?));
        let (value, used) = match kind {
            0x01 => (
                Bson::Double(f64::from_le_bytes(rest.get(..8)?.try_into().ok()?)),
                8,
            ),
            0x02 => {
                let n = int(rest)? as usize;
                let s = rest.get(4..4 + n - 1)?;
                (Bson::Str(String::from_utf8_lossy(s).into_owned()), 4 + n)
            }
            0x03 => {
                let (d, n) = read_doc(rest)?;
                (d, n)
            }
            0x04 => {
                let (d, n) = read_doc(rest)?;
                let Bson::Doc(pairs) = d else { return None };
                (Bson::Array(pairs.into_iter().map(|(_, v)| v).collect()), n)
            }
            0x05 => {
                let n = int(rest)? as usize;
                (
                    Bson::Binary(*rest.get(4)?, rest.get(5..5 + n)?.to_vec()),
                    5 + n,
                )
            }
            0x07 => (Bson::ObjectId(rest.get(..12)?.try_into().ok()?), 12),
            0x08 => (Bson::Bool(*rest.first()? != 0), 1),
            0x09 => (
                Bson::Date(i64::from_le_bytes(rest.get(..8)?.try_into().ok()?)),
                8,
            ),
            0x0A => (Bson::Null, 0),
            0x10 => (Bson::Int32(int(rest)?), 4),
            0x11 => (
                Bson::Timestamp(u64::from_le_bytes(rest.get(..8)?.try_into().ok()?)),
                8,
            ),
            0x12 => (
                Bson::Int64(i64::from_le_bytes(rest.get(..8)?.try_into().ok()?)),
                8,
            ),
            _ => return None,
        };
        at += used;
        pairs.push((key, value));
    }
    Some((Bson::Doc(pairs), len))
}

// ------------------------------------------------------------------ state

/// The one user of the fake.
#[derive(Debug, Clone)]
pub struct User {
    /// Its name.
    pub name: String,
    /// Its password.
    pub password: String,
    /// The database it is defined in.
    pub db: String,
    /// Its mechanisms: `SCRAM-SHA-1`, `SCRAM-SHA-256`.
    pub mechanisms: Vec<String>,
    /// SCRAM iterations.
    pub iterations: u32,
}

/// What the fake says.
#[derive(Debug, Clone)]
pub struct MongoState {
    /// `host:port` of this server (set by [`MongoFake::start`]).
    pub me: String,
    /// Its replica set, if any.
    pub set_name: Option<String>,
    /// The set's members (`host:port`).
    pub hosts: Vec<String>,
    /// The primary as this member knows it.
    pub primary: Option<String>,
    /// Whether it is the writable primary (a standalone server is).
    pub writable: bool,
    /// Whether it is a secondary.
    pub secondary: bool,
    /// The user, when authentication is on.
    pub user: Option<User>,
    /// Whether it knows `hello` (before 4.4.2 only `isMaster`).
    pub knows_hello: bool,
    /// An error every command but `hello` answers with: (code, codeName, errmsg).
    pub error: Option<(i32, String, String)>,
    /// Honour `skipEmptyExchange` (4.4+); without, one more empty round.
    pub skip_empty_exchange: bool,
    /// Every command: (name, $db).
    pub log: Vec<(String, String)>,
}

impl Default for MongoState {
    fn default() -> MongoState {
        MongoState {
            me: String::new(),
            set_name: None,
            hosts: Vec::new(),
            primary: None,
            writable: true,
            secondary: false,
            user: None,
            knows_hello: true,
            error: None,
            skip_empty_exchange: true,
            log: Vec::new(),
        }
    }
}

/// A fake server.
pub struct MongoFake {
    /// The listener.
    pub fake: Fake,
    /// Its state, shared with the connections.
    pub state: Arc<Mutex<MongoState>>,
}

impl MongoFake {
    /// A server with `state` on a free port (TLS with `certs`).
    pub fn start(state: MongoState, certs: Option<&Certs>) -> MongoFake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        MongoFake::on(listener, state, certs)
    }

    /// The same on an existing listener.
    pub fn on(
        listener: std::net::TcpListener,
        state: MongoState,
        certs: Option<&Certs>,
    ) -> MongoFake {
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(MongoState {
            me: format!("127.0.0.1:{port}"),
            ..state
        }));
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
        MongoFake {
            fake,
            state: shared,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.fake.addr()
    }

    /// Changes the state.
    pub fn set(&self, change: impl FnOnce(&mut MongoState)) {
        change(&mut self.state.lock().unwrap());
    }

    /// The commands so far.
    pub fn log(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().log.clone()
    }
}

/// Three fakes forming replica set `name`, the one at `primary` (0-2) its primary,
/// or none.
pub fn replica_set(name: &str, primary: Option<usize>, user: Option<User>) -> Vec<MongoFake> {
    let listeners: Vec<_> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let hosts: Vec<String> = listeners
        .iter()
        .map(|l| format!("127.0.0.1:{}", l.local_addr().unwrap().port()))
        .collect();
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            MongoFake::on(
                l,
                MongoState {
                    set_name: Some(name.into()),
                    hosts: hosts.clone(),
                    primary: primary.map(|p| hosts[p].clone()),
                    writable: primary == Some(i),
                    secondary: primary != Some(i),
                    user: user.clone(),
                    ..MongoState::default()
                },
                None,
            )
        })
        .collect()
}

// ------------------------------------------------------------------ serving

const OP_REPLY: i32 = 1;
const OP_QUERY: i32 = 2004;
const OP_MSG: i32 = 2013;

#[derive(Default)]
struct Conversation {
    id: i32,
    mechanism: String,
    first_bare: String,
    server_first: String,
    nonce: String,
    finished: bool,
}

fn serve<S: Read + Write>(mut s: S, state: &Arc<Mutex<MongoState>>) {
    let mut sasl: Option<Conversation> = None;
    let mut next_id: i32 = 1000;
    loop {
        let mut head = [0u8; 16];
        if s.read_exact(&mut head).is_err() {
            return;
        }
        let len = i32::from_le_bytes(head[..4].try_into().unwrap());
        let request_id = i32::from_le_bytes(head[4..8].try_into().unwrap());
        let op = i32::from_le_bytes(head[12..16].try_into().unwrap());
        if !(16..=(16 << 20)).contains(&len) {
            return;
        }
        let mut body = vec![0u8; len as usize - 16];
        if s.read_exact(&mut body).is_err() {
            return;
        }
        let (command, legacy) = match op {
            OP_MSG => {
                // flags, then sections: the body (kind 0); sequences (kind 1) skipped.
                let mut at = 4;
                let mut cmd = None;
                while at < body.len() {
                    let kind = body[at];
                    at += 1;
                    if kind == 0 {
                        let Some((d, n)) = read_doc(&body[at..]) else {
                            return;
                        };
                        cmd = Some(d);
                        at += n;
                    } else {
                        let n = i32::from_le_bytes(body[at..at + 4].try_into().unwrap());
                        at += n as usize;
                    }
                }
                let Some(cmd) = cmd else { return };
                (cmd, false)
            }
            OP_QUERY => {
                // flags, "db.$cmd", skip, return, the query.
                let Some(end) = body[4..].iter().position(|c| *c == 0) else {
                    return;
                };
                let collection = String::from_utf8_lossy(&body[4..4 + end]).into_owned();
                let at = 4 + end + 1 + 8;
                let Some((mut d, _)) = read_doc(&body[at..]) else {
                    return;
                };
                if let Bson::Doc(pairs) = &mut d {
                    let db = collection.split('.').next().unwrap_or("admin").to_string();
                    pairs.push(("$db".into(), Bson::Str(db)));
                }
                (d, true)
            }
            _ => return,
        };
        let reply = answer(&command, state, &mut sasl);
        let doc = reply.bytes();
        next_id += 1;
        let mut msg = Vec::new();
        msg.extend_from_slice(&[0; 4]);
        msg.extend_from_slice(&next_id.to_le_bytes());
        msg.extend_from_slice(&request_id.to_le_bytes());
        if legacy {
            msg.extend_from_slice(&OP_REPLY.to_le_bytes());
            msg.extend_from_slice(&0i32.to_le_bytes());
            msg.extend_from_slice(&0i64.to_le_bytes());
            msg.extend_from_slice(&0i32.to_le_bytes());
            msg.extend_from_slice(&1i32.to_le_bytes());
        } else {
            msg.extend_from_slice(&OP_MSG.to_le_bytes());
            msg.extend_from_slice(&0u32.to_le_bytes());
            msg.push(0);
        }
        msg.extend_from_slice(&doc);
        let n = msg.len() as i32;
        msg[..4].copy_from_slice(&n.to_le_bytes());
        if s.write_all(&msg).and_then(|_| s.flush()).is_err() {
            return;
        }
    }
}

fn ok(mut pairs: Vec<(&str, Bson)>) -> Bson {
    pairs.push(("ok", Bson::Double(1.0)));
    doc(pairs)
}

fn error(code: i32, name: &str, message: &str) -> Bson {
    doc(vec![
        ("ok", Bson::Double(0.0)),
        ("errmsg", Bson::Str(message.into())),
        ("code", Bson::Int32(code)),
        ("codeName", Bson::Str(name.into())),
    ])
}

fn answer(cmd: &Bson, state: &Arc<Mutex<MongoState>>, sasl: &mut Option<Conversation>) -> Bson {
    let name = cmd.first_key().unwrap_or("").to_string();
    let db = cmd.get("$db").and_then(Bson::str).unwrap_or("").to_string();
    let mut st = state.lock().unwrap();
    let logged = match (name.as_str(), cmd.get("mechanism").and_then(Bson::str)) {
        ("saslStart", Some(m)) => format!("saslStart {m}"),
        _ => name.clone(),
    };
    st.log.push((logged, db.clone()));
    match name.as_str() {
        "hello" if !st.knows_hello => error(59, "CommandNotFound", "no such command: 'hello'"),
        "hello" | "isMaster" | "ismaster" => hello(cmd, &st, name == "hello"),
        _ if st.error.is_some() => {
            let (code, n, m) = st.error.clone().unwrap();
            error(code, &n, &m)
        }
        "ping" => ok(vec![]),
        "saslStart" => sasl_start(cmd, &st, sasl),
        "saslContinue" => sasl_continue(cmd, &st, sasl),
        "endSessions" => ok(vec![]),
        other => error(
            59,
            "CommandNotFound",
            &format!("no such command: '{other}'"),
        ),
    }
}

fn hello(cmd: &Bson, st: &MongoState, modern: bool) -> Bson {
    let mut pairs = vec![];
    if modern || cmd.get("helloOk").is_some() {
        pairs.push(("helloOk", Bson::Bool(true)));
    }
    pairs.push((
        if modern {
            "isWritablePrimary"
        } else {
            "ismaster"
        },
        Bson::Bool(st.writable),
    ));
    if let Some(set) = &st.set_name {
        pairs.push(("setName", Bson::Str(set.clone())));
        pairs.push(("setVersion", Bson::Int32(1)));
        pairs.push(("secondary", Bson::Bool(st.secondary)));
        pairs.push((
            "hosts",
            Bson::Array(st.hosts.iter().map(|h| Bson::Str(h.clone())).collect()),
        ));
        if let Some(p) = &st.primary {
            pairs.push(("primary", Bson::Str(p.clone())));
        }
        pairs.push(("me", Bson::Str(st.me.clone())));
        if st.writable {
            pairs.push((
                "electionId",
                Bson::ObjectId([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]),
            ));
        }
    }
    if let (Some(Bson::Str(who)), Some(user)) = (cmd.get("saslSupportedMechs"), &st.user) {
        if *who == format!("{}.{}", user.db, user.name) {
            pairs.push((
                "saslSupportedMechs",
                Bson::Array(
                    user.mechanisms
                        .iter()
                        .map(|m| Bson::Str(m.clone()))
                        .collect(),
                ),
            ));
        }
    }
    pairs.extend([
        ("maxBsonObjectSize", Bson::Int32(16 * 1024 * 1024)),
        ("maxMessageSizeBytes", Bson::Int32(48_000_000)),
        ("maxWriteBatchSize", Bson::Int32(100_000)),
        ("localTime", Bson::Date(1_700_000_000_000)),
        ("logicalSessionTimeoutMinutes", Bson::Int32(30)),
        ("connectionId", Bson::Int32(1)),
        ("minWireVersion", Bson::Int32(0)),
        ("maxWireVersion", Bson::Int32(21)),
        ("readOnly", Bson::Bool(false)),
    ]);
    // No topologyVersion: drivers then poll instead of streaming.
    ok(pairs)
}

fn hash_of(
    mechanism: &str,
) -> (
    ring::hmac::Algorithm,
    &'static ring::digest::Algorithm,
    ring::pbkdf2::Algorithm,
    usize,
) {
    if mechanism == "SCRAM-SHA-1" {
        (
            ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            ring::pbkdf2::PBKDF2_HMAC_SHA1,
            20,
        )
    } else {
        (
            ring::hmac::HMAC_SHA256,
            &ring::digest::SHA256,
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            32,
        )
    }
}

/// The server's keys for `user` under `mechanism`: (stored key, server key).
fn server_keys(mechanism: &str, user: &User) -> (Vec<u8>, Vec<u8>) {
    let (hmac, digest, pbkdf2, len) = hash_of(mechanism);
    let secret = if mechanism == "SCRAM-SHA-1" {
        use md5::Digest;
        md5::Md5::digest(format!("{}:mongo:{}", user.name, user.password).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    } else {
        user.password.clone()
    };
    let mut salted = vec![0u8; len];
    ring::pbkdf2::derive(
        pbkdf2,
        user.iterations.try_into().unwrap(),
        SALT,
        secret.as_bytes(),
        &mut salted,
    );
    let key = ring::hmac::Key::new(hmac, &salted);
    let client_key = ring::hmac::sign(&key, b"Client Key");
    let stored = ring::digest::digest(digest, client_key.as_ref())
        .as_ref()
        .to_vec();
    (
        stored,
        ring::hmac::sign(&key, b"Server Key").as_ref().to_vec(),
    )
}

const SALT: &[u8] = b"fake-mongo-salt!";

fn payload(cmd: &Bson) -> String {
    match cmd.get("payload") {
        Some(Bson::Binary(_, b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Bson::Str(s)) => s.clone(),
        _ => String::new(),
    }
}

fn auth_failed() -> Bson {
    error(18, "AuthenticationFailed", "Authentication failed.")
}

fn sasl_start(cmd: &Bson, st: &MongoState, sasl: &mut Option<Conversation>) -> Bson {
    let Some(user) = &st.user else {
        return error(334, "MechanismUnavailable", "no users");
    };
    let mechanism = cmd
        .get("mechanism")
        .and_then(Bson::str)
        .unwrap_or("")
        .to_string();
    if !["SCRAM-SHA-1", "SCRAM-SHA-256"].contains(&mechanism.as_str()) {
        return error(
            334,
            "MechanismUnavailable",
            "Received authentication for mechanism which is not enabled",
        );
    }
    let text = payload(cmd);
    let Some(bare) = text.strip_prefix("n,,") else {
        return auth_failed();
    };
    let nonce = bare
        .split(',')
        .find_map(|a| a.strip_prefix("r="))
        .unwrap_or("")
        .to_string();
    let nonce = format!("{nonce}FakeMongoNonce+/=");
    let server_first = format!("r={nonce},s={},i={}", B64.encode(SALT), user.iterations);
    *sasl = Some(Conversation {
        id: 1,
        mechanism,
        first_bare: bare.to_string(),
        server_first: server_first.clone(),
        nonce,
        finished: false,
    });
    ok(vec![
        ("conversationId", Bson::Int32(1)),
        ("done", Bson::Bool(false)),
        ("payload", Bson::Binary(0, server_first.into_bytes())),
    ])
}

fn sasl_continue(cmd: &Bson, st: &MongoState, sasl: &mut Option<Conversation>) -> Bson {
    let (Some(user), Some(conv)) = (&st.user, sasl.as_mut()) else {
        return error(17, "ProtocolError", "No SASL session state found");
    };
    if conv.finished {
        // The empty round of servers before skipEmptyExchange.
        return ok(vec![
            ("conversationId", Bson::Int32(conv.id)),
            ("done", Bson::Bool(true)),
            ("payload", Bson::Binary(0, Vec::new())),
        ]);
    }
    let text = payload(cmd);
    let Some((without, proof)) = text.rsplit_once(",p=") else {
        return auth_failed();
    };
    let user_name = conv
        .first_bare
        .split(',')
        .find_map(|a| a.strip_prefix("n="))
        .unwrap_or("")
        .replace("=2C", ",")
        .replace("=3D", "=");
    let mechanism_ok = user.mechanisms.contains(&conv.mechanism);
    if without != format!("c=biws,r={}", conv.nonce) || user_name != user.name || !mechanism_ok {
        return auth_failed();
    }
    let (hmac, digest, _, _) = hash_of(&conv.mechanism);
    let (stored, server_key) = server_keys(&conv.mechanism, user);
    let auth = format!("{},{},{without}", conv.first_bare, conv.server_first);
    let signature = ring::hmac::sign(&ring::hmac::Key::new(hmac, &stored), auth.as_bytes());
    let Ok(proof) = B64.decode(proof) else {
        return auth_failed();
    };
    if proof.len() != signature.as_ref().len() {
        return auth_failed();
    }
    let client_key: Vec<u8> = proof
        .iter()
        .zip(signature.as_ref())
        .map(|(a, b)| a ^ b)
        .collect();
    if ring::digest::digest(digest, &client_key).as_ref() != stored.as_slice() {
        return auth_failed();
    }
    let v = ring::hmac::sign(&ring::hmac::Key::new(hmac, &server_key), auth.as_bytes());
    conv.finished = true;
    ok(vec![
        ("conversationId", Bson::Int32(conv.id)),
        ("done", Bson::Bool(st.skip_empty_exchange)),
        (
            "payload",
            Bson::Binary(0, format!("v={}", B64.encode(v.as_ref())).into_bytes()),
        ),
    ])
}
