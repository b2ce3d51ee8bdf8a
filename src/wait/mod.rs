//! Waiting: every target probed concurrently, each with its own backoff, all under
//! one deadline, until every target is ready (or gone, with `--reverse`), one fails
//! for good, `--once` has looked, or a signal comes.
//!
//! One engine, in parts of one concern each:
//! - [`track`]: what an attempt means for one target (the goal, `--stable`'s
//!   window, the backoff's next pause);
//! - [`queue`]: the due times, and when to wake up for them;
//! - [`schedule`]: the tracks, the queue and the tally of how targets ended,
//!   as plain data (no I/O, no clock);
//! - [`probes`]: the run's targets, as the loop makes attempts at them;
//! - [`drive`]: the one async loop that runs a schedule on the single-threaded
//!   runtime, against the deadline and the signals, with one [`timer`].
//!
//! [`run`] makes each target's first attempt at once where the kernel decides it
//! inside `connect()` (a loopback port), records it in the schedule, and starts
//! the runtime only when that does not settle the run; the loop then starts from
//! the schedule as those attempts left it.

pub mod drive;
pub mod probes;
pub mod queue;
pub mod schedule;
pub mod timer;
pub mod track;

pub use probes::Probes;

use crate::probe::ProbeError;
use crate::report::Reporter;
use crate::{limits, signal};
use schedule::Schedule;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use timer::Clock;
use tokio::time::Instant;
use track::Told;

/// How to wait.
#[derive(Debug, Clone)]
pub struct Settings {
    /// When to give up; `None` waits forever.
    pub deadline: Option<Instant>,
    /// Cap of the backoff between attempts.
    pub interval: Duration,
    /// Bound of one attempt (and never beyond the deadline).
    pub attempt_timeout: Duration,
    /// One attempt per target.
    pub once: bool,
    /// Permanent failures count as transient.
    pub retry_all: bool,
    /// At most this many attempts in flight at once ([`run`] sets it from the
    /// descriptor limit).
    pub max_in_flight: usize,
    /// `--reverse`: wait until every target is *not* ready.
    pub reverse: bool,
    /// `--stable`: the goal (ready, or gone with `reverse`) must hold on every attempt
    /// for this long before the target counts; zero counts the first attempt.
    pub stable: Duration,
}

/// How waiting ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every target is ready.
    Ready,
    /// The deadline passed first.
    Deadline,
    /// `--once` found at least one target not ready.
    NotReady,
    /// Target `.0` failed permanently.
    Permanent(usize),
    /// A signal arrived (its number).
    Signal(i32),
}

/// One attempt in flight, as the loop holds it.
pub type Attempt = Pin<Box<dyn Future<Output = Result<(), ProbeError>> + Send>>;

/// The targets of a wait, by number: how to make an attempt at each.
pub trait Targets: Send + Sync + 'static {
    /// How many there are.
    fn count(&self) -> usize;
    /// An attempt made at once, without the runtime, where the kernel decides it
    /// within a system call (a TCP connect to loopback); `None` when this attempt
    /// needs the runtime.
    fn attempt_now(&self, i: usize) -> Option<Result<(), ProbeError>>;
    /// An attempt at target `i`, on the runtime.
    fn probe(&self, i: usize) -> Attempt;
    /// Resolves when the kernel reports a change that may have made target `i`
    /// ready (inotify, for `file://` and `unix://`), which ends its pause; never,
    /// for kinds without such a word.
    fn changed(&self, i: usize) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// The requests target `i` has sent its server so far, for kinds whose attempts
    /// are not one request each (a Kubernetes watch lives across attempts).
    fn requests(&self, _i: usize) -> Option<u64> {
        None
    }
    /// Whether, with `--reverse`, an attempt at target `i` cut by the attempt
    /// timeout shows it gone ([`crate::probe::Check::silence_is_gone`]).
    fn silence_is_gone(&self, _i: usize) -> bool {
        true
    }
}

/// Deliberate pauses around the wait (docker-compose-wait's WAIT_BEFORE and
/// WAIT_AFTER), which a signal still ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pauses {
    /// Before the first attempt.
    pub before: Duration,
    /// Between readiness and exec.
    pub after: Duration,
}

/// Tells the reporter what an attempt at target `i` meant.
fn tell(reporter: &Reporter, i: usize, told: Told) {
    match told {
        Told::Reached(why) => reporter.ready(i, why),
        Told::Holding(e) => reporter.not_ready(i, &e, false),
        Told::Missed { error, last } => reporter.not_ready(i, &error, last),
    }
}

