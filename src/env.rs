//! A snapshot of the environment, passed around instead of read from `std::env`, so
//! that parsing is a pure function of its inputs and tests need no global state.

use std::ffi::OsString;

/// The process environment, captured once at start. A list searched in order, not a
/// hash map: a run looks up a few dozen names among a few dozen variables, and
/// hashing every variable at start cost more than all the lookups (README,
/// Performance). The first of two equal names wins, as `getenv` finds it.
#[derive(Debug, Clone, Default)]
pub struct Env(Vec<(OsString, OsString)>);

impl Env {
    /// Captures the environment of this process.
    pub fn capture() -> Self {
        Env(std::env::vars_os().collect())
    }

    /// An environment holding just these pairs (for tests and the fuzzer).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Env(pairs.iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The value of `name`, if set and not empty. A value that is not UTF-8 is an
    /// error naming the variable.
    pub fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let found = self
            .0
            .iter()
            .find(|(k, _)| k.as_encoded_bytes() == name.as_bytes());
        match found.map(|(_, v)| v) {
            None => Ok(None),
            Some(v) => match v.to_str() {
                Some("") => Ok(None),
                Some(s) => Ok(Some(s)),
                None => Err(format!("{name} is not valid UTF-8")),
            },
        }
    }

    /// The value of `name` or `None` when it is unset, empty or not UTF-8.
    pub fn get_lossy(&self, name: &str) -> Option<&str> {
        self.get(name).ok().flatten()
    }
}
