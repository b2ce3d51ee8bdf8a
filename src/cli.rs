//! The command line of whenready: every option, its help text and its variable.
//!
//! Values stay strings here; [`crate::config`] parses them together with the
//! `WHENREADY_*` variables, so that an error can name where a bad value came from.

use crate::probe::KINDS;
use clap::{CommandFactory, FromArgMatches, Parser};
use std::ffi::OsString;

/// `--version`: the version, the target it was built for (from build.rs) and every
/// kind's schemes this build can probe.
fn version() -> String {
    let schemes: Vec<&str> = KINDS.iter().flat_map(|k| k.schemes()).copied().collect();
    format!(
        "{} ({}; probes: {}; TLS: rustls, ring)",
        env!("CARGO_PKG_VERSION"),
        env!("WHENREADY_TARGET"),
        schemes.join(", ")
    )
}

/// The short help points to the long one.
const AFTER_SHORT_HELP: &str = "Use --help for examples, exit statuses and environment variables.";

const EXAMPLES: &str = "\
Examples:
  whenready db:5432 -- ./server                 wait for a port, then exec ./server
  whenready postgres://app:$PW@db/app redis://cache:6379 -- python app.py
  whenready --once postgres://app@db/app        compose healthcheck (exit 0 or 1)
  whenready -t 2m https://api/health http://auth:8080/ready
  whenready 'http://es:9200/_cluster/health#json=/status:green,yellow'
                                                JSON value at a pointer (see README)
  whenready --stable 5s postgres://app@db/app   ready only after 5 s without a failure
  whenready --reverse -t 30s old-db:5432 -- ./migrate   wait until the old server is gone";

const EXIT_AND_ENVIRONMENT: &str = "\
Exit status:
  0        all targets ready, or all gone with --reverse (with a COMMAND: its own status)
  1        the deadline passed, or --once found a target not ready (not gone)
  2        usage error (also: no target at all)
  3        permanent failure: authentication rejected, database missing, bad certificate
  126/127  COMMAND cannot be executed / was not found
  130/143  interrupted by SIGINT / SIGTERM before COMMAND started

Environment:
  Every option has a variable: WHENREADY_TIMEOUT, WHENREADY_INTERVAL,
  WHENREADY_ATTEMPT_TIMEOUT, WHENREADY_ONCE, WHENREADY_REVERSE, WHENREADY_STABLE,
  WHENREADY_QUIET, WHENREADY_JSON, WHENREADY_RETRY_ALL, WHENREADY_HTTP_STATUS,
  WHENREADY_CACERT, WHENREADY_CERT, WHENREADY_KEY, WHENREADY_INSECURE.
  Switches take 1/true/yes or 0/false/no. The command line wins.
  WHENREADY_TARGETS adds targets, separated by commas or white space.";

/// The long help's sections: examples, every kind's target form (from the kinds
/// themselves), exit statuses, and the environment with every kind's variables.
fn after_help() -> String {
    let mut kinds: Vec<_> = KINDS.iter().collect();
    // Network forms first, local paths last.
    kinds.sort_by_key(|k| k.forms().ends_with("PATH"));
    let mut text = format!("{EXAMPLES}\n\nTargets:\n");
    for k in &kinds {
        let (form, ready) = k.help();
        text.push_str(&format!("  {form:<41}  {ready}\n"));
    }
    text.push('\n');
    text.push_str(EXIT_AND_ENVIRONMENT);
    for line in KINDS.iter().filter_map(|k| k.environment()) {
        text.push_str(&format!("\n  {line}."));
    }
    text
}

/// The whole definition: every option, the version line and the long help's
/// sections (for `--help`, `--version`, the man page and completions).
pub fn command() -> clap::Command {
    Cli::command()
        .version(&*version().leak())
        .after_long_help(after_help())
}

/// Parses a command line. The version line and the long help, built from every
/// kind, are made only when an argument may ask for them: building them was a tenth
/// of a one-shot check's instructions (README, Performance).
pub fn parse(args: &[OsString]) -> Result<Cli, clap::Error> {
    let asks = |a: &OsString| {
        let a = a.as_encoded_bytes();
        a == b"--help"
            || a == b"--version"
            || (a.len() > 1
                && a[0] == b'-'
                && a[1] != b'-'
                && a.iter().any(|&c| c == b'h' || c == b'V'))
    };
    let words = args
        .iter()
        .skip(1)
        .take_while(|a| a.as_encoded_bytes() != b"--");
    let cmd = if words.clone().any(asks) {
        command()
    } else {
        // Without a version, clap makes no --version flag: none is asked for here.
        Cli::command()
    };
    let matches = cmd.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Wait until TCP ports, PostgreSQL, Redis, HTTP(S), AMQP, NATS and MQTT endpoints are
/// ready, then replace this process with COMMAND.
///
/// All targets are probed concurrently, with fast attempts that back off up to
/// --interval. Without a COMMAND, whenready exits 0 once everything is ready.
#[derive(Debug, Parser)]
#[command(
    name = "whenready",
    after_help = AFTER_SHORT_HELP,
    max_term_width = 100,
    args_override_self = true,
    override_usage = "whenready [OPTIONS] [TARGET]... [-- COMMAND [ARG]...]"
)]
pub struct Cli {
    /// Things to wait for (see Targets below)
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Deadline for all targets together: 500ms, 30s, 2m, 1h30m or seconds; 0 = none [default: 60s] [env: WHENREADY_TIMEOUT]
    #[arg(short = 't', long, value_name = "DURATION", allow_hyphen_values = true)]
    pub timeout: Option<String>,

