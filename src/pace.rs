//! One timer for the whole wait.
//!
//! Every timed event of a wait (each target's pause between attempts, the voice's
//! ticks, the deadline) is an entry of one queue behind one kernel timer: a timerfd
//! that the runtime's epoll watches, set to go off exactly when the earliest entry
//! is due. When it goes off, one wake-up serves every entry due by then. The
//! runtime's own timer would cost more per pause on a machine that is otherwise
//! idle: a registration earlier than its next wake-up writes to its eventfd (one
//! more system call and one more turn of the event loop), and its wheel wakes up at
//! the start of a coarse slot before the moment a pause of more than 64 ms ends, so
//! most pauses took two wake-ups instead of one (see README, Performance).
//!
//! An entry is due at its `soft` time and may be served up to its `hard` time: the
//! wake-up for the earliest entry is put off to a later entry's time while that
//! makes no entry late, so that targets whose pauses end within a few milliseconds
//! of each other share one wake-up. Nothing is ever served early, and an entry alone
//! is served exactly at its `soft` time.
//!
//! The timer is set once per turn of the event loop: queueing a pause marks the
//! queue changed and wakes the driver task ([`Pacer::drive`]), which runs after the
//! tasks woken with it, so the pauses that one wake-up's attempts queue cost one
//! `timerfd_settime` together.
//!
//! Without a timerfd (or under tokio's paused clock, in unit tests) the same queue
//! runs on the runtime's timer instead ([`Clock::Runtime`]).
//!
//! The queue itself ([`Queue`]: the entries and when to wake up for them) is plain
//! arithmetic: the wait without the runtime (`wait::run_now`) uses it between its
//! blocking sleeps, so both ways share their wake-ups alike.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
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

/// The queue of timed entries and its one timer. Entries are identified by a
/// number below the count given to [`Pacer::new`]; each has at most one pause
/// pending at a time.
pub struct Pacer {
    /// The timerfd, registered with the runtime, when there is one.
    fd: Option<AsyncFd<OwnedFd>>,
    state: Mutex<State>,
}

/// Timed entries and when to wake up for them: the pacer's arithmetic, without a
/// timer. [`Pacer`] runs it on the runtime; the wait without the runtime
/// (`wait::run_now`) runs it between blocking sleeps. Entries are identified by a
/// number below the count given to [`Queue::new`]; each has at most one pending.
pub struct Queue {
    /// Pending entries, earliest `soft` first (with cancelled ones, dropped when
    /// they come first).
    heap: BinaryHeap<Entry>,
    marks: Vec<Mark>,
    /// Entries taken out while looking for the wake-up time (kept to reuse its
    /// allocation).
    scratch: Vec<Entry>,
}

/// Where one entry stands.
#[derive(Clone, Copy)]
struct Mark {
    queued: bool,
    /// Which of its entries is the current one (the heap may still hold older
    /// ones, cancelled).
    generation: u64,
    /// The latest moment to serve it.
    hard: Instant,
}

/// A queued entry: when it is due, whose it is, which of its entries.
type Entry = Reverse<(Instant, usize, u64)>;

impl Queue {
    /// An empty queue for entries `0..ids`.
    pub fn new(ids: usize) -> Queue {
        let far = Instant::now();
        Queue {
            heap: BinaryHeap::with_capacity(ids),
            marks: vec![
                Mark {
                    queued: false,
                    generation: 0,
                    hard: far,
                };
                ids
            ],
            scratch: Vec::new(),
        }
    }

    /// Queues entry `id`, due at `soft` and to be served by `hard` (`hard` before
    /// `soft` counts as `soft`), in place of its pending one, if any.
    pub fn push(&mut self, id: usize, soft: Instant, hard: Instant) {
        let mark = &mut self.marks[id];
        mark.queued = true;
        mark.generation += 1;
        mark.hard = hard.max(soft);
        self.heap.push(Reverse((soft, id, mark.generation)));
    }

