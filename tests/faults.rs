//! The fault matrix: one row per fault, one column per target kind, each cell a real
//! run of whenready against a server misbehaving that way. The outcomes are rendered
//! as a table and compared with tests/README.md, so the published matrix is the
//! tested one (regenerate with WHENREADY_UPDATE_MATRIX=1).
//!
//! Also here: the deadline under 200 hanging targets, 1,000 targets at once (also
//! with a low descriptor limit), and no stray processes or files after any exit.

mod common;
use common::dnsmasq::{Dnsmasq, UdpFake};
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const KINDS: [&str; 16] = [
    "tcp",
    "unix",
    "http",
    "http+unix",
    "https",
    "postgres",
    "redis",
    "mysql",
    "amqp",
    "nats",
    "mqtt",
    "memcached",
    "dns",
    "grpc",
    "kafka",
    "mongodb",
];

/// The tests here start many servers; one at a time keeps a 2-core machine from
/// turning contention into noise.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// What one cell is expected to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Ready,
    Deadline,
    NotApplicable,
}

impl Expect {
    fn cell(self) -> &'static str {
        match self {
            Expect::Ready => "ready (0)",
            Expect::Deadline => "keeps waiting, deadline (1)",
            Expect::NotApplicable => "–",
        }
    }
}

/// Real servers shared by the cells: one of each protocol for the "slow" proxy, the
/// TLS-mismatch rows and (behind a proxy that comes and goes) the restart rows of
/// the newer kinds, plus a CA. RabbitMQ's node is the test binary's shared one (its
/// watchdog stops it). The others are stopped by [`StopShared`] when the matrix ends:
/// a static is never dropped, and they must not outlive the test binary.
struct Shared {
    servers: Mutex<Option<Servers>>,
    pg_port: u16,
    pg_require_tls: String,
    redis_port: u16,
    mariadb_port: u16,
    nats_port: u16,
    mosquitto_port: u16,
    memcached_port: u16,
    dnsmasq_port: u16,
    grpc_port: u16,
    kafka_port: u16,
    mongodb_port: u16,
    certs: Certs,
}

/// The shared servers themselves, held until [`StopShared`] drops them.
#[allow(dead_code)]
struct Servers {
    pg: Pg,
    redis: Redis,
    mariadb: common::mariadb::Mariadb,
    nats: common::nats::Nats,
    mosquitto: common::mosquitto::Mosquitto,
    memcached: common::memcached::Memcached,
    dnsmasq: Dnsmasq,
    grpc: common::grpc::HealthServer,
    // No Kafka broker or mongod can be installed here: the fakes the kafka and
    // mongodb tests check with the real clients stand in for them.
    kafka: common::kafka::KafkaFake,
    mongodb: common::mongodb::MongoFake,
}

/// Stops the shared servers when dropped (also when the matrix test panics).
struct StopShared;

impl Drop for StopShared {
    fn drop(&mut self) {
        let servers = shared()
            .servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(servers);
        let _ = std::fs::remove_dir_all(&shared().certs.dir.0);
    }
}

/// The record that dns cells ask for (`dns://db.test?type=A`).
const DNS_RECORD: &str = "--host-record=db.test,10.0.0.5";

/// The MQTT user of the shared broker.
const MQTT_USER: (&str, &str) = ("app", "mqtt-Fault-Pw");

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let servers = Servers {
            pg: Pg::started(),
            redis: Redis::started(&[]),
            mariadb: common::mariadb::Mariadb::started(),
            nats: common::nats::Nats::started(&[]),
            mosquitto: common::mosquitto::Mosquitto::started(&[MQTT_USER]),
            memcached: common::memcached::Memcached::started(&[]),
            dnsmasq: Dnsmasq::started(&[DNS_RECORD]),
            grpc: common::grpc::HealthServer::started(&[]),
            kafka: common::kafka::KafkaFake::start(
                common::kafka::State {
                    topics: vec![common::kafka::Topic::led("orders", 1)],
                    ..Default::default()
                },
                None,
            ),
            mongodb: common::mongodb::MongoFake::start(Default::default(), None),
        };
        Shared {
            pg_port: servers.pg.port,
            pg_require_tls: servers.pg.url(PG_PASSWORD, "?sslmode=require"),
            redis_port: servers.redis.port,
            mariadb_port: servers.mariadb.port,
            nats_port: servers.nats.port,
            mosquitto_port: servers.mosquitto.port,
            memcached_port: servers.memcached.port,
            dnsmasq_port: servers.dnsmasq.port,
            grpc_port: servers.grpc.port,
            kafka_port: servers.kafka.fake.port,
            mongodb_port: servers.mongodb.fake.port,
            servers: Mutex::new(Some(servers)),
            certs: certs(&["localhost", "127.0.0.1"]),
        }
    })
}

