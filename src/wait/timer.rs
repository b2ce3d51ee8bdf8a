//! The loop's one timer, set at every turn to the schedule's next wake-up.
//!
//! A timerfd that the runtime's epoll watches: one wake-up per pause, and one
//! `timerfd_settime` to set it. The runtime's own timer costs more per pause on a
//! machine that is otherwise idle: its wheel wakes up at the start of a coarse slot
//! before the moment a pause of more than 64 ms ends (two wake-ups instead of one),
//! and moving a timer earlier than the wheel's next wake-up writes to its eventfd.
//! Without a timerfd, and under tokio's paused clock (unit tests), the runtime's
//! timer serves instead ([`Clock::Runtime`]).

use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::{Instant, Sleep};

/// What tells the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// A timerfd, falling back to the runtime's timer if the kernel gives none.
    Kernel,
    /// The runtime's timer (follows tokio's paused clock in tests).
    Runtime,
}

/// One timer: armed for an instant, or not at all.
pub struct Timer {
    /// The timerfd, registered with the runtime, while it serves.
    fd: Option<AsyncFd<OwnedFd>>,
    /// The runtime's timer, when there is no timerfd.
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl Timer {
    /// A timer on `clock`, not armed; made on the runtime.
    pub fn new(clock: Clock) -> Timer {
        Timer {
            fd: match clock {
                Clock::Kernel => timerfd(),
                Clock::Runtime => None,
            },
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: None,
        }
    }

    /// Arms the timer for `at` (`None`: never), unless it is armed for that already.
    pub fn set(&mut self, at: Option<Instant>) {
        if self.armed == at {
            return;
        }
        self.armed = at;
        let Some(fd) = &self.fd else {
            if let Some(at) = at {
                self.sleep.as_mut().reset(at);
            }
            return;
        };
        // Relative to now (a tokio instant has no absolute clock value); zero
        // disarms, so a due time is at least a nanosecond away.
        let wait = at.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1))
        });
        let spec = rustix::time::Itimerspec {
            it_interval: rustix::time::Timespec::default(),
            it_value: rustix::time::Timespec {
                tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(wait.subsec_nanos()),
            },
        };
        let flags = rustix::time::TimerfdTimerFlags::empty();
        if rustix::time::timerfd_settime(fd.get_ref(), flags, &spec).is_err() {
            // Never expected: the runtime's timer takes over.
            self.fallback();
        }
    }

    /// The runtime's timer from now on, armed as the timerfd was.
    fn fallback(&mut self) {
        self.fd = None;
        if let Some(at) = self.armed {
            self.sleep.as_mut().reset(at);
        }
    }

    /// Resolves when the armed instant has come; never while the timer is not
    /// armed. It stays armed: the caller sets it again.
    pub async fn fired(&mut self) {
        std::future::poll_fn(|cx| {
            if self.armed.is_none() {
                return Poll::Pending;
            }
            if let Some(fd) = &self.fd {
                match fd.poll_read_ready(cx) {
                    Poll::Ready(Ok(mut ready)) => {
                        // Setting the timer again resets its count: nothing to read.
                        ready.clear_ready();
                        self.armed = None;
                        return Poll::Ready(());
                    }
                    Poll::Ready(Err(_)) => self.fallback(),
                    Poll::Pending => return Poll::Pending,
                }
            }
            match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.armed = None;
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

/// A monotonic timerfd registered with the runtime, if the kernel gives one.
fn timerfd() -> Option<AsyncFd<OwnedFd>> {
    use rustix::time::{timerfd_create, TimerfdClockId, TimerfdFlags};
    let fd = timerfd_create(
        TimerfdClockId::Monotonic,
        TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
    )
    .ok()?;
    // Deprecated in tokio for types that may close or swap their descriptor while
    // registered (tokio#8587); an `OwnedFd` owned by the `AsyncFd` does neither: it
    // is closed only after the registration is gone. (`register_with_interest`, the
    // replacement, is `unsafe`, which this crate forbids.)
    #[allow(deprecated)]
    AsyncFd::with_interest(fd, Interest::READABLE).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_kernel_timer_fires_never_early() {
        // Real time: only the order of events is checked, not how late.
        let mut timer = Timer::new(Clock::Kernel);
        assert!(timer.fd.is_some(), "no timerfd");
        for n in [30u64, 1, 20, 0, 45] {
            let due = Instant::now() + Duration::from_millis(n);
            timer.set(Some(due));
            timer.fired().await;
            assert!(Instant::now() >= due);
        }
        // Moved earlier and later before it fires: the last setting counts.
        let start = Instant::now();
        timer.set(Some(start + Duration::from_secs(60)));
        timer.set(Some(start + Duration::from_millis(5)));
        timer.set(Some(start + Duration::from_millis(40)));
        timer.fired().await;
        assert!(start.elapsed() >= Duration::from_millis(40));
    }

    #[tokio::test(start_paused = true)]
    async fn the_runtime_timer_follows_the_paused_clock() {
        let mut timer = Timer::new(Clock::Runtime);
        let start = Instant::now();
        timer.set(Some(start + Duration::from_millis(250)));
        timer.fired().await;
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        // Not armed: never fires.
        timer.set(None);
        let never = tokio::time::timeout(Duration::from_secs(5), timer.fired()).await;
        assert!(never.is_err());
    }
}