    /// Takes entry `id` out, if it is pending.
    pub fn cancel(&mut self, id: usize) {
        self.marks[id].queued = false;
    }

    /// Whether a queued entry is still the current one of its id.
    fn live(&self, &Reverse((_, id, generation)): &Entry) -> bool {
        let mark = &self.marks[id];
        mark.queued && mark.generation == generation
    }

    /// The earliest pending entry, dropping cancelled ones on the way.
    fn first(&mut self) -> Option<(Instant, usize)> {
        while let Some(entry) = self.heap.peek() {
            let Reverse((soft, id, _)) = *entry;
            if self.live(entry) {
                return Some((soft, id));
            }
            self.heap.pop();
        }
        None
    }

    /// Takes out the earliest entry due by `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        let (soft, id) = self.first()?;
        if soft > now {
            return None;
        }
        self.heap.pop();
        self.marks[id].queued = false;
        Some(id)
    }

    /// When to wake up for the queue: the earliest entry's time, put off to the
    /// time of each following entry as long as no entry before it would be late.
    pub fn wake_at(&mut self) -> Option<Instant> {
        let (mut at, id) = self.first()?;
        let mut latest = self.marks[id].hard;
        let mut taken = std::mem::take(&mut self.scratch);
        while let Some(entry) = self.heap.pop() {
            let Reverse((soft, id, _)) = entry;
            if !self.live(&entry) {
                continue;
            }
            let go_on = soft <= latest;
            taken.push(entry);
            if !go_on {
                break;
            }
            at = soft;
            latest = latest.min(self.marks[id].hard);
        }
        self.heap.extend(taken.drain(..));
        self.scratch = taken;
        Some(at)
    }
}

/// The pacer's side of one entry.
struct Slot {
    /// Served, not yet seen by its pause.
    fired: bool,
    waker: Option<Waker>,
}

struct State {
    queue: Queue,
    slots: Vec<Slot>,
    /// When the timer is set to go off, if it is.
    armed: Option<Instant>,
    /// The timerfd is in use (false: the runtime's timer).
    kernel: bool,
    /// The queue changed since the timer was set: the driver sets it again once
    /// the tasks that run now have queued their pauses (one system call for all).
    dirty: bool,
    /// The task that runs [`Pacer::drive`].
    driver: Option<Waker>,
    /// Wakers being woken (kept to reuse its allocation).
    woken: Vec<Waker>,
}

