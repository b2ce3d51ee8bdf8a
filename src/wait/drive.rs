//! The one loop of a wait, on the single-threaded runtime: it starts the attempts
//! that the [`Schedule`] says are due (at most `max_in_flight` at once, each bounded
//! by the attempt timeout and the deadline), records how each ends, ends pauses
//! early when the kernel reports a change (inotify, for `file://` and `unix://`),
//! tells the voice that time passes, and races all of it against the signals and
//! the deadline, so that a hung attempt can hold whenready past neither.

use super::schedule::{Due, Schedule};
use super::timer::{Clock, Timer};
use super::{tell, Outcome, Settings, Targets};
use crate::duration;
use crate::probe::error::Transience;
use crate::probe::ProbeError;
use crate::report::Reporter;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Drives `schedule` until the run is over, or `signal` resolves (with its number);
/// `clock` times the pauses, ticks and deadline.
pub async fn drive(
    schedule: &mut Schedule,
    targets: &Arc<dyn Targets>,
    settings: &Settings,
    reporter: &Reporter,
    signal: impl Future<Output = i32>,
    clock: Clock,
) -> Outcome {
    if let Some(outcome) = schedule.outcome() {
        return outcome;
    }
    let mut run = Loop {
        schedule,
        targets,
        settings,
        reporter,
        attempts: JoinSet::new(),
        tasks: vec![None; targets.count()],
        words: JoinSet::new(),
        listening: vec![false; targets.count()],
        backlog: VecDeque::new(),
    };
    let mut timer = Timer::new(clock);
    tokio::pin!(signal);
    loop {
        if let Some(outcome) = run.start_due().await {
            return outcome;
        }
        timer.set(run.schedule.next_wake());
        let recorded = tokio::select! {
            biased;
            n = &mut signal => return Outcome::Signal(n),
            Some(joined) = run.attempts.join_next_with_id() => match joined {
                Ok((_, (i, result))) => Some((i, result)),
                // A probe panicked: never expected (and the release build aborts).
                Err(e) => run.tasks.iter().position(|t| *t == Some(e.id())).map(|i| {
                    (i, Err(ProbeError::transient("the attempt failed unexpectedly")))
                }),
            },
            Some(Ok(i)) = run.words.join_next() => {
                run.listening[i] = false;
                run.schedule.changed(i, Instant::now());
                None
            }
            () = timer.fired() => None,
        };
        if let Some((i, result)) = recorded {
            run.tasks[i] = None;
            if let Some(outcome) = run.record(i, result) {
                return outcome;
            }
        }
    }
}

/// The loop's state beside the schedule.
struct Loop<'a> {
    schedule: &'a mut Schedule,
    targets: &'a Arc<dyn Targets>,
    settings: &'a Settings,
    reporter: &'a Reporter,
    /// Attempts under way that did not end within their first poll.
    attempts: JoinSet<(usize, Result<(), ProbeError>)>,
    /// Per target, the task of its attempt under way, if it has one.
    tasks: Vec<Option<tokio::task::Id>>,
    /// The kernel's word on targets in a pause: each resolves with its target.
    words: JoinSet<usize>,
    /// Per target, whether its word is awaited.
    listening: Vec<bool>,
    /// Targets due while every slot for attempts was taken, in turn.
    backlog: VecDeque<usize>,
}

impl Loop<'_> {
    /// Takes what is due now and starts the attempts there are slots for; the
    /// outcome when that ends the run.
    async fn start_due(&mut self) -> Option<Outcome> {
        let now = Instant::now();
        while let Some(due) = self.schedule.take_due(now) {
            match due {
                Due::Deadline => return Some(Outcome::Deadline),
                Due::Tick => self.reporter.tick(),
                Due::Attempt(i) => self.backlog.push_back(i),
            }
        }
        while self.attempts.len() < self.settings.max_in_flight {
            let Some(i) = self.backlog.pop_front() else {
                break;
            };
            if let Some(result) = self.start(i).await {
                if let Some(outcome) = self.record(i, result) {
                    return Some(outcome);
                }
            }
        }
        None
    }

    /// Starts an attempt at target `i`: its result, when it ends within its first
    /// poll (a refused loopback port), or `None` when it goes on as a task of its
    /// own, bounded by the attempt timeout and the deadline.
    async fn start(&mut self, i: usize) -> Option<Result<(), ProbeError>> {
        self.reporter.attempt(i);
        let start = Instant::now();
        let mut attempt = self.targets.probe(i);
        // Many attempts end within their first poll: a timer is set only for one
        // that has to wait.
        let first = std::future::poll_fn(|cx| Poll::Ready(attempt.as_mut().poll(cx))).await;
        if let Poll::Ready(result) = first {
            return Some(result);
        }
        let limit = match self.settings.deadline {
            Some(d) => self
                .settings
                .attempt_timeout
                .min(d.saturating_duration_since(start)),
            None => self.settings.attempt_timeout,
        };
        let silence = if self.targets.silence_is_gone(i) {
            Transience::Transient
        } else {
            Transience::Unsettled
        };
        let task = self.attempts.spawn(async move {
            let result = match tokio::time::timeout_at(start + limit, attempt).await {
                Ok(result) => result,
                Err(_) => Err(ProbeError::new(
                    silence,
                    format!("no answer within {}", duration::show(limit)),
                )),
            };
            (i, result)
        });
        self.tasks[i] = Some(task.id());
        None
    }

    /// Records and reports an attempt's result; the outcome when that ends the run.
    /// A target whose pause a change may end has its word awaited.
    fn record(&mut self, i: usize, result: Result<(), ProbeError>) -> Option<Outcome> {
        let told = self.schedule.record(i, result, Instant::now());
        if let Some(n) = self.targets.requests(i) {
            self.reporter.requests(i, n);
        }
        tell(self.reporter, i, told);
        if self.schedule.listens(i) && !self.listening[i] {
            self.listening[i] = true;
            let word = self.targets.changed(i);
            self.words.spawn(async move {
                word.await;
                i
            });
        }
        self.schedule.outcome()
    }
}
