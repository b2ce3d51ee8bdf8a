//! SIGTERM and SIGINT while waiting.
//!
//! As PID 1 (a container entrypoint) the kernel drops a signal that has no handler,
//! so the handlers are installed before the first probe starts. A signal that
//! whenready inherited as ignored stays ignored (`nohup`, `cmd &` in scripts): a
//! handler would replace SIG_IGN, and execve would then reset it to the default
//! action for COMMAND. Handlers themselves do not survive execve.
//!
//! Two listeners share each handler: tokio's, which wakes the waiting loop, and a
//! flag that the handler sets itself. The flag is read right before exec: a signal
//! that arrives after the last target became ready (while the final lines are
//! written, say) still ends whenready with 128 + n instead of being lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// SIGINT's number.
pub const SIGINT: i32 = 2;
/// SIGTERM's number.
pub const SIGTERM: i32 = 15;

/// The installed listeners.
pub struct Signals {
    term: Option<Signal>,
    int: Option<Signal>,
}

/// The set of signals this process inherited as ignored, from /proc/self/status
/// (`SigIgn`, a hex mask: bit n-1 is signal n). Without /proc, assume none.
fn ignored() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0)
}

/// The number of the last SIGTERM or SIGINT received, 0 for none; written by the
/// signal handler itself.
static CAUGHT: AtomicUsize = AtomicUsize::new(0);

/// The signal received so far, if any: read synchronously, whether or not the
/// runtime has run since it arrived.
pub fn caught() -> Option<i32> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        n => i32::try_from(n).ok(),
    }
}

impl Signals {
    /// Installs the listeners; must run inside the runtime, before any probe.
    pub fn install() -> Signals {
        let ign = ignored();
        let listen = |n: i32| -> Option<Signal> {
            if ign & (1 << (n - 1)) != 0 {
                return None;
            }
            // tokio's listener first: without it, a flag alone would replace the
            // default action and swallow the signal.
            let listener = signal(SignalKind::from_raw(n)).ok()?;
            let _ = signal_hook::flag::register_usize(n, &CAUGHT, n as usize);
            Some(listener)
        };
        Signals {
            term: listen(SIGTERM),
            int: listen(SIGINT),
        }
    }

    /// Resolves with the number of the first signal received.
    pub async fn recv(&mut self) -> i32 {
        async fn next(s: &mut Option<Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.term) => SIGTERM,
            () = next(&mut self.int) => SIGINT,
        }
    }
}

/// The conventional name of a signal number, for messages.
pub fn name(n: i32) -> &'static str {
    match n {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
