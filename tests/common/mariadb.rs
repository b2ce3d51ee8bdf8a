//! MariaDB servers of our own for the mysql:// tests: a data directory made once per
//! machine with mariadb-install-db (users and databases created, then shut down), copied
//! per server into a temporary directory, and mariadbd started on a free port on
//! 127.0.0.1 with its socket in that directory. Never the machine's own server.
//!
//! Accounts in the template (all with [`MY_PASSWORD`]): `app` (rights on database `app`
//! only, mysql_native_password), `admin` (all rights), `ed` (MariaDB's ed25519 method),
//! `tlsonly` (REQUIRE SSL, rights on `app`).

use super::{free_port, require, Certs, TempDir};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The password of every test account.
pub const MY_PASSWORD: &str = "my-Canary-5e1d";

/// Server options shared by the template's bootstrap and every test server.
const COMMON: [&str; 7] = [
    "--no-defaults",
    "--user=root",
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=8M",
    "--innodb-flush-log-at-trx-commit=0",
    "--skip-innodb-doublewrite",
    "--performance-schema=OFF",
];

fn sql_setup() -> String {
    format!(
        "CREATE DATABASE app; CREATE DATABASE other;
         CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('{p}');
         GRANT ALL ON app.* TO 'app'@'%';
         CREATE USER 'admin'@'%' IDENTIFIED BY '{p}';
         GRANT ALL ON *.* TO 'admin'@'%';
         INSTALL SONAME 'auth_ed25519';
         CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('{p}');
         GRANT ALL ON app.* TO 'ed'@'%';
         CREATE USER 'tlsonly'@'%' IDENTIFIED BY '{p}' REQUIRE SSL;
         GRANT ALL ON app.* TO 'tlsonly'@'%';",
        p = MY_PASSWORD
    )
}

/// Waits until `mariadbd` accepts on `port` (or on its socket when `port` is None).
fn wait_ready(child: &mut Child, socket: &Path, port: Option<u16>, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = match port {
            Some(p) => TcpStream::connect(("127.0.0.1", p)).is_ok(),
            None => std::os::unix::net::UnixStream::connect(socket).is_ok(),
        };
        if up {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "mariadbd exited ({status}) before accepting connections: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "mariadbd did not accept connections within 60 s: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The prepared data directory, made once per machine and copied per server.
fn template() -> PathBuf {
    require("mariadbd", "mariadb-server");
    require("mariadb-install-db", "mariadb-server");
    require("mariadb", "mariadb-client");
    super::made_once("whenready-mariadb-template-v1", |base| {
        let data = base.join("data");
        let out = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .arg("--auth-root-authentication-method=normal")
            .arg(format!("--datadir={}", data.display()))
            .args(&COMMON[2..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let socket = base.join("sock");
        let log = base.join("bootstrap.log");
        let mut child = Command::new("mariadbd")
            .args(COMMON)
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--log-error={}", log.display()))
            .arg("--skip-networking")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        wait_ready(&mut child, &socket, None, &log);
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", socket.display()))
            .args(["-uroot", "-e", &sql_setup()])
            .output()
            .unwrap();
        let _ = Command::new("mariadb-admin")
            .arg("--no-defaults")
            .arg(format!("--socket={}", socket.display()))
            .args(["-uroot", "shutdown"])
            .output();
        let _ = child.wait();
        assert!(
            out.status.success(),
            "creating the test accounts failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .join("data")
}

/// A MariaDB server of our own on a free port of 127.0.0.1, killed on drop.
pub struct Mariadb {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    dir: TempDir,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Mariadb {
    /// A fresh copy of the template, not started yet.
    pub fn new() -> Mariadb {
        let template = template();
        let dir = TempDir::new("mariadb");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(dir.join("data"))
            .status()
            .unwrap();
        assert!(
            status.success(),
            "copying the template data directory failed"
        );
        Mariadb {
            port: free_port(),
            dir,
            extra: Vec::new(),
            child: None,
        }
    }

    /// A fresh server with extra mariadbd options (`--max-connections=1`, ...).
    pub fn with_args(args: &[&str]) -> Mariadb {
        let mut m = Mariadb::new();
        m.extra = args.iter().map(|s| s.to_string()).collect();
        m
    }

    /// A fresh server that offers TLS with this certificate.
    pub fn tls(certs: &Certs) -> Mariadb {
        let mut m = Mariadb::new();
        m.extra = vec![
            format!("--ssl-cert={}", certs.cert.display()),
            format!("--ssl-key={}", certs.key.display()),
            format!("--ssl-ca={}", certs.ca.display()),
        ];
        m
    }

    /// Starts mariadbd and waits (bounded) until it accepts TCP connections.
    pub fn start(&mut self) {
        let log = self.dir.join("error.log");
        let mut child = Command::new("mariadbd")
            .args(COMMON)
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--pid-file={}", self.dir.join("pid").display()))
            .arg(format!("--log-error={}", log.display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        wait_ready(&mut child, &self.socket(), Some(self.port), &log);
        self.child = Some(child);
    }

    /// A fresh server, started.
    pub fn started() -> Mariadb {
        let mut m = Mariadb::new();
        m.start();
        m
    }

    /// Its Unix socket (for the mariadb client).
    pub fn socket(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `mysql://USER:PASSWORD@127.0.0.1:PORT/DB` followed by `query` (e.g. `?ssl-mode=...`).
    pub fn url(&self, user: &str, password: &str, db: &str, query: &str) -> String {
        format!(
            "mysql://{user}:{password}@127.0.0.1:{}/{db}{query}",
            self.port
        )
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        self.stop();
    }
}
