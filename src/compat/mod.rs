//! Drop-in names: invoked as `wait-for-it`, `wait-for-it.sh`, `wait-for` or `wait`
//! (a link or copy under that name; `argv[0]` decides), whenready speaks that tool's
//! command line, messages and exit codes, over its own wait engine: concurrent
//! probes, a deadline that holds, signals handled as PID 1, exec.

pub mod compose_wait;
pub mod wait_for;
pub mod wait_for_it;

use crate::exit::Exit;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::Duration;

/// Which command line whenready speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// whenready's own.
    Whenready,
    /// vishnubob/wait-for-it (`wait-for-it`, `wait-for-it.sh`).
    WaitForIt,
    /// eficode/wait-for (`wait-for`).
    WaitFor,
    /// docker-compose-wait's `/wait`.
    ComposeWait,
}

/// The personality for the name whenready was invoked as.
pub fn personality(argv0: Option<&OsStr>) -> Personality {
    let name = argv0
        .map(Path::new)
        .and_then(Path::file_name)
        .and_then(OsStr::to_str)
        .unwrap_or("");
    match name {
        "wait-for-it" | "wait-for-it.sh" => Personality::WaitForIt,
        "wait-for" => Personality::WaitFor,
        "wait" => Personality::ComposeWait,
        _ => Personality::Whenready,
    }
}

/// Why a personality's command line ends before any waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `--help`.
    Help,
    /// `-v` / `--version`.
    Version,
    /// A usage error: one line (secrets masked, see [`masked`]) and the original's
    /// exit status.
    Usage {
        /// What was wrong, naming the (masked) input.
        message: String,
        /// The original's status for this error.
        exit: Exit,
    },
}

impl Stop {
    /// A usage error; the message is masked and made one line here, so no caller can
    /// forget it.
    pub fn usage(message: &str, exit: Exit) -> Stop {
        Stop::Usage {
            message: one_line(&masked(message)),
            exit,
        }
    }
}

/// The text with line breaks escaped (`\n`), so that echoed input keeps a message on
/// one line; other control characters are escaped when printed.
pub fn one_line(text: &str) -> String {
    text.replace('\n', "\\n").replace('\r', "\\r")
}

/// Query parameters whose value is a secret (as in target.rs).
const SECRET_PARAMS: [&str; 3] = ["password", "sslpassword", "pass"];

/// Text from the command line or the environment, safe to print: in every word
/// (words end at white space and quotes), the userinfo password after any `://`
/// (`postgres://u:***@db`), a `user:***@host` at the word's start, and every `password=`,
/// `sslpassword=` or `pass=` value after `?` or `&` become `***`. Deliberately
/// broader than a URL parser: it also sees secrets in text that is no valid URL.
/// (Control characters are escaped when printed, by [`crate::report::say`].)
pub fn masked(text: &str) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let is_delimiter = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`');
    let mut offset = 0;
    for word in text.split(is_delimiter) {
        secrets_in_word(word, offset, &mut ranges);
        // split() drops one delimiter between words; all delimiters are one char.
        offset += word.len();
        offset += text[offset..].chars().next().map_or(0, char::len_utf8);
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in ranges {
        if start < copied {
            // Overlapping secrets: one mask for both.
            copied = copied.max(end);
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str("***");
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Pushes the byte ranges (offset by `offset`) of the secrets in one word.
fn secrets_in_word(word: &str, offset: usize, ranges: &mut Vec<(usize, usize)>) {
    let mut userinfo = |from: usize| {
        let rest = &word[from..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                ranges.push((offset + from + colon + 1, offset + from + at));
            }
        }
    };
    // The word's start too: `user:pw@host` may precede a later "://".
    userinfo(0);
    word.match_indices("://").for_each(|(i, _)| userinfo(i + 3));
    for (i, _) in word.match_indices(['?', '&']) {
        let key_start = i + 1;
        let key_end = word[key_start..]
            .find(['=', '&', '?', '#'])
            .map_or(word.len(), |j| key_start + j);
        if !word[key_end..].starts_with('=') {
            continue;
        }
        let key = percent_encoding::percent_decode_str(&word[key_start..key_end])
            .decode_utf8_lossy()
            .to_ascii_lowercase();
        if SECRET_PARAMS.contains(&key.as_str()) {
            let value_end = word[key_end + 1..]
                .find(['&', '#'])
                .map_or(word.len(), |j| key_end + 1 + j);
            ranges.push((offset + key_end + 1, offset + value_end));
        }
    }
}

/// The arguments after `argv[0]` as UTF-8 where they are (a non-UTF-8 option can never
/// match, and is reported as an unknown argument by the caller).
pub fn lossy(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Whole or decimal seconds, as the originals take them (`15`, `2.5`), never negative.
pub fn seconds(text: &str) -> Option<Duration> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personality_comes_from_the_base_name() {
        let p = |s: &str| personality(Some(OsStr::new(s)));
        assert_eq!(p("/usr/local/bin/wait-for-it.sh"), Personality::WaitForIt);
        assert_eq!(p("wait-for-it"), Personality::WaitForIt);
        assert_eq!(p("./wait-for"), Personality::WaitFor);
        assert_eq!(p("/wait"), Personality::ComposeWait);
        assert_eq!(p("/usr/bin/whenready"), Personality::Whenready);
        assert_eq!(p("wait-for-it.bash"), Personality::Whenready);
        assert_eq!(personality(None), Personality::Whenready);
    }

    #[test]
    fn masked_hides_every_password() {
        for (text, want) in [
            ("postgres://u:pw@db/app", "postgres://u:***@db/app"),
            ("-tpostgres://u:pw@db", "-tpostgres://u:***@db"),
            ("a://b://u:pw@h", "a://b://u:***@h"),
            ("u:pw@db:5432", "u:***@db:5432"),
            (
                "redis://:pw@h?password=pw2&x=1",
                "redis://:***@h?password=***&x=1",
            ),
            (
                "x?a?PassWord=pw&sslpassword=pw2#f",
                "x?a?PassWord=***&sslpassword=***#f",
            ),
            ("h?pass%77ord=pw", "h?pass%77ord=***"),
            ("db:5432", "db:5432"),
            ("http://user@h:1/p?q=1", "http://user@h:1/p?q=1"),
            ("é://ü:pé@h", "é://ü:***@h"),
            (
                "Error: invalid host:port 'u:pw@db:1': bad; \"x://u:pw@h\"",
                "Error: invalid host:port 'u:***@db:1': bad; \"x://u:***@h\"",
            ),
            ("x://u:p&password=z@h", "x://u:***"),
            ("u:pw@db/a://b", "u:***@db/a://b"),
        ] {
            assert_eq!(masked(text), want, "{text}");
        }
    }

    #[test]
    fn seconds_are_plain_numbers() {
        assert_eq!(seconds("15"), Some(Duration::from_secs(15)));
        assert_eq!(seconds("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(seconds("0"), Some(Duration::ZERO));
        for bad in ["", "-1", "abc", "1s", "1.2.3"] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
    }
}
