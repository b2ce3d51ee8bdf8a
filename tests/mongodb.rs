//! MongoDB targets (`mongodb://`, `mongodb+srv://`) against a fake server written
//! from MongoDB's protocol documentation (tests/common/mongodb.rs), first checked
//! with the real driver: pymongo must log in with SCRAM-SHA-256 and SCRAM-SHA-1,
//! get code 18 for a wrong password, and discover a replica set's primary.

mod common;
use common::kafka::python;
use common::mongodb::{replica_set, MongoFake, MongoState, User};
use common::*;
use std::time::Duration;

const PW: &str = "mongo-Canary-5b8e";

fn user(mechanisms: &[&str]) -> User {
    User {
        name: "app".into(),
        password: PW.into(),
        db: "admin".into(),
        mechanisms: mechanisms.iter().map(|s| s.to_string()).collect(),
        iterations: 15_000,
    }
}

fn authed(mechanisms: &[&str]) -> MongoState {
    MongoState {
        user: Some(user(mechanisms)),
        ..MongoState::default()
    }
}

/// pymongo's `admin.command('ping')` against `uri`: prints "ping ok" or the
/// error's code.
fn pymongo(uri: &str, extra: &str) -> (bool, String) {
    python(&format!(
        r#"
import pymongo, sys
from pymongo.errors import OperationFailure
c = pymongo.MongoClient("{uri}", serverSelectionTimeoutMS=5000, connectTimeoutMS=3000 {extra})
try:
    print("ping", c.admin.command("ping"))
    print("primary", c.primary, "nodes", sorted(c.nodes))
except OperationFailure as e:
    print("code", e.code, e.details.get("codeName"))
    sys.exit(3)
"#
    ))
}

// ---------------------------------------------------------------- the fake, checked

#[test]
fn pymongo_pings_the_fake_without_and_with_scram() {
    let m = MongoFake::start(MongoState::default(), None);
    let (ok, out) = pymongo(&format!("mongodb://{}/", m.addr()), "");
    assert!(ok, "{out}");
    assert!(out.contains("ping {'ok': 1.0}"), "{out}");
    for mechanisms in [&["SCRAM-SHA-1", "SCRAM-SHA-256"][..], &["SCRAM-SHA-1"]] {
        let m = MongoFake::start(authed(mechanisms), None);
        let (ok, out) = pymongo(&format!("mongodb://app:{PW}@{}/", m.addr()), "");
        assert!(ok, "{mechanisms:?}: {out}");
        let log = m.log();
        let want = if mechanisms.len() == 2 {
            "SCRAM-SHA-256"
        } else {
            "SCRAM-SHA-1"
        };
        assert!(
            log.iter()
                .any(|(c, db)| *c == format!("saslStart {want}") && db == "admin"),
            "{log:?}"
        );
        let (ok, out) = pymongo(&format!("mongodb://app:wrong@{}/", m.addr()), "");
        assert!(!ok, "{out}");
        assert!(out.contains("code 18 AuthenticationFailed"), "{out}");
    }
}

#[test]
fn pymongo_finds_the_primary_of_the_fake_replica_set() {
    let set = replica_set(
        "rs0",
        Some(1),
        Some(user(&["SCRAM-SHA-1", "SCRAM-SHA-256"])),
    );
    let uri = format!("mongodb://app:{PW}@{}/?replicaSet=rs0", set[0].addr());
    let (ok, out) = pymongo(&uri, "");
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("primary ('127.0.0.1', {})", set[1].fake.port)),
        "{out}"
    );
    assert!(out.contains("ping {'ok': 1.0}"), "{out}");
    // The ping went to the primary.
    assert!(
        set[1].log().iter().any(|(c, _)| c == "ping"),
        "{:?}",
        set[1].log()
    );
    // No primary: pymongo waits for one and gives up.
    let set = replica_set("rs1", None, None);
    let uri = format!("mongodb://{}/?replicaSet=rs1", set[0].addr());
    let (ok, out) = python(&format!(
        r#"
import pymongo
c = pymongo.MongoClient("{uri}", serverSelectionTimeoutMS=2000)
try:
    c.admin.command("ping")
    print("pinged")
except pymongo.errors.ServerSelectionTimeoutError as e:
    print("no primary:", type(e).__name__)
"#
    ));
    assert!(
        ok && out.contains("no primary: ServerSelectionTimeoutError"),
        "{out}"
    );
}

