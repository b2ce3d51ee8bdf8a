//! Waiting: every target probed concurrently, each with its own backoff, all under one
//! deadline. The main loop races the targets against the deadline and the signals,
//! so a hung attempt can hold whenready past neither.

use crate::backoff::Backoff;
use crate::duration;
use crate::probe::ProbeError;
use crate::report::Reporter;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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

/// Waits for targets `0..count`, reporting progress, until they are all ready, the
/// deadline passes, one fails permanently, or `signal` resolves. `changed`, when
/// given, may end the pauses between attempts early.
pub async fn run(
    count: usize,
    probe: ProbeFn,
    changed: Option<ChangeFn>,
    settings: &Settings,
    reporter: Arc<Reporter>,
    signal: impl Future<Output = i32>,
) -> Outcome {
    let mut watches = JoinSet::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(
        settings
            .max_in_flight
            .min(tokio::sync::Semaphore::MAX_PERMITS),
    ));
    // fastrand seeds itself from the OS; replicas started together differ.
    let seed = fastrand::u64(..);
    for i in 0..count {
        let (probe, changed, settings, reporter, permits) = (
            probe.clone(),
            changed.clone(),
            settings.clone(),
            reporter.clone(),
            permits.clone(),
        );
        watches.spawn(async move {
            let seed = seed.wrapping_add(i as u64);
            let watched = watch(i, probe, changed, &settings, &reporter, &permits, seed);
            (i, watched.await)
        });
    }
    let deadline = async {
        match settings.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
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
async fn watch(
    i: usize,
    probe: ProbeFn,
    changed: Option<ChangeFn>,
    settings: &Settings,
    reporter: &Reporter,
    permits: &tokio::sync::Semaphore,
    seed: u64,
) -> End {
    let mut backoff = Backoff::new(settings.interval, seed);
    loop {
        let limit = match settings.deadline {
            Some(d) => settings
                .attempt_timeout
                .min(d.saturating_duration_since(Instant::now())),
            None => settings.attempt_timeout,
        };
        // Waiting for a free slot does not count against the attempt's time. The
        // slot is held for the attempt only, not through the pause after it.
        let Ok(permit) = permits.acquire().await else {
            return End::Ready;
        };
        reporter.attempt(i);
        let result = match tokio::time::timeout(limit, probe(i)).await {
            Ok(r) => r,
            Err(_) => Err(ProbeError::transient(format!(
                "no answer within {}",
                duration::show(limit)
            ))),
        };
        drop(permit);
        match result {
            Ok(()) => {
                reporter.ready(i);
                return End::Ready;
            }
            Err(e) => {
                let stop = settings.once || (e.is_permanent() && !settings.retry_all);
                reporter.not_ready(i, &e, stop);
                if stop {
                    return End::Failed(e);
                }
            }
        }
        if let Some(pause) = backoff.next() {
            match &changed {
                // The kernel's word ends the pause early; the backoff stays the
                // fallback for changes it does not report.
                Some(changed) => tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = changed(i) => {}
                },
                None => tokio::time::sleep(pause).await,
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
        }
    }

    fn never() -> std::future::Pending<i32> {
        std::future::pending()
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
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let probe: ProbeFn = Arc::new(move |_| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n < 4 {
                    Err(ProbeError::transient("refused"))
                } else {
                    Ok(())
                }
            })
        });
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
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let probe: ProbeFn = Arc::new(move |_| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n < 2000 {
                    Err(ProbeError::transient("refused"))
                } else {
                    Ok(())
                }
            })
        });
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
}
