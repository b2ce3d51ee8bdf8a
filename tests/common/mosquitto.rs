//! A Mosquitto broker of our own on free ports of 127.0.0.1 (plain, and TLS with the
//! test CA when asked), with a password file; killed on drop.

use super::{free_port, require, Certs, TempDir};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A mosquitto broker that refuses anonymous clients.
pub struct Mosquitto {
    /// The plain listener's port on 127.0.0.1.
    pub port: u16,
    /// The TLS listener's port, for a broker made with [`Mosquitto::with_tls`].
    pub tls_port: Option<u16>,
    dir: TempDir,
    child: Option<Child>,
}

impl Mosquitto {
    /// A broker knowing these users (name, password), not started.
    pub fn new(users: &[(&str, &str)]) -> Mosquitto {
        Mosquitto::make(users, None)
    }

    /// A broker with a TLS listener too, with this certificate.
    pub fn with_tls(users: &[(&str, &str)], certs: &Certs) -> Mosquitto {
        Mosquitto::make(users, Some(certs))
    }

    fn make(users: &[(&str, &str)], certs: Option<&Certs>) -> Mosquitto {
        require("mosquitto", "mosquitto");
        let passwd = require("mosquitto_passwd", "mosquitto");
        let dir = TempDir::new("mosquitto");
        let pwfile = dir.join("passwd");
        for (i, (user, pass)) in users.iter().enumerate() {
            let mut cmd = Command::new(&passwd);
            cmd.arg("-b");
            if i == 0 {
                cmd.arg("-c");
            }
            let status = cmd
                .arg(&pwfile)
                .args([user, pass])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run mosquitto_passwd");
            assert!(status.success(), "mosquitto_passwd failed");
        }
        let port = free_port();
        // Started as root, mosquitto would drop to user mosquitto and then could not
        // read the files in our private temp dir: stay root.
        let mut conf = format!(
            "user root\nper_listener_settings false\nallow_anonymous false\npassword_file {}\nlistener {port} 127.0.0.1\n",
            pwfile.display()
        );
        let tls_port = certs.map(|c| {
            let p = free_port();
            conf.push_str(&format!(
                "listener {p} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
                c.ca.display(),
                c.cert.display(),
                c.key.display()
            ));
            p
        });
        std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
        Mosquitto {
            port,
            tls_port,
            dir,
            child: None,
        }
    }

    /// Starts it and waits until its ports accept connections.
    pub fn start(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in std::iter::once(self.port).chain(self.tls_port) {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "mosquitto did not start");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// A started broker.
    pub fn started(users: &[(&str, &str)]) -> Mosquitto {
        let mut m = Mosquitto::new(users);
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

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}
