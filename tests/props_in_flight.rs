//! Property tests of `Options::count_in_flight`, the option that makes the
//! limit hold at the server whatever the network latency.
//!
//! A request admitted at `s` (its `permit.at_ms`) whose response arrives at `c`
//! may reach the server at any moment of `[s, c]`. A server judging by arrival
//! time must never see more than the limit, however those arrival times fall.
//! Each schedule is a random sequence, at non-decreasing times, of
//! `try_acquire`s and completions (of a random outstanding permit, at the
//! current time); at its end every outstanding permit completes. Then:
//!
//! * arrival times drawn from the input anywhere in each `[s_i, c_i]` are
//!   checked by brute force against the server's window (sliding: every
//!   interval `[x, x + per)`; fixed: every bucket);
//! * and, stronger, the worst placement of every arrival at once (the most any
//!   network could squeeze into one interval or bucket) is checked too.
//!
//! The windows are one or two, sliding or fixed (limits 1..=10, periods
//! 1..=1000 ms, random offsets). Times start at 0 half the time.
//! Case count: `PROPTEST_CASES` (default 256).

use std::collections::BTreeMap;

use proptest::prelude::*;
use tollgate::{Decision, Kind, Limiter, Options, Permit, WindowSpec, MAX_TIME_MS};

fn config() -> ProptestConfig {
    // `default()` reads PROPTEST_CASES; no regression files are written into the tree.
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

const NEVER: u64 = u64::MAX;

fn spec_of(kind: Kind) -> impl Strategy<Value = WindowSpec> {
    (1u64..=10, 1u64..=1000, 0u64..=2000)
        .prop_map(move |(limit, per_ms, offset_ms)| WindowSpec { kind, limit, per_ms, offset_ms })
}

fn sliding_or_fixed() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![Just(Kind::Sliding), Just(Kind::Fixed)].prop_flat_map(spec_of)
}

/// A window of `kind`, and maybe another sliding or fixed one, in either order.
fn windows_with(kind: Kind) -> impl Strategy<Value = Vec<WindowSpec>> {
    (spec_of(kind), prop::option::of(sliding_or_fixed()), any::<bool>()).prop_map(|(first, other, swap)| {
        let mut specs: Vec<WindowSpec> = [Some(first), other].into_iter().flatten().collect();
        if swap {
            specs.reverse();
        }
        specs
    })
}

fn any_windows() -> impl Strategy<Value = Vec<WindowSpec>> {
    prop::collection::vec(sliding_or_fixed(), 1..=2)
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Move the time forward by `dt`, then ask for `1 + raw % min_limit` units.
    /// If admitted, the request reaches the server `arrive / 1000` of the way
    /// from its send time to its response time.
    Acquire { dt: u64, raw: u64, arrive: u16 },
    /// Move the time forward by `dt`, then the response to an outstanding
    /// request (index modulo their number) arrives now.
    Complete { dt: u64, which: usize },
}

/// Mostly small steps (often 0, a collision), sometimes a long gap.
fn dt() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0u64), 8 => 1u64..=300, 1 => 301u64..=3000]
}

/// Arrival fractions, the edges of `[s, c]` often.
fn arrive() -> impl Strategy<Value = u16> {
    prop_oneof![1 => Just(0u16), 1 => Just(1000u16), 2 => 0u16..=1000]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (dt(), 0u64..10, arrive()).prop_map(|(dt, raw, arrive)| Op::Acquire { dt, raw, arrive }),
        2 => (dt(), 0usize..64).prop_map(|(dt, which)| Op::Complete { dt, which }),
    ]
}

/// (start time, events, delay before the final completions of everything outstanding).
fn schedule() -> impl Strategy<Value = (u64, Vec<Op>, u64)> {
    (prop_oneof![Just(0u64), 0u64..=3000], prop::collection::vec(op(), 1..=100), 0u64..=3000)
}

fn counting_in_flight(specs: &[WindowSpec]) -> Limiter {
    Limiter::with_options(specs, Options { count_in_flight: true, ..Options::default() }).unwrap()
}

fn min_limit(specs: &[WindowSpec]) -> u64 {
    specs.iter().map(|s| s.limit).min().unwrap()
}

