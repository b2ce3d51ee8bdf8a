//! A whole run as the command line (whenready's own, or a drop-in tool's) asks for
//! it: what to wait for, how to speak, and the rules of the personality. Made by
//! [`crate::app`] or a [`crate::compat`] module, carried out by [`crate::app`].

use crate::config::Config;
use crate::exit::Exit;
use crate::report::Voice;
use std::time::Duration;

/// What to do when the deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDeadline {
    /// Exit with this status.
    Exit(Exit),
    /// Run COMMAND anyway (wait-for-it without `--strict`).
    RunCommand,
}

/// A whole run: what to wait for, how to speak, and the rules of the personality.
pub struct Plan {
    /// Targets, deadline, command.
    pub config: Config,
    /// How events are printed.
    pub voice: Box<dyn Voice>,
    /// What a passed deadline means.
    pub on_deadline: OnDeadline,
    /// Exit status for a usage error found after parsing (an unreadable CA file).
    pub usage_exit: Exit,
    /// A pause before the first probe (docker-compose-wait's WAIT_BEFORE).
    pub before: Duration,
    /// A pause between readiness and exec (WAIT_AFTER).
    pub after: Duration,
}

impl Plan {
    /// A plan with whenready's rules for these settings.
    pub fn new(config: Config, voice: Box<dyn Voice>) -> Plan {
        Plan {
            config,
            voice,
            on_deadline: OnDeadline::Exit(Exit::NotReady),
            usage_exit: Exit::Usage,
            before: Duration::ZERO,
            after: Duration::ZERO,
        }
    }
}
