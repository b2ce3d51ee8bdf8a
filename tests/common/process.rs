//! Running whenready under test: the command with a clean environment, a finished
//! run's status and output, the time limit, processes and signal handlers seen
//! from /proc, and the small tools tests share (free ports, temp dirs, a program
//! the test needs).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test, with an empty environment but for PATH.
pub fn whenready() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_whenready"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.stdin(Stdio::null());
    cmd
}

/// What a finished run printed and how it ended.
pub struct Run {
    /// Exit code (128 + n for a signal death: see `signal`).
    pub code: i32,
    /// The signal that killed the process, if one did (then it did not exit).
    pub signal: Option<i32>,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.signal {
            Some(n) => write!(f, "killed by signal {n}")?,
            None => write!(f, "exit {}", self.code)?,
        }
        write!(
            f,
            "\n--- stdout\n{}--- stderr\n{}---",
            self.stdout, self.stderr
        )
    }
}

/// Exit code of a status, with signal deaths as 128 + n.
pub fn code_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Starting a command with stdout and stderr piped, for [`finish`].
pub trait SpawnPiped {
    /// Spawns with stdout and stderr piped; fails the test if it cannot start.
    fn spawn_piped(&mut self) -> Child;
}

impl SpawnPiped for Command {
    fn spawn_piped(&mut self) -> Child {
        self.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the command under test")
    }
}

/// Runs `cmd` to completion; kills it and fails the test after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Run {
    let start = Instant::now();
    finish(cmd.spawn_piped(), start, limit)
}

/// Waits for a spawned child (stdout and stderr piped) with a time limit.
pub fn finish(mut child: Child, start: Instant, limit: Duration) -> Run {
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let t_out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "whenready still running after {limit:?}; stderr so far: {}",
                t_err.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    use std::os::unix::process::ExitStatusExt;
    Run {
        code: code_of(status),
        signal: status.signal(),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        elapsed,
    }
}

/// Asserts that the run exited by itself (not killed by a signal) with `code`:
/// whenready ends on SIGTERM with exit(143), which a process without handlers,
/// killed by the signal, must not pass for.
pub fn assert_exited(r: &Run, code: i32) {
    assert_eq!(
        r.signal, None,
        "killed by a signal instead of exiting {code}: {r:?}"
    );
    assert_eq!(r.code, code, "{r:?}");
}

/// A running child whose stderr is read line by line as it comes, so that a test
/// can wait for what the child says instead of sleeping.
pub struct Watched {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout: thread::JoinHandle<String>,
}

impl Watched {
    /// Spawns `cmd` with stdout and stderr piped.
    pub fn spawn(cmd: &mut Command) -> Watched {
        let mut child = cmd.spawn_piped();
        let mut out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let stdout = thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let (tx, lines) = std::sync::mpsc::channel();
        thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watched {
            child,
            lines,
            seen: Vec::new(),
            stdout,
        }
    }

    /// The child's PID.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a line of stderr contains `needle`; fails the test after `limit`.
    pub fn wait_for_line(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.seen.iter().any(|l| l.contains(needle)) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no line with {needle:?} within {limit:?}; stderr so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Waits for the child to end (killing it and failing after `limit`).
    pub fn finish(mut self, start: Instant, limit: Duration) -> Run {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "still running after {limit:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        let elapsed = start.elapsed();
        // The writer is gone: the rest of stderr is in the channel.
        self.seen.extend(self.lines.iter());
        let mut stderr = self.seen.join("\n");
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        use std::os::unix::process::ExitStatusExt;
        Run {
            code: code_of(status),
            signal: status.signal(),
            stdout: self.stdout.join().unwrap(),
            stderr,
            elapsed,
        }
    }
}

/// The processes, other than `except`, whose process group is `pgid`: what a
/// process started in its own group (`process_group(0)`) left behind.
pub fn processes_in_group(pgid: u32, except: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let pgrp = rest.split_whitespace().nth(2).and_then(|p| p.parse().ok());
        if pgrp == Some(pgid) && pid != except {
            found.push(stat.trim().to_string());
        }
    }
    found
}

/// Waits until process `pid` has a handler for signal `n` (its `SigCgt` mask in
/// /proc), for processes that print nothing while they wait; fails after 10 s.
pub fn wait_for_handler(pid: u32, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let caught = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            })
            .unwrap_or(0);
        if caught & (1 << (n - 1)) != 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} installed no handler for signal {n} within 10 s"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// A target whose server never starts: with a 1 s deadline whenready exits 1, says
/// the connection was refused and does not run COMMAND; `--once` at `once_url` (the
/// same port, perhaps the TLS scheme) exits 1 too.
pub fn assert_never_started(url: &str, once_url: &str) {
    let r = wr(&["-t", "1s", url, "--", "echo", "ran"]);
    assert_exited(&r, 1);
    assert_eq!(r.stdout, "", "{r:?}");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    let r = wr(&["--once", once_url]);
    assert_exited(&r, 1);
}

/// Runs whenready with `args` (limit 30 s).
pub fn wr(args: &[&str]) -> Run {
    run(whenready().args(args), Duration::from_secs(30))
}