/// Waits for `targets`, reporting progress. `command`: COMMAND follows a wait
/// that ends ready (a signal must then still stop it, see [`signal`]).
///
/// First each target's attempt is made at once where the kernel decides it within
/// `connect()` (an open or refused loopback port), and recorded in the schedule.
/// When that settles the run (every target ready, `--once`, a permanent failure), no
/// runtime is started: a one-shot check costs little more than starting a process.
/// Otherwise the runtime starts, the signal handlers are installed, and the loop
/// ([`drive::drive`]) goes on from the schedule as it stands. An error: the runtime
/// could not be started.
pub fn run(
    targets: Arc<dyn Targets>,
    settings: &Settings,
    reporter: &Arc<Reporter>,
    pauses: Pauses,
    command: bool,
) -> std::io::Result<Outcome> {
    let count = targets.count();
    let mut schedule = Schedule::new(
        count,
        settings,
        reporter.tick_every(),
        Instant::now(),
        || fastrand::u64(..),
    );
    let mut looked = Vec::new();
    if pauses.before.is_zero() && pauses.after.is_zero() {
        for i in 0..count {
            if let Some(result) = targets.attempt_now(i) {
                looked.push((i, schedule.record(i, result, Instant::now())));
            }
        }
        if let Some(outcome) = schedule.outcome() {
            if command {
                // COMMAND starts after the lines are written, which a full pipe can
                // hold up: a signal meanwhile must still stop it.
                signal::install_flag();
            }
            begin(reporter, looked);
            return Ok(outcome);
        }
    }
    on_runtime(schedule, looked, targets, settings, reporter, pauses)
}

/// Reports the start of the wait and the first attempts made.
fn begin(reporter: &Reporter, looked: Vec<(usize, Told)>) {
    reporter.begin();
    for (i, told) in looked {
        reporter.attempt(i);
        tell(reporter, i, told);
    }
}

/// The wait on a single-threaded runtime, with the signal handlers installed and
/// the descriptor limit raised for attempts at every target at once. Never
/// inlined: the runtime and its future take kilobytes of stack, which a check
/// settled without them would otherwise reserve (and fault in) too.
#[inline(never)]
fn on_runtime(
    mut schedule: Schedule,
    looked: Vec<(usize, Told)>,
    targets: Arc<dyn Targets>,
    settings: &Settings,
    reporter: &Arc<Reporter>,
    pauses: Pauses,
) -> std::io::Result<Outcome> {
    // First of all: as PID 1, a signal without a handler would be dropped.
    let mut signals = signal::Signals::install();
    // One thread for everything but blocking calls (getaddrinfo, stat); few such
    // threads keep a thousand-name run modest in memory.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()?;
    let (original, max_in_flight) = limits::raise();
    let settings = Settings {
        max_in_flight,
        ..settings.clone()
    };
    let outcome = runtime.block_on(async {
        if let Some(n) = pause(reporter, &mut signals, pauses.before, true).await {
            return Outcome::Signal(n);
        }
        begin(reporter, looked);
        // One attempt per target makes no pause: the runtime's timer, which costs no
        // descriptor and no system call to set up, serves the deadline alone.
        let clock = if settings.once {
            Clock::Runtime
        } else {
            Clock::Kernel
        };
        let signal = signals.recv();
        let outcome =
            drive::drive(&mut schedule, &targets, &settings, reporter, signal, clock).await;
        if outcome == Outcome::Ready {
            if let Some(n) = pause(reporter, &mut signals, pauses.after, false).await {
                return Outcome::Signal(n);
            }
        }
        outcome
    });
    // Every way out leaves now: a plain drop would wait for blocking work still
    // running, such as a getaddrinfo stuck in an unanswering resolver.
    runtime.shutdown_background();
    // COMMAND starts with the limit whenready was given.
    limits::restore(original);
    Ok(outcome)
}

/// A deliberate pause (WAIT_BEFORE / WAIT_AFTER) that a signal still ends; returns
/// the signal's number if one came.
async fn pause(
    reporter: &Reporter,
    signals: &mut signal::Signals,
    d: Duration,
    before: bool,
) -> Option<i32> {
    if d.is_zero() {
        return None;
    }
    reporter.pause(d, before);
    tokio::select! {
        n = signals.recv() => Some(n),
        () = tokio::time::sleep(d) => None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
