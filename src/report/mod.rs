//! What whenready says, always on stderr (stdout belongs to COMMAND).
//!
//! The [`Reporter`] keeps each target's state (attempts, last reason, when it became
//! ready) and hands every event to a [`Voice`], which decides what to print. The
//! voices, one file each: [`plain`] lines (and `-q`), [`json`] events, the [`live`]
//! view on a terminal, and the messages of a tool whenready stands in for (see
//! [`crate::compat`]). Voices only ever see target names that are already masked, and
//! reasons made safe where they enter ([`safe_reason`]): a reason may quote a peer,
//! so it is masked ([`crate::secret`]), kept to one line and capped ([`crate::text`])
//! before the reporter stores it or any voice, the termination log or a summary
//! sees it.

pub mod json;
pub mod live;
pub mod plain;

pub use json::Json;
pub use live::Live;
pub use plain::Plain;

use crate::duration::show;
pub use crate::text::{clean, clean_line};
use std::borrow::Cow;
use std::ffi::OsStr;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Default, Clone)]
struct State {
    attempts: u64,
    reason: Option<String>,
    ready_after: Option<Duration>,
    /// When the attempt under way started, if one is.
    in_flight: Option<Instant>,
    /// Requests sent to the target's server so far, for kinds that count them.
    requests: Option<u64>,
}

/// Renders the events of a run. Every method has a silent default.
pub trait Voice: Send + Sync {
    /// Waiting starts.
    fn begin(&self, _r: &Reporter) {}
    /// Target `i` failed an attempt with a new reason (`last`: it will not be retried).
    fn not_ready(&self, _r: &Reporter, _i: usize, _reason: &str, _permanent: bool, _last: bool) {}
    /// Target `i` reached the goal ([`Reporter::goal`]).
    fn ready(&self, _r: &Reporter, _i: usize) {}
    /// The deadline passed.
    fn deadline(&self, _r: &Reporter) {}
    /// `--once` found targets not ready.
    fn once_failed(&self, _r: &Reporter) {}
    /// Target `i` failed permanently.
    fn permanent(&self, _r: &Reporter, _i: usize) {}
    /// A signal (named) ended the wait.
    fn signal(&self, _r: &Reporter, _name: &str) {}
    /// Called every [`Voice::tick_every`] while waiting (live redraws, periodic lines).
    fn tick(&self, _r: &Reporter) {}
    /// How often the voice wants [`Voice::tick`]; `None` (the default) for never.
    /// A voice that prints only on events asks for none, so that waiting wakes
    /// whenready for the attempts alone.
    fn tick_every(&self) -> Option<Duration> {
        None
    }
    /// A deliberate pause before the first probe or before exec (`before`: which).
    fn pause(&self, _r: &Reporter, _d: Duration, _before: bool) {}
    /// Everything is ready; `program` is about to replace whenready (if any).
    fn done(&self, _r: &Reporter, _program: Option<&OsStr>) {}
}

/// Keeps per-target state and passes events to the voice.
pub struct Reporter {
    names: Vec<String>,
    voice: Box<dyn Voice>,
    start: Instant,
    timeout: Option<Duration>,
    once: bool,
    reverse: bool,
    state: Mutex<Vec<State>>,
}

impl Reporter {
    /// A reporter for targets with these (masked) names.
    pub fn new(
        names: Vec<String>,
        voice: Box<dyn Voice>,
        timeout: Option<Duration>,
        once: bool,
    ) -> Self {
        let state = Mutex::new(vec![State::default(); names.len()]);
        Reporter {
            names,
            voice,
            start: Instant::now(),
            timeout,
            once,
            reverse: false,
            state,
        }
    }

    /// The same reporter for a `--reverse` run, whose goal is "gone".
    pub fn reversed(mut self, reverse: bool) -> Self {
        self.reverse = reverse;
        self
    }

    /// Whether this is a `--reverse` run.
    pub fn reverse(&self) -> bool {
        self.reverse
    }

