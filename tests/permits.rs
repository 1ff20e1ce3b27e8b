//! Permits are linear: each one the limiter issued comes back exactly once,
//! by `complete`/`complete_at` (the response arrived) or `release` (the request
//! was never sent). A failed call changes nothing and can be retried.
//! Also the Rust-API defects of issue 11 (item 8): absurd costs, plans past
//! 2^53, the limiter's own snapshot near 2^53.

use tollgate::snapshot::{Corrupt, Reason, WindowState};
use tollgate::{Decision, Error, Kind, Limiter, Options, Permit, WindowSpec, COMPLETION_TOLERANCE_MS, MAX_TIME_MS};

const MINUTE: u64 = 60_000;

fn admit(l: &mut Limiter, now: u64, cost: u64) -> Permit {
    match l.try_acquire(now, cost).unwrap() {
        Decision::Admit(p) => p,
        d => panic!("refused at {now}: {d:?}"),
    }
}

fn with(windows: &[WindowSpec], count_in_flight: bool) -> Limiter {
    Limiter::with_options(windows, Options { count_in_flight, ..Options::default() }).unwrap()
}

#[test]
fn a_permit_completes_once_and_a_second_completion_changes_nothing() {
    for tracked in [false, true] {
        let mut l = with(&[WindowSpec::sliding(2, MINUTE)], tracked);
        let p = admit(&mut l, 1_000, 1);
        assert!(l.holds(p));
        l.complete(p, 1_500).unwrap();
        assert!(!l.holds(p));
        let before = l.clone();
        assert_eq!(l.complete(p, 2_000), Err(Error::PermitNotHeld));
        assert_eq!(l.release(p), Err(Error::PermitNotHeld));
        assert_eq!(l, before, "a refused completion moved nothing, not even the clock");
        assert_eq!(l.in_flight(), 0);
    }
}

#[test]
fn a_permit_with_an_absurd_cost_or_time_is_not_held_and_nothing_overflows() {
    let mut l = with(&[WindowSpec::sliding(5, MINUTE), WindowSpec::bucket(5, MINUTE)], true);
    let p = admit(&mut l, 1_000, 2);
    let before = l.clone();
    for forged in [
        Permit { at_ms: 1_000, cost: u64::MAX },
        Permit { at_ms: 1_000, cost: 3 },
        Permit { at_ms: 1_000, cost: 0 },
        Permit { at_ms: 999, cost: 2 },
        Permit { at_ms: 1_001, cost: 1 },
        Permit { at_ms: u64::MAX, cost: 1 },
    ] {
        assert_eq!(l.complete(forged, 1_100), Err(Error::PermitNotHeld), "{forged:?}");
        assert_eq!(l.release(forged), Err(Error::PermitNotHeld), "{forged:?}");
    }
    assert_eq!(l, before);
    l.complete(p, 1_100).unwrap();
}

#[test]
fn units_of_one_millisecond_are_interchangeable_but_never_counted_twice() {
    let mut l = Limiter::new(&[WindowSpec::sliding(3, MINUTE)]).unwrap();
    let a = admit(&mut l, 10, 1);
    let b = admit(&mut l, 10, 1);
    assert_eq!(a, b);
    l.complete(a, 20).unwrap();
    l.complete(b, 20).unwrap();
    assert_eq!(l.complete(a, 20), Err(Error::PermitNotHeld));
}

#[test]
fn a_completion_time_in_the_future_is_refused_and_the_clock_stays() {
    let mut l = with(&[WindowSpec::sliding(1, MINUTE)], true);
    let p = admit(&mut l, 1_000, 1);
    let before = l.clone();
    // Microseconds by mistake: 56,833 years ahead of the clock.
    let micros = 1_793_000_000_000_000;
    assert_eq!(
        l.complete_at(p, micros, 2_000),
        Err(Error::CompletionAhead { at_ms: micros, latest_ms: 2_000 + COMPLETION_TOLERANCE_MS })
    );
    // Just past the tolerance too; up to it, it is read as the clock.
    assert!(matches!(l.complete_at(p, 3_001, 2_000), Err(Error::CompletionAhead { .. })));
    assert_eq!(l, before, "nothing moved");
    assert_eq!(l.clock_ms(), 1_000);
    l.complete_at(p, 3_000, 2_000).unwrap();
    assert_eq!(l.clock_ms(), 2_000);
    assert_eq!(l.earliest(1), Ok(2_000 + MINUTE), "counted at the clock, not a second ahead");
}

