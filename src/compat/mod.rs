//! Drop-in names: invoked as `wait-for-it`, `wait-for-it.sh`, `wait-for` or `wait`
//! (a link or copy under that name; argv[0] decides), whenready speaks that tool's
//! command line, messages and exit codes, over its own wait engine: concurrent
//! probes, a deadline that holds, signals handled as PID 1, exec.

pub mod compose_wait;
pub mod wait_for;
pub mod wait_for_it;

use crate::config::Config;
use crate::exit::Exit;
use crate::report::Voice;
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

/// What to do when the deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDeadline {
    /// Exit with this status.
    Exit(Exit),
    /// Run COMMAND anyway (wait-for-it without `--strict`).
    RunCommand,
}

/// A whole run: what to wait for, how to speak, and the rules of the personality.
pub struct Plan {
    /// Targets, deadline, command.
    pub config: Config,
    /// How events are printed.
    pub voice: Box<dyn Voice>,
    /// What a passed deadline means.
    pub on_deadline: OnDeadline,
    /// Exit status for a usage error found after parsing (an unreadable CA file).
    pub usage_exit: Exit,
    /// A pause before the first probe (docker-compose-wait's WAIT_BEFORE).
    pub before: Duration,
    /// A pause between readiness and exec (WAIT_AFTER).
    pub after: Duration,
}

impl Plan {
    /// A plan with whenready's rules for these settings.
    pub fn new(config: Config, voice: Box<dyn Voice>) -> Plan {
        Plan {
            config,
            voice,
            on_deadline: OnDeadline::Exit(Exit::NotReady),
            usage_exit: Exit::Usage,
            before: Duration::ZERO,
            after: Duration::ZERO,
        }
    }
}

/// The arguments after argv[0] as UTF-8 where they are (a non-UTF-8 option can never
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
    fn seconds_are_plain_numbers() {
        assert_eq!(seconds("15"), Some(Duration::from_secs(15)));
        assert_eq!(seconds("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(seconds("0"), Some(Duration::ZERO));
        for bad in ["", "-1", "abc", "1s", "1.2.3"] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
    }
}
