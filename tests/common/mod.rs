//! Shared test helpers: run the built binary, pick free ports, and start real
//! servers (PostgreSQL 15, redis-server) or small fakes on 127.0.0.1.
//!
//! Real servers are started per test on free ports and stopped on drop; the
//! PostgreSQL cluster is initialised once per machine (a template under the temp
//! dir, guarded by a file lock) and copied for each test, since initdb costs seconds.
//! A missing server binary fails the test with a message saying what to install.
#![allow(dead_code)]

pub mod dnsmasq;
pub mod grpc;
pub mod hostile;
pub mod kafka;
pub mod mariadb;
pub mod memcached;
pub mod mongodb;
pub mod mosquitto;
pub mod mysql_fake;
pub mod nats;
pub mod pyhttp;
pub mod rabbitmq;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test, with an empty environment but for PATH.
pub fn whenready() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_whenready"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.stdin(Stdio::null());
    cmd
}

/// What a finished run printed and how it ended.
pub struct Run {
    /// Exit code (128 + n for a signal death: see `signal`).
    pub code: i32,
    /// The signal that killed the process, if one did (then it did not exit).
    pub signal: Option<i32>,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.signal {
            Some(n) => write!(f, "killed by signal {n}")?,
            None => write!(f, "exit {}", self.code)?,
        }
        write!(
            f,
            "\n--- stdout\n{}--- stderr\n{}---",
            self.stdout, self.stderr
        )
    }
}

/// Exit code of a status, with signal deaths as 128 + n.
pub fn code_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Starting a command with stdout and stderr piped, for [`finish`].
pub trait SpawnPiped {
    /// Spawns with stdout and stderr piped; fails the test if it cannot start.
    fn spawn_piped(&mut self) -> Child;
}

impl SpawnPiped for Command {
    fn spawn_piped(&mut self) -> Child {
        self.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the command under test")
    }
}

/// Runs `cmd` to completion; kills it and fails the test after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Run {
    let start = Instant::now();
    finish(cmd.spawn_piped(), start, limit)
}

/// Waits for a spawned child (stdout and stderr piped) with a time limit.
pub fn finish(mut child: Child, start: Instant, limit: Duration) -> Run {
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let t_out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "whenready still running after {limit:?}; stderr so far: {}",
                t_err.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    use std::os::unix::process::ExitStatusExt;
    Run {
        code: code_of(status),
        signal: status.signal(),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        elapsed,
    }
}

/// Asserts that the run exited by itself (not killed by a signal) with `code`:
/// whenready ends on SIGTERM with exit(143), which a process without handlers,
/// killed by the signal, must not pass for.
pub fn assert_exited(r: &Run, code: i32) {
    assert_eq!(
        r.signal, None,
        "killed by a signal instead of exiting {code}: {r:?}"
    );
    assert_eq!(r.code, code, "{r:?}");
}

/// A running child whose stderr is read line by line as it comes, so that a test
/// can wait for what the child says instead of sleeping.
pub struct Watched {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout: thread::JoinHandle<String>,
}

impl Watched {
    /// Spawns `cmd` with stdout and stderr piped.
    pub fn spawn(cmd: &mut Command) -> Watched {
        let mut child = cmd.spawn_piped();
        let mut out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let stdout = thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let (tx, lines) = std::sync::mpsc::channel();
        thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watched {
            child,
            lines,
            seen: Vec::new(),
            stdout,
        }
    }

    /// The child's PID.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a line of stderr contains `needle`; fails the test after `limit`.
    pub fn wait_for_line(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.seen.iter().any(|l| l.contains(needle)) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no line with {needle:?} within {limit:?}; stderr so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Waits for the child to end (killing it and failing after `limit`).
    pub fn finish(mut self, start: Instant, limit: Duration) -> Run {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "still running after {limit:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        let elapsed = start.elapsed();
        // The writer is gone: the rest of stderr is in the channel.
        self.seen.extend(self.lines.iter());
        let mut stderr = self.seen.join("\n");
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        use std::os::unix::process::ExitStatusExt;
        Run {
            code: code_of(status),
            signal: status.signal(),
            stdout: self.stdout.join().unwrap(),
            stderr,
            elapsed,
        }
    }
}

/// The processes, other than `except`, whose process group is `pgid`: what a
/// process started in its own group (`process_group(0)`) left behind.
pub fn processes_in_group(pgid: u32, except: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let pgrp = rest.split_whitespace().nth(2).and_then(|p| p.parse().ok());
        if pgrp == Some(pgid) && pid != except {
            found.push(stat.trim().to_string());
        }
    }
    found
}

