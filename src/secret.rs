//! The secrets whenready sends, and their masking wherever they would be shown.
//!
//! Every value whenready sends as a secret is registered here when it is learnt:
//! passwords and password parameters of URLs ([`crate::target`]), NATS tokens,
//! PGPASSWORD, MYSQL_PWD and REDISCLI_AUTH when a kind uses them, bearer tokens and
//! secret headers from variables or files, Basic authentication (also as the base64
//! it travels in), and values learnt while running, such as the tokens of Kubernetes
//! exec plugins ([`register`] may be called at any time, from any thread). A reason
//! that a peer wrote, which may echo one, is masked ([`mask`]) before anyone sees it
//! (`crate::report`), and a probe that shows only the start of a peer's text cuts
//! it with [`excerpt`], which never cuts a secret in two.
//!
//! A secret is replaced by `***`. Secrets of fewer than [`WHOLE_WORD_BELOW`] bytes
//! are replaced only where they stand alone, not inside a longer word: a
//! one-letter password masked inside every word would garble every message, and the
//! gaps would show which letter it is. A server that echoes a value sets it apart
//! (quotes, `=`, `:`, a space), so the echo is still masked.
//!
//! A leaf: it uses only [`crate::text`].

use std::borrow::Cow;
use std::sync::RwLock;

/// Secrets shorter than this (in bytes) are masked only where they stand alone:
/// the characters around them are not letters, digits or `_`.
pub const WHOLE_WORD_BELOW: usize = 8;

/// Every registered form of every secret, longest first.
#[cfg(not(test))]
static SECRETS: RwLock<Vec<Box<str>>> = RwLock::new(Vec::new());

/// The registry: one for the process. (Unit tests run side by side in one process,
/// each on a thread of its own: there each thread has its own registry, so that a
/// password one test registers masks nothing in another.)
fn secrets() -> &'static RwLock<Vec<Box<str>>> {
    #[cfg(not(test))]
    return &SECRETS;
    #[cfg(test)]
    {
        thread_local! {
            static SECRETS: &'static RwLock<Vec<Box<str>>> =
                Box::leak(Box::new(RwLock::new(Vec::new())));
        }
        SECRETS.with(|s| *s)
    }
}

/// Registers a value whenready sends as a secret, so that it is masked wherever it
/// would be shown: the value, trimmed, and the forms it takes once escaped (as a
/// JSON string, or with its control characters written out). Empty and blank
/// values are ignored; registering a value again costs a look-up.
pub fn register(value: &str) {
    // White space alone would mask the gaps between words (and its escaped forms
    // every escaped tab).
    if value.trim().is_empty() {
        return;
    }
    let mut forms: Vec<String> = Vec::new();
    for base in [value, value.trim()] {
        forms.push(base.to_string());
        forms.push(crate::text::clean_line(base).into_owned());
        let json = crate::text::quote(base);
        forms.push(json[1..json.len() - 1].to_string());
    }
    let mut all = secrets().write().unwrap_or_else(|p| p.into_inner());
    for form in forms {
        // "***" masked as "***" changes nothing.
        let blank = form.trim().is_empty() || form.bytes().all(|b| b == b'*');
        if blank || all.iter().any(|s| **s == *form) {
            continue;
        }
        let at = all.partition_point(|s| s.len() >= form.len());
        all.insert(at, form.into_boxed_str());
    }
}

/// Registers the value of a secret header, and its credentials alone when it has
/// an authentication scheme (`Bearer TOKEN`, `Basic BASE64`), which a server may
/// echo without the scheme.
pub fn register_header(value: &str) {
    register(value);
    if let Some((scheme, credentials)) = value.trim().split_once(' ') {
        let is_scheme = !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if is_scheme {
            register(credentials.trim());
        }
    }
}

/// The length in bytes of the longest registered form of a secret (0 for none).
pub fn longest() -> usize {
    let all = secrets().read().unwrap_or_else(|p| p.into_inner());
    all.first().map_or(0, |s| s.len())
}

/// The text with every registered secret replaced by `***`.
pub fn mask(text: &str) -> Cow<'_, str> {
    masked_prefix(text, text.len())
}

/// The masked form of the longest start of `text` of at most `max` bytes that ends
/// on a character boundary and not inside a secret: what is left out is never a
/// piece of a secret shown in the clear.
pub fn masked_prefix(text: &str, max: usize) -> Cow<'_, str> {
    let mut cut = floor_boundary(text, max);
    let all = secrets().read().unwrap_or_else(|p| p.into_inner());
    if all.is_empty() {
        return Cow::Borrowed(&text[..cut]);
    }
    let found = occurrences(text, &all);
    drop(all);
    // The occurrences do not overlap: at most one straddles the cut.
    if let Some(&(start, _)) = found.iter().find(|&&(a, b)| a < cut && cut < b) {
        cut = start;
    }
    let mut out = String::new();
    let mut at = 0;
    for &(start, end) in found.iter().filter(|&&(_, end)| end <= cut) {
        out.push_str(&text[at..start]);
        out.push_str("***");
        at = end;
    }
    if at == 0 {
        return Cow::Borrowed(&text[..cut]);
    }
    out.push_str(&text[at..cut]);
    Cow::Owned(out)
}

