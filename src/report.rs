//! What whenready says, always on stderr (stdout belongs to COMMAND).
//!
//! The [`Reporter`] keeps each target's state (attempts, last reason, when it became
//! ready) and hands every event to a [`Voice`], which decides what to print: plain
//! lines, quiet, JSON, or the messages of a tool whenready stands in for (see
//! [`crate::compat`]). Voices only ever see target names that are already masked, and
//! probe reasons, which carry no secrets.

use crate::duration::show;
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
}

/// Renders the events of a run. Every method has a silent default.
pub trait Voice: Send + Sync {
    /// Waiting starts.
    fn begin(&self, _r: &Reporter) {}
    /// Target `i` failed an attempt with a new reason (`last`: it will not be retried).
    fn not_ready(&self, _r: &Reporter, _i: usize, _reason: &str, _permanent: bool, _last: bool) {}
    /// Target `i` is ready.
    fn ready(&self, _r: &Reporter, _i: usize) {}
    /// The deadline passed.
    fn deadline(&self, _r: &Reporter) {}
    /// `--once` found targets not ready.
    fn once_failed(&self, _r: &Reporter) {}
    /// Target `i` failed permanently.
    fn permanent(&self, _r: &Reporter, _i: usize) {}
    /// A signal (named) ended the wait.
    fn signal(&self, _r: &Reporter, _name: &str) {}
    /// Called about every 100 ms while waiting (live redraws, periodic lines).
    fn tick(&self, _r: &Reporter) {}
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
            state,
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

    /// The last reason target `i` was not ready.
    pub fn last_reason(&self, i: usize) -> Option<String> {
        self.with(|s| s[i].reason.clone())
    }

    /// When target `i` became ready, if it did.
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
    pub fn not_ready(&self, i: usize, e: &crate::probe::ProbeError, last: bool) {
        let changed = self.with(|s| {
            s[i].in_flight = None;
            let changed = s[i].reason.as_deref() != Some(e.reason.as_str());
            s[i].reason = Some(e.reason.clone());
            changed
        });
        if changed || last {
            self.voice
                .not_ready(self, i, &e.reason, e.is_permanent(), last);
        }
    }

    /// Target `i` is ready.
    pub fn ready(&self, i: usize) {
        let elapsed = self.start.elapsed();
        self.with(|s| {
            s[i].ready_after = Some(elapsed);
            s[i].in_flight = None;
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

    /// Time passes (called about every 100 ms while waiting).
    pub fn tick(&self) {
        self.voice.tick(self);
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
    let _ = writeln!(std::io::stderr().lock(), "{}", clean(text));
}

/// The text with control characters other than newlines escaped (`\u{1b}`), so that
/// input echoed in a message cannot move the cursor or recolour a terminal.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    escape_controls(text, |c| c == '\n')
}

/// The text with every control character escaped, newlines too: for what must stay
/// on one line, such as a row of the live view.
pub fn clean_line(text: &str) -> std::borrow::Cow<'_, str> {
    escape_controls(text, |_| false)
}

fn escape_controls(text: &str, keep: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !keep(c);
    if !text.chars().any(escaped) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if escaped(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// How often the plain voice repeats what it is still waiting for.
pub const STILL_WAITING_EVERY: Duration = Duration::from_secs(5);

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
            self.line(&format!("{} not ready: {reason}", r.names()[i]));
        }
    }

    fn tick(&self, r: &Reporter) {
        if self.quiet {
            return;
        }
        let now = r.elapsed();
        {
            let mut last = self.last_periodic.lock().unwrap_or_else(|p| p.into_inner());
            if now < *last + STILL_WAITING_EVERY {
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
            self.line(&format!(
                "{} ready after {} ({})",
                r.names()[i],
                show(after),
                plural(r.attempts(i), "attempt")
            ));
        }
    }

    fn deadline(&self, r: &Reporter) {
        let t = show(r.timeout().unwrap_or_default());
        let total = r.names().len();
        self.summary(r, |n| {
            format!("timed out after {t}; {n} of {total} not ready:")
        });
    }

    fn once_failed(&self, r: &Reporter) {
        let total = r.names().len();
        self.summary(r, |n| format!("{n} of {total} not ready:"));
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
                "interrupted by {name} after every target was ready; the command was not started"
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
                "{} ready after {elapsed}; starting {}",
                plural(n as u64, "target"),
                p.to_string_lossy()
            )),
            None if n > 1 => self.line(&format!("all {n} targets ready after {elapsed}")),
            _ => {}
        }
    }
}

