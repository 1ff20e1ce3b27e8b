//! The fixed window: buckets of `per_ms` aligned to the Unix epoch plus an offset.
//!
//! With offset 0 and a period of a minute, hour or day, buckets are the UTC
//! calendar minutes, hours or days (the Unix epoch ignores leap seconds, as
//! servers do). Each bucket admits up to `limit`; the full limit may be used
//! right after each boundary, so up to `2 * limit` can fall in one interval of
//! `per_ms` that straddles a boundary. That is what such servers allow.

/// State of a fixed window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fixed {
    /// Start of the bucket `count` belongs to (may be negative for times before
    /// the first aligned boundary).
    pub(crate) start_ms: i64,
    /// Units counted in the current bucket.
    pub(crate) count: u64,
    /// Units the server reported as used that hold in every bucket starting
    /// before `carry_until_ms` (see [`Fixed::reconcile`]).
    pub(crate) carry_units: u64,
    pub(crate) carry_until_ms: u64,
    /// Where buckets start, in `0..per_ms` ms after each multiple of `per_ms`:
    /// the window's offset, moved by the server's clock offset (see [`Fixed::realign`]).
    pub(crate) phase_ms: u64,
    /// How uncertain the boundaries are (the server's clock is known to a
    /// second): units admitted this close to the end of a bucket may reach the
    /// server in the next one, so they count there too (`spill`).
    pub(crate) guard_ms: u64,
    pub(crate) spill: u64,
}

impl Fixed {
    /// A window whose current bucket is the one holding time 0: time never goes
    /// below 0 and the clock starts there, so no admission falls before it.
    pub(crate) fn new(per_ms: u64, phase_ms: u64) -> Self {
        Fixed {
            start_ms: Self::bucket_start(0, per_ms, phase_ms),
            count: 0,
            carry_units: 0,
            carry_until_ms: 0,
            phase_ms,
            guard_ms: 0,
            spill: 0,
        }
    }

    /// The start of the bucket holding `at_ms`.
    pub(crate) fn bucket_start(at_ms: u64, per_ms: u64, phase_ms: u64) -> i64 {
        let t = at_ms as i64;
        t - (t - phase_ms as i64).rem_euclid(per_ms as i64)
    }

    fn carried_into(&self, start_ms: i64) -> u64 {
        if start_ms < self.carry_until_ms as i64 {
            self.carry_units
        } else {
            0
        }
    }

    /// Moves to the bucket holding `now_ms` (time never goes back here). Requests
    /// still in flight may reach the server in the new bucket: they count there.
    pub(crate) fn advance(&mut self, now_ms: u64, per_ms: u64, in_flight: u64) {
        let start = Self::bucket_start(now_ms, per_ms, self.phase_ms);
        if start > self.start_ms {
            let spill = if start == self.start_ms + per_ms as i64 { self.spill } else { 0 };
            self.start_ms = start;
            self.count = self.carried_into(start).max(spill).saturating_add(in_flight);
            self.spill = 0;
        }
    }

    pub(crate) fn used(&self) -> u64 {
        self.count
    }

    /// Whether `cost` more units fit in the current bucket (where
    /// [`earliest`](Self::earliest) is `now_ms`; in-flight units are in `count`).
    #[inline(always)]
    pub(crate) fn fits(&self, cost: u64, limit: u64) -> bool {
        self.count.saturating_add(cost) <= limit
    }

    /// The earliest time `>= now_ms` at which `cost` more units fit, with
    /// `in_flight` units counted in every bucket until their requests complete.
    /// Assumes `advance(now_ms)` ran and `cost <= limit`.
    pub(crate) fn earliest(&self, now_ms: u64, cost: u64, limit: u64, per_ms: u64, in_flight: u64) -> u64 {
        if self.fits(cost, limit) {
            return now_ms;
        }
        let next = self.start_ms + per_ms as i64;
        // A carry already holds the units admitted while it lasts, spilled ones too.
        if self.carried_into(next).max(self.spill).saturating_add(in_flight).saturating_add(cost) <= limit {
            return next as u64;
        }
        if in_flight.saturating_add(cost) > limit {
            return crate::policy::NEVER;
        }
        // The spill reaches only the next bucket; after it, only a carry can
        // still fill buckets, up to the first one starting at `carry_until_ms`.
        let per = per_ms as i64;
        let after = next + per;
        if self.carried_into(after).saturating_add(in_flight).saturating_add(cost) <= limit {
            return after as u64;
        }
        let steps = (self.carry_until_ms as i64 - after + per - 1).div_euclid(per).max(0);
        (after + steps * per) as u64
    }

