//! Waiting: every target probed concurrently, each with its own backoff, all under one
//! deadline. The main loop races the targets against the deadline and the signals,
//! so a hung attempt can hold whenready past neither.

use crate::backoff::Backoff;
use crate::duration;
use crate::pace::{Clock, Pacer};
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

/// The first attempt at every target, made at once without the runtime by
/// `attempt_now` ([`crate::probe::Check::attempt_now`]), where it can make all of
/// them. When those attempts settle the run (every target is ready, or `--once`),
/// they are reported as [`run`] reports them and the outcome is returned: a check
/// that ends there never starts the runtime. `None` when an attempt needs the
/// runtime or a target needs another attempt; nothing was reported then, and the
/// run starts over on the runtime (an extra connect to a loopback port, at most one
/// per target). `settled` runs once the attempts settle the run, before anything
/// is reported.
pub fn run_now(
    count: usize,
    attempt_now: impl Fn(usize) -> Option<Result<(), ProbeError>>,
    settled: impl FnOnce(),
    settings: &Settings,
    reporter: &Reporter,
) -> Option<Outcome> {
    let mut steps = Vec::with_capacity(count);
    for i in 0..count {
        let step = step(judge(attempt_now(i)?, settings), settings, &mut None);
        if !step.is_final() {
            return None;
        }
        steps.push(step);
    }
    settled();
    reporter.begin();
    let mut outcome = Outcome::Ready;
    for (i, step) in steps.into_iter().enumerate() {
        reporter.attempt(i);
        if let Flow::Done(End::Failed(e)) = tell(i, step, settings, reporter) {
            // As [`run`] ends: `--once` counts every target; otherwise the first
            // permanent failure ends the run.
            if settings.once {
                outcome = Outcome::NotReady;
            } else if e.is_permanent() && outcome == Outcome::Ready {
                outcome = Outcome::Permanent(i);
            }
        }
    }
    Some(outcome)
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
) -> Outcome {
    // One attempt per target makes no pause: the runtime's timer, which costs no
    // descriptor and no system call to set up, serves the deadline alone.
    let clock = if settings.once {
        Clock::Runtime
    } else {
        Clock::Kernel
    };
    run_on(clock, count, probe, changed, settings, reporter, signal).await
}

