//! The planner: each planned time is exactly when `try_acquire` first admits
//! that request, so a plan is as exact as a wait.

use proptest::prelude::*;
use tollgate::{Decision, Kind, Limiter, Options, Permit, WindowSpec};

fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

fn any_spec() -> impl Strategy<Value = WindowSpec> {
    let kind = prop_oneof![Just(Kind::Sliding), Just(Kind::Fixed), Just(Kind::Bucket)];
    (kind, 1u64..=10, 1u64..=1000, 0u64..=2000).prop_map(|(kind, limit, per_ms, offset_ms)| WindowSpec { kind, limit, per_ms, offset_ms })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn each_planned_time_is_when_try_acquire_first_admits(
        specs in prop::collection::vec(any_spec(), 1..=3),
        in_flight in any::<bool>(),
        schedule in prop::collection::vec((0u64..=300, 0u64..10, 0u8..4), 0..=30),
        k in 1usize..=40, raw_cost in 0u64..10,
    ) {
        let min_limit = specs.iter().map(|s| s.limit).min().unwrap();
        let mut lim = Limiter::with_options(&specs, Options { count_in_flight: in_flight, ..Options::default() }).unwrap();
        let mut t = 0;
        let mut open = Vec::new();
        for (dt, raw, op) in schedule {
            t += dt;
            match op {
                0 => lim.pause_until(t + raw * 37).unwrap(),
                1 => { lim.reconcile(0, raw, Some(t + 1 + raw * 53), t).unwrap(); }
                2 => if let Some(p) = open.pop() { lim.complete(p, t).unwrap() },
                _ => if let Decision::Admit(p) = lim.try_acquire(t, 1 + raw % min_limit).unwrap() { open.push(p) },
            }
        }
        // The plan takes requests in flight as completed at the clock.
        let clock = lim.clock_ms();
        for p in open {
            lim.complete(p, clock).unwrap();
        }
        let cost = 1 + raw_cost % min_limit;
        let plan = lim.plan(clock, k, cost).unwrap();
        prop_assert_eq!(plan.len(), k);
        let mut sim = lim.clone();
        for &at in &plan {
            if at > sim.clock_ms() {
                let mut early = sim.clone();
                prop_assert!(matches!(early.try_acquire(at - 1, cost).unwrap(), Decision::Wait { .. }), "admitted before {}", at);
            }
            let admitted = sim.try_acquire(at, cost).unwrap();
            prop_assert_eq!(admitted, Decision::Admit(Permit { at_ms: at, cost }));
            if in_flight {
                // As planned: each completes the moment it is sent.
                if let Decision::Admit(p) = admitted { sim.complete(p, at).unwrap() }
            }
        }
    }
}

#[test]
fn queued_waiters_are_planned_before_new_requests() {
    const MIN: u64 = 60_000;
    let mut hex = Limiter::new(&[WindowSpec::sliding(20, MIN), WindowSpec::sliding(60, 60 * MIN)]).unwrap();
    for _ in 0..15 {
        hex.try_acquire(0, 1).unwrap();
    }
    for _ in 0..10 {
        hex.enqueue(1, 0).unwrap();
    }
    // 5 waiters fit now, 5 at the minute; the 45 new ones after them.
    let plan = hex.plan(0, 45, 1).unwrap();
    assert_eq!(plan[0], MIN);
    assert_eq!(plan[14], MIN);
    assert_eq!(plan[15], 2 * MIN);
    assert_eq!(plan[35], 60 * MIN);
    assert!(hex.plan(0, 1_000_001, 1).is_err());
    assert!(hex.plan(0, 1, 21).is_err());
}

#[test]
fn a_plan_covers_up_to_max_plan_requests_and_no_more() {
    // Found by mutation testing: the bound is inclusive.
    let l = Limiter::new(&[WindowSpec::sliding(tollgate::MAX_PLAN as u64, 60_000)]).unwrap();
    let plan = l.plan(0, tollgate::MAX_PLAN, 1).unwrap();
    assert_eq!(plan.len(), tollgate::MAX_PLAN);
    assert_eq!(plan[tollgate::MAX_PLAN - 1], 0);
    assert_eq!(l.plan(0, tollgate::MAX_PLAN + 1, 1), Err(tollgate::Error::PlanTooLong { requests: tollgate::MAX_PLAN as u64 + 1 }));
}