/// Keeps a cell's servers alive for its run.
#[allow(dead_code)]
enum Guard {
    Fake(Fake),
    Dir(TempDir),
    Both(Fake, TempDir),
    Thread(thread::JoinHandle<()>),
    Pg(Pg),
    Redis(Redis),
    Udp(UdpFake),
    Both2(UdpFake, Fake),
    None,
}

fn url(kind: &str, addr: &str) -> String {
    match kind {
        "tcp" => addr.to_string(),
        "http" => format!("http://{addr}/health"),
        "https" => format!("https://{addr}/health"),
        "postgres" => format!("postgres://app:{PG_PASSWORD}@{addr}/postgres"),
        "redis" => format!("redis://{addr}"),
        "mysql" => format!("mysql://app:{}@{addr}/app", common::mariadb::MY_PASSWORD),
        "amqp" => format!("amqp://guest:guest@{addr}/"),
        "nats" => format!("nats://{addr}"),
        "mqtt" => format!("mqtt://{}:{}@{addr}", MQTT_USER.0, MQTT_USER.1),
        "memcached" => format!("memcached://{addr}"),
        "dns" => format!("dns://db.test?type=A&server={addr}"),
        "grpc" => format!("grpc://{addr}"),
        "kafka" => format!("kafka://{addr}?topic=orders"),
        "mongodb" => format!("mongodb://{addr}/"),
        _ => unreachable!(),
    }
}

/// The port of the shared real server of a protocol kind.
fn backend(kind: &str) -> u16 {
    let sh = shared();
    match kind {
        "postgres" => sh.pg_port,
        "redis" => sh.redis_port,
        "mysql" => sh.mariadb_port,
        "amqp" => common::rabbitmq::shared().port,
        "nats" => sh.nats_port,
        "mqtt" => sh.mosquitto_port,
        "memcached" => sh.memcached_port,
        "grpc" => sh.grpc_port,
        "kafka" => sh.kafka_port,
        "mongodb" => sh.mongodb_port,
        _ => unreachable!("{kind} has no shared server"),
    }
}

/// Relays `client` to `backend` both ways until either side closes.
fn relay(client: TcpStream, backend: u16) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", backend)) else {
        return;
    };
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut c, mut s) = (client, server);
    thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
    });
    let _ = std::io::copy(&mut s, &mut c);
}

/// A unix-socket listener that accepts (and holds) connections.
fn unix_listener() -> (TempDir, PathBuf) {
    let dir = TempDir::new("sock");
    let path = dir.join("s.sock");
    let l = UnixListener::bind(&path).unwrap();
    thread::spawn(move || {
        for c in l.incoming() {
            let c = c;
            thread::spawn(move || {
                thread::sleep(Duration::from_secs(30));
                drop(c);
            });
        }
    });
    (dir, path)
}

/// The http+unix column: a Unix socket in front of the http column's server, each
/// connection relayed to its TCP port both ways (so every fault of the http server
/// reaches whenready through the socket, and a server that is down closes the
/// socket's connection at once).
fn unix_front(port: u16) -> (TempDir, PathBuf) {
    let dir = TempDir::new("front");
    let path = dir.join("http.sock");
    let l = UnixListener::bind(&path).unwrap();
    thread::spawn(move || {
        for c in l.incoming() {
            let Ok(client) = c else { break };
            thread::spawn(move || {
                let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                    return;
                };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut c, mut s) = (client, server);
                thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut s2);
                    let _ = s2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut s, &mut c);
                let _ = c.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (dir, path)
}

/// `http+unix://%2F…/PATH` for the socket at `path`.
fn unix_url(path: &std::path::Path, rest: &str) -> String {
    format!(
        "http+unix://{}{rest}",
        path.display().to_string().replace('/', "%2F")
    )
}

/// Accepts, waits `delay`, then relays bytes to `backend` both ways.
fn slow_proxy(backend: u16, delay: Duration) -> Fake {
    Fake::start(move |client, _| {
        thread::sleep(delay);
        relay(client, backend);
    })
}

/// A TLS server (test certificate) that completes the handshake and then answers
/// every read with an HTTP 200.
fn tls_fake() -> Fake {
    let config = tls_server(&shared().certs);
    Fake::start(move |s, _| {
        let conn = rustls::ServerConnection::new(config.clone()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        let mut buf = [0u8; 512];
        if tls.read(&mut buf).is_ok() {
            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            let _ = tls.flush();
        }
    })
}

/// Starts `kind`'s handshake and stops in the middle of a message: half a status
/// line, record header, authentication request or reply, then silence.
fn half_handshake(kind: &'static str) -> Fake {
    Fake::start(move |mut s, _| {
        let mut buf = [0u8; 1024];
        match kind {
            "http" => {
                read_request(&mut s);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le");
            }
            "https" => {
                // Read the ClientHello, answer with half a TLS record header.
                let _ = s.read(&mut buf);
                let _ = s.write_all(&[0x16, 0x03]);
            }
            "postgres" => {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 8 {
                    // SSLRequest: no TLS here; then the startup message.
                    let _ = s.write_all(b"N");
                    let _ = s.read(&mut buf);
                }
                // Half an authentication request.
                let _ = s.write_all(&[b'R', 0, 0]);
            }
            "redis" => {
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"+PO");
            }
            // Half a HandshakeV10 packet: length 0x4a, then protocol 10 and "5.".
            "mysql" => {
                let _ = s.write_all(&[0x4a, 0, 0, 0, 0x0a, b'5', b'.']);
            }
            // Half a Connection.Start frame header, after the protocol header.
            "amqp" => {
                let _ = s.read(&mut buf);
                let _ = s.write_all(&[1, 0, 0]);
            }
            "nats" => {
                let _ = s.write_all(b"INFO {\"server_id\":\"x\",\"max_pay");
            }
            // The first byte of a CONNACK, after the CONNECT.
            "mqtt" => {
                let _ = s.read(&mut buf);
                let _ = s.write_all(&[0x20]);
            }
            // Half a SETTINGS frame header, after the client's preface.
            "grpc" => {
                let _ = s.read(&mut buf);
                let _ = s.write_all(&[0, 0]);
            }
            // Half a VERSION line, after the request.
            "memcached" => {
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"VERSI");
            }
            // Half a response's size field, after the ApiVersions request.
            "kafka" => {
                let _ = s.read(&mut buf);
                let _ = s.write_all(&[0, 0]);
            }
            // Half a message header, after the hello.
            "mongodb" => {
                let _ = s.read(&mut buf);
                let _ = s.write_all(&[0x40, 0, 0, 0, 1, 0]);
            }
            _ => unreachable!(),
        }
    })
}

