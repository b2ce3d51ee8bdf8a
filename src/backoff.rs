//! Pauses between attempts at one target: exponential from [`FIRST`], with jitter,
//! capped at `--interval`. A pure iterator with its own seed, so tests need no clock.

use std::time::Duration;

/// The pause after the first failed attempt, before jitter.
pub const FIRST: Duration = Duration::from_millis(20);

/// Exponential backoff with "equal jitter": each pause is drawn uniformly from
/// [d/2, d], where d doubles from [`FIRST`] up to the cap. The lower bound keeps
/// targets from hammering a service; the jitter keeps many waiters (replicas
/// started together) from probing in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    /// A backoff capped at `cap`, with jitter drawn from `seed`.
    pub fn new(cap: Duration, seed: u64) -> Self {
        Backoff {
            next: FIRST.min(cap),
            cap,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The ceiling d of the step that [`Iterator::next`] draws from next: that
    /// pause will lie within [d/2, d].
    pub fn ceiling(&self) -> Duration {
        self.next
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let d = self.next;
        self.next = (d * 2).min(self.cap);
        let nanos = d.as_nanos() as u64;
        let jittered = nanos / 2 + self.rng.u64(0..=nanos / 2);
        Some(Duration::from_nanos(jittered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_then_stays_under_the_cap() {
        let cap = Duration::from_millis(250);
        let pauses: Vec<_> = Backoff::new(cap, 7).take(50).collect();
        assert!(pauses[0] >= Duration::from_millis(10) && pauses[0] <= FIRST);
        assert!(pauses[1] >= Duration::from_millis(20) && pauses[1] <= Duration::from_millis(40));
        for p in &pauses {
            assert!(*p <= cap, "{p:?} over the cap");
        }
        for p in &pauses[5..] {
            assert!(*p >= cap / 2, "{p:?} under half the cap once saturated");
        }
    }

    #[test]
    fn jitter_differs_between_seeds() {
        let cap = Duration::from_secs(1);
        let a: Vec<_> = Backoff::new(cap, 1).take(10).collect();
        let b: Vec<_> = Backoff::new(cap, 2).take(10).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn each_pause_lies_within_the_ceiling_announced_for_it() {
        let mut backoff = Backoff::new(Duration::from_millis(250), 11);
        for _ in 0..20 {
            let d = backoff.ceiling();
            let p = backoff.next().unwrap();
            assert!(p >= d / 2 && p <= d, "{p:?} outside [{:?}, {d:?}]", d / 2);
        }
        assert_eq!(backoff.ceiling(), Duration::from_millis(250));
    }

    #[test]
    fn a_cap_below_the_first_pause_is_respected() {
        let cap = Duration::from_millis(5);
        assert!(Backoff::new(cap, 3).take(5).all(|p| p <= cap));
        assert!(Backoff::new(Duration::ZERO, 3).take(3).all(|p| p.is_zero()));
    }
}