#[test]
fn complete_at_counts_the_arrival_time_and_moves_the_clock_to_now() {
    let mut l = Limiter::new(&[WindowSpec::sliding(1, MINUTE)]).unwrap();
    let p = admit(&mut l, 1_000, 1);
    l.complete_at(p, 1_800, 5_000).unwrap();
    assert_eq!(l.clock_ms(), 5_000);
    assert_eq!(l.earliest(1), Ok(1_800 + MINUTE));
}

#[test]
fn a_failed_completion_can_be_retried() {
    let mut l = with(&[WindowSpec::fixed(1, MINUTE, 0)], true);
    let p = admit(&mut l, 59_000, 1);
    assert_eq!(l.complete(p, MAX_TIME_MS + 1), Err(Error::InvalidTime { what: "now" }));
    assert_eq!(l.in_flight(), 1, "still in flight after the failed call");
    l.complete(p, 59_500).unwrap();
    assert_eq!(l.in_flight(), 0);
    assert_eq!(l.try_acquire(60_000, 1).unwrap(), Decision::Admit(Permit { at_ms: 60_000, cost: 1 }));
}

/// Releasing gives the units back in every kind, tracked or not, when nothing
/// else happened since: the limiter is as if the permit had never been issued.
#[test]
fn releasing_an_unused_permit_gives_its_units_back_in_every_window_kind() {
    for kind in [Kind::Sliding, Kind::Fixed, Kind::Bucket] {
        for tracked in [false, true] {
            let spec = WindowSpec { kind, limit: 3, per_ms: MINUTE, offset_ms: 0 };
            let mut l = with(&[spec], tracked);
            admit(&mut l, 1_000, 1);
            let mut fresh = l.clone();
            fresh.advance(2_000).unwrap();
            let p = admit(&mut l, 2_000, 2);
            assert!(matches!(l.try_acquire(2_000, 1).unwrap(), Decision::Wait { .. }), "{kind:?} {tracked}");
            l.release(p).unwrap();
            assert_eq!(l.in_flight(), fresh.in_flight());
            assert_eq!(l.used(0), fresh.used(0), "{kind:?} tracked={tracked}");
            assert_eq!(l.earliest(2), fresh.earliest(2), "{kind:?} tracked={tracked}");
            assert_eq!(l.try_acquire(2_000, 2).unwrap(), Decision::Admit(Permit { at_ms: 2_000, cost: 2 }));
        }
    }
}

#[test]
fn a_release_never_gives_back_more_than_is_still_owed() {
    // Token bucket of 2 per minute: a permit taken at 0 is half refilled by 15 s...
    let mut l = Limiter::new(&[WindowSpec::bucket(2, MINUTE)]).unwrap();
    let p = admit(&mut l, 0, 2);
    l.advance(30_000).unwrap();
    assert_eq!(l.used(0), Some(1));
    l.release(p).unwrap();
    assert_eq!(l.used(0), Some(0));
    assert_eq!(l.earliest(2), Ok(30_000));
    // ... and a bucket that ran dry since owes the permit nothing.
    let mut l = Limiter::new(&[WindowSpec::bucket(2, MINUTE)]).unwrap();
    let p = admit(&mut l, 0, 1);
    admit(&mut l, 90_000, 2);
    l.release(p).unwrap();
    assert_eq!(l.used(0), Some(2));
    // A sliding entry that expired, or a fixed bucket that passed, is not given back.
    let mut l = Limiter::new(&[WindowSpec::sliding(2, MINUTE), WindowSpec::fixed(2, MINUTE, 0)]).unwrap();
    let p = admit(&mut l, 0, 2);
    admit(&mut l, 60_000, 2);
    l.release(p).unwrap();
    assert_eq!((l.used(0), l.used(1)), (Some(2), Some(2)));
}

