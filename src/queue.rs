//! The wait queue: priority first, then first come, first served.
//!
//! Two ordered maps give O(log n) enqueue, head and removal by id, and free a
//! removed waiter's memory at once.

use alloc::collections::BTreeMap;
use core::cmp::Reverse;

use crate::Error;

/// Identifies a queued waiter. Never 0, never reused by one limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaiterId(pub u64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queue {
    /// (higher priority first, then arrival order) -> cost.
    order: BTreeMap<(Reverse<i32>, u64), u64>,
    priority_of: BTreeMap<u64, i32>,
    next_seq: u64,
    pub(crate) max_waiters: u64,
}

impl Queue {
    pub(crate) fn new(max_waiters: u64) -> Self {
        Queue { order: BTreeMap::new(), priority_of: BTreeMap::new(), next_seq: 1, max_waiters }
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn push(&mut self, cost: u64, priority: i32) -> Result<WaiterId, Error> {
        if self.order.len() as u64 >= self.max_waiters {
            return Err(Error::QueueFull { max_waiters: self.max_waiters });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert((Reverse(priority), seq), cost);
        self.priority_of.insert(seq, priority);
        Ok(WaiterId(seq))
    }

    /// Waiters in admission order, with their costs.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (WaiterId, u64)> + '_ {
        self.order.iter().map(|(&(_, seq), &cost)| (WaiterId(seq), cost))
    }

    /// The waiter to admit next, with its cost.
    pub(crate) fn head(&self) -> Option<(WaiterId, u64)> {
        self.order.first_key_value().map(|(&(_, seq), &cost)| (WaiterId(seq), cost))
    }

    pub(crate) fn remove(&mut self, id: WaiterId) -> bool {
        match self.priority_of.remove(&id.0) {
            Some(p) => self.order.remove(&(Reverse(p), id.0)).is_some(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
