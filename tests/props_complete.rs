//! `Limiter::complete` counts a request at the time its response arrived (the
//! re-stamp), the latest moment a server can have seen it. These tests check
//! the direction `completing_late_never_makes_a_wait_shorter` does not: that a
//! late completion DOES move the request, in every window kind, so a limiter
//! that skipped the re-stamp (counting the request at its send time) fails.
//!
//! Without `count_in_flight` (the in-flight path is covered by props_in_flight.rs).
//! Case count: `PROPTEST_CASES` (default 256).

use proptest::prelude::*;
use tollgate::{Decision, Kind, Limiter, Permit, WindowSpec};

fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

const MINUTE: u64 = 60_000;

fn admit(l: &mut Limiter, now: u64, cost: u64) -> Permit {
    match l.try_acquire(now, cost).unwrap() {
        Decision::Admit(p) => p,
        d => panic!("refused at {now}: {d:?}"),
    }
}

#[test]
fn a_sliding_slot_frees_one_period_after_the_response_not_after_the_send() {
    let mut l = Limiter::new(&[WindowSpec::sliding(1, MINUTE)]).unwrap();
    let p = admit(&mut l, 1_000, 1);
    l.complete(p, 4_000).unwrap();
    assert_eq!(l.try_acquire(1_000 + MINUTE, 1).unwrap(), Decision::Wait { retry_at_ms: 4_000 + MINUTE });
    assert_eq!(l.earliest(1).unwrap(), 4_000 + MINUTE);
    assert!(matches!(l.try_acquire(4_000 + MINUTE, 1).unwrap(), Decision::Admit(_)));
}

#[test]
fn a_fixed_window_counts_a_response_that_arrives_in_the_next_bucket_there_too() {
    let mut l = Limiter::new(&[WindowSpec::fixed(2, MINUTE, 0)]).unwrap();
    let p = admit(&mut l, 59_000, 2);
    l.complete(p, 60_500).unwrap();
    // The server may have counted both units in the bucket from 60 s: it is full.
    assert_eq!(l.used(0), Some(2));
    assert_eq!(l.try_acquire(61_000, 1).unwrap(), Decision::Wait { retry_at_ms: 2 * MINUTE });
}

#[test]
fn a_token_bucket_refills_from_the_response_time() {
    // 2 per minute: one unit back every 30 s.
    let mut l = Limiter::new(&[WindowSpec::bucket(2, MINUTE)]).unwrap();
    let p = admit(&mut l, 0, 2);
    l.complete(p, 10_000).unwrap();
    assert_eq!(l.earliest(1).unwrap(), 40_000);
    assert_eq!(l.earliest(2).unwrap(), 70_000);
}

#[test]
fn a_completion_at_or_before_the_send_time_moves_nothing() {
    for at in [5_000, 10] {
        let mut l = Limiter::new(&[WindowSpec::sliding(1, MINUTE)]).unwrap();
        let p = admit(&mut l, 5_000, 1);
        l.complete(p, at).unwrap();
        assert_eq!((l.used(0), l.earliest(1).unwrap()), (Some(1), 5_000 + MINUTE), "completed at {at}");
    }
}

fn any_spec() -> impl Strategy<Value = WindowSpec> {
    let kind = prop_oneof![Just(Kind::Sliding), Just(Kind::Fixed), Just(Kind::Bucket)];
    (kind, 1u64..=10, 1u64..=1000, 0u64..=2000)
        .prop_map(|(kind, limit, per_ms, offset_ms)| WindowSpec { kind, limit, per_ms, offset_ms })
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Step the time forward by `dt`, ask for `1 + raw % min_limit`.
    Acquire { dt: u64, raw: u64 },
    /// Complete an admitted permit (index modulo their number) at its send time plus `delay`.
    Complete { which: usize, delay: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (prop_oneof![Just(0u64), 1u64..=400], 0u64..10).prop_map(|(dt, raw)| Op::Acquire { dt, raw }),
        2 => (0usize..64, prop_oneof![Just(0u64), 1u64..=3000]).prop_map(|(which, delay)| Op::Complete { which, delay }),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// After `complete(p, c)` with `c` after the send, each window counts `p`
    /// at `c` (or later): a sliding window is not entirely free before
    /// `c + per`, a fixed window whose current bucket holds `c` counts at
    /// least `p.cost`, and a token bucket is not full again before
    /// `c + cost * per / limit`.
    #[test]
    fn a_late_completion_counts_the_request_at_its_response_time(
        specs in prop::collection::vec(any_spec(), 1..=3),
        start in prop_oneof![Just(0u64), 0u64..=3000],
        ops in prop::collection::vec(op(), 1..=60),
    ) {
        let mut lim = Limiter::new(&specs).unwrap();
        let min = specs.iter().map(|s| s.limit).min().unwrap();
        let (mut t, mut permits) = (start, Vec::<Permit>::new());
        for op in ops {
            match op {
                Op::Acquire { dt, raw } => {
                    t += dt;
                    if let Decision::Admit(p) = lim.try_acquire(t, 1 + raw % min).unwrap() {
                        permits.push(p);
                    }
                }
                Op::Complete { which, delay } => {
                    // A permit completes once: it leaves the list.
                    if permits.is_empty() {
                        continue;
                    }
                    let p = permits.swap_remove(which % permits.len());
                    let c = p.at_ms + delay;
                    lim.complete(p, c).unwrap();
                    t = t.max(c);
                    if delay == 0 {
                        continue;
                    }
                    for (i, s) in specs.iter().enumerate() {
                        match s.kind {
                            Kind::Sliding => {
                                let free = lim.window_earliest(i, s.limit).unwrap();
                                prop_assert!(free >= c + s.per_ms, "window {}: all free at {} < {} + {}", i, free, c, s.per_ms);
                            }
                            Kind::Fixed => {
                                let bucket = |x: u64| (x as i128 - s.offset_ms as i128).div_euclid(s.per_ms as i128);
                                if bucket(lim.clock_ms()) == bucket(c) {
                                    prop_assert!(lim.used(i).unwrap() >= p.cost, "window {}: used {} < {} in the bucket of {}", i, lim.used(i).unwrap(), p.cost, c);
                                }
                            }
                            Kind::Bucket => {
                                let full = lim.window_earliest(i, s.limit).unwrap();
                                let refill = p.cost * s.per_ms / s.limit;
                                prop_assert!(full >= c + refill, "window {}: full at {} < {} + {}", i, full, c, refill);
                            }
                        }
                    }
                }
            }
        }
    }
}
