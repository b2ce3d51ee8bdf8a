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
        }
    }

    /// Ends the process with this outcome's status.
    pub fn exit(self) -> ! {
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
    }
}
