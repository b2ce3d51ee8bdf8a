//! Every way out leaves on time while a blocking call hangs: a name lookup sent to a
//! resolver that never answers, and a `stat` on a file system that never answers.
//!
//! whenready runs in a private mount namespace (`unshare --mount`, root) where
//! /etc/resolv.conf names a UDP socket of this test that reads queries and stays
//! silent, or where a FUSE mount has no daemon behind it. Before the fix, dropping
//! the runtime waited for the stuck getaddrinfo (5 s and more), and `file://` ran
//! its `stat` on the runtime's only thread, so neither the deadline nor a signal
//! could end it. Times are checked with discriminating bounds: the stuck calls last
//! at least 5 s (the resolver's timeout) or forever (FUSE).

mod common;
use common::*;
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

/// A name that only the silent resolver is asked about.
const NAME: &str = "db.whenready.test";

/// A resolver that reads queries and never answers, on port 53 of an address of
/// its own in 127/8 (so that tests in parallel do not share one).
struct SilentResolver {
    socket: UdpSocket,
    conf: TempDir,
}

impl SilentResolver {
    fn start(last_octet: u8) -> SilentResolver {
        let ip = format!("127.83.0.{last_octet}");
        let socket = UdpSocket::bind((ip.as_str(), 53))
            .unwrap_or_else(|e| panic!("bind {ip}:53 (the test runs as root): {e}"));
        let conf = TempDir::new("silent-resolver");
        std::fs::write(
            conf.join("resolv.conf"),
            format!("nameserver {ip}\noptions timeout:5 attempts:2\n"),
        )
        .unwrap();
        SilentResolver { socket, conf }
    }

    /// whenready with `args`, in a mount namespace whose resolv.conf names this
    /// resolver.
    fn whenready(&self, args: &[&str]) -> Command {
        let setup = format!(
            "mount --bind '{}' /etc/resolv.conf",
            self.conf.join("resolv.conf").display()
        );
        in_private_mounts(&setup, args)
    }

    /// Waits until a query arrives (or takes one that came already): a lookup is
    /// then stuck in the resolver.
    fn wait_for_query(&self) {
        wait_for_query(&self.socket);
    }
}

/// Waits until a query arrives at `socket`; fails the test after 10 s.
fn wait_for_query(socket: &UdpSocket) {
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 512];
    socket
        .recv(&mut buf)
        .expect("whenready sent no query to the silent resolver within 10 s");
}

/// whenready with `args`, run by `sh` after `setup` in a private mount namespace.
fn in_private_mounts(setup: &str, args: &[&str]) -> Command {
    require("unshare", "util-linux");
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "sh", "-c"])
        .arg(format!("set -e; {setup}; exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_whenready"))
        .args(args);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.stdin(std::process::Stdio::null());
    cmd
}

/// A directory in a private mount namespace on which a FUSE file system is mounted
/// with no daemon to answer: every `stat` below it hangs until the process dies.
fn with_hung_fuse(dir: &TempDir, args: &[&str]) -> Command {
    assert!(
        std::path::Path::new("/dev/fuse").exists(),
        "this test needs /dev/fuse (the fuse kernel module)"
    );
    let setup = format!(
        "exec 3<>/dev/fuse; mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 whenready-hang '{}'",
        dir.0.display()
    );
    in_private_mounts(&setup, args)
}

fn kill(signal: &str, pid: u32) {
    assert!(Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

/// How many threads a process has.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn the_deadline_leaves_while_a_lookup_hangs() {
    let resolver = SilentResolver::start(1);
    let target = format!("{NAME}:5432");
    let r = run(
        &mut resolver.whenready(&["-t", "1s", &target, "--", "echo", "ran"]),
        Duration::from_secs(30),
    );
    assert_exited(&r, 1);
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}: {r:?}", r.elapsed);
    // The lookup was under way: its query reached the resolver.
    resolver.wait_for_query();
}

