//! A redis target's `#key=NAME` (the key exists) and `#key=NAME:REGEX` (the key
//! holds a string whose value matches REGEX, a search as HTTP's `#body=`), asked
//! instead of PING.
//!
//! NAME ends at the first `:`; write `%3A` for a colon inside a name
//! (`#key=app%3Aready`), which Redis names often have. The value is read with
//! `GETRANGE` up to [`resp::MAX_BULK`] bytes, so the server never sends more; a
//! longer value (`STRLEN` says so) is transient, with its length in the reason. A
//! key that does not exist, holds another type than a string (the reason names
//! it) or whose value does not match is transient: a seed job may not have written
//! it yet.

use super::resp::{self, shown, Reply};
use crate::endpoint::decode;
use crate::probe::error::ProbeError;

/// What a `#key=` asks for.
#[derive(Debug)]
pub struct KeyExpectation {
    /// The key.
    pub name: Vec<u8>,
    /// The pattern its string value must match, with its text (for reasons).
    pub pattern: Option<(regex_lite::Regex, String)>,
}

impl KeyExpectation {
    /// Parses a redis target's fragment: `key=NAME` or `key=NAME:REGEX`, percent-
    /// decoded after the split at the first colon. `None` for an empty fragment.
    pub fn parse(fragment: &str) -> Result<Option<KeyExpectation>, String> {
        let mut found = None;
        for pair in fragment.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').ok_or_else(|| {
                format!(
                    "{:?} after # needs a value: a redis target takes #key=NAME or #key=NAME:REGEX",
                    decode(pair)
                )
            })?;
            let key = decode(key);
            if key != "key" {
                return Err(format!(
                    "unknown expectation {key:?} after #: a redis target takes #key=NAME or #key=NAME:REGEX"
                ));
            }
            if found.is_some() {
                return Err("key= is given twice after # (one key per target)".into());
            }
            let (name, pattern) = match raw.split_once(':') {
                Some((name, regex)) => (name, Some(decode(regex))),
                None => (raw, None),
            };
            let name: Vec<u8> = percent_encoding::percent_decode_str(name).collect();
            if name.is_empty() {
                return Err("key= needs a key name".into());
            }
            let pattern = match pattern {
                None => None,
                Some(text) => match regex_lite::Regex::new(&text) {
                    Ok(regex) => Some((regex, text)),
                    Err(e) => {
                        let why = e.to_string();
                        let why = why.lines().last().unwrap_or("").trim().to_string();
                        return Err(format!(
                            "invalid regular expression {text:?} in key=: {why}"
                        ));
                    }
                },
            };
            found = Some(KeyExpectation { name, pattern });
        }
        Ok(found)
    }

    /// Appends the commands that ask for it; returns their names, in order.
    pub fn commands(&self, out: &mut Vec<u8>) -> &'static [&'static str] {
        let name = &self.name[..];
        match self.pattern {
            None => {
                resp::command(out, &[b"EXISTS", name]);
                &["EXISTS"]
            }
            Some(_) => {
                let last = (resp::MAX_BULK - 1).to_string();
                resp::command(out, &[b"TYPE", name]);
                resp::command(out, &[b"STRLEN", name]);
                resp::command(out, &[b"GETRANGE", name, b"0", last.as_bytes()]);
                &["TYPE", "STRLEN", "GETRANGE"]
            }
        }
    }

    /// Judges the reply to one of [`KeyExpectation::commands`]: `Ok(true)` when
    /// the target is ready, `Ok(false)` when the next reply decides. Error replies
    /// are the caller's.
    pub fn judge(&self, command: &str, reply: &Reply) -> Result<bool, ProbeError> {
        let key = shown(&self.name, 100);
        let missing = || {
            let hint = match (&self.pattern, self.name.contains(&b':')) {
                (_, true) | (None, _) => "",
                (Some(_), false) => {
                    " (the first ':' after key= ends the name: write %3A for a ':' inside it)"
                }
            };
            ProbeError::transient(format!("no key {key}{hint}"))
        };
        let unexpected = || {
            ProbeError::transient(format!(
                "unexpected reply to {command}: {}",
                reply.describe()
            ))
        };
        match (command, reply) {
            ("EXISTS", Reply::Integer(0)) => Err(missing()),
            ("EXISTS", Reply::Integer(_)) => Ok(true),
            ("TYPE", Reply::Simple(t)) if t == b"none" => Err(missing()),
            ("TYPE", Reply::Simple(t)) if t == b"string" => Ok(false),
            ("TYPE", Reply::Simple(t)) => Err(ProbeError::transient(format!(
                "key {key} holds a {}, not a string for #key=NAME:REGEX to match",
                String::from_utf8_lossy(t)
            ))),
            ("STRLEN", Reply::Integer(n)) if *n > resp::MAX_BULK as i64 => {
                Err(ProbeError::transient(format!(
                    "the value of key {key} is {n} bytes, over the {} KiB whenready reads to match it",
                    resp::MAX_BULK / 1024
                )))
            }
            ("STRLEN", Reply::Integer(_)) => Ok(false),
            ("GETRANGE", Reply::Bulk(value)) => {
                let (regex, text) = self.pattern.as_ref().ok_or_else(unexpected)?;
                match regex.is_match(&String::from_utf8_lossy(value)) {
                    true => Ok(true),
                    false => Err(ProbeError::transient(format!(
                        "the value of key {key} does not match {text:?}: {}",
                        shown(value, 80)
                    ))),
                }
            }
            _ => Err(unexpected()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(f: &str) -> KeyExpectation {
        KeyExpectation::parse(f).unwrap().unwrap()
    }

    #[test]
    fn fragments() {
        assert!(KeyExpectation::parse("").unwrap().is_none());
        let k = parsed("key=app%3Aready");
        assert_eq!(
            (k.name.as_slice(), k.pattern.is_none()),
            (&b"app:ready"[..], true)
        );
        let k = parsed("key=app%3Astatus:%5Edone%24");
        assert_eq!(k.name, b"app:status");
        assert_eq!(k.pattern.as_ref().unwrap().1, "^done$");
        let k = parsed("key=v:(?:a|b):c");
        assert_eq!(
            (k.name.as_slice(), k.pattern.unwrap().1.as_str()),
            (&b"v"[..], "(?:a|b):c")
        );
        for (f, needle) in [
            ("key=", "needs a key name"),
            ("key=:x", "needs a key name"),
            ("key=a:(", "invalid regular expression \"(\" in key="),
            ("kee=a", "unknown expectation \"kee\""),
            ("key=a&key=b", "given twice"),
            ("key", "needs a value"),
        ] {
            let e = KeyExpectation::parse(f).unwrap_err();
            assert!(e.contains(needle), "{f}: {e}");
        }
    }

    #[test]
    fn replies_are_judged() {
        let exists = parsed("key=seeded");
        let mut out = Vec::new();
        assert_eq!(exists.commands(&mut out), &["EXISTS"]);
        assert_eq!(out, b"*2\r\n$6\r\nEXISTS\r\n$6\r\nseeded\r\n");
        assert_eq!(exists.judge("EXISTS", &Reply::Integer(1)), Ok(true));
        let e = exists.judge("EXISTS", &Reply::Integer(0)).unwrap_err();
        assert_eq!((e.is_permanent(), &*e.reason), (false, "no key \"seeded\""));

        let m = parsed("key=status:^ready$");
        let mut out = Vec::new();
        assert_eq!(m.commands(&mut out), &["TYPE", "STRLEN", "GETRANGE"]);
        assert!(String::from_utf8_lossy(&out).contains("$6\r\n524287\r\n"));
        let simple = |s: &str| Reply::Simple(s.as_bytes().to_vec());
        assert_eq!(m.judge("TYPE", &simple("string")), Ok(false));
        let e = m.judge("TYPE", &simple("none")).unwrap_err();
        assert!(e.reason.contains("write %3A"), "{e:?}");
        let e = m.judge("TYPE", &simple("list")).unwrap_err();
        assert_eq!(
            (e.is_permanent(), &*e.reason),
            (
                false,
                "key \"status\" holds a list, not a string for #key=NAME:REGEX to match"
            )
        );
        assert_eq!(m.judge("STRLEN", &Reply::Integer(5)), Ok(false));
        let e = m.judge("STRLEN", &Reply::Integer(600_000)).unwrap_err();
        assert!(
            !e.is_permanent() && e.reason.contains("600000 bytes, over the 512 KiB"),
            "{e:?}"
        );
        assert_eq!(
            m.judge("GETRANGE", &Reply::Bulk(b"ready".to_vec())),
            Ok(true)
        );
        let e = m
            .judge("GETRANGE", &Reply::Bulk(b"starting".to_vec()))
            .unwrap_err();
        assert_eq!(
            &*e.reason,
            "the value of key \"status\" does not match \"^ready$\": \"starting\""
        );
        assert!(m.judge("GETRANGE", &Reply::Nil).is_err());
    }
}
