//! The environment, passed around instead of read from `std::env` all over, so that
//! parsing is a function of its inputs and tests need no global state.

use std::ffi::OsString;

/// The environment the run reads its settings from: this process's own, or a list
/// of pairs (tests and the fuzzer). The default is empty.
#[derive(Debug, Clone)]
pub struct Env(Vars);

impl Default for Env {
    fn default() -> Self {
        Env(Vars::Pairs(Vec::new()))
    }
}

#[derive(Debug, Clone)]
enum Vars {
    /// This process's environment, read at each lookup (whenready never changes
    /// it). Copying every variable at start cost a third of a one-shot check's
    /// instructions, for the handful of names a run looks up (README, Performance).
    Process,
    /// These pairs, searched in order: the first of two equal names wins, as
    /// `getenv` finds it.
    Pairs(Vec<(OsString, OsString)>),
}

impl Env {
    /// The environment of this process.
    pub fn capture() -> Self {
        Env(Vars::Process)
    }

    /// An environment holding just these pairs (for tests and the fuzzer).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Env(Vars::Pairs(
            pairs.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        ))
    }

    /// The value of `name`, if set and not empty. A value that is not UTF-8 is an
    /// error naming the variable.
    pub fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let value = match &self.0 {
            Vars::Pairs(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_encoded_bytes() == name.as_bytes())
                .map(|(_, v)| v.to_str()),
            // A value found is kept for the rest of the process: lookups happen
            // while the command line is read, a few dozen at most, and only the
            // variables that are set cost a copy.
            Vars::Process => std::env::var_os(name).map(|v| {
                v.into_string()
                    .ok()
                    .map(|s| &*Box::leak(s.into_boxed_str()))
            }),
        };
        match value {
            None | Some(Some("")) => Ok(None),
            Some(Some(s)) => Ok(Some(s)),
            Some(None) => Err(format!("{name} is not valid UTF-8")),
        }
    }

    /// The value of `name` or `None` when it is unset, empty or not UTF-8.
    pub fn get_lossy(&self, name: &str) -> Option<&str> {
        self.get(name).ok().flatten()
    }
}