impl Pacer {
    /// A pacer for entries `0..ids`. With [`Clock::Kernel`] it makes a timerfd and
    /// registers it with the current runtime (falling back to the runtime's timer
    /// when either fails).
    pub fn new(ids: usize, clock: Clock) -> Pacer {
        let fd = match clock {
            Clock::Kernel => timerfd(),
            Clock::Runtime => None,
        };
        Pacer {
            state: Mutex::new(State {
                queue: Queue::new(ids),
                slots: (0..ids)
                    .map(|_| Slot {
                        fired: false,
                        waker: None,
                    })
                    .collect(),
                armed: None,
                kernel: fd.is_some(),
                dirty: false,
                driver: None,
                woken: Vec::new(),
            }),
            fd,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A pause for entry `id` that ends at `soft`, or up to `hard` when that lets
    /// it share a wake-up (`hard` before `soft` counts as `soft`). One that is due
    /// already still yields once to the runtime.
    pub fn pause(&self, id: usize, soft: Instant, hard: Instant) -> Pause<'_> {
        Pause {
            pacer: self,
            id,
            soft,
            hard: hard.max(soft),
            queued: false,
            yielded: false,
        }
    }

    /// Sets the timer for the queue as it is now, if that moved (the driver only).
    fn settle(&self, st: &mut State) {
        st.dirty = false;
        let Some(at) = st.queue.wake_at() else {
            return;
        };
        if st.armed == Some(at) {
            return;
        }
        st.armed = Some(at);
        if !st.kernel {
            return;
        }
        if let Some(fd) = &self.fd {
            let wait = at
                .saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1));
            let spec = rustix::time::Itimerspec {
                it_interval: rustix::time::Timespec::default(),
                it_value: rustix::time::Timespec {
                    tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: i64::from(wait.subsec_nanos()),
                },
            };
            let flags = rustix::time::TimerfdTimerFlags::empty();
            if rustix::time::timerfd_settime(fd.get_ref(), flags, &spec).is_ok() {
                return;
            }
        }
        // Never expected; the runtime's timer takes over.
        st.kernel = false;
    }

    /// Serves every entry due by now and wakes their tasks.
    fn fire(&self) {
        let now = Instant::now();
        let mut woken = {
            let mut st = self.lock();
            st.armed = None;
            st.dirty = true;
            let mut woken = std::mem::take(&mut st.woken);
            while let Some(id) = st.queue.pop_due(now) {
                let slot = &mut st.slots[id];
                slot.fired = true;
                woken.extend(slot.waker.take());
            }
            woken
        };
        for waker in woken.drain(..) {
            waker.wake();
        }
        self.lock().woken = woken;
    }

    /// Resolves when the timer goes off.
    async fn alarm(&self, sleep: &mut Option<Pin<Box<Sleep>>>) {
        std::future::poll_fn(|cx| {
            let mut st = self.lock();
            if !st.driver.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                st.driver = Some(cx.waker().clone());
            }
            if st.dirty {
                self.settle(&mut st);
            }
            if st.kernel {
                if let Some(fd) = &self.fd {
                    return match fd.poll_read_ready(cx) {
                        Poll::Ready(Ok(mut ready)) => {
                            // Setting the timer again resets its count: nothing to read.
                            ready.clear_ready();
                            Poll::Ready(())
                        }
                        Poll::Ready(Err(_)) => {
                            st.kernel = false;
                            cx.waker().wake_by_ref();
                            Poll::Pending
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
            let Some(at) = st.armed else {
                return Poll::Pending;
            };
            drop(st);
            let sleep = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
            if sleep.deadline() != at {
                sleep.as_mut().reset(at);
            }
            sleep.as_mut().poll(cx)
        })
        .await
    }

    /// Runs the timer: must be polled (spawned) for as long as pauses are awaited.
    pub async fn drive(&self) {
        let mut sleep = None;
        loop {
            self.alarm(&mut sleep).await;
            self.fire();
            // The tasks just woken run first (the runtime's queue is FIFO) and queue
            // their next pauses; then the timer is set once for all of them.
            yield_once().await;
        }
    }
}

/// Returns `Pending` once after asking to be polled again.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
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

/// A pending pause of one entry (see [`Pacer::pause`]).
pub struct Pause<'a> {
    pacer: &'a Pacer,
    id: usize,
    soft: Instant,
    hard: Instant,
    queued: bool,
    yielded: bool,
}

impl Future for Pause<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        let pacer = self.pacer;
        let mut st = pacer.lock();
        if !self.queued {
            if self.soft <= Instant::now() {
                // Due already: yield once, so that a target whose attempts never
                // wait cannot keep the runtime (signals, the deadline) from running.
                self.yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let (id, soft, hard) = (self.id, self.soft, self.hard);
            st.queue.push(id, soft, hard);
            st.slots[id].waker = Some(cx.waker().clone());
            self.queued = true;
            if !st.dirty {
                // The driver runs after the tasks that run now, and sets the timer.
                st.dirty = true;
                if let Some(driver) = &st.driver {
                    driver.wake_by_ref();
                }
            }
            return Poll::Pending;
        }
        let slot = &mut st.slots[self.id];
        if slot.fired {
            slot.fired = false;
            self.queued = false;
            self.yielded = true;
            return Poll::Ready(());
        }
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            slot.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Pause<'_> {
    fn drop(&mut self) {
        if !self.queued {
            return;
        }
        // Its entry stays queued, dead, until it comes first.
        let mut st = self.pacer.lock();
        st.queue.cancel(self.id);
        let slot = &mut st.slots[self.id];
        slot.fired = false;
        slot.waker = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs pauses (id, soft, hard after the start) at once; returns when each
    /// ended, after the start.
    async fn ends(clock: Clock, pauses: &[(usize, u64, u64)]) -> Vec<Duration> {
        let ids = pauses.iter().map(|p| p.0).max().unwrap_or(0) + 1;
        let pacer = Arc::new(Pacer::new(ids, clock));
        let driver = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.drive().await }
        });
        let start = Instant::now();
        let mut tasks = Vec::new();
        for &(id, soft, hard) in pauses {
            let pacer = pacer.clone();
            tasks.push(tokio::spawn(async move {
                pacer.pause(id, start + ms(soft), start + ms(hard)).await;
                start.elapsed()
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        driver.abort();
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_pause_ends_at_its_time() {
        assert_eq!(ends(Clock::Runtime, &[(0, 100, 130)]).await, [ms(100)]);
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_that_can_share_a_wake_up_do() {
        // 0 may wait until 130, so it is served with 1 at 120; 2 could not wait
        // for 3 (its last moment is 200, 3 is due at 210), so each has its own.
        let out = ends(
            Clock::Runtime,
            &[(0, 100, 130), (1, 120, 150), (2, 190, 200), (3, 210, 260)],
        )
        .await;
        assert_eq!(out, [ms(120), ms(120), ms(190), ms(210)]);
    }

    #[tokio::test(start_paused = true)]
    async fn no_pause_ends_early_or_past_its_last_moment() {
        let pauses: Vec<(usize, u64, u64)> = (0..40)
            .map(|i| {
                (
                    i,
                    10 + (i as u64 * 37) % 200,
                    10 + (i as u64 * 37) % 200 + i as u64 % 9,
                )
            })
            .collect();
        let out = ends(Clock::Runtime, &pauses).await;
        for ((_, soft, hard), end) in pauses.iter().zip(out) {
            assert!(
                end >= ms(*soft) && end <= ms(*hard),
                "{soft}..{hard}: {end:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_pause_leaves_the_others_alone() {
        let pacer = Arc::new(Pacer::new(2, Clock::Runtime));
        let driver = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.drive().await }
        });
        let start = Instant::now();
        {
            let early = pacer.pause(0, start + ms(50), start + ms(50));
            // Cut short, as the kernel's word on a watched path cuts a pause.
            let _ = tokio::time::timeout(ms(10), early).await;
        }
        pacer.pause(1, start + ms(80), start + ms(80)).await;
        assert_eq!(start.elapsed(), ms(80));
        // The entry can pause again.
        pacer.pause(0, start + ms(90), start + ms(90)).await;
        assert_eq!(start.elapsed(), ms(90));
        driver.abort();
    }

    #[tokio::test]
    async fn the_kernel_timer_ends_pauses_never_early() {
        // Real time: a timerfd. Only the order of events is checked, not how late.
        let pacer = Pacer::new(1, Clock::Kernel);
        assert!(pacer.lock().kernel, "no timerfd");
        let pacer = Arc::new(pacer);
        let driver = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.drive().await }
        });
        for n in [30u64, 1, 20, 0, 45] {
            let due = Instant::now() + ms(n);
            pacer.pause(0, due, due).await;
            assert!(Instant::now() >= due);
        }
        let out = ends(Clock::Kernel, &[(0, 40, 40), (1, 10, 10), (2, 25, 60)]).await;
        assert!(
            out[0] >= ms(40) && out[1] >= ms(10) && out[2] >= ms(25),
            "{out:?}"
        );
        driver.abort();
    }
}
