//! One target's course through a wait: what an attempt's result means for the goal
//! of the run (ready, or gone with `--reverse`), the `--stable` window, and the
//! backoff's pause before the next attempt. Plain data: time comes in as `now`.

use super::Settings;
use crate::backoff::Backoff;
use crate::duration;
use crate::probe::error::Transience;
use crate::probe::ProbeError;
use tokio::time::Instant;

/// How late a pause may end, as a part of its backoff step's ceiling, when that
/// lets it share a wake-up with another target's: an eighth (31 ms at the default
/// 250 ms interval), and never past the ceiling itself, so every pause stays within
/// the backoff's range [d/2, d].
const PAUSE_SLACK: u32 = 8;

/// What an attempt at a target means, as the reporter is to hear it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    /// The goal is reached and counts (with the reason the target is gone, under
    /// `--reverse`).
    Reached(Option<String>),
    /// The goal holds, not yet for `--stable`'s whole period: the reason to show.
    Holding(ProbeError),
    /// Not there; `last`: no further attempt follows (`--once`, or a permanent
    /// failure without `--retry-all`).
    Missed {
        /// Why.
        error: ProbeError,
        /// This was the target's last attempt.
        last: bool,
    },
}

impl Told {
    /// Whether the target needs no further attempt.
    pub fn is_final(&self) -> bool {
        matches!(self, Told::Reached(_) | Told::Missed { last: true, .. })
    }
}

/// The pause before a target's next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// When it ends.
    pub soft: Instant,
    /// How late it may end, to share a wake-up with another.
    pub hard: Instant,
    /// A change the kernel reports may end it early (every pause but a `--stable`
    /// look).
    pub early: bool,
}

/// One target's course: its backoff (made at its first failure, so that a run
/// settled by one look draws no seed) and since when its goal has held without a
/// break (for `--stable`).
#[derive(Debug, Default)]
pub struct Track {
    backoff: Option<Backoff>,
    since: Option<Instant>,
}

impl Track {
    /// Judges the result of an attempt that ended at `now`: what to tell, and the
    /// pause before the next attempt (`None`: there is none). `seed` draws the
    /// jitter of the backoff, the first time one is needed.
    pub fn after(
        &mut self,
        result: Result<(), ProbeError>,
        settings: &Settings,
        now: Instant,
        seed: impl FnOnce() -> u64,
    ) -> (Told, Option<Pause>) {
        match judge(result, settings) {
            Ok(why) => {
                let held = now - *self.since.get_or_insert(now);
                if held >= settings.stable {
                    return (Told::Reached(why), None);
                }
                // Reached, but not for long enough: look again at the interval, and
                // exactly when the period is over.
                let word = if settings.reverse { "gone" } else { "ready" };
                let e = ProbeError::transient(format!(
                    "{word} for less than {} so far (--stable)",
                    duration::show(settings.stable)
                ));
                let until = now + settings.interval.min(settings.stable - held);
                let pause = Pause {
                    soft: until,
                    hard: until,
                    early: false,
                };
                (Told::Holding(e), Some(pause))
            }
            Err(error) => {
                self.since = None;
                let last = settings.once || (error.is_permanent() && !settings.retry_all);
                if last {
                    return (Told::Missed { error, last }, None);
                }
                // Due after the backoff's pause; a little later when another target's
                // pause ends then, within the backoff's step.
                let backoff = self
                    .backoff
                    .get_or_insert_with(|| Backoff::new(settings.interval, seed()));
                let ceiling = backoff.ceiling();
                let pause = backoff.next().unwrap_or(ceiling);
                let slack = (ceiling / PAUSE_SLACK).min(ceiling.saturating_sub(pause));
                let pause = Pause {
                    soft: now + pause,
                    hard: now + pause + slack,
                    early: true,
                };
                (Told::Missed { error, last }, Some(pause))
            }
        }
    }
}

