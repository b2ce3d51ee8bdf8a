//! The queue of due times: when each timed entry of a wait (a target's next
//! attempt, the deadline, the voice's next tick) is due, and when to wake up for
//! them. Plain arithmetic over instants, no clock and no I/O.
//!
//! An entry is due at its `soft` time and may be served up to its `hard` time: the
//! wake-up for the earliest entry is put off to a later entry's time while that
//! makes no entry late, so that targets whose pauses end within a few milliseconds
//! of each other share one wake-up. Nothing is ever served early, and an entry alone
//! is served exactly at its `soft` time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use tokio::time::Instant;

/// Timed entries, identified by a number below the count given to [`Queue::new`];
/// each has at most one pending at a time.
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
        let mark = Mark {
            queued: false,
            generation: 0,
            hard: Instant::now(),
        };
        Queue {
            heap: BinaryHeap::with_capacity(ids),
            marks: vec![mark; ids],
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

    /// Whether entry `id` is pending.
    pub fn pending(&self, id: usize) -> bool {
        self.marks[id].queued
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Serves `entries` (id, soft, hard in ms after a start) as a wait would: wake
    /// at [`Queue::wake_at`], take everything due then; returns when each was served.
    fn served(entries: &[(usize, u64, u64)]) -> Vec<Duration> {
        let start = Instant::now();
        let mut queue = Queue::new(entries.len());
        for &(id, soft, hard) in entries {
            queue.push(id, start + ms(soft), start + ms(hard));
        }
        let mut at = vec![Duration::ZERO; entries.len()];
        while let Some(wake) = queue.wake_at() {
            while let Some(id) = queue.pop_due(wake) {
                at[id] = wake - start;
            }
        }
        at
    }

    #[test]
    fn a_lone_entry_is_served_at_its_time() {
        assert_eq!(served(&[(0, 100, 130)]), [ms(100)]);
    }

    #[test]
    fn entries_that_can_share_a_wake_up_do() {
        // 0 may wait until 130, so it is served with 1 at 120; 2 could not wait
        // for 3 (its last moment is 200, 3 is due at 210), so each has its own.
        let at = served(&[(0, 100, 130), (1, 120, 150), (2, 190, 200), (3, 210, 260)]);
        assert_eq!(at, [ms(120), ms(120), ms(190), ms(210)]);
    }

    #[test]
    fn no_entry_is_served_early_or_past_its_last_moment() {
        let entries: Vec<(usize, u64, u64)> = (0..40)
            .map(|i| {
                let soft = 10 + (i as u64 * 37) % 200;
                (i, soft, soft + i as u64 % 9)
            })
            .collect();
        for ((_, soft, hard), at) in entries.iter().zip(served(&entries)) {
            assert!(at >= ms(*soft) && at <= ms(*hard), "{soft}..{hard}: {at:?}");
        }
    }

    #[test]
    fn a_cancelled_or_replaced_entry_is_not_served() {
        let start = Instant::now();
        let mut queue = Queue::new(2);
        queue.push(0, start + ms(10), start + ms(10));
        queue.push(1, start + ms(20), start + ms(20));
        queue.cancel(0);
        assert!(!queue.pending(0) && queue.pending(1));
        assert_eq!(queue.wake_at(), Some(start + ms(20)));
        // Pushed again: only the newest counts.
        queue.push(1, start + ms(5), start + ms(5));
        assert_eq!(queue.pop_due(start + ms(30)), Some(1));
        assert_eq!(queue.pop_due(start + ms(30)), None);
        assert_eq!(queue.wake_at(), None);
    }
}
