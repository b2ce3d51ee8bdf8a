//! The engine as a whole: the loop ([`super::drive`]) on tokio's paused clock with
//! fake targets, and [`super::run`]'s first look and its hand to the loop.

use super::schedule::Schedule;
use super::timer::Clock;
use super::*;
use crate::report::{Reporter, Silent};
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) fn settings(deadline: Option<Duration>) -> Settings {
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

fn reporter(n: usize) -> Arc<Reporter> {
    Arc::new(Reporter::new(
        (0..n).map(|i| format!("t{i}")).collect(),
        Box::new(Silent),
        None,
        false,
    ))
}

fn never() -> std::future::Pending<i32> {
    std::future::pending()
}

type Now = dyn Fn(usize) -> Option<Result<(), ProbeError>> + Send + Sync;
type Probe = dyn Fn(usize) -> Attempt + Send + Sync;
type Word = dyn Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// Targets made of closures.
struct Fake {
    count: usize,
    now: Box<Now>,
    probe: Box<Probe>,
    word: Box<Word>,
    /// What [`Targets::silence_is_gone`] says of every target.
    silence_is_gone: bool,
}

impl Targets for Fake {
    fn count(&self) -> usize {
        self.count
    }
    fn attempt_now(&self, i: usize) -> Option<Result<(), ProbeError>> {
        (self.now)(i)
    }
    fn probe(&self, i: usize) -> Attempt {
        (self.probe)(i)
    }
    fn changed(&self, i: usize) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        (self.word)(i)
    }
    fn silence_is_gone(&self, _i: usize) -> bool {
        self.silence_is_gone
    }
}

/// `count` targets probed by `probe` (on the runtime only), without a word.
fn fake(
    count: usize,
    probe: impl Fn(usize) -> Attempt + Send + Sync + 'static,
) -> Arc<dyn Targets> {
    Arc::new(Fake {
        count,
        now: Box::new(|_| None),
        probe: Box::new(probe),
        word: Box::new(|_| Box::pin(std::future::pending())),
        silence_is_gone: true,
    })
}

fn refused() -> Result<(), ProbeError> {
    Err(ProbeError::transient("connection refused"))
}

/// A probe refused `failures` times, then ready.
fn ready_after(failures: usize) -> impl Fn(usize) -> Attempt + Send + Sync + 'static {
    let calls = AtomicUsize::new(0);
    move |_| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n < failures {
                refused()
            } else {
                Ok(())
            }
        })
    }
}

fn hangs(_: usize) -> Attempt {
    Box::pin(std::future::pending())
}

/// The loop over a fresh schedule, on the runtime's timer, which follows the paused
/// clock of these tests (the kernel's would not).
async fn wait(
    targets: Arc<dyn Targets>,
    settings: &Settings,
    reporter: Arc<Reporter>,
    signal: impl Future<Output = i32>,
) -> Outcome {
    wait_on(Clock::Runtime, targets, settings, reporter, signal).await
}