    /// What the run waits for each target to be: `ready`, or `gone` with `--reverse`.
    pub fn goal(&self) -> &'static str {
        if self.reverse {
            "gone"
        } else {
            "ready"
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<State>) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// The masked names of the targets.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The deadline of the run, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether this is a `--once` run.
    pub fn once(&self) -> bool {
        self.once
    }

    /// Time since the reporter was made (the start of the run).
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Attempts made at target `i` so far.
    pub fn attempts(&self, i: usize) -> u64 {
        self.with(|s| s[i].attempts)
    }

    /// The requests target `i` has sent its server so far, where its kind counts
    /// them (a Kubernetes watch lives across attempts).
    pub fn requests_sent(&self, i: usize) -> Option<u64> {
        self.with(|s| s[i].requests)
    }

    /// Target `i` has sent `n` requests in all so far (reported after an attempt).
    pub fn requests(&self, i: usize, n: u64) {
        self.with(|s| s[i].requests = Some(n));
    }

    /// The last reason target `i` was not ready.
    pub fn last_reason(&self, i: usize) -> Option<String> {
        self.with(|s| s[i].reason.clone())
    }

    /// When target `i` reached the goal (ready, or gone), if it did.
    pub fn ready_after(&self, i: usize) -> Option<Duration> {
        self.with(|s| s[i].ready_after)
    }

    /// Unready targets with their last reason and attempt count. An attempt cut
    /// short by the end of the wait says so: that is the freshest news.
    pub fn unready(&self) -> Vec<(usize, String, u64)> {
        self.with(|s| {
            s.iter()
                .enumerate()
                .filter(|(_, st)| st.ready_after.is_none())
                .map(|(i, st)| {
                    let hung = st
                        .in_flight
                        .map(|t| t.elapsed())
                        .filter(|d| *d >= Duration::from_millis(50));
                    let reason = match (hung, &st.reason) {
                        (Some(d), _) => format!("no answer within {}", show(d)),
                        (None, Some(r)) => r.clone(),
                        (None, None) => "no answer yet".into(),
                    };
                    (i, reason, st.attempts)
                })
                .collect()
        })
    }

    /// Waiting starts.
    pub fn begin(&self) {
        self.voice.begin(self);
    }

    /// An attempt at target `i` starts.
    pub fn attempt(&self, i: usize) {
        self.with(|s| {
            s[i].attempts += 1;
            s[i].in_flight = Some(Instant::now());
        });
    }

    /// An attempt at target `i` failed. The voice hears of it only when the reason
    /// changed or the target is given up, so a flapping target cannot flood logs.
    /// The reason is made safe first ([`safe_reason`]).
    pub fn not_ready(&self, i: usize, e: &crate::probe::ProbeError, last: bool) {
        let reason = safe_reason(&e.reason);
        let changed = self.with(|s| {
            s[i].in_flight = None;
            let changed = s[i].reason.as_deref() != Some(&*reason);
            if changed {
                s[i].reason = Some(String::from(&*reason));
            }
            changed
        });
        if changed || last {
            self.voice
                .not_ready(self, i, &reason, e.is_permanent(), last);
        }
    }

    /// Target `i` reached the goal: ready, or gone (`why`: the failure that shows it,
    /// kept as its last reason once made safe).
    pub fn ready(&self, i: usize, why: Option<String>) {
        let elapsed = self.start.elapsed();
        let why = why.map(|w| safe_reason(&w).into_owned());
        self.with(|s| {
            s[i].ready_after = Some(elapsed);
            s[i].in_flight = None;
            if why.is_some() {
                s[i].reason = why;
            }
        });
        self.voice.ready(self, i);
    }

    /// The deadline passed.
    pub fn deadline(&self) {
        self.voice.deadline(self);
    }

    /// `--once` found targets not ready.
    pub fn once_failed(&self) {
        self.voice.once_failed(self);
    }

    /// Target `i` failed permanently.
    pub fn permanent(&self, i: usize) {
        self.voice.permanent(self, i);
    }

    /// A signal ended the wait.
    pub fn signal(&self, name: &str) {
        self.voice.signal(self, name);
    }

    /// Time passes (called every [`Reporter::tick_every`] while waiting).
    pub fn tick(&self) {
        self.voice.tick(self);
    }

