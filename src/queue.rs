//! The wait queue: priority first, then first come, first served.
//!
//! One FIFO per priority in use, kept in a short vector ordered by priority
//! (callers use a handful of priorities). Within a FIFO, ids grow with arrival,
//! so a waiter is found by binary search: enqueue and head are O(1) after the
//! priority's O(log p) lookup, cancel is O(p log n). A cancelled waiter leaves a
//! tombstone that is dropped when it reaches the front, or at once when
//! tombstones would make up half of its FIFO, so memory stays within twice the
//! live waiters. Smaller in code and memory than the two ordered maps it
//! replaces, and allocation-free on the hot path once warmed up.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::Error;

/// Identifies a queued waiter. Never 0, never reused by one limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaiterId(pub u64);

/// The waiters of one priority, in arrival order; cost 0 marks a cancelled one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Level {
    priority: i32,
    waiters: VecDeque<(u64, u64)>,
    tombstones: usize,
}

impl Level {
    fn position(&self, seq: u64) -> Option<usize> {
        let i = self.waiters.partition_point(|w| w.0 < seq);
        matches!(self.waiters.get(i), Some(w) if w.0 == seq && w.1 != 0).then_some(i)
    }

    /// Marks the waiter at `i` cancelled and drops tombstones that can go.
    fn remove_at(&mut self, i: usize) {
        if let Some(w) = self.waiters.get_mut(i) {
            w.1 = 0;
            self.tombstones += 1;
        }
        while self.waiters.front().is_some_and(|w| w.1 == 0) {
            self.waiters.pop_front();
            self.tombstones -= 1;
        }
        if self.tombstones * 2 > self.waiters.len() {
            self.waiters.retain(|w| w.1 != 0);
            self.tombstones = 0;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queue {
    /// Highest priority first; no level is empty.
    levels: Vec<Level>,
    len: usize,
    next_seq: u64,
    pub(crate) max_waiters: u64,
}

impl Queue {
    pub(crate) fn new(max_waiters: u64) -> Self {
        Queue { levels: Vec::new(), len: 0, next_seq: 1, max_waiters }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, cost: u64, priority: i32) -> Result<WaiterId, Error> {
        if cost == 0 {
            return Err(Error::InvalidCost);
        }
        if self.len as u64 >= self.max_waiters {
            return Err(Error::QueueFull { max_waiters: self.max_waiters });
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        let i = self.levels.partition_point(|l| l.priority > priority);
        match self.levels.get_mut(i) {
            Some(level) if level.priority == priority => level.waiters.push_back((seq, cost)),
            _ => {
                let mut waiters = VecDeque::new();
                waiters.push_back((seq, cost));
                self.levels.insert(i, Level { priority, waiters, tombstones: 0 });
            }
        }
        self.len += 1;
        Ok(WaiterId(seq))
    }

    /// Waiters in admission order, with their costs.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (WaiterId, u64)> + '_ {
        self.levels.iter().flat_map(|l| l.waiters.iter().filter(|w| w.1 != 0).map(|&(seq, cost)| (WaiterId(seq), cost)))
    }

    /// The waiter to admit next, with its cost.
    pub(crate) fn head(&self) -> Option<(WaiterId, u64)> {
        // A level's front is never a tombstone.
        self.levels.first().and_then(|l| l.waiters.front()).map(|&(seq, cost)| (WaiterId(seq), cost))
    }

    pub(crate) fn remove(&mut self, id: WaiterId) -> bool {
        let found = self.levels.iter().enumerate().find_map(|(li, l)| l.position(id.0).map(|i| (li, i)));
        let Some((li, i)) = found else { return false };
        let Some(level) = self.levels.get_mut(li) else { return false };
        level.remove_at(i);
        if level.waiters.is_empty() {
            self.levels.remove(li);
        }
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_waiters_are_compacted_once_they_are_the_majority() {
        // A cancel marks its waiter (O(log n)); the level is rewritten only when
        // marks outnumber the waiters left, so cancels cost O(1) amortised and
        // a level never holds more than twice its live waiters.
        let mut q = Queue::new(1_000);
        let ids: alloc::vec::Vec<_> = (0..100).map(|_| q.push(1, 0).unwrap()).collect();
        assert!(q.remove(ids[50]));
        assert_eq!((q.levels[0].waiters.len(), q.levels[0].tombstones), (100, 1), "one mark, no rewrite");
        for &id in &ids[51..] {
            q.remove(id);
        }
        assert_eq!((q.levels[0].waiters.len(), q.levels[0].tombstones), (100, 50), "half marked: still no rewrite");
        q.remove(ids[49]);
        assert_eq!((q.levels[0].waiters.len(), q.levels[0].tombstones), (49, 0), "marks the majority: rewritten");
        assert_eq!(q.len(), 49);
        assert_eq!(q.iter().map(|(id, _)| id).collect::<alloc::vec::Vec<_>>(), ids[..49]);
    }

    #[test]
    fn marks_dropped_from_the_front_are_no_longer_counted() {
        // A cancel at the front drops its mark, and the marks right behind it,
        // at once: they leave the count too, or the level would be rewritten
        // long before marks are the majority.
        let mut q = Queue::new(1_000);
        let ids: alloc::vec::Vec<_> = (0..100).map(|_| q.push(1, 0).unwrap()).collect();
        assert!(q.remove(ids[1]));
        assert!(q.remove(ids[0]));
        assert_eq!((q.levels[0].waiters.len(), q.levels[0].tombstones), (98, 0), "both marks left with the front");
        for &id in &ids[50..97] {
            q.remove(id);
        }
        assert_eq!((q.levels[0].waiters.len(), q.levels[0].tombstones), (98, 47), "47 of 98 marked: no rewrite yet");
    }

    #[test]
    fn waiters_of_one_priority_share_one_level() {
        // A level per priority keeps `push` a binary search over the priorities
        // in use, however many waiters each has.
        let mut q = Queue::new(1_000);
        for i in 0..300 {
            q.push(1, [0, 5, -3][i % 3]).unwrap();
        }
        assert_eq!(q.levels.len(), 3);
        assert_eq!(q.len(), 300);
    }

    #[test]
    fn higher_priority_goes_first_then_arrival_order() {
        let mut q = Queue::new(10);
        let a = q.push(1, 0).unwrap();
        let b = q.push(1, 5).unwrap();
        let c = q.push(1, 5).unwrap();
        let mut seen = alloc::vec::Vec::new();
        while let Some((id, _)) = q.head() {
            seen.push(id);
            q.remove(id);
        }
        assert_eq!(seen, [b, c, a]);
    }

    #[test]
    fn a_full_queue_refuses_and_a_removed_id_is_gone() {
        let mut q = Queue::new(1);
        let a = q.push(1, 0).unwrap();
        assert_eq!(q.push(1, 0), Err(Error::QueueFull { max_waiters: 1 }));
        assert!(q.remove(a));
        assert!(!q.remove(a));
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn cancelled_waiters_leave_no_trace_and_their_memory_is_bounded() {
        let mut q = Queue::new(u64::MAX);
        let ids: alloc::vec::Vec<_> = (0..100).map(|i| q.push(1 + i % 3, (i % 2) as i32).unwrap()).collect();
        // Cancel all but the last of each priority, from the back.
        for &id in ids.iter().rev().skip(2) {
            assert!(q.remove(id));
            assert!(!q.remove(id));
            let held: usize = q.levels.iter().map(|l| l.waiters.len()).sum();
            assert!(held <= 2 * q.len() + 2, "{held} entries for {} waiters", q.len());
        }
        assert_eq!(q.len(), 2);
        assert_eq!(q.iter().map(|(id, _)| id).collect::<alloc::vec::Vec<_>>(), [ids[99], ids[98]]);
        assert_eq!(q.head(), Some((ids[99], 1)));
        assert!(q.remove(ids[99]));
        assert!(q.remove(ids[98]));
        assert!(q.levels.is_empty());
        assert_eq!(q.head(), None);
        assert!(!q.remove(WaiterId(0)));
    }
}
