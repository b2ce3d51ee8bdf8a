//! The open-file limit. Many targets at once need many sockets: whenready raises its
//! soft RLIMIT_NOFILE to the hard limit while it waits, bounds the attempts in flight
//! by what the limit allows, and puts the original soft limit back before exec, so
//! that COMMAND starts with the limits whenready was given (some programs still use
//! select(), which breaks above 1024 descriptors).
//!
//! What the limit allows, less a reserve, is split in two halves: one descriptor for
//! each attempt in flight (its resolver call, then its connection), and a pool of
//! spare sockets from which a name with several addresses races the others. A name
//! with twenty addresses races all twenty while there is room, and tries them a few
//! at a time when there is not, never failing for want of descriptors.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

/// Descriptors kept aside for the runtime, stdio, DNS and the like.
const RESERVE: u64 = 64;

/// The spare sockets, sized by [`raise`].
static SPARE_SOCKETS: OnceLock<Semaphore> = OnceLock::new();

/// Permits for the sockets that race a name's second and further addresses. Before
/// [`raise`] ran (in unit tests), as many as a default limit of 1024 allows.
pub fn spare_sockets() -> &'static Semaphore {
    SPARE_SOCKETS.get_or_init(|| Semaphore::new(in_flight(Some(1024))))
}

/// The soft limit whenready started with, to restore before exec.
#[derive(Debug, Clone, Copy)]
pub struct Original(Rlimit);

/// Raises the soft limit to the hard one and sizes the spare sockets. Returns the
/// original limits and how many attempts may be in flight at once.
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
    let half = in_flight(effective.current);
    let _ = SPARE_SOCKETS.set(Semaphore::new(half));
    (Original(original), half)
}

/// Puts the original soft limit back.
pub fn restore(Original(limit): Original) {
    let _ = setrlimit(Resource::Nofile, limit);
}

/// Attempts that may run at once under a soft limit (`None`: unlimited), and as
/// many spare sockets: half of what the limit leaves beside the reserve each.
pub fn in_flight(soft: Option<u64>) -> usize {
    match soft {
        None => Semaphore::MAX_PERMITS >> 1,
        Some(n) => usize::try_from(n.saturating_sub(RESERVE) / 2)
            .unwrap_or(Semaphore::MAX_PERMITS >> 1)
            .clamp(4, Semaphore::MAX_PERMITS >> 1),
    }
}

#[cfg(test)]
mod tests {
    use super::in_flight;

    #[test]
    fn in_flight_follows_the_limit() {
        assert_eq!(in_flight(Some(256)), 96);
        assert_eq!(in_flight(Some(1024)), 480);
        assert_eq!(in_flight(Some(10)), 4);
        assert!(in_flight(None) > 1_000_000);
    }
}
