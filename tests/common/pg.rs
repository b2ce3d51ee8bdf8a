//! A real PostgreSQL 15 per test: a cluster made once per machine with initdb (a
//! template under the temp dir, guarded by a file lock), copied for each test, run
//! as an unprivileged user on a free port.
#![allow(dead_code)]

use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;

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
