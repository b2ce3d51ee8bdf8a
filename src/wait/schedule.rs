//! The schedule of a wait: every target's course ([`Track`]), the tally of how the
//! targets ended, and the queue of due times (each target's next attempt, the
//! deadline, the voice's next tick). It does no I/O and reads no clock: the loop
//! that drives it ([`super::drive`]) asks when the next thing is due, takes what is
//! due, and records each attempt's outcome; the first look before the loop
//! ([`super::run`]) records into the same schedule.

use super::queue::Queue;
use super::track::{Told, Track};
use super::{Outcome, Settings};
use crate::probe::ProbeError;
use std::time::Duration;
use tokio::time::Instant;

/// How late a voice's tick may come to share a wake-up: an eighth of its period,
/// at most this.
const TICK_SLACK: Duration = Duration::from_millis(100);

/// Something due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Target `.0`'s next attempt.
    Attempt(usize),
    /// The voice's tick: time passes.
    Tick,
    /// The deadline passed.
    Deadline,
}

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Its next attempt is queued (`early`: a change the kernel reports may end the
    /// pause before it).
    Waiting { early: bool },
    /// An attempt is under way (`woken`: the kernel reported a change meanwhile).
    Trying { woken: bool },
    /// It needs no further attempt.
    Done,
}

/// Targets, deadline and ticks of one wait.
pub struct Schedule {
    settings: Settings,
    tracks: Vec<Track>,
    states: Vec<State>,
    /// Entries: a target's next attempt (ids `0..count`), the deadline (`count`),
    /// the tick (`count + 1`).
    queue: Queue,
    /// The voice's period, and when its next tick is due.
    tick: Option<(Duration, Instant)>,
    /// Targets not done yet.
    left: usize,
    /// `--once` found a target not ready.
    not_ready: bool,
    /// The first target that failed for good.
    permanent: Option<usize>,
    /// Draws the seed of the backoffs' jitter, once, at the first failure.
    seeder: fn() -> u64,
    seed: Option<u64>,
}

impl Schedule {
    /// A schedule for `count` targets, each due at `now`; `tick`: the voice's period,
    /// if it wants to hear time pass; `seeder` draws the jitter's seed (replicas
    /// started together must differ: `fastrand::u64`).
    pub fn new(
        count: usize,
        settings: &Settings,
        tick: Option<Duration>,
        now: Instant,
        seeder: fn() -> u64,
    ) -> Schedule {
        let mut queue = Queue::new(count + 2);
        for i in 0..count {
            queue.push(i, now, now);
        }
        if let Some(d) = settings.deadline {
            queue.push(count, d, d);
        }
        let tick = tick.filter(|p| !p.is_zero()).map(|period| {
            let next = now + period;
            queue.push(count + 1, next, next + tick_slack(period));
            (period, next)
        });
        Schedule {
            settings: settings.clone(),
            tracks: (0..count).map(|_| Track::default()).collect(),
            states: vec![State::Waiting { early: false }; count],
            queue,
            tick,
            left: count,
            not_ready: false,
            permanent: None,
            seeder,
            seed: None,
        }
    }

    /// When the next thing is due (a little later than the earliest, when that lets
    /// several share a wake-up without making any late); `None`: nothing is.
    pub fn next_wake(&mut self) -> Option<Instant> {
        self.queue.wake_at()
    }

    /// Takes out something due by `now`, if anything is. A target taken out is
    /// trying: its attempt is to start now.
    pub fn take_due(&mut self, now: Instant) -> Option<Due> {
        let id = self.queue.pop_due(now)?;
        let count = self.states.len();
        if id < count {
            self.states[id] = State::Trying { woken: false };
            return Some(Due::Attempt(id));
        }
        if id == count {
            return Some(Due::Deadline);
        }
        if let Some((period, due)) = self.tick {
            let next = next_tick(due, period, now);
            self.tick = Some((period, next));
            self.queue.push(id, next, next + tick_slack(period));
        }
        Some(Due::Tick)
    }

    /// Records the result of target `i`'s attempt, ended at `now`: what to tell the
    /// reporter. The target's next attempt is queued, or it is done.
    pub fn record(&mut self, i: usize, result: Result<(), ProbeError>, now: Instant) -> Told {
        let (seeder, seed) = (self.seeder, &mut self.seed);
        let draw = || seed.get_or_insert_with(seeder).wrapping_add(i as u64);
        let (told, pause) = self.tracks[i].after(result, &self.settings, now, draw);
        let woken = self.states[i] == State::Trying { woken: true };
        self.queue.cancel(i);
        match pause {
            Some(pause) => {
                // A change the kernel reported during the attempt may have come after
                // it looked: the pause ends at once.
                let (soft, hard) = if woken && pause.early {
                    (now, now)
                } else {
                    (pause.soft, pause.hard)
                };
                self.queue.push(i, soft, hard);
                self.states[i] = State::Waiting { early: pause.early };
            }
            None => {
                if self.states[i] != State::Done {
                    self.left -= 1;
                }
                self.states[i] = State::Done;
                if let Told::Missed { error, .. } = &told {
                    // `--once` counts every target; otherwise the first permanent
                    // failure ends the run.
                    if self.settings.once {
                        self.not_ready = true;
                    } else if error.is_permanent() {
                        self.permanent.get_or_insert(i);
                    }
                }
            }
        }
        told
    }

