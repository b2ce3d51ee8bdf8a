//! SIGTERM and SIGINT while waiting end whenready with 143 and 130, also as PID 1.
//!
//! Times are checked loosely (seconds, not milliseconds): a whenready that ignored
//! the signal would run into its 30 s deadline. The benchmarks measure the latency.

mod common;
use common::*;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

fn kill(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Starts `cmd` (which waits for a port that never opens), waits until it is
/// waiting, signals `pid_of(child)`, and returns the run.
fn signal_while_waiting(mut cmd: Command, signal: &str, pid_of: impl Fn(u32) -> u32) -> Run {
    let child = cmd.spawn_piped();
    let pid = pid_of(child.id());
    thread::sleep(Duration::from_millis(400));
    let start = Instant::now();
    kill(signal, pid);
    finish(child, start, Duration::from_secs(10))
}

fn waiting() -> Vec<String> {
    vec![
        "-t".into(),
        "30s".into(),
        format!("127.0.0.1:{}", free_port()),
        "--".into(),
        "echo".into(),
        "ran".into(),
    ]
}

#[test]
fn sigterm_while_waiting_exits_143() {
    let mut cmd = whenready();
    cmd.args(waiting());
    let r = signal_while_waiting(cmd, "TERM", |p| p);
    assert_eq!(r.code, 143, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
    assert!(r.stderr.contains("interrupted by SIGTERM"), "{r:?}");
    assert!(r.stdout.is_empty(), "the command must not run: {r:?}");
}

#[test]
fn sigint_while_waiting_exits_130() {
    let mut cmd = whenready();
    cmd.args(waiting());
    let r = signal_while_waiting(cmd, "INT", |p| p);
    assert_eq!(r.code, 130, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}

fn as_pid1() -> Command {
    require("unshare", "util-linux");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount-proc",
        env!("CARGO_BIN_EXE_whenready"),
    ]);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

#[test]
fn as_pid1_it_really_is_pid1() {
    let fake = Fake::start(|_, _| {});
    let mut cmd = as_pid1();
    cmd.args([&fake.addr(), "--", "sh", "-c", "echo $$"]);
    let r = run(&mut cmd, Duration::from_secs(10));
    assert_eq!(r.code, 0, "unshare --pid needs root: {r:?}");
    assert_eq!(r.stdout.trim(), "1", "{r:?}");
}

#[test]
fn sigterm_as_pid1_exits_143() {
    let mut cmd = as_pid1();
    cmd.args(waiting());
    let r = signal_while_waiting(cmd, "TERM", forked_child);
    assert_eq!(r.code, 143, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}

#[test]
fn sigint_as_pid1_exits_130() {
    let mut cmd = as_pid1();
    cmd.args(waiting());
    let r = signal_while_waiting(cmd, "INT", forked_child);
    assert_eq!(r.code, 130, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}
