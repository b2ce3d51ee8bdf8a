//! The live view on a terminal: one line per target (state, elapsed time, attempts,
//! last reason), redrawn in place, replaced at the end by a plain summary that stays
//! on screen. Used only when stderr is a terminal (and TERM is not "dumb"); colours
//! unless NO_COLOR is set.

use super::{Plain, Reporter, Voice};
use crate::duration::show;
use crate::text::clean_line;
use std::ffi::OsStr;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// The live view.
pub struct Live {
    color: bool,
    /// How many lines the last drawing left on screen.
    drawn: Mutex<usize>,
    /// The plain voice writes the final lines that stay.
    plain: Plain,
}

/// How often the view is redrawn (the spinner and elapsed times move).
const REDRAW_EVERY: Duration = Duration::from_millis(100);

const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

impl Live {
    /// A live view; `color` false for NO_COLOR.
    pub fn new(color: bool) -> Live {
        Live {
            color,
            drawn: Mutex::new(0),
            plain: Plain::new(false),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Columns and rows of the terminal (80x24 when it cannot be told).
    fn size() -> (usize, usize) {
        terminal_size::terminal_size_of(std::io::stderr())
            .map(|(w, h)| (usize::from(w.0).max(20), usize::from(h.0).max(5)))
            .unwrap_or((80, 24))
    }

    /// The lines of the view: a headline, then one line per target, unready ones
    /// first, as many as fit the terminal's height, each cut to its width.
    fn lines(&self, r: &Reporter) -> Vec<String> {
        let (width, rows_total) = Self::size();
        let names = r.names();
        let name_width = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .min(width / 3);
        let elapsed = r.elapsed();
        let spin = SPINNER[(elapsed.as_millis() / 150) as usize % SPINNER.len()];
        let unready = r.unready();
        let limit = r
            .timeout()
            .map_or(String::new(), |t| format!(" of {}", show(t)));
        let mut lines = vec![format!(
            "whenready: {} of {} {}, {}{limit}",
            names.len() - unready.len(),
            names.len(),
            r.goal(),
            show(elapsed)
        )];
        // Unready targets first, each with its reason, then the ready ones.
        let rows: Vec<(usize, Option<String>)> = unready
            .into_iter()
            .map(|(i, reason, _)| (i, Some(reason)))
            .chain(
                (0..names.len())
                    .filter(|i| r.ready_after(*i).is_some())
                    .map(|i| (i, None)),
            )
            .collect();
        let room = rows_available(rows_total);
        let shown = if rows.len() > room {
            room - 1
        } else {
            rows.len()
        };
        for (i, reason) in &rows[..shown] {
            let name: String = names[*i].chars().take(name_width).collect();
            let attempts = r.attempts(*i);
            let (mark, state, detail) = match reason {
                None => (
                    self.paint("32", "ok"),
                    if r.reverse() { "gone   " } else { "ready  " },
                    format!("after {}", show(r.ready_after(*i).unwrap_or_default())),
                ),
                Some(reason) => (
                    self.paint("33", &format!(" {spin}")),
                    "waiting",
                    reason.clone(),
                ),
            };
            // Names and reasons come from users and servers: a hostile server's
            // reason must not write escape sequences to the operator's terminal.
            let text = format!("{name:<name_width$}  {state}  {attempts:>4}x  {detail}");
            let text = clean_line(&text);
            // Cut by characters on the uncoloured text, then add the coloured mark.
            let cut: String = text.chars().take(width.saturating_sub(4)).collect();
            lines.push(format!("{mark} {cut}"));
        }
        if shown < rows.len() {
            let ready_hidden = rows[shown..]
                .iter()
                .filter(|(_, reason)| reason.is_none())
                .count();
            lines.push(format!(
                "   ... and {} more ({ready_hidden} of them {})",
                rows.len() - shown,
                r.goal()
            ));
        }
        lines
    }

    fn draw(&self, r: &Reporter) {
        let lines = self.lines(r);
        let mut drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        if *drawn > 0 {
            // Back to the first line of the previous drawing.
            out.push_str(&format!("\x1b[{}F", *drawn));
        }
        for line in &lines {
            out.push_str("\x1b[2K");
            out.push_str(line);
            out.push('\n');
        }
        *drawn = lines.len();
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
    }

    /// Removes the live block, so that the final lines replace it.
    fn clear(&self) {
        let mut drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
        if *drawn > 0 {
            let _ = write!(std::io::stderr().lock(), "\x1b[{}F\x1b[0J", *drawn);
            *drawn = 0;
        }
    }

    /// The plain lines that stay: each ready target, then the voice's summary.
    fn settle(&self, r: &Reporter) {
        self.clear();
        for i in 0..r.names().len() {
            if r.ready_after(i).is_some() {
                self.plain.ready(r, i);
            }
        }
    }
}

impl Voice for Live {
    fn begin(&self, r: &Reporter) {
        self.draw(r);
    }

    // Events only change the state; the next tick (at most 100 ms later) draws it,
    // so a thousand targets cannot flood the terminal.

    fn tick(&self, r: &Reporter) {
        self.draw(r);
    }

    fn tick_every(&self) -> Option<Duration> {
        Some(REDRAW_EVERY)
    }

    fn deadline(&self, r: &Reporter) {
        self.settle(r);
        self.plain.deadline(r);
    }

    fn once_failed(&self, r: &Reporter) {
        self.settle(r);
        self.plain.once_failed(r);
    }

    fn permanent(&self, r: &Reporter, i: usize) {
        self.settle(r);
        self.plain.permanent(r, i);
    }

    fn signal(&self, r: &Reporter, name: &str) {
        self.settle(r);
        self.plain.signal(r, name);
    }

    fn done(&self, r: &Reporter, program: Option<&OsStr>) {
        self.settle(r);
        self.plain.done(r, program);
    }
}

/// Target lines that fit a terminal of `rows` rows, beside the headline and the
/// cursor's line.
fn rows_available(rows: usize) -> usize {
    rows.saturating_sub(2).max(2)
}

/// Whether the live view fits this run: stderr is a terminal that can move the cursor.
pub fn wanted(term: Option<&str>) -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && term != Some("dumb")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeError;
    use crate::report::Silent;

    #[test]
    fn server_supplied_reasons_cannot_reach_the_terminal_raw() {
        let r = Reporter::new(
            vec!["db:5432".into(), "x\x1b]0;t\x07:1".into()],
            Box::new(Silent),
            None,
            false,
        );
        r.attempt(0);
        r.not_ready(
            0,
            &ProbeError::transient("ERR \x1b[2J\x1b[1;1Hfake prompt\r\nroot# "),
            false,
        );
        let lines = Live::new(false).lines(&r);
        assert!(lines.len() >= 3, "{lines:?}");
        for line in &lines {
            assert!(!line.chars().any(char::is_control), "{line:?}");
        }
        assert!(
            lines.iter().any(|l| l.contains("\\u{1b}[2J")),
            "the reason is shown, escaped: {lines:?}"
        );
    }
}
