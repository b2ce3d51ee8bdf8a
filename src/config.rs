//! From the raw command line and the environment to a typed, validated [`Config`].
//!
//! The command line wins over `WHENREADY_*` variables, which win over defaults. Every
//! bad value is a [`UsageError`] that names where it came from (`--timeout` or
//! `WHENREADY_TIMEOUT`) and says what would be valid. No I/O happens here.

use crate::cli::Cli;
use crate::duration;
use crate::env::Env;
use crate::probe::status::StatusSet;
use crate::target::Target;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Default deadline for all targets together.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap of the backoff between attempts at one target.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);
/// Default bound of one attempt.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// A usage error: the message names the bad input; the exit status is 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to wait for and how; everything the run needs, already validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Targets from the command line, then from `WHENREADY_TARGETS`.
    pub targets: Vec<Target>,
    /// The deadline for all targets; `None` waits forever (`-t 0`).
    pub timeout: Option<Duration>,
    /// The cap of the backoff between attempts at one target.
    pub interval: Duration,
    /// The most one attempt may take.
    pub attempt_timeout: Duration,
    /// One attempt per target, no retries.
    pub once: bool,
    /// Wait until every target is not ready.
    pub reverse: bool,
    /// How long a target must stay ready (or gone) before it counts.
    pub stable: Duration,
    /// Print only the final reason of a failure.
    pub quiet: bool,
    /// Print events as JSON lines.
    pub json: bool,
    /// Treat permanent failures as transient.
    pub retry_all: bool,
    /// HTTP statuses that count as ready.
    pub http_status: StatusSet,
    /// Extra CA certificates for https and rediss.
    pub cacert: Option<PathBuf>,
    /// Client certificate and key (`--cert`, `--key`) for every TLS kind.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Skip certificate verification for https and rediss.
    pub insecure: bool,
    /// The command to exec, argv exactly as given.
    pub command: Vec<OsString>,
}

/// Where a value came from, for error messages: the option and its variable.
struct Source<'a> {
    flag: &'a str,
    var: &'static str,
}

impl Source<'_> {
    /// The option `flag` (`--attempt-timeout`) and its variable, as the option's
    /// row in [`crate::cli::OPTIONS`] names it (`WHENREADY_ATTEMPT_TIMEOUT`).
    fn new(flag: &str) -> Source<'_> {
        let var = crate::cli::Opt::named(flag.trim_start_matches('-'))
            .and_then(crate::cli::Opt::var)
            .unwrap_or_else(|| unreachable!("{flag} has no variable"));
        Source { flag, var }
    }
}

/// The value of an option: the command line, else its variable. The second element
/// names the origin for messages.
fn pick(
    cli: Option<String>,
    src: &Source,
    env: &Env,
) -> Result<Option<(String, String)>, UsageError> {
    if let Some(v) = cli {
        return Ok(Some((v, src.flag.to_string())));
    }
    match env.get(src.var) {
        Ok(Some(v)) => Ok(Some((v.to_string(), src.var.to_string()))),
        Ok(None) => Ok(None),
        Err(e) => Err(UsageError(e)),
    }
}

/// A duration option, with where it came from (the flag or the variable).
fn duration_opt(
    cli: Option<String>,
    flag: &str,
    env: &Env,
) -> Result<Option<(Duration, String)>, UsageError> {
    let src = Source::new(flag);
    match pick(cli, &src, env)? {
        None => Ok(None),
        Some((text, origin)) => match duration::parse(&text) {
            Ok(d) => Ok(Some((d, origin))),
            Err(_) => Err(UsageError(format!(
                "invalid duration {text:?} for {origin}: try 500ms, 30s, 2m, 1h30m or a number of seconds such as 15 or 2.5"
            ))),
        },
    }
}

fn switch(cli: bool, flag: &str, env: &Env) -> Result<bool, UsageError> {
    if cli {
        return Ok(true);
    }
    let src = Source::new(flag);
    match env.get(src.var).map_err(UsageError)? {
        None => Ok(false),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(UsageError(format!(
                "invalid value {v:?} for {}: expected 1/true/yes or 0/false/no",
                src.var
            ))),
        },
    }
}