#[test]
fn a_tracked_request_released_in_a_later_bucket_leaves_that_bucket() {
    // Counted in flight, it was counted in every bucket it may arrive in.
    let mut l = with(&[WindowSpec::fixed(1, MINUTE, 0)], true);
    let p = admit(&mut l, 59_000, 1);
    l.advance(61_000).unwrap();
    assert_eq!(l.used(0), Some(1));
    l.release(p).unwrap();
    assert_eq!((l.used(0), l.in_flight()), (Some(0), 0));
    assert!(matches!(l.try_acquire(61_000, 1).unwrap(), Decision::Admit(_)));
}

#[test]
fn old_permits_are_still_held_after_the_longest_period() {
    let mut l = Limiter::new(&[WindowSpec::sliding(1, 1_000)]).unwrap();
    let p = admit(&mut l, 0, 1);
    // Long after its window forgot it, the permit can still be completed, once.
    l.advance(3_600_000).unwrap();
    assert!(l.holds(p));
    l.complete(p, 3_600_000).unwrap();
    assert_eq!(l.complete(p, 3_600_000), Err(Error::PermitNotHeld));
    assert_eq!(l.earliest(1), Ok(3_601_000), "counted when its response arrived");
}

#[test]
fn a_plan_past_the_time_range_says_so_and_does_not_blame_now() {
    let mut l = Limiter::new(&[WindowSpec::sliding(1, 1 << 40)]).unwrap();
    let now = MAX_TIME_MS - (1 << 40);
    admit(&mut l, now, 1);
    assert_eq!(l.plan(now, 1, 1), Ok(vec![now + (1 << 40)]));
    assert_eq!(l.plan(now, 2, 1), Err(Error::PlanBeyondTimeRange { planned: 1 }));
    l.enqueue(1, 0).unwrap();
    assert_eq!(l.plan(now, 1, 1), Err(Error::PlanBeyondTimeRange { planned: 1 }));
    assert_eq!(Error::PlanBeyondTimeRange { planned: 1 }.code(), 16);
}

#[test]
fn a_wait_past_the_time_range_is_u64_max() {
    let mut l = Limiter::new(&[WindowSpec::sliding(1, 1 << 40)]).unwrap();
    admit(&mut l, MAX_TIME_MS - 10, 1);
    assert_eq!(l.try_acquire(MAX_TIME_MS - 5, 1).unwrap(), Decision::Wait { retry_at_ms: u64::MAX });
    assert_eq!(l.earliest(1), Ok(u64::MAX));
    assert_eq!(l.window_earliest(0, 1), Some(u64::MAX));
}

#[test]
fn the_limiters_own_snapshot_restores_near_two_to_the_53() {
    let specs = [WindowSpec::sliding(3, 1 << 40), WindowSpec::fixed(3, 1 << 40, 7), WindowSpec::bucket(3, 1 << 40)];
    let mut l = with(&specs, true);
    for now in [MAX_TIME_MS - (1 << 40), MAX_TIME_MS - 1, MAX_TIME_MS] {
        let _ = l.try_acquire(now, 1).unwrap();
        l.reconcile(1, 0, None, now).unwrap();
        let snap = l.snapshot_at(now).unwrap();
        let restored = Limiter::restore(&snap, Some(&specs), Options { count_in_flight: true, ..Options::default() });
        assert_eq!(restored.map(|r| r.snapshot()), Ok(snap));
    }
}