/// Judges an attempt's result against the goal: `Ok` when it is reached (with, under
/// `--reverse`, the reason the target is gone). With `--reverse`, a target is gone
/// when its probe fails transiently (refused, no answer, name gone, not ready any
/// more), but not when the failure leaves that unsettled (a Kubernetes object
/// still there, or its API server silent); a permanent failure (a rejected
/// password) is not "gone" but a wrong target, and ends the run with exit 3
/// unless `--retry-all`.
fn judge(
    result: Result<(), ProbeError>,
    settings: &Settings,
) -> Result<Option<String>, ProbeError> {
    match (settings.reverse, result) {
        (false, Ok(())) => Ok(None),
        (false, Err(e)) => Err(e),
        (true, Ok(())) => Err(ProbeError::transient("still answers ready")),
        (true, Err(e)) if e.is_permanent() && !settings.retry_all => Err(e),
        (true, Err(e)) if e.transience == Transience::Unsettled => Err(e),
        (true, Err(e)) => Ok(Some(e.reason.into_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wait::tests::settings;
    use std::time::Duration;

    fn length(pause: &Pause, now: Instant) -> Duration {
        pause.soft - now
    }

    fn refused() -> Result<(), ProbeError> {
        Err(ProbeError::transient("connection refused"))
    }

    #[test]
    fn failures_back_off_within_each_step_up_to_the_interval() {
        let s = settings(None);
        let mut track = Track::default();
        let mut now = Instant::now();
        let mut d = crate::backoff::FIRST;
        for _ in 0..12 {
            let (told, pause) = track.after(refused(), &s, now, || 7);
            assert!(!told.is_final());
            let pause = pause.unwrap();
            let len = length(&pause, now);
            assert!(
                len >= d / 2 && len <= d,
                "{len:?} outside [{:?}, {d:?}]",
                d / 2
            );
            assert!(pause.hard >= pause.soft && pause.hard - now <= d);
            assert!(pause.early);
            now = pause.soft;
            d = (d * 2).min(s.interval);
        }
    }

    #[test]
    fn the_seed_is_drawn_once_and_only_for_a_failure() {
        let s = settings(None);
        let mut track = Track::default();
        let (told, pause) = track.after(Ok(()), &s, Instant::now(), || panic!("drawn"));
        assert_eq!((told, pause), (Told::Reached(None), None));
        let mut draws = 0;
        for _ in 0..3 {
            track.after(refused(), &s, Instant::now(), || {
                draws += 1;
                1
            });
        }
        assert_eq!(draws, 1);
    }

    #[test]
    fn once_and_permanent_failures_are_the_last_attempt() {
        let mut s = settings(None);
        let wrong = || Err(ProbeError::permanent("password rejected"));
        let (told, pause) = Track::default().after(wrong(), &s, Instant::now(), || 1);
        assert!(told.is_final() && pause.is_none(), "{told:?}");
        s.retry_all = true;
        let (told, pause) = Track::default().after(wrong(), &s, Instant::now(), || 1);
        assert!(!told.is_final() && pause.is_some(), "{told:?}");
        s.retry_all = false;
        s.once = true;
        let (told, _) = Track::default().after(refused(), &s, Instant::now(), || 1);
        assert!(matches!(told, Told::Missed { last: true, .. }), "{told:?}");
    }

    #[test]
    fn reverse_counts_a_transient_failure_as_gone_and_an_answer_or_an_unsettled_failure_as_not() {
        let mut s = settings(None);
        s.reverse = true;
        let (told, _) = Track::default().after(refused(), &s, Instant::now(), || 1);
        assert_eq!(told, Told::Reached(Some("connection refused".into())));
        let (told, _) = Track::default().after(Ok(()), &s, Instant::now(), || 1);
        assert!(
            matches!(&told, Told::Missed { error, last: false } if error.reason == "still answers ready"),
            "{told:?}"
        );
        // A failure that leaves it unsettled (an object still there) is not gone.
        let there = Err(ProbeError::unsettled("still there"));
        let (told, _) = Track::default().after(there, &s, Instant::now(), || 1);
        assert!(
            matches!(&told, Told::Missed { error, last: false } if error.reason == "still there"),
            "{told:?}"
        );
        let wrong = Err(ProbeError::permanent("password rejected"));
        let (told, _) = Track::default().after(wrong, &s, Instant::now(), || 1);
        assert!(
            told.is_final() && !matches!(told, Told::Reached(_)),
            "{told:?}"
        );
    }

    #[test]
    fn stable_wants_an_unbroken_window_and_looks_again_when_it_ends() {
        let mut s = settings(None);
        s.stable = Duration::from_millis(600);
        let start = Instant::now();
        let mut track = Track::default();
        let at = |ms| start + Duration::from_millis(ms);
        // Held from 0: looked at again every interval (250 ms), then exactly when
        // the window ends.
        let (told, pause) = track.after(Ok(()), &s, at(0), || 1);
        assert!(
            matches!(&told, Told::Holding(e) if e.reason.contains("ready for less than 600ms"))
        );
        assert_eq!(pause.unwrap().soft, at(250));
        assert!(!pause.unwrap().early);
        let (_, pause) = track.after(Ok(()), &s, at(500), || 1);
        assert_eq!(pause.unwrap().soft, at(600));
        // A failure breaks the window: it starts again at the next answer.
        track.after(refused(), &s, at(550), || 1);
        let (told, _) = track.after(Ok(()), &s, at(700), || 1);
        assert!(matches!(told, Told::Holding(_)));
        let (told, pause) = track.after(Ok(()), &s, at(1300), || 1);
        assert_eq!((told, pause), (Told::Reached(None), None));
    }
}