/// A DNS answer to `query` under its ID, flags `flags` (QR, RD, RA and more), with
/// no records: the question echoed.
fn dns_reply(query: &[u8], flags: [u8; 2]) -> Vec<u8> {
    let mut m = query.to_vec();
    if m.len() >= 4 {
        m[2] = flags[0];
        m[3] = flags[1];
    }
    m
}

/// A dns cell: DNS speaks UDP first, so the faults are its UDP equivalents (a
/// silent server, a truncated answer whose TCP retry is closed at once, garbage,
/// half a message) and real dnsmasq servers for the rest. No TLS form: the TLS
/// rows do not apply.
fn dns_cell(fault: &str) -> Expect {
    let (target, _guard, extra): (String, Guard, Vec<String>) = match fault {
        "accepts, never answers" => {
            let f = UdpFake::start(|_| vec![]);
            (url("dns", &f.addr()), Guard::Udp(f), vec![])
        }
        "accepts, closes at once" => {
            // Truncated over UDP; the TCP retry on the same port is closed at once.
            let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = tcp.local_addr().unwrap().port();
            let udp = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
            let u = UdpFake::on(udp, |q| vec![dns_reply(q, [0x83, 0x80])]);
            let t = Fake::on(tcp, |s, _| drop(s));
            (url("dns", &u.addr()), Guard::Both2(u, t), vec![])
        }
        "sends garbage" => {
            let f = UdpFake::start(|_| {
                vec![b"\x00\xff\xfe garbage \x07\r\n\r\n\x15\x03\x03\x00\x02\x02\x28".to_vec()]
            });
            (url("dns", &f.addr()), Guard::Udp(f), vec![])
        }
        "slower than --attempt-timeout" => {
            let backend = shared().dnsmasq_port;
            let f = UdpFake::start(move |q| {
                thread::sleep(Duration::from_millis(800));
                let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let _ = s.send_to(q, ("127.0.0.1", backend));
                let mut buf = [0u8; 1024];
                match s.recv(&mut buf) {
                    Ok(n) => vec![buf[..n].to_vec()],
                    Err(_) => vec![],
                }
            });
            (
                url("dns", &f.addr()),
                Guard::Udp(f),
                vec!["--attempt-timeout".into(), "300ms".into()],
            )
        }
        "closes halfway through the handshake" => {
            // The first half of the answer's header.
            let f = UdpFake::start(|q| vec![dns_reply(q, [0x81, 0x80])[..6].to_vec()]);
            (url("dns", &f.addr()), Guard::Udp(f), vec![])
        }
        "plaintext behind a TLS URL" | "TLS behind a plaintext URL" => {
            return Expect::NotApplicable
        }
        "restarts during the wait" => {
            // Down (port unreachable) at first, a real dnsmasq 600 ms later.
            let mut d = Dnsmasq::new(&[DNS_RECORD]);
            let target = url("dns", &format!("127.0.0.1:{}", d.port));
            let t = thread::spawn(move || {
                thread::sleep(Duration::from_millis(600));
                d.start();
                thread::sleep(Duration::from_secs(4));
                drop(d);
            });
            (target, Guard::Thread(t), vec![])
        }
        "ready, then goes away" => {
            // Ready at once, gone after 1 s; a second target opens at 1.5 s.
            let d = Dnsmasq::started(&[DNS_RECORD]);
            let target = url("dns", &format!("127.0.0.1:{}", d.port));
            let t = thread::spawn(move || {
                thread::sleep(GONE_AFTER);
                drop(d);
            });
            let late = free_port();
            let opener = listen_late(late, SECOND_AT);
            let _ = opener;
            (target, Guard::Thread(t), vec![format!("127.0.0.1:{late}")])
        }
        _ => unreachable!("{fault} / dns"),
    };
    let r = run(
        whenready().args(["-t", "4s"]).args(&extra).arg(&target),
        Duration::from_secs(30),
    );
    match r.code {
        0 => Expect::Ready,
        1 => Expect::Deadline,
        other => panic!("{fault} / dns: unexpected exit {other}: {r:?}"),
    }
}