/// The loop over a fresh schedule, timed by `clock`.
async fn wait_on(
    clock: Clock,
    targets: Arc<dyn Targets>,
    settings: &Settings,
    reporter: Arc<Reporter>,
    signal: impl Future<Output = i32>,
) -> Outcome {
    let now = Instant::now();
    let mut schedule = Schedule::new(targets.count(), settings, reporter.tick_every(), now, || 7);
    drive::drive(&mut schedule, &targets, settings, &reporter, signal, clock).await
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_hung_attempts_on_time() {
    let start = Instant::now();
    let s = settings(Some(Duration::from_secs(2)));
    let rep = reporter(3);
    assert_eq!(
        wait(fake(3, hangs), &s, rep.clone(), never()).await,
        Outcome::Deadline
    );
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    // Each hung attempt is told as such in the summary.
    for (_, reason, attempts) in rep.unready() {
        assert_eq!((reason.as_str(), attempts), ("no answer within 2.0s", 1));
    }
}

#[tokio::test(start_paused = true)]
async fn a_target_is_tried_again_until_ready() {
    let start = Instant::now();
    let rep = reporter(1);
    let s = settings(Some(Duration::from_secs(10)));
    assert_eq!(
        wait(fake(1, ready_after(4)), &s, rep.clone(), never()).await,
        Outcome::Ready
    );
    assert_eq!(rep.attempts(0), 5);
    // 4 pauses of at most 20+40+80+160 ms.
    assert!(
        start.elapsed() <= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_is_cut_at_the_attempt_timeout() {
    let mut s = settings(Some(Duration::from_secs(12)));
    s.attempt_timeout = Duration::from_secs(5);
    let rep = reporter(1);
    assert_eq!(
        wait(fake(1, hangs), &s, rep.clone(), never()).await,
        Outcome::Deadline
    );
    assert_eq!(rep.attempts(0), 3);
    assert_eq!(rep.last_reason(0).as_deref(), Some("no answer within 5.0s"));
}

#[tokio::test(start_paused = true)]
async fn with_reverse_a_cut_attempt_is_gone_only_where_silence_says_so() {
    let mut s = settings(Some(Duration::from_secs(12)));
    s.reverse = true;
    // A service that does not answer is not serving: gone.
    let rep = reporter(1);
    assert_eq!(
        wait(fake(1, hangs), &s, rep.clone(), never()).await,
        Outcome::Ready
    );
    assert_eq!(rep.attempts(0), 1);
    // A Kubernetes object behind a silent API server may still be there: not gone,
    // whatever the number of attempts, and the reason says why.
    let mut s = settings(Some(Duration::from_secs(12)));
    s.reverse = true;
    let silent: Arc<dyn Targets> = Arc::new(Fake {
        count: 1,
        now: Box::new(|_| None),
        probe: Box::new(hangs),
        word: Box::new(|_| Box::pin(std::future::pending())),
        silence_is_gone: false,
    });
    let rep = reporter(1);
    assert_eq!(
        wait(silent, &s, rep.clone(), never()).await,
        Outcome::Deadline
    );
    assert_eq!(rep.attempts(0), 3);
    assert_eq!(rep.last_reason(0).as_deref(), Some("no answer within 5.0s"));
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_stops_at_once_unless_retry_all() {
    let probe = |i| -> Attempt {
        Box::pin(async move {
            match i {
                1 => Err(ProbeError::permanent("wrong password")),
                _ => refused(),
            }
        })
    };
    let start = Instant::now();
    let s = settings(Some(Duration::from_secs(60)));
    assert_eq!(
        wait(fake(2, probe), &s, reporter(2), never()).await,
        Outcome::Permanent(1)
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    let mut s = settings(Some(Duration::from_secs(1)));
    s.retry_all = true;
    assert_eq!(
        wait(fake(2, probe), &s, reporter(2), never()).await,
        Outcome::Deadline
    );
}

#[tokio::test(start_paused = true)]
async fn once_makes_one_attempt_per_target() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let probe = move |i| -> Attempt {
        c.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if i == 0 {
                Ok(())
            } else {
                refused()
            }
        })
    };
    let mut s = settings(Some(Duration::from_secs(60)));
    s.once = true;
    assert_eq!(
        wait(fake(3, probe), &s, reporter(3), never()).await,
        Outcome::NotReady
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_it_waits_until_ready() {
    let s = settings(None);
    assert_eq!(
        wait(fake(1, ready_after(2000)), &s, reporter(1), never()).await,
        Outcome::Ready
    );
}

#[tokio::test(start_paused = true)]
async fn a_signal_wins_over_everything() {
    let signal = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        15
    };
    let start = Instant::now();
    let s = settings(None);
    assert_eq!(
        wait(fake(1, hangs), &s, reporter(1), signal).await,
        Outcome::Signal(15)
    );
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn reverse_waits_until_the_probe_fails() {
    let mut s = settings(Some(Duration::from_secs(10)));
    s.reverse = true;
    let calls = AtomicUsize::new(0);
    let probe = move |_| -> Attempt {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n < 3 {
                Ok(())
            } else {
                refused()
            }
        })
    };
    let rep = reporter(1);
    assert_eq!(
        wait(fake(1, probe), &s, rep.clone(), never()).await,
        Outcome::Ready
    );
    assert_eq!(rep.attempts(0), 4);
    assert_eq!(rep.last_reason(0).as_deref(), Some("connection refused"));
    // A target that stays up until the deadline is not gone.
    let up = |_| -> Attempt { Box::pin(async { Ok(()) }) };
    let rep = reporter(1);
    assert_eq!(
        wait(fake(1, up), &s, rep.clone(), never()).await,
        Outcome::Deadline
    );
    assert_eq!(rep.last_reason(0).as_deref(), Some("still answers ready"));
}

#[tokio::test(start_paused = true)]
async fn stable_counts_only_an_unbroken_run_of_ready_answers() {
    let start = Instant::now();
    // Ready for the first second, down for half a second, then up for good.
    let flapping = move |_| -> Attempt {
        let t = start.elapsed();
        Box::pin(async move {
            if t >= Duration::from_secs(1) && t < Duration::from_millis(1500) {
                refused()
            } else {
                Ok(())
            }
        })
    };
    let mut s = settings(Some(Duration::from_secs(60)));
    s.stable = Duration::from_secs(2);
    let rep = reporter(1);
    assert_eq!(
        wait(fake(1, flapping), &s, rep.clone(), never()).await,
        Outcome::Ready
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(3500) && took <= Duration::from_millis(3750),
        "{took:?}"
    );
    // Longer than the deadline: never counts.
    let mut s = settings(Some(Duration::from_secs(3)));
    s.stable = Duration::from_secs(5);
    let up = |_| -> Attempt { Box::pin(async { Ok(()) }) };
    let rep = reporter(1);
    assert_eq!(
        wait(fake(1, up), &s, rep.clone(), never()).await,
        Outcome::Deadline
    );
    let reason = rep.last_reason(0).unwrap();
    assert!(
        reason.contains("ready for less than 5.0s so far"),
        "{reason}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_reported_change_ends_the_pause_at_once() {
    // The second attempt succeeds. Without a change, it comes after a pause of the
    // backoff (at least 10 ms of the paused clock); with one, at once.
    let s = settings(Some(Duration::from_secs(60)));
    let start = Instant::now();
    assert_eq!(
        wait(fake(1, ready_after(1)), &s, reporter(1), never()).await,
        Outcome::Ready
    );
    assert!(start.elapsed() >= Duration::from_millis(10));
    let words = Arc::new(AtomicUsize::new(0));
    let w = words.clone();
    let targets: Arc<dyn Targets> = Arc::new(Fake {
        count: 1,
        now: Box::new(|_| None),
        probe: Box::new(ready_after(1)),
        word: Box::new(move |_| {
            w.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        }),
        silence_is_gone: true,
    });
    let start = Instant::now();
    assert_eq!(
        wait(targets, &s, reporter(1), never()).await,
        Outcome::Ready
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(words.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn attempts_in_flight_stay_within_the_slots() {
    // Each attempt takes 30 ms; 6 targets share 2 slots.
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, m) = (now.clone(), most.clone());
    let probe = move |_| -> Attempt {
        let (n, m) = (n.clone(), m.clone());
        Box::pin(async move {
            let running = n.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(30)).await;
            n.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
    };
    let mut s = settings(Some(Duration::from_secs(10)));
    s.max_in_flight = 2;
    let start = Instant::now();
    assert_eq!(
        wait(fake(6, probe), &s, reporter(6), never()).await,
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
    let s = settings(Some(Duration::from_millis(1050)));
    let probe = |_| -> Attempt { Box::pin(async { refused() }) };
    assert_eq!(
        wait(fake(1, probe), &s, rep, never()).await,
        Outcome::Deadline
    );
    // At 100, 200, ... 1000 ms (each at most 12.5 ms late).
    assert_eq!(ticks.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn the_same_wait_runs_on_the_kernel_timer() {
    // Real time, on the timerfd: the outcomes, not how long they took.
    let s = settings(Some(Duration::from_secs(30)));
    let rep = reporter(1);
    let start = Instant::now();
    let targets = fake(1, ready_after(3));
    assert_eq!(
        wait_on(Clock::Kernel, targets, &s, rep.clone(), never()).await,
        Outcome::Ready
    );
    assert_eq!(rep.attempts(0), 4);
    // Three pauses, none shorter than its backoff step allows (10, 20, 40 ms).
    assert!(start.elapsed() >= Duration::from_millis(70));
    let s = settings(Some(Duration::from_millis(300)));
    let probe = |_| -> Attempt { Box::pin(async { refused() }) };
    let targets = fake(2, probe);
    assert_eq!(
        wait_on(Clock::Kernel, targets, &s, reporter(2), never()).await,
        Outcome::Deadline
    );
}

/// Targets whose attempts at once give `now(i)`, and whose attempts on the runtime
/// count themselves in `probed` and give `probe(i)`.
fn looked(
    count: usize,
    now: impl Fn(usize) -> Option<Result<(), ProbeError>> + Send + Sync + 'static,
    probed: Arc<AtomicUsize>,
    probe: impl Fn(usize) -> Result<(), ProbeError> + Send + Sync + 'static,
) -> Arc<dyn Targets> {
    let probe = Arc::new(probe);
    Arc::new(Fake {
        count,
        now: Box::new(now),
        probe: Box::new(move |i| {
            probed.fetch_add(1, Ordering::SeqCst);
            let result = probe(i);
            Box::pin(async move { result })
        }),
        word: Box::new(|_| Box::pin(std::future::pending())),
        silence_is_gone: true,
    })
}

#[test]
fn a_first_look_that_settles_the_run_starts_no_runtime() {
    let probed = Arc::new(AtomicUsize::new(0));
    let s = settings(Some(Duration::from_secs(60)));
    // Every target ready at once: over, and nothing was probed on a runtime (there
    // is none: a probe would have been counted).
    let rep = reporter(2);
    let targets = looked(2, |_| Some(Ok(())), probed.clone(), |_| Ok(()));
    assert_eq!(
        run(targets, &s, &rep, Pauses::default(), false).unwrap(),
        Outcome::Ready
    );
    assert_eq!((rep.attempts(0), rep.attempts(1)), (1, 1));
    assert!(rep.ready_after(1).is_some());
    // --once: one look is the whole check, and a refusal its outcome.
    let mut once = s.clone();
    once.once = true;
    let rep = reporter(2);
    let targets = looked(
        2,
        |i| Some(if i == 0 { Ok(()) } else { refused() }),
        probed.clone(),
        |_| Ok(()),
    );
    assert_eq!(
        run(targets, &once, &rep, Pauses::default(), false).unwrap(),
        Outcome::NotReady
    );
    assert_eq!(rep.last_reason(1).as_deref(), Some("connection refused"));
    // --reverse counts a refusal as gone.
    let mut reverse = s.clone();
    reverse.reverse = true;
    let targets = looked(1, |_| Some(refused()), probed.clone(), |_| Ok(()));
    assert_eq!(
        run(targets, &reverse, &reporter(1), Pauses::default(), false).unwrap(),
        Outcome::Ready
    );
    assert_eq!(probed.load(Ordering::SeqCst), 0);
}

#[test]
fn the_loop_goes_on_from_where_the_first_look_left_the_schedule() {
    // Target 0 is refused at the first look, then ready; target 1 needs the
    // runtime for every attempt; target 2 is ready at once.
    let probed = Arc::new(AtomicUsize::new(0));
    let s = settings(Some(Duration::from_secs(60)));
    let rep = reporter(3);
    let targets = looked(
        3,
        |i| match i {
            0 => Some(refused()),
            1 => None,
            _ => Some(Ok(())),
        },
        probed.clone(),
        |i| {
            assert_ne!(i, 2, "target 2 was ready at the first look");
            Ok(())
        },
    );
    let start = Instant::now();
    assert_eq!(
        run(targets, &s, &rep, Pauses::default(), false).unwrap(),
        Outcome::Ready
    );
    // Target 0's second attempt came after its backoff's first pause, not at once:
    // the loop kept the pause the first look queued.
    assert!(
        start.elapsed() >= crate::backoff::FIRST / 2,
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        (rep.attempts(0), rep.attempts(1), rep.attempts(2)),
        (2, 1, 1)
    );
    assert_eq!(probed.load(Ordering::SeqCst), 2);
    // A permanent failure at the first look settles the run as well.
    let targets = looked(
        2,
        |i| {
            Some(if i == 0 {
                refused()
            } else {
                Err(ProbeError::permanent("denied"))
            })
        },
        probed.clone(),
        |_| Ok(()),
    );
    assert_eq!(
        run(targets, &s, &reporter(2), Pauses::default(), false).unwrap(),
        Outcome::Permanent(1)
    );
    assert_eq!(probed.load(Ordering::SeqCst), 2);
}
