//! docker-compose-wait's `/wait`: configured by environment only. WAIT_HOSTS and
//! WAIT_PATHS (comma-separated), WAIT_TIMEOUT (30), WAIT_BEFORE (0), WAIT_AFTER (0),
//! WAIT_SLEEP_INTERVAL (1), WAIT_HOST_CONNECT_TIMEOUT (5), all in seconds, the
//! deprecated WAIT_HOSTS_TIMEOUT / WAIT_BEFORE_HOSTS / WAIT_AFTER_HOSTS, WAIT_COMMAND
//! (split as a POSIX shell would, then exec'd) and WAIT_LOGGER_LEVEL. Log lines
//! `[INFO  wait] ...` on stderr; exit 1 after a timeout.
//!
//! Different from the original, on purpose: a value that does not parse is an error
//! naming the variable (exit 2) instead of a silent default; hosts and paths are
//! probed concurrently, not one after the other; WAIT_SLEEP_INTERVAL caps a backoff
//! that starts fast; a WAIT_HOSTS entry may also be any whenready target
//! (`postgres://...`); a failed exec exits 126/127 instead of aborting; empty list
//! entries are skipped; arguments on the command line are reported as ignored.

use super::{masked, one_line, seconds};
use crate::config::Config;
use crate::env::Env;
use crate::exit::Exit;
use crate::plan::{OnDeadline, Plan};
use crate::report::{say, Reporter, Voice};
use crate::target::Target;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

const SEPARATOR: &str = "--------------------------------------------------------";

/// env_logger levels, most verbose last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Off,
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Some(Level::Off),
            "error" => Some(Level::Error),
            "warn" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" | "trace" => Some(Level::Debug),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Off => "",
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
        }
    }
}

/// Logs like env_logger without timestamps: `[INFO  wait] message`.
struct Log(Level);

impl Log {
    fn at(&self, level: Level, text: &str) {
        if level <= self.0 && level != Level::Off {
            say(&format!("[{} wait] {text}", level.label()));
        }
    }
}

/// docker-compose-wait's settings, read from the WAIT_* variables.
#[derive(Debug)]
pub struct Settings {
    level: Level,
    /// WAIT_HOSTS entries, then WAIT_PATHS entries.
    pub targets: Vec<Target>,
    /// How many of `targets` are hosts.
    pub hosts: usize,
    /// WAIT_TIMEOUT.
    pub timeout: Duration,
    /// WAIT_BEFORE.
    pub before: Duration,
    /// WAIT_AFTER.
    pub after: Duration,
    /// WAIT_SLEEP_INTERVAL.
    pub interval: Duration,
    /// WAIT_HOST_CONNECT_TIMEOUT.
    pub connect: Duration,
    /// WAIT_COMMAND, split as a POSIX shell would.
    pub command: Vec<OsString>,
    /// Warnings to log (deprecated names, ignored arguments); secrets masked.
    pub warnings: Vec<String>,
}

/// Reads a duration variable, or its deprecated alias, in seconds.
fn duration(
    env: &Env,
    warnings: &mut Vec<String>,
    legacy: Option<&str>,
    name: &str,
    default: u64,
) -> Result<Duration, String> {
    let mut value = None;
    let mut origin = name;
    if let Some(old) = legacy {
        if let Some(v) = env.get(old)? {
            warnings.push(format!(
                "Environment variable [{old}] is deprecated. Use [{name}] instead."
            ));
            value = Some(v);
            origin = old;
        }
    }
    if let Some(v) = env.get(name)? {
        value = Some(v);
        origin = name;
    }
    match value {
        None => Ok(Duration::from_secs(default)),
        Some(v) => seconds(v.trim()).ok_or_else(|| {
            format!(
                "invalid value {v:?} for {origin}: expected a number of seconds such as {default}"
            )
        }),
    }
}

