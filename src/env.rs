//! A snapshot of the environment, passed around instead of read from `std::env`, so
//! that parsing is a pure function of its inputs and tests need no global state.

use std::collections::HashMap;
use std::ffi::OsString;

/// The process environment, captured once at start.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<OsString, OsString>);

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
        match self.0.get(std::ffi::OsStr::new(name)) {
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
