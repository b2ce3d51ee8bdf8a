//! A dnsmasq of our own on a free port of 127.0.0.1 (UDP and TCP), answering for
//! the `test` domain only: records from its command line and from a hosts file the
//! test writes and has re-read (SIGHUP). Killed on drop.

use super::{free_port, require, TempDir};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A dnsmasq with records of the test's choosing.
pub struct Dnsmasq {
    /// Its port on 127.0.0.1.
    pub port: u16,
    records: Vec<String>,
    child: Option<Child>,
    dir: TempDir,
}

impl Dnsmasq {
    /// A server with these record options (`--txt-record=…`, `--srv-host=…`), not
    /// started; its hosts file starts empty.
    pub fn new(records: &[&str]) -> Dnsmasq {
        require("dnsmasq", "dnsmasq-base");
        let dir = TempDir::new("dnsmasq");
        std::fs::write(dir.join("hosts"), "").unwrap();
        Dnsmasq {
            port: free_port(),
            records: records.iter().map(|s| s.to_string()).collect(),
            child: None,
            dir,
        }
    }

    /// `server=127.0.0.1:PORT`, for a dns:// URL.
    pub fn server(&self) -> String {
        format!("server=127.0.0.1:{}", self.port)
    }

    /// Replaces the hosts file (`ADDRESS NAME` lines) and has a running server
    /// read it again.
    pub fn set_hosts(&self, lines: &str) {
        std::fs::write(self.dir.join("hosts"), lines).unwrap();
        if let Some(c) = &self.child {
            let ok = Command::new("kill")
                .args(["-HUP", &c.id().to_string()])
                .status()
                .unwrap()
                .success();
            assert!(ok, "SIGHUP to dnsmasq failed");
        }
    }

    /// The command line, for a given port and hosts file.
    pub fn command(&self, port: u16) -> Command {
        let mut cmd = Command::new(require("dnsmasq", "dnsmasq-base"));
        cmd.args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--user=root",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            // Names under test/ that it does not know are NXDOMAIN, not REFUSED.
            "--local=/test/",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--addn-hosts={}", self.dir.join("hosts").display()))
        .args(&self.records);
        cmd
    }

    /// Starts it and waits until it answers a query.
    pub fn start(&mut self) {
        let child = self
            .command(self.port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers(self.port) {
            assert!(Instant::now() < deadline, "dnsmasq did not start");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A started server.
    pub fn started(records: &[&str]) -> Dnsmasq {
        let mut d = Dnsmasq::new(records);
        d.start();
        d
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether something answers a DNS query on 127.0.0.1:`port` (UDP).
fn answers(port: u16) -> bool {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // ID 0x4242, RD, one question: "probe.test" A IN.
    let q =
        b"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05probe\x04test\x00\x00\x01\x00\x01";
    if s.send_to(q, ("127.0.0.1", port)).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(s.recv(&mut buf), Ok(n) if n >= 2 && buf[..2] == [0x42, 0x42])
}

/// A UDP server on 127.0.0.1 whose answers to each datagram a closure decides (none,
/// one, several). Stops on drop.
pub struct UdpFake {
    /// Its UDP port.
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl UdpFake {
    /// Serves on a free UDP port.
    pub fn start(reply: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> UdpFake {
        UdpFake::on(UdpSocket::bind("127.0.0.1:0").unwrap(), reply)
    }

    /// Serves on an existing socket.
    pub fn on(s: UdpSocket, reply: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> UdpFake {
        use std::sync::atomic::Ordering;
        let port = s.local_addr().unwrap().port();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while !st.load(Ordering::SeqCst) {
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    for r in reply(&buf[..n]) {
                        let _ = s.send_to(&r, from);
                    }
                }
            }
        });
        UdpFake { port, stop }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for UdpFake {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