/// `--cert` and `--key` (or their variables): both or neither.
fn client_cert(
    cert: Option<OsString>,
    key: Option<OsString>,
    env: &Env,
) -> Result<Option<(PathBuf, PathBuf)>, UsageError> {
    let path =
        |cli: Option<OsString>, flag: &str| -> Result<Option<(PathBuf, String)>, UsageError> {
            if let Some(p) = cli {
                return Ok(Some((PathBuf::from(p), flag.to_string())));
            }
            let var = Source::new(flag).var;
            Ok(env
                .get(var)
                .map_err(UsageError)?
                .map(|p| (PathBuf::from(p), var.to_string())))
        };
    match (path(cert, "--cert")?, path(key, "--key")?) {
        (Some((c, _)), Some((k, _))) => Ok(Some((c, k))),
        (None, None) => Ok(None),
        (Some((_, origin)), None) => Err(UsageError(format!(
            "{origin} needs a private key: give --key FILE (or WHENREADY_KEY)"
        ))),
        (None, Some((_, origin))) => Err(UsageError(format!(
            "{origin} needs a certificate: give --cert FILE (or WHENREADY_CERT)"
        ))),
    }
}

impl Config {
    /// Default settings for these targets and no command.
    pub fn new(targets: Vec<Target>) -> Config {
        Config {
            targets,
            timeout: Some(DEFAULT_TIMEOUT),
            interval: DEFAULT_INTERVAL,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            once: false,
            reverse: false,
            stable: Duration::ZERO,
            quiet: false,
            json: false,
            retry_all: false,
            http_status: StatusSet::default(),
            cacert: None,
            client_cert: None,
            insecure: false,
            command: Vec::new(),
        }
    }

