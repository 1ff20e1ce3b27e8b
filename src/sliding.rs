//! The exact sliding window: never more than `limit` in any interval of `per_ms`.
//!
//! It keeps a log of admitted costs by time. A unit admitted at `t` is counted
//! in the half-open interval `[t, t + per_ms)`: its slot is free again at exactly
//! `t + per_ms`. The log holds at most `limit` units, so memory is bounded by the
//! limit, not by the traffic.

use alloc::collections::VecDeque;
/// One entry of the log: `cost` units admitted (or counted) at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub at_ms: u64,
    pub cost: u64,
}

/// State of a sliding window. Entries are sorted by `at_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sliding {
    log: VecDeque<Entry>,
    /// Sum of the costs in `log`.
    used: u64,
}

impl Sliding {
    /// A window with `log` (sorted by time), whose costs sum to `used`.
    pub(crate) fn from_log(log: VecDeque<Entry>, used: u64) -> Self {
        Sliding { log, used }
    }

    pub(crate) fn log(&self) -> &VecDeque<Entry> {
        &self.log
    }

    /// Drops entries whose slot is free at `now_ms`.
    pub(crate) fn advance(&mut self, now_ms: u64, per_ms: u64) {
        while let Some(front) = self.log.front() {
            if front.at_ms.saturating_add(per_ms) > now_ms {
                break;
            }
            self.used = self.used.saturating_sub(front.cost);
            self.log.pop_front();
        }
    }

    /// Units counted at `now_ms` (assumes `advance(now_ms)` ran).
    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    /// The earliest time `>= now_ms` at which `cost` more units fit under `limit`,
    /// with `in_flight` units counted as used until their requests complete
    /// ([`NEVER`](crate::policy::NEVER) if only a completion can make room).
    /// Assumes `advance(now_ms)` ran and `cost <= limit`.
    pub(crate) fn earliest(&self, now_ms: u64, cost: u64, limit: u64, per_ms: u64, in_flight: u64) -> u64 {
        if self.fits(cost, limit, in_flight) {
            return now_ms;
        }
        // The oldest entries must expire until `need` units are gone.
        let need = self.used.saturating_add(in_flight).saturating_add(cost) - limit;
        let mut freed = 0u64;
        for e in &self.log {
            freed = freed.saturating_add(e.cost);
            if freed >= need {
                return e.at_ms.saturating_add(per_ms).max(now_ms);
            }
        }
        crate::policy::NEVER
    }

    /// Whether `cost` more units fit now under `limit`, `in_flight` counted
    /// (where [`earliest`](Self::earliest) is `now_ms`).
    #[inline(always)]
    pub(crate) fn fits(&self, cost: u64, limit: u64, in_flight: u64) -> bool {
        self.used.saturating_add(in_flight).saturating_add(cost) <= limit
    }

    /// Counts an admission at the clock: [`add`](Self::add), with its most
    /// common case inlined (many admissions a millisecond, so the log's last
    /// entry is most often at this very millisecond): one call less per decision.
    #[inline(always)]
    pub(crate) fn admit(&mut self, now_ms: u64, cost: u64) {
        match self.log.back_mut() {
            Some(back) if back.at_ms == now_ms => {
                back.cost = back.cost.saturating_add(cost);
                self.used = self.used.saturating_add(cost);
            }
            _ => self.add(now_ms, cost),
        }
    }

    /// Counts `cost` units at `at_ms`, keeping the log sorted.
    pub(crate) fn add(&mut self, at_ms: u64, cost: u64) {
        if cost == 0 {
            return;
        }
        self.used = self.used.saturating_add(cost);
        // At the back's own millisecond, `idx` is the length and the back is merged below.
        let idx = match self.log.back() {
            Some(back) if back.at_ms > at_ms => self.log.partition_point(|e| e.at_ms <= at_ms),
            _ => self.log.len(),
        };
        match idx.checked_sub(1).and_then(|i| self.log.get_mut(i)) {
            Some(prev) if prev.at_ms == at_ms => prev.cost = prev.cost.saturating_add(cost),
            _ => self.log.insert(idx, Entry { at_ms, cost }),
        }
    }

    /// Drops the oldest units until at most `limit` are logged. Decisions do
    /// not change (see `Window::cap`): units beyond the limit must all expire
    /// before any cost fits, and the oldest of them expire first.
    pub(crate) fn trim_to(&mut self, limit: u64) {
        while self.used > limit {
            let excess = self.used - limit;
            let Some(front) = self.log.front_mut() else { break };
            if front.cost > excess {
                front.cost -= excess;
                self.used = limit;
            } else {
                self.used = self.used.saturating_sub(front.cost);
                self.log.pop_front();
            }
        }
    }

