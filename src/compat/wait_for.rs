//! eficode/wait-for: `host:port` or an `http://` / `https://` URL, `-t`/`--timeout`
//! seconds (0 = none, default 15), `-q`, `-- command`. Silent while waiting; after a
//! timeout `Operation timed out` on stderr and exit 1, the command never runs. Usage
//! errors: 1 for a bad option, 2 for a missing target, 3 for a bad timeout; `--help`
//! exits 0.
//!
//! Fixed while keeping the interface: every target given is waited for (the original
//! keeps only the last), IPv6 literals work, any whenready URL is understood
//! (`postgres://...`), and failures are probed without nc/wget (an http URL is
//! ready on a 2xx after redirects, as with wget). No message echoes a password.

use super::{masked, one_line, Stop};
use crate::config::Config;
use crate::endpoint::parse_host_port;
use crate::env::Env;
use crate::exit::Exit;
use crate::plan::{OnDeadline, Plan};
use crate::report::{say, Reporter, Voice};
use crate::target::Target;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::time::Duration;

/// The version of eficode/wait-for whose interface this follows.
pub const ORIGINAL_VERSION: &str = "2.2.4";

fn usage(program: &str) -> String {
    format!(
        "Usage:
  {program} host:port|url [-t timeout] [-- command args]
  -q | --quiet                        Do not output any status messages
  -t TIMEOUT | --timeout=timeout      Timeout in seconds, zero for no timeout
                                      Defaults to 15 seconds
  -v | --version                      Show the version of this tool
  -- COMMAND ARGS                     Execute command with args after the test finishes"
    )
}

/// A wait-for command line, parsed.
#[derive(Debug)]
pub struct Args {
    /// Every target given (the original keeps only the last).
    pub targets: Vec<Target>,
    /// Zero for none.
    pub timeout: Duration,
    /// `-q`.
    pub quiet: bool,
    /// What follows `--`, byte for byte.
    pub command: Vec<OsString>,
}

/// Parses the wait-for command line (`args[0]` is the program). Never prints; every
/// [`Stop::Usage`] message is one line with secrets masked.
pub fn parse(args: &[OsString], env: &Env) -> Result<Args, Stop> {
    // One work list: bundled options (`-qt5`) are expanded into it, and the command
    // is taken from it, so indices never disagree.
    let mut rest: VecDeque<OsString> = args.iter().skip(1).cloned().collect();
    let mut targets = Vec::new();
    let (mut quiet, mut timeout) = (false, "15".to_string());
    let mut command = Vec::new();
    while let Some(arg) = rest.pop_front() {
        let a = arg.to_string_lossy().into_owned();
        match a.as_str() {
            _ if a.contains("://") && !a.starts_with('-') => {
                // http(s) as the original; any other whenready URL too.
                let t = Target::parse(&a, env).map_err(|why| {
                    Stop::usage(&format!("Error: {why}"), Exit::WAIT_FOR_NO_TARGET)
                })?;
                targets.push(t);
            }
            _ if a.contains(':') && !a.starts_with('-') => {
                let endpoint = parse_host_port(&a).map_err(|why| {
                    let why = if a.contains('@') {
                        "credentials are no part of HOST:PORT (give a URL, such as postgres://...)"
                            .to_string()
                    } else {
                        why
                    };
                    Stop::usage(
                        &format!("Error: invalid host:port '{a}': {why}"),
                        Exit::WAIT_FOR_NO_TARGET,
                    )
                })?;
                targets.push(Target::tcp(endpoint, one_line(&masked(&a))));
            }
            "-v" | "--version" => return Err(Stop::Version),
            "-q" | "--quiet" => quiet = true,
            _ if a.starts_with("-q-") => {
                return Err(Stop::usage(
                    &format!("Unknown option: {a}"),
                    Exit::WAIT_FOR_BAD_OPTION,
                ))
            }
            _ if a.starts_with("-q") => {
                // -qt5 is -q -t5: the rest goes back on the list as an option.
                quiet = true;
                rest.push_front(OsString::from(format!("-{}", &a[2..])));
            }
            "-t" | "--timeout" => {
                timeout = rest
                    .pop_front()
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
            }
            _ if a.starts_with("--timeout=") => timeout = a["--timeout=".len()..].to_string(),
            _ if a.starts_with("-t") => timeout = a[2..].to_string(),
            "--" => {
                command = rest.drain(..).collect();
                break;
            }
            "--help" => return Err(Stop::Help),
            _ if a.starts_with('-') => {
                return Err(Stop::usage(
                    &format!("Unknown option: {a}"),
                    Exit::WAIT_FOR_BAD_OPTION,
                ))
            }
            _ => {
                return Err(Stop::usage(
                    &format!("Unknown argument: {a}"),
                    Exit::WAIT_FOR_BAD_OPTION,
                ))
            }
        }
    }
    // The original checks the timeout before the target.
    let Ok(timeout) = timeout.parse::<u64>().map(Duration::from_secs) else {
        return Err(Stop::usage(
            &format!("Error: invalid timeout '{timeout}'"),
            Exit::WAIT_FOR_BAD_TIMEOUT,
        ));
    };
    if targets.is_empty() {
        return Err(Stop::usage(
            "Error: you need to provide a host and port to test.",
            Exit::WAIT_FOR_NO_TARGET,
        ));
    }
    Ok(Args {
        targets,
        timeout,
        quiet,
        command,
    })
}

/// Parses the wait-for command line into a run; prints what the original prints for
/// `--help`, `-v` and usage errors.
pub fn plan(args: &[OsString], env: &Env) -> Result<Plan, Exit> {
    let program = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wait-for".into());
    let parsed = parse(args, env).map_err(|stop| match stop {
        Stop::Help => {
            say(&usage(&program));
            Exit::Ready
        }
        Stop::Version => {
            println_version();
            Exit::Ready
        }
        Stop::Usage { message, exit } => {
            say(&message);
            say(&usage(&program));
            exit
        }
    })?;
    let mut config = Config::new(parsed.targets);
    config.timeout = Some(parsed.timeout).filter(|t| !t.is_zero());
    config.quiet = parsed.quiet;
    config.command = parsed.command;
    // The original waits for a 2xx whatever goes wrong; a certificate error, say,
    // ends in "Operation timed out" there too, so nothing is permanent here.
    config.retry_all = true;
    let mut plan = Plan::new(config, Box::new(WaitForVoice));
    plan.on_deadline = OnDeadline::Exit(Exit::NotReady);
    plan.usage_exit = Exit::WAIT_FOR_BAD_OPTION;
    Ok(plan)
}

#[allow(clippy::print_stdout)]
fn println_version() {
    // stdout is the original's channel for -v; nothing else of whenready's goes there.
    println!(
        "{ORIGINAL_VERSION} (whenready {})",
        env!("CARGO_PKG_VERSION")
    );
}

/// The original says nothing but `Operation timed out`, and neither do we: scripts
/// and its own test suite compare that line exactly. (The reasons are whenready's:
/// run the same targets with `whenready` to see them.)
struct WaitForVoice;

impl Voice for WaitForVoice {
    fn deadline(&self, _r: &Reporter) {
        // Printed even with -q, as the original does.
        say("Operation timed out");
    }
}