    pub(crate) fn add(&mut self, at_ms: u64, cost: u64, per_ms: u64) {
        self.count = self.count.saturating_add(cost);
        if self.guard_ms > 0 && at_ms as i64 >= self.start_ms + per_ms as i64 - self.guard_ms as i64 {
            self.spill = self.spill.saturating_add(cost);
        }
        // While a carry lasts, the server's window outlasts ours: what we send
        // now is still counted there when our next bucket starts.
        if at_ms < self.carry_until_ms {
            self.carry_units = self.carry_units.saturating_add(cost);
        }
    }

    /// A request stamped at `from_ms` is now known to have been in flight until
    /// `to_ms`. If that crosses a boundary, the server may have counted it in the
    /// later bucket: count it there too (the earlier bucket is past already).
    pub(crate) fn restamp(&mut self, from_ms: u64, to_ms: u64, cost: u64, per_ms: u64) {
        let phase_ms = self.phase_ms;
        let to_start = Self::bucket_start(to_ms, per_ms, phase_ms);
        if Self::bucket_start(from_ms, per_ms, phase_ms) == to_start || to_start < self.start_ms {
            return;
        }
        if to_start > self.start_ms {
            self.start_ms = to_start;
            self.count = self.carried_into(to_start);
        }
        self.count = self.count.saturating_add(cost);
    }

    /// Moves the bucket boundaries to `phase_ms` (the server's calendar, on our
    /// clock). The current count is kept in the bucket that now holds `now_ms`:
    /// what was sent in the old bucket may fall in the new one at the server.
    /// `guard_ms` is how far the boundaries may still be off (see `guard_ms`).
    pub(crate) fn realign(&mut self, now_ms: u64, per_ms: u64, phase_ms: u64, guard_ms: u64) -> bool {
        let guard_ms = guard_ms.min(per_ms / 2);
        if phase_ms == self.phase_ms && guard_ms == self.guard_ms {
            return false;
        }
        self.phase_ms = phase_ms;
        self.guard_ms = guard_ms;
        self.start_ms = Self::bucket_start(now_ms, per_ms, phase_ms);
        // What was counted stays in the bucket now current, spill included.
        self.spill = 0;
        true
    }

    /// The server says its window ends at `until_ms` (its reset): its buckets
    /// have their boundaries there, so ours move there too (the phase), and a
    /// count adopted from it holds until that reset, not until the end of a
    /// bucket of ours that happens to hold it. What was counted stays in the
    /// bucket now current, as in [`Fixed::realign`]. Returns whether the phase moved.
    pub(crate) fn adopt_reset(&mut self, now_ms: u64, until_ms: u64, per_ms: u64) -> bool {
        let phase_ms = until_ms % per_ms;
        if phase_ms == self.phase_ms {
            return false;
        }
        let old_end = self.start_ms + per_ms as i64;
        // A carry that has ended must not come back in a bucket now starting earlier.
        if self.carry_until_ms <= now_ms {
            self.carry_units = 0;
            self.carry_until_ms = 0;
        }
        self.phase_ms = phase_ms;
        self.start_ms = Self::bucket_start(now_ms, per_ms, phase_ms);
        // Later buckets never hold more than the current one (see `reconcile`).
        self.count = self.count.max(self.carried_into(self.start_ms));
        // A bucket that now ends sooner: what we counted may still reach the
        // server after that end, so it counts in the next bucket too.
        self.spill = if self.start_ms + (per_ms as i64) < old_end { self.count } else { self.spill };
        true
    }

