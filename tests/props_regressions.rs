//! Tests written to FAIL against `src/` as it was when they were written: each
//! documents a bug found while writing `props_windows.rs` and `props_limiter.rs`,
//! with a minimal reproduction first and the property that finds it after.
//! All three bugs were fixed in commit 3b6bfb4 ("Fix three bugs the property
//! tests found"); the tests now pass and stay as regression tests. The
//! "Before the fix" comments give what the old code returned.
//!
//! Run: `cargo test --test props_regressions`. Case count: `PROPTEST_CASES` (default 256).

use std::collections::BTreeMap;

use proptest::prelude::*;
use tollgate::{Decision, Kind, Limiter, Permit, WindowSpec};

fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

fn any_spec() -> impl Strategy<Value = WindowSpec> {
    let kind = prop_oneof![Just(Kind::Sliding), Just(Kind::Fixed), Just(Kind::Bucket)];
    (kind, 1u64..=10, 1u64..=1000, 0u64..=2000)
        .prop_map(|(kind, limit, per_ms, offset_ms)| WindowSpec { kind, limit, per_ms, offset_ms })
}

fn fixed_spec() -> impl Strategy<Value = WindowSpec> {
    (1u64..=10, 1u64..=1000, 0u64..=2000).prop_map(|(limit, per, offset)| WindowSpec::fixed(limit, per, offset))
}

fn min_limit(lim: &Limiter) -> u64 {
    lim.windows().map(|s| s.limit).min().unwrap()
}

// ---------------------------------------------------------------------------
// Bug 1 (fixed in 3b6bfb4): a fixed window forgets what it admitted while the clock is still 0.
//
// `Policy::tick` only advances the windows when `now > clock_ms`, and a fresh
// policy's clock is 0. A fixed window's `start_ms` is `i64::MIN` until its first
// advance, so units admitted at t = 0 are counted in that "no bucket", and are
// wiped by the first advance (at any t > 0, even in the same bucket). While the
// clock stays at 0 its `earliest` answers `i64::MIN + per_ms` read as u64.
// (Sliding and bucket windows need no advance and are fine at 0.)
// ---------------------------------------------------------------------------

#[test]
fn a_fixed_window_still_counts_what_it_admitted_at_time_zero() {
    let mut lim = Limiter::new(&[WindowSpec::fixed(1, 1_000, 0)]).unwrap();
    assert_eq!(lim.try_acquire(0, 1).unwrap(), Decision::Admit(Permit { at_ms: 0, cost: 1 }));
    // Bucket [0, 1000) is full. Before the fix: Admit(Permit { at_ms: 1, cost: 1 }).
    assert_eq!(lim.try_acquire(1, 1).unwrap(), Decision::Wait { retry_at_ms: 1_000 });
}

#[test]
fn a_full_fixed_window_at_time_zero_says_to_come_back_at_its_next_boundary() {
    let mut lim = Limiter::new(&[WindowSpec::fixed(1, 1_000, 0)]).unwrap();
    assert!(matches!(lim.try_acquire(0, 1).unwrap(), Decision::Admit(_)));
    // Before the fix: Wait { retry_at_ms: 9223372036854776808 } (i64::MIN + 1000 as u64),
    // past MAX_TIME_MS, so a caller that sleeps until it never comes back.
    assert_eq!(lim.try_acquire(0, 1).unwrap(), Decision::Wait { retry_at_ms: 1_000 });
    assert_eq!(lim.earliest(1), Ok(1_000));
    // The queue shows it too: two waiters, the first let in at 0.
    let mut lim = Limiter::new(&[WindowSpec::fixed(1, 1_000, 0)]).unwrap();
    lim.enqueue(1, 0).unwrap();
    lim.enqueue(1, 0).unwrap();
    assert!(lim.admit_next(0).unwrap().is_some());
    assert_eq!(lim.next_wake_ms(), Some(1_000));
}