#[test]
fn restoring_a_log_whose_costs_overflow_is_refused_not_a_panic() {
    let mut snap = Limiter::new(&[WindowSpec::sliding(5, MINUTE)]).unwrap().snapshot();
    snap.clock_ms = 10;
    snap.windows[0].state = WindowState::Sliding { log: vec![(1, u64::MAX), (2, 2)] };
    assert_eq!(
        Limiter::restore(&snap, None, Options::default()),
        Err(Error::CorruptSnapshot { why: Corrupt::at(0, Reason::LogTotal) })
    );
}

// Cases found by mutation testing (`npm run mutants`): each fails if the line
// it names is changed.

#[test]
fn a_released_sliding_permit_leaves_the_log_so_the_next_slot_is_the_next_permit_s_expiry() {
    // sliding.rs `Sliding::remove`: the released units leave the log itself,
    // not only the count, or the window would reopen at their old expiry.
    let mut l = with(&[WindowSpec::sliding(2, MINUTE)], false);
    let p1 = admit(&mut l, 0, 1);
    admit(&mut l, 10_000, 1);
    l.release(p1).unwrap();
    assert_eq!(l.used(0), Some(1));
    admit(&mut l, 20_000, 1);
    assert_eq!(l.earliest(1).unwrap(), 70_000, "the permit of 10 s expires first, not the released one");
}

#[test]
fn a_late_completion_of_an_expired_permit_never_counts_past_the_limit() {
    // sliding.rs `Sliding::trim_to` (via `Window::cap`): the completion counts
    // the permit again at its arrival time, but a log never holds more than
    // its limit (the oldest units are dropped: they must expire first anyway).
    let mut l = with(&[WindowSpec::sliding(2, MINUTE)], false);
    let p1 = admit(&mut l, 0, 1);
    admit(&mut l, 30_000, 1);
    admit(&mut l, 60_000, 1);
    l.complete_at(p1, 60_000, 60_000).unwrap();
    assert_eq!(l.used(0), Some(2));
    assert_eq!(l.earliest(1).unwrap(), 120_000);
}

#[test]
fn completing_at_the_admission_time_counts_nothing_again() {
    // limiter.rs `complete_at` restamps only a later arrival: one at the
    // admission time moves nothing, even after a server report moved the
    // permit's units in the log.
    let mut l = with(&[WindowSpec::sliding(3, MINUTE)], false);
    let p = admit(&mut l, 0, 1);
    l.reconcile(0, 1, None, 1_000).unwrap();
    l.advance(1_500).unwrap();
    let before = l.used(0);
    let earliest = l.earliest(1).unwrap();
    l.complete_at(p, 0, 1_500).unwrap();
    assert_eq!(l.used(0), before);
    assert_eq!(l.earliest(1).unwrap(), earliest);
}

#[test]
fn a_permit_released_after_a_server_report_that_may_include_it_stays_counted() {
    // window.rs `Window::release`: a report made at or after the admission may
    // count the permit, so releasing it gives nothing back; one admitted after
    // the report is given back.
    let mut l = with(&[WindowSpec::sliding(3, MINUTE)], false);
    let before_report = admit(&mut l, 1_000, 1);
    l.reconcile(0, 2, None, 1_000).unwrap();
    let after_report = admit(&mut l, 2_000, 1);
    assert_eq!(l.used(0), Some(2));
    l.release(before_report).unwrap();
    assert_eq!(l.used(0), Some(2), "the server may have counted it");
    l.release(after_report).unwrap();
    assert_eq!(l.used(0), Some(1));
}

#[test]
fn aligning_to_a_server_clock_moves_a_fixed_window_s_boundaries() {
    // window.rs `Window::realign`: the server's minutes start 30 s later on our clock.
    let mut l = with(&[WindowSpec::fixed(2, MINUTE, 0), WindowSpec::sliding(5, MINUTE)], false);
    assert!(l.align_to_server(-30_000, 0));
    admit(&mut l, 1_000, 2);
    assert_eq!(l.earliest(1).unwrap(), 30_000);
    assert!(!l.align_to_server(-30_000, 0), "already aligned");
}