    /// The server says `server_used` units are spent until `until_ms`. Adopt that
    /// when it is more than we count; if it outlasts this bucket (the server's
    /// buckets are aligned differently), carry it into later buckets. A carry
    /// that has ended is replaced; one still running only grows (reports only
    /// tighten).
    ///
    /// Invariant: `count >= carry_units` while the carry lasts, so later buckets
    /// never hold more than the current one and admission stays monotone in time.
    // Called, not inlined (server feedback only): a little less wasm (measured with twiggy and gzip).
    #[inline(never)]
    pub(crate) fn reconcile(&mut self, server_used: u64, until_ms: u64, per_ms: u64) {
        self.count = self.count.max(server_used);
        let next = self.start_ms + per_ms as i64;
        if until_ms as i64 > next {
            if self.carry_until_ms as i64 <= self.start_ms {
                self.carry_units = 0;
            }
            self.carry_units = self.carry_units.max(server_used);
            self.carry_until_ms = self.carry_until_ms.max(until_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;
    /// 2026-11-23T13:42:00Z
    const T1342: u64 = 1_795_441_320_000;

    #[test]
    fn buckets_are_calendar_minutes() {
        assert_eq!(Fixed::bucket_start(T1342 + 59_999, MINUTE, 0), T1342 as i64);
        assert_eq!(Fixed::bucket_start(T1342 + 60_000, MINUTE, 0), (T1342 + MINUTE) as i64);
    }

    #[test]
    fn realigning_to_the_server_keeps_the_count_in_the_bucket_now_current() {
        // The server's clock is 30 s ahead: its minutes start at :30 on ours.
        let mut w = Fixed::new(MINUTE, 0);
        w.advance(30_000, MINUTE, 0);
        w.add(30_000, 60, MINUTE);
        assert!(w.realign(30_000, MINUTE, 30_000, 0));
        assert_eq!(w.start_ms, 30_000);
        assert_eq!(w.earliest(59_000, 1, 60, MINUTE, 0), 90_000);
        assert!(!w.realign(31_000, MINUTE, 30_000, 0));
    }

    #[test]
    fn units_admitted_within_the_guard_of_a_boundary_count_in_the_next_bucket_too() {
        let mut w = Fixed::new(MINUTE, 0);
        w.realign(0, MINUTE, 0, 1_000);
        w.add(10_000, 30, MINUTE);
        w.add(59_500, 20, MINUTE); // may reach the server after its boundary
        assert_eq!(w.earliest(59_600, 41, 60, MINUTE, 0), 120_000);
        assert_eq!(w.earliest(59_600, 40, 60, MINUTE, 0), 60_000);
        w.advance(60_000, MINUTE, 0);
        assert_eq!(w.used(), 20);
        w.advance(120_000, MINUTE, 0);
        assert_eq!(w.used(), 0);
    }

    #[test]
    fn an_offset_moves_the_boundaries() {
        assert_eq!(Fixed::bucket_start(10_000, MINUTE, 15_000), -45_000);
        assert_eq!(Fixed::bucket_start(15_000, MINUTE, 15_000), 15_000);
    }

    #[test]
    fn a_full_bucket_reopens_at_the_next_boundary() {
        // SecureCodingHub: a request at 13:42:59 and one at 13:43:01 fall into different buckets.
        let mut w = Fixed::new(MINUTE, 0);
        w.advance(T1342 + 1_000, MINUTE, 0);
        w.add(0, 60, MINUTE);
        assert_eq!(w.earliest(T1342 + 59_000, 1, 60, MINUTE, 0), T1342 + MINUTE);
        w.advance(T1342 + MINUTE + 1_000, MINUTE, 0);
        assert_eq!(w.used(), 0);
    }

    #[test]
    fn a_carry_keeps_later_buckets_full_until_it_ends() {
        let mut w = Fixed::new(MINUTE, 0);
        w.advance(0, MINUTE, 0);
        w.reconcile(60, 150_000, MINUTE);
        assert_eq!(w.earliest(10, 1, 60, MINUTE, 0), 180_000);
        w.advance(120_000, MINUTE, 0);
        assert_eq!(w.used(), 60);
        w.advance(180_000, MINUTE, 0);
        assert_eq!(w.used(), 0);
    }

    #[test]
    fn an_adopted_count_holds_until_the_server_s_reset_not_the_end_of_our_bucket() {
        // 20 per 10 s; told "0 left until +10.06 s" at 3 s: the server's window
        // ends at 13.06 s, inside our epoch bucket [10 s, 20 s).
        let per = 10_000;
        let mut w = Fixed::new(per, 0);
        w.advance(3_000, per, 0);
        assert!(w.adopt_reset(3_000, 13_060, per));
        w.reconcile(20, 13_060, per);
        assert_eq!(w.earliest(3_000, 1, 20, per, 0), 13_060);
        w.advance(13_060, per, 0);
        assert_eq!(w.used(), 0);
        // The same reset again moves nothing.
        assert!(!w.adopt_reset(5_000, 13_060, per));
    }

    #[test]
    fn a_reset_that_ends_our_bucket_later_spills_nothing_into_the_next() {
        // 20 per 10 s, all sent at 3 s; the server's window ends at 10.5 s, after
        // our bucket's end (10 s): nothing we sent can fall in its next window,
        // which opens whole at 10.5 s.
        let per = 10_000;
        let mut w = Fixed::new(per, 0);
        w.advance(3_000, per, 0);
        w.add(3_000, 20, per);
        assert!(w.adopt_reset(3_000, 10_500, per));
        assert_eq!(w.start_ms, 500);
        assert_eq!(w.earliest(3_000, 20, 20, per, 0), 10_500);
        w.advance(10_500, per, 0);
        assert_eq!(w.used(), 0);
    }

    #[test]
    fn units_sent_when_a_carry_ends_do_not_join_it() {
        // 10 s buckets. The server counts 5 until 15 s (past our bucket's end):
        // a carry. 3 sent at 15 s fall in the server's next window, so a later
        // report that extends the carry holds its own count, not 5 + 3.
        let per = 10_000;
        let mut w = Fixed::new(per, 0);
        w.advance(0, per, 0);
        w.reconcile(5, 15_000, per);
        w.advance(10_000, per, 0);
        w.add(15_000, 3, per);
        assert_eq!(w.carry_units, 5);
        w.reconcile(6, 25_000, per);
        w.advance(20_000, per, 0);
        assert_eq!(w.used(), 6);
    }

    #[test]
    fn moving_the_boundaries_keeps_a_running_carry_and_never_revives_an_ended_one() {
        let per = 10_000;
        // The server counts 5 until 25 s: buckets starting before then hold 5,
        // wherever the boundaries move meanwhile.
        let mut w = Fixed::new(per, 0);
        w.advance(0, per, 0);
        w.reconcile(5, 25_000, per);
        assert!(w.adopt_reset(3_000, 13_060, per));
        w.advance(13_060, per, 0);
        assert_eq!(w.used(), 5);
        w.advance(23_060, per, 0);
        assert_eq!(w.used(), 5);
        w.advance(33_060, per, 0);
        assert_eq!(w.used(), 0);
        // A carry that ended at 15 s does not come back in a bucket that now
        // starts at 14 s.
        let mut w = Fixed::new(per, 0);
        w.advance(0, per, 0);
        w.reconcile(5, 15_000, per);
        w.advance(20_000, per, 0);
        assert_eq!(w.used(), 0);
        assert!(w.adopt_reset(20_500, 24_000, per));
        assert_eq!(w.start_ms, 14_000);
        assert_eq!(w.used(), 0);
    }

    #[test]
    fn requests_in_flight_at_a_boundary_count_in_the_new_bucket() {
        let mut w = Fixed::new(MINUTE, 0);
        w.advance(59_000, MINUTE, 0);
        w.add(0, 60, MINUTE);
        // 5 of them still in flight at 13:43:00 may arrive in the new minute.
        w.advance(60_000, MINUTE, 5);
        assert_eq!(w.used(), 5);
        assert_eq!(w.earliest(60_000, 55, 60, MINUTE, 5), 60_000);
        // 56 more fit in no bucket while those 5 may still arrive.
        assert_eq!(w.earliest(60_000, 56, 60, MINUTE, 5), crate::policy::NEVER);
        w.add(0, 55, MINUTE);
        assert_eq!(w.earliest(60_000, 1, 60, MINUTE, 5), 120_000);
    }

    #[test]
    fn restamp_across_a_boundary_counts_in_the_later_bucket() {
        let mut w = Fixed::new(MINUTE, 0);
        w.advance(59_990, MINUTE, 0);
        w.add(59_990, 1, MINUTE);
        w.restamp(59_990, 60_010, 1, MINUTE);
        assert_eq!(w.start_ms, 60_000);
        assert_eq!(w.used(), 1);
    }
}
