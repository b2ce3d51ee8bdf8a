//! Waiting: every target probed concurrently, each with its own backoff, all under one
//! deadline. The main loop races the targets against the deadline and the signals,
//! so a hung attempt can hold whenready past neither.
//!
//! Two ways to run the same wait. [`run`] is the runtime's: a task per target. While
//! the kernel decides every attempt inside `connect()` (open or refused loopback
//! ports), [`run_now`] runs it without the runtime: one loop of attempts and
//! blocking sleeps, which costs a wake-up a few system calls and hands the wait to
//! [`run`] as it stands when an attempt needs more. Both judge, report and pace
//! with the same functions ([`Track`], `Tally`, [`Queue`]).

use crate::backoff::Backoff;
use crate::duration;
use crate::pace::{Clock, Pacer, Queue};
use crate::probe::ProbeError;
use crate::report::Reporter;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// One attempt at target `i`, as a boxed future (so tests can pass fakes).
pub type ProbeFn = Arc<
    dyn Fn(usize) -> Pin<Box<dyn Future<Output = Result<(), ProbeError>> + Send>> + Send + Sync,
>;

/// What ends the pause after a failed attempt at target `i` early: a change the
/// kernel reported (inotify, for `file://` and `unix://` targets). The backoff stays
/// the schedule; this only cuts a pause short.
pub type ChangeFn = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

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
    /// At most this many attempts in flight at once (descriptor limit).
    pub max_in_flight: usize,
    /// `--reverse`: wait until every target is *not* ready.
    pub reverse: bool,
    /// `--stable`: the goal (ready, or gone with `reverse`) must hold on every attempt
    /// for this long before the target counts; zero counts the first attempt.
    pub stable: Duration,
}

/// How waiting ended.
#[derive(Debug, PartialEq, Eq)]
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

/// How one target's watch ended.
enum End {
    Ready,
    Failed(ProbeError),
}

/// What one attempt means for the goal of the run.
enum Verdict {
    /// The goal holds: ready, or with `--reverse` gone (the reason it is gone).
    Reached(Option<String>),
    /// Not yet; `.0` says why (and whether it is permanent).
    Missed(ProbeError),
}

/// Judges an attempt's result against the goal. With `--reverse`, a target is gone
/// when its probe fails transiently (refused, no answer, name gone, not ready any
/// more); a permanent failure (a rejected password) is not "gone" but a wrong
/// target, and ends the run with exit 3 unless `--retry-all`.
fn judge(result: Result<(), ProbeError>, settings: &Settings) -> Verdict {
    match (settings.reverse, result) {
        (false, Ok(())) => Verdict::Reached(None),
        (false, Err(e)) => Verdict::Missed(e),
        (true, Ok(())) => Verdict::Missed(ProbeError::transient("still answers ready")),
        (true, Err(e)) if e.is_permanent() && !settings.retry_all => Verdict::Missed(e),
        (true, Err(e)) => Verdict::Reached(Some(e.reason.into_owned())),
    }
}

/// Where one attempt leaves a target.
enum Step {
    /// The goal is reached and counts (with the reason the target is gone, under
    /// `--reverse`).
    Reached(Option<String>),
    /// The goal holds, not yet for `--stable`'s whole period: look again at `.0`.
    Holding(Instant),
    /// Not there; `.1`: this was the last attempt (`--once`, or a permanent
    /// failure without `--retry-all`).
    Missed(ProbeError, bool),
}

impl Step {
    /// Whether the target needs no further attempt.
    fn is_final(&self) -> bool {
        matches!(self, Step::Reached(_) | Step::Missed(_, true))
    }
}

/// Where `verdict` leaves a target whose goal has held without a break since
/// `since` (updated here).
fn step(verdict: Verdict, settings: &Settings, since: &mut Option<Instant>) -> Step {
    match verdict {
        Verdict::Reached(why) => {
            let now = Instant::now();
            let held = now - *since.get_or_insert(now);
            if held >= settings.stable {
                Step::Reached(why)
            } else {
                Step::Holding(now + settings.interval.min(settings.stable - held))
            }
        }
        Verdict::Missed(e) => {
            *since = None;
            let last = settings.once || (e.is_permanent() && !settings.retry_all);
            Step::Missed(e, last)
        }
    }
}

/// What the wait does next with a target.
enum Flow {
    /// Nothing: it is done.
    Done(End),
    /// Look again at this instant (`--stable`).
    Hold(Instant),
    /// Try again after the backoff's pause.
    Retry,
}

/// Reports `step` of target `i`; says what follows.
fn tell(i: usize, step: Step, settings: &Settings, reporter: &Reporter) -> Flow {
    match step {
        Step::Reached(why) => {
            reporter.ready(i, why);
            Flow::Done(End::Ready)
        }
        Step::Holding(until) => {
            let word = if settings.reverse { "gone" } else { "ready" };
            let e = ProbeError::transient(format!(
                "{word} for less than {} so far (--stable)",
                duration::show(settings.stable)
            ));
            reporter.not_ready(i, &e, false);
            Flow::Hold(until)
        }
        Step::Missed(e, last) => {
            reporter.not_ready(i, &e, last);
            if last {
                Flow::Done(End::Failed(e))
            } else {
                Flow::Retry
            }
        }
    }
}

/// One target's course through the wait: its backoff, and since when its goal has
/// held without a break (for `--stable`).
pub struct Track {
    backoff: Backoff,
    since: Option<Instant>,
}

/// The pause before the next attempt at a target.
#[derive(Debug, Clone, Copy)]
struct Due {
    /// When it ends.
    soft: Instant,
    /// How late it may end, to share a wake-up with another.
    hard: Instant,
    /// A change the kernel reports may end it early (every pause but a
    /// `--stable` look).
    early: bool,
}

/// What follows an attempt at a target.
enum Next {
    Done(End),
    Pause(Due),
}

impl Track {
    /// A target's course from its first attempt; `seed` draws its jitter.
    fn new(settings: &Settings, seed: u64) -> Track {
        Track {
            backoff: Backoff::new(settings.interval, seed),
            since: None,
        }
    }

