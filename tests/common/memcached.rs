//! A memcached of our own on a free port of 127.0.0.1 (TCP only), killed on drop.

use super::{free_port, require, TempDir};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A memcached with its own arguments (`-Y AUTHFILE`, `-S`).
pub struct Memcached {
    /// Its port on 127.0.0.1.
    pub port: u16,
    args: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// Scratch space for an auth file or a SASL configuration.
    pub dir: TempDir,
}

impl Memcached {
    /// A server with these extra arguments, not started.
    pub fn new(args: &[&str]) -> Memcached {
        require("memcached", "memcached");
        Memcached {
            port: free_port(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            child: None,
            dir: TempDir::new("memcached"),
        }
    }

    /// A server requiring the text protocol's authentication (`-Y`) for `user`.
    pub fn with_auth(user: &str, password: &str) -> Memcached {
        let mut m = Memcached::new(&[]);
        let file = m.dir.join("auth");
        std::fs::write(&file, format!("{user}:{password}\n")).unwrap();
        m.args = vec!["-Y".into(), file.display().to_string()];
        m
    }

    /// A started server requiring authentication for `user`.
    pub fn with_auth_started(user: &str, password: &str) -> Memcached {
        let mut m = Memcached::with_auth(user, password);
        m.start();
        m
    }

    /// A server allowing only SASL (binary protocol), PLAIN from a sasldb of its own.
    pub fn sasl_only() -> Memcached {
        let mut m = Memcached::new(&["-S"]);
        std::fs::write(
            m.dir.join("memcached.conf"),
            format!(
                "mech_list: plain\nsasldb_path: {}\n",
                m.dir.join("sasldb").display()
            ),
        )
        .unwrap();
        m.env = vec![("SASL_CONF_PATH".into(), m.dir.0.display().to_string())];
        m
    }

    /// Starts it and waits until its port accepts connections.
    pub fn start(&mut self) {
        let child = Command::new("memcached")
            .args(["-l", "127.0.0.1", "-p", &self.port.to_string(), "-U", "0"])
            // memcached refuses to run as root without a user to run as.
            .args(["-u", "root"])
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start memcached");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "memcached did not start");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A started server.
    pub fn started(args: &[&str]) -> Memcached {
        let mut m = Memcached::new(args);
        m.start();
        m
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        self.stop();
    }
}
