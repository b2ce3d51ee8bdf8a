//! Becoming COMMAND: same PID, argv byte for byte, environment and stdio kept, exit
//! status passed through, 126/127, clean signal state and no leaked descriptors.

mod common;
use common::*;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn ready_target() -> Fake {
    Fake::start(|_, _| {})
}

#[test]
fn command_keeps_the_pid() {
    let fake = ready_target();
    let child = whenready()
        .args([&fake.addr(), "--", "sh", "-c", "echo $$"])
        .spawn_piped();
    let pid = child.id();
    let r = finish(child, Instant::now(), Duration::from_secs(10));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.trim(), pid.to_string(), "exec must keep the PID");
}

#[test]
fn argv_is_passed_byte_for_byte() {
    let fake = ready_target();
    let mut cmd = whenready();
    cmd.args([
        &fake.addr(),
        "--",
        "sh",
        "-c",
        "for a; do printf '%s|' \"$a\" | od -An -tx1; done",
        "sh",
    ]);
    cmd.arg(os(b"caf\xe9"));
    cmd.args(["two words", "", "--", "$HOME", "*"]);
    let r = run(&mut cmd, Duration::from_secs(10));
    assert_eq!(r.code, 0, "{r:?}");
    let hex: Vec<String> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(""))
        .collect();
    assert_eq!(
        hex,
        [
            "636166e97c",           // caf\xe9| (not UTF-8)
            "74776f20776f7264737c", // two words|
            "7c",                   // empty argument
            "2d2d7c",               // --
            "24484f4d457c",         // $HOME, not expanded
            "2a7c",                 // *, not globbed
        ]
    );
}

#[test]
fn environment_and_stdin_are_inherited() {
    let fake = ready_target();
    let mut child = whenready()
        .args([
            &fake.addr(),
            "--",
            "sh",
            "-c",
            "printf '%s:' \"$APP_SETTING\"; cat",
        ])
        .env("APP_SETTING", "kept")
        .stdin(Stdio::piped())
        .spawn_piped();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin")
        .unwrap();
    let r = finish(child, Instant::now(), Duration::from_secs(10));
    assert_eq!(r.stdout, "kept:from stdin", "{r:?}");
}

#[test]
fn exit_status_of_the_command_is_the_status() {
    let fake = ready_target();
    for code in [0, 1, 2, 3, 42, 126, 127, 254, 255] {
        let r = wr(&[&fake.addr(), "--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(r.code, code, "{r:?}");
    }
    // Killed by a signal: the process itself dies by it (whenready became the
    // command), which the shell reports as 128 + n; an exit(143) would be a wrapper
    // that ran the command as its child.
    let r = wr(&[&fake.addr(), "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!((r.signal, r.code), (Some(15), 143), "{r:?}");
}

#[test]
fn command_not_found_is_127_and_not_executable_is_126() {
    let fake = ready_target();
    let r = wr(&[&fake.addr(), "--", "no-such-command-anywhere"]);
    assert_eq!(r.code, 127, "{r:?}");
    assert!(
        r.stderr.contains("\"no-such-command-anywhere\"") && r.stderr.contains("not found"),
        "{r:?}"
    );
    let dir = TempDir::new("exec");
    let script = dir.join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let r = wr(&[&fake.addr(), "--", script.to_str().unwrap()]);
    assert_eq!(r.code, 126, "{r:?}");
    assert!(r.stderr.contains("permission denied"), "{r:?}");
    let r = wr(&[&fake.addr(), "--", dir.0.to_str().unwrap()]);
    assert_eq!(r.code, 126, "a directory: {r:?}");
    // Not ready: the command is never looked up.
    let r = wr(&[
        "-t",
        "100ms",
        &format!("127.0.0.1:{}", free_port()),
        "--",
        "no-such-command-anywhere",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
}

fn signal_masks(r: &Run) -> (String, String) {
    let field = |name: &str| {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{name} missing: {r:?}"))
    };
    (field("SigBlk:"), field("SigIgn:"))
}

/// The same command run directly, without whenready: what the test process passes
/// down by itself (some sandboxes hand their children ignored signals or open fds).
fn baseline(args: &[&str]) -> Run {
    run(
        std::process::Command::new(args[0]).args(&args[1..]),
        Duration::from_secs(10),
    )
}

fn hex(mask: &str) -> u64 {
    u64::from_str_radix(mask, 16).unwrap()
}

#[test]
fn command_starts_with_no_blocked_signal_and_only_inherited_ignores() {
    let fake = ready_target();
    let r = wr(&[&fake.addr(), "--", "cat", "/proc/self/status"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (blocked, ignored) = signal_masks(&r);
    let (_, ignored_before) = signal_masks(&baseline(&["cat", "/proc/self/status"]));
    assert_eq!(hex(&blocked), 0, "no blocked signal");
    assert_eq!(ignored, ignored_before, "whenready adds no ignored signal");
    // In particular SIGPIPE (13), which the Rust runtime ignores, is back to default,
    // and so are SIGTERM (15) and SIGINT (2), which whenready handled while waiting.
    for n in [2, 13, 15] {
        assert_eq!(hex(&ignored) & (1 << (n - 1)), 0, "signal {n} ignored");
    }
}

#[test]
fn inherited_ignored_signals_stay_ignored() {
    // nohup-style: SIGHUP (bit 0) and SIGINT (bit 1) ignored by the parent shell.
    let fake = ready_target();
    let script = format!(
        "trap '' HUP INT; exec \"$0\" {} -- cat /proc/self/status",
        fake.addr()
    );
    let r = run(
        std::process::Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_whenready")])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap()),
        Duration::from_secs(10),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let (blocked, ignored) = signal_masks(&r);
    assert_eq!(hex(&blocked), 0);
    assert_eq!(
        hex(&ignored) & 0b11,
        0b11,
        "SIGHUP and SIGINT stay ignored: {ignored}"
    );
}

fn fds_of(r: &Run) -> Vec<u32> {
    let mut fds: Vec<u32> = r
        .stdout
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    fds.sort();
    fds
}

#[test]
fn no_descriptor_of_whenready_is_left_open() {
    let fake = ready_target();
    let r = wr(&[&fake.addr(), "--", "ls", "/proc/self/fd"]);
    assert_eq!(r.code, 0, "{r:?}");
    // Exactly what ls gets when run directly: 0-2, the directory ls opened itself,
    // and whatever the test process passes down.
    let expected = fds_of(&baseline(&["ls", "/proc/self/fd"]));
    assert!(expected.starts_with(&[0, 1, 2, 3]), "{expected:?}");
    assert_eq!(fds_of(&r), expected, "{r:?}");
}

#[test]
fn inherited_descriptors_pass_through() {
    let fake = ready_target();
    let script = format!(
        "exec 5</dev/null; exec \"$0\" {} -- ls /proc/self/fd",
        fake.addr()
    );
    let r = run(
        std::process::Command::new("sh").args(["-c", &script, env!("CARGO_BIN_EXE_whenready")]),
        Duration::from_secs(10),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let mut expected = fds_of(&baseline(&[
        "sh",
        "-c",
        "exec 5</dev/null; exec ls /proc/self/fd",
    ]));
    expected.sort();
    assert!(expected.contains(&5));
    assert_eq!(
        fds_of(&r),
        expected,
        "fd 5 was inherited and must stay open: {r:?}"
    );
}

#[test]
fn nothing_is_written_to_stdout_before_the_command() {
    let fake = ready_target();
    let r = wr(&[&fake.addr(), "--", "true"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "", "{r:?}");
    assert!(!r.stderr.is_empty());
}