/// A TCP listener on `port` from `after` on, held for a while.
fn listen_late(port: u16, after: Duration) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        thread::sleep(after);
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let f = Fake::on(l, |_, _| {});
        thread::sleep(Duration::from_secs(4));
        drop(f);
    })
}

/// Runs one cell: returns the outcome seen.
fn cell(fault: &str, kind: &'static str) -> Expect {
    let mut extra: Vec<String> = vec![];
    let over_unix = kind == "http+unix";
    if over_unix && fault == "refuses" {
        // A path that is not a listening socket refuses, as in the unix column.
        let dir = TempDir::new("stale");
        let path = dir.join("s.sock");
        std::fs::write(&path, "").unwrap();
        return outcome(fault, kind, &[], &unix_url(&path, "/health"));
    }
    // Otherwise the http column's server, behind a Unix socket (below).
    let kind = if over_unix { "http" } else { kind };
    let (target, _guard): (String, Guard) = match (fault, kind) {
        ("refuses", "unix") => {
            let dir = TempDir::new("stale");
            let path = dir.join("s.sock");
            // A path that is not a listening socket refuses connections. (Not a
            // closed listener: see free_port for why a listener is never opened.)
            std::fs::write(&path, "").unwrap();
            (format!("unix://{}", path.display()), Guard::Dir(dir))
        }
        ("refuses", _) => (
            url(kind, &format!("127.0.0.1:{}", free_port())),
            Guard::None,
        ),
        (_, "unix")
            if fault != "plaintext behind a TLS URL" && fault != "TLS behind a plaintext URL" =>
        {
            match fault {
                "restarts during the wait" | "ready, then goes away" => {
                    let dir = TempDir::new("late");
                    let path = dir.join("s.sock");
                    let p = path.clone();
                    let late = fault == "restarts during the wait";
                    let t = thread::spawn(move || {
                        if late {
                            thread::sleep(Duration::from_millis(600));
                        }
                        let l = UnixListener::bind(&p).unwrap();
                        thread::sleep(if late {
                            Duration::from_secs(3)
                        } else {
                            GONE_AFTER
                        });
                        drop(l);
                    });
                    thread::sleep(Duration::from_millis(50));
                    let _ = t;
                    (format!("unix://{}", path.display()), Guard::Dir(dir))
                }
                _ => {
                    let (dir, path) = unix_listener();
                    (format!("unix://{}", path.display()), Guard::Dir(dir))
                }
            }
        }
        (_, "dns") => return dns_cell(fault),
        ("accepts, never answers", _) => {
            let f = Fake::start(silent);
            (url(kind, &f.addr()), Guard::Fake(f))
        }
        ("accepts, closes at once", _) => {
            let f = Fake::start(|s, _| drop(s));
            (url(kind, &f.addr()), Guard::Fake(f))
        }
        ("sends garbage", _) => {
            let f = Fake::start(|mut s, _| {
                let mut buf = [0u8; 256];
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let _ = s.read(&mut buf);
                let _ =
                    s.write_all(b"\x00\xff\xfe garbage \x07\r\n\r\n\x15\x03\x03\x00\x02\x02\x28");
            });
            (url(kind, &f.addr()), Guard::Fake(f))
        }
        ("slower than --attempt-timeout", _) => {
            let sh = shared();
            let f = match kind {
                "tcp" => Fake::start(silent),
                "http" => http(|_, _| {
                    thread::sleep(Duration::from_millis(800));
                    (200, String::new())
                }),
                "https" => {
                    let inner = https(&sh.certs, 200);
                    let port = inner.port;
                    let f = slow_proxy(port, Duration::from_millis(800));
                    std::mem::forget(inner);
                    f
                }
                _ => slow_proxy(backend(kind), Duration::from_millis(800)),
            };
            extra = vec!["--attempt-timeout".into(), "300ms".into()];
            let t = if kind == "https" {
                format!("https://localhost:{}/", f.port)
            } else {
                url(kind, &f.addr())
            };
            if kind == "https" {
                extra.extend(["--cacert".into(), sh.certs.ca.display().to_string()]);
            }
            (t, Guard::Fake(f))
        }
        ("closes halfway through the handshake", "tcp") => {
            let f = Fake::start(|s, _| drop(s));
            (f.addr(), Guard::Fake(f))
        }
        ("closes halfway through the handshake", _) => {
            let f = half_handshake(kind);
            (url(kind, &f.addr()), Guard::Fake(f))
        }
        ("plaintext behind a TLS URL", "https") => {
            let f = http(|_, _| (200, String::new()));
            (url("https", &f.addr()), Guard::Fake(f))
        }
        ("plaintext behind a TLS URL", "postgres") => {
            (shared().pg_require_tls.clone(), Guard::None)
        }
        ("plaintext behind a TLS URL", "redis") => (
            format!("rediss://127.0.0.1:{}", shared().redis_port),
            Guard::None,
        ),
        ("plaintext behind a TLS URL", "mysql") => (
            format!(
                "{}?ssl-mode=REQUIRED",
                url("mysql", &format!("127.0.0.1:{}", backend("mysql")))
            ),
            Guard::None,
        ),
        ("plaintext behind a TLS URL", "amqp") => (
            format!("amqps://guest:guest@127.0.0.1:{}/", backend("amqp")),
            Guard::None,
        ),
        ("plaintext behind a TLS URL", "nats") => (
            format!("nats://127.0.0.1:{}?tls=true", backend("nats")),
            Guard::None,
        ),
        ("plaintext behind a TLS URL", "grpc") => (
            format!("grpcs://127.0.0.1:{}", backend("grpc")),
            Guard::None,
        ),
        ("plaintext behind a TLS URL", "mqtt") => (
            format!(
                "mqtts://{}:{}@127.0.0.1:{}",
                MQTT_USER.0,
                MQTT_USER.1,
                backend("mqtt")
            ),
            Guard::None,
        ),
        ("plaintext behind a TLS URL", "kafka") => (
            format!("kafkas://127.0.0.1:{}?topic=orders", backend("kafka")),
            Guard::None,
        ),
        ("plaintext behind a TLS URL", "mongodb") => (
            format!("mongodb://127.0.0.1:{}/?tls=true", backend("mongodb")),
            Guard::None,
        ),
        ("plaintext behind a TLS URL", _) => return Expect::NotApplicable,
        ("TLS behind a plaintext URL", "tcp") => {
            let f = tls_fake();
            (f.addr(), Guard::Fake(f))
        }
        (
            "TLS behind a plaintext URL",
            "http" | "redis" | "mysql" | "amqp" | "nats" | "mqtt" | "memcached" | "grpc" | "kafka"
            | "mongodb",
        ) => {
            let f = tls_fake();
            (url(kind, &f.addr()), Guard::Fake(f))
        }
        ("TLS behind a plaintext URL", "postgres") => {
            let f = tls_fake();
            (
                format!("postgres://app:x@{}/db?sslmode=disable", f.addr()),
                Guard::Fake(f),
            )
        }
        ("TLS behind a plaintext URL", _) => return Expect::NotApplicable,
        ("restarts during the wait", "postgres") => {
            let mut pg = Pg::started();
            pg.stop();
            let url = pg.url(PG_PASSWORD, "");
            let pg = Arc::new(Mutex::new(pg));
            let p = pg.clone();
            let t = thread::spawn(move || {
                thread::sleep(Duration::from_millis(600));
                p.lock().unwrap().start();
                thread::sleep(Duration::from_secs(6));
                drop(p);
            });
            (url, Guard::Thread(t))
        }
        ("restarts during the wait", "redis") => {
            let mut r = Redis::started(&[]);
            r.stop();
            let url = format!("redis://127.0.0.1:{}", r.port);
            let t = thread::spawn(move || {
                thread::sleep(Duration::from_millis(600));
                r.start();
                thread::sleep(Duration::from_secs(4));
                drop(r);
            });
            (url, Guard::Thread(t))
        }
        (
            "restarts during the wait",
            "mysql" | "amqp" | "nats" | "mqtt" | "memcached" | "grpc" | "kafka" | "mongodb",
        ) => {
            // Down (refusing) at first; 600 ms later a proxy to the real server
            // listens (restarting the server itself takes RabbitMQ seconds).
            let port = free_port();
            let to = backend(kind);
            let t = thread::spawn(move || {
                thread::sleep(Duration::from_millis(600));
                let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
                let f = Fake::on(l, move |s, _| relay(s, to));
                thread::sleep(Duration::from_secs(4));
                drop(f);
            });
            (url(kind, &format!("127.0.0.1:{port}")), Guard::Thread(t))
        }
        ("restarts during the wait", _) => {
            // Down (refusing) at first, back 600 ms later.
            let port = free_port();
            let t = thread::spawn(move || {
                thread::sleep(Duration::from_millis(600));
                let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
                let f = match kind {
                    "https" => {
                        let config = tls_server(&shared().certs);
                        Fake::on(l, move |s, _| {
                            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                            let mut tls = rustls::StreamOwned::new(conn, s);
                            read_request(&mut tls);
                            respond(&mut tls, 200, "", "ok");
                            tls.conn.send_close_notify();
                            let _ = tls.flush();
                        })
                    }
                    _ => Fake::on(l, |mut s, _| {
                        read_request(&mut s);
                        respond(&mut s, 200, "", "ok");
                    }),
                };
                thread::sleep(Duration::from_secs(4));
                drop(f);
            });
            if kind == "https" {
                extra = vec!["--cacert".into(), shared().certs.ca.display().to_string()];
                (format!("https://localhost:{port}/"), Guard::Thread(t))
            } else {
                (url(kind, &format!("127.0.0.1:{port}")), Guard::Thread(t))
            }
        }
        ("ready, then goes away", _) => {
            // Ready at once, gone after 1 s; a second target opens at 1.5 s.
            // Readiness is latched: the run ends ready.
            let (target, guard) = match kind {
                "postgres" => {
                    let pg = Pg::started();
                    let url = pg.url(PG_PASSWORD, "");
                    let t = thread::spawn(move || {
                        thread::sleep(GONE_AFTER);
                        drop(pg);
                    });
                    (url, Guard::Thread(t))
                }
                "redis" => {
                    let r = Redis::started(&[]);
                    let url = format!("redis://127.0.0.1:{}", r.port);
                    let t = thread::spawn(move || {
                        thread::sleep(GONE_AFTER);
                        drop(r);
                    });
                    (url, Guard::Thread(t))
                }
                "mysql" | "amqp" | "nats" | "mqtt" | "memcached" | "grpc" | "kafka" | "mongodb" => {
                    // A proxy to the real server, gone after a second.
                    let f = slow_proxy(backend(kind), Duration::ZERO);
                    let url = url(kind, &f.addr());
                    let t = thread::spawn(move || {
                        thread::sleep(GONE_AFTER);
                        drop(f);
                    });
                    (url, Guard::Thread(t))
                }
                _ => {
                    let f = if kind == "https" {
                        https(&shared().certs, 200)
                    } else {
                        http(|_, _| (200, String::new()))
                    };
                    let t = if kind == "https" {
                        format!("https://localhost:{}/", f.port)
                    } else {
                        url(kind, &f.addr())
                    };
                    if kind == "https" {
                        extra = vec!["--cacert".into(), shared().certs.ca.display().to_string()];
                    }
                    let handle = thread::spawn(move || {
                        thread::sleep(GONE_AFTER);
                        drop(f);
                    });
                    (t, Guard::Thread(handle))
                }
            };
            let late = free_port();
            let opener = listen_late(late, SECOND_AT);
            extra.push(format!("127.0.0.1:{late}"));
            let _ = opener;
            (target, guard)
        }
        _ => unreachable!("{fault} / {kind}"),
    };
    if over_unix {
        let url = url::Url::parse(&target).unwrap();
        let (_front, path) = unix_front(url.port().unwrap());
        return outcome(fault, "http+unix", &extra, &unix_url(&path, url.path()));
    }
    outcome(fault, kind, &extra, &target)
}