    /// How often the voice wants to hear that time passes, if ever.
    pub fn tick_every(&self) -> Option<Duration> {
        self.voice.tick_every()
    }

    /// A deliberate pause before the first probe or before exec.
    pub fn pause(&self, d: Duration, before: bool) {
        self.voice.pause(self, d, before);
    }

    /// Everything is ready; `program` is about to replace whenready (if any).
    pub fn done(&self, program: Option<&OsStr>) {
        self.voice.done(self, program);
    }
}

/// Writes one line to stderr. Write errors (stderr closed) must never stop or crash
/// the wait, so they are ignored.
pub fn say(text: &str) {
    // One write per line: stderr is unbuffered, and `writeln!` would write the
    // newline apart, where another process's line can come between.
    let mut line = clean(text).into_owned();
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A reason as every voice may show it: the registered secrets masked
/// ([`crate::secret::mask`]), then its control characters, newlines included,
/// escaped ([`clean_line`]), then cut to [`crate::text::REASON_MAX`] bytes with a
/// marker ([`crate::text::cap`]). Masking comes first, so that neither escaping nor
/// the cut can leave a piece of a secret unrecognised.
pub fn safe_reason(reason: &str) -> Cow<'_, str> {
    let masked = crate::secret::mask(reason);
    let line = match clean_line(&masked) {
        Cow::Borrowed(_) => masked,
        Cow::Owned(escaped) => Cow::Owned(escaped),
    };
    crate::text::cap(line, crate::text::REASON_MAX)
}

/// `1 attempt`, `2 attempts`.
pub(crate) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Says nothing (the unit tests of the wait loop).
#[cfg(test)]
pub struct Silent;

#[cfg(test)]
impl Voice for Silent {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeError;
    use std::sync::Arc;

    /// Records the reasons a voice is given.
    #[derive(Default, Clone)]
    struct Heard(Arc<Mutex<Vec<String>>>);

    impl Voice for Heard {
        fn not_ready(&self, _r: &Reporter, _i: usize, reason: &str, _p: bool, _l: bool) {
            self.0.lock().unwrap().push(reason.to_string());
        }
    }

    #[test]
    fn reasons_are_made_safe_where_they_enter() {
        crate::secret::register("Rp3-reporter-secret");
        let heard = Heard::default();
        let r = Reporter::new(vec!["db:1".into()], Box::new(heard.clone()), None, false);
        let hostile = format!(
            "nope Rp3-reporter-secret\nwhenready: db ready\r\x1b[2J{}",
            "A".repeat(60_000)
        );
        r.attempt(0);
        r.not_ready(0, &ProbeError::transient(hostile.clone()), false);
        let stored = r.last_reason(0).unwrap();
        let (_, summary, _) = r.unready().pop().unwrap();
        let voice = heard.0.lock().unwrap()[0].clone();
        for shown in [&stored, &summary, &voice] {
            assert!(shown.len() <= crate::text::REASON_MAX, "{}", shown.len());
            assert!(!shown.chars().any(char::is_control), "{shown:?}");
            assert!(!shown.contains("Rp3-reporter-secret"), "{shown:?}");
            assert!(
                shown.starts_with("nope ***\\u{a}whenready: db ready\\u{d}\\u{1b}[2JAAA"),
                "{shown:?}"
            );
            assert!(shown.ends_with(" bytes cut)"), "{shown:?}");
        }
        // The same hostile reason again is no change: the voice is not told twice.
        r.not_ready(0, &ProbeError::transient(hostile), false);
        assert_eq!(heard.0.lock().unwrap().len(), 1);
        // A reason that shows a target gone is made safe as well.
        r.ready(
            0,
            Some("gone\nwhenready: forged Rp3-reporter-secret".into()),
        );
        assert_eq!(r.last_reason(0).unwrap(), "gone\\u{a}whenready: forged ***");
    }

    #[test]
    fn a_plain_reason_costs_no_copy() {
        assert!(matches!(
            safe_reason("connection refused"),
            Cow::Borrowed("connection refused")
        ));
    }
}
