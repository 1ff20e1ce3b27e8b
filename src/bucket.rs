//! The token bucket, as GCRA (the generic cell rate algorithm) in exact integers.
//!
//! Capacity `limit`, refilled continuously at `limit` per `per_ms`, starting
//! full. Time is kept in units of `1 / limit` ms so that the emission interval
//! `per_ms / limit` is an integer (`per_ms` units) and nothing is rounded.
//!
//! Only for servers that declare a bucket: starting full and refilling as it
//! goes, it admits `2 * limit - 1` in the first `per_ms` (see the crate docs).

/// `(n / d, n % d)` for `d > 0`. wasm has no 128-bit division, and the general
/// one of `compiler_builtins` is about 1 KB of the limiter module; this is the
/// plain u64 division whenever both fit (every limit below about ten million at
/// today's times), else a bit-at-a-time long division (`d < 2^127`).
pub(crate) fn div_rem(n: u128, d: u128) -> (u128, u128) {
    if (n | d) >> 64 == 0 {
        let (n, d) = (n as u64, d as u64);
        return ((n / d) as u128, (n % d) as u128);
    }
    let (mut q, mut r) = (0u128, 0u128);
    for i in (0..128 - n.leading_zeros()).rev() {
        r = (r << 1) | ((n >> i) & 1);
        q <<= 1;
        if r >= d {
            r -= d;
            q |= 1;
        }
    }
    (q, r)
}

/// `n / d` rounded up, for `d > 0` (see [`div_rem`]).
fn div_ceil(n: u128, d: u128) -> u128 {
    let (q, r) = div_rem(n, d);
    q + (r != 0) as u128
}

/// State of a token bucket: the theoretical arrival time, in `1 / limit` ms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub(crate) tat: u128,
}

impl Bucket {
    fn scaled(at_ms: u64, limit: u64) -> u128 {
        at_ms as u128 * limit as u128
    }

    /// Units spent and not yet refilled at `now_ms`, rounded up, plus `in_flight`.
    pub(crate) fn used(&self, now_ms: u64, limit: u64, per_ms: u64, in_flight: u64) -> u64 {
        let debt = self.tat.saturating_sub(Self::scaled(now_ms, limit));
        div_ceil(debt, per_ms as u128) as u64 + in_flight
    }

    /// The earliest time `>= now_ms` at which `cost <= limit` units fit.
    ///
    /// Units in flight (admitted, response not yet arrived) are not in `tat`:
    /// such a request may reach the server at any moment until its response
    /// arrives, so it is counted as taken now, every time this is asked, and
    /// from its arrival once it completes ([`Bucket::land`]). Only their
    /// completion can make room for more than `limit - in_flight`
    /// ([`NEVER`](crate::policy::NEVER)).
    pub(crate) fn earliest(&self, now_ms: u64, cost: u64, limit: u64, per_ms: u64, in_flight: u64) -> u64 {
        if in_flight > 0 {
            if in_flight + cost > limit {
                return crate::policy::NEVER;
            }
            let mut counted = self.clone();
            counted.add(now_ms, in_flight, limit, per_ms);
            return counted.earliest(now_ms, cost, limit, per_ms, 0);
        }
        let now = Self::scaled(now_ms, limit);
        let per = per_ms as u128;
        if self.tat.max(now) + cost as u128 * per <= now + limit as u128 * per {
            return now_ms;
        }
        // Refused means tat > now; the bucket holds `cost` again once
        // tat + cost * per - limit * per has passed.
        let at = self.tat + cost as u128 * per - limit as u128 * per;
        div_ceil(at, limit as u128) as u64
    }

    // Called, not inlined (called from four places): about 0.1 KB less wasm (twiggy, gzip).
    #[inline(never)]
    pub(crate) fn add(&mut self, at_ms: u64, cost: u64, limit: u64, per_ms: u64) {
        self.tat = self.tat.max(Self::scaled(at_ms, limit)) + cost as u128 * per_ms as u128;
    }

    /// A request in flight completed at `to_ms`, the latest it can have
    /// reached the server: its slot is timed from then, as the server timed it
    /// from its arrival (nginx's `limit_req` does). Counting from admission
    /// instead would let the next request in before a server that saw this one
    /// late has drained it.
    pub(crate) fn land(&mut self, to_ms: u64, cost: u64, limit: u64, per_ms: u64) {
        self.add(to_ms, cost, limit, per_ms);
    }

    /// Counts the request as arriving at `to_ms`: the bucket is at least as
    /// empty as if `cost` had just been taken at `to_ms`. This is exact when the
    /// bucket had room at `to_ms`; when it was already in debt the request's
    /// spacing is unknown and the debt is kept as it is.
    pub(crate) fn restamp(&mut self, to_ms: u64, cost: u64, limit: u64, per_ms: u64) {
        let floor = Self::scaled(to_ms, limit) + cost as u128 * per_ms as u128;
        self.tat = self.tat.max(floor);
    }

