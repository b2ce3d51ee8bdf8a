//! SIGTERM and SIGINT while waiting.
//!
//! As PID 1 (a container entrypoint) the kernel drops a signal that has no handler,
//! so the handlers are installed before the first probe starts. A signal that
//! whenready inherited as ignored stays ignored (`nohup`, `cmd &` in scripts): a
//! handler would replace SIG_IGN, and execve would then reset it to the default
//! action for COMMAND. Handlers themselves do not survive execve.

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

impl Signals {
    /// Installs the listeners; must run inside the runtime, before any probe.
    pub fn install() -> Signals {
        let ign = ignored();
        let listen = |n: i32| -> Option<Signal> {
            if ign & (1 << (n - 1)) != 0 {
                return None;
            }
            signal(SignalKind::from_raw(n)).ok()
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