#[test]
fn once_leaves_while_a_lookup_hangs() {
    let resolver = SilentResolver::start(2);
    let target = format!("{NAME}:5432");
    let r = run(
        &mut resolver.whenready(&["--once", "--attempt-timeout", "300ms", &target]),
        Duration::from_secs(30),
    );
    assert_exited(&r, 1);
    assert!(r.stderr.contains("no answer within"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}: {r:?}", r.elapsed);
    resolver.wait_for_query();
}

#[test]
fn a_permanent_failure_leaves_while_a_lookup_hangs() {
    let resolver = SilentResolver::start(3);
    // The password is rejected only once the lookup is stuck in the resolver.
    let queries = resolver.socket.try_clone().unwrap();
    let wrongpass = Fake::start(move |mut stream, _| {
        use std::io::{Read, Write};
        let mut buf = [0u8; 512];
        let _ = stream.read(&mut buf);
        wait_for_query(&queries);
        let _ = stream.write_all(b"-WRONGPASS invalid username-password pair\r\n");
        let _ = stream.read(&mut buf);
    });
    let stuck = format!("{NAME}:5432");
    let redis = format!("redis://:secret@{}", wrongpass.addr());
    let mut cmd = resolver.whenready(&["-t", "30s", &stuck, &redis]);
    let r = run(&mut cmd, Duration::from_secs(30));
    assert_exited(&r, 3);
    assert!(r.stderr.contains("WRONGPASS"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}: {r:?}", r.elapsed);
}

#[test]
fn sigterm_and_sigint_leave_while_a_lookup_hangs() {
    for (n, (signal, code)) in [("TERM", 143), ("INT", 130)].into_iter().enumerate() {
        let resolver = SilentResolver::start(4 + n as u8);
        let target = format!("{NAME}:5432");
        let child = Watched::spawn(&mut resolver.whenready(&["-t", "60s", &target]));
        resolver.wait_for_query();
        let start = Instant::now();
        kill(signal, child.id());
        let r = child.finish(start, Duration::from_secs(30));
        assert_exited(&r, code);
        assert!(
            r.elapsed < Duration::from_secs(2),
            "SIG{signal}: {:?}: {r:?}",
            r.elapsed
        );
    }
}

#[test]
fn the_deadline_leaves_while_a_stat_hangs() {
    let dir = TempDir::new("hung-fuse");
    let target = format!("file://{}/ready", dir.0.display());
    let r = run(
        &mut with_hung_fuse(&dir, &["-t", "1s", &target, "--", "echo", "ran"]),
        Duration::from_secs(30),
    );
    assert_exited(&r, 1);
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}: {r:?}", r.elapsed);
}

#[test]
fn sigterm_leaves_while_a_stat_hangs() {
    let dir = TempDir::new("hung-fuse");
    let target = format!("file://{}/ready", dir.0.display());
    let mut child = Watched::spawn(&mut with_hung_fuse(&dir, &["-t", "60s", &target]));
    child.wait_for_line("waiting up to", Duration::from_secs(10));
    // The stat runs on a thread of its own, beside the runtime's.
    let started = Instant::now() + Duration::from_secs(10);
    while threads(child.id()) < 2 {
        assert!(Instant::now() < started, "no thread for the stat");
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    kill("TERM", child.id());
    let r = child.finish(start, Duration::from_secs(30));
    assert_exited(&r, 143);
    assert!(r.elapsed < Duration::from_secs(2), "{:?}: {r:?}", r.elapsed);
}

#[test]
fn localhost_names_never_ask_the_resolver() {
    // `localhost` and names under `.localhost` are the loopback addresses (RFC 6761,
    // 6.3), decided without the resolver, which here would never answer.
    let resolver = SilentResolver::start(6);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for name in ["localhost", "app.localhost", "LocalHost."] {
        let target = format!("{name}:{port}");
        let r = run(
            &mut resolver.whenready(&["--once", &target]),
            Duration::from_secs(30),
        );
        assert_exited(&r, 0);
        assert!(r.elapsed < Duration::from_secs(3), "{:?}: {r:?}", r.elapsed);
    }
    resolver
        .socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 512];
    assert!(
        resolver.socket.recv(&mut buf).is_err(),
        "a query reached the resolver"
    );
}
