//! Property tests of the limiter around its windows: the wait queue, snapshots,
//! and server feedback (pause_until, reconcile, complete).
//!
//! Times start at 0 half the time (a fresh limiter's clock) and never go below it.
//! Case count: `PROPTEST_CASES` (default 256).

use std::cmp::Reverse;

use proptest::prelude::*;
use tollgate::snapshot::WindowState;
use tollgate::{Decision, Error, Kind, Limiter, Options, Permit, Snapshot, WaiterId, WindowSpec};

fn config() -> ProptestConfig {
    // `default()` reads PROPTEST_CASES; no regression files are written into the tree.
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

fn any_spec() -> impl Strategy<Value = WindowSpec> {
    let kind = prop_oneof![Just(Kind::Sliding), Just(Kind::Fixed), Just(Kind::Bucket)];
    (kind, 1u64..=10, 1u64..=1000, 0u64..=2000)
        .prop_map(|(kind, limit, per_ms, offset_ms)| WindowSpec { kind, limit, per_ms, offset_ms })
}

fn specs() -> impl Strategy<Value = Vec<WindowSpec>> {
    prop::collection::vec(any_spec(), 1..=3)
}

fn min_limit(lim: &Limiter) -> u64 {
    lim.windows().map(|s| s.limit).min().unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    /// Step the time (may go back) and ask for `1 + raw % min_limit` units.
    Acquire { dt: i64, raw: u64 },
    /// Complete an earlier permit (index modulo their number) at its time plus `delay`.
    Complete { which: usize, delay: u64 },
    /// Pause until the current time plus `ahead`.
    Pause { ahead: u64 },
    /// The server reports `remaining` in window `window % n`, resetting at now + `reset` (if any).
    Reconcile { window: usize, remaining: u64, reset: Option<i64> },
}

fn op() -> impl Strategy<Value = Op> {
    let dt = prop_oneof![6 => 0i64..=300, 1 => -1500i64..0];
    prop_oneof![
        8 => (dt, 0u64..10).prop_map(|(dt, raw)| Op::Acquire { dt, raw }),
        2 => (0usize..64, 0u64..=1500).prop_map(|(which, delay)| Op::Complete { which, delay }),
        1 => (0u64..=2000).prop_map(|ahead| Op::Pause { ahead }),
        2 => (0usize..3, 0u64..=11, prop::option::of(prop_oneof![-2i64..=2, -500i64..=3000]))
            .prop_map(|(window, remaining, reset)| Op::Reconcile { window, remaining, reset }),
    ]
}

fn ops(n: usize) -> impl Strategy<Value = (u64, Vec<Op>)> {
    (prop_oneof![Just(0u64), 0u64..=3000], prop::collection::vec(op(), 1..=n))
}

/// What one op returned, to compare two limiters.
#[derive(Debug, PartialEq)]
enum Outcome {
    Decision(Result<Decision, Error>),
    Unit(Result<(), Error>),
    Changed(Result<bool, Error>),
}

/// Applies `op` at the running time `t`; admitted permits are collected.
fn apply(lim: &mut Limiter, t: &mut u64, permits: &mut Vec<Permit>, op: &Op) -> Outcome {
    match *op {
        Op::Acquire { dt, raw } => {
            *t = (*t as i64 + dt).max(0) as u64;
            let d = lim.try_acquire(*t, 1 + raw % min_limit(lim));
            if let Ok(Decision::Admit(p)) = d {
                permits.push(p);
            }
            Outcome::Decision(d)
        }
        Op::Complete { which, delay } if !permits.is_empty() => {
            // A permit completes once: it leaves the list.
            let p = permits.swap_remove(which % permits.len());
            Outcome::Unit(lim.complete(p, p.at_ms + delay))
        }
        Op::Complete { .. } => Outcome::Unit(Ok(())),
        Op::Pause { ahead } => Outcome::Unit(lim.pause_until(*t + ahead)),
        Op::Reconcile { window, remaining, reset } => {
            let reset = reset.map(|r| (*t as i64 + r).max(0) as u64);
            let n = lim.windows().len();
            Outcome::Changed(lim.reconcile(window % n, remaining, reset, *t))
        }
    }
}

/// A fresh limiter whose clock is at `start`.
fn new_limiter(specs: &[WindowSpec], start: u64) -> Limiter {
    ticked(&Limiter::new(specs).unwrap(), start)
}

/// `lim` with only its clock moved to `at` (admit_next on an empty queue just ticks).
fn ticked(lim: &Limiter, at: u64) -> Limiter {
    let mut l = lim.clone();
    assert_eq!(l.admit_next(at).unwrap(), None);
    l
}

fn earliest_all(lim: &Limiter) -> Vec<u64> {
    (1..=min_limit(lim)).map(|c| lim.earliest(c).unwrap()).collect()
}

#[derive(Clone, Copy, Debug)]
enum QOp {
    Enqueue { raw: u64, priority: i32 },
    Cancel(usize),
    /// Jump to next_wake_ms() and let the head in.
    Admit,
}

fn qop() -> impl Strategy<Value = QOp> {
    prop_oneof![
        4 => (0u64..10, -2i32..=2).prop_map(|(raw, priority)| QOp::Enqueue { raw, priority }),
        1 => (0usize..64).prop_map(QOp::Cancel),
        3 => Just(QOp::Admit),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Status {
    Queued,
    Cancelled,
    Admitted,
}

/// Lets the head in at exactly next_wake_ms(), checking it is the model's head
/// and that one millisecond earlier admits no one.
fn admit_head(lim: &mut Limiter, model: &mut [(WaiterId, i32, u64, Status)]) -> Result<(), TestCaseError> {
    let head = model.iter_mut().filter(|w| w.3 == Status::Queued).min_by_key(|w| (Reverse(w.1), w.0));
    let Some(head) = head else {
        prop_assert_eq!(lim.next_wake_ms(), None);
        prop_assert_eq!(lim.admit_next(lim.clock_ms()).unwrap(), None);
        return Ok(());
    };
    let wake = lim.next_wake_ms().unwrap();
    prop_assert_eq!(wake, lim.earliest(head.2).unwrap());
    prop_assert!(matches!(lim.clone().try_acquire(wake, 1).unwrap(), Decision::Wait { .. }), "jumped the queue");
    if wake > lim.clock_ms() {
        prop_assert_eq!(lim.clone().admit_next(wake - 1).unwrap(), None);
    }
    let got = lim.admit_next(wake).unwrap();
    prop_assert_eq!(got, Some((head.0, Permit { at_ms: wake, cost: head.2 })));
    head.3 = Status::Admitted;
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// `try_acquire` admits in one pass when every window has room (`Window::fits`)
    /// and computes `earliest` otherwise: both must give the same decision, and a
    /// refusal's `retry_at_ms` is `earliest` for that cost.
    #[test]
    fn try_acquire_admits_exactly_when_earliest_is_now(specs in specs(), (start, ops) in ops(60), tracked in any::<bool>()) {
        let options = Options { count_in_flight: tracked, ..Options::default() };
        let mut lim = ticked(&Limiter::with_options(&specs, options).unwrap(), start);
        let (mut t, mut permits) = (start, Vec::new());
        for op in &ops {
            if let Op::Acquire { dt, raw } = *op {
                let at = (t as i64 + dt).max(0) as u64;
                let cost = 1 + raw % min_limit(&lim);
                let mut probe = lim.clone();
                probe.advance(at).unwrap();
                let (now, earliest) = (probe.clock_ms(), probe.earliest(cost).unwrap());
                match apply(&mut lim, &mut t, &mut permits, op) {
                    Outcome::Decision(Ok(Decision::Admit(p))) => {
                        prop_assert_eq!(earliest, now, "admitted at {} though earliest said {}", now, earliest);
                        prop_assert_eq!(p.at_ms, now);
                    }
                    Outcome::Decision(Ok(Decision::Wait { retry_at_ms })) => {
                        prop_assert!(earliest > now, "refused at {} though earliest said now", now);
                        prop_assert_eq!(retry_at_ms, earliest);
                    }
                    other => prop_assert!(false, "{:?}", other),
                }
            } else {
                apply(&mut lim, &mut t, &mut permits, op);
            }
        }
    }

    #[test]
    fn waiters_are_admitted_by_priority_then_arrival_and_cancelled_ones_never(
        specs in specs(), (start, pre) in ops(10), qops in prop::collection::vec(qop(), 1..=60),
    ) {
        let mut lim = new_limiter(&specs, start);
        let (mut t, mut permits) = (start, Vec::new());
        for op in &pre {
            apply(&mut lim, &mut t, &mut permits, op);
        }
        let mut model: Vec<(WaiterId, i32, u64, Status)> = Vec::new();
        for q in qops {
            match q {
                QOp::Enqueue { raw, priority } => {
                    let cost = 1 + raw % min_limit(&lim);
                    let id = lim.enqueue(cost, priority).unwrap();
                    prop_assert!(model.iter().all(|w| w.0 != id), "id reused");
                    model.push((id, priority, cost, Status::Queued));
                }
                QOp::Cancel(_) if model.is_empty() => {}
                QOp::Cancel(k) => {
                    let n = model.len();
                    let w = &mut model[k % n];
                    prop_assert_eq!(lim.cancel(w.0), w.3 == Status::Queued);
                    if w.3 == Status::Queued {
                        w.3 = Status::Cancelled;
                    }
                }
                QOp::Admit => admit_head(&mut lim, &mut model)?,
            }
            prop_assert_eq!(lim.waiters(), model.iter().filter(|w| w.3 == Status::Queued).count());
        }
        while lim.waiters() > 0 {
            admit_head(&mut lim, &mut model)?;
        }
        prop_assert!(model.iter().all(|w| w.3 != Status::Queued));
        prop_assert_eq!(lim.next_wake_ms(), None);
    }

    #[test]
    fn a_restored_snapshot_decides_exactly_like_the_original(
        specs in specs(), (start, before) in ops(60), after in prop::collection::vec(op(), 1..=40),
    ) {
        let mut lim = new_limiter(&specs, start);
        let (mut t, mut permits) = (start, Vec::new());
        for op in &before {
            apply(&mut lim, &mut t, &mut permits, op);
        }
        let json = serde_json::to_string(&lim.snapshot()).unwrap();
        let snap: Snapshot = serde_json::from_str(&json).unwrap();
        let mut restored = Limiter::restore(&snap, Some(&specs), Options::default()).unwrap();
        prop_assert_eq!(restored.snapshot(), lim.snapshot());
        // The permits issued before are not the restored limiter's (see
        // `permits_of_the_limiter_that_took_the_snapshot_are_not_held`); both
        // complete only those issued after.
        permits.clear();
        let (mut t2, mut permits2) = (t, permits.clone());
        for op in &after {
            let expected = apply(&mut lim, &mut t, &mut permits, op);
            prop_assert_eq!(apply(&mut restored, &mut t2, &mut permits2, op), expected, "{:?}", op);
            prop_assert_eq!(earliest_all(&restored), earliest_all(&lim));
        }
        prop_assert_eq!(restored.snapshot(), lim.snapshot());
    }

    #[test]
    fn nothing_is_admitted_before_the_pause_gate(specs in specs(), (start, ops) in ops(100)) {
        let mut lim = new_limiter(&specs, start);
        let (mut t, mut permits, mut gate) = (start, Vec::new(), 0);
        for op in &ops {
            if let Op::Pause { ahead } = *op {
                gate = gate.max(t + ahead);
            }
            match apply(&mut lim, &mut t, &mut permits, op) {
                Outcome::Decision(Ok(Decision::Admit(p))) => prop_assert!(p.at_ms >= gate, "{:?} before {}", p, gate),
                Outcome::Decision(Ok(Decision::Wait { retry_at_ms })) => prop_assert!(retry_at_ms >= gate),
                _ => {}
            }
            prop_assert_eq!(lim.paused_until_ms(), gate);
            prop_assert!(earliest_all(&lim).iter().all(|&e| e >= gate));
        }
    }

    #[test]
    fn reconcile_adopts_the_server_count_and_never_makes_a_wait_shorter(specs in specs(), (start, ops) in ops(100)) {
        let mut lim = new_limiter(&specs, start);
        let (mut t, mut permits) = (start, Vec::new());
        for op in &ops {
            let before = ticked(&lim, t);
            let Outcome::Changed(changed) = apply(&mut lim, &mut t, &mut permits, op) else { continue };
            let Op::Reconcile { window, remaining, reset } = *op else { unreachable!() };
            let i = window % specs.len();
            // Only a fixed window told its reset moves its boundaries there (the
            // server's buckets), which may end a bucket sooner: by less than a period.
            let moves = reset.is_some() && specs[i].kind == Kind::Fixed;
            for (after, was) in earliest_all(&lim).into_iter().zip(earliest_all(&before)) {
                prop_assert!(
                    after >= was || (moves && after + specs[i].per_ms > was),
                    "reconcile moved earliest from {} to {}", was, after
                );
            }
            // A report whose reset is already past (at or before the clock) is ignored.
            let live = !matches!(reset, Some(r) if (t as i64 + r).max(0) as u64 <= lim.clock_ms());
            let changed = changed.unwrap();
            prop_assert_eq!(changed, lim.snapshot() != before.snapshot(), "the return value says whether the window changed");
            if !live {
                prop_assert!(!changed);
            } else {
                let server_used = specs[i].limit.saturating_sub(remaining);
                prop_assert!(lim.used(i).unwrap() >= server_used, "used {} < server {}", lim.used(i).unwrap(), server_used);
            }
        }
    }

    #[test]
    fn completing_late_never_makes_a_wait_shorter(specs in specs(), (start, ops) in ops(100)) {
        let mut lim = new_limiter(&specs, start);
        let (mut t, mut permits) = (start, Vec::new());
        for op in &ops {
            let Op::Complete { which, delay } = *op else {
                apply(&mut lim, &mut t, &mut permits, op);
                continue;
            };
            if permits.is_empty() {
                continue;
            }
            let p = permits.swap_remove(which % permits.len());
            let before = ticked(&lim, p.at_ms + delay);
            lim.complete(p, p.at_ms + delay).unwrap();
            for (after, was) in earliest_all(&lim).into_iter().zip(earliest_all(&before)) {
                prop_assert!(after >= was, "complete({:?}, {}) moved earliest from {} to {}", p, p.at_ms + delay, was, after);
            }
            for i in 0..specs.len() {
                prop_assert!(lim.used(i).unwrap() >= before.used(i).unwrap());
            }
            if delay == 0 {
                prop_assert_eq!(lim.snapshot(), before.snapshot());
            }
        }
    }
}

const MINUTE: u64 = 60_000;
const HEX: [WindowSpec; 2] = [WindowSpec::sliding(20, MINUTE), WindowSpec::sliding(60, 60 * MINUTE)];

fn hex_with_traffic() -> Limiter {
    let mut lim = Limiter::new(&HEX).unwrap();
    for t in [1_000, 1_500, 2_000] {
        assert!(matches!(lim.try_acquire(t, 1).unwrap(), Decision::Admit(_)));
    }
    lim
}

#[test]
fn a_snapshot_of_another_version_is_refused_by_its_number() {
    let mut json: serde_json::Value = serde_json::to_value(hex_with_traffic().snapshot()).unwrap();
    json["version"] = 2.into();
    let snap: Snapshot = serde_json::from_value(json).unwrap();
    assert_eq!(Limiter::restore(&snap, Some(&HEX), Options::default()), Err(Error::UnsupportedSnapshotVersion { found: 2 }));
    assert_eq!(Limiter::restore(&snap, None, Options::default()), Err(Error::UnsupportedSnapshotVersion { found: 2 }));
}

fn with_log(log: Vec<(u64, u64)>) -> Result<Limiter, Error> {
    let mut snap = hex_with_traffic().snapshot();
    snap.windows[0].state = WindowState::Sliding { log };
    Limiter::restore(&snap, Some(&HEX), Options::default())
}

#[test]
fn a_sliding_log_out_of_order_or_with_a_zero_cost_is_corrupt() {
    assert!(matches!(with_log(vec![(1_500, 1), (1_000, 1)]), Err(Error::CorruptSnapshot { .. })));
    assert!(matches!(with_log(vec![(1_000, 1), (1_500, 0)]), Err(Error::CorruptSnapshot { .. })));
    // The same log in order and with positive costs restores, and counts.
    assert_eq!(with_log(vec![(1_000, 1), (1_500, 2)]).unwrap().used(0), Some(3));
}

#[test]
fn a_snapshot_taken_under_other_windows_is_a_mismatch() {
    let snap = hex_with_traffic().snapshot();
    let others: [&[WindowSpec]; 4] = [
        &[WindowSpec::sliding(20, MINUTE)],
        &[WindowSpec::sliding(21, MINUTE), HEX[1]],
        &[WindowSpec::fixed(20, MINUTE, 0), HEX[1]],
        &[HEX[1], HEX[0]],
    ];
    for other in others {
        assert_eq!(Limiter::restore(&snap, Some(other), Options::default()), Err(Error::SnapshotMismatch));
    }
    let restored = Limiter::restore(&snap, None, Options::default()).unwrap();
    assert_eq!(restored.windows().copied().collect::<Vec<_>>(), HEX);
    assert_eq!((restored.used(0), restored.used(1), restored.clock_ms()), (Some(3), Some(3), 2_000));
}
