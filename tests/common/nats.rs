//! A nats-server of our own on a free port of 127.0.0.1, killed on drop.

use super::{free_port, require, Certs};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A nats-server with its own arguments (`--user U --pass P`, `--auth TOKEN`, TLS).
pub struct Nats {
    /// Its port on 127.0.0.1.
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl Nats {
    /// A server with these extra arguments, not started.
    pub fn new(args: &[&str]) -> Nats {
        require("nats-server", "nats-server");
        Nats {
            port: free_port(),
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
        }
    }

    /// A server that requires TLS (NATS TLS-after-INFO) with this certificate.
    pub fn tls(certs: &Certs, args: &[&str]) -> Nats {
        let mut n = Nats::new(args);
        n.args.extend(
            [
                "--tls",
                "--tlscert",
                certs.cert.to_str().unwrap(),
                "--tlskey",
                certs.key.to_str().unwrap(),
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        n
    }

    /// Starts it and waits until its port accepts connections.
    pub fn start(&mut self) {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A started server.
    pub fn started(args: &[&str]) -> Nats {
        let mut n = Nats::new(args);
        n.start();
        n
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}