    /// Longest pause between two attempts at one target [default: 250ms] [env: WHENREADY_INTERVAL]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Option<String>,

    /// Most one attempt may take: connect, TLS, login, query [default: 5s] [env: WHENREADY_ATTEMPT_TIMEOUT]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub attempt_timeout: Option<String>,

    /// One attempt per target, no retries: exit 0 if all are ready, else 1 (for healthchecks) [env: WHENREADY_ONCE]
    #[arg(long)]
    pub once: bool,

    /// Wait until every target is NOT ready (a port closed, a file removed); a permanent failure is still exit 3 [env: WHENREADY_REVERSE]
    #[arg(long)]
    pub reverse: bool,

    /// A target counts only after answering ready (with --reverse: gone) on every attempt for this long [default: 0] [env: WHENREADY_STABLE]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub stable: Option<String>,

    /// Print nothing unless whenready fails, then only the final reason [env: WHENREADY_QUIET]
    #[arg(short, long)]
    pub quiet: bool,

    /// Print events as JSON objects, one per line, on stderr [env: WHENREADY_JSON]
    #[arg(long)]
    pub json: bool,

    /// Treat every failure as transient, even a rejected password [env: WHENREADY_RETRY_ALL]
    #[arg(long)]
    pub retry_all: bool,

    /// HTTP statuses that mean ready: codes and ranges, e.g. 200,204,300-399 [default: 200-299] [env: WHENREADY_HTTP_STATUS]
    #[arg(long, value_name = "LIST")]
    pub http_status: Option<String>,

    /// Also trust the CA certificates in this PEM file (https, rediss, nats, mqtts, amqps, grpcs) [env: WHENREADY_CACERT]
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<OsString>,

    /// Client certificate (PEM) presented to TLS servers that ask for one (mTLS); needs --key [env: WHENREADY_CERT]
    #[arg(long, value_name = "FILE")]
    pub cert: Option<OsString>,

    /// Private key (PEM) of --cert; group- or world-readable gets a warning [env: WHENREADY_KEY]
    #[arg(long, value_name = "FILE")]
    pub key: Option<OsString>,

    /// Do not verify certificates of https, rediss, nats, mqtts, amqps and grpcs targets (says so on stderr) [env: WHENREADY_INSECURE]
    #[arg(long)]
    pub insecure: bool,

    /// The command to exec once every target is ready
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::Parser;
    use std::ffi::OsString;

    #[test]
    fn definition_is_consistent() {
        super::command().debug_assert();
    }

    #[test]
    fn help_and_version_are_built_when_asked_for() {
        use clap::error::ErrorKind;
        let parse = |a: &[&str]| super::parse(&a.iter().map(OsString::from).collect::<Vec<_>>());
        for (args, kind) in [
            (&["whenready", "--version"][..], ErrorKind::DisplayVersion),
            (&["whenready", "-V"], ErrorKind::DisplayVersion),
            (&["whenready", "-qV"], ErrorKind::DisplayVersion),
            (&["whenready", "--help"], ErrorKind::DisplayHelp),
            (&["whenready", "-h"], ErrorKind::DisplayHelp),
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), kind, "{args:?}");
            let text = e.render().to_string();
            if kind == ErrorKind::DisplayVersion {
                assert!(text.contains("probes: tcp"), "{text}");
            } else if args[1] == "--help" {
                assert!(text.contains("Exit status:"), "{text}");
            }
        }
        assert_eq!(parse(&["whenready", "db:1"]).unwrap().targets, ["db:1"]);
        // After --, -V belongs to COMMAND.
        let cli = parse(&["whenready", "db:1", "--", "prog", "-V"]).unwrap();
        assert_eq!(cli.command, ["prog", "-V"]);
    }

    #[test]
    fn command_after_double_dash_is_kept_verbatim() {
        let cli =
            Cli::try_parse_from(["whenready", "db:1", "-t", "5", "--", "ls", "-la", "--", "x"])
                .unwrap();
        assert_eq!(cli.targets, ["db:1"]);
        assert_eq!(cli.timeout.as_deref(), Some("5"));
        assert_eq!(cli.command, ["ls", "-la", "--", "x"]);
    }

    #[test]
    fn last_value_wins() {
        // As in most Unix tools (and as a flag wins over its variable), the last
        // value given wins: a wrapper script may append to a base command line.
        let cli = Cli::try_parse_from(["whenready", "-t", "5", "--timeout=7", "db:1"]).unwrap();
        assert_eq!(cli.timeout.as_deref(), Some("7"));
        let cli = Cli::try_parse_from(["whenready", "--once", "--once", "db:1"]).unwrap();
        assert!(cli.once);
    }
}