/// One admitted request: sent at `sent`, response at `done`.
#[derive(Clone, Copy, Debug)]
struct Request {
    sent: u64,
    done: u64,
    cost: u64,
    /// Where in `[sent, done]` it reached the server, in thousandths.
    arrive: u16,
}

impl Request {
    fn arrival(&self) -> u64 {
        self.sent + (self.done - self.sent) * self.arrive as u64 / 1000
    }
}

/// Called after every `try_acquire` with the limiter (after the call), the
/// permits outstanding before it, the cost asked and the decision.
type Hook<'a> = dyn FnMut(&Limiter, &[Permit], u64, Decision) -> Result<(), TestCaseError> + 'a;

/// Runs a schedule from `start`, completing everything outstanding `tail` ms
/// after the last event. Returns every admitted request with its response time.
fn drive(lim: &mut Limiter, start: u64, ops: &[Op], tail: u64, hook: &mut Hook) -> Result<Vec<Request>, TestCaseError> {
    let min = lim.windows().map(|s| s.limit).min().unwrap();
    let (mut t, mut outstanding, mut requests) = (start, Vec::<(Permit, u16)>::new(), Vec::new());
    for &op in ops {
        match op {
            Op::Acquire { dt, raw, arrive } => {
                t += dt;
                let cost = 1 + raw % min;
                let before: Vec<Permit> = outstanding.iter().map(|&(p, _)| p).collect();
                let decision = lim.try_acquire(t, cost).unwrap();
                if let Decision::Admit(p) = decision {
                    prop_assert_eq!(p, Permit { at_ms: t, cost });
                    outstanding.push((p, arrive));
                }
                hook(lim, &before, cost, decision)?;
            }
            Op::Complete { dt, which } => {
                t += dt;
                if outstanding.is_empty() {
                    continue;
                }
                let (p, arrive) = outstanding.remove(which % outstanding.len());
                lim.complete(p, t).unwrap();
                requests.push(Request { sent: p.at_ms, done: t, cost: p.cost, arrive });
            }
        }
    }
    t += tail;
    for (p, arrive) in outstanding {
        lim.complete(p, t).unwrap();
        requests.push(Request { sent: p.at_ms, done: t, cost: p.cost, arrive });
    }
    prop_assert_eq!(lim.in_flight(), 0);
    Ok(requests)
}

fn no_hook(_: &Limiter, _: &[Permit], _: u64, _: Decision) -> Result<(), TestCaseError> {
    Ok(())
}

fn bucket_of(spec: &WindowSpec, t: u64) -> i128 {
    (t as i128 - spec.offset_ms as i128).div_euclid(spec.per_ms as i128)
}

/// Units arriving in `[x, x + per)`.
fn arriving_in(requests: &[Request], x: i128, per: u64) -> u64 {
    requests.iter().filter(|r| (x..x + per as i128).contains(&(r.arrival() as i128))).map(|r| r.cost).sum()
}

/// Brute force over the drawn arrival times: an `Err` names a window of the
/// server, as `spec` counts, holding more than its limit.
fn check_arrivals(spec: &WindowSpec, requests: &[Request]) -> Result<(), String> {
    let (limit, per) = (spec.limit, spec.per_ms);
    match spec.kind {
        Kind::Sliding => {
            // The busiest [x, x + per) starts at an arrival; (a_j - per, a_j] ends at one.
            for r in requests {
                let a = r.arrival() as i128;
                for x in [a - per as i128 + 1, a] {
                    let units = arriving_in(requests, x, per);
                    if units > limit {
                        return Err(format!("{units} units arrive in [{x}, {}) under {spec:?}", x + per as i128));
                    }
                }
            }
        }
        Kind::Fixed => {
            let mut per_bucket = BTreeMap::new();
            for r in requests {
                *per_bucket.entry(bucket_of(spec, r.arrival())).or_insert(0u64) += r.cost;
            }
            for (k, units) in per_bucket {
                if units > limit {
                    return Err(format!("{units} units arrive in bucket {k} under {spec:?}"));
                }
            }
        }
        Kind::Bucket => unreachable!("count_in_flight is for sliding and fixed windows"),
    }
    Ok(())
}

