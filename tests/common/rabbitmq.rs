//! RabbitMQ nodes of our own: each in a temp dir, with its own node name, AMQP port,
//! distribution port, cookie (HOME is the temp dir), and a TLS listener with the test
//! CA, bound to 127.0.0.1.
//!
//! A node boots in seconds, so a test binary shares one ([`shared`]). Statics are
//! never dropped, so every node also has a watchdog: a shell that waits for the end
//! of a pipe held by this process, then stops the node (`rabbitmqctl stop`, then
//! kills its process group) and removes its files. The pipe ends when the test
//! binary exits, however it exits.

use super::{certs, free_port, require, Certs, TempDir};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The password of the user `app` on every node.
pub const APP_PW: &str = "amqp-Canary-9d4c";

/// A RabbitMQ node with users and vhosts:
/// - `guest`/`guest` (RabbitMQ's default, loopback only) on `/`;
/// - `app`/[`APP_PW`] with all rights on vhost `appvh` and none on `/` or `othervh`.
pub struct Rabbit {
    /// The AMQP port on 127.0.0.1.
    pub port: u16,
    /// The AMQPS port on 127.0.0.1.
    pub tls_port: u16,
    /// The node name (`whenready-test-PID-N@localhost`).
    pub node: String,
    /// The test CA and the node's certificate (for `--cacert`).
    pub certs: Certs,
    dir: TempDir,
    server: Option<Child>,
    // Dropping (or the process's exit) closes it: the watchdog then stops the node.
    watchdog: Option<ChildStdin>,
    watchdog_process: Option<Child>,
}

fn server_program() -> PathBuf {
    // Debian's /usr/sbin wrapper switches to the rabbitmq user; the real script runs
    // as whoever starts it.
    let real = PathBuf::from("/usr/lib/rabbitmq/bin/rabbitmq-server");
    if real.exists() {
        return real;
    }
    require("rabbitmq-server", "rabbitmq-server")
}

fn ctl_program() -> PathBuf {
    let real = PathBuf::from("/usr/lib/rabbitmq/bin/rabbitmqctl");
    if real.exists() {
        return real;
    }
    require("rabbitmqctl", "rabbitmq-server")
}

impl Rabbit {
    /// A node, configured but not started.
    pub fn new() -> Rabbit {
        static N: AtomicUsize = AtomicUsize::new(0);
        server_program();
        ctl_program();
        let dir = TempDir::new("rabbitmq");
        let node = format!(
            "whenready-test-{}-{}@localhost",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let (port, tls_port) = (free_port(), free_port());
        let certs = certs(&["localhost", "127.0.0.1"]);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let cookie = dir.join("home/.erlang.cookie");
        std::fs::write(&cookie, format!("whenready{}", fastrand_like())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o400)).unwrap();
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{port}\n\
                 listeners.ssl.default = 127.0.0.1:{tls_port}\n\
                 ssl_options.cacertfile = {}\n\
                 ssl_options.certfile = {}\n\
                 ssl_options.keyfile = {}\n\
                 ssl_options.verify = verify_none\n\
                 ssl_options.fail_if_no_peer_cert = false\n",
                certs.ca.display(),
                certs.cert.display(),
                certs.key.display()
            ),
        )
        .unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        // The watchdog, from the start (the files are ours from here on): its stdin
        // ends when this process does, however it ends.
        let script = format!(
            "cat >/dev/null; if [ -f '{dir}/pgid' ]; then \
             HOME='{dir}/home' '{ctl}' -n '{node}' stop >/dev/null 2>&1; \
             kill -KILL -$(cat '{dir}/pgid') 2>/dev/null; fi; rm -rf '{dir}' '{certs}'",
            ctl = ctl_program().display(),
            dir = dir.0.display(),
            certs = certs.dir.0.display(),
        );
        let mut watchdog = Command::new("sh")
            .args(["-c", &script])
            .env("ERL_CRASH_DUMP_BYTES", "0")
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the watchdog shell");
        Rabbit {
            port,
            tls_port,
            node,
            certs,
            dir,
            server: None,
            watchdog: watchdog.stdin.take(),
            watchdog_process: Some(watchdog),
        }
    }

    fn env(&self, cmd: &mut Command) {
        let d = &self.dir.0;
        cmd.env("HOME", d.join("home"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", d.join("pid"));
    }

    /// Runs `rabbitmqctl -n NODE ARGS`; true when it succeeded.
    pub fn ctl(&self, args: &[&str]) -> bool {
        let mut cmd = Command::new(ctl_program());
        // A failing rabbitmqctl (a node already stopped) must not write an
        // erl_crash.dump into the working directory, the source tree.
        cmd.env("HOME", self.dir.join("home"))
            .env("ERL_CRASH_DUMP_BYTES", "0")
            .current_dir(&self.dir.0)
            .args(["-n", &self.node])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.status().is_ok_and(|s| s.success())
    }

    /// Boots the node, waits until it has started, and makes the users and vhosts.
    pub fn start(&mut self) {
        let mut cmd = Command::new(server_program());
        self.env(&mut cmd);
        cmd.current_dir(&self.dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let server = cmd.spawn().expect("start rabbitmq-server");
        // For the watchdog: the node's process group (Erlang's helpers included).
        std::fs::write(self.dir.join("pgid"), server.id().to_string()).unwrap();
        self.server = Some(server);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.ctl(&["await_startup", "--timeout", "30"])
            {
                break;
            }
            if let Some(Ok(Some(status))) = self.server.as_mut().map(|s| s.try_wait()) {
                panic!(
                    "rabbitmq-server exited ({status}) while starting; see {}",
                    self.dir.join("log").display()
                );
            }
            assert!(Instant::now() < deadline, "RabbitMQ did not start in 90 s");
            thread::sleep(Duration::from_millis(200));
        }
        for args in [
            &["add_user", "app", APP_PW][..],
            &["add_vhost", "appvh"],
            &["add_vhost", "othervh"],
            &["set_permissions", "-p", "appvh", "app", ".*", ".*", ".*"],
        ] {
            assert!(self.ctl(args), "rabbitmqctl {} failed", args[0]);
        }
    }

    /// Stops the node and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            self.ctl(&["stop"]);
            let _ = kill_group(server.id());
            let _ = server.wait();
            let _ = std::fs::remove_file(self.dir.join("pgid"));
        }
        // The watchdog's turn: the node is down, it only cleans up.
        self.watchdog.take();
        if let Some(mut w) = self.watchdog_process.take() {
            let _ = w.wait();
        }
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kills what is left of a process group (Erlang's helpers), through kill(1).
fn kill_group(pgid: u32) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
}

fn fastrand_like() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// The node shared by the tests of one test binary, started on first use and
/// stopped by its watchdog when the binary exits.
pub fn shared() -> &'static Rabbit {
    static NODE: OnceLock<Rabbit> = OnceLock::new();
    NODE.get_or_init(|| {
        let mut r = Rabbit::new();
        r.start();
        r
    })
}