#[test]
fn a_server_clock_behind_ours_puts_its_boundaries_later_on_ours_not_earlier() {
    // window.rs `Window::realign`, with an offset that is not half the period
    // (where ahead and behind give the same boundaries): the server's clock is
    // 20 s behind ours, so its minutes end at :20 on our clock, not at :40.
    let mut l = with(&[WindowSpec::fixed(2, MINUTE, 0)], false);
    assert!(l.align_to_server(-20_000, 0));
    admit(&mut l, 1_000, 2);
    assert_eq!(l.earliest(1).unwrap(), 20_000);
    // 20 s ahead: they end at :40.
    let mut l = with(&[WindowSpec::fixed(2, MINUTE, 0)], false);
    assert!(l.align_to_server(20_000, 0));
    admit(&mut l, 1_000, 2);
    assert_eq!(l.earliest(1).unwrap(), 40_000);
}

#[test]
fn a_fixed_window_with_an_offset_keeps_it_when_aligned_to_a_server_on_our_clock() {
    // window.rs `Window::realign`: a window whose minutes start at :15 keeps
    // them there when the server's clock is ours (offset 0).
    let mut l = with(&[WindowSpec::fixed(2, MINUTE, 15_000)], false);
    l.align_to_server(0, 0);
    admit(&mut l, 1_000, 2);
    assert_eq!(l.earliest(1).unwrap(), 15_000);
}

#[test]
fn a_carry_ends_at_its_reset_so_a_release_in_the_bucket_starting_there_gives_its_units_back() {
    // window.rs `Window::release`: the server's count carries into the buckets
    // that start before its reset, not into the one that starts at it.
    let mut l = with(&[WindowSpec::fixed(10, MINUTE, 0)], false);
    assert!(l.reconcile(0, 6, Some(2 * MINUTE), 1_000).unwrap()); // 4 used until 120 s
    l.advance(MINUTE).unwrap();
    assert_eq!(l.used(0), Some(4), "carried into the minute before the reset");
    l.advance(2 * MINUTE).unwrap();
    let p = admit(&mut l, 2 * MINUTE, 3);
    l.release(p).unwrap();
    assert_eq!(l.used(0), Some(0));
}

#[test]
fn completing_in_the_bucket_it_was_admitted_in_counts_a_request_once() {
    // fixed.rs `Fixed::restamp`: a request in flight within one bucket is
    // counted there once; one that ended in a bucket before the current one
    // adds nothing to the current one.
    let mut l = with(&[WindowSpec::fixed(5, MINUTE, 0)], false);
    let p = admit(&mut l, 1_000, 2);
    l.complete(p, 2_000).unwrap();
    assert_eq!(l.used(0), Some(2));
    let late = admit(&mut l, 59_000, 1);
    l.advance(2 * MINUTE + 1_000).unwrap();
    l.complete_at(late, 61_000, 2 * MINUTE + 1_000).unwrap();
    assert_eq!(l.used(0), Some(0), "it ended in the minute before: nothing in this one");
}

#[test]
fn a_reset_that_ends_the_current_bucket_sooner_keeps_what_was_counted_into_the_next() {
    // fixed.rs `Fixed::adopt_reset`: the server's reset at 30 s moves the
    // boundaries there, so the bucket counted since 0 now ends at 30 s instead
    // of 60 s; what was counted in it may still reach the server after 30 s, so
    // it counts in the bucket that starts there too.
    let mut l = with(&[WindowSpec::fixed(10, MINUTE, 0)], false);
    admit(&mut l, 10_000, 4);
    assert!(l.reconcile(0, 6, Some(30_000), 10_000).unwrap());
    l.advance(30_000).unwrap();
    assert_eq!(l.used(0), Some(4));
    l.advance(90_000).unwrap();
    assert_eq!(l.used(0), Some(0), "and only in that one");
}

