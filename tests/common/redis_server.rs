//! A real redis-server per test, on a free port, stopped on drop.
#![allow(dead_code)]

use super::*;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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
