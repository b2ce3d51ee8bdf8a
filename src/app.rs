//! The run of the whenready binary: pick the personality from `argv[0]` (whenready,
//! or a drop-in name), parse the command line and environment into a [`Plan`]
//! (usage errors exit at once), read what the targets need, wait for them
//! ([`wait::run`]), say how it ended, then exec COMMAND.

use crate::compat::{self, Personality};
use crate::config::{Config, UsageError};
use crate::exit::Exit;
use crate::plan::{OnDeadline, Plan};
use crate::probe::{self, Ctx};
use crate::{cli, env, exec, report, signal, wait};
use std::ffi::OsString;
use std::io::Write;
use std::sync::Arc;

/// The whole program: never returns.
pub fn main() -> ! {
    let env = env::Env::capture();
    let args: Vec<OsString> = std::env::args_os().collect();
    let plan = match compat::personality(args.first().map(OsString::as_os_str)) {
        Personality::Whenready => whenready_plan(&args, &env),
        Personality::WaitForIt => compat::wait_for_it::plan(&args),
        Personality::WaitFor => compat::wait_for::plan(&args, &env),
        Personality::ComposeWait => compat::compose_wait::plan(&args, &env),
    };
    match plan {
        Ok(plan) => run(plan).exit(),
        Err(exit) => exit.exit(),
    }
}

/// whenready's own command line.
fn whenready_plan(args: &[OsString], env: &env::Env) -> Result<Plan, Exit> {
    let cli = cli::parse(args).map_err(usage_failure)?;
    let config = Config::from_cli(cli, env).map_err(|e| fail_usage(&e))?;
    let voice: Box<dyn report::Voice> = if config.json {
        Box::new(report::Json::new())
    } else if !config.quiet && report::live::wanted(env.get_lossy("TERM")) {
        Box::new(report::Live::new(env.get_lossy("NO_COLOR").is_none()))
    } else {
        Box::new(report::Plain::new(config.quiet))
    };
    Ok(Plan::new(config, voice))
}

/// Prints help or the version on stdout (exit 0), or a usage error as one line.
fn usage_failure(stop: cli::Stop) -> Exit {
    if let cli::Stop::Usage(_) = stop {
        return fail_usage(&UsageError(stop.to_string()));
    }
    let mut text = stop.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    // Help that cannot be written (a closed pipe) is no usage error.
    let _ = std::io::stdout().write_all(text.as_bytes());
    Exit::Ready
}

fn fail_usage(e: &UsageError) -> Exit {
    report::say(&format!("whenready: {e}"));
    Exit::Usage
}

/// Waits for the targets, then execs the command; returns the exit status when
/// whenready does not become the command.
fn run(plan: Plan) -> Exit {
    let Plan {
        config,
        voice,
        on_deadline,
        usage_exit,
        before,
        after,
    } = plan;
    let names = config.targets.iter().map(|t| t.shown.clone()).collect();
    let reporter = Arc::new(
        report::Reporter::new(names, voice, config.timeout, config.once).reversed(config.reverse),
    );
    let shared = probe::Shared {
        cacert: config.cacert.as_deref(),
        client_cert: config
            .client_cert
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path())),
        insecure: config.insecure,
        http_status: config.http_status.clone(),
        reverse: config.reverse,
    };
    let targets = config.targets.iter().map(|t| (t.shown.as_str(), &*t.check));
    let ctx = match Ctx::prepare(shared, targets) {
        Ok(ctx) => Arc::new(ctx),
        Err(e) => {
            report::say(&format!("whenready: {e}"));
            return usage_exit;
        }
    };
    if !config.json && !config.quiet {
        for warning in &ctx.warnings {
            let _ = writeln!(
                std::io::stderr(),
                "whenready: warning: {}",
                crate::report::clean_line(warning)
            );
        }
    }
    if config.insecure && !config.json {
        let _ = writeln!(
            std::io::stderr(),
            "whenready: --insecure: certificates of https, rediss, nats, mqtts, amqps and grpcs targets are not verified"
        );
    }
    let settings = wait::Settings {
        deadline: config.timeout.map(|t| tokio::time::Instant::now() + t),
        interval: config.interval,
        attempt_timeout: config.attempt_timeout,
        once: config.once,
        retry_all: config.retry_all,
        max_in_flight: usize::MAX,
        reverse: config.reverse,
        stable: config.stable,
    };
    let Config {
        targets, command, ..
    } = config;
    let probes = Arc::new(wait::Probes::new(targets, ctx));
    let pauses = wait::Pauses { before, after };
    let outcome = match wait::run(probes, &settings, &reporter, pauses, !command.is_empty()) {
        Ok(outcome) => outcome,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "whenready: cannot start: {e}");
            return Exit::NotReady;
        }
    };
    let interrupted = |n: i32| {
        reporter.signal(signal::name(n));
        Exit::Signal(n)
    };
    // A signal that came after the wait ended (the runtime no longer listens) must
    // not be lost: COMMAND would start after SIGTERM.
    let become_command = || match signal::caught() {
        Some(n) => interrupted(n),
        None => exec::replace_process(&command),
    };
    match outcome {
        wait::Outcome::Ready => {
            if let Some(n) = signal::caught() {
                return interrupted(n);
            }
            reporter.done(command.first().map(|s| s.as_os_str()));
            become_command()
        }
        wait::Outcome::Deadline => {
            reporter.deadline();
            match on_deadline {
                OnDeadline::Exit(e) => {
                    termination_log(&reporter, None);
                    e
                }
                OnDeadline::RunCommand => become_command(),
            }
        }
        wait::Outcome::NotReady => {
            reporter.once_failed();
            termination_log(&reporter, None);
            Exit::NotReady
        }
        wait::Outcome::Permanent(i) => {
            reporter.permanent(i);
            termination_log(&reporter, Some(i));
            Exit::Permanent
        }
        wait::Outcome::Signal(n) => interrupted(n),
    }
}

/// Where Kubernetes reads a container's termination message (`kubectl describe pod`
/// shows it; the kubelet mounts the file by default).
const TERMINATION_LOG: &str = "/dev/termination-log";

/// Writes why the wait failed (target `only`, or every unready one) to the
/// termination log, when that file exists: an init container's failure then
/// explains itself. Never created; at most the 4096 bytes the kubelet keeps.
fn termination_log(reporter: &report::Reporter, only: Option<usize>) {
    let path = std::path::Path::new(TERMINATION_LOG);
    if !path.is_file() {
        return;
    }
    let mut text = String::new();
    for (i, reason, _) in reporter.unready() {
        if only.is_none_or(|o| o == i) {
            text.push_str(&format!("{}: {reason}\n", reporter.names()[i]));
        }
    }
    let mut end = text.len().min(4096);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(&text.as_bytes()[..end]));
}