/// The worst the network can do: every request placed anywhere in its
/// `[sent, done]` at once. An `Err` names a window of `spec` that some choice
/// of arrival times fills beyond the limit.
fn check_worst_case(spec: &WindowSpec, requests: &[Request]) -> Result<(), String> {
    let (limit, per) = (spec.limit, spec.per_ms);
    match spec.kind {
        Kind::Sliding => {
            // [s_i, c_i] meets [x, x + per) iff s_i < x + per and c_i >= x. Moving x up
            // only loses requests once x passes their c_i, so the best x is some c_j.
            for r in requests {
                let x = r.done;
                let units: u64 = requests.iter().filter(|q| q.sent < x + per && q.done >= x).map(|q| q.cost).sum();
                if units > limit {
                    return Err(format!("{units} units can arrive in [{x}, {}) under {spec:?}", x + per));
                }
            }
        }
        Kind::Fixed => {
            // A request can arrive in every bucket from that of s_i to that of c_i. Moving to
            // the next bucket only loses requests whose c_i is in this one: the best bucket holds some c_j.
            for r in requests {
                let k = bucket_of(spec, r.done);
                let units: u64 = requests
                    .iter()
                    .filter(|q| bucket_of(spec, q.sent) <= k && k <= bucket_of(spec, q.done))
                    .map(|q| q.cost)
                    .sum();
                if units > limit {
                    return Err(format!("{units} units can arrive in bucket {k} under {spec:?}"));
                }
            }
        }
        Kind::Bucket => unreachable!("count_in_flight is for sliding and fixed windows"),
    }
    Ok(())
}

/// Checks the drawn and the worst-case arrivals against every window of `kind`.
fn server_never_sees_more_than_the_limit(specs: &[WindowSpec], requests: &[Request], kind: Kind) -> Result<(), TestCaseError> {
    for spec in specs.iter().filter(|s| s.kind == kind) {
        if let Err(e) = check_arrivals(spec, requests) {
            prop_assert!(false, "drawn arrivals: {}; requests {:?}", e, requests);
        }
        if let Err(e) = check_worst_case(spec, requests) {
            prop_assert!(false, "worst-case arrivals: {}; requests {:?}", e, requests);
        }
    }
    Ok(())
}

/// Far later times to ask at: past every period, and the last time accepted.
fn far_times(now: u64) -> [u64; 5] {
    [now + 1, now + 1_000, now + 3_001, now + 1_000_000_007, MAX_TIME_MS]
}