#[test]
fn pymongo_speaks_tls_to_the_fake() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let m = MongoFake::start(authed(&["SCRAM-SHA-256"]), Some(&certs));
    let uri = format!(
        "mongodb://app:{PW}@localhost:{}/?tls=true&tlsCAFile={}",
        m.fake.port,
        certs.ca.display()
    );
    let (ok, out) = pymongo(&uri, "");
    assert!(ok, "{out}");
}

// ---------------------------------------------------------------- whenready

fn commands(m: &MongoFake) -> Vec<String> {
    m.log().into_iter().map(|(c, _)| c).collect()
}

#[test]
fn ready_then_command_runs() {
    let m = MongoFake::start(MongoState::default(), None);
    let r = wr(&[&format!("mongodb://{}", m.addr()), "--", "echo", "ran"]);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    assert_eq!(commands(&m), ["hello", "ping"]);
}

#[test]
fn scram_sha_256_or_sha_1_as_the_user_has() {
    for (mechanisms, want) in [
        (
            &["SCRAM-SHA-1", "SCRAM-SHA-256"][..],
            "saslStart SCRAM-SHA-256",
        ),
        (&["SCRAM-SHA-1"][..], "saslStart SCRAM-SHA-1"),
    ] {
        let m = MongoFake::start(authed(mechanisms), None);
        let target = format!("mongodb://app:{PW}@{}/", m.addr());
        let r = wr(&["--once", &target]);
        assert_exited(&r, 0);
        assert!(r.stderr.contains("mongodb://app:***@"), "{r:?}");
        assert_no_secret(&r, PW);
        assert_eq!(commands(&m), ["hello", want, "saslContinue", "ping"]);
        assert!(m.log().iter().all(|(_, db)| db == "admin"));
    }
    // authSource, then the URL's database, name where the user is defined.
    let mut state = authed(&["SCRAM-SHA-256"]);
    state.user.as_mut().unwrap().db = "app".into();
    let m = MongoFake::start(state, None);
    for target in [
        format!("mongodb://app:{PW}@{}/app", m.addr()),
        format!("mongodb://app:{PW}@{}/other?authSource=app", m.addr()),
    ] {
        let r = wr(&["--once", &target]);
        assert_exited(&r, 0);
    }
    let r = wr(&["--once", &format!("mongodb://app:{PW}@{}/", m.addr())]);
    assert_exited(&r, 1);
    // authMechanism=SCRAM-SHA-1 is honoured (and needs no saslSupportedMechs).
    let m = MongoFake::start(authed(&["SCRAM-SHA-1", "SCRAM-SHA-256"]), None);
    let r = wr(&[
        "--once",
        &format!("mongodb://app:{PW}@{}/?authMechanism=SCRAM-SHA-1", m.addr()),
    ]);
    assert_exited(&r, 0);
    assert!(commands(&m).contains(&"saslStart SCRAM-SHA-1".to_string()));
}

#[test]
fn old_servers_get_ismaster_and_the_empty_round() {
    let mut state = authed(&["SCRAM-SHA-1"]);
    state.knows_hello = false;
    state.skip_empty_exchange = false;
    let m = MongoFake::start(state, None);
    let r = wr(&["--once", &format!("mongodb://app:{PW}@{}/", m.addr())]);
    assert_exited(&r, 0);
    assert_eq!(
        commands(&m),
        [
            "hello",
            "isMaster",
            "saslStart SCRAM-SHA-1",
            "saslContinue",
            "saslContinue",
            "ping"
        ]
    );
}

#[test]
fn a_wrong_password_is_permanent_and_never_printed() {
    let wrong = "Wrong-mongo-Canary-19";
    let m = MongoFake::start(authed(&["SCRAM-SHA-1", "SCRAM-SHA-256"]), None);
    let target = format!("mongodb://app:{wrong}@{}/", m.addr());
    for r in &assert_permanent(&target, "AuthenticationFailed (18)") {
        assert_no_secret(r, wrong);
    }
}