    /// Judges and reports the result of an attempt at target `i`; says what follows.
    fn after(
        &mut self,
        i: usize,
        result: Result<(), ProbeError>,
        settings: &Settings,
        reporter: &Reporter,
    ) -> Next {
        let step = step(judge(result, settings), settings, &mut self.since);
        self.next(tell(i, step, settings, reporter))
    }

    /// What follows a reported attempt whose step was `flow`.
    fn next(&mut self, flow: Flow) -> Next {
        match flow {
            Flow::Done(end) => Next::Done(end),
            // Reached, but not for long enough: look again at the interval, and
            // exactly when the period is over.
            Flow::Hold(until) => Next::Pause(Due {
                soft: until,
                hard: until,
                early: false,
            }),
            Flow::Retry => {
                // Due after the backoff's pause; a little later when another
                // target's pause ends then, within the backoff's step (see
                // PAUSE_SLACK).
                let ceiling = self.backoff.ceiling();
                let pause = self.backoff.next().unwrap_or(ceiling);
                let now = Instant::now();
                let slack = (ceiling / PAUSE_SLACK).min(ceiling.saturating_sub(pause));
                Next::Pause(Due {
                    soft: now + pause,
                    hard: now + pause + slack,
                    early: true,
                })
            }
        }
    }
}

/// How the targets that are done end the run.
#[derive(Default)]
struct Tally {
    /// A target is not ready (`--once`), or its watch failed unexpectedly.
    not_ready: bool,
    /// The first target that failed for good.
    permanent: Option<usize>,
}

impl Tally {
    /// Counts the end of target `i`.
    fn count(&mut self, i: usize, end: End, settings: &Settings) {
        if let End::Failed(e) = end {
            // `--once` counts every target; otherwise the first permanent failure
            // ends the run.
            if settings.once {
                self.not_ready = true;
            } else if e.is_permanent() {
                self.permanent.get_or_insert(i);
            }
        }
    }

    /// Whether a target failed for good, which ends the run at once.
    fn stops(&self) -> bool {
        self.permanent.is_some()
    }

    /// The outcome, once every target is done or [`Tally::stops`].
    fn outcome(&self) -> Outcome {
        match self.permanent {
            Some(i) => Outcome::Permanent(i),
            None if self.not_ready => Outcome::NotReady,
            None => Outcome::Ready,
        }
    }
}

/// The tick after the one due at `next`: ticks missed (a long stall) are skipped,
/// not caught up.
fn next_tick(mut next: Instant, period: Duration) -> Instant {
    let now = Instant::now();
    next += period;
    while next <= now {
        next += period;
    }
    next
}

/// How late a tick of `period` may come, to share a wake-up.
fn tick_slack(period: Duration) -> Duration {
    (period / 8).min(TICK_SLACK)
}

/// What a wait without the runtime ([`run_now`]) needs of its caller: the signal
/// handlers, and a sleep that a signal ends (src/app.rs).
pub trait Rest {
    /// The first attempts are made and about to be reported; `more`: the wait goes
    /// on, with pauses.
    fn begin(&mut self, more: bool);
    /// Sleeps for `time` (`None`: without end), or until a signal comes; returns
    /// the signal's number, also for one that came earlier.
    fn sleep(&mut self, time: Option<Duration>) -> Option<i32>;
}

/// A wait begun without the runtime, for the runtime to go on with ([`run`]).
pub struct Resume {
    /// Per target: `None` when it is done; else its course and the pause before its
    /// next attempt (`None`: at once).
    targets: Vec<Option<(Track, Option<Due>)>>,
    /// When the voice's next tick is due.
    tick: Option<Instant>,
}

/// How far a wait without the runtime went.
pub enum Now {
    /// To its end.
    Over(Outcome),
    /// An attempt needs the runtime: the wait starts on it from the beginning
    /// (`None`: nothing was reported), or goes on from where it stands.
    Runtime(Option<Resume>),
}

/// Waits without the runtime for as long as every attempt is decided at once by
/// `attempt_now` ([`crate::probe::Check::attempt_now`]: an open or refused loopback
/// port), sleeping between them in `rest`, a blocking sleep that a signal ends. A
/// wait that ends there never starts the runtime: a one-shot check costs what
/// starting costs, and each pause one wake-up of a few system calls. It reports,
/// paces (the same backoff and shared wake-ups, [`Queue`]), ticks and ends (the
/// deadline, a signal, `--once`, `--stable`, `--reverse`) as [`run`] does, with the
/// same functions. The first attempts are made before anything is reported: when
/// one of them needs the runtime, `Now::Runtime(None)` starts the wait there from
/// the beginning (an extra connect to a loopback port, at most one per target).
/// One that needs it later hands the wait over as it stands, and the runtime makes
/// that attempt again at once.
pub fn run_now(
    count: usize,
    attempt_now: impl Fn(usize) -> Option<Result<(), ProbeError>>,
    rest: &mut impl Rest,
    settings: &Settings,
    reporter: &Reporter,
) -> Now {
    let mut since = vec![None; count];
    let mut steps = Vec::with_capacity(count);
    for (i, since) in since.iter_mut().enumerate() {
        let Some(result) = attempt_now(i) else {
            return Now::Runtime(None);
        };
        steps.push(step(judge(result, settings), settings, since));
    }
    let more = !steps.iter().all(Step::is_final);
    rest.begin(more);
    reporter.begin();
    if !more {
        // Settled by one look: no backoff, queue or sleep.
        let mut tally = Tally::default();
        for (i, step) in steps.into_iter().enumerate() {
            reporter.attempt(i);
            if let Flow::Done(end) = tell(i, step, settings, reporter) {
                tally.count(i, end, settings);
            }
        }
        return Now::Over(tally.outcome());
    }
    paced(since, steps, attempt_now, rest, settings, reporter)
}