/// A TCP port on which nothing listens, chosen below the kernel's ephemeral range
/// (32768 and up by default): servers that bind port 0, in this test or another
/// running at the same time, can never be handed it. Ports are spread by process id
/// and a counter. Freeness is checked by a refused connect, never by binding: a
/// listener opened even briefly can live on in a child that another test thread is
/// forking at that moment, and accept connections until that child execs.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let (low, high) = ephemeral_range();
    let (start, span) = if low > 12_000 {
        (10_000, low - 10_000)
    } else {
        (high + 1, 65_535 - high)
    };
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = (start + (std::process::id() as usize * 7919 + n * 13) % span) as u16;
        let refused = |addr: &str| matches!(TcpStream::connect((addr, port)), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused);
        if refused("127.0.0.1") && (refused("::1") || TcpListener::bind("[::1]:0").is_err()) {
            return port;
        }
    }
}

fn ephemeral_range() -> (usize, usize) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|x| x.parse().ok());
            Some((it.next()?, it.next()?))
        })
        .unwrap_or((32_768, 60_999))
}

/// whenready as PID 1 of a PID namespace of its own (`unshare --pid --fork
/// --mount-proc`, as root), as in a container: `args` are its targets and options,
/// and COMMAND is `ps`, which reaps nothing and lists what whenready left it. See
/// [`assert_no_zombie_left`].
pub fn as_pid_1_then_ps(args: &[&str]) -> Command {
    require("unshare", "util-linux");
    require("ps", "procps");
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_whenready"))
        .args(args)
        .args(["--", "ps", "-eo", "pid,ppid,stat,comm"]);
    cmd
}

/// Asserts that a run of [`as_pid_1_then_ps`] became `ps`, and that `ps` found no
/// zombie: no process whenready inherited was left unreaped to COMMAND.
pub fn assert_no_zombie_left(r: &Run) {
    assert_eq!(r.code, 0, "unshare --pid needs root: {r:?}");
    assert!(r.stdout.contains(" ps"), "{r:?}");
    let zombies: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(2)
                .is_some_and(|s| s.starts_with('Z'))
        })
        .collect();
    assert!(
        zombies.is_empty(),
        "zombies left to COMMAND: {zombies:?}\n{r:?}"
    );
}

/// Fails with a message naming what to install when `program` is missing.
pub fn require(program: &str, package: &str) -> PathBuf {
    let candidates = [PathBuf::from(program)];
    for c in candidates.iter() {
        if c.is_absolute() && c.exists() {
            return c.clone();
        }
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    panic!("{program} is required for this test: install {package} (apt-get install {package})");
}

/// A temporary directory removed on drop, readable by the unprivileged test user.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "whenready-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A path inside the directory.
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asserts that no secret appears in any output of the run.
pub fn assert_no_secret(run: &Run, secret: &str) {
    assert!(
        !run.stderr.contains(secret),
        "secret leaked on stderr: {run:?}"
    );
    assert!(
        !run.stdout.contains(secret),
        "secret leaked on stdout: {run:?}"
    );
}

/// Whether `stderr` carries `reason`, as plain output shows it or as `--json`
/// quotes it (its double quotes escaped).
pub fn says(stderr: &str, reason: &str) -> bool {
    stderr.contains(reason) || stderr.contains(&reason.replace('"', "\\\""))
}

/// Runs whenready with `args` twice: as given, and with `--json` first.
pub fn plain_and_json(args: &[&str]) -> [Run; 2] {
    let mut json = vec!["--json"];
    json.extend_from_slice(args);
    [wr(args), wr(&json)]
}

/// Asserts that `target` is never ready within `-t 1s`, in plain and `--json`
/// output: exit 1, COMMAND not run, `reason` said. Returns both runs, for the
/// caller's own checks (no secret printed).
pub fn assert_never_ready(target: &str, reason: &str) -> [Run; 2] {
    let runs = plain_and_json(&["-t", "1s", target, "--", "echo", "ran"]);
    for r in &runs {
        assert_exited(r, 1);
        assert_eq!(r.stdout, "", "{r:?}");
        assert!(says(&r.stderr, reason), "{target}: {reason}: {r:?}");
    }
    runs
}

/// Asserts that `target` fails for good, in plain and `--json` output: exit 3 at
/// once (long before `-t 30s`), COMMAND not run, `reason` said; and exit 1 with
/// `--once`. Returns the three runs, for the caller's own checks (no secret printed).
pub fn assert_permanent(target: &str, reason: &str) -> [Run; 3] {
    let [plain, json] = plain_and_json(&["-t", "30s", target, "--", "echo", "ran"]);
    for r in [&plain, &json] {
        assert_exited(r, 3);
        assert!(r.elapsed < Duration::from_secs(10), "at once: {r:?}");
        assert!(says(&r.stderr, reason), "{target}: {reason}: {r:?}");
        assert_eq!(r.stdout, "", "{r:?}");
    }
    let once = wr(&["--once", target]);
    assert_exited(&once, 1);
    [plain, json, once]
}

/// `OsStr` helper for non-UTF-8 tests.
pub fn os(bytes: &[u8]) -> &OsStr {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes)
}

/// Raises this test process's soft descriptor limit to the hard limit (for tests
/// that open a thousand listeners).
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
}

/// The PID (outside the namespace) of the process that `unshare --fork` started
/// (read while `unshare` is alive: a reaped process has no children file).
pub fn forked_child(unshare_pid: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let path = format!("/proc/{unshare_pid}/task/{unshare_pid}/children");
        if let Some(pid) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "unshare did not fork");
        thread::sleep(Duration::from_millis(10));
    }
}
