//! What the SQL kinds (`postgres://`, `mysql://`) share: the expectation in a
//! target's fragment (`#query=SQL`, `#table=NAME`), the truth of a query's first
//! column, and the reasons a target is not ready yet.
//!
//! Truth, the same for every server: NULL, no row at all, `false` and a number
//! equal to zero are false. A text value is false when, white space trimmed, it
//! is empty, a number equal to zero (`0`, `0.00`, `-0`, `0e3`), or one of
//! PostgreSQL's spellings of false (`false`, `f`, `no`, `n`, `off`, any case);
//! every other value (`t`, `yes`, `done`, `2`, a date) is true. MySQL's text
//! protocol sends numbers and booleans as text (`1`, `0`, `0.00`), so a MySQL
//! `SELECT EXISTS(…)` or `SELECT COUNT(*)` is judged as it reads.
//!
//! The server judges nothing: it runs the query read-only (each kind says how) and
//! the first column of the first row is read, at most [`KEEP`] bytes of it.

use crate::endpoint::decode;

/// The most of the first column's value that is kept for judging and showing; a
/// longer value is true (no false spelling is that long).
pub const KEEP: usize = 4096;

/// What a SQL target's fragment asks for, beyond a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// `#query=SQL`: its first column of its first row is true.
    Query(String),
    /// `#table=NAME` (`SCHEMA.NAME` allowed): that table exists.
    Table(String),
}

/// The keys a SQL target's fragment knows, for messages.
const KEYS: &str = "query=SQL or table=NAME";

impl Expectation {
    /// Parses a fragment (`query=SELECT%201`, `table=public.users`): `KEY=VALUE`
    /// pairs separated by `&`, percent-decoded after splitting (write `%26` for an
    /// `&` and `%25` for a `%` in SQL), one expectation at most. `None` for an empty
    /// fragment. The error names what is wrong.
    pub fn parse(fragment: &str, kind: &str) -> Result<Option<Expectation>, String> {
        let mut found: Option<Expectation> = None;
        for pair in fragment.split('&').filter(|p| !p.is_empty()) {
            let Some((key, raw)) = pair.split_once('=') else {
                return Err(format!(
                    "{:?} after # needs a value: a {kind} target takes #{KEYS}",
                    decode(pair)
                ));
            };
            let key = decode(key);
            let value = decode(raw).trim().to_string();
            if value.contains('\0') && matches!(key.as_str(), "query" | "table") {
                return Err(format!(
                    "{key}= holds a NUL byte (%00), which no server takes"
                ));
            }
            let expectation = match key.as_str() {
                "query" if value.is_empty() => return Err("query= needs SQL".into()),
                "table" if value.is_empty() => return Err("table= needs a table name".into()),
                "query" => Expectation::Query(value),
                "table" => Expectation::Table(value),
                other => {
                    return Err(format!(
                        "unknown expectation {other:?} after #: a {kind} target takes #{KEYS}"
                    ))
                }
            };
            if found.is_some() {
                return Err(format!(
                    "one expectation per target: give #{KEYS} once (another target for another check)"
                ));
            }
            found = Some(expectation);
        }
        Ok(found)
    }
}

/// The judgement of a first column: `Ok` when true, else what was seen, for the
/// reason ([`not_true`]).
pub type Verdict = Result<(), Seen>;

/// A value that is not true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The result has no row.
    NoRow,
    /// The first column is NULL.
    Null,
    /// The first column is false or zero, as shown here (`false`, `0`, `"no"`).
    False(String),
}

/// Whether a text value is true (the module's rule); when false, how to show it.
pub fn text_truth(value: &[u8]) -> Verdict {
    if value.len() > KEEP {
        return Ok(());
    }
    let text = String::from_utf8_lossy(value);
    let t = text.trim();
    let false_word = ["false", "f", "no", "n", "off"]
        .iter()
        .any(|w| t.eq_ignore_ascii_case(w));
    let zero = t.parse::<f64>().is_ok_and(|v| v == 0.0);
    if t.is_empty() || false_word || zero {
        return Err(Seen::False(crate::probe::redis::resp::shown(value, 40)));
    }
    Ok(())
}

/// The reason for a query whose first column is not true.
pub fn not_true(seen: &Seen) -> String {
    match seen {
        Seen::NoRow => "the query returned no rows".into(),
        Seen::Null => "the query returned NULL".into(),
        Seen::False(shown) if shown == "false" => "the query returned false".into(),
        Seen::False(shown) => format!("the query returned {shown}, which counts as false"),
    }
}

/// The reason for a table that does not exist.
pub fn no_table(name: &str) -> String {
    format!(
        "no table {}",
        crate::probe::redis::resp::shown(name.as_bytes(), 100)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_are_judged_as_users_read_them() {
        for t in [
            "",
            " ",
            "0",
            "00",
            "0.00",
            "-0",
            "+0",
            "0e3",
            " 0 ",
            "false",
            "FALSE",
            "f",
            "F",
            "no",
            "No",
            "n",
            "off",
            "OFF",
            "0.000000000000000000000000000000",
        ] {
            assert!(text_truth(t.as_bytes()).is_err(), "{t:?} should be false");
        }
        for t in [
            "1",
            "t",
            "true",
            "yes",
            "on",
            "y",
            "done",
            "2",
            "-1",
            "0.01",
            "nan",
            "inf",
            "2026-01-01",
            "null",
            "0x0",
            "offline",
            "\0",
        ] {
            assert!(text_truth(t.as_bytes()).is_ok(), "{t:?} should be true");
        }
        assert!(text_truth(&vec![b'0'; KEEP + 1]).is_ok());
        assert_eq!(
            text_truth(b"no").map_err(|s| not_true(&s)),
            Err("the query returned \"no\", which counts as false".into())
        );
    }

    #[test]
    fn fragments() {
        let p = |f: &str| Expectation::parse(f, "postgres");
        assert_eq!(p(""), Ok(None));
        assert_eq!(
            p("query=SELECT%20count(*)%20%3E%200%20FROM%20t"),
            Ok(Some(Expectation::Query(
                "SELECT count(*) > 0 FROM t".into()
            )))
        );
        assert_eq!(
            p("table=public.users"),
            Ok(Some(Expectation::Table("public.users".into())))
        );
        assert_eq!(
            p("query=SELECT%201%20%26%201"),
            Ok(Some(Expectation::Query("SELECT 1 & 1".into())))
        );
        for (f, needle) in [
            ("query=", "query= needs SQL"),
            ("table=%20", "table= needs a table name"),
            ("querry=SELECT%201", "unknown expectation \"querry\""),
            ("query", "needs a value"),
            ("query=SELECT%201&table=t", "one expectation per target"),
            ("table=a&table=b", "one expectation per target"),
            ("query=SELECT%00", "NUL byte"),
        ] {
            let e = p(f).unwrap_err();
            assert!(e.contains(needle), "{f}: {e}");
        }
    }
}