#[test]
fn a_server_that_starts_late_and_recovers() {
    let port = free_port();
    let target = format!("mongodb://127.0.0.1:{port}");
    let mut w = Watched::spawn(whenready().args(["-t", "20s", &target, "--", "echo", "ran"]));
    let start = std::time::Instant::now();
    w.wait_for_line("connection refused", Duration::from_secs(10));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let m = MongoFake::on(
        listener,
        MongoState {
            error: Some((
                11600,
                "InterruptedAtShutdown".into(),
                "interrupted at shutdown".into(),
            )),
            ..MongoState::default()
        },
        None,
    );
    w.wait_for_line("InterruptedAtShutdown (11600)", Duration::from_secs(10));
    m.set(|s| s.error = None);
    let r = w.finish(start, Duration::from_secs(20));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
}

#[test]
fn never_ready_and_once() {
    assert_never_started(
        &format!("mongodb://127.0.0.1:{}", free_port()),
        &format!("mongodb://127.0.0.1:{}/?tls=true", free_port()),
    );
    let m = MongoFake::start(
        MongoState {
            error: Some((
                13436,
                "NotPrimaryOrSecondary".into(),
                "node is recovering".into(),
            )),
            ..MongoState::default()
        },
        None,
    );
    let target = format!("mongodb://{}", m.addr());
    let r = wr(&["-t", "1s", &target, "--", "echo", "ran"]);
    assert_exited(&r, 1);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("ping failed: NotPrimaryOrSecondary (13436): node is recovering"),
        "{r:?}"
    );
    let r = wr(&["--once", &target]);
    assert_exited(&r, 1);
    m.set(|s| s.error = None);
    let r = wr(&["--once", &target]);
    assert_exited(&r, 0);
}

#[test]
fn a_replica_set_needs_its_primary() {
    let set = replica_set("rs0", Some(2), Some(user(&["SCRAM-SHA-256"])));
    // Seeded with a secondary only: the primary it names is tried next.
    let target = format!("mongodb://app:{PW}@{}/?replicaSet=rs0", set[0].addr());
    let r = wr(&["--once", &target, "--", "echo", "ran"]);
    assert_exited(&r, 0);
    assert!(
        commands(&set[2]).contains(&"ping".to_string()),
        "{:?}",
        set[2].log()
    );
    assert!(!commands(&set[0]).contains(&"ping".to_string()));
    // All three seeds: the primary is among them.
    let all = format!(
        "mongodb://app:{PW}@{},{},{}/?replicaSet=rs0",
        set[0].addr(),
        set[1].addr(),
        set[2].addr()
    );
    let r = wr(&["--once", &all]);
    assert_exited(&r, 0);
    // Another set's name: transient, said.
    let r = wr(&["-t", "1s", &all.replace("rs0", "other")]);
    assert_exited(&r, 1);
    assert!(
        r.stderr
            .contains("a member of replica set \"rs0\", not of \"other\""),
        "{r:?}"
    );
    // No primary: waited for, then elected.
    let set = replica_set("rs1", None, None);
    let target = format!("mongodb://{}/?replicaSet=rs1", set[0].addr());
    let r = wr(&["-t", "1s", &target]);
    assert_exited(&r, 1);
    assert!(
        r.stderr
            .contains("a secondary of replica set \"rs1\"; no primary is known"),
        "{r:?}"
    );
    let mut w = Watched::spawn(whenready().args(["-t", "20s", &target, "--", "echo", "ran"]));
    let start = std::time::Instant::now();
    w.wait_for_line("no primary is known", Duration::from_secs(10));
    let primary = set[1].state.lock().unwrap().me.clone();
    for (i, m) in set.iter().enumerate() {
        let p = primary.clone();
        m.set(|s| {
            s.primary = Some(p);
            s.writable = i == 1;
            s.secondary = i != 1;
        });
    }
    let r = w.finish(start, Duration::from_secs(20));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    // Without replicaSet, any member will do.
    let r = wr(&["--once", &format!("mongodb://{}", set[0].addr())]);
    assert_exited(&r, 0);
}