fn list(env: &Env, name: &str) -> Result<Vec<String>, String> {
    Ok(env
        .get(name)?
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// Reads the WAIT_* variables (`args` only to warn that they are ignored). Never
/// prints; the error is one line that names the variable, secrets masked.
pub fn parse(args: &[OsString], env: &Env) -> Result<Settings, String> {
    read(args, env).map_err(|e| one_line(&masked(&e)))
}

fn read(args: &[OsString], env: &Env) -> Result<Settings, String> {
    let level = match env.get("WAIT_LOGGER_LEVEL")? {
        None => Level::Debug,
        Some(v) => Level::parse(v).ok_or_else(|| {
            format!("invalid value {v:?} for WAIT_LOGGER_LEVEL: expected debug, info, warn, error or off")
        })?,
    };
    let mut warnings = Vec::new();
    let hosts = list(env, "WAIT_HOSTS")?;
    let paths = list(env, "WAIT_PATHS")?;
    let timeout = duration(
        env,
        &mut warnings,
        Some("WAIT_HOSTS_TIMEOUT"),
        "WAIT_TIMEOUT",
        30,
    )?;
    let before = duration(
        env,
        &mut warnings,
        Some("WAIT_BEFORE_HOSTS"),
        "WAIT_BEFORE",
        0,
    )?;
    let after = duration(
        env,
        &mut warnings,
        Some("WAIT_AFTER_HOSTS"),
        "WAIT_AFTER",
        0,
    )?;
    let interval = duration(env, &mut warnings, None, "WAIT_SLEEP_INTERVAL", 1)?;
    let connect = duration(env, &mut warnings, None, "WAIT_HOST_CONNECT_TIMEOUT", 5)?;
    if connect.is_zero() {
        return Err(
            "invalid value \"0\" for WAIT_HOST_CONNECT_TIMEOUT: expected at least 1 second".into(),
        );
    }
    let command_text = env.get("WAIT_COMMAND")?.unwrap_or("").trim().to_string();
    let command: Vec<OsString> = if command_text.is_empty() {
        Vec::new()
    } else {
        shell_words::split(&command_text)
            .map_err(|e| format!("invalid WAIT_COMMAND: {e}"))?
            .into_iter()
            .map(OsString::from)
            .collect()
    };
    if args.len() > 1 {
        warnings
            .push("Command-line arguments are ignored: set WAIT_COMMAND to run a command".into());
    }
    let mut targets = Vec::new();
    for h in &hosts {
        targets.push(
            Target::parse(h, env).map_err(|why| format!("invalid entry in WAIT_HOSTS: {why}"))?,
        );
    }
    for p in &paths {
        targets.push(Target::file(PathBuf::from(p), one_line(&masked(p))));
    }
    Ok(Settings {
        level,
        targets,
        hosts: hosts.len(),
        timeout,
        before,
        after,
        interval,
        connect,
        command,
        warnings: warnings.iter().map(|w| masked(w)).collect(),
    })
}

/// Reads the WAIT_* variables into a run and logs the configuration as the original
/// does; an invalid value is `[ERROR wait] ...` and exit 2.
pub fn plan(args: &[OsString], env: &Env) -> Result<Plan, Exit> {
    let s = parse(args, env).map_err(|e| {
        say(&format!("[ERROR wait] {e}"));
        Exit::Usage
    })?;
    let log = Log(s.level);
    for w in &s.warnings {
        log.at(Level::Warn, w);
    }
    let names: Vec<String> = s.targets.iter().map(|t| t.shown.clone()).collect();
    let (host_names, path_names) = names.split_at(s.hosts);

    log.at(Level::Info, SEPARATOR);
    log.at(
        Level::Info,
        &format!(
            " docker-compose-wait {} (whenready)",
            env!("CARGO_PKG_VERSION")
        ),
    );
    log.at(Level::Info, "---------------------------");
    log.at(Level::Debug, "Starting with configuration:");
    log.at(
        Level::Debug,
        &format!(" - Hosts to be waiting for: [{}]", host_names.join(",")),
    );
    log.at(
        Level::Debug,
        &format!(" - Paths to be waiting for: [{}]", path_names.join(",")),
    );
    log.at(
        Level::Debug,
        &format!(
            " - Timeout before failure: {} seconds ",
            s.timeout.as_secs_f64()
        ),
    );
    log.at(
        Level::Debug,
        &format!(
            " - TCP connection timeout before retry: {} seconds ",
            s.connect.as_secs_f64()
        ),
    );
    if let Some(program) = s.command.first() {
        // The program only: arguments may carry secrets.
        log.at(
            Level::Debug,
            &format!(
                " - Command to run once ready: {}",
                masked(&program.to_string_lossy())
            ),
        );
    }
    log.at(
        Level::Debug,
        &format!(
            " - Sleeping time before checking for hosts/paths availability: {} seconds",
            s.before.as_secs_f64()
        ),
    );
    log.at(
        Level::Debug,
        &format!(
            " - Sleeping time once all hosts/paths are available: {} seconds",
            s.after.as_secs_f64()
        ),
    );
    log.at(
        Level::Debug,
        &format!(
            " - Sleeping time between retries: {} seconds",
            s.interval.as_secs_f64()
        ),
    );
    log.at(Level::Debug, SEPARATOR);

    let mut config = Config::new(s.targets);
    // WAIT_TIMEOUT=0: the original gives up after the first failed probe.
    config.once = s.timeout.is_zero();
    config.timeout = Some(s.timeout).filter(|t| !t.is_zero());
    config.interval = s.interval;
    config.attempt_timeout = s.connect;
    config.command = s.command;
    let voice = ComposeVoice {
        log,
        hosts: s.hosts,
        timeout: s.timeout.as_secs(),
    };
    let mut plan = Plan::new(config, Box::new(voice));
    plan.on_deadline = OnDeadline::Exit(Exit::NotReady);
    plan.before = s.before;
    plan.after = s.after;
    Ok(plan)
}

/// The original's log lines. Targets are probed concurrently, so every "Checking
/// availability" line comes first; "not yet available" is logged when the reason
/// changes, not at every attempt.
struct ComposeVoice {
    log: Log,
    /// The first `hosts` targets are WAIT_HOSTS, the rest WAIT_PATHS.
    hosts: usize,
    timeout: u64,
}

impl ComposeVoice {
    fn timed_out(&self, r: &Reporter) {
        let unready = r.unready();
        if unready.iter().any(|(i, _, _)| *i < self.hosts) {
            self.log.at(
                Level::Error,
                &format!(
                    "Timeout! After {} seconds some hosts are still not reachable",
                    self.timeout
                ),
            );
        } else {
            self.log.at(
                Level::Error,
                &format!(
                    "Timeout! After [{}] seconds some paths are still not reachable",
                    self.timeout
                ),
            );
        }
        for (i, reason, attempts) in unready {
            self.log.at(
                Level::Error,
                &format!(" - {}: {reason} ({attempts} attempts)", r.names()[i]),
            );
        }
    }
}

impl Voice for ComposeVoice {
    fn begin(&self, r: &Reporter) {
        for (i, name) in r.names().iter().enumerate() {
            let what = if i < self.hosts { "host" } else { "path" };
            self.log.at(
                Level::Info,
                &format!("Checking availability of {what} [{name}]"),
            );
        }
    }

    fn not_ready(&self, r: &Reporter, i: usize, reason: &str, permanent: bool, _last: bool) {
        let name = &r.names()[i];
        if permanent {
            self.log.at(
                Level::Error,
                &format!("Host [{name}] failed permanently: {reason}"),
            );
        } else if i < self.hosts {
            self.log.at(
                Level::Info,
                &format!("Host [{name}] not yet available... ({reason})"),
            );
        } else {
            self.log
                .at(Level::Info, &format!("Path {name} not yet available..."));
        }
    }

    fn ready(&self, r: &Reporter, i: usize) {
        let what = if i < self.hosts { "Host" } else { "Path" };
        self.log.at(
            Level::Info,
            &format!("{what} [{}] is now available!", r.names()[i]),
        );
        self.log.at(Level::Info, SEPARATOR);
    }

    fn deadline(&self, r: &Reporter) {
        self.timed_out(r);
    }

    fn once_failed(&self, r: &Reporter) {
        self.timed_out(r);
    }

    fn signal(&self, _r: &Reporter, name: &str) {
        self.log.at(Level::Error, &format!("Interrupted by {name}"));
    }

    fn pause(&self, _r: &Reporter, d: Duration, before: bool) {
        let s = d.as_secs_f64();
        if before {
            self.log.at(
                Level::Info,
                &format!("Waiting {s} seconds before checking for hosts/paths availability"),
            );
        } else {
            self.log.at(
                Level::Info,
                &format!("Waiting {s} seconds after hosts/paths availability"),
            );
        }
        self.log.at(Level::Info, SEPARATOR);
    }

    fn done(&self, _r: &Reporter, _program: Option<&std::ffi::OsStr>) {
        self.log.at(
            Level::Info,
            "docker-compose-wait - Everything's fine, the application can now start!",
        );
        self.log.at(Level::Info, SEPARATOR);
    }
}

#[cfg(test)]
mod tests {
    use super::Level;

    #[test]
    fn levels() {
        assert_eq!(Level::parse("INFO"), Some(Level::Info));
        assert_eq!(Level::parse("off"), Some(Level::Off));
        assert_eq!(Level::parse("verbose"), None);
        assert!(Level::Error < Level::Info);
    }
}
