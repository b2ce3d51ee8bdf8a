//! The open-file limit. Many targets at once need many sockets: whenready raises its
//! soft RLIMIT_NOFILE to the hard limit while it waits, bounds the attempts in flight
//! by what the limit allows, and puts the original soft limit back before exec, so
//! that COMMAND starts with the limits whenready was given (some programs still use
//! select(), which breaks above 1024 descriptors).

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors kept aside for the runtime, stdio, DNS and the like.
const RESERVE: u64 = 64;
/// Descriptors one attempt may hold: a socket per address of a name (IPv4 and IPv6
/// tried at once), plus one for the resolver.
const PER_ATTEMPT: u64 = 3;

/// The soft limit whenready started with, to restore before exec.
#[derive(Debug, Clone, Copy)]
pub struct Original(Rlimit);

/// Raises the soft limit to the hard one. Returns the original limits and how many
/// attempts may be in flight at once.
pub fn raise() -> (Original, usize) {
    let original = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: original.maximum,
        maximum: original.maximum,
    };
    let effective =
        if original.current != original.maximum && setrlimit(Resource::Nofile, raised).is_ok() {
            raised
        } else {
            original
        };
    (Original(original), in_flight(effective.current))
}

/// Puts the original soft limit back.
pub fn restore(Original(limit): Original) {
    let _ = setrlimit(Resource::Nofile, limit);
}

/// Attempts that may run at once under a soft limit (`None`: unlimited).
pub fn in_flight(soft: Option<u64>) -> usize {
    match soft {
        None => usize::MAX >> 4,
        Some(n) => usize::try_from(n.saturating_sub(RESERVE) / PER_ATTEMPT)
            .unwrap_or(usize::MAX >> 4)
            .max(4),
    }
}

#[cfg(test)]
mod tests {
    use super::in_flight;

    #[test]
    fn in_flight_follows_the_limit() {
        assert_eq!(in_flight(Some(256)), 64);
        assert_eq!(in_flight(Some(1024)), 320);
        assert_eq!(in_flight(Some(10)), 4);
        assert!(in_flight(None) > 1_000_000);
    }
}
