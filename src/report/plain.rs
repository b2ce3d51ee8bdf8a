//! The plain voice: whenready's own lines for logs and pipes, and `-q`.

use super::{plural, say, Reporter, Voice};
use crate::duration::show;
use std::ffi::OsStr;
use std::sync::Mutex;
use std::time::Duration;

/// How often the plain voice repeats what it is still waiting for.
pub const STILL_WAITING_EVERY: Duration = Duration::from_secs(5);

/// How early a tick may come and still be the one a periodic line is due at.
const TICK_SLACK: Duration = Duration::from_millis(100);

/// whenready's own plain lines (logs, pipes); `quiet` keeps only the final reason of
/// a failure. Besides a line per readiness and per change of reason, it says what it
/// is still waiting for every [`STILL_WAITING_EVERY`], so a long wait is never silent.
pub struct Plain {
    quiet: bool,
    /// When the last "still waiting" line was due.
    last_periodic: Mutex<Duration>,
}

impl Plain {
    /// The plain voice; `quiet` for `-q`.
    pub fn new(quiet: bool) -> Plain {
        Plain {
            quiet,
            last_periodic: Mutex::new(Duration::ZERO),
        }
    }

    fn line(&self, text: &str) {
        say(&format!("whenready: {text}"));
    }

    /// A headline made from the number of unready targets, then one line each.
    fn summary(&self, r: &Reporter, headline: impl FnOnce(usize) -> String) {
        let unready = r.unready();
        self.line(&headline(unready.len()));
        for (i, reason, attempts) in unready {
            self.line(&format!(
                "  {}: {reason} ({})",
                r.names()[i],
                plural(attempts, "attempt")
            ));
        }
    }
}

impl Voice for Plain {
    fn begin(&self, r: &Reporter) {
        if !self.quiet && !r.once() && !r.names().is_empty() {
            let limit = r.timeout().map_or("without a deadline".to_string(), |t| {
                format!("up to {}", show(t))
            });
            self.line(&format!("waiting {limit} for {}", r.names().join(", ")));
        }
    }

    fn not_ready(&self, r: &Reporter, i: usize, reason: &str, _permanent: bool, last: bool) {
        if !self.quiet && !last {
            self.line(&format!("{} not {}: {reason}", r.names()[i], r.goal()));
        }
    }

    fn tick_every(&self) -> Option<Duration> {
        (!self.quiet).then_some(STILL_WAITING_EVERY)
    }

    fn tick(&self, r: &Reporter) {
        if self.quiet {
            return;
        }
        let now = r.elapsed();
        {
            let mut last = self.last_periodic.lock().unwrap_or_else(|p| p.into_inner());
            // Ticks come every STILL_WAITING_EVERY (or every 100 ms from the live
            // view); one that comes a little early by the run's clock still counts.
            if now + TICK_SLACK < *last + STILL_WAITING_EVERY {
                return;
            }
            *last = now;
        }
        let unready = r.unready();
        if unready.is_empty() {
            return;
        }
        let list: Vec<String> = unready
            .iter()
            .map(|(i, reason, _)| format!("{} ({reason})", r.names()[*i]))
            .collect();
        self.line(&format!(
            "still waiting after {} for {}: {}",
            show(now),
            plural(unready.len() as u64, "target"),
            list.join(", ")
        ));
    }

    fn ready(&self, r: &Reporter, i: usize) {
        if !self.quiet {
            let after = r.ready_after(i).unwrap_or_default();
            // Gone: say how it shows (refused, no answer), which the operator checks.
            let how = match r.last_reason(i).filter(|_| r.reverse()) {
                Some(reason) => format!(": {reason}"),
                None => String::new(),
            };
            self.line(&format!(
                "{} {} after {} ({}){how}",
                r.names()[i],
                r.goal(),
                show(after),
                plural(r.attempts(i), "attempt")
            ));
        }
    }

    fn deadline(&self, r: &Reporter) {
        let t = show(r.timeout().unwrap_or_default());
        let total = r.names().len();
        self.summary(r, |n| {
            format!("timed out after {t}; {n} of {total} not {}:", r.goal())
        });
    }

    fn once_failed(&self, r: &Reporter) {
        let total = r.names().len();
        self.summary(r, |n| format!("{n} of {total} not {}:", r.goal()));
    }

    fn permanent(&self, r: &Reporter, i: usize) {
        let reason = r.last_reason(i).unwrap_or_default();
        self.line(&format!(
            "{} failed permanently: {reason} (not retrying; --retry-all would keep waiting)",
            r.names()[i]
        ));
    }

    fn signal(&self, r: &Reporter, name: &str) {
        let waiting: Vec<String> = r
            .unready()
            .into_iter()
            .map(|(i, _, _)| r.names()[i].clone())
            .collect();
        if waiting.is_empty() {
            self.line(&format!(
                "interrupted by {name} after every target was {}; the command was not started",
                r.goal()
            ));
        } else {
            self.line(&format!(
                "interrupted by {name} while waiting for {}",
                waiting.join(", ")
            ));
        }
    }

    fn done(&self, r: &Reporter, program: Option<&OsStr>) {
        if self.quiet {
            return;
        }
        let n = r.names().len();
        let elapsed = show(r.elapsed());
        match program {
            Some(p) if n > 0 => self.line(&format!(
                "{} {} after {elapsed}; starting {}",
                plural(n as u64, "target"),
                r.goal(),
                p.to_string_lossy()
            )),
            None if n > 1 => self.line(&format!("all {n} targets {} after {elapsed}", r.goal())),
            _ => {}
        }
    }
}
