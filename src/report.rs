//! What whenready says, always on stderr (stdout belongs to COMMAND).
//!
//! The reporter keeps each target's state (attempts, last reason, when it became
//! ready) and renders events in one of the output modes. It only ever sees target
//! names that are already masked, and probe reasons, which carry no secrets.

use crate::duration::show;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How to render events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A line per readiness and per change of reason, a summary on failure.
    Normal,
    /// Only the final reason of a failure.
    Quiet,
    /// One JSON object per line for every event.
    Json,
    /// Nothing at all (the unit tests of the wait loop).
    #[cfg_attr(not(test), allow(dead_code))]
    Silent,
}

#[derive(Debug, Default, Clone)]
struct State {
    attempts: u64,
    reason: Option<String>,
    ready_after: Option<Duration>,
    /// When the attempt under way started, if one is.
    in_flight: Option<Instant>,
}

/// Renders progress and keeps per-target state for the final summary.
pub struct Reporter {
    names: Vec<String>,
    mode: Mode,
    start: Instant,
    state: Mutex<Vec<State>>,
}

impl Reporter {
    /// A reporter for targets with these (masked) names.
    pub fn new(names: Vec<String>, mode: Mode) -> Self {
        let state = Mutex::new(vec![State::default(); names.len()]);
        Reporter { names, mode, start: Instant::now(), state }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<State>) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    fn line(&self, text: &str) {
        // Write errors (stderr closed) must never stop or crash the wait.
        let _ = writeln!(std::io::stderr().lock(), "whenready: {text}");
    }

    fn json(&self, event: &str, fields: &[(&str, Json)]) {
        let mut out = format!("{{\"event\":\"{event}\",\"elapsed_ms\":{}", self.start.elapsed().as_millis());
        for (k, v) in fields {
            out.push_str(&format!(",\"{k}\":{}", v.render()));
        }
        out.push('}');
        let _ = writeln!(std::io::stderr().lock(), "{out}");
    }

    /// Waiting starts.
    pub fn begin(&self, timeout: Option<Duration>, once: bool) {
        match self.mode {
            Mode::Normal if !once && !self.names.is_empty() => {
                let limit = timeout.map_or("without a deadline".to_string(), |t| format!("up to {}", show(t)));
                self.line(&format!("waiting {limit} for {}", self.names.join(", ")));
            }
            Mode::Json => self.json(
                "start",
                &[
                    ("targets", Json::List(self.names.clone())),
                    ("timeout_ms", timeout.map_or(Json::Null, |t| Json::Num(t.as_millis() as u64))),
                    ("once", Json::Bool(once)),
                ],
            ),
            _ => {}
        }
    }

    /// An attempt at target `i` starts.
    pub fn attempt(&self, i: usize) {
        self.with(|s| {
            s[i].attempts += 1;
            s[i].in_flight = Some(Instant::now());
        });
    }

    /// An attempt at target `i` failed. Prints only when the reason changed (or when
    /// this failure ends the target's watch), so a flapping target cannot flood logs.
    pub fn not_ready(&self, i: usize, e: &crate::probe::ProbeError, last: bool) {
        let changed = self.with(|s| {
            s[i].in_flight = None;
            let changed = s[i].reason.as_deref() != Some(e.reason.as_str());
            s[i].reason = Some(e.reason.clone());
            changed
        });
        if !changed && !last {
            return;
        }
        match self.mode {
            Mode::Normal if changed && !last => self.line(&format!("{} not ready: {}", self.names[i], e.reason)),
            Mode::Json if changed => self.json(
                "not_ready",
                &[
                    ("target", Json::Str(self.names[i].clone())),
                    ("reason", Json::Str(e.reason.clone())),
                    ("permanent", Json::Bool(e.is_permanent())),
                    ("attempts", Json::Num(self.attempts(i))),
                ],
            ),
            _ => {}
        }
    }

    /// Target `i` is ready.
    pub fn ready(&self, i: usize) {
        let elapsed = self.start.elapsed();
        let attempts = self.with(|s| {
            s[i].ready_after = Some(elapsed);
            s[i].in_flight = None;
            s[i].attempts
        });
        match self.mode {
            Mode::Normal => self.line(&format!("{} ready after {} ({})", self.names[i], show(elapsed), plural(attempts, "attempt"))),
            Mode::Json => self.json(
                "ready",
                &[("target", Json::Str(self.names[i].clone())), ("attempts", Json::Num(attempts))],
            ),
            _ => {}
        }
    }