proptest! {
    #![proptest_config(config())]

    /// props_windows' `fixed_never_admits_more_than_limit_in_any_bucket`, with time starting at 0.
    #[test]
    fn fixed_never_admits_more_than_limit_in_any_bucket_from_time_zero(
        spec in fixed_spec(), steps in prop::collection::vec((0u64..=300, 0u64..10), 1..=40),
    ) {
        let mut lim = Limiter::new(&[spec]).unwrap();
        let (mut t, mut per_bucket) = (0u64, BTreeMap::new());
        for (i, &(dt, raw)) in steps.iter().enumerate() {
            t += if i < 3 { 0 } else { dt }; // a few requests at 0 first
            let cost = 1 + raw % spec.limit;
            if let Decision::Admit(p) = lim.try_acquire(t, cost).unwrap() {
                let k = (p.at_ms as i128 - spec.offset_ms as i128).div_euclid(spec.per_ms as i128);
                let units = per_bucket.entry(k).or_insert(0u64);
                *units += cost;
                prop_assert!(*units <= spec.limit, "{} units in bucket {} of {:?}", units, k, spec);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Bug 2 (fixed in 3b6bfb4): a fixed window's expired carry comes back with a later reconcile.
//
// `Fixed::reconcile` keeps `carry_units = max(carry_units, server_used)` and
// `carry_until_ms = max(...)` even when the old carry has already ended. A
// second report (fewer units, later reset) thus carries the OLD, larger count
// into the buckets up to the NEW reset. Two consequences:
//  * the window refuses what the server said is free (over-conservative);
//  * admission is no longer monotone in time (it admits now, refuses in the
//    next buckets, admits again after the carry), so the policy's
//    "latest of the windows' earliest times" is no longer exact: a Wait names
//    a time at which try_acquire waits again (an early retry).
// ---------------------------------------------------------------------------

#[test]
fn a_second_reconcile_does_not_bring_back_an_expired_carry() {
    let mut lim = Limiter::new(&[WindowSpec::fixed(10, 1_000, 0)]).unwrap();
    // At 1000 the server says 9 used until 3000 (carried into bucket 2000).
    assert!(lim.reconcile(0, 1, Some(3_000), 1_000).unwrap());
    // At 3500 (that carry has ended) it says 2 used until 6000.
    assert!(lim.reconcile(0, 8, Some(6_000), 3_500).unwrap());
    assert_eq!(lim.used(0), Some(2));
    assert!(matches!(lim.try_acquire(4_000, 1).unwrap(), Decision::Admit(_)));
    // Bucket 4000 carries the server's 2, plus the 1 just admitted. Before the fix: Some(10) (9 + 1).
    assert_eq!(lim.used(0), Some(3));
}

#[test]
fn a_wait_after_two_reconciles_is_not_early() {
    let mut lim = Limiter::new(&[WindowSpec::fixed(10, 1_000, 0), WindowSpec::sliding(8, 1_000)]).unwrap();
    lim.reconcile(0, 1, Some(3_000), 1_000).unwrap();
    assert!(matches!(lim.try_acquire(3_200, 1).unwrap(), Decision::Admit(_)));
    lim.reconcile(0, 8, Some(6_000), 3_500).unwrap();
    // The sliding window frees at 4200, and the fixed window (2 of 10 used) says "now".
    let Decision::Wait { retry_at_ms } = lim.try_acquire(3_500, 8).unwrap() else { panic!("admitted") };
    assert_eq!(retry_at_ms, 4_200);
    // Before the fix: Wait { retry_at_ms: 6000 }: the stale carry of 9 fills buckets 4000 and 5000.
    assert!(matches!(lim.try_acquire(retry_at_ms, 8).unwrap(), Decision::Admit(_)));
}

proptest! {
    #![proptest_config(config())]

    /// props_windows' `a_wait_names_the_exact_first_millisecond_that_admits`, with
    /// reconcile reports on a fixed window in the schedule.
    #[test]
    fn a_wait_names_the_exact_first_millisecond_that_admits_after_reconciles(
        fixed in fixed_spec(), other in any_spec(), start in 1u64..=3000,
        ops in prop::collection::vec((0u8..3, 0i64..=400, 0u64..=10, 0i64..=3000), 1..=60),
    ) {
        let mut lim = Limiter::new(&[fixed, other]).unwrap();
        let mut t = start;
        for (kind, dt, n, reset) in ops {
            t += dt as u64;
            if kind == 0 {
                lim.reconcile(0, n, Some(t + reset as u64), t).unwrap();
                continue;
            }
            let cost = 1 + n % min_limit(&lim);
            if let Decision::Wait { retry_at_ms: r } = lim.try_acquire(t, cost).unwrap() {
                let mut on_time = lim.clone();
                prop_assert_eq!(on_time.try_acquire(r, cost).unwrap(), Decision::Admit(Permit { at_ms: r, cost }));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Bug 3 (semantics; fixed in 3b6bfb4): a sliding window does not hold the server's count until
// the reset it was given.
//
// `Window::reconcile` on a sliding window adds only `server_used - ours` units,
// freeing at `reset_at_ms`; our own units keep freeing at their own times. Once
// one of ours expires before the reset, the window counts less than the server
// reported, and admits requests the server (e.g. a fixed window resetting at
// `reset_at_ms`) will refuse with a 429. The crate docs say reconcile "adopts
// [the server's] count until its reset" and `Window::reconcile` that
// "`server_used` ... holds until `until_ms`"; a fixed window does hold it.
// ---------------------------------------------------------------------------

#[test]
fn a_sliding_window_holds_the_server_count_until_its_reset() {
    let mut lim = Limiter::new(&[WindowSpec::sliding(10, 1_000)]).unwrap();
    assert!(matches!(lim.try_acquire(100, 5).unwrap(), Decision::Admit(_)));
    // At 200 the server says none remain until 1500.
    assert!(lim.reconcile(0, 0, Some(1_500), 200).unwrap());
    assert_eq!(lim.used(0), Some(10));
    // Before the fix: Admit(Permit { at_ms: 1100, cost: 5 }): our 5 from t=100 freed at 1100.
    assert_eq!(lim.try_acquire(1_100, 5).unwrap(), Decision::Wait { retry_at_ms: 1_500 });
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn reconcile_holds_the_server_count_until_its_reset(
        kind in prop_oneof![Just(Kind::Sliding), Just(Kind::Fixed)], limit in 1u64..=10, per in 1u64..=1000,
        start in 1u64..=3000, costs in prop::collection::vec((0u64..=300, 0u64..10), 0..=20),
        remaining in 0u64..=10, ahead in 1u64..=3000, probes in prop::collection::vec(0u64..3000, 1..=10),
    ) {
        let mut lim = Limiter::new(&[WindowSpec { kind, limit, per_ms: per, offset_ms: 0 }]).unwrap();
        let mut t = start;
        for (dt, raw) in costs {
            t += dt;
            lim.try_acquire(t, 1 + raw % limit).unwrap();
        }
        let reset = t + ahead;
        lim.reconcile(0, remaining, Some(reset), t).unwrap();
        for p in probes {
            let at = t + p % ahead; // before the reset
            let mut probe = lim.clone();
            prop_assert_eq!(probe.admit_next(at).unwrap(), None);
            prop_assert!(probe.used(0).unwrap() >= limit.saturating_sub(remaining), "at {} (reset {})", at, reset);
        }
    }
}
