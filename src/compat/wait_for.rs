//! eficode/wait-for: `host:port` or an `http://` / `https://` URL, `-t`/`--timeout`
//! seconds (0 = none, default 15), `-q`, `-- command`. Silent while waiting; after a
//! timeout `Operation timed out` on stderr and exit 1, the command never runs. Usage
//! errors: 1 for a bad option, 2 for a missing target, 3 for a bad timeout; `--help`
//! exits 0.
//!
//! Fixed while keeping the interface: every target given is waited for (the original
//! keeps only the last), IPv6 literals work, and failures are probed without
//! nc/wget (an http URL is ready on a 2xx after redirects, as with wget).

use super::{lossy, OnDeadline, Plan};
use crate::config::Config;
use crate::env::Env;
use crate::exit::Exit;
use crate::report::{say, Reporter, Voice};
use crate::target::{parse_host_port, Kind, Target};
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

fn fail(program: &str, message: &str, exit: Exit) -> Exit {
    say(message);
    say(&usage(program));
    exit
}

/// Parses the wait-for command line.
pub fn plan(args: &[OsString], env: &Env) -> Result<Plan, Exit> {
    let program = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wait-for".into());
    let mut text: Vec<String> = lossy(args).into_iter().skip(1).collect();
    let mut targets = Vec::new();
    let (mut quiet, mut timeout) = (false, "15".to_string());
    let mut command = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let a = text[i].clone();
        match a.as_str() {
            _ if a.starts_with("http://") || a.starts_with("https://") => {
                let t = Target::parse(&a, env).map_err(|why| {
                    fail(&program, &format!("Error: {why}"), Exit::WAIT_FOR_NO_TARGET)
                })?;
                targets.push(t);
            }
            _ if a.contains(':') && !a.starts_with('-') => {
                let ep = parse_host_port(&a).map_err(|why| {
                    fail(
                        &program,
                        &format!("Error: invalid host:port '{a}': {why}"),
                        Exit::WAIT_FOR_NO_TARGET,
                    )
                })?;
                targets.push(Target {
                    kind: Kind::Tcp(ep),
                    shown: a.clone(),
                });
            }
            "-v" | "--version" => {
                // On stdout, as the original; which tool answers is said too.
                println_version();
                return Err(Exit::Ready);
            }
            "-q" | "--quiet" => quiet = true,
            _ if a.starts_with("-q-") => {
                return Err(fail(
                    &program,
                    &format!("Unknown option: {a}"),
                    Exit::WAIT_FOR_BAD_OPTION,
                ))
            }
            _ if a.starts_with("-q") => {
                // -qt5 is -q -t5
                quiet = true;
                text.insert(i + 1, format!("-{}", &a[2..]));
            }
            "-t" | "--timeout" => {
                timeout = text.get(i + 1).cloned().unwrap_or_default();
                i += 1;
            }
            _ if a.starts_with("--timeout=") => timeout = a["--timeout=".len()..].to_string(),
            _ if a.starts_with("-t") => timeout = a[2..].to_string(),
            "--" => {
                command = args[i + 2..].to_vec();
                break;
            }
            "--help" => {
                say(&usage(&program));
                return Err(Exit::Ready);
            }
            _ if a.starts_with('-') => {
                return Err(fail(
                    &program,
                    &format!("Unknown option: {a}"),
                    Exit::WAIT_FOR_BAD_OPTION,
                ))
            }
            _ => {
                return Err(fail(
                    &program,
                    &format!("Unknown argument: {a}"),
                    Exit::WAIT_FOR_BAD_OPTION,
                ))
            }
        }
        i += 1;
    }
    if targets.is_empty() {
        return Err(fail(
            &program,
            "Error: you need to provide a host and port to test.",
            Exit::WAIT_FOR_NO_TARGET,
        ));
    }
    let timeout = match timeout.parse::<u64>() {
        Ok(t) => Duration::from_secs(t),
        Err(_) => {
            return Err(fail(
                &program,
                &format!("Error: invalid timeout '{timeout}'"),
                Exit::WAIT_FOR_BAD_TIMEOUT,
            ))
        }
    };
    let mut config = Config::new(targets);
    config.timeout = Some(timeout).filter(|t| !t.is_zero());
    config.quiet = quiet;
    config.command = command;
    // The original waits for a 2xx whatever goes wrong; a certificate error, say,
    // ends in "Operation timed out" there too, so nothing is permanent here.
    config.retry_all = true;
    let mut plan = Plan::new(config, Box::new(WaitForVoice { quiet }));
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

/// The original says nothing but `Operation timed out`.
struct WaitForVoice {
    quiet: bool,
}

impl Voice for WaitForVoice {
    fn deadline(&self, r: &Reporter) {
        // Printed even with -q, as the original does.
        say("Operation timed out");
        if !self.quiet {
            // Not in the original: what was still missing, and why.
            for (i, reason, _) in r.unready() {
                say(&format!("wait-for: {}: {reason}", r.names()[i]));
            }
        }
    }
}