/// Waits until process `pid` has a handler for signal `n` (its `SigCgt` mask in
/// /proc), for processes that print nothing while they wait; fails after 10 s.
pub fn wait_for_handler(pid: u32, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let caught = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            })
            .unwrap_or(0);
        if caught & (1 << (n - 1)) != 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} installed no handler for signal {n} within 10 s"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// A target whose server never starts: with a 1 s deadline whenready exits 1, says
/// the connection was refused and does not run COMMAND; `--once` at `once_url` (the
/// same port, perhaps the TLS scheme) exits 1 too.
pub fn assert_never_started(url: &str, once_url: &str) {
    let r = wr(&["-t", "1s", url, "--", "echo", "ran"]);
    assert_exited(&r, 1);
    assert_eq!(r.stdout, "", "{r:?}");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    let r = wr(&["--once", once_url]);
    assert_exited(&r, 1);
}

/// Runs whenready with `args` (limit 30 s).
pub fn wr(args: &[&str]) -> Run {
    run(whenready().args(args), Duration::from_secs(30))
}

/// A TCP port on which nothing listens, chosen below the kernel's ephemeral range
/// (32768 and up by default): servers that bind port 0, in this test or another
/// running at the same time, can never be handed it. Ports are spread by process id
/// and a counter. Freeness is checked by a refused connect, never by binding: a
/// listener opened even briefly can live on in a child that another test thread is
/// forking at that moment, and accept connections until that child execs.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let (low, high) = ephemeral_range();
    let (start, span) = if low > 12_000 {
        (10_000, low - 10_000)
    } else {
        (high + 1, 65_535 - high)
    };
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = (start + (std::process::id() as usize * 7919 + n * 13) % span) as u16;
        let refused = |addr: &str| matches!(TcpStream::connect((addr, port)), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused);
        if refused("127.0.0.1") && (refused("::1") || TcpListener::bind("[::1]:0").is_err()) {
            return port;
        }
    }
}

fn ephemeral_range() -> (usize, usize) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|x| x.parse().ok());
            Some((it.next()?, it.next()?))
        })
        .unwrap_or((32_768, 60_999))
}

