//! Exit statuses: the only file that knows the numbers of the contract.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | all targets ready and no COMMAND |
//! | 1 | deadline passed, or `--once` found a target not ready |
//! | 2 | usage error |
//! | 3 | permanent failure (wrong password, missing database, bad certificate) |
//! | 126 / 127 | COMMAND cannot be executed / was not found |
//! | 128 + n | ended by signal n while waiting (130 SIGINT, 143 SIGTERM) |
//!
//! A signal ends whenready with `exit(128 + n)` rather than re-raising it: as PID 1
//! a signal left to its default action would simply be dropped by the kernel.

/// How a run of whenready ends (when it does not become COMMAND).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every target is ready and there is no command to run.
    Ready,
    /// The deadline passed, or `--once` found a target not ready.
    NotReady,
    /// Bad option, target, URL, duration or environment variable.
    Usage,
    /// A target failed in a way that waiting cannot fix.
    Permanent,
    /// COMMAND exists but cannot be executed.
    CannotExecute,
    /// COMMAND was not found.
    NotFound,
    /// Interrupted while waiting by the given signal number.
    Signal(i32),
    /// A status that a drop-in personality owes its original (see the constants).
    Compat(u8),
}

impl Exit {
    /// wait-for-it after a timeout: GNU timeout's 124, which the original passes on.
    pub const WAIT_FOR_IT_TIMEOUT: Exit = Exit::Compat(124);
    /// wait-for-it's usage errors (and `--help`).
    pub const WAIT_FOR_IT_USAGE: Exit = Exit::Compat(1);
    /// wait-for: an unknown option or argument.
    pub const WAIT_FOR_BAD_OPTION: Exit = Exit::Compat(1);
    /// wait-for: no target, or a port missing.
    pub const WAIT_FOR_NO_TARGET: Exit = Exit::Compat(2);
    /// wait-for: a timeout that is not a non-negative integer.
    pub const WAIT_FOR_BAD_TIMEOUT: Exit = Exit::Compat(3);
}

impl Exit {
    /// The process exit status for this outcome.
    pub fn code(self) -> i32 {
        match self {
            Exit::Ready => 0,
            Exit::NotReady => 1,
            Exit::Usage => 2,
            Exit::Permanent => 3,
            Exit::CannotExecute => 126,
            Exit::NotFound => 127,
            Exit::Signal(n) => 128 + n,
            Exit::Compat(n) => i32::from(n),
        }
    }

    /// Ends the process with this outcome's status, and with it every child it
    /// started that still runs (exec plugins).
    pub fn exit(self) -> ! {
        crate::children::kill_all();
        std::process::exit(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn codes_match_the_contract() {
        assert_eq!(Exit::Ready.code(), 0);
        assert_eq!(Exit::NotReady.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Permanent.code(), 3);
        assert_eq!(Exit::CannotExecute.code(), 126);
        assert_eq!(Exit::NotFound.code(), 127);
        assert_eq!(Exit::Signal(2).code(), 130);
        assert_eq!(Exit::Signal(15).code(), 143);
        assert_eq!(Exit::WAIT_FOR_IT_TIMEOUT.code(), 124);
        assert_eq!(Exit::WAIT_FOR_IT_USAGE.code(), 1);
        assert_eq!(Exit::WAIT_FOR_BAD_OPTION.code(), 1);
        assert_eq!(Exit::WAIT_FOR_NO_TARGET.code(), 2);
        assert_eq!(Exit::WAIT_FOR_BAD_TIMEOUT.code(), 3);
    }
}
