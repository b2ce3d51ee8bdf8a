//! Text for people and for wires: control characters escaped, JSON strings quoted,
//! long text capped with a visible marker. A leaf: probes and reports both use it,
//! and it uses nothing of whenready's.
//!
//! What is escaped: every control character (C0, DEL, C1), the line and paragraph
//! separators (U+2028, U+2029, which some viewers break lines at), and the
//! bidirectional overrides and isolates (which reorder what a terminal shows). Each
//! is written as Rust writes it, `\u{1b}`.

use std::borrow::Cow;

/// The most bytes a reason from a peer may take once it is made safe (contract,
/// Output): longer ones are cut by [`cap`].
pub const REASON_MAX: usize = 512;

/// Whether `c` must not reach a terminal or a log as itself.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'
                ..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// The text with unsafe characters other than newlines escaped (`\u{1b}`), so that
/// input echoed in a message cannot move the cursor or recolour a terminal.
pub fn clean(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n')
}

/// The text with every unsafe character escaped, newlines too: for what must stay
/// on one line, such as a reason or a row of the live view.
pub fn clean_line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let escaped = |c: char| unsafe_char(c) && !keep(c);
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escaped(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The text cut to at most `max` bytes, on a character boundary, ending in a marker
/// that says how much was cut (`… (59610 bytes cut)`); unchanged when it fits.
pub fn cap(text: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return text;
    }
    // The marker's length depends on the count, which depends on where the cut is:
    // a count of as many digits as the whole length is never too short.
    let digits = text.len().to_string().len();
    let room = max.saturating_sub("… ( bytes cut)".len() + digits);
    let mut end = room.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(max);
    out.push_str(&text[..end]);
    out.push_str(&format!("… ({} bytes cut)", text.len() - end));
    Cow::Owned(out)
}

/// A JSON string literal (RFC 8259 escaping): for `--json` events and NATS's CONNECT.
pub fn quote(s: &str) -> String {
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
    use super::*;

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(clean("plain\nlines"), "plain\nlines");
        assert_eq!(clean("a\u{1b}[31mred"), "a\\u{1b}[31mred");
        assert_eq!(clean_line("a\nb"), "a\\u{a}b");
        assert_eq!(clean_line("a\r\u{85}b"), "a\\u{d}\\u{85}b");
        assert_eq!(clean_line("x\u{2028}y\u{202e}z"), "x\\u{2028}y\\u{202e}z");
        assert!(matches!(clean_line("café ✓"), Cow::Borrowed("café ✓")));
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_with_a_marker() {
        assert_eq!(cap("short".into(), 512), "short");
        for len in [513, 600, 9_999, 60_000, 1_000_000] {
            for filler in ["a", "é", "✓", "𝄞"] {
                let text = filler.repeat(len / filler.len() + 1);
                let cut = cap(Cow::Borrowed(&text), REASON_MAX);
                assert!(cut.len() <= REASON_MAX, "{len} {filler}: {}", cut.len());
                assert!(cut.len() > REASON_MAX - 24, "{len} {filler}: {}", cut.len());
                let (kept, marker) = cut.split_once('…').unwrap();
                let cut_bytes = text.len() - kept.len();
                assert_eq!(marker, format!(" ({cut_bytes} bytes cut)"));
            }
        }
        // Exactly at the limit: untouched.
        let text = "x".repeat(REASON_MAX);
        assert_eq!(cap(Cow::Borrowed(&text), REASON_MAX), text);
    }
}