/// [`run`], with the pauses, ticks and deadline timed by `clock`.
async fn run_on(
    clock: Clock,
    count: usize,
    probe: ProbeFn,
    changed: Option<ChangeFn>,
    settings: &Settings,
    reporter: Arc<Reporter>,
    signal: impl Future<Output = i32>,
) -> Outcome {
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
            let slack = (period / 8).min(TICK_SLACK);
            let mut next = Instant::now() + period;
            loop {
                pacer.pause(tick_id, next, next + slack).await;
                reporter.tick();
                // Ticks missed (a long stall) are skipped, not caught up.
                let now = Instant::now();
                next += period;
                while next <= now {
                    next += period;
                }
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
    // fastrand seeds itself from the OS; replicas started together differ.
    let seed = fastrand::u64(..);
    for i in 0..count {
        let (probe, changed, settings, reporter, permits, pacer) = (
            probe.clone(),
            changed.clone(),
            settings.clone(),
            reporter.clone(),
            permits.clone(),
            pacer.clone(),
        );
        watches.spawn(async move {
            let seed = seed.wrapping_add(i as u64);
            let watched = watch(
                i,
                probe,
                changed,
                &settings,
                &reporter,
                permits.as_deref(),
                &pacer,
                seed,
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
    let mut not_ready = false;
    loop {
        tokio::select! {
            biased;
            n = &mut signal => return Outcome::Signal(n),
            () = &mut deadline => return Outcome::Deadline,
            joined = watches.join_next() => match joined {
                None => return if not_ready { Outcome::NotReady } else { Outcome::Ready },
                Some(Ok((_, End::Ready))) => {}
                Some(Ok((i, End::Failed(e)))) => {
                    if settings.once {
                        not_ready = true;
                    } else if e.is_permanent() {
                        return Outcome::Permanent(i);
                    }
                }
                // A probe panicked: never expected; report it as not ready.
                Some(Err(_)) => not_ready = true,
            },
        }
    }
}

/// Probes target `i` until it is ready or fails for good.
#[allow(clippy::too_many_arguments)]
async fn watch(
    i: usize,
    probe: ProbeFn,
    changed: Option<ChangeFn>,
    settings: &Settings,
    reporter: &Reporter,
    permits: Option<&tokio::sync::Semaphore>,
    pacer: &Pacer,
    seed: u64,
) -> End {
    let mut backoff = Backoff::new(settings.interval, seed);
    // When the goal started to hold without a break (for `--stable`).
    let mut since: Option<Instant> = None;
    // What may end a pause early: made at the first pause and kept through the
    // next ones until it resolves (for most kinds it never does).
    let mut change = None;
    loop {
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
        match tell(
            i,
            step(judge(result, settings), settings, &mut since),
            settings,
            reporter,
        ) {
            Flow::Done(end) => return end,
            Flow::Hold(until) => {
                // Reached, but not for long enough: look again at the interval, and
                // exactly when the period is over.
                pacer.pause(i, until, until).await;
                continue;
            }
            Flow::Retry => {}
        }
        let ceiling = backoff.ceiling();
        if let Some(pause) = backoff.next() {
            // Due after `pause`; a little later when another target's pause ends
            // then, within the backoff's step (see PAUSE_SLACK).
            let now = Instant::now();
            let slack = (ceiling / PAUSE_SLACK).min(ceiling.saturating_sub(pause));
            let pause = pacer.pause(i, now + pause, now + pause + slack);
            match &changed {
                // The kernel's word ends the pause early; the backoff stays the
                // fallback for changes it does not report.
                Some(changed) => {
                    let word = change.get_or_insert_with(|| changed(i));
                    tokio::select! {
                        () = pause => {}
                        () = word => change = None,
                    }
                }
                None => pause.await,
            }
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
            super::run(1, probe, None, &s, rep.clone(), never()).await,
            Outcome::Ready
        );
        assert_eq!(rep.attempts(0), 4);
        // Three pauses, none shorter than its backoff step allows (10, 20, 40 ms).
        assert!(start.elapsed() >= Duration::from_millis(70));
        let refused: ProbeFn =
            Arc::new(|_| Box::pin(async { Err(ProbeError::transient("refused")) }));
        let s = settings(Some(Duration::from_millis(300)));
        assert_eq!(
            super::run(2, refused, None, &s, reporter(2), never()).await,
            Outcome::Deadline
        );
    }

    #[test]
    fn attempts_made_at_once_settle_a_check_without_the_runtime() {
        let refused = || Some(Err(ProbeError::transient("connection refused")));
        let settled = std::cell::Cell::new(0);
        let mut s = settings(Some(Duration::from_secs(60)));
        // Every target ready: the run is over, as the wait loop would report it.
        let rep = reporter(2);
        assert_eq!(
            run_now(
                2,
                |_| Some(Ok(())),
                || settled.set(settled.get() + 1),
                &s,
                &rep
            ),
            Some(Outcome::Ready)
        );
        assert_eq!((rep.attempts(0), rep.attempts(1)), (1, 1));
        assert_eq!(rep.ready_after(1).map(|_| ()), Some(()));
        // A refusal needs another attempt: nothing is reported, the runtime starts.
        let rep = reporter(2);
        let first = |i| if i == 0 { Some(Ok(())) } else { refused() };
        assert_eq!(
            run_now(2, first, || settled.set(settled.get() + 1), &s, &rep),
            None
        );
        // Told before reporting, and only when the run is settled.
        assert_eq!(settled.get(), 1);
        assert_eq!((rep.attempts(0), rep.attempts(1)), (0, 0));
        // So does a target whose attempt needs the runtime.
        let rep = reporter(2);
        let calls = AtomicUsize::new(0);
        let needs = |i| {
            calls.fetch_add(1, Ordering::SeqCst);
            (i == 0).then_some(Ok(()))
        };
        assert_eq!(run_now(2, needs, || (), &s, &rep), None);
        assert_eq!((calls.load(Ordering::SeqCst), rep.attempts(0)), (2, 0));
        // With --once, one attempt is the whole check: a refusal is its outcome.
        s.once = true;
        let rep = reporter(2);
        assert_eq!(run_now(2, first, || (), &s, &rep), Some(Outcome::NotReady));
        assert_eq!(rep.attempts(1), 1);
        assert_eq!(rep.last_reason(1).as_deref(), Some("connection refused"));
        // --stable wants more than one look; --reverse counts a refusal as gone.
        s.once = false;
        s.stable = Duration::from_secs(1);
        assert_eq!(run_now(1, |_| Some(Ok(())), || (), &s, &reporter(1)), None);
        s.stable = Duration::ZERO;
        s.reverse = true;
        assert_eq!(
            run_now(1, |_| refused(), || (), &s, &reporter(1)),
            Some(Outcome::Ready)
        );
        assert_eq!(run_now(1, |_| Some(Ok(())), || (), &s, &reporter(1)), None);
    }
}