    /// Gives back the `cost` units a permit issued at `at_ms` took, as far as
    /// they are still owed at `now_ms` (the permit was never used). Its debt
    /// ended at `at * limit + cost * per` at the latest; if the bucket ran dry
    /// since, that time has passed and nothing is given back, else at most what
    /// is left of it, so the bucket never holds more than if it was never taken.
    pub(crate) fn unadd(&mut self, at_ms: u64, cost: u64, now_ms: u64, limit: u64, per_ms: u64) {
        let owed_until = Self::scaled(at_ms, limit).saturating_add(cost as u128 * per_ms as u128);
        let back = owed_until.saturating_sub(Self::scaled(now_ms, limit)).min(cost as u128 * per_ms as u128);
        self.tat = self.tat.saturating_sub(back).max(Self::scaled(now_ms, limit).min(self.tat));
    }

    /// The server says `server_used` units are spent at `now_ms`.
    pub(crate) fn reconcile(&mut self, now_ms: u64, server_used: u64, limit: u64, per_ms: u64) {
        let floor = Self::scaled(now_ms, limit) + server_used as u128 * per_ms as u128;
        self.tat = self.tat.max(floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_division_is_u128_division() {
        let big = [0, 1, 2, 3, 59_999, 60_000, u32::MAX as u128, u64::MAX as u128, 1 << 64, (1 << 64) + 7, 1 << 85, (1 << 93) - 1, u128::MAX >> 1];
        for &n in &big {
            for &d in &big[1..] {
                assert_eq!(div_rem(n, d), (n / d, n % d), "{n} / {d}");
                assert_eq!(div_ceil(n, d), n.div_ceil(d), "{n} / {d}");
            }
        }
        // Pseudo-random operands of every width.
        let mut x = 0x9e37_79b9_7f4a_7c15_u128;
        for _ in 0..10_000 {
            x = x.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(1_442_695_040_888_963_407);
            let n = x >> (x % 40);
            let d = ((x >> 64) >> (x % 61)).max(1);
            assert_eq!(div_rem(n, d), (n / d, n % d), "{n} / {d}");
        }
    }

    const MINUTE: u64 = 60_000;

    #[test]
    fn starts_full_then_refills_one_unit_per_interval() {
        let mut b = Bucket::default();
        for _ in 0..20 {
            assert_eq!(b.earliest(0, 1, 20, MINUTE, 0), 0);
            b.add(0, 1, 20, MINUTE);
        }
        // Hex's 20/min as a bucket: one more every 3 s.
        assert_eq!(b.earliest(0, 1, 20, MINUTE, 0), 3_000);
        assert_eq!(b.earliest(2_999, 1, 20, MINUTE, 0), 3_000);
        assert_eq!(b.earliest(3_000, 1, 20, MINUTE, 0), 3_000);
    }

    #[test]
    fn fractional_intervals_are_rounded_up_never_down() {
        // 3 per second: an interval of 333.33 ms.
        let mut b = Bucket::default();
        b.add(0, 3, 3, 1_000);
        assert_eq!(b.earliest(0, 1, 3, 1_000, 0), 334);
        assert_eq!(b.used(0, 3, 1_000, 0), 3);
        assert_eq!(b.used(334, 3, 1_000, 0), 2);
    }

    #[test]
    fn a_slot_is_timed_from_the_latest_arrival_even_when_the_bucket_is_in_debt() {
        // nginx `limit_req rate=1r/s burst=1` is this bucket of 2 per 2 s,
        // timed from arrival. A and B are sent at 0; A's response arrives at
        // 10 ms, so A may have reached nginx at 10 ms: its slot frees at
        // 1.01 s, and a third request is safe only from then (counted from
        // admission, it would be let in at 1 s).
        let (limit, per) = (2, 2_000);
        let mut b = Bucket::default();
        assert_eq!(b.earliest(0, 1, limit, per, 0), 0);
        assert_eq!(b.earliest(0, 1, limit, per, 1), 0);
        // Both in flight: only a completion makes room.
        assert_eq!(b.earliest(0, 1, limit, per, 2), crate::policy::NEVER);
        b.land(10, 1, limit, per);
        // B, still in flight, counts as arriving now.
        assert_eq!(b.earliest(10, 1, limit, per, 1), 1_010);
        assert_eq!(b.earliest(500, 1, limit, per, 1), 1_010);
        b.land(900, 1, limit, per);
        assert_eq!(b.used(900, limit, per, 0), 2);
        assert_eq!(b.earliest(900, 1, limit, per, 0), 1_010);
    }
}