/// "Ready, then goes away": how long the target stays ready (long enough for a
/// debug build's first login on a loaded machine; 300 ms was not), and when the
/// second target, which ends the run, opens (after the first is gone).
const GONE_AFTER: Duration = Duration::from_secs(1);
const SECOND_AT: Duration = Duration::from_millis(1500);

/// Runs whenready on one cell's target.
fn outcome(fault: &str, kind: &str, extra: &[String], target: &str) -> Expect {
    let mut cmd = whenready();
    cmd.args(["-t", "4s"]).args(extra).arg(target);
    let r = run(&mut cmd, Duration::from_secs(30));
    match r.code {
        0 => Expect::Ready,
        1 => Expect::Deadline,
        other => panic!("{fault} / {kind}: unexpected exit {other}: {r:?}"),
    }
}

/// The faults, in the order of the published table.
const FAULTS: [&str; 10] = [
    "refuses",
    "accepts, never answers",
    "accepts, closes at once",
    "sends garbage",
    "slower than --attempt-timeout",
    "closes halfway through the handshake",
    "plaintext behind a TLS URL",
    "TLS behind a plaintext URL",
    "restarts during the wait",
    "ready, then goes away",
];

/// Kinds with no TLS form: "plaintext behind a TLS URL" does not apply.
const NO_TLS_FORM: [&str; 2] = ["memcached", "dns"];