#[test]
fn tls_verifies_the_certificate() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    let m = MongoFake::start(authed(&["SCRAM-SHA-256"]), Some(&certs));
    let base = format!("mongodb://app:{PW}@localhost:{}/?tls=true", m.fake.port);
    let r = wr(&["--once", "--cacert", certs.ca.to_str().unwrap(), &base]);
    assert_exited(&r, 0);
    let r = wr(&[
        "--once",
        &format!("{base}&tlsCAFile={}", certs.ca.display()),
    ]);
    assert_exited(&r, 0);
    let r = wr(&["-t", "30s", &base]);
    assert_exited(&r, 3);
    assert!(r.stderr.contains("certificate"), "{r:?}");
    let r = wr(&["--once", &format!("{base}&tlsInsecure=true")]);
    assert_exited(&r, 0);
    // A client certificate from tlsCertificateKeyFile (certificate and key in one file).
    let both = certs.dir.join("client.pem");
    let pem = std::fs::read_to_string(&certs.client_cert).unwrap()
        + &std::fs::read_to_string(&certs.client_key).unwrap();
    std::fs::write(&both, pem).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&both, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let r = wr(&[
        "--once",
        &format!(
            "{base}&tlsCAFile={}&tlsCertificateKeyFile={}",
            certs.ca.display(),
            both.display()
        ),
    ]);
    assert_exited(&r, 0);
    let r = wr(&["--once", &format!("{base}&tlsCAFile=/nonexistent/ca.pem")]);
    assert_exited(&r, 2);
    assert!(r.stderr.contains("tlsCAFile"), "{r:?}");
    // Plain text to a TLS server: a hint.
    let r = wr(&["-t", "1s", &format!("mongodb://localhost:{}", m.fake.port)]);
    assert_exited(&r, 1);
}

#[test]
fn malformed_targets_exit_2_naming_them() {
    for (target, needle) in [
        ("mongodb://", "missing host"),
        ("mongodb://h:99999", "invalid port"),
        ("mongodb://h/?bogus=1", "unknown option"),
        (
            "mongodb://app:Hidden-Canary@h/?authMechanism=PLAIN",
            "not supported",
        ),
        (
            "mongodb://app:Hidden-Canary@h?replicaSet=rs",
            "a / before the options",
        ),
        ("mongodb+srv://h.example.com:27017", "without a port"),
        ("mongodb://h/?tls=yes", "expected true or false"),
        ("mongodb://app@h", "missing password"),
    ] {
        let r = wr(&[target]);
        assert_exited(&r, 2);
        assert!(r.stderr.contains(needle), "{target}: {r:?}");
        assert!(r.stderr.contains("invalid target"), "{target}: {r:?}");
        assert_no_secret(&r, "Hidden-Canary");
        assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    }
    // Options of the specification that do not matter here are accepted.
    let m = MongoFake::start(MongoState::default(), None);
    let r = wr(&[
        "--once",
        &format!(
            "mongodb://{}/app?retryWrites=true&w=majority&appName=web&maxPoolSize=10&directConnection=true",
            m.addr()
        ),
    ]);
    assert_exited(&r, 0);
}

// ---------------------------------------------------------------- mongodb+srv

/// A dnsmasq of the test's own on port 53 of a loopback address no one else uses,
/// answering `records` for the `test` domain; killed on drop.
struct Dns {
    addr: String,
    child: std::process::Child,
    _dir: TempDir,
}

