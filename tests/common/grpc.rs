//! gRPC servers of our own on free ports of 127.0.0.1: Python's grpcio with
//! grpcio-health-checking (`grpc_health_server.py` beside this file), driven over its
//! stdin to flip a service between SERVING and NOT_SERVING; and etcd, whose client
//! port serves the health service. Killed on drop.

use super::{free_port, require, TempDir};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The Python health server.
pub struct HealthServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    args: Vec<String>,
    child: Option<(Child, ChildStdin, BufReader<ChildStdout>)>,
}

impl HealthServer {
    /// A server with these options (`--tls CERT KEY`, `--no-health`, `--deny`), not
    /// started.
    pub fn new(args: &[&str]) -> HealthServer {
        require("python3", "python3");
        HealthServer {
            port: free_port(),
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
        }
    }

    /// Starts it and waits until it listens.
    pub fn start(&mut self) {
        let ok = Command::new("python3")
            .args(["-c", "import grpc, grpc_health"])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "Python's grpcio and grpcio-health-checking are required for this test: \
             python3 -m pip install grpcio==1.85.3 grpcio-health-checking==1.85.1"
        );
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/common/grpc_health_server.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the Python gRPC health server");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            "listening",
            "the gRPC health server did not start"
        );
        self.child = Some((child, stdin, stdout));
    }

    /// A started server.
    pub fn started(args: &[&str]) -> HealthServer {
        let mut s = HealthServer::new(args);
        s.start();
        s
    }

    /// Sends a command (`set SERVICE STATUS`, `clear SERVICE`) and waits for "ok".
    pub fn command(&mut self, line: &str) {
        let (_, stdin, stdout) = self.child.as_mut().expect("the server runs");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let mut answer = String::new();
        stdout.read_line(&mut answer).unwrap();
        assert_eq!(answer.trim(), "ok", "{line}");
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some((mut c, _, _)) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An etcd of our own: client and peer ports free, data in a temp dir.
pub struct Etcd {
    /// Its client port on 127.0.0.1 (gRPC, with the health service).
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl Etcd {
    /// A started etcd, once its client port accepts connections.
    pub fn started() -> Etcd {
        require("etcd", "etcd-server");
        let dir = TempDir::new("etcd");
        let (port, peer) = (free_port(), free_port());
        let client = format!("http://127.0.0.1:{port}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "whenready-test"])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("whenready-test={peer_url}")])
            .args(["--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "etcd did not start");
            thread::sleep(Duration::from_millis(20));
        }
        Etcd {
            port,
            child: Some(child),
            dir,
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The data directory goes with `dir`, after etcd is gone.
    }
}
