//! The permits a limiter has issued and not yet had back (completed or
//! released), so that each one is handed back exactly once.
//!
//! Permits are plain `(at_ms, cost)` values, so the set is a multiset of units
//! by admission time: two permits of the same cost at the same millisecond are
//! interchangeable. Admissions arrive in clock order, so a deque sorted by time
//! takes them at its back in O(1) and finds one by binary search.
//!
//! Memory stays bounded by the traffic of one window period, not by all traffic
//! ever: a permit older than the longest period has left every window (a
//! sliding log dropped it, a fixed bucket is past, a token bucket refilled it),
//! so only its units still matter, and they are pooled without their time.

use alloc::collections::VecDeque;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Held {
    /// `(at_ms, units)`, strictly increasing `at_ms`, no zero units.
    recent: VecDeque<(u64, u64)>,
    /// Units of permits issued before `stale_before_ms`, pooled.
    stale_units: u64,
    stale_before_ms: u64,
}

impl Held {
    /// Records `units` issued at `at_ms` (never earlier than the last one).
    pub(crate) fn push(&mut self, at_ms: u64, units: u64) {
        if at_ms < self.stale_before_ms {
            self.stale_units = self.stale_units.saturating_add(units);
            return;
        }
        match self.recent.back_mut() {
            Some(back) if back.0 == at_ms => back.1 = back.1.saturating_add(units),
            Some(back) if back.0 > at_ms => {
                // Not reached (the clock never goes back); kept sorted anyway.
                let i = self.recent.partition_point(|e| e.0 < at_ms);
                match self.recent.get_mut(i) {
                    Some(e) if e.0 == at_ms => e.1 = e.1.saturating_add(units),
                    _ => self.recent.insert(i, (at_ms, units)),
                }
            }
            _ => self.recent.push_back((at_ms, units)),
        }
    }

    /// Whether `units` issued at `at_ms` are held.
    pub(crate) fn holds(&self, at_ms: u64, units: u64) -> bool {
        if units == 0 {
            return false;
        }
        if at_ms < self.stale_before_ms {
            return units <= self.stale_units;
        }
        let i = self.recent.partition_point(|e| e.0 < at_ms);
        matches!(self.recent.get(i), Some(e) if e.0 == at_ms && units <= e.1)
    }

    /// Takes back `units` issued at `at_ms`; whether they were held (if not,
    /// nothing changes).
    pub(crate) fn take(&mut self, at_ms: u64, units: u64) -> bool {
        if !self.holds(at_ms, units) {
            return false;
        }
        if at_ms < self.stale_before_ms {
            self.stale_units -= units;
            return true;
        }
        let i = self.recent.partition_point(|e| e.0 < at_ms);
        if let Some(e) = self.recent.get_mut(i) {
            e.1 -= units;
            if e.1 == 0 {
                self.recent.remove(i);
            }
        }
        true
    }

    /// Pools the units of permits issued before `before_ms`.
    pub(crate) fn retire_before(&mut self, before_ms: u64) {
        if before_ms <= self.stale_before_ms {
            return;
        }
        self.stale_before_ms = before_ms;
        while let Some(&(at, units)) = self.recent.front() {
            if at >= before_ms {
                break;
            }
            self.stale_units = self.stale_units.saturating_add(units);
            self.recent.pop_front();
        }
    }

    /// Number of distinct admission times kept (for memory tests).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_comes_back_once() {
        let mut h = Held::default();
        h.push(5, 2);
        h.push(5, 1);
        h.push(9, 4);
        assert!(!h.take(5, 4), "more than was issued at 5");
        assert!(!h.take(6, 1), "nothing was issued at 6");
        assert!(!h.take(5, 0));
        assert!(h.take(5, 2));
        assert!(h.take(5, 1));
        assert!(!h.take(5, 1), "already taken");
        assert!(h.take(9, 4));
        assert_eq!(h.entries(), 0);
    }

    #[test]
    fn old_permits_are_pooled_and_still_come_back_once() {
        let mut h = Held::default();
        h.push(1, 3);
        h.push(2, 1);
        h.push(10, 1);
        h.retire_before(10);
        assert_eq!(h.entries(), 1);
        // Pooled: their time is no longer told apart.
        assert!(h.take(2, 3));
        assert!(!h.take(1, 3), "only 1 unit is left in the pool");
        assert!(h.take(1, 1));
        assert!(!h.take(1, 1));
        assert!(h.take(10, 1));
        // A late push before the pool's edge goes to the pool.
        h.push(3, 2);
        assert!(h.take(0, 2));
        // The edge never moves back.
        h.retire_before(4);
        h.push(12, 1);
        assert!(!h.take(11, 1));
        assert!(!h.take(4, 1), "the pool is empty");
        assert!(h.take(12, 1));
    }

    #[test]
    fn a_permit_pushed_out_of_order_is_still_found_and_merged() {
        // The limiter's clock never goes back, but the set stays sorted (and
        // so searchable) if a caller ever pushes an earlier time.
        let mut h = Held::default();
        h.push(9, 1);
        h.push(5, 2);
        h.push(7, 1);
        h.push(5, 1);
        assert_eq!(h.entries(), 3);
        assert!(h.take(5, 3));
        assert!(h.take(7, 1));
        assert!(h.take(9, 1));
        assert_eq!(h.entries(), 0);
    }
}