/// The rest of [`run_now`] once a pause follows the first attempts (`since` and
/// `steps`: theirs). Never inlined: a one-shot check runs [`run_now`]'s code, which
/// this would make half again as large (a 64 KB window of code more to fault in, and
/// a page of stack for the queue).
#[inline(never)]
fn paced(
    since: Vec<Option<Instant>>,
    steps: Vec<Step>,
    attempt_now: impl Fn(usize) -> Option<Result<(), ProbeError>>,
    rest: &mut impl Rest,
    settings: &Settings,
    reporter: &Reporter,
) -> Now {
    let count = since.len();
    // fastrand seeds itself from the OS (replicas started together differ) through
    // std's handle of the thread: an allocation by musl's malloc and five page faults
    // that a check settled at once does without.
    let seed = fastrand::u64(..);
    let mut tracks: Vec<Track> = since
        .into_iter()
        .enumerate()
        .map(|(i, since)| Track {
            since,
            ..Track::new(settings, seed.wrapping_add(i as u64))
        })
        .collect();
    // Entries of the queue: a pause per target, then the deadline and the tick.
    let (deadline_id, tick_id) = (count, count + 1);
    let mut queue = Queue::new(count + 2);
    let mut dues: Vec<Option<Due>> = vec![None; count];
    let mut tally = Tally::default();
    let mut left = 0;
    for (i, step) in steps.into_iter().enumerate() {
        reporter.attempt(i);
        let flow = tell(i, step, settings, reporter);
        match tracks[i].next(flow) {
            Next::Done(end) => tally.count(i, end, settings),
            Next::Pause(due) => {
                queue.push(i, due.soft, due.hard);
                dues[i] = Some(due);
                left += 1;
            }
        }
    }
    if left == 0 || tally.stops() {
        return Now::Over(tally.outcome());
    }
    if let Some(d) = settings.deadline {
        queue.push(deadline_id, d, d);
    }
    let period = reporter.tick_every().filter(|p| !p.is_zero());
    let mut tick = period.map(|period| Instant::now() + period);
    if let (Some(period), Some(next)) = (period, tick) {
        queue.push(tick_id, next, next + tick_slack(period));
    }
    loop {
        let time = queue
            .wake_at()
            .map(|at| at.saturating_duration_since(Instant::now()));
        if let Some(n) = rest.sleep(time) {
            return Now::Over(Outcome::Signal(n));
        }
        let now = Instant::now();
        while let Some(id) = queue.pop_due(now) {
            if id == deadline_id {
                return Now::Over(Outcome::Deadline);
            }
            if let (true, Some(period), Some(due)) = (id == tick_id, period, tick) {
                reporter.tick();
                let next = next_tick(due, period);
                tick = Some(next);
                queue.push(tick_id, next, next + tick_slack(period));
                continue;
            }
            dues[id] = None;
            let Some(result) = attempt_now(id) else {
                // The runtime goes on from here, with this attempt made again.
                let targets = tracks
                    .into_iter()
                    .zip(dues)
                    .enumerate()
                    .map(|(i, (track, due))| (i == id || due.is_some()).then_some((track, due)))
                    .collect();
                return Now::Runtime(Some(Resume { targets, tick }));
            };
            reporter.attempt(id);
            match tracks[id].after(id, result, settings, reporter) {
                Next::Done(end) => {
                    tally.count(id, end, settings);
                    left -= 1;
                    if left == 0 || tally.stops() {
                        return Now::Over(tally.outcome());
                    }
                }
                Next::Pause(due) => {
                    queue.push(id, due.soft, due.hard);
                    dues[id] = Some(due);
                }
            }
        }
    }
}

/// How late a pause may end, as a part of its backoff step's ceiling, when that
/// lets it share a wake-up with another target's: an eighth (31 ms at the default
/// 250 ms interval), and never past the ceiling itself, so every pause stays within
/// the backoff's range [d/2, d].
const PAUSE_SLACK: u32 = 8;

/// How late a voice's tick may come to share a wake-up: an eighth of its period,
/// at most this.
const TICK_SLACK: Duration = Duration::from_millis(100);

/// Waits for targets `0..count`, reporting progress, until they are all ready, the
/// deadline passes, one fails permanently, or `signal` resolves. `changed`, when
/// given, may end the pauses between attempts early. While waiting, the reporter
/// hears every [`Reporter::tick_every`] that time passes.
pub async fn run(
    count: usize,
    probe: ProbeFn,
    changed: Option<ChangeFn>,
    settings: &Settings,
    reporter: Arc<Reporter>,
    signal: impl Future<Output = i32>,
    resume: Option<Resume>,
) -> Outcome {
    // One attempt per target makes no pause: the runtime's timer, which costs no
    // descriptor and no system call to set up, serves the deadline alone.
    let clock = if settings.once {
        Clock::Runtime
    } else {
        Clock::Kernel
    };
    run_on(
        clock, count, probe, changed, settings, reporter, signal, resume,
    )
    .await
}