/// Kinds that speak no protocol: ready on connect, whatever the peer does next.
const CONNECT_ONLY: [&str; 2] = ["tcp", "unix"];

/// What a cell must do. A TCP or Unix target is ready as soon as a connection is
/// accepted; a protocol target waits until its protocol says ready, so every fault
/// on the way keeps it waiting. TLS rows apply to kinds that have a TLS form and a
/// plaintext form respectively.
fn expected(fault: &str, kind: &str) -> Expect {
    use Expect::*;
    // HTTP over a Unix socket behaves as HTTP over TCP.
    let kind = if kind == "http+unix" { "http" } else { kind };
    let connect_only = CONNECT_ONLY.contains(&kind);
    match fault {
        "refuses" => Deadline,
        "restarts during the wait" | "ready, then goes away" => Ready,
        "plaintext behind a TLS URL"
            if connect_only || kind == "http" || NO_TLS_FORM.contains(&kind) =>
        {
            NotApplicable
        }
        "TLS behind a plaintext URL" if kind == "unix" || kind == "https" || kind == "dns" => {
            NotApplicable
        }
        "plaintext behind a TLS URL" | "TLS behind a plaintext URL" if connect_only => Ready,
        _ if connect_only => Ready,
        _ => Deadline,
    }
}

/// The matrix: fault, then the expected outcome per kind (in the order of KINDS).
fn matrix() -> Vec<(&'static str, Vec<Expect>)> {
    FAULTS
        .iter()
        .map(|f| (*f, KINDS.iter().map(|k| expected(f, k)).collect()))
        .collect()
}

