//! SIGTERM and SIGINT while waiting.
//!
//! As PID 1 (a container entrypoint) the kernel drops a signal that has no handler,
//! so the handlers are installed before the first probe starts. A signal that
//! whenready inherited as ignored stays ignored (`nohup`, `cmd &` in scripts): a
//! handler would replace SIG_IGN, and execve would then reset it to the default
//! action for COMMAND. Handlers themselves do not survive execve.
//!
//! One handler per signal, from signal-hook: it sets a flag, then writes a byte to a
//! socket pair whose other end the runtime watches. The flag is also read right
//! before exec: a signal that arrives after the last target became ready (while the
//! final lines are written, say) still ends whenready with 128 + n instead of being
//! lost. (tokio's own signal support would do the same with more set-up: a slot and
//! a channel for every signal number, a tenth of a one-shot check's instructions.)

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};

/// SIGINT's number.
pub const SIGINT: i32 = 2;
/// SIGTERM's number.
pub const SIGTERM: i32 = 15;

/// The installed handlers: the end of the socket pair they write to, if any handler
/// could be installed.
pub struct Signals {
    wake: Wake,
}

/// The end of the socket pair the handlers write to.
enum Wake {
    /// No handler (both signals inherited as ignored, or no socket pair).
    None,
    /// Not yet registered with a runtime.
    Std(UnixStream),
    /// Registered with the runtime that [`Signals::recv`] first ran on.
    Runtime(tokio::net::UnixStream),
}

/// The set of signals this process inherited as ignored, from /proc/self/status
/// (`SigIgn`, a hex mask: bit n-1 is signal n). Without /proc, assume none. One read
/// into a buffer that holds the whole file (about 1.5 KB), not a growing string.
fn ignored() -> u64 {
    let Ok(mut file) = std::fs::File::open("/proc/self/status") else {
        return 0;
    };
    let mut buf = [0u8; 4096];
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    sig_ign(&buf[..len])
}

/// The `SigIgn` mask of a /proc/PID/status text; 0 if it has none. One search for
/// the line, not a walk over every line (a tenth of a one-shot check's instructions
/// went to splitting the file into lines).
fn sig_ign(status: &[u8]) -> u64 {
    let Ok(text) = std::str::from_utf8(status) else {
        return 0;
    };
    text.find("\nSigIgn:")
        .map(|at| &text[at + "\nSigIgn:".len()..])
        .and_then(|rest| rest.split('\n').next())
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

/// The signals to handle: SIGTERM and SIGINT, but none inherited as ignored.
fn wanted() -> Vec<i32> {
    let ign = ignored();
    [SIGTERM, SIGINT]
        .into_iter()
        .filter(|n| ign & (1 << (n - 1)) == 0)
        .collect()
}

/// Installs only the handlers that set [`caught`], for a run that its first
/// attempts settled without the runtime ([`crate::wait::run`]) and that still has
/// COMMAND to start: a signal that comes while its lines are written (a full
/// pipe blocks the write) then still ends whenready with 128 + n before exec, also
/// as PID 1, instead of being lost.
pub fn install_flag() {
    for n in wanted() {
        register_flag(n);
    }
}

/// Registers the handler that records signal `n` in [`CAUGHT`] (what [`caught`]
/// reads), the one both ways of installing share.
fn register_flag(n: i32) {
    let _ = signal_hook::flag::register_usize(n, &CAUGHT, n as usize);
}

impl Signals {
    /// Installs the handlers (the runtime is not needed yet: [`Signals::recv`]
    /// registers the socket pair with the one it runs on).
    pub fn install() -> Signals {
        let wanted = wanted();
        if wanted.is_empty() {
            return Signals { wake: Wake::None };
        }
        let Ok((read, write)) = UnixStream::pair() else {
            return Signals { wake: Wake::None };
        };
        for n in wanted {
            // The flag first: the handlers run in the order they were registered,
            // so the flag is set when the byte wakes the runtime.
            register_flag(n);
            if let Ok(w) = write.try_clone() {
                let _ = signal_hook::low_level::pipe::register(n, w);
            }
        }
        match read.set_nonblocking(true) {
            Ok(()) => Signals {
                wake: Wake::Std(read),
            },
            Err(_) => Signals { wake: Wake::None },
        }
    }

    /// Resolves with the number of the first signal received (on the runtime).
    pub async fn recv(&mut self) -> i32 {
        self.wake = match std::mem::replace(&mut self.wake, Wake::None) {
            Wake::Std(read) => {
                tokio::net::UnixStream::from_std(read).map_or(Wake::None, Wake::Runtime)
            }
            other => other,
        };
        let Wake::Runtime(wake) = &self.wake else {
            return std::future::pending().await;
        };
        loop {
            if let Some(n) = caught() {
                return n;
            }
            if wake.readable().await.is_err() {
                return std::future::pending().await;
            }
            let mut buf = [0u8; 16];
            // Drain the bytes first, then look at the flag (signal-hook's order).
            while matches!(wake.try_read(&mut buf), Ok(n) if n > 0) {}
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_ignored_mask_is_read_from_its_line() {
        let status = b"Name:\twhenready\nSigPnd:\t0000000000000001\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000004002\nSigCgt:\t0\n";
        assert_eq!(super::sig_ign(status), 0x4002);
        assert_eq!(super::sig_ign(b"Name:\tx\nSigIgn:\t0000000000000004"), 4);
        assert_eq!(super::sig_ign(b"Name:\tx\n"), 0);
        assert_eq!(super::sig_ign(b"SigIgn:\tzz\n"), 0);
        assert_eq!(super::sig_ign(&[0xff, 0xfe]), 0);
    }
}