/// [`run`], with the pauses, ticks and deadline timed by `clock`.
#[allow(clippy::too_many_arguments)]
async fn run_on(
    clock: Clock,
    count: usize,
    probe: ProbeFn,
    changed: Option<ChangeFn>,
    settings: &Settings,
    reporter: Arc<Reporter>,
    signal: impl Future<Output = i32>,
    resume: Option<Resume>,
) -> Outcome {
    // Where each target starts, and the voice's first tick.
    let (starts, tick) = match resume {
        Some(resume) => (resume.targets, resume.tick),
        None => {
            // fastrand seeds itself from the OS; replicas started together differ.
            let seed = fastrand::u64(..);
            let starts = (0..count)
                .map(|i| Some((Track::new(settings, seed.wrapping_add(i as u64)), None)))
                .collect();
            (starts, None)
        }
    };
    // Entries of the one timer: a pause per target, then the deadline and the tick.
    let (deadline_id, tick_id) = (count, count + 1);
    let pacer = Arc::new(Pacer::new(count + 2, clock));
    // The timer and the voice's ticks run beside the targets, and stop with them.
    let mut helpers = JoinSet::new();
    helpers.spawn({
        let pacer = pacer.clone();
        async move { pacer.drive().await }
    });
    if let Some(period) = reporter.tick_every().filter(|p| !p.is_zero()) {
        let (pacer, reporter) = (pacer.clone(), reporter.clone());
        helpers.spawn(async move {
            let mut next = tick.unwrap_or_else(|| Instant::now() + period);
            loop {
                pacer.pause(tick_id, next, next + tick_slack(period)).await;
                reporter.tick();
                next = next_tick(next, period);
            }
        });
    }
    let mut watches = JoinSet::new();
    // Slots for attempts in flight, when the descriptor limit leaves fewer than
    // one per target (otherwise none is ever waited for, and none is taken).
    let permits = (count > settings.max_in_flight).then(|| {
        Arc::new(tokio::sync::Semaphore::new(
            settings
                .max_in_flight
                .min(tokio::sync::Semaphore::MAX_PERMITS),
        ))
    });
    for (i, start) in starts.into_iter().enumerate() {
        let Some((track, due)) = start else {
            continue;
        };
        let (probe, changed, settings, reporter, permits, pacer) = (
            probe.clone(),
            changed.clone(),
            settings.clone(),
            reporter.clone(),
            permits.clone(),
            pacer.clone(),
        );
        watches.spawn(async move {
            let watched = watch(
                i,
                track,
                due,
                probe,
                changed,
                &settings,
                &reporter,
                permits.as_deref(),
                &pacer,
            );
            (i, watched.await)
        });
    }
    let deadline = async {
        match settings.deadline {
            Some(d) => pacer.pause(deadline_id, d, d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline, signal);
    let mut tally = Tally::default();
    loop {
        tokio::select! {
            biased;
            n = &mut signal => return Outcome::Signal(n),
            () = &mut deadline => return Outcome::Deadline,
            joined = watches.join_next() => match joined {
                None => return tally.outcome(),
                Some(Ok((i, end))) => {
                    tally.count(i, end, settings);
                    if tally.stops() {
                        return tally.outcome();
                    }
                }
                // A probe panicked: never expected; report it as not ready.
                Some(Err(_)) => tally.not_ready = true,
            },
        }
    }
}

/// Probes target `i` until it is ready or fails for good: `track` is its course so
/// far, `due` the pause before its first attempt here (none: at once).
#[allow(clippy::too_many_arguments)]
async fn watch(
    i: usize,
    mut track: Track,
    mut due: Option<Due>,
    probe: ProbeFn,
    changed: Option<ChangeFn>,
    settings: &Settings,
    reporter: &Reporter,
    permits: Option<&tokio::sync::Semaphore>,
    pacer: &Pacer,
) -> End {
    // What may end a pause early: made at the first pause and kept through the
    // next ones until it resolves (for most kinds it never does).
    let mut change = None;
    loop {
        if let Some(due) = due.take() {
            let pause = pacer.pause(i, due.soft, due.hard);
            match (&changed, due.early) {
                // The kernel's word ends the pause early; the backoff stays the
                // fallback for changes it does not report.
                (Some(changed), true) => {
                    let word = change.get_or_insert_with(|| changed(i));
                    tokio::select! {
                        () = pause => {}
                        () = word => change = None,
                    }
                }
                _ => pause.await,
            }
        }
        let limit = match settings.deadline {
            Some(d) => settings
                .attempt_timeout
                .min(d.saturating_duration_since(Instant::now())),
            None => settings.attempt_timeout,
        };
        // Waiting for a free slot does not count against the attempt's time. The
        // slot is held for the attempt only, not through the pause after it.
        let permit = match permits {
            Some(permits) => match permits.acquire().await {
                Ok(permit) => Some(permit),
                Err(_) => return End::Ready,
            },
            None => None,
        };
        reporter.attempt(i);
        let start = Instant::now();
        let mut attempt = probe(i);
        // Many attempts end within their first poll (a refused local port): the
        // attempt's timer is set only for one that has to wait.
        let first = std::future::poll_fn(|cx| Poll::Ready(attempt.as_mut().poll(cx))).await;
        let result = match first {
            Poll::Ready(r) => r,
            Poll::Pending => match tokio::time::timeout_at(start + limit, attempt).await {
                Ok(r) => r,
                Err(_) => Err(ProbeError::transient(format!(
                    "no answer within {}",
                    duration::show(limit)
                ))),
            },
        };
        drop(permit);
        match track.after(i, result, settings, reporter) {
            Next::Done(end) => return end,
            Next::Pause(next) => due = Some(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Reporter, Silent};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn reporter(n: usize) -> Arc<Reporter> {
        Arc::new(Reporter::new(
            (0..n).map(|i| format!("t{i}")).collect(),
            Box::new(Silent),
            None,
            false,
        ))
    }

    fn settings(deadline: Option<Duration>) -> Settings {
        Settings {
            deadline: deadline.map(|d| Instant::now() + d),
            interval: Duration::from_millis(250),
            attempt_timeout: Duration::from_secs(5),
            once: false,
            retry_all: false,
            max_in_flight: 1000,
            reverse: false,
            stable: Duration::ZERO,
        }
    }

    fn never() -> std::future::Pending<i32> {
        std::future::pending()
    }

    /// [`super::run`] on the runtime's timer, which follows the paused clock of
    /// these tests (the kernel's timerfd would not).
    async fn run(
        count: usize,
        probe: ProbeFn,
        changed: Option<ChangeFn>,
        settings: &Settings,
        reporter: Arc<Reporter>,
        signal: impl Future<Output = i32>,
    ) -> Outcome {
        run_on(
            Clock::Runtime,
            count,
            probe,
            changed,
            settings,
            reporter,
            signal,
            None,
        )
        .await
    }

    /// A probe refused `failures` times, then ready.
    fn ready_after(failures: usize) -> ProbeFn {
        let calls = Arc::new(AtomicUsize::new(0));
        Arc::new(move |_| {
            let c = &calls;
            let n = c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n < failures {
                    Err(ProbeError::transient("refused"))
                } else {
                    Ok(())
                }
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_ends_a_hung_attempt_on_time() {
        let probe: ProbeFn = Arc::new(|_| Box::pin(std::future::pending()));
        let start = Instant::now();
        let out = run(
            3,
            probe,
            None,
            &settings(Some(Duration::from_secs(2))),
            reporter(3),
            never(),
        )
        .await;
        assert_eq!(out, Outcome::Deadline);
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_back_off_up_to_the_interval() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let probe: ProbeFn = Arc::new(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(ProbeError::transient("connection refused")) })
        });
        let out = run(
            1,
            probe,
            None,
            &settings(Some(Duration::from_secs(10))),
            reporter(1),
            never(),
        )
        .await;
        assert_eq!(out, Outcome::Deadline);
        let n = calls.load(Ordering::SeqCst);
        // Fast at first, then at least interval/2 apart: 10 s allows at most ~80.
        assert!((40..=90).contains(&n), "{n} attempts in 10 s");
    }

    #[tokio::test(start_paused = true)]
    async fn ready_after_some_failures() {
        let probe = ready_after(4);
        let start = Instant::now();
        let rep = reporter(1);
        let out = run(
            1,
            probe,
            None,
            &settings(Some(Duration::from_secs(10))),
            rep.clone(),
            never(),
        )
        .await;
        assert_eq!(out, Outcome::Ready);
        assert_eq!(rep.attempts(0), 5);
        // 4 pauses of at most 20+40+80+160 ms.
        assert!(
            start.elapsed() <= Duration::from_millis(300),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_attempt_is_cut_at_the_attempt_timeout() {
        let probe: ProbeFn = Arc::new(|_| Box::pin(std::future::pending()));
        let mut s = settings(Some(Duration::from_secs(12)));
        s.attempt_timeout = Duration::from_secs(5);
        let rep = reporter(1);
        assert_eq!(
            run(1, probe, None, &s, rep.clone(), never()).await,
            Outcome::Deadline
        );
        assert_eq!(rep.attempts(0), 3);
        assert!(rep.last_reason(0).unwrap().contains("no answer within"));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failure_stops_at_once_unless_retry_all() {
        let probe: ProbeFn = Arc::new(|i| {
            Box::pin(async move {
                if i == 1 {
                    Err(ProbeError::permanent("wrong password"))
                } else {
                    Err(ProbeError::transient("refused"))
                }
            })
        });
        let start = Instant::now();
        let out = run(
            2,
            probe.clone(),
            None,
            &settings(Some(Duration::from_secs(60))),
            reporter(2),
            never(),
        )
        .await;
        assert_eq!(out, Outcome::Permanent(1));
        assert!(start.elapsed() < Duration::from_millis(10));
        let mut s = settings(Some(Duration::from_secs(1)));
        s.retry_all = true;
        assert_eq!(
            run(2, probe, None, &s, reporter(2), never()).await,
            Outcome::Deadline
        );
    }

    #[tokio::test(start_paused = true)]
    async fn once_makes_one_attempt_per_target() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let probe: ProbeFn = Arc::new(move |i| {
            c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if i == 0 {
                    Ok(())
                } else {
                    Err(ProbeError::permanent("no"))
                }
            })
        });
        let mut s = settings(Some(Duration::from_secs(60)));
        s.once = true;
        assert_eq!(
            run(3, probe, None, &s, reporter(3), never()).await,
            Outcome::NotReady
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let ok: ProbeFn = Arc::new(|_| Box::pin(async { Ok(()) }));
        assert_eq!(
            run(2, ok, None, &s, reporter(2), never()).await,
            Outcome::Ready
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_deadline_waits_until_ready() {
        let probe = ready_after(2000);
        assert_eq!(
            run(1, probe, None, &settings(None), reporter(1), never()).await,
            Outcome::Ready
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_signal_wins_over_everything() {
        let probe: ProbeFn = Arc::new(|_| Box::pin(std::future::pending()));
        let signal = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            15
        };
        assert_eq!(
            run(1, probe, None, &settings(None), reporter(1), signal).await,
            Outcome::Signal(15)
        );
    }
    #[tokio::test(start_paused = true)]
    async fn reverse_waits_until_the_probe_fails() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let probe: ProbeFn = Arc::new(move |_| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n < 3 {
                    Ok(())
                } else {
                    Err(ProbeError::transient("connection refused"))
                }
            })
        });
        let mut s = settings(Some(Duration::from_secs(10)));
        s.reverse = true;
        let rep = reporter(1);
        assert_eq!(
            run(1, probe, None, &s, rep.clone(), never()).await,
            Outcome::Ready
        );
        assert_eq!(rep.attempts(0), 4);
        assert_eq!(rep.last_reason(0).as_deref(), Some("connection refused"));
    }

    #[tokio::test(start_paused = true)]
    async fn reverse_never_counts_a_permanent_failure_as_gone() {
        let probe: ProbeFn =
            Arc::new(|_| Box::pin(async { Err(ProbeError::permanent("wrong password")) }));
        let mut s = settings(Some(Duration::from_secs(10)));
        s.reverse = true;
        assert_eq!(
            run(1, probe.clone(), None, &s, reporter(1), never()).await,
            Outcome::Permanent(0)
        );
        // --retry-all: every failure is transient, so this one is gone.
        s.retry_all = true;
        assert_eq!(
            run(1, probe, None, &s, reporter(1), never()).await,
            Outcome::Ready
        );
        // A target that stays up until the deadline is not gone.
        let up: ProbeFn = Arc::new(|_| Box::pin(async { Ok(()) }));
        let rep = reporter(1);
        assert_eq!(
            run(1, up, None, &s, rep.clone(), never()).await,
            Outcome::Deadline
        );
        assert_eq!(rep.last_reason(0).as_deref(), Some("still answers ready"));
    }

    /// Ready for the first second, down for half a second, then up for good.
    fn flapping(start: Instant) -> ProbeFn {
        Arc::new(move |_| {
            let t = start.elapsed();
            Box::pin(async move {
                if t >= Duration::from_secs(1) && t < Duration::from_millis(1500) {
                    Err(ProbeError::transient("connection refused"))
                } else {
                    Ok(())
                }
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn stable_counts_only_an_unbroken_run_of_ready_answers() {
        let start = Instant::now();
        let mut s = settings(Some(Duration::from_secs(60)));
        s.stable = Duration::from_secs(2);
        let rep = reporter(1);
        assert_eq!(
            run(1, flapping(start), None, &s, rep.clone(), never()).await,
            Outcome::Ready
        );
        // The run that counts starts after the flap (at 1.5 s or at most one
        // interval later) and lasts 2 s.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(3500) && took <= Duration::from_millis(3800),
            "{took:?}"
        );
        // Without --stable the first answer would have done.
        let rep0 = reporter(1);
        let t0 = Instant::now();
        let out = run(
            1,
            flapping(t0),
            None,
            &settings(None),
            rep0.clone(),
            never(),
        )
        .await;
        assert_eq!((out, rep0.attempts(0)), (Outcome::Ready, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn stable_longer_than_the_deadline_times_out() {
        let ok: ProbeFn = Arc::new(|_| Box::pin(async { Ok(()) }));
        let mut s = settings(Some(Duration::from_secs(3)));
        s.stable = Duration::from_secs(5);
        let rep = reporter(1);
        assert_eq!(
            run(1, ok, None, &s, rep.clone(), never()).await,
            Outcome::Deadline
        );
        assert!(
            rep.last_reason(0)
                .unwrap()
                .contains("ready for less than 5.0s so far"),
            "{:?}",
            rep.last_reason(0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reverse_and_stable_want_the_target_gone_for_the_whole_period() {
        let start = Instant::now();
        // Gone (refused) during [1 s, 1.5 s) only: never gone for 2 s until later.
        let probe: ProbeFn = Arc::new(move |_| {
            let t = start.elapsed();
            Box::pin(async move {
                if (t >= Duration::from_secs(1) && t < Duration::from_millis(1500))
                    || t >= Duration::from_secs(4)
                {
                    Err(ProbeError::transient("connection refused"))
                } else {
                    Ok(())
                }
            })
        });
        let mut s = settings(Some(Duration::from_secs(60)));
        s.reverse = true;
        s.stable = Duration::from_secs(2);
        assert_eq!(
            run(1, probe, None, &s, reporter(1), never()).await,
            Outcome::Ready
        );
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(6) && took <= Duration::from_millis(6300),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reported_change_ends_the_pause_at_once() {
        // The second attempt succeeds. Without a change, it comes after a pause of
        // the backoff (at least 10 ms of the paused clock); with one, at once.
        let probe = |calls: Arc<AtomicUsize>| -> ProbeFn {
            Arc::new(move |_| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    if n == 0 {
                        Err(ProbeError::transient("does not exist yet"))
                    } else {
                        Ok(())
                    }
                })
            })
        };
        let s = settings(Some(Duration::from_secs(60)));
        let start = Instant::now();
        let polled = probe(Arc::new(AtomicUsize::new(0)));
        assert_eq!(
            run(1, polled, None, &s, reporter(1), never()).await,
            Outcome::Ready
        );
        assert!(start.elapsed() >= Duration::from_millis(10));
        let start = Instant::now();
        let changed: ChangeFn = Arc::new(|_| Box::pin(async {}));
        let woken = probe(Arc::new(AtomicUsize::new(0)));
        assert_eq!(
            run(1, woken, Some(changed), &s, reporter(1), never()).await,
            Outcome::Ready
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_in_flight_stay_within_the_slots() {
        // Each attempt takes 30 ms; 6 targets share 2 slots.
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (n, m) = (now.clone(), most.clone());
        let probe: ProbeFn = Arc::new(move |_| {
            let (n, m) = (n.clone(), m.clone());
            Box::pin(async move {
                let running = n.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(running, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
        });
        let mut s = settings(Some(Duration::from_secs(10)));
        s.max_in_flight = 2;
        let start = Instant::now();
        assert_eq!(
            run(6, probe, None, &s, reporter(6), never()).await,
            Outcome::Ready
        );
        assert_eq!(most.load(Ordering::SeqCst), 2);
        // Three rounds of two.
        assert_eq!(start.elapsed(), Duration::from_millis(90));
    }

    /// A voice that counts its ticks.
    struct Ticks(Arc<AtomicUsize>, Duration);

    impl crate::report::Voice for Ticks {
        fn tick(&self, _r: &Reporter) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn tick_every(&self) -> Option<Duration> {
            Some(self.1)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_voice_hears_time_pass_while_waiting() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let voice = Ticks(ticks.clone(), Duration::from_millis(100));
        let rep = Arc::new(Reporter::new(
            vec!["t".into()],
            Box::new(voice),
            None,
            false,
        ));
        let probe: ProbeFn =
            Arc::new(|_| Box::pin(async { Err(ProbeError::transient("refused")) }));
        let s = settings(Some(Duration::from_millis(1050)));
        assert_eq!(
            run(1, probe, None, &s, rep, never()).await,
            Outcome::Deadline
        );
        // At 100, 200, ... 1000 ms (each at most 12.5 ms late).
        assert_eq!(ticks.load(Ordering::SeqCst), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn many_targets_share_wake_ups_without_leaving_the_backoff() {
        // Every attempt's moment, per target: each pause must stay within its
        // backoff step [d/2, d] even when put off to share a wake-up.
        let times = Arc::new(std::sync::Mutex::new(vec![Vec::new(); 50]));
        let t = times.clone();
        let start = Instant::now();
        let probe: ProbeFn = Arc::new(move |i| {
            t.lock().unwrap()[i].push(start.elapsed());
            Box::pin(async { Err(ProbeError::transient("refused")) })
        });
        let s = settings(Some(Duration::from_secs(5)));
        assert_eq!(
            run(50, probe, None, &s, reporter(50), never()).await,
            Outcome::Deadline
        );
        let times = times.lock().unwrap();
        let mut moments = std::collections::BTreeSet::new();
        for attempts in times.iter() {
            let mut d = crate::backoff::FIRST;
            for pair in attempts.windows(2) {
                let pause = pair[1] - pair[0];
                assert!(
                    pause >= d / 2 && pause <= d,
                    "{pause:?} outside [{:?}, {d:?}]",
                    d / 2
                );
                d = (d * 2).min(s.interval);
            }
            moments.extend(attempts.iter().copied());
        }
        let attempts: usize = times.iter().map(Vec::len).sum();
        // 50 targets at ~5 attempts a second; shared wake-ups make fewer moments.
        assert!(
            moments.len() < attempts * 3 / 4,
            "{} moments for {attempts} attempts",
            moments.len()
        );
    }

    #[tokio::test]
    async fn the_kernel_timer_runs_the_same_wait() {
        // Real time, on the timerfd: the outcomes, not how long they took.
        let probe = ready_after(3);
        let s = settings(Some(Duration::from_secs(30)));
        let rep = reporter(1);
        let start = Instant::now();
        assert_eq!(
            super::run(1, probe, None, &s, rep.clone(), never(), None).await,
            Outcome::Ready
        );
        assert_eq!(rep.attempts(0), 4);
        // Three pauses, none shorter than its backoff step allows (10, 20, 40 ms).
        assert!(start.elapsed() >= Duration::from_millis(70));
        let refused: ProbeFn =
            Arc::new(|_| Box::pin(async { Err(ProbeError::transient("refused")) }));
        let s = settings(Some(Duration::from_millis(300)));
        assert_eq!(
            super::run(2, refused, None, &s, reporter(2), never(), None).await,
            Outcome::Deadline
        );
    }

    /// A [`Rest`] that sleeps for real (never without end: these waits have a
    /// deadline), and says a SIGTERM came at sleep number `signal_at`.
    #[derive(Default)]
    struct Nap {
        begun: Vec<bool>,
        sleeps: Vec<Duration>,
        signal_at: Option<usize>,
    }

    impl Rest for Nap {
        fn begin(&mut self, more: bool) {
            self.begun.push(more);
        }
        fn sleep(&mut self, time: Option<Duration>) -> Option<i32> {
            let time = time.expect("a sleep without end");
            self.sleeps.push(time);
            if self.signal_at == Some(self.sleeps.len()) {
                return Some(crate::signal::SIGTERM);
            }
            std::thread::sleep(time);
            None
        }
    }

    fn refused() -> Option<Result<(), ProbeError>> {
        Some(Err(ProbeError::transient("connection refused")))
    }

    /// An attempt_now whose `n`th call (from 1) at each target gives `at(i, n)`.
    fn scripted<'a>(
        count: usize,
        at: impl Fn(usize, usize) -> Option<Result<(), ProbeError>> + 'a,
    ) -> impl Fn(usize) -> Option<Result<(), ProbeError>> + 'a {
        let calls: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
        move |i| at(i, calls[i].fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn over(now: Now) -> Outcome {
        match now {
            Now::Over(outcome) => outcome,
            Now::Runtime(r) => panic!("moved to the runtime (resumed: {})", r.is_some()),
        }
    }

    #[test]
    fn attempts_made_at_once_settle_a_check_without_the_runtime() {
        let mut s = settings(Some(Duration::from_secs(60)));
        // Every target ready: the run is over, as the wait loop would report it,
        // and the caller heard that no pause follows.
        let rep = reporter(2);
        let mut nap = Nap::default();
        assert_eq!(
            over(run_now(2, |_| Some(Ok(())), &mut nap, &s, &rep)),
            Outcome::Ready
        );
        assert_eq!(nap.begun, [false]);
        assert!(nap.sleeps.is_empty());
        assert_eq!((rep.attempts(0), rep.attempts(1)), (1, 1));
        assert_eq!(rep.ready_after(1).map(|_| ()), Some(()));
        // A target whose first attempt needs the runtime: nothing is reported and
        // nothing begun; the runtime starts from the beginning.
        let rep = reporter(2);
        let calls = AtomicUsize::new(0);
        let needs = |i| {
            calls.fetch_add(1, Ordering::SeqCst);
            (i == 0).then_some(Ok(()))
        };
        let mut nap = Nap::default();
        assert!(matches!(
            run_now(2, needs, &mut nap, &s, &rep),
            Now::Runtime(None)
        ));
        assert_eq!((calls.load(Ordering::SeqCst), rep.attempts(0)), (2, 0));
        assert!(nap.begun.is_empty());
        // With --once, one attempt is the whole check: a refusal is its outcome.
        s.once = true;
        let rep = reporter(2);
        let first = |i| if i == 0 { Some(Ok(())) } else { refused() };
        let mut nap = Nap::default();
        assert_eq!(
            over(run_now(2, first, &mut nap, &s, &rep)),
            Outcome::NotReady
        );
        assert_eq!((nap.begun.as_slice(), nap.sleeps.len()), (&[false][..], 0));
        assert_eq!(rep.attempts(1), 1);
        assert_eq!(rep.last_reason(1).as_deref(), Some("connection refused"));
        // --reverse counts a refusal as gone.
        s.once = false;
        s.reverse = true;
        assert_eq!(
            over(run_now(
                1,
                |_| refused(),
                &mut Nap::default(),
                &s,
                &reporter(1)
            )),
            Outcome::Ready
        );
    }

    #[test]
    fn a_wait_without_the_runtime_backs_off_until_ready() {
        let mut s = settings(Some(Duration::from_secs(60)));
        s.interval = Duration::from_millis(40);
        // Target 0 is refused four times, target 1 is ready at once.
        let attempt = scripted(2, |i, n| {
            if i == 0 && n <= 4 {
                refused()
            } else {
                Some(Ok(()))
            }
        });
        let rep = reporter(2);
        let mut nap = Nap::default();
        assert_eq!(
            over(run_now(2, attempt, &mut nap, &s, &rep)),
            Outcome::Ready
        );
        assert_eq!(nap.begun, [true]);
        assert_eq!((rep.attempts(0), rep.attempts(1)), (5, 1));
        // One sleep per pause (nothing else is queued before the deadline), each
        // within its backoff step: 20 ms, then 40 (the interval).
        assert_eq!(nap.sleeps.len(), 4, "{:?}", nap.sleeps);
        assert!(
            nap.sleeps[0] <= Duration::from_millis(20),
            "{:?}",
            nap.sleeps
        );
        for sleep in &nap.sleeps {
            assert!(*sleep <= s.interval, "{:?}", nap.sleeps);
        }
        assert!(rep.ready_after(0).is_some() && rep.ready_after(1).is_some());
    }

    #[test]
    fn a_wait_without_the_runtime_ends_at_the_deadline_at_a_signal_or_for_good() {
        let mut s = settings(Some(Duration::from_millis(150)));
        s.interval = Duration::from_millis(40);
        let rep = reporter(1);
        assert_eq!(
            over(run_now(1, |_| refused(), &mut Nap::default(), &s, &rep)),
            Outcome::Deadline
        );
        assert!(rep.attempts(0) >= 3, "{}", rep.attempts(0));
        // A signal ends the sleep it comes in.
        let s = settings(Some(Duration::from_secs(60)));
        let mut nap = Nap {
            signal_at: Some(3),
            ..Nap::default()
        };
        let rep = reporter(1);
        assert_eq!(
            over(run_now(1, |_| refused(), &mut nap, &s, &rep)),
            Outcome::Signal(crate::signal::SIGTERM)
        );
        assert_eq!((nap.sleeps.len(), rep.attempts(0)), (3, 3));
        // A rejected password at the third attempt ends the run, though the other
        // target still waits.
        let attempt = scripted(2, |i, n| match (i, n) {
            (0, 3) => Some(Err(ProbeError::permanent("password rejected"))),
            _ => refused(),
        });
        let rep = reporter(2);
        assert_eq!(
            over(run_now(2, attempt, &mut Nap::default(), &s, &rep)),
            Outcome::Permanent(0)
        );
        assert_eq!(rep.last_reason(0).as_deref(), Some("password rejected"));
        // --stable: the goal must hold for the whole period, looked at again.
        let mut s = settings(Some(Duration::from_secs(60)));
        s.stable = Duration::from_millis(60);
        s.interval = Duration::from_millis(25);
        let rep = reporter(1);
        let mut nap = Nap::default();
        assert_eq!(
            over(run_now(1, |_| Some(Ok(())), &mut nap, &s, &rep)),
            Outcome::Ready
        );
        assert!(rep.attempts(0) >= 3, "{}", rep.attempts(0));
    }

    #[test]
    fn the_voice_hears_time_pass_in_a_wait_without_the_runtime() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let voice = Ticks(ticks.clone(), Duration::from_millis(50));
        let rep = Reporter::new(vec!["t".into()], Box::new(voice), None, false);
        let s = settings(Some(Duration::from_millis(280)));
        assert_eq!(
            over(run_now(1, |_| refused(), &mut Nap::default(), &s, &rep)),
            Outcome::Deadline
        );
        // Every 50 ms until 250, each at most 6.25 ms late; a loaded machine may
        // sleep longer than asked, and hear fewer.
        let heard = ticks.load(Ordering::SeqCst);
        assert!((1..=5).contains(&heard), "{heard} ticks");
    }

    #[test]
    fn an_attempt_that_needs_the_runtime_hands_the_wait_over_as_it_stands() {
        let mut s = settings(Some(Duration::from_secs(60)));
        s.interval = Duration::from_millis(40);
        // Target 0 is refused twice, then its attempt needs the runtime; target 1
        // is ready at once.
        let attempt = scripted(2, |i, n| match (i, n) {
            (0, 1 | 2) => refused(),
            (0, _) => None,
            _ => Some(Ok(())),
        });
        let rep = reporter(2);
        let mut nap = Nap::default();
        let Now::Runtime(Some(resume)) = run_now(2, attempt, &mut nap, &s, &rep) else {
            panic!("not handed over");
        };
        assert_eq!((rep.attempts(0), rep.attempts(1)), (2, 1));
        // Target 1 is done; target 0 is tried again at once.
        assert!(resume.targets[1].is_none());
        assert!(matches!(resume.targets[0], Some((_, None))));
        // The runtime goes on: only target 0 is probed, and nothing twice.
        let probed = Arc::new(AtomicUsize::new(0));
        let seen = probed.clone();
        let probe: ProbeFn = Arc::new(move |i| {
            assert_eq!(i, 0, "target 1 was ready");
            seen.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let outcome = runtime.block_on(super::run(
            2,
            probe,
            None,
            &s,
            rep.clone(),
            never(),
            Some(resume),
        ));
        assert_eq!(outcome, Outcome::Ready);
        assert_eq!(probed.load(Ordering::SeqCst), 1);
        assert_eq!((rep.attempts(0), rep.attempts(1)), (3, 1));
    }

    #[test]
    fn a_hand_over_keeps_the_pauses_still_running() {
        let mut s = settings(Some(Duration::from_secs(60)));
        s.interval = Duration::from_millis(40);
        // Target 1 needs the runtime at its second attempt, while target 0 (always
        // refused) is in a pause: that pause is handed over, not restarted.
        let attempt = scripted(2, |i, n| match (i, n) {
            (1, 2) => None,
            _ => refused(),
        });
        let rep = reporter(2);
        let Now::Runtime(Some(resume)) = run_now(2, attempt, &mut Nap::default(), &s, &rep) else {
            panic!("not handed over");
        };
        let Some((_, Some(due))) = &resume.targets[0] else {
            panic!("target 0 has no pause");
        };
        assert!(due.early && due.soft <= due.hard);
        assert!(matches!(resume.targets[1], Some((_, None))));
    }
}
