//! Extreme values: times near 0, 2^53 and `MAX_TIME_MS`, periods up to 2^40 ms,
//! limits up to `MAX_LIMIT` and costs near the limit. Whatever the sequence of
//! calls, nothing panics or overflows (`.ci/test.sh` runs this file in the debug
//! profile too, where an overflow is a panic), every error is a named one, and
//! every wait is sane: later than the clock, within the supported time range (or
//! `u64::MAX`, "not at any time the limiter can name"), and exact: with nothing
//! in flight and no one queued, asking again at the time given admits.
//!
//! Case count: `PROPTEST_CASES` (default 256).

use proptest::prelude::*;
use tollgate::{Decision, Error, Kind, Limiter, Options, Permit, WindowSpec, MAX_LIMIT, MAX_PERIOD_MS, MAX_TIME_MS};

fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

/// A number near one of the edges of `0..=max`.
fn near(max: u64) -> impl Strategy<Value = u64> {
    prop_oneof![0u64..=3, max.saturating_sub(3)..=max, (max / 2).saturating_sub(2)..=(max / 2 + 2), 0..=max]
}

fn spec() -> impl Strategy<Value = WindowSpec> {
    let kind = prop_oneof![Just(Kind::Sliding), Just(Kind::Fixed), Just(Kind::Bucket)];
    let limit = prop_oneof![1u64..=3, MAX_LIMIT - 2..=MAX_LIMIT, 1..=MAX_LIMIT];
    let per = prop_oneof![1u64..=3, MAX_PERIOD_MS - 2..=MAX_PERIOD_MS, 1..=MAX_PERIOD_MS];
    (kind, limit, per, near(MAX_TIME_MS)).prop_map(|(kind, limit, per_ms, offset_ms)| WindowSpec { kind, limit, per_ms, offset_ms })
}

/// A time near 0, 2^53 (= MAX_TIME_MS + 1) and MAX_TIME_MS, or anywhere.
fn time() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..=5, MAX_TIME_MS - MAX_PERIOD_MS - 5..=MAX_TIME_MS - MAX_PERIOD_MS + 5, MAX_TIME_MS - 5..=MAX_TIME_MS, 0..=MAX_TIME_MS]
}

#[derive(Clone, Debug)]
enum Op {
    Acquire { at: u64, cost: u64 },
    Complete { which: usize, at: u64 },
    Release { which: usize },
    /// A permit the limiter never issued, cost anywhere up to u64::MAX.
    Forged { at: u64, cost: u64 },
    Pause { until: u64 },
    Reconcile { window: usize, remaining: u64, reset: Option<u64>, at: u64 },
    Enqueue { cost: u64, priority: i32 },
    AdmitNext { at: u64 },
    Plan { at: u64, n: usize, cost: u64 },
    Restore { at: u64 },
}

fn cost() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..=3, MAX_LIMIT - 2..=MAX_LIMIT, any::<u64>()]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (time(), cost()).prop_map(|(at, cost)| Op::Acquire { at, cost }),
        2 => (any::<usize>(), time()).prop_map(|(which, at)| Op::Complete { which, at }),
        1 => any::<usize>().prop_map(|which| Op::Release { which }),
        1 => (time(), any::<u64>()).prop_map(|(at, cost)| Op::Forged { at, cost }),
        1 => time().prop_map(|until| Op::Pause { until }),
        2 => (0usize..3, any::<u64>(), prop::option::of(time()), time())
            .prop_map(|(window, remaining, reset, at)| Op::Reconcile { window, remaining, reset, at }),
        1 => (cost(), any::<i32>()).prop_map(|(cost, priority)| Op::Enqueue { cost, priority }),
        1 => time().prop_map(|at| Op::AdmitNext { at }),
        1 => (time(), 0usize..4, cost()).prop_map(|(at, n, cost)| Op::Plan { at, n, cost }),
        1 => time().prop_map(|at| Op::Restore { at }),
    ]
}

/// The error variants a call with these arguments may name; anything else is a bug.
fn expected_error(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidCost
            | Error::InsufficientCapacity { .. }
            | Error::InvalidTime { .. }
            | Error::PermitNotHeld
            | Error::CompletionAhead { .. }
            | Error::PlanBeyondTimeRange { .. }
            | Error::QueueFull { .. }
    )
}