/// Fails with a message naming what to install when `program` is missing.
pub fn require(program: &str, package: &str) -> PathBuf {
    let candidates = [PathBuf::from(program)];
    for c in candidates.iter() {
        if c.is_absolute() && c.exists() {
            return c.clone();
        }
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    panic!("{program} is required for this test: install {package} (apt-get install {package})");
}

/// A temporary directory removed on drop, readable by the unprivileged test user.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "whenready-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A path inside the directory.
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------- fake servers

/// A listener on 127.0.0.1 whose connections are handled by a closure, each in its
/// own thread. Stops accepting on drop.
pub struct Fake {
    /// The port it listens on.
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// How many connections were accepted.
    pub accepted: Arc<AtomicUsize>,
    /// The client address of each accepted connection, in order.
    peers: Arc<std::sync::Mutex<Vec<std::net::SocketAddr>>>,
}

impl Fake {
    /// Listens on a free port; `handle(stream, n)` gets the n-th connection (from 0).
    pub fn start(handle: impl Fn(TcpStream, usize) + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Fake::on(listener, handle)
    }

    /// Serves on an existing listener.
    pub fn on(
        listener: TcpListener,
        handle: impl Fn(TcpStream, usize) + Send + Sync + 'static,
    ) -> Fake {
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let peers = Arc::new(std::sync::Mutex::new(Vec::new()));
        let handle = Arc::new(handle);
        let (s, a, p) = (stop.clone(), accepted.clone(), peers.clone());
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nonblocking(false);
                        p.lock().unwrap().push(peer);
                        let n = a.fetch_add(1, Ordering::SeqCst);
                        let h = handle.clone();
                        thread::spawn(move || h(stream, n));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Fake {
            port,
            stop,
            accepted,
            peers,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many connections were made to it so far, once every one of them has been
    /// accepted. A client may exit as soon as the kernel completes its handshake,
    /// before the accept thread takes the connection, so the bare counter can lag.
    /// The kernel hands out connections in the order they were made: when a marker
    /// connection made now is accepted, every earlier one was, and its place in the
    /// order is the answer.
    pub fn connections_so_far(&self) -> usize {
        let marker = TcpStream::connect(("127.0.0.1", self.port)).expect("marker connection");
        let me = marker.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(place) = self.peers.lock().unwrap().iter().position(|p| *p == me) {
                return place;
            }
            assert!(
                Instant::now() < deadline,
                "the marker connection was never accepted"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Accepts and never sends a byte (holds the connection for a minute).
pub fn silent(stream: TcpStream, _: usize) {
    thread::sleep(Duration::from_secs(60));
    drop(stream);
}

/// Reads an HTTP request head; returns the request line.
pub fn read_request(stream: &mut impl Read) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Writes a minimal HTTP/1.1 response and closes.
pub fn respond(stream: &mut impl Write, status: u16, extra_headers: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// An HTTP server whose answer depends on the path and the connection number.
pub fn http(answer: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static) -> Fake {
    Fake::start(move |mut s, n| {
        let line = read_request(&mut s);
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let (status, headers) = answer(&path, n);
        respond(&mut s, status, &headers, "ok\n");
    })
}

// ---------------------------------------------------------------- certificates

/// A test CA and a server certificate for `localhost` and 127.0.0.1, as PEM files.
pub struct Certs {
    /// The directory holding the files.
    pub dir: TempDir,
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// The server certificate (PEM).
    pub cert: PathBuf,
    /// The server key (PEM).
    pub key: PathBuf,
    /// The certificate in DER, for rustls servers.
    pub cert_der: Vec<u8>,
    /// The key in DER (PKCS#8), for rustls servers.
    pub key_der: Vec<u8>,
    /// A client certificate for the user `app` (CN=app), signed by the CA (PEM).
    pub client_cert: PathBuf,
    /// Its key (PEM, mode 0600).
    pub client_key: PathBuf,
}

/// Makes a CA and a server certificate signed by it, valid for `names`.
pub fn certs(names: &[&str]) -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let dir = TempDir::new("certs");
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "whenready test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    for n in names {
        params
            .subject_alt_names
            .push(match n.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*n).try_into().unwrap()),
            });
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let write = |name: &str, data: &str| {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client.distinguished_name.push(DnType::CommonName, "app");
    let client_key = KeyPair::generate().unwrap();
    let client_cert = client.signed_by(&client_key, &issuer).unwrap();
    let client_key_path = write("client.key", &client_key.serialize_pem());
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&client_key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Certs {
        client_cert: write("client.crt", &client_cert.pem()),
        client_key: client_key_path,
        ca: write("ca.pem", &ca.pem()),
        cert: write("server.crt", &cert.pem()),
        key: write("server.key", &key.serialize_pem()),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
        dir,
    }
}

/// A rustls server configuration for the certificate.
pub fn tls_server(certs: &Certs) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(certs.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certs.key_der.clone())),
        )
        .unwrap();
    Arc::new(config)
}

/// An HTTPS server answering every GET with `status`.
pub fn https(certs: &Certs, status: u16) -> Fake {
    let config = tls_server(certs);
    Fake::start(move |s, _| {
        let conn = rustls::ServerConnection::new(config.clone()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        read_request(&mut tls);
        respond(&mut tls, status, "", "ok\n");
        tls.conn.send_close_notify();
        let _ = tls.flush();
    })
}

// ---------------------------------------------------------------- PostgreSQL

/// The password of the `app` role in every test cluster.
pub const PG_PASSWORD: &str = "pg-Canary-7f3a";
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Runs a PostgreSQL tool as the unprivileged user when we are root (postgres
/// refuses to run as root).
fn pg_command(tool: &str) -> Command {
    let path = Path::new(PG_BIN).join(tool);
    if !path.exists() {
        panic!(
            "{} is required: install PostgreSQL 15 (apt-get install postgresql-15)",
            path.display()
        );
    }
    if is_root() {
        require("setpriv", "util-linux");
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn give_to_test_user(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// The initialised cluster, made once per machine and copied per test.
/// A directory made once per machine (and per `name`, which carries a version) by
/// `make`, under a file lock so that test binaries running at once wait for the one
/// that makes it; a half-made one (no `ready` marker) is made again.
pub fn made_once(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let base = std::env::temp_dir().join(name);
    let lock = std::fs::File::create(std::env::temp_dir().join(format!("{name}.lock"))).unwrap();
    lock.lock().unwrap();
    if !base.join("ready").exists() {
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        make(&base);
        std::fs::write(base.join("ready"), "").unwrap();
    }
    lock.unlock().unwrap();
    base
}

fn pg_template() -> PathBuf {
    made_once("whenready-pg15-template-v1", |base| {
        std::fs::write(base.join("pwfile"), PG_PASSWORD).unwrap();
        give_to_test_user(base);
        let out = pg_command("initdb")
            .arg("-D")
            .arg(base.join("data"))
            .args([
                "-U",
                "app",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", base.join("pwfile").display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .join("data")
}

/// A PostgreSQL 15 server of our own on a free port, stopped on drop.
pub struct Pg {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    dir: TempDir,
    extra: Vec<String>,
    running: bool,
}

impl Pg {
    /// A fresh cluster on a free port, not started yet.
    pub fn new() -> Pg {
        Pg::with_options(&[])
    }

    /// A fresh cluster with extra `-c name=value` settings.
    pub fn with_options(extra: &[&str]) -> Pg {
        let template = pg_template();
        let dir = TempDir::new("pg");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(dir.join("data"))
            .status()
            .unwrap();
        assert!(status.success(), "copying the template cluster failed");
        std::fs::create_dir_all(dir.join("sock")).unwrap();
        give_to_test_user(&dir.0);
        Pg {
            port: free_port(),
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            running: false,
        }
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The Unix socket directory.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&mut self) {
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB",
            self.port,
            self.socket_dir().display()
        );
        for e in &self.extra {
            opts.push_str(&format!(" -c {e}"));
        }
        let out = pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("data/log.txt"))
            .args(["-o", &opts, "-w", "-t", "30", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(self.dir.join("data/log.txt")).unwrap_or_default()
        );
        self.running = true;
    }

    /// A new cluster, started.
    pub fn started() -> Pg {
        let mut pg = Pg::new();
        pg.start();
        pg
    }

    /// Stops the server at once.
    pub fn stop(&mut self) {
        if self.running {
            let _ = pg_command("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-m", "immediate", "-w", "stop"])
                .output();
            self.running = false;
        }
    }

    /// `postgres://app:PASSWORD@127.0.0.1:PORT/postgres` with extra query text.
    pub fn url(&self, password: &str, query: &str) -> String {
        format!(
            "postgres://app:{password}@127.0.0.1:{}/postgres{query}",
            self.port
        )
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------- Redis

/// A redis-server of our own on a free port, killed on drop.
pub struct Redis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
    dir: TempDir,
    tls: bool,
}

impl Redis {
    /// A server with these extra arguments (`--requirepass x`, ...), not started.
    pub fn new(args: &[&str]) -> Redis {
        require("redis-server", "redis-server");
        Redis {
            port: free_port(),
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
            dir: TempDir::new("redis"),
            tls: false,
        }
    }

    /// A server that speaks only TLS on its port, with this certificate.
    pub fn tls(certs: &Certs, args: &[&str]) -> Redis {
        let mut r = Redis::new(args);
        r.tls = true;
        let files = [
            "--tls-cert-file",
            certs.cert.to_str().unwrap(),
            "--tls-key-file",
            certs.key.to_str().unwrap(),
            "--tls-ca-cert-file",
            certs.ca.to_str().unwrap(),
        ];
        r.args.extend(files.iter().map(|s| s.to_string()));
        // Client certificates are not asked for unless the test says so.
        if !args.contains(&"--tls-auth-clients") {
            r.args.extend(["--tls-auth-clients".into(), "no".into()]);
        }
        r
    }

    /// The test's scratch directory (for certificates).
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// Starts it on its port (TLS only, for a server made with [`Redis::tls`]).
    pub fn start(&mut self) {
        let mut cmd = Command::new("redis-server");
        if self.tls {
            cmd.args(["--port", "0", "--tls-port", &self.port.to_string()]);
        } else {
            cmd.args(["--port", &self.port.to_string()]);
        }
        cmd.args([
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ])
        .arg("--dir")
        .arg(self.dir())
        .args(&self.args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        self.child = Some(cmd.spawn().expect("start redis-server"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A started server.
    pub fn started(args: &[&str]) -> Redis {
        let mut r = Redis::new(args);
        r.start();
        r
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Asserts that no secret appears in any output of the run.
pub fn assert_no_secret(run: &Run, secret: &str) {
    assert!(
        !run.stderr.contains(secret),
        "secret leaked on stderr: {run:?}"
    );
    assert!(
        !run.stdout.contains(secret),
        "secret leaked on stdout: {run:?}"
    );
}

/// `OsStr` helper for non-UTF-8 tests.
pub fn os(bytes: &[u8]) -> &OsStr {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes)
}

/// Raises this test process's soft descriptor limit to the hard limit (for tests
/// that open a thousand listeners).
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
}

/// The PID (outside the namespace) of the process that `unshare --fork` started
/// (read while `unshare` is alive: a reaped process has no children file).
pub fn forked_child(unshare_pid: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let path = format!("/proc/{unshare_pid}/task/{unshare_pid}/children");
        if let Some(pid) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "unshare did not fork");
        thread::sleep(Duration::from_millis(10));
    }
}