fn render(rows: &[(&str, Vec<Expect>)]) -> String {
    let mut out = String::from(
        "# The fault matrix\n\n\
         Generated by `tests/faults.rs` from real runs of whenready (`-t 4s`, and\n\
         `--attempt-timeout 300ms` for the slow row) against servers that misbehave\n\
         that way; the test fails if this file and the runs disagree. Regenerate with\n\
         `WHENREADY_UPDATE_MATRIX=1 cargo test --test faults`.\n\n\
         \"keeps waiting\" means every attempt failed transiently and the deadline ended\n\
         the run (exit 1); no fault here is permanent (exit 3 is for rejected\n\
         credentials, missing databases and bad certificates). A TCP or Unix target is\n\
         ready as soon as a connection is accepted, whatever the server does next: use\n\
         a protocol target where that matters. Readiness is latched: a target that was\n\
         ready is not probed again, so a service that goes away after being seen ready\n\
         does not hold the others back (the last row). dns asks over UDP first: its\n\
         cells are the UDP equivalents (a silent server; a truncated answer whose TCP\n\
         retry is closed at once; garbage; half a message; a relay that answers late).\n\n",
    );
    out.push_str(&format!("| fault | {} |\n", KINDS.join(" | ")));
    out.push_str(&format!("| --- |{}\n", " --- |".repeat(KINDS.len())));
    for (fault, cells) in rows {
        out.push_str(&format!("| {fault} |"));
        for c in cells {
            out.push_str(&format!(" {} |", c.cell()));
        }
        out.push('\n');
    }
    out
}