/// At most `max_chars` characters of the start of `text`, its secrets masked and
/// none cut in two: for a probe that quotes a little of what a peer said.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    masked_prefix(text, max_chars.saturating_mul(4))
        .chars()
        .take(max_chars)
        .collect()
}

/// The largest character boundary of `text` not after `max`.
fn floor_boundary(text: &str, max: usize) -> usize {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Where the secrets occur in `text`, as sorted byte ranges, overlapping ones merged.
fn occurrences(text: &str, secrets: &[Box<str>]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for secret in secrets {
        let step = secret.chars().next().map_or(1, char::len_utf8);
        let alone_only = secret.len() < WHOLE_WORD_BELOW;
        let mut from = 0;
        while let Some(i) = text[from..].find(&**secret) {
            let (start, end) = (from + i, from + i + secret.len());
            if !alone_only || stands_alone(text, start, end) {
                found.push((start, end));
            }
            from = start + step;
        }
    }
    found.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
    for (start, end) in found {
        match merged.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Whether `text[start..end]` is not part of a longer word: on each side, either
/// the text or the secret's own character there is no letter, digit or `_`.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let inner = &text[start..end];
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let first = inner.chars().next();
    let last = inner.chars().next_back();
    let side_ok = |outside: Option<char>, edge: Option<char>| {
        !(outside.is_some_and(word) && edge.is_some_and(word))
    };
    side_ok(before, first) && side_ok(after, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The registry is process-wide: each test registers secrets of its own, which
    // no other test's text contains.

    #[test]
    fn registered_secrets_are_masked_wherever_they_appear() {
        register("Hq4-long-secret-1");
        assert_eq!(
            mask("token Hq4-long-secret-1 echoed, \"xHq4-long-secret-1y\""),
            "token *** echoed, \"x***y\""
        );
        assert!(matches!(
            mask("nothing here"),
            Cow::Borrowed("nothing here")
        ));
        // Escaped as JSON or with control characters written out: masked too.
        register("Hq4\"quote\\d\n-2");
        assert_eq!(mask("a \"Hq4\\\"quote\\\\d\\n-2\" b"), "a \"***\" b");
        assert_eq!(mask("Hq4\"quote\\d\\u{a}-2"), "***");
        assert_eq!(mask("Hq4\"quote\\d\n-2"), "***");
        // Surrounding white space belongs to no secret.
        register("  Hq4-padded-3\n");
        assert_eq!(mask("[Hq4-padded-3]"), "[***]");
    }

    #[test]
    fn short_secrets_are_masked_only_where_they_stand_alone() {
        register("k7Q");
        assert_eq!(
            mask("Bearer k7Q, \"k7Q\", k7Q=1, xk7Q, k7Qx, k7Q_, k7Q"),
            "Bearer ***, \"***\", ***=1, xk7Q, k7Qx, k7Q_, ***"
        );
        // A secret that begins or ends with punctuation is alone on that side.
        register("!m9");
        assert_eq!(mask("a!m9 a!m9b"), "a*** a!m9b");
        register("é");
        assert_eq!(mask("café é"), "café ***");
    }

    #[test]
    fn overlapping_occurrences_are_masked_as_one() {
        register("Zz9Zz9Zz9");
        assert_eq!(mask("<Zz9Zz9Zz9Zz9>"), "<***>");
        register("Yy8-inner");
        register("Yy8-inner-outer");
        assert_eq!(mask("(Yy8-inner-outer) (Yy8-inner)"), "(***) (***)");
    }

    #[test]
    fn a_cut_never_falls_inside_a_secret() {
        register("Wv5-cut-secret-0123456789");
        let text = format!("{}Wv5-cut-secret-0123456789 tail", "x".repeat(70));
        for max in 0..text.len() {
            let shown = masked_prefix(&text, max);
            assert!(shown.len() <= max, "{max}: {shown}");
            for w in "Wv5-cut-secret-0123456789".as_bytes().windows(4) {
                assert!(
                    !shown.contains(std::str::from_utf8(w).unwrap()),
                    "{max}: {shown}"
                );
            }
        }
        let many = "Wv5-cut-secret-0123456789 ".repeat(40);
        let e = excerpt(&many, 80);
        assert!(e.chars().count() <= 80 && e.starts_with("*** *** "), "{e}");
        assert!(!e.contains("Wv5"), "{e}");
        assert_eq!(excerpt("ünïcödé", 3), "ünï");
    }

    #[test]
    fn headers_register_their_credentials_alone_too() {
        register_header("Bearer Tt6-bearer-token");
        assert_eq!(mask("echo: Tt6-bearer-token"), "echo: ***");
        register_header("Gg5-no-scheme-value");
        assert_eq!(mask("Gg5-no-scheme-value"), "***");
    }

    #[test]
    fn empty_and_starred_values_are_not_secrets() {
        register("");
        register("***");
        register("   ");
        register("\t\n");
        assert_eq!(
            mask("a ***   b\t\nc \\u{9}\\u{a}"),
            "a ***   b\t\nc \\u{9}\\u{a}"
        );
    }
}
