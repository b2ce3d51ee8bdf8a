//! whenready: wait until TCP ports, PostgreSQL, Redis and HTTP(S) endpoints are
//! ready, then replace this process with a command.
//!
//! The run: parse the command line and environment into a [`config::Config`]
//! (usage errors exit 2), start a single-threaded runtime, install the signal
//! handlers, probe every target concurrently under one deadline, then shut the
//! runtime down and exec COMMAND.

mod backoff;
mod cli;
mod config;
mod duration;
mod env;
mod exec;
mod exit;
mod probe;
mod report;
mod signal;
mod target;
mod wait;

use clap::Parser;
use config::{Config, UsageError};
use exit::Exit;
use report::{Mode, Reporter};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

fn main() {
    let env = env::Env::capture();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_failure(e),
    };
    let config = match Config::from_cli(cli, &env) {
        Ok(c) => c,
        Err(e) => fail_usage(&e),
    };
    run(config).exit()
}

/// Prints a clap error as one line (help and version go to stdout as usual).
fn usage_failure(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        std::process::exit(0);
    }
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let tip = lines
        .find_map(|l| l.strip_prefix("tip: "))
        .map(|t| format!("; {t}"))
        .unwrap_or_default();
    fail_usage(&UsageError(format!("{first}{tip} (see whenready --help)")))
}

fn fail_usage(e: &UsageError) -> ! {
    let _ = writeln!(std::io::stderr(), "whenready: {e}");
    Exit::Usage.exit()
}

/// Waits for the targets, then execs the command; returns the exit status when
/// whenready does not become the command.
fn run(config: Config) -> Exit {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "whenready: cannot start: {e}");
            return Exit::NotReady;
        }
    };
    let mode = if config.json {
        Mode::Json
    } else if config.quiet {
        Mode::Quiet
    } else {
        Mode::Normal
    };
    let names = config.targets.iter().map(|t| t.shown.clone()).collect();
    let reporter = Arc::new(Reporter::new(names, mode));
    let outcome = runtime.block_on(async {
        // First of all: as PID 1, a signal without a handler would be dropped.
        let mut signals = signal::Signals::install();
        let ctx = match probe::Ctx::prepare(&config) {
            Ok(ctx) => Arc::new(ctx),
            Err(e) => return Err(e),
        };
        if config.insecure && mode != Mode::Json {
            let _ = writeln!(std::io::stderr(), "whenready: --insecure: certificates of https and rediss targets are not verified");
        }
        let targets = Arc::new(config.targets.clone());
        let probe: wait::ProbeFn = Arc::new(move |i| {
            let (ctx, targets) = (ctx.clone(), targets.clone());
            Box::pin(async move { probe::probe(&targets[i].kind, &ctx).await })
        });
        let settings = wait::Settings {
            deadline: config.timeout.map(|t| tokio::time::Instant::now() + t),
            interval: config.interval,
            attempt_timeout: config.attempt_timeout,
            once: config.once,
            retry_all: config.retry_all,
        };
        reporter.begin(config.timeout, config.once);
        Ok(wait::run(config.targets.len(), probe, &settings, reporter.clone(), signals.recv()).await)
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => fail_usage(&e),
    };
    match outcome {
        wait::Outcome::Ready => {
            reporter.done(config.command.first().map(|s| s.as_os_str()));
            // A plain drop would wait for blocking work such as a stuck getaddrinfo.
            runtime.shutdown_timeout(Duration::from_millis(100));
            exec::replace_process(&config.command)
        }
        wait::Outcome::Deadline => {
            reporter.deadline(config.timeout.unwrap_or_default());
            Exit::NotReady
        }
        wait::Outcome::NotReady => {
            reporter.once_failed();
            Exit::NotReady
        }
        wait::Outcome::Permanent(i) => {
            reporter.permanent(i);
            Exit::Permanent
        }
        wait::Outcome::Signal(n) => {
            reporter.signal(signal::name(n));
            Exit::Signal(n)
        }
    }
}
