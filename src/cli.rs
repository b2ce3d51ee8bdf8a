//! The command line of whenready: every option, its help text and its variable.
//!
//! Values stay strings here; [`crate::config`] parses them together with the
//! `WHENREADY_*` variables, so that an error can name where a bad value came from.

use clap::Parser;
use std::ffi::OsString;

/// `--version`: the version and what this build can probe.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (probes: tcp, unix, file, http, https, postgres, redis, rediss, mysql, mariadb; TLS: rustls, ring)"
);

/// The short help points to the long one.
const AFTER_SHORT_HELP: &str = "Use --help for examples, exit statuses and environment variables.";

const AFTER_HELP: &str = "\
Examples:
  whenready db:5432 -- ./server                 wait for a port, then exec ./server
  whenready postgres://app:$PW@db/app redis://cache:6379 -- python app.py
  whenready --once postgres://app@db/app        compose healthcheck (exit 0 or 1)
  whenready -t 2m https://api/health http://auth:8080/ready

Targets:
  HOST:PORT, tcp://HOST:PORT, [IPV6]:PORT    a TCP connection opens
  http://..., https://...                    GET answers a status in --http-status
  postgres://..., postgresql://...           login succeeds and SELECT 1 returns
  redis://..., rediss://...                  AUTH/SELECT succeed and PING answers PONG
  mysql://..., mariadb://...                 login (on DB, if given) succeeds, COM_PING answers OK
  unix:///PATH                               the Unix socket accepts a connection
  file:///PATH                               the path exists

Exit status:
  0        all targets ready (with a COMMAND: the command's own status)
  1        the deadline passed, or --once found a target not ready
  2        usage error
  3        permanent failure: authentication rejected, database missing, bad certificate
  126/127  COMMAND cannot be executed / was not found
  130/143  interrupted by SIGINT / SIGTERM while waiting

Environment:
  Every option has a variable: WHENREADY_TIMEOUT, WHENREADY_INTERVAL,
  WHENREADY_ATTEMPT_TIMEOUT, WHENREADY_ONCE, WHENREADY_QUIET, WHENREADY_JSON,
  WHENREADY_RETRY_ALL, WHENREADY_HTTP_STATUS, WHENREADY_CACERT, WHENREADY_INSECURE.
  Switches take 1/true/yes or 0/false/no. The command line wins.
  WHENREADY_TARGETS adds targets, separated by commas or white space.
  PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT fill in
  postgres URLs; REDISCLI_AUTH is the Redis password when the URL has none;
  MYSQL_PWD is the MySQL / MariaDB password when the URL has none.";

/// Wait until TCP ports, PostgreSQL, Redis and HTTP(S) endpoints are ready, then
/// replace this process with COMMAND.
///
/// All targets are probed concurrently, with fast attempts that back off up to
/// --interval. Without a COMMAND, whenready exits 0 once everything is ready.
#[derive(Debug, Parser)]
#[command(
    name = "whenready",
    version = VERSION,
    after_help = AFTER_SHORT_HELP,
    after_long_help = AFTER_HELP,
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

    /// Also trust the CA certificates in this PEM file (https and rediss) [env: WHENREADY_CACERT]
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<OsString>,

    /// Do not verify certificates of https and rediss targets (says so on stderr) [env: WHENREADY_INSECURE]
    #[arg(long)]
    pub insecure: bool,

    /// The command to exec once every target is ready
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
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