    /// Attempts made at target `i` so far.
    pub fn attempts(&self, i: usize) -> u64 {
        self.with(|s| s[i].attempts)
    }

    /// The last reason target `i` was not ready.
    pub fn last_reason(&self, i: usize) -> Option<String> {
        self.with(|s| s[i].reason.clone())
    }

    /// Unready targets with their last reason and attempt count.
    fn unready(&self) -> Vec<(usize, String, u64)> {
        self.with(|s| {
            s.iter()
                .enumerate()
                .filter(|(_, st)| st.ready_after.is_none())
                .map(|(i, st)| {
                    // An attempt cut short by the end of the wait says so: that is
                    // the freshest news about the target.
                    let hung = st.in_flight.map(|t| t.elapsed()).filter(|d| *d >= Duration::from_millis(50));
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

    fn summary(&self, event: &str, headline: &str) {
        let unready = self.unready();
        match self.mode {
            Mode::Normal | Mode::Quiet => {
                self.line(headline);
                for (i, reason, attempts) in &unready {
                    self.line(&format!("  {}: {reason} ({})", self.names[*i], plural(*attempts, "attempt")));
                }
            }
            Mode::Json => {
                for (i, reason, attempts) in &unready {
                    self.json(
                        event,
                        &[
                            ("target", Json::Str(self.names[*i].clone())),
                            ("reason", Json::Str(reason.clone())),
                            ("attempts", Json::Num(*attempts)),
                        ],
                    );
                }
            }
            Mode::Silent => {}
        }
    }

    /// The deadline passed.
    pub fn deadline(&self, timeout: Duration) {
        let n = self.unready().len();
        self.summary("timeout", &format!("timed out after {}; {} of {} not ready:", show(timeout), n, self.names.len()));
    }

    /// `--once` found targets not ready.
    pub fn once_failed(&self) {
        let n = self.unready().len();
        self.summary("not_ready_once", &format!("{} of {} not ready:", n, self.names.len()));
    }

    /// Target `i` failed permanently.
    pub fn permanent(&self, i: usize) {
        let reason = self.last_reason(i).unwrap_or_default();
        match self.mode {
            Mode::Normal | Mode::Quiet => self.line(&format!(
                "{} failed permanently: {reason} (not retrying; --retry-all would keep waiting)",
                self.names[i]
            )),
            Mode::Json => self.json(
                "permanent",
                &[("target", Json::Str(self.names[i].clone())), ("reason", Json::Str(reason))],
            ),
            Mode::Silent => {}
        }
    }

    /// A signal ended the wait.
    pub fn signal(&self, name: &str) {
        let waiting: Vec<String> = self.unready().into_iter().map(|(i, _, _)| self.names[i].clone()).collect();
        match self.mode {
            Mode::Normal | Mode::Quiet => {
                self.line(&format!("interrupted by {name} while waiting for {}", waiting.join(", ")))
            }
            Mode::Json => self.json("signal", &[("signal", Json::Str(name.into())), ("waiting", Json::List(waiting))]),
            Mode::Silent => {}
        }
    }

    /// Everything is ready; `program` is about to replace whenready (if any).
    pub fn done(&self, program: Option<&std::ffi::OsStr>) {
        let elapsed = show(self.start.elapsed());
        let n = self.names.len();
        match (self.mode, program) {
            (Mode::Normal, Some(p)) if n > 0 => self.line(&format!("{} ready after {elapsed}; starting {}", plural(n as u64, "target"), p.to_string_lossy())),
            (Mode::Normal, None) if n > 1 => self.line(&format!("all {n} targets ready after {elapsed}")),
            (Mode::Json, p) => self.json(
                if p.is_some() { "exec" } else { "done" },
                &[("command", p.map_or(Json::Null, |p| Json::Str(p.to_string_lossy().into_owned())))],
            ),
            _ => {}
        }
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// A JSON value, just enough for the events.
enum Json {
    Str(String),
    Num(u64),
    Bool(bool),
    List(Vec<String>),
    Null,
}

impl Json {
    fn render(&self) -> String {
        match self {
            Json::Str(s) => quote(s),
            Json::Num(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            Json::List(items) => format!("[{}]", items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(",")),
            Json::Null => "null".into(),
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
    fn json_strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