    /// Takes up to `cost` units logged at exactly `at_ms` out of the log (a
    /// permit released unused); units already expired or moved stay as they are.
    pub(crate) fn remove(&mut self, at_ms: u64, cost: u64) {
        let idx = self.log.partition_point(|e| e.at_ms < at_ms);
        if let Some(e) = self.log.get_mut(idx) {
            if e.at_ms == at_ms {
                let taken = e.cost.min(cost);
                e.cost -= taken;
                self.used = self.used.saturating_sub(taken);
                if e.cost == 0 {
                    self.log.remove(idx);
                }
            }
        }
    }

    /// Makes at least `units` of the logged units free no earlier than
    /// `at_ms + per_ms`, moving the newest of the older entries up to `at_ms`
    /// (the fewest moves that do it). Returns whether anything moved.
    pub(crate) fn hold(&mut self, at_ms: u64, units: u64) -> bool {
        let older = self.log.partition_point(|e| e.at_ms < at_ms);
        let lasting = self.log.iter().skip(older).fold(0u64, |sum, e| sum.saturating_add(e.cost));
        let mut missing = units.saturating_sub(lasting);
        let mut moved = 0u64;
        let mut i = older;
        while missing > 0 && i > 0 {
            i -= 1;
            let Some(e) = self.log.get_mut(i) else { break };
            let take = e.cost.min(missing);
            e.cost -= take;
            missing -= take;
            moved += take;
        }
        if moved == 0 {
            return false;
        }
        self.log.retain(|e| e.cost > 0);
        self.used = self.used.saturating_sub(moved);
        self.add(at_ms, moved);
        true
    }

    /// Moves up to `cost` units counted at `from_ms` to `to_ms` (`to_ms > from_ms`).
    /// Units no longer in the log (already expired) are counted at `to_ms` anyway:
    /// counting late is the safe side.
    pub(crate) fn restamp(&mut self, from_ms: u64, to_ms: u64, cost: u64) {
        self.remove(from_ms, cost);
        self.add(to_ms, cost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    fn admit(w: &mut Sliding, now: u64, limit: u64) -> Result<(), u64> {
        w.advance(now, MINUTE);
        let at = w.earliest(now, 1, limit, MINUTE, 0);
        if at == now {
            w.add(now, 1);
            Ok(())
        } else {
            Err(at)
        }
    }

    #[test]
    fn a_slot_is_free_again_exactly_one_period_after_it_was_used() {
        let mut w = Sliding::default();
        for i in 0..20 {
            admit(&mut w, 1_000 + i, 20).unwrap();
        }
        assert_eq!(admit(&mut w, 30_000, 20), Err(1_000 + MINUTE));
        assert_eq!(admit(&mut w, 1_000 + MINUTE - 1, 20), Err(1_000 + MINUTE));
        assert_eq!(admit(&mut w, 1_000 + MINUTE, 20), Ok(()));
        assert_eq!(admit(&mut w, 1_000 + MINUTE, 20), Err(1_001 + MINUTE));
    }

    #[test]
    fn a_large_cost_waits_for_enough_entries_to_expire() {
        let mut w = Sliding::default();
        for i in 0..10 {
            w.add(i * 1_000, 1);
        }
        w.advance(10_000, MINUTE);
        // 10 used of 12: a cost of 5 needs 3 to expire, the third at 2_000.
        assert_eq!(w.earliest(10_000, 5, 12, MINUTE, 0), 2_000 + MINUTE);
        // With 2 more in flight, 5 must expire; with 3 in flight, only a completion helps.
        assert_eq!(w.earliest(10_000, 5, 12, MINUTE, 2), 4_000 + MINUTE);
        assert_eq!(w.earliest(10_000, 5, 12, MINUTE, 8), crate::policy::NEVER);
    }

    #[test]
    fn restamp_moves_the_slot_to_the_later_time() {
        let mut w = Sliding::default();
        w.add(0, 1);
        w.add(10, 1);
        w.restamp(0, 500, 1);
        assert_eq!(w.log().iter().map(|e| e.at_ms).collect::<alloc::vec::Vec<_>>(), [10, 500]);
        assert_eq!(w.used(), 2);
    }

    #[test]
    fn restamp_of_an_expired_slot_counts_it_at_the_new_time() {
        let mut w = Sliding::default();
        w.restamp(0, 70_000, 2);
        w.advance(70_000, MINUTE);
        assert_eq!(w.used(), 2);
    }
}
