//! Runs against hostile peers: whenready's own peak memory while it runs (`VmHWM`
//! from /proc, polled; `wait4`'s figure would include what the test process had
//! before exec), its exit time, and what it printed, in plain and `--json` output.

use super::{assert_exited, assert_no_secret, finish, whenready, Run, SpawnPiped};
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

/// The most one target's attempt may use (the contract's "Hostile peers").
pub const ATTEMPT_MEMORY_KIB: u64 = 16 * 1024;

/// A finished run and whenready's peak resident memory while it ran.
pub struct Measured {
    /// How it ended and what it printed.
    pub run: Run,
    /// The highest `VmHWM` seen, in KiB (0 if the process ended before the first look).
    pub peak_kib: u64,
}

/// `VmHWM` of a live process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `cmd` (stdout and stderr piped) to completion, polling its peak memory every
/// few milliseconds; kills it and fails the test after `limit`.
pub fn run_measured(cmd: &mut Command, limit: Duration) -> Measured {
    let start = Instant::now();
    let child = cmd.spawn_piped();
    let pid = child.id();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (s, p) = (stop.clone(), peak.clone());
    let poller = std::thread::spawn(move || {
        use std::sync::atomic::Ordering::SeqCst;
        while !s.load(SeqCst) {
            match vm_hwm_kib(pid) {
                Some(kib) => {
                    p.fetch_max(kib, SeqCst);
                }
                // Gone (or a zombie, whose status has no VmHWM).
                None if start.elapsed() > Duration::from_millis(50) => break,
                None => {}
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let run = finish(child, start, limit);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = poller.join();
    Measured {
        run,
        peak_kib: peak.load(std::sync::atomic::Ordering::SeqCst),
    }
}

/// Asserts that the run stayed under the per-attempt memory bound.
pub fn assert_bounded_memory(m: &Measured) {
    assert!(
        m.peak_kib > 0,
        "the peak memory was never read (the run ended within 2 ms?): {:?}",
        m.run
    );
    assert!(
        m.peak_kib < ATTEMPT_MEMORY_KIB,
        "peak RSS {} KiB is over {} KiB: {:?}",
        m.peak_kib,
        ATTEMPT_MEMORY_KIB,
        m.run
    );
}

/// Asserts that a run with `-t timeout` ended within the deadline's slack (the contract's 100 ms
/// and 500 ms more for a loaded test machine and a debug build): never held by the peer.
pub fn assert_within_deadline(run: &Run, timeout: Duration) {
    let slack = Duration::from_millis(600);
    assert!(
        run.elapsed < timeout + slack,
        "ended after {:?}, deadline {:?}: {run:?}",
        run.elapsed,
        timeout
    );
}

/// Asserts that every line whenready printed is one of its own: no line a peer could
/// have forged (`forged` is the text a hostile peer tried to smuggle in as a line of
/// its own), and no line over `max` bytes.
pub fn assert_no_forged_line(run: &Run, forged: &str, max: usize) {
    for line in run.stderr.lines() {
        assert!(
            !line.starts_with(forged),
            "a peer forged a line: {line:?}\n{run:?}"
        );
        assert!(
            line.len() <= max,
            "a line of {} bytes (over {max}): {:?}…",
            line.len(),
            &line[..line.len().min(200)]
        );
    }
}

/// What a hostile fake does after its opening: writes `unit` again and again (in
/// chunks of about 64 KiB) until the client goes away.
pub fn endless(s: &mut impl Write, unit: &[u8]) {
    let chunk = unit.repeat((64 * 1024 / unit.len()).max(1));
    while s.write_all(&chunk).is_ok() {}
}

/// Runs whenready with `options` before the target `url`, measuring its peak memory.
pub fn attack(options: &[&str], url: &str) -> Measured {
    let mut args: Vec<&str> = options.to_vec();
    args.push(url);
    run_measured(whenready().args(&args), Duration::from_secs(40))
}

/// The checks every attack on a kind shares: exit 1 within the slack of the deadline
/// `timeout` (or at once with `--once`), bounded memory, `reason` shown, `secret`
/// never printed.
pub fn assert_held(m: &Measured, timeout: Duration, reason: &str, secret: &str) {
    assert_exited(&m.run, 1);
    assert_within_deadline(&m.run, timeout);
    assert_bounded_memory(m);
    assert!(m.run.stderr.contains(reason), "{reason:?}: {:?}", m.run);
    assert_no_secret(&m.run, secret);
    eprintln!(
        "peak {} KiB, {:?}, reason {reason:?}",
        m.peak_kib, m.run.elapsed
    );
}