/// One JSON object per line for every event (`--json`).
pub struct Json;

impl Json {
    fn event(r: &Reporter, event: &str, fields: &[(&str, Value)]) {
        let mut out = format!(
            "{{\"event\":\"{event}\",\"elapsed_ms\":{}",
            r.elapsed().as_millis()
        );
        for (k, v) in fields {
            out.push_str(&format!(",\"{k}\":{}", v.render()));
        }
        out.push('}');
        say(&out);
    }

    fn unready_events(r: &Reporter, event: &str) {
        for (i, reason, attempts) in r.unready() {
            Json::event(
                r,
                event,
                &[
                    ("target", Value::Str(r.names()[i].clone())),
                    ("reason", Value::Str(reason)),
                    ("attempts", Value::Num(attempts)),
                ],
            );
        }
    }
}

impl Voice for Json {
    fn begin(&self, r: &Reporter) {
        Json::event(
            r,
            "start",
            &[
                ("targets", Value::List(r.names().to_vec())),
                (
                    "timeout_ms",
                    r.timeout()
                        .map_or(Value::Null, |t| Value::Num(t.as_millis() as u64)),
                ),
                ("once", Value::Bool(r.once())),
            ],
        );
    }

    fn not_ready(&self, r: &Reporter, i: usize, reason: &str, permanent: bool, _last: bool) {
        Json::event(
            r,
            "not_ready",
            &[
                ("target", Value::Str(r.names()[i].clone())),
                ("reason", Value::Str(reason.into())),
                ("permanent", Value::Bool(permanent)),
                ("attempts", Value::Num(r.attempts(i))),
            ],
        );
    }

    fn ready(&self, r: &Reporter, i: usize) {
        Json::event(
            r,
            "ready",
            &[
                ("target", Value::Str(r.names()[i].clone())),
                ("attempts", Value::Num(r.attempts(i))),
            ],
        );
    }

    fn deadline(&self, r: &Reporter) {
        Json::unready_events(r, "timeout");
    }

    fn once_failed(&self, r: &Reporter) {
        Json::unready_events(r, "not_ready_once");
    }

    fn permanent(&self, r: &Reporter, i: usize) {
        Json::event(
            r,
            "permanent",
            &[
                ("target", Value::Str(r.names()[i].clone())),
                ("reason", Value::Str(r.last_reason(i).unwrap_or_default())),
            ],
        );
    }

    fn signal(&self, r: &Reporter, name: &str) {
        let waiting = r
            .unready()
            .into_iter()
            .map(|(i, _, _)| r.names()[i].clone())
            .collect();
        Json::event(
            r,
            "signal",
            &[
                ("signal", Value::Str(name.into())),
                ("waiting", Value::List(waiting)),
            ],
        );
    }

    fn done(&self, r: &Reporter, program: Option<&OsStr>) {
        let command = program.map_or(Value::Null, |p| {
            Value::Str(p.to_string_lossy().into_owned())
        });
        Json::event(
            r,
            if program.is_some() { "exec" } else { "done" },
            &[("command", command)],
        );
    }
}

/// Says nothing (the unit tests of the wait loop).
#[cfg(test)]
pub struct Silent;

#[cfg(test)]
impl Voice for Silent {}

/// A JSON value, just enough for the events.
enum Value {
    Str(String),
    Num(u64),
    Bool(bool),
    List(Vec<String>),
    Null,
}

impl Value {
    fn render(&self) -> String {
        match self {
            Value::Str(s) => quote(s),
            Value::Num(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::List(items) => format!(
                "[{}]",
                items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(",")
            ),
            Value::Null => "null".into(),
        }
    }
}

/// A JSON string literal (RFC 8259 escaping).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(super::clean("plain\nlines"), "plain\nlines");
        assert_eq!(super::clean("a\u{1b}[31mred"), "a\\u{1b}[31mred");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