#[test]
fn releasing_a_permit_from_early_in_a_bucket_keeps_what_spilled_from_its_end() {
    // window.rs `Window::release`: only a released permit that was admitted
    // within the guard of its bucket's end takes its units out of the spill.
    let mut l = with(&[WindowSpec::fixed(10, MINUTE, 0)], false);
    assert!(l.align_to_server(0, 1_000));
    let early = admit(&mut l, 10_000, 5);
    admit(&mut l, 59_500, 5); // may reach the server after its boundary
    l.release(early).unwrap();
    assert_eq!(l.used(0), Some(5));
    l.advance(60_000).unwrap();
    assert_eq!(l.used(0), Some(5), "the 5 sent at 59.5 s may count in the new minute");
    assert!(matches!(l.try_acquire(60_000, 6).unwrap(), Decision::Wait { .. }));
}

mod release_props {
    use proptest::prelude::*;
    use tollgate::{Decision, Kind, Limiter, Options, WindowSpec};

    fn spec() -> impl Strategy<Value = WindowSpec> {
        let kind = prop_oneof![Just(Kind::Sliding), Just(Kind::Fixed), Just(Kind::Bucket)];
        (kind, 1u64..=6, 1u64..=1000, 0u64..=2000).prop_map(|(kind, limit, per_ms, offset_ms)| WindowSpec { kind, limit, per_ms, offset_ms })
    }

    fn earliest_all(l: &Limiter) -> Vec<u64> {
        let min = l.windows().map(|s| s.limit).min().unwrap();
        (1..=min).map(|c| l.earliest(c).unwrap()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// A released permit leaves the limiter never roomier than one that
        /// never issued it (never gives back more than it took), and exactly
        /// as roomy when released at once.
        #[test]
        fn a_release_gives_back_at_most_what_the_permit_took_and_all_of_it_at_once(
            specs in prop::collection::vec(spec(), 1..=3),
            count_in_flight in any::<bool>(),
            history in prop::collection::vec((0u64..=400, 0u64..6, any::<bool>()), 0..30),
            cost_raw in 0u64..6,
            dt in prop_oneof![Just(0u64), 0u64..=3000],
            reconcile in prop::option::of((0usize..3, 0u64..=6)),
        ) {
            let options = Options { count_in_flight, ..Options::default() };
            let mut l = Limiter::with_options(&specs, options).unwrap();
            let min = specs.iter().map(|s| s.limit).min().unwrap();
            let mut t = 0;
            for (step, raw, complete) in history {
                t += step;
                if let Decision::Admit(p) = l.try_acquire(t, 1 + raw % min).unwrap() {
                    if complete {
                        l.complete(p, t + step / 2).unwrap();
                        t += step / 2;
                    }
                }
            }
            let mut never = l.clone();
            let Decision::Admit(p) = l.try_acquire(t, 1 + cost_raw % min).unwrap() else { return Ok(()) };
            never.advance(t).unwrap();
            for lim in [&mut l, &mut never] {
                lim.advance(t + dt).unwrap();
                if let Some((w, remaining)) = reconcile {
                    lim.reconcile(w % specs.len(), remaining, None, t + dt).unwrap();
                }
            }
            l.release(p).unwrap();
            prop_assert_eq!(l.in_flight(), never.in_flight());
            for i in 0..specs.len() {
                prop_assert!(l.used(i) >= never.used(i), "window {} gave back more: {:?} < {:?}", i, l.used(i), never.used(i));
            }
            for (got, base) in earliest_all(&l).into_iter().zip(earliest_all(&never)) {
                prop_assert!(got >= base, "released: {} earlier than never issued: {}", got, base);
            }
            if dt == 0 && reconcile.is_none() {
                prop_assert_eq!(earliest_all(&l), earliest_all(&never));
                for i in 0..specs.len() {
                    prop_assert_eq!(l.used(i), never.used(i));
                }
            }
        }
    }
}