fn sane_wait(lim: &Limiter, retry_at_ms: u64) -> Result<(), TestCaseError> {
    prop_assert!(retry_at_ms > lim.clock_ms(), "a wait until {} at clock {}", retry_at_ms, lim.clock_ms());
    prop_assert!(retry_at_ms == u64::MAX || retry_at_ms <= MAX_TIME_MS, "a wait past the time range: {}", retry_at_ms);
    if retry_at_ms != u64::MAX && lim.in_flight() == 0 && lim.waiters() == 0 {
        // Exact: asking again then admits (a cost that can fit at all).
        let min = lim.windows().map(|s| s.limit).min().unwrap();
        let mut again = lim.clone();
        let d = again.try_acquire(retry_at_ms, 1.min(min));
        prop_assert!(matches!(d, Ok(Decision::Admit(_))), "told to come back at {} for one unit, then got {:?}", retry_at_ms, d);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_call_with_extreme_values_panics_overflows_or_gives_an_insane_wait(
        specs in prop::collection::vec(spec(), 1..=3),
        count_in_flight in any::<bool>(),
        ops in prop::collection::vec(op(), 1..=30),
    ) {
        let options = Options { count_in_flight, max_waiters: 4 };
        let mut lim = Limiter::with_options(&specs, options).unwrap();
        let mut permits: Vec<Permit> = Vec::new();
        for op in ops {
            match op {
                Op::Acquire { at, cost } => match lim.try_acquire(at, cost) {
                    Ok(Decision::Admit(p)) => {
                        prop_assert_eq!(p, Permit { at_ms: lim.clock_ms(), cost });
                        permits.push(p);
                    }
                    Ok(Decision::Wait { retry_at_ms }) => {
                        if lim.waiters() == 0 {
                            prop_assert_eq!(Ok(retry_at_ms), lim.earliest(cost));
                        }
                        sane_wait(&lim, retry_at_ms)?;
                    }
                    Err(e) => prop_assert!(expected_error(&e), "{:?}", e),
                },
                Op::Complete { which, at } if !permits.is_empty() => {
                    let p = permits.swap_remove(which % permits.len());
                    let before = lim.clone();
                    match lim.complete(p, at) {
                        Ok(()) => {}
                        Err(e) => {
                            prop_assert!(expected_error(&e), "{:?}", e);
                            prop_assert_eq!(&lim, &before, "a failed complete changed the limiter");
                            permits.push(p);
                        }
                    }
                }
                Op::Release { which } if !permits.is_empty() => {
                    let p = permits.swap_remove(which % permits.len());
                    prop_assert_eq!(lim.release(p), Ok(()));
                }
                Op::Complete { .. } | Op::Release { .. } => {}
                Op::Forged { at, cost } => {
                    if !permits.contains(&Permit { at_ms: at, cost }) {
                        let before = lim.clone();
                        let e = lim.complete(Permit { at_ms: at, cost }, lim.clock_ms()).unwrap_err();
                        prop_assert!(expected_error(&e), "{:?}", e);
                        prop_assert_eq!(lim.release(Permit { at_ms: at, cost }), Err(e));
                        prop_assert_eq!(&lim, &before);
                    }
                }
                Op::Pause { until } => lim.pause_until(until).unwrap(),
                Op::Reconcile { window, remaining, reset, at } => {
                    let n = lim.windows().len();
                    if let Err(e) = lim.reconcile(window % n, remaining, reset, at) {
                        prop_assert!(expected_error(&e), "{:?}", e);
                    }
                }
                Op::Enqueue { cost, priority } => {
                    if let Err(e) = lim.enqueue(cost, priority) {
                        prop_assert!(expected_error(&e), "{:?}", e);
                    }
                }
                Op::AdmitNext { at } => {
                    if let Some((_, p)) = lim.admit_next(at).unwrap() {
                        permits.push(p);
                    }
                    if let Some(wake) = lim.next_wake_ms() {
                        prop_assert!(wake == u64::MAX || (wake >= lim.clock_ms() && wake <= MAX_TIME_MS), "wake at {}", wake);
                    }
                }
                Op::Plan { at, n, cost } => match lim.plan(at, n, cost) {
                    Ok(times) => {
                        prop_assert_eq!(times.len(), n);
                        prop_assert!(times.windows(2).all(|w| w[0] <= w[1]));
                        prop_assert!(times.iter().all(|&t| t >= at.min(lim.clock_ms()) && t <= MAX_TIME_MS));
                    }
                    Err(e) => prop_assert!(expected_error(&e), "{:?}", e),
                },
                Op::Restore { at } => {
                    // The limiter's own snapshot always restores, at any clock.
                    let snap = lim.snapshot_at(at).unwrap();
                    let restored = Limiter::restore(&snap, Some(&specs), options);
                    prop_assert!(restored.is_ok(), "own snapshot refused: {:?} for {:?}", restored, snap);
                    lim = restored.unwrap();
                    permits.clear();
                }
            }
            for i in 0..lim.windows().len() {
                let used = lim.used(i).unwrap();
                let limit = lim.windows().nth(i).unwrap().limit;
                prop_assert!(used <= limit + lim.in_flight(), "window {} counts {} of {}", i, used, limit);
            }
        }
    }
}

#[test]
fn each_window_bound_is_checked_on_its_own() {
    // Found by mutation testing: every bound of a window spec, alone, is refused
    // with its named error and the index of the window, and the largest valid
    // value of each is accepted.
    let ok = WindowSpec::sliding(1, 1_000);
    let new = |bad: WindowSpec| Limiter::new(&[ok, bad]);
    assert_eq!(new(WindowSpec::sliding(0, 1_000)), Err(Error::InvalidLimit { window: 1, limit: 0 }));
    assert_eq!(new(WindowSpec::sliding(MAX_LIMIT + 1, 1_000)), Err(Error::InvalidLimit { window: 1, limit: MAX_LIMIT + 1 }));
    assert_eq!(new(WindowSpec::sliding(1, 0)), Err(Error::InvalidPeriod { window: 1, per_ms: 0 }));
    assert_eq!(new(WindowSpec::sliding(1, MAX_PERIOD_MS + 1)), Err(Error::InvalidPeriod { window: 1, per_ms: MAX_PERIOD_MS + 1 }));
    assert_eq!(new(WindowSpec::fixed(1, 1_000, MAX_TIME_MS + 1)), Err(Error::InvalidTime { what: "offset" }));
    for kind in [Kind::Sliding, Kind::Fixed, Kind::Bucket] {
        let largest = WindowSpec { kind, limit: MAX_LIMIT, per_ms: MAX_PERIOD_MS, offset_ms: MAX_TIME_MS };
        assert!(new(largest).is_ok(), "{kind:?}");
    }
}
