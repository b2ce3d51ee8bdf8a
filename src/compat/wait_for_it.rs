//! vishnubob/wait-for-it (`wait-for-it.sh`): one `host:port`, `-h/--host=`,
//! `-p/--port=`, `-t/--timeout=` seconds (0 = none, default 15), `-s/--strict`,
//! `-q/--quiet`, `-- command`. Messages on stderr as the original prints them, exit
//! 124 after a timeout (GNU timeout's status, which the original passes on), usage
//! errors exit 1. Without `--strict` the command runs even after a timeout.
//!
//! Fixed while keeping the interface: IPv6 literals (`[::1]:5432`, `-h ::1`), a bad
//! port or timeout is an error instead of a silent wait, probes are fast and bounded.

use super::{lossy, masked, seconds, Stop};
use crate::config::Config;
use crate::endpoint::parse_host_port;
use crate::exit::Exit;
use crate::plan::{OnDeadline, Plan};
use crate::report::{say, Reporter, Voice};
use crate::target::Target;
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

/// A wait-for-it command line, parsed.
#[derive(Debug)]
pub struct Args {
    /// The program's base name, as the original's messages name it.
    pub name: String,
    /// The endpoint to wait for.
    pub target: Target,
    /// Zero for none.
    pub timeout: Duration,
    /// `-q`.
    pub quiet: bool,
    /// `-s`.
    pub strict: bool,
    /// What follows `--`; empty when there is none or its first word is empty (the
    /// original tests only `${WAITFORIT_CLI}`, the first word, and then execs
    /// nothing: `-- "" x` runs no command).
    pub command: Vec<OsString>,
}

/// The program's base name for messages.
pub fn program_name(args: &[OsString]) -> String {
    args.first()
        .map(|a| {
            a.to_string_lossy()
                .rsplit('/')
                .next()
                .unwrap_or("wait-for-it")
                .to_string()
        })
        .unwrap_or_else(|| "wait-for-it".into())
}

/// Parses the wait-for-it command line (`args[0]` is the program). Never prints;
/// every [`Stop::Usage`] message is one line with secrets masked. The original exits
/// 1 for every usage problem.
pub fn parse(args: &[OsString]) -> Result<Args, Stop> {
    let usage = |m: String| Stop::usage(&m, Exit::WAIT_FOR_IT_USAGE);
    let name = program_name(args);
    let text = lossy(args);
    let (mut host, mut port, mut timeout) = (String::new(), String::new(), None::<String>);
    let (mut quiet, mut strict) = (false, false);
    let mut command: &[OsString] = &[];
    let mut i = 1;
    while i < text.len() {
        let a = text[i].as_str();
        let next = text.get(i + 1).cloned().unwrap_or_default();
        match a {
            "--" => {
                command = &args[i + 1..];
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
            "--help" => return Err(Stop::Help),
            _ if a.starts_with("--host=") => host = a["--host=".len()..].to_string(),
            _ if a.starts_with("--port=") => port = a["--port=".len()..].to_string(),
            _ if a.starts_with("--timeout=") => timeout = Some(a["--timeout=".len()..].to_string()),
            _ if a.contains("://") => {
                // The original would split the URL on ':' and wait on garbage.
                return Err(usage(format!(
                    "Error: '{a}' is a URL: {name} takes HOST:PORT (whenready itself takes URLs)"
                )));
            }
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
            _ => return Err(usage(format!("Unknown argument: {a}"))),
        }
        i += 1;
    }
    if host.is_empty() || port.is_empty() {
        return Err(usage(
            "Error: you need to provide a host and port to test.".into(),
        ));
    }
    if host.contains('@') || port.contains('@') {
        return Err(usage(format!(
            "Error: invalid host:port '{host}:{port}': credentials are no part of HOST:PORT"
        )));
    }
    let timeout = match timeout {
        None => Duration::from_secs(DEFAULT_TIMEOUT),
        Some(t) => seconds(&t).ok_or_else(|| usage(format!("Error: invalid timeout '{t}'")))?,
    };
    let literal = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let endpoint = parse_host_port(&literal)
        .map_err(|why| usage(format!("Error: invalid host:port '{host}:{port}': {why}")))?;
    // One decision, used for both: whether there is a command, and what runs.
    let command = if command.first().is_some_and(|c| !c.is_empty()) {
        command.to_vec()
    } else {
        Vec::new()
    };
    Ok(Args {
        name,
        target: Target::tcp(endpoint, masked(&format!("{host}:{port}"))),
        timeout,
        quiet,
        strict,
        command,
    })
}

/// Parses the wait-for-it command line into a run; prints the original's usage for
/// `--help` and usage errors (exit 1).
pub fn plan(args: &[OsString]) -> Result<Plan, Exit> {
    let a = parse(args).map_err(|stop| {
        match stop {
            Stop::Usage { message, .. } => say(&message),
            Stop::Help | Stop::Version => {}
        }
        say(&usage(&program_name(args)));
        Exit::WAIT_FOR_IT_USAGE
    })?;
    let shown = a.target.shown.clone();
    let mut config = Config::new(vec![a.target]);
    config.timeout = Some(a.timeout).filter(|t| !t.is_zero());
    config.quiet = a.quiet;
    let has_command = !a.command.is_empty();
    config.command = a.command;
    let voice = WaitForItVoice {
        name: a.name,
        quiet: a.quiet,
        refuse: a.strict && has_command,
        timeout: a.timeout.as_secs(),
        target: shown,
    };
    let mut plan = Plan::new(config, Box::new(voice));
    plan.on_deadline = if !a.strict && has_command {
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