#[test]
fn fault_matrix() {
    let _one_at_a_time = heavy();
    let rows = matrix();
    let mut handles = Vec::new();
    let _ = shared();
    let _stop = StopShared;
    for (r, (fault, _)) in rows.iter().enumerate() {
        for (k, kind) in KINDS.iter().enumerate() {
            let (fault, kind) = (*fault, *kind);
            handles.push((r, k, thread::spawn(move || cell(fault, kind))));
            // Bounded parallelism: a few cells at a time.
            if handles.len() % 6 == 0 {
                thread::sleep(Duration::from_millis(300));
            }
        }
    }
    let mut seen = rows.clone();
    let mut wrong = Vec::new();
    for (r, k, h) in handles {
        let got = h
            .join()
            .unwrap_or_else(|_| panic!("cell {} / {} panicked", rows[r].0, KINDS[k]));
        seen[r].1[k] = got;
        if got != rows[r].1[k] {
            wrong.push(format!(
                "{} / {}: expected {:?}, got {got:?}",
                rows[r].0, KINDS[k], rows[r].1[k]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "cells that disagree with the matrix:\n{}",
        wrong.join("\n")
    );
    let table = render(&seen);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/README.md");
    if std::env::var_os("WHENREADY_UPDATE_MATRIX").is_some() {
        std::fs::write(&path, &table).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        published, table,
        "tests/README.md is out of date: run WHENREADY_UPDATE_MATRIX=1 cargo test --test faults"
    );
}

#[test]
fn deadline_holds_with_200_hanging_targets() {
    let _one_at_a_time = heavy();
    let hang = Fake::start(silent);
    let targets: Vec<String> = (0..200)
        .map(|i| format!("http://{}/{i}", hang.addr()))
        .collect();
    // Every attempt would hang for 30 s: only the deadline can end this run early.
    // (How close to the deadline it ends is measured by bench/run.sh.)
    let start = Instant::now();
    let r = run(
        whenready()
            .args(["-t", "1s", "--attempt-timeout", "30s"])
            .env("WHENREADY_TARGETS", targets.join(",")),
        Duration::from_secs(40),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(r.stderr.contains("200 of 200 not ready"), "{r:?}");
    for t in &targets {
        assert!(
            r.stderr.contains(&format!("{t}: no answer within")),
            "{t} missing"
        );
    }
}

/// 1,000 listeners of our own (this process raises its descriptor limit first).
/// They never accept: the kernel completes each handshake into the backlog, which is
/// all a TCP target needs, and no thread per listener burns CPU.
fn thousand_listeners() -> Vec<TcpListener> {
    common::raise_fd_limit();
    (0..1000)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect()
}

#[test]
fn a_thousand_targets_at_once() {
    let _one_at_a_time = heavy();
    let fakes = thousand_listeners();
    let list: Vec<String> = fakes
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    let r = run(
        whenready()
            .args(["-t", "30s"])
            .env("WHENREADY_TARGETS", list.join(" ")),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("not ready"), "{r:?}");
    // A thousand HTTP targets whose server answers each request after 200 ms, so
    // that every attempt holds its connection open for that long, with a
    // descriptor limit of 256 (soft and hard): whenready bounds how many attempts
    // are in flight instead of failing some with "too many open files" (and trying
    // them again). Every line is shown (no -q), so such a failure would be seen.
    let slow = Fake::start(|mut stream, _| {
        read_request(&mut stream);
        thread::sleep(Duration::from_millis(200));
        respond(&mut stream, 200, "", "ok\n");
    });
    let urls: Vec<String> = (0..1000)
        .map(|i| format!("http://{}/{i}", slow.addr()))
        .collect();
    let script = format!(
        "ulimit -n 256 && exec {} -t 50s",
        env!("CARGO_BIN_EXE_whenready")
    );
    let r = run(
        Command::new("sh")
            .args(["-c", &script])
            .env("WHENREADY_TARGETS", urls.join(" ")),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("too many open files"), "{r:?}");
    assert!(!r.stderr.contains("not ready"), "{r:?}");
    // Each one ready at its first attempt.
    assert_eq!(r.stderr.matches(" ready after ").count(), 1001, "{r:?}");
    assert!(r.stderr.contains("1000 targets ready after"), "{r:?}");
    assert_eq!(r.stderr.matches("(1 attempt)").count(), 1000, "{r:?}");
}

/// Whether process `pid` is still there (a zombie, killed and waiting for its
/// parent to reap it, counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

#[test]
fn no_stray_process_or_file_after_any_exit() {
    // whenready's own temp dir, empty: nothing may be left in it.
    let tmp = TempDir::new("stray-tmp");
    let fake = Fake::start(|_, _| {});
    let closed = format!("127.0.0.1:{}", free_port());
    // A Kubernetes target whose exec credential plugin hangs (with a child of its
    // own): a run that starts processes, which must not outlive it. Each records
    // its PID.
    let dir = TempDir::new("stray-plugin");
    let pids = dir.join("pids");
    let plugin = dir.join("plugin");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nsleep 600 &\necho $! >> '{0}'\necho $$ >> '{0}'\nwait\n",
            pids.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://{closed}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            plugin.display()
        ),
    )
    .unwrap();
    let outcomes = [
        (vec![fake.addr()], 0),
        (vec!["-t".into(), "300ms".into(), closed.clone()], 1),
        (vec!["--once".into(), closed.clone()], 1),
        (vec!["bad".into()], 2),
        (
            vec![fake.addr(), "--".into(), "no-such-program".into()],
            127,
        ),
        (
            vec!["-t".into(), "300ms".into(), "unresolvable.invalid:1".into()],
            1,
        ),
        (vec!["-t".into(), "1s".into(), "k8s://pods/app".into()], 1),
    ];
    for (args, code) in outcomes {
        // In a process group of its own: whatever whenready started and left
        // behind there would still be in that group after whenready is reaped.
        use std::os::unix::process::CommandExt;
        let child = whenready()
            .args(&args)
            .env("TMPDIR", &tmp.0)
            .env("KUBECONFIG", &kubeconfig)
            .process_group(0)
            .spawn_piped();
        let pid = child.id();
        let r = finish(child, Instant::now(), Duration::from_secs(10));
        assert_eq!(r.code, code, "{args:?}: {r:?}");
        let left = processes_in_group(pid, pid);
        if !left.is_empty() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        assert!(left.is_empty(), "{args:?}: processes left: {left:?}");
        let files: Vec<_> = std::fs::read_dir(&tmp.0).unwrap().flatten().collect();
        assert!(
            files.is_empty(),
            "{args:?}: files left in TMPDIR: {files:?}"
        );
    }
    // The plugin ran (and started its child), and neither outlived whenready (by
    // any process group: they are looked up by PID).
    let started: Vec<u32> = std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(started.len(), 2, "the plugin did not run: {started:?}");
    let until = Instant::now() + Duration::from_secs(2);
    while started.iter().any(|p| alive(*p)) && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<u32> = started.into_iter().filter(|p| alive(*p)).collect();
    for pid in &left {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    assert!(
        left.is_empty(),
        "the plugin's processes outlived whenready: {left:?}"
    );
}