impl Dns {
    fn start(records: &[String]) -> Dns {
        let dnsmasq = require("dnsmasq", "dnsmasq-base");
        let dir = TempDir::new("srv-dns");
        let n = std::process::id();
        let addr = format!("127.53.{}.{}", (n >> 8) % 250 + 1, n % 250 + 1);
        let child = std::process::Command::new(dnsmasq)
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--user=root",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--local=/test/",
                "--port=53",
            ])
            .arg(format!("--listen-address={addr}"))
            .args(records)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        // Ready when it answers (dig is not needed: whenready's own dns:// kind).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let r = wr(&[
                "--once",
                "-q",
                &format!("dns://a.mongo.test?type=A&server={addr}"),
            ]);
            if r.code == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "dnsmasq did not start: {r:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Dns {
            addr,
            child,
            _dir: dir,
        }
    }

    /// Runs `program args` in a mount namespace whose /etc/resolv.conf names this
    /// server only.
    fn run(&self, program: &str, args: &[&str]) -> Run {
        require("unshare", "util-linux");
        let conf = self._dir.join("resolv.conf");
        std::fs::write(&conf, format!("nameserver {}\n", self.addr)).unwrap();
        let quoted: Vec<String> = std::iter::once(program)
            .chain(args.iter().copied())
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let script = format!(
            "set -e; mount --bind '{}' /etc/resolv.conf; exec {}",
            conf.display(),
            quoted.join(" ")
        );
        run(
            std::process::Command::new("unshare").args(["--mount", "sh", "-c", &script]),
            Duration::from_secs(30),
        )
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn mongodb_srv_finds_its_seeds_and_options_in_dns() {
    let certs = certs(&["a.mongo.test"]);
    let plain = MongoFake::start(
        MongoState {
            set_name: Some("rs0".into()),
            user: Some(user(&["SCRAM-SHA-256"])),
            ..MongoState::default()
        },
        None,
    );
    plain.set(|s| {
        s.hosts = vec![s.me.clone()];
        s.primary = Some(s.me.clone());
    });
    let tls = MongoFake::start(authed(&["SCRAM-SHA-256"]), Some(&certs));
    let dns = Dns::start(&[
        "--host-record=a.mongo.test,127.0.0.1".into(),
        format!(
            "--srv-host=_mongodb._tcp.plain.mongo.test,a.mongo.test,{}",
            plain.fake.port
        ),
        "--txt-record=plain.mongo.test,replicaSet=rs0&authSource=admin".into(),
        format!(
            "--srv-host=_mongodb._tcp.secure.mongo.test,a.mongo.test,{}",
            tls.fake.port
        ),
        format!(
            "--srv-host=_mongodb._tcp.evil.mongo.test,a.elsewhere.test,{}",
            plain.fake.port
        ),
        "--txt-record=two.mongo.test,replicaSet=a".into(),
        "--txt-record=two.mongo.test,replicaSet=b".into(),
        format!(
            "--srv-host=_mongodb._tcp.two.mongo.test,a.mongo.test,{}",
            plain.fake.port
        ),
    ]);
    let wr_bin = env!("CARGO_BIN_EXE_whenready");
    // The seed and the replica set's name from DNS; TLS off by the URL.
    let r = dns.run(
        wr_bin,
        &[
            "--once",
            &format!("mongodb+srv://app:{PW}@plain.mongo.test/?tls=false"),
        ],
    );
    assert_exited(&r, 0);
    assert_no_secret(&r, PW);
    // The TXT record's replicaSet is the URL's unless the URL says otherwise.
    let r = dns.run(
        wr_bin,
        &[
            "-t",
            "1s",
            &format!("mongodb+srv://app:{PW}@plain.mongo.test/?tls=false&replicaSet=x"),
        ],
    );
    assert_exited(&r, 1);
    assert!(r.stderr.contains("not of \"x\""), "{r:?}");
    // TLS by default, verified against the name of the SRV record's host.
    let ca = certs.ca.to_str().unwrap();
    let r = dns.run(
        wr_bin,
        &[
            "--once",
            "--cacert",
            ca,
            &format!("mongodb+srv://app:{PW}@secure.mongo.test"),
        ],
    );
    assert_exited(&r, 0);
    // No records, a host outside the domain, two TXT records: transient, said.
    for (name, reason) in [
        (
            "nothing.mongo.test",
            "_mongodb._tcp.nothing.mongo.test does not exist",
        ),
        (
            "evil.mongo.test",
            "names \"a.elsewhere.test\", which is not under mongo.test",
        ),
        ("two.mongo.test", "two.mongo.test has 2 TXT records"),
    ] {
        let r = dns.run(
            wr_bin,
            &["-t", "1s", &format!("mongodb+srv://{name}/?tls=false")],
        );
        assert_exited(&r, 1);
        assert!(r.stderr.contains(reason), "{name}: {r:?}");
    }
    // pymongo reads the same records the same way.
    let python = common::kafka::clients_python();
    let code = format!(
        "import pymongo; c = pymongo.MongoClient('mongodb+srv://app:{PW}@plain.mongo.test/?tls=false', serverSelectionTimeoutMS=5000); print('ping', c.admin.command('ping'), 'set', c.topology_description.replica_set_name)"
    );
    let r = dns.run(python.to_str().unwrap(), &["-c", &code]);
    assert_exited(&r, 0);
    assert!(r.stdout.contains("ping {'ok': 1.0} set rs0"), "{r:?}");
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

    const PW: &str = "hostile-mongo-Canary-42";
    const FIVE: Duration = Duration::from_secs(5);

    /// Reads one message; returns its request ID and body.
    fn request(s: &mut TcpStream) -> Option<(i32, Vec<u8>)> {
        let mut head = [0u8; 16];
        s.read_exact(&mut head).ok()?;
        let len = i32::from_le_bytes(head[..4].try_into().unwrap());
        let mut body = vec![0u8; (len.clamp(16, 1 << 20) - 16) as usize];
        s.read_exact(&mut body).ok()?;
        Some((i32::from_le_bytes(head[4..8].try_into().unwrap()), body))
    }

    /// An OP_MSG reply to `to` carrying `doc`.
    fn reply(to: i32, doc: &[u8]) -> Vec<u8> {
        let mut m = ((16 + 5 + doc.len()) as i32).to_le_bytes().to_vec();
        m.extend_from_slice(&1i32.to_le_bytes());
        m.extend_from_slice(&to.to_le_bytes());
        m.extend_from_slice(&2013i32.to_le_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0]);
        m.extend_from_slice(doc);
        m
    }

    /// The shared checks, and no line a peer forged.
    fn assert_held(m: &Measured, reason: &str) {
        hostile::assert_held(m, FIVE, reason, PW);
        assert_no_forged_line(&m.run, "whenready: forged", 2048);
    }

    #[test]
    fn a_message_of_two_gigabytes() {
        let fake = Fake::start(|mut s, _| {
            if request(&mut s).is_some() {
                let _ = s.write_all(&0x7fff_ffffi32.to_le_bytes());
                endless(&mut s, b"\nwhenready: forged\n");
            }
        });
        let url = format!("mongodb://app:{PW}@{}/", fake.addr());
        let reason =
            "not a MongoDB reply to hello: a message of 2147483647 bytes (at most 1024 KiB)";
        assert_held(&attack(&["-t", "5s"], &url), reason);
        assert_held(&attack(&["-t", "5s", "--once"], &url), reason);
        assert_held(
            &attack(&["-t", "5s", "--json"], &url),
            "a message of 2147483647 bytes",
        );
    }

    #[test]
    fn an_endless_reply_at_the_limit() {
        // A reply as long as allowed (1 MiB), then more, forever.
        let fake = Fake::start(|mut s, _| {
            if let Some((id, _)) = request(&mut s) {
                let mut head = (1024 * 1024i32).to_le_bytes().to_vec();
                head.extend_from_slice(&1i32.to_le_bytes());
                head.extend_from_slice(&id.to_le_bytes());
                head.extend_from_slice(&2013i32.to_le_bytes());
                if s.write_all(&head).is_ok() {
                    endless(&mut s, &[0x03, 0xff, 0xff, 0xff, 0x7f]);
                }
            }
        });
        let url = format!("mongodb://{}", fake.addr());
        let m = attack(&["-t", "5s", "--attempt-timeout", "15s"], &url);
        assert_held(&m, "not a MongoDB reply to hello");
    }

    #[test]
    fn documents_nested_without_end_and_lying_lengths() {
        // {a: {a: {a: ...}}} 10,000 deep, each length true.
        let fake = Fake::start(|mut s, _| {
            if let Some((id, _)) = request(&mut s) {
                let mut doc = vec![5, 0, 0, 0, 0];
                for _ in 0..10_000 {
                    let mut outer = vec![0u8; 4];
                    outer.extend_from_slice(b"\x03a\0");
                    outer.extend_from_slice(&doc);
                    outer.push(0);
                    let n = outer.len() as i32;
                    outer[..4].copy_from_slice(&n.to_le_bytes());
                    doc = outer;
                }
                let _ = s.write_all(&reply(id, &doc));
                std::thread::sleep(Duration::from_secs(10));
            }
        });
        let m = attack(&["-t", "5s"], &format!("mongodb://{}", fake.addr()));
        assert_held(&m, "documents nested deeper than 16");
        // A string that claims 2 GB inside a small document.
        let fake = Fake::start(|mut s, _| {
            if let Some((id, _)) = request(&mut s) {
                let mut doc = vec![0u8; 4];
                doc.extend_from_slice(b"\x02errmsg\0");
                doc.extend_from_slice(&0x7fff_ffffi32.to_le_bytes());
                doc.extend_from_slice(b"x\0\0");
                let n = doc.len() as i32;
                doc[..4].copy_from_slice(&n.to_le_bytes());
                let _ = s.write_all(&reply(id, &doc));
                std::thread::sleep(Duration::from_secs(10));
            }
        });
        let m = attack(&["-t", "5s"], &format!("mongodb://{}", fake.addr()));
        assert_held(&m, "not a MongoDB reply to hello");
    }

    /// A server that answers hello, then saslStart with `server_first` (its
    /// `{nonce}` replaced by the client's nonce extended).
    fn scram_server(server_first: &'static str) -> Fake {
        Fake::start(move |mut s, _| {
            let hello = super::common::mongodb::doc(vec![
                (
                    "isWritablePrimary",
                    super::common::mongodb::Bson::Bool(true),
                ),
                ("maxWireVersion", super::common::mongodb::Bson::Int32(21)),
                ("ok", super::common::mongodb::Bson::Double(1.0)),
            ]);
            let Some((id, _)) = request(&mut s) else {
                return;
            };
            if s.write_all(&reply(id, &hello.bytes())).is_err() {
                return;
            }
            let Some((id, body)) = request(&mut s) else {
                return;
            };
            let text = String::from_utf8_lossy(&body).into_owned();
            let nonce: String = text
                .split(",r=")
                .nth(1)
                .unwrap_or("")
                .chars()
                .take_while(|c| c.is_ascii_graphic() && *c != ',')
                .collect();
            use super::common::mongodb::{doc, Bson};
            let first = server_first.replace("{nonce}", &format!("{nonce}srv"));
            let answer = doc(vec![
                ("conversationId", Bson::Int32(1)),
                ("done", Bson::Bool(false)),
                ("payload", Bson::Binary(0, first.into_bytes())),
                ("ok", Bson::Double(1.0)),
            ]);
            let _ = s.write_all(&reply(id, &answer.bytes()));
            std::thread::sleep(Duration::from_secs(10));
        })
    }

    #[test]
    fn a_scram_count_of_two_billion() {
        let fake = scram_server("r={nonce},s=c2FsdHNhbHRzYWx0,i=2147483647");
        let url = format!("mongodb://app:{PW}@{}/", fake.addr());
        let reason =
            "the server asks for 2147483647 SCRAM iterations, over the 1000000 whenready allows";
        assert_held(&attack(&["-t", "5s"], &url), reason);
        let m = attack(&["-t", "5s", "--once"], &url);
        assert_held(&m, reason);
        assert!(m.run.elapsed < Duration::from_secs(2), "{:?}", m.run);
    }

    #[test]
    fn the_largest_count_allowed_does_not_hold_the_deadline() {
        // A million rounds are derived off the runtime's thread: the deadline
        // still ends the run on time, whatever the derivation costs.
        let fake = scram_server("r={nonce},s=c2FsdHNhbHRzYWx0,i=1000000");
        let url = format!("mongodb://app:{PW}@{}/", fake.addr());
        let m = attack(&["-t", "1s"], &url);
        assert_exited(&m.run, 1);
        assert_within_deadline(&m.run, Duration::from_secs(1));
        assert_bounded_memory(&m);
        assert_no_secret(&m.run, PW);
    }
}