    /// The kernel reported a change that may have made target `i` ready: a pause
    /// that such a change may end ends now; during an attempt, the next one will.
    pub fn changed(&mut self, i: usize, now: Instant) {
        match self.states[i] {
            State::Waiting { early: true } if self.queue.pending(i) => {
                self.queue.push(i, now, now);
            }
            State::Trying { .. } => self.states[i] = State::Trying { woken: true },
            _ => {}
        }
    }

    /// Whether target `i` is in a pause that a change the kernel reports may end.
    pub fn listens(&self, i: usize) -> bool {
        self.states[i] == State::Waiting { early: true }
    }

    /// How the run ends, once it does: every target done, or one failed for good.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.permanent {
            Some(i) => Some(Outcome::Permanent(i)),
            None if self.left > 0 => None,
            None if self.not_ready => Some(Outcome::NotReady),
            None => Some(Outcome::Ready),
        }
    }
}

/// The tick after the one due at `due`: ticks missed (a long stall) are skipped,
/// not caught up.
fn next_tick(mut due: Instant, period: Duration, now: Instant) -> Instant {
    due += period;
    while due <= now {
        due += period;
    }
    due
}

/// How late a tick of `period` may come, to share a wake-up.
fn tick_slack(period: Duration) -> Duration {
    (period / 8).min(TICK_SLACK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wait::tests::settings;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn refused() -> Result<(), ProbeError> {
        Err(ProbeError::transient("connection refused"))
    }

    /// Runs a schedule on a fake clock, as the loop would with attempts that end
    /// at once: `attempt(i, n, t)` is the result of target `i`'s `n`th attempt
    /// (from 1), made at `t` after the start.
    /// Returns the outcome and, per target, when each attempt was made.
    fn simulate(
        count: usize,
        settings: &Settings,
        start: Instant,
        attempt: impl Fn(usize, usize, Duration) -> Result<(), ProbeError>,
    ) -> (Outcome, Vec<Vec<Duration>>) {
        let mut schedule = Schedule::new(count, settings, None, start, || 42);
        let mut times = vec![Vec::new(); count];
        let mut now = start;
        loop {
            while let Some(due) = schedule.take_due(now) {
                let i = match due {
                    Due::Deadline => return (Outcome::Deadline, times),
                    Due::Tick => continue,
                    Due::Attempt(i) => i,
                };
                times[i].push(now - start);
                let result = attempt(i, times[i].len(), now - start);
                schedule.record(i, result, now);
                if let Some(outcome) = schedule.outcome() {
                    return (outcome, times);
                }
            }
            now = schedule.next_wake().expect("nothing due, not over");
        }
    }

    #[test]
    fn a_target_is_tried_until_ready_within_its_backoff() {
        let start = Instant::now();
        let s = settings(Some(Duration::from_secs(60)));
        let (outcome, times) = simulate(2, &s, start, |i, n, _| {
            if i == 0 && n <= 4 {
                refused()
            } else {
                Ok(())
            }
        });
        assert_eq!(outcome, Outcome::Ready);
        assert_eq!((times[0].len(), times[1].len()), (5, 1));
        let mut d = crate::backoff::FIRST;
        for pair in times[0].windows(2) {
            let pause = pair[1] - pair[0];
            assert!(
                pause >= d / 2 && pause <= d,
                "{pause:?} outside [{:?}, {d:?}]",
                d / 2
            );
            d = (d * 2).min(s.interval);
        }
    }

    #[test]
    fn the_deadline_ends_a_wait_at_its_moment() {
        let start = Instant::now();
        let s = settings(Some(Duration::from_secs(10)));
        let (outcome, times) = simulate(1, &s, start, |_, _, _| refused());
        assert_eq!(outcome, Outcome::Deadline);
        // Fast at first, then at least interval/2 apart: 10 s allows at most ~80.
        assert!((40..=90).contains(&times[0].len()), "{}", times[0].len());
        assert!(times[0].iter().all(|t| *t < Duration::from_secs(10)));
    }

    #[test]
    fn a_permanent_failure_ends_the_run_while_others_wait() {
        let start = Instant::now();
        let s = settings(Some(Duration::from_secs(60)));
        let (outcome, times) = simulate(2, &s, start, |i, n, _| match (i, n) {
            (1, 3) => Err(ProbeError::permanent("password rejected")),
            _ => refused(),
        });
        assert_eq!(outcome, Outcome::Permanent(1));
        assert_eq!(times[1].len(), 3);
        let mut s = s;
        s.retry_all = true;
        s.deadline = Some(start + ms(500));
        let (outcome, _) = simulate(2, &s, start, |_, _, _| {
            Err(ProbeError::permanent("password rejected"))
        });
        assert_eq!(outcome, Outcome::Deadline);
    }

    #[test]
    fn once_is_one_attempt_per_target() {
        let start = Instant::now();
        let mut s = settings(Some(Duration::from_secs(60)));
        s.once = true;
        let (outcome, times) = simulate(3, &s, start, |i, _, _| {
            if i == 1 {
                Err(ProbeError::permanent("no"))
            } else {
                Ok(())
            }
        });
        assert_eq!(outcome, Outcome::NotReady);
        assert!(times.iter().all(|t| t.len() == 1), "{times:?}");
        let (outcome, _) = simulate(2, &s, start, |_, _, _| Ok(()));
        assert_eq!(outcome, Outcome::Ready);
    }

    #[test]
    fn stable_restarts_its_window_after_a_flap() {
        // Ready, then refused during [1 s, 1.5 s), then ready for good.
        let start = Instant::now();
        let mut s = settings(Some(Duration::from_secs(60)));
        s.stable = Duration::from_secs(2);
        let (outcome, times) = simulate(1, &s, start, |_, _, t| {
            if t >= Duration::from_secs(1) && t < ms(1500) {
                refused()
            } else {
                Ok(())
            }
        });
        assert_eq!(outcome, Outcome::Ready);
        // The window that counts starts after the flap (at 1.5 s or at most one
        // interval later) and lasts 2 s: the last look is at its end.
        let last = *times[0].last().unwrap();
        assert!(last >= ms(3500) && last <= ms(3750), "{last:?}");
        // Without the flap, the first window would have done.
        let (_, times) = simulate(1, &s, start, |_, _, _| Ok(()));
        assert_eq!(*times[0].last().unwrap(), ms(2000));
    }

    #[test]
    fn ticks_come_every_period_and_skip_what_a_stall_missed() {
        let start = Instant::now();
        let mut s = settings(None);
        s.deadline = Some(start + ms(1050));
        let mut schedule = Schedule::new(0, &s, Some(ms(100)), start, || 1);
        let mut ticks = Vec::new();
        loop {
            let now = schedule.next_wake().unwrap();
            match schedule.take_due(now) {
                Some(Due::Tick) => ticks.push(now - start),
                Some(Due::Deadline) => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(ticks.len(), 10, "{ticks:?}");
        for (n, t) in ticks.iter().enumerate() {
            let due = ms(100 * (n as u64 + 1));
            assert!(*t >= due && *t <= due + ms(13), "{ticks:?}");
        }
        // A stall of 350 ms: the ticks it missed are not caught up.
        let mut schedule = Schedule::new(0, &s, Some(ms(100)), start, || 1);
        assert_eq!(schedule.take_due(start + ms(450)), Some(Due::Tick));
        assert_eq!(schedule.take_due(start + ms(450)), None);
        assert_eq!(schedule.next_wake(), Some(start + ms(500)));
    }

    #[test]
    fn a_reported_change_ends_a_pause_or_the_next_one() {
        let start = Instant::now();
        let s = settings(None);
        let mut schedule = Schedule::new(2, &s, None, start, || 1);
        assert_eq!(schedule.take_due(start), Some(Due::Attempt(0)));
        assert_eq!(schedule.take_due(start), Some(Due::Attempt(1)));
        schedule.record(0, refused(), start);
        assert!(schedule.listens(0));
        let later = start + ms(1);
        assert!(schedule.next_wake().unwrap() > later);
        schedule.changed(0, later);
        assert_eq!(schedule.take_due(later), Some(Due::Attempt(0)));
        // During an attempt: the pause after it ends at once.
        schedule.changed(1, later);
        schedule.record(1, refused(), later);
        assert_eq!(schedule.take_due(later), Some(Due::Attempt(1)));
        // A --stable look is not a pause a change ends.
        let mut s = settings(None);
        s.stable = Duration::from_secs(1);
        let mut schedule = Schedule::new(1, &s, None, start, || 1);
        schedule.take_due(start);
        schedule.record(0, Ok(()), start);
        assert!(!schedule.listens(0));
        schedule.changed(0, later);
        assert_eq!(schedule.take_due(later), None);
    }

    #[test]
    fn many_targets_share_wake_ups_without_leaving_the_backoff() {
        let start = Instant::now();
        let s = settings(Some(Duration::from_secs(5)));
        let (outcome, times) = simulate(50, &s, start, |_, _, _| refused());
        assert_eq!(outcome, Outcome::Deadline);
        let mut moments = std::collections::BTreeSet::new();
        for attempts in &times {
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
        // The same seed for all (jitter apart by target): shared wake-ups make
        // fewer moments than attempts.
        assert!(
            moments.len() < attempts * 3 / 4,
            "{} moments for {attempts} attempts",
            moments.len()
        );
    }
}