    /// Builds the configuration from a parsed command line and the environment.
    pub fn from_cli(cli: Cli, env: &Env) -> Result<Config, UsageError> {
        let timeout = duration_opt(cli.timeout, "--timeout", env)?.map_or(DEFAULT_TIMEOUT, |d| d.0);
        let interval =
            duration_opt(cli.interval, "--interval", env)?.map_or(DEFAULT_INTERVAL, |d| d.0);
        let attempt_timeout = match duration_opt(cli.attempt_timeout, "--attempt-timeout", env)? {
            None => DEFAULT_ATTEMPT_TIMEOUT,
            Some((d, origin)) if d.is_zero() => {
                return Err(UsageError(format!(
                    "{origin} must be more than 0 (it bounds one attempt; -t 0 waits forever)"
                )))
            }
            Some((d, _)) => d,
        };
        let stable = duration_opt(cli.stable, "--stable", env)?;
        let once = switch(cli.once, "--once", env)?;
        if let (true, Some((d, origin))) = (once, &stable) {
            if !d.is_zero() {
                return Err(UsageError(format!(
                    "{origin} needs more than one attempt per target, and --once makes one: drop one of them"
                )));
            }
        }
        if let Some((d, origin)) = &stable {
            if timeout > Duration::ZERO && *d >= timeout {
                return Err(UsageError(format!(
                    "{origin} {} is not shorter than the deadline ({}): no target could ever count as ready",
                    duration::show(*d),
                    duration::show(timeout)
                )));
            }
        }
        let http_status = match pick(cli.http_status, &Source::new("--http-status"), env)? {
            None => StatusSet::default(),
            Some((text, origin)) => StatusSet::parse(&text).map_err(|why| {
                UsageError(format!("invalid status list {text:?} for {origin}: {why}"))
            })?,
        };
        let cacert = match cli.cacert {
            Some(p) => Some(PathBuf::from(p)),
            None => env
                .get("WHENREADY_CACERT")
                .map_err(UsageError)?
                .map(PathBuf::from),
        };
        let client_cert = client_cert(cli.cert, cli.key, env)?;

        let mut targets = Vec::new();
        let from_env = env
            .get("WHENREADY_TARGETS")
            .map_err(UsageError)?
            .unwrap_or("");
        // White space and commas separate targets, but not a comma in a URL's user
        // info (a password): target::split_list.
        let env_targets = crate::target::split_list(from_env).into_iter();
        for (text, origin) in cli
            .targets
            .iter()
            .map(|t| (t.as_str(), None))
            .chain(env_targets.map(|t| (t, Some("WHENREADY_TARGETS"))))
        {
            let target = Target::parse(text, env).map_err(|e| {
                let mut why = e.to_string();
                if let Some(var) = origin {
                    why = format!("{why} (in {var})");
                } else if !text.contains(':') {
                    why = format!("{why}; to run a command, put it after --");
                }
                UsageError(why)
            })?;
            targets.push(target);
        }

        let config = Config {
            targets,
            timeout: Some(timeout).filter(|t| !t.is_zero()),
            interval,
            attempt_timeout,
            once,
            reverse: switch(cli.reverse, "--reverse", env)?,
            stable: stable.map_or(Duration::ZERO, |d| d.0),
            quiet: switch(cli.quiet, "--quiet", env)?,
            json: switch(cli.json, "--json", env)?,
            retry_all: switch(cli.retry_all, "--retry-all", env)?,
            http_status,
            cacert,
            client_cert,
            insecure: switch(cli.insecure, "--insecure", env)?,
            command: cli.command,
        };
        // Last, so that a bad option is named first: a gate with nothing to wait
        // for is a forgotten argument, not a success.
        if config.targets.is_empty() {
            return Err(UsageError(
                "no target given: name what to wait for (HOST:PORT or a URL) before --, or in WHENREADY_TARGETS".into(),
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Result<Config, UsageError> {
        let mut argv = vec!["whenready"];
        argv.extend_from_slice(args);
        Config::from_cli(Cli::try_parse_from(argv).unwrap(), &Env::from_pairs(env))
    }

    #[test]
    fn defaults() {
        let c = config(&["db:1"], &[]).unwrap();
        assert_eq!(c.timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!(c.interval, DEFAULT_INTERVAL);
        assert_eq!(c.attempt_timeout, DEFAULT_ATTEMPT_TIMEOUT);
        assert!(!c.once && !c.quiet && !c.json && !c.retry_all && !c.insecure);
        assert!(
            c.http_status.contains(200)
                && c.http_status.contains(299)
                && !c.http_status.contains(300)
        );
    }

    #[test]
    fn zero_timeout_means_no_deadline() {
        assert_eq!(config(&["-t", "0", "db:1"], &[]).unwrap().timeout, None);
        assert_eq!(
            config(&["db:1"], &[("WHENREADY_TIMEOUT", "0s")])
                .unwrap()
                .timeout,
            None
        );
    }

    #[test]
    fn command_line_wins_over_environment() {
        let env = [("WHENREADY_TIMEOUT", "2m"), ("WHENREADY_INTERVAL", "1s")];
        let c = config(&["--timeout", "2.5", "db:1"], &env).unwrap();
        assert_eq!(c.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(c.interval, Duration::from_secs(1));
    }

    #[test]
    fn bad_values_name_their_origin() {
        let e = config(&["-t", "30x"], &[]).unwrap_err().0;
        assert!(e.contains("\"30x\"") && e.contains("--timeout"), "{e}");
        let e = config(&[], &[("WHENREADY_ATTEMPT_TIMEOUT", "soon")])
            .unwrap_err()
            .0;
        assert!(
            e.contains("WHENREADY_ATTEMPT_TIMEOUT") && e.contains("soon"),
            "{e}"
        );
        let e = config(&[], &[("WHENREADY_QUIET", "maybe")]).unwrap_err().0;
        assert!(e.contains("WHENREADY_QUIET"), "{e}");
        let e = config(&["--http-status", "200,abc"], &[]).unwrap_err().0;
        assert!(e.contains("--http-status") && e.contains("abc"), "{e}");
        let e = config(&[], &[("WHENREADY_TARGETS", "db:1, nope")])
            .unwrap_err()
            .0;
        assert!(e.contains("WHENREADY_TARGETS") && e.contains("nope"), "{e}");
        let e = config(&["python"], &[]).unwrap_err().0;
        assert!(e.contains("after --"), "{e}");
    }

    #[test]
    fn cert_and_key_go_together() {
        let c = config(&["--cert", "c.pem", "--key", "k.pem", "db:1"], &[]).unwrap();
        assert_eq!(
            c.client_cert,
            Some((PathBuf::from("c.pem"), PathBuf::from("k.pem")))
        );
        let env = [("WHENREADY_CERT", "e.pem"), ("WHENREADY_KEY", "ek.pem")];
        let c = config(&["--key", "k.pem", "db:1"], &env).unwrap();
        assert_eq!(
            c.client_cert,
            Some((PathBuf::from("e.pem"), PathBuf::from("k.pem")))
        );
        let e = config(&["--cert", "c.pem", "db:1"], &[]).unwrap_err().0;
        assert!(e.starts_with("--cert needs a private key"), "{e}");
        let e = config(&["db:1"], &[("WHENREADY_KEY", "k.pem")])
            .unwrap_err()
            .0;
        assert!(e.starts_with("WHENREADY_KEY needs a certificate"), "{e}");
    }

    #[test]
    fn no_target_is_a_usage_error() {
        for (args, env) in [
            (&["--", "app"][..], &[][..]),
            (&[][..], &[("WHENREADY_TARGETS", "")][..]),
            (
                &["-t", "5", "--", "app"][..],
                &[("WHENREADY_TARGETS", " ,\n ")][..],
            ),
        ] {
            let e = config(args, env).unwrap_err().0;
            assert!(e.contains("no target"), "{args:?} {env:?}: {e}");
        }
    }

    #[test]
    fn a_zero_attempt_timeout_names_its_origin() {
        let e = config(&["db:1"], &[("WHENREADY_ATTEMPT_TIMEOUT", "0")])
            .unwrap_err()
            .0;
        assert!(
            e.starts_with("WHENREADY_ATTEMPT_TIMEOUT must be more than 0"),
            "{e}"
        );
        let e = config(&["--attempt-timeout", "0s", "db:1"], &[])
            .unwrap_err()
            .0;
        assert!(
            e.starts_with("--attempt-timeout must be more than 0"),
            "{e}"
        );
    }

    #[test]
    fn switches_and_targets_from_environment() {
        let env = [
            ("WHENREADY_QUIET", "yes"),
            ("WHENREADY_ONCE", "1"),
            ("WHENREADY_JSON", "false"),
            ("WHENREADY_TARGETS", "a:1,b:2 \n c:3"),
        ];
        let c = config(&["z:9"], &env).unwrap();
        assert!(c.quiet && c.once && !c.json);
        let shown: Vec<_> = c.targets.iter().map(|t| t.shown.as_str()).collect();
        assert_eq!(shown, ["z:9", "a:1", "b:2", "c:3"]);
    }

    #[test]
    fn reverse_and_stable() {
        let c = config(&["--reverse", "--stable", "2s", "db:1"], &[]).unwrap();
        assert!(c.reverse);
        assert_eq!(c.stable, Duration::from_secs(2));
        let c = config(
            &["db:1"],
            &[("WHENREADY_REVERSE", "yes"), ("WHENREADY_STABLE", "1.5")],
        )
        .unwrap();
        assert!(c.reverse);
        assert_eq!(c.stable, Duration::from_millis(1500));
        let c = config(&["db:1"], &[]).unwrap();
        assert!(!c.reverse && c.stable.is_zero());
        let e = config(&["--stable", "soon", "db:1"], &[]).unwrap_err();
        assert!(e.0.contains("\"soon\" for --stable"), "{e}");
        let e = config(&["--once", "db:1"], &[("WHENREADY_STABLE", "5s")]).unwrap_err();
        assert!(
            e.0.contains("WHENREADY_STABLE needs more than one attempt"),
            "{e}"
        );
        // --once with --stable 0 is fine: nothing to hold.
        assert!(config(&["--once", "--stable", "0", "db:1"], &[]).is_ok());
        let e = config(&["-t", "10s", "--stable", "10s", "db:1"], &[]).unwrap_err();
        assert!(
            e.0.contains("--stable 10.0s is not shorter than the deadline"),
            "{e}"
        );
        // Without a deadline any period can be waited out.
        assert!(config(&["-t", "0", "--stable", "1h", "db:1"], &[]).is_ok());
    }
}
