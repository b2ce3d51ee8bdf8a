//! vishnubob/wait-for-it (`wait-for-it.sh`): one `host:port`, `-h/--host=`,
//! `-p/--port=`, `-t/--timeout=` seconds (0 = none, default 15), `-s/--strict`,
//! `-q/--quiet`, `-- command`. Messages on stderr as the original prints them, exit
//! 124 after a timeout (GNU timeout's status, which the original passes on), usage
//! errors exit 1. Without `--strict` the command runs even after a timeout.
//!
//! Fixed while keeping the interface: IPv6 literals (`[::1]:5432`, `-h ::1`), a bad
//! port or timeout is an error instead of a silent wait, probes are fast and bounded.

use super::{lossy, seconds, OnDeadline, Plan};
use crate::config::Config;
use crate::exit::Exit;
use crate::report::{say, Reporter, Voice};
use crate::target::{parse_host_port, Kind, Target};
use std::ffi::OsString;
use std::time::Duration;

const DEFAULT_TIMEOUT: u64 = 15;

fn usage(name: &str) -> String {
    format!(
        "Usage:
    {name} host:port [-s] [-t timeout] [-- command args]
    -h HOST | --host=HOST       Host or IP under test
    -p PORT | --port=PORT       TCP port under test
                                Alternatively, you specify the host and port as host:port
    -s | --strict               Only execute subcommand if the test succeeds
    -q | --quiet                Don't output any status messages
    -t TIMEOUT | --timeout=TIMEOUT
                                Timeout in seconds, zero for no timeout
    -- COMMAND ARGS             Execute command with args after the test finishes"
    )
}

/// The original prints its usage to stderr and exits 1 for every usage problem
/// (`--help` included); the message before it is not silenced by `-q` here.
fn fail(name: &str, message: Option<String>) -> Exit {
    if let Some(m) = message {
        say(&m);
    }
    say(&usage(name));
    Exit::WAIT_FOR_IT_USAGE
}

/// Parses the wait-for-it command line.
pub fn plan(args: &[OsString]) -> Result<Plan, Exit> {
    let name = args
        .first()
        .map(|a| {
            a.to_string_lossy()
                .rsplit('/')
                .next()
                .unwrap_or("wait-for-it")
                .to_string()
        })
        .unwrap_or_else(|| "wait-for-it".into());
    let text = lossy(args);
    let (mut host, mut port, mut timeout) = (String::new(), String::new(), None::<String>);
    let (mut quiet, mut strict) = (false, false);
    let mut command = Vec::new();
    let mut i = 1;
    while i < text.len() {
        let a = text[i].as_str();
        let next = text.get(i + 1).cloned().unwrap_or_default();
        match a {
            "--" => {
                command = args[i + 1..].to_vec();
                break;
            }
            "--child" => {}
            "-q" | "--quiet" => quiet = true,
            "-s" | "--strict" => strict = true,
            "-h" | "-p" | "-t" => {
                // The original stops parsing at an empty or missing value.
                if next.is_empty() {
                    break;
                }
                match a {
                    "-h" => host = next,
                    "-p" => port = next,
                    _ => timeout = Some(next),
                }
                i += 1;
            }
            "--help" => return Err(fail(&name, None)),
            _ if a.starts_with("--host=") => host = a["--host=".len()..].to_string(),
            _ if a.starts_with("--port=") => port = a["--port=".len()..].to_string(),
            _ if a.starts_with("--timeout=") => timeout = Some(a["--timeout=".len()..].to_string()),
            _ if a.contains(':') => {
                // [IPV6]:PORT is understood; the original would split it on every ':'.
                match a.strip_prefix('[').and_then(|r| r.split_once("]:")) {
                    Some((h, p)) => (host, port) = (h.to_string(), p.to_string()),
                    None => {
                        let mut parts = a.split(':');
                        host = parts.next().unwrap_or("").to_string();
                        port = parts.next().unwrap_or("").to_string();
                    }
                }
            }
            _ => return Err(fail(&name, Some(format!("Unknown argument: {a}")))),
        }
        i += 1;
    }
    if host.is_empty() || port.is_empty() {
        return Err(fail(
            &name,
            Some("Error: you need to provide a host and port to test.".into()),
        ));
    }
    let timeout = match timeout {
        None => Duration::from_secs(DEFAULT_TIMEOUT),
        Some(t) => {
            seconds(&t).ok_or_else(|| fail(&name, Some(format!("Error: invalid timeout '{t}'"))))?
        }
    };
    let literal = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let endpoint = parse_host_port(&literal).map_err(|why| {
        fail(
            &name,
            Some(format!("Error: invalid host:port '{host}:{port}': {why}")),
        )
    })?;
    let shown = format!("{host}:{port}");
    let mut config = Config::new(vec![Target {
        kind: Kind::Tcp(endpoint),
        shown: shown.clone(),
    }]);
    config.timeout = Some(timeout).filter(|t| !t.is_zero());
    config.quiet = quiet;
    // The original tests only the first word: `-- "" x` counts as no command.
    let has_command = command.first().is_some_and(|c| !c.is_empty());
    let run_anyway = !strict && has_command;
    config.command = command;
    let voice = WaitForItVoice {
        name,
        quiet,
        refuse: strict && has_command,
        timeout: timeout.as_secs(),
        target: shown,
    };
    let mut plan = Plan::new(config, Box::new(voice));
    plan.on_deadline = if run_anyway {
        OnDeadline::RunCommand
    } else {
        OnDeadline::Exit(Exit::WAIT_FOR_IT_TIMEOUT)
    };
    plan.usage_exit = Exit::WAIT_FOR_IT_USAGE;
    Ok(plan)
}

/// The original's messages: `NAME: waiting 15 seconds for HOST:PORT`, ...
struct WaitForItVoice {
    name: String,
    quiet: bool,
    /// `--strict` with a command: say so when refusing to run it.
    refuse: bool,
    timeout: u64,
    target: String,
}

impl WaitForItVoice {
    fn echoerr(&self, text: &str) {
        if !self.quiet {
            say(&format!("{}: {text}", self.name));
        }
    }
}

impl Voice for WaitForItVoice {
    fn begin(&self, _r: &Reporter) {
        if self.timeout > 0 {
            self.echoerr(&format!(
                "waiting {} seconds for {}",
                self.timeout, self.target
            ));
        } else {
            self.echoerr(&format!("waiting for {} without a timeout", self.target));
        }
    }

    fn ready(&self, r: &Reporter, i: usize) {
        let secs = r.ready_after(i).unwrap_or_default().as_secs();
        self.echoerr(&format!(
            "{} is available after {secs} seconds",
            self.target
        ));
    }

    fn deadline(&self, r: &Reporter) {
        self.echoerr(&format!(
            "timeout occurred after waiting {} seconds for {}",
            self.timeout, self.target
        ));
        // Not in the original: the reason, which it never knew.
        if let Some((_, reason, _)) = r.unready().first() {
            self.echoerr(&format!("last attempt: {reason}"));
        }
        if self.refuse {
            self.echoerr("strict mode, refusing to execute subprocess");
        }
    }

    fn signal(&self, _r: &Reporter, name: &str) {
        self.echoerr(&format!(
            "interrupted by {name} while waiting for {}",
            self.target
        ));
    }
}