/// A refusal's time is exact: a clone asked at `r` admits, at `r - 1` refuses;
/// `NEVER` refuses at every later time until something completes.
fn a_wait_is_exact(lim: &Limiter, outstanding: &[Permit], cost: u64, decision: Decision) -> Result<(), TestCaseError> {
    let now = lim.clock_ms();
    let in_flight: u64 = outstanding.iter().map(|p| p.cost).sum();
    match decision {
        Decision::Admit(p) => {
            prop_assert_eq!(p.at_ms, now);
            prop_assert_eq!(lim.in_flight(), in_flight + cost);
        }
        Decision::Wait { retry_at_ms: NEVER } => {
            prop_assert_eq!(lim.in_flight(), in_flight);
            prop_assert!(in_flight > 0, "only a completion can make room, yet nothing is in flight");
            prop_assert_eq!(lim.earliest(cost).unwrap(), NEVER);
            for far in far_times(now) {
                let mut later = lim.clone();
                prop_assert_eq!(later.try_acquire(far, cost).unwrap(), Decision::Wait { retry_at_ms: NEVER }, "at {}", far);
            }
            let mut queued = lim.clone();
            queued.enqueue(cost, 0).unwrap();
            prop_assert_eq!(queued.next_wake_ms(), Some(NEVER));
            for far in far_times(now) {
                prop_assert_eq!(queued.admit_next(far).unwrap(), None, "at {}", far);
            }
            // And completions do make room: once everything in flight lands, a time can be named.
            let mut landed = lim.clone();
            for &p in outstanding {
                landed.complete(p, now).unwrap();
            }
            prop_assert_eq!(landed.in_flight(), 0);
            let at = landed.earliest(cost).unwrap();
            prop_assert!(at != NEVER);
            prop_assert_eq!(landed.try_acquire(at, cost).unwrap(), Decision::Admit(Permit { at_ms: at, cost }));
        }
        Decision::Wait { retry_at_ms: r } => {
            prop_assert!(r > now && r <= MAX_TIME_MS, "retry at {} with the clock at {}", r, now);
            prop_assert_eq!(lim.in_flight(), in_flight);
            prop_assert_eq!(lim.earliest(cost).unwrap(), r);
            let mut on_time = lim.clone();
            prop_assert_eq!(on_time.try_acquire(r, cost).unwrap(), Decision::Admit(Permit { at_ms: r, cost }));
            if r - 1 > now {
                let mut early = lim.clone();
                prop_assert_eq!(early.try_acquire(r - 1, cost).unwrap(), Decision::Wait { retry_at_ms: r });
            }
            let mut queued = lim.clone();
            let id = queued.enqueue(cost, 0).unwrap();
            prop_assert_eq!(queued.next_wake_ms(), Some(r));
            if r - 1 > now {
                prop_assert_eq!(queued.clone().admit_next(r - 1).unwrap(), None);
            }
            prop_assert_eq!(queued.admit_next(r).unwrap(), Some((id, Permit { at_ms: r, cost })));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn whatever_the_latency_a_sliding_server_judging_by_arrival_never_sees_more_than_the_limit(
        specs in windows_with(Kind::Sliding), (start, ops, tail) in schedule(),
    ) {
        let mut lim = counting_in_flight(&specs);
        let requests = drive(&mut lim, start, &ops, tail, &mut no_hook)?;
        server_never_sees_more_than_the_limit(&specs, &requests, Kind::Sliding)?;
    }

    #[test]
    fn whatever_the_latency_a_fixed_server_judging_by_arrival_never_sees_more_than_the_limit_in_a_bucket(
        specs in windows_with(Kind::Fixed), (start, ops, tail) in schedule(),
    ) {
        let mut lim = counting_in_flight(&specs);
        let requests = drive(&mut lim, start, &ops, tail, &mut no_hook)?;
        server_never_sees_more_than_the_limit(&specs, &requests, Kind::Fixed)?;
    }

    #[test]
    fn with_requests_in_flight_a_wait_names_the_first_millisecond_that_admits_or_never_before_a_completion(
        specs in any_windows(), (start, ops, tail) in schedule(),
    ) {
        let mut lim = counting_in_flight(&specs);
        drive(&mut lim, start, &ops, tail, &mut a_wait_is_exact)?;
    }

    #[test]
    fn a_permit_never_completed_holds_its_units_forever_and_completing_every_permit_empties_the_in_flight_set(
        specs in any_windows(), (start, ops, _) in schedule(), leak in prop::collection::vec(prop::bool::weighted(0.3), 100),
    ) {
        let mut lim = counting_in_flight(&specs);
        let min = min_limit(&specs);
        let max_per = specs.iter().map(|s| s.per_ms).max().unwrap();
        // (permit, never completed?), for every request not yet completed.
        let (mut t, mut outstanding, mut admitted) = (start, Vec::<(Permit, bool)>::new(), 0);
        for &op in &ops {
            match op {
                Op::Acquire { dt, raw, .. } => {
                    t += dt;
                    if let Decision::Admit(p) = lim.try_acquire(t, 1 + raw % min).unwrap() {
                        outstanding.push((p, leak[admitted]));
                        admitted += 1;
                    }
                }
                Op::Complete { dt, which } => {
                    t += dt;
                    let completable: Vec<usize> = (0..outstanding.len()).filter(|&i| !outstanding[i].1).collect();
                    if !completable.is_empty() {
                        let (p, _) = outstanding.remove(completable[which % completable.len()]);
                        lim.complete(p, t).unwrap();
                    }
                }
            }
            let held: u64 = outstanding.iter().map(|(p, _)| p.cost).sum();
            prop_assert_eq!(lim.in_flight(), held);
            for (i, spec) in specs.iter().enumerate() {
                let used = lim.used(i).unwrap();
                prop_assert!(held <= used && used <= spec.limit, "window {} uses {} with {} in flight", i, used, held);
            }
        }
        // Complete everything but the leaked permits.
        for &(p, _) in outstanding.iter().filter(|&&(_, leaked)| !leaked) {
            lim.complete(p, t).unwrap();
        }
        outstanding.retain(|&(_, leaked)| leaked);
        let leaked: u64 = outstanding.iter().map(|(p, _)| p.cost).sum();
        prop_assert_eq!(lim.in_flight(), leaked);
        // Long after every period has passed, the leaked units are all that is used, in every window.
        for far in [t + max_per, t + 2 * max_per + 1, t + 1_000_000_007, MAX_TIME_MS - 2 * max_per - 1] {
            let mut later = lim.clone();
            prop_assert_eq!(later.admit_next(far).unwrap(), None);
            for i in 0..specs.len() {
                prop_assert_eq!(later.used(i), Some(leaked), "window {} at {}", i, far);
            }
            for cost in 1..=min {
                let expected = if specs.iter().all(|s| leaked + cost <= s.limit) { far } else { NEVER };
                prop_assert_eq!(later.earliest(cost).unwrap(), expected, "cost {} at {}", cost, far);
            }
        }
        // Completing the leaked ones too empties the in-flight set, and a period later every window.
        let far = t + 2 * max_per + 1;
        prop_assert_eq!(lim.admit_next(far).unwrap(), None);
        for (p, _) in outstanding {
            lim.complete(p, far).unwrap();
        }
        prop_assert_eq!(lim.in_flight(), 0);
        for (i, spec) in specs.iter().enumerate() {
            // Landed at `far`, they count there: a sliding log logs them, the fixed bucket already held them.
            prop_assert_eq!(lim.used(i), Some(leaked), "window {} ({:?}) right after the completions", i, spec.kind);
        }
        let later = far + 2 * max_per;
        prop_assert_eq!(lim.admit_next(later).unwrap(), None);
        for i in 0..specs.len() {
            prop_assert_eq!(lim.used(i), Some(0), "window {} a period after the last completion", i);
        }
        prop_assert_eq!(lim.try_acquire(later, min).unwrap(), Decision::Admit(Permit { at_ms: later, cost: min }));
    }
}

const MINUTE: u64 = 60_000;

/// The checkers catch what the option exists to prevent: without it, a slow
/// request reaches the server beside the next one.
#[test]
fn without_counting_in_flight_a_slow_request_lets_the_server_see_more_than_the_limit() {
    let ops = [
        Op::Acquire { dt: 0, raw: 0, arrive: 1000 },
        // A minute later the first slot is free, though its response has not come.
        Op::Acquire { dt: MINUTE, raw: 0, arrive: 0 },
        Op::Complete { dt: 500, which: 0 },
    ];
    for spec in [WindowSpec::sliding(1, MINUTE), WindowSpec::fixed(1, MINUTE, 0)] {
        let mut plain = Limiter::new(&[spec]).unwrap();
        let requests = drive(&mut plain, 0, &ops, 0, &mut no_hook).unwrap();
        assert_eq!(requests.len(), 2, "{spec:?}");
        assert!(check_arrivals(&spec, &requests).is_err(), "{spec:?}: {requests:?}");
        assert!(check_worst_case(&spec, &requests).is_err(), "{spec:?}: {requests:?}");

        let mut counting = counting_in_flight(&[spec]);
        let requests = drive(&mut counting, 0, &ops, 0, &mut no_hook).unwrap();
        assert_eq!(requests.len(), 1, "{spec:?}: the second request must wait for the first response");
        check_arrivals(&spec, &requests).unwrap();
        check_worst_case(&spec, &requests).unwrap();
    }
}

/// A draw of arrival times can look fine while another draw breaks the limit:
/// the worst-case check does not depend on the draw.
#[test]
fn the_worst_case_check_finds_what_one_lucky_draw_of_arrivals_misses() {
    let spec = WindowSpec::sliding(1, 1_000);
    // Both in flight over [0, 5000]; one drawn at 0, the other at 5000: far apart.
    let requests = [
        Request { sent: 0, done: 5_000, cost: 1, arrive: 0 },
        Request { sent: 0, done: 5_000, cost: 1, arrive: 1000 },
    ];
    check_arrivals(&spec, &requests).unwrap();
    assert!(check_worst_case(&spec, &requests).is_err());
}
