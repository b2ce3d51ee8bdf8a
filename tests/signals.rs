//! SIGTERM and SIGINT while waiting end whenready with 143 and 130, also as PID 1.
//!
//! Times are checked loosely (seconds, not milliseconds): a whenready that ignored
//! the signal would run into its 30 s deadline. The benchmarks measure the latency.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn kill(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Starts `cmd` (which waits for a port that never opens), waits until it says
/// the port is not ready (its handlers are installed before the first attempt),
/// signals `pid_of(child)`, and returns the run.
fn signal_while_waiting(mut cmd: Command, signal: &str, pid_of: impl Fn(u32) -> u32) -> Run {
    let mut child = Watched::spawn(&mut cmd);
    let pid = pid_of(child.id());
    child.wait_for_line("not ready", Duration::from_secs(10));
    let start = Instant::now();
    kill(signal, pid);
    child.finish(start, Duration::from_secs(10))
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
    assert_exited(&r, 143);
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
    assert!(r.stderr.contains("interrupted by SIGTERM"), "{r:?}");
    assert!(r.stdout.is_empty(), "the command must not run: {r:?}");
}

#[test]
fn sigint_while_waiting_exits_130() {
    let mut cmd = whenready();
    cmd.args(waiting());
    let r = signal_while_waiting(cmd, "INT", |p| p);
    assert_exited(&r, 130);
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
    assert_exited(&r, 143);
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}

#[test]
fn sigint_as_pid1_exits_130() {
    let mut cmd = as_pid1();
    cmd.args(waiting());
    let r = signal_while_waiting(cmd, "INT", forked_child);
    assert_exited(&r, 130);
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}

/// The kernel function a process sleeps in (`pipe_write`, or `anon_pipe_write` on
/// newer kernels, while blocked writing to a full pipe).
fn wchan(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

#[test]
fn sigterm_after_the_last_target_is_ready_but_before_exec_exits_143() {
    let dir = TempDir::new("ready-then-sigterm");
    let target = format!("file://{}", dir.0.display());
    sigterm_while_the_last_line_is_written(&dir, &target);
}

#[test]
fn sigterm_before_exec_exits_143_when_the_first_look_settled_the_wait() {
    // An open loopback port, by address or by name: the first look settles the
    // wait without the runtime (src/wait/mod.rs, run), so only the flag handler
    // stands between the signal and COMMAND. (The kernel completes the handshakes;
    // nobody accepts.)
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for host in ["127.0.0.1", "localhost"] {
        let dir = TempDir::new("settled-then-sigterm");
        sigterm_while_the_last_line_is_written(&dir, &format!("{host}:{port}"));
    }
}

/// Runs whenready on `target` (ready at once) with a COMMAND, stops it with SIGTERM
/// while it is blocked writing its last line before exec, and checks that it exits
/// 143 without running COMMAND.
fn sigterm_while_the_last_line_is_written(dir: &TempDir, target: &str) {
    let marker = dir.join("command-ran");
    let command = format!("echo ran > '{}'", marker.display());
    let args = ["-t", "30s", target, "--", "sh", "-c", &command];
    // What whenready writes before its last line ("... ready after ...; starting sh"):
    // the headline and the target's ready line, measured on a run without a command.
    let before_last = wr(&["-t", "30s", target]);
    assert_exited(&before_last, 0);
    let room = before_last.stderr.len() + 8;
    // stderr is a one-page pipe, filled so that exactly that much fits: whenready
    // then sleeps in write(2) with its last line, after every target is ready and
    // before exec, where the runtime no longer listens for signals.
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    rustix::pipe::fcntl_setpipe_size(&writer, 4096).unwrap();
    let capacity = rustix::pipe::fcntl_getpipe_size(&writer).unwrap();
    let mut writer = std::fs::File::from(writer);
    use std::io::{Read, Write};
    writer.write_all(&vec![b'.'; capacity - room]).unwrap();
    let mut child = whenready()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .spawn()
        .unwrap();
    let pid = child.id();
    let blocked = Instant::now() + Duration::from_secs(10);
    while !wchan(pid).ends_with("pipe_write") {
        assert!(
            Instant::now() < blocked,
            "whenready never blocked on stderr (wchan {:?})",
            wchan(pid)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    kill("TERM", pid);
    let drain = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = std::fs::File::from(reader).read_to_string(&mut all);
        all
    });
    let status = child.wait().unwrap();
    let stderr = drain.join().unwrap();
    let stderr = stderr.trim_start_matches('.');
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), None, "{status:?}\n{stderr}");
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(!marker.exists(), "the command ran after SIGTERM:\n{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
}
