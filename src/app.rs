//! The run of the whenready binary: pick the personality from `argv[0]` (whenready,
//! or a drop-in name), parse the command line and environment into a [`Plan`]
//! (usage errors exit at once), read what the targets need, make a first attempt at
//! every target without a runtime where the kernel answers at once (a loopback
//! port), and when that does not settle the run, start a single-threaded runtime,
//! install the signal handlers, probe every target concurrently under one deadline,
//! then shut the runtime down. Then exec COMMAND.

use crate::compat::{self, Personality};
use crate::config::{Config, UsageError};
use crate::exit::Exit;
use crate::plan::{OnDeadline, Plan};
use crate::{cli, env, exec, limits, probe, report, signal, wait};
use std::ffi::OsString;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

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
        Box::new(report::Json::new(
            config.targets.iter().map(|t| t.check.clone()).collect(),
        ))
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

/// A deliberate pause (WAIT_BEFORE / WAIT_AFTER) that a signal still ends; returns
/// the signal's number if one came.
async fn pause(
    reporter: &report::Reporter,
    signals: &mut signal::Signals,
    d: Duration,
    before: bool,
) -> Option<i32> {
    if d.is_zero() {
        return None;
    }
    reporter.pause(d, before);
    tokio::select! {
        n = signals.recv() => Some(n),
        () = tokio::time::sleep(d) => None,
    }
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
    let ctx = match probe::Ctx::prepare(&config) {
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
        // As `run_now` makes its attempts: one after the other. The runtime's wait
        // gets what the descriptor limit allows, below.
        max_in_flight: 1,
        reverse: config.reverse,
        stable: config.stable,
    };
    let count = config.targets.len();
    // A wait whose every attempt the kernel decides inside connect() (open or
    // refused loopback ports) runs without the runtime: a check that one look
    // settles lasts about as long as the start-up before it, without signal
    // handlers unless COMMAND follows, and each pause of a longer wait is one
    // wake-up of a few system calls (README, Performance).
    let mut rest = Rest {
        command: !config.command.is_empty(),
        signals: None,
    };
    let now = if before.is_zero() && after.is_zero() {
        wait::run_now(
            count,
            |i| config.targets[i].check.attempt_now(),
            &mut rest,
            &settings,
            &reporter,
        )
    } else {
        wait::Now::Runtime(None)
    };
    // The soft limit on descriptors is raised for the runtime's wait only, which may
    // have an attempt in flight at every target at once.
    let mut original_limit = None;
    let outcome = match now {
        wait::Now::Over(outcome) => outcome,
        wait::Now::Runtime(resume) => {
            let (original, max_in_flight) = limits::raise();
            original_limit = Some(original);
            let settings = wait::Settings {
                max_in_flight,
                ..settings
            };
            let on = Resumed {
                signals: rest.signals,
                resume,
            };
            match on_runtime(&config, ctx, &settings, &reporter, before, after, on) {
                Some(outcome) => outcome,
                None => return Exit::NotReady,
            }
        }
    };
    let interrupted = |n: i32| {
        reporter.signal(signal::name(n));
        Exit::Signal(n)
    };
    let become_command = || {
        if let Some(original) = original_limit {
            limits::restore(original);
        }
        // A signal that came after the wait ended (the runtime no longer listens)
        // must not be lost: COMMAND would start after SIGTERM.
        if let Some(n) = signal::caught() {
            return interrupted(n);
        }
        exec::replace_process(&config.command)
    };
    match outcome {
        wait::Outcome::Ready => {
            if let Some(n) = signal::caught() {
                return interrupted(n);
            }
            reporter.done(config.command.first().map(|s| s.as_os_str()));
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

/// The signal handlers of a wait without the runtime ([`wait::run_now`]), kept for
/// the runtime if the wait moves there.
struct Rest {
    /// COMMAND follows the wait.
    command: bool,
    signals: Option<signal::Signals>,
}

impl wait::Rest for Rest {
    fn begin(&mut self, more: bool) {
        if more {
            // A wait with pauses: every handler, and the socket pair that ends a
            // sleep (as PID 1, a signal without a handler would be dropped).
            self.signals = Some(signal::Signals::install());
        } else if self.command {
            // COMMAND starts after the lines are written, which a full pipe can
            // hold up: a signal meanwhile must still stop it (src/signal.rs).
            signal::install_flag();
        }
    }

    fn sleep(&mut self, time: Option<Duration>) -> Option<i32> {
        self.signals
            .get_or_insert_with(signal::Signals::install)
            .sleep(time)
    }
}

/// What a wait moving to the runtime brings from [`wait::run_now`].
struct Resumed {
    /// The handlers it installed, if it did.
    signals: Option<signal::Signals>,
    /// Where it stands, if it reported anything.
    resume: Option<wait::Resume>,
}

/// Waits on a single-threaded runtime, with the signal handlers installed; `None`
/// when the runtime cannot start (said on stderr). Never inlined: the runtime and
/// its future take kilobytes of stack, which a check settled without them would
/// otherwise reserve (and fault in) too.
#[inline(never)]
fn on_runtime(
    config: &Config,
    ctx: Arc<probe::Ctx>,
    settings: &wait::Settings,
    reporter: &Arc<report::Reporter>,
    before: Duration,
    after: Duration,
    on: Resumed,
) -> Option<wait::Outcome> {
    // One thread for everything but name resolution (getaddrinfo blocks); few
    // resolver threads keep a thousand-name run modest in memory.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "whenready: cannot start: {e}");
            return None;
        }
    };
    let outcome = runtime.block_on(async {
        // First of all: as PID 1, a signal without a handler would be dropped.
        let mut signals = on.signals.unwrap_or_else(signal::Signals::install);
        if let Some(n) = pause(reporter, &mut signals, before, true).await {
            return wait::Outcome::Signal(n);
        }
        let targets = Arc::new(config.targets.clone());
        let probed = targets.clone();
        let probe: wait::ProbeFn = Arc::new(move |i| {
            let (ctx, targets) = (ctx.clone(), probed.clone());
            Box::pin(async move { targets[i].check.probe(&ctx).await })
        });
        // inotify for file:// and unix:// (src/probe/watch.rs) ends their pauses early.
        let changed: wait::ChangeFn = Arc::new(move |i| {
            let targets = targets.clone();
            Box::pin(async move { targets[i].check.changed().await })
        });
        // A wait moved here from run_now has begun already.
        if on.resume.is_none() {
            reporter.begin();
        }
        // wait::run also tells the voice that time passes (live redraws, "still
        // waiting" lines), on the same timer as the attempts.
        let count = config.targets.len();
        let outcome = wait::run(
            count,
            probe,
            Some(changed),
            settings,
            reporter.clone(),
            signals.recv(),
            on.resume,
        )
        .await;
        if outcome == wait::Outcome::Ready {
            if let Some(n) = pause(reporter, &mut signals, after, false).await {
                return wait::Outcome::Signal(n);
            }
        }
        outcome
    });
    // Every way out leaves now: a plain drop would wait for blocking work still
    // running, such as a getaddrinfo stuck in an unanswering resolver.
    runtime.shutdown_background();
    Some(outcome)
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
