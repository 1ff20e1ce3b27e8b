//! Property tests of the window invariants, each window kind checked against an
//! independent brute-force model written here (no code shared with `src/`).
//!
//! Schedules use small limits and periods so that collisions, full windows and
//! backward clock jumps happen often. Times start at 0 half the time (a fresh
//! limiter's clock; see `tests/props_failing.rs`) and never go below it.
//! Case count: `PROPTEST_CASES` (default 256).

use std::collections::BTreeMap;

use proptest::prelude::*;
use tollgate::{Decision, Kind, Limiter, Permit, WindowSpec};

fn config() -> ProptestConfig {
    // `default()` reads PROPTEST_CASES; no regression files are written into the tree.
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

fn spec_of(kind: Kind) -> impl Strategy<Value = WindowSpec> {
    (1u64..=10, 1u64..=1000, 0u64..=2000)
        .prop_map(move |(limit, per_ms, offset_ms)| WindowSpec { kind, limit, per_ms, offset_ms })
}

fn any_spec() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![Just(Kind::Sliding), Just(Kind::Fixed), Just(Kind::Bucket)].prop_flat_map(spec_of)
}

/// A window of `kind` first, then up to two windows of any kind.
fn windows_with(kind: Kind) -> impl Strategy<Value = Vec<WindowSpec>> {
    (spec_of(kind), prop::collection::vec(any_spec(), 0..=2)).prop_map(|(first, rest)| [vec![first], rest].concat())
}

const STEPS: usize = 100;

/// (time step, raw cost): mostly forward (often 0, a collision), sometimes back.
fn schedule() -> impl Strategy<Value = (u64, Vec<(i64, u64)>)> {
    let step = prop_oneof![6 => 0i64..=300, 1 => -1500i64..0];
    (prop_oneof![Just(0u64), 0u64..=3000], prop::collection::vec((step, 0u64..10), 1..=STEPS))
}

fn min_limit(specs: &[WindowSpec]) -> u64 {
    specs.iter().map(|s| s.limit).min().unwrap()
}

fn step_time(t: u64, d: i64) -> u64 {
    (t as i64 + d).max(0) as u64
}

/// One window's brute-force model.
#[derive(Clone, Debug)]
enum Model {
    /// Every admitted (time, cost).
    Sliding(Vec<(u64, u64)>),
    /// Units per bucket index `floor((t - offset) / per)`.
    Fixed(BTreeMap<i128, u64>),
    /// Tokens scaled by `per` (so refill is `limit` per ms, exactly), and the last refill time.
    Bucket { tokens_p: u128, last: u64 },
}

#[derive(Clone, Debug)]
struct Win {
    spec: WindowSpec,
    model: Model,
}

fn bucket_index(spec: &WindowSpec, t: u64) -> i128 {
    (t as i128 - spec.offset_ms as i128).div_euclid(spec.per_ms as i128)
}

/// A reference bucket's tokens (times `per`) at `t`: `limit` tokens per `per` ms, capped at `limit`.
fn tokens_p_at(spec: &WindowSpec, tokens_p: u128, last: u64, t: u64) -> u128 {
    let full = (spec.limit * spec.per_ms) as u128;
    full.min(tokens_p + (t - last) as u128 * spec.limit as u128)
}

impl Win {
    fn new(spec: WindowSpec) -> Self {
        let model = match spec.kind {
            Kind::Sliding => Model::Sliding(Vec::new()),
            Kind::Fixed => Model::Fixed(BTreeMap::new()),
            Kind::Bucket => Model::Bucket { tokens_p: (spec.limit * spec.per_ms) as u128, last: 0 },
        };
        Win { spec, model }
    }

    /// The earliest time `>= t` at which this window alone admits `c` (t never decreases).
    fn earliest(&self, t: u64, c: u64) -> u64 {
        let (limit, per) = (self.spec.limit, self.spec.per_ms);
        match &self.model {
            Model::Sliding(log) => {
                // Only `t` and the times at which an admitted unit frees can be the first fit.
                let mut candidates: Vec<u64> = log.iter().map(|&(a, _)| a + per).filter(|&x| x > t).collect();
                candidates.push(t);
                candidates.sort_unstable();
                candidates.into_iter().find(|&x| self.used(x) + c <= limit).expect("fits once all expire")
            }
            Model::Fixed(counts) => {
                let k = bucket_index(&self.spec, t);
                if counts.get(&k).copied().unwrap_or(0) + c <= limit {
                    t
                } else {
                    ((k + 1) * per as i128 + self.spec.offset_ms as i128) as u64
                }
            }
            &Model::Bucket { tokens_p, last } => {
                let (avail, need) = (tokens_p_at(&self.spec, tokens_p, last, t), (c * per) as u128);
                if avail >= need { t } else { t + (need - avail).div_ceil(limit as u128) as u64 }
            }
        }
    }

    /// Units counted at `t`, as `Limiter::used` reports them (a bucket's rounded up).
    fn used(&self, t: u64) -> u64 {
        let (limit, per) = (self.spec.limit, self.spec.per_ms);
        match &self.model {
            // Admitted at a, a unit counts in [a, a + per).
            Model::Sliding(log) => log.iter().filter(|&&(a, _)| a <= t && t < a + per).map(|&(_, k)| k).sum(),
            Model::Fixed(counts) => counts.get(&bucket_index(&self.spec, t)).copied().unwrap_or(0),
            &Model::Bucket { tokens_p, last } => {
                ((limit * per) as u128 - tokens_p_at(&self.spec, tokens_p, last, t)).div_ceil(per as u128) as u64
            }
        }
    }

    fn admit(&mut self, t: u64, c: u64) {
        let spec = self.spec;
        match &mut self.model {
            Model::Sliding(log) => log.push((t, c)),
            Model::Fixed(counts) => *counts.entry(bucket_index(&spec, t)).or_insert(0) += c,
            Model::Bucket { tokens_p, last } => {
                *tokens_p = tokens_p_at(&spec, *tokens_p, *last, t) - (c * spec.per_ms) as u128;
                *last = t;
            }
        }
    }
}

/// Runs `steps` through the limiter and the models, asserting every decision
/// equals the models' (admit iff every window admits; else wait until the latest
/// of their earliest times). Returns the admitted (time, cost) sequence.
fn run_against_models(specs: &[WindowSpec], start: u64, steps: &[(i64, u64)]) -> Result<Vec<(u64, u64)>, TestCaseError> {
    let mut lim = Limiter::new(specs).unwrap();
    let mut models: Vec<Win> = specs.iter().map(|s| Win::new(*s)).collect();
    let (mut t, mut clock, mut admitted) = (start, 0u64, Vec::new());
    for &(d, raw) in steps {
        t = step_time(t, d);
        clock = clock.max(t);
        let cost = 1 + raw % min_limit(specs);
        let at = models.iter().map(|m| m.earliest(clock, cost)).max().unwrap();
        prop_assert!(models.iter().all(|m| m.earliest(at, cost) == at), "model not monotone");
        let expected = if at == clock {
            models.iter_mut().for_each(|m| m.admit(clock, cost));
            admitted.push((clock, cost));
            Decision::Admit(Permit { at_ms: clock, cost })
        } else {
            Decision::Wait { retry_at_ms: at }
        };
        prop_assert_eq!(lim.try_acquire(t, cost).unwrap(), expected, "at t={} cost={}", t, cost);
        for (i, m) in models.iter().enumerate() {
            prop_assert_eq!(lim.used(i), Some(m.used(clock)), "used({}) at {}", i, clock);
        }
    }
    Ok(admitted)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sliding_never_admits_more_than_limit_in_any_period(specs in windows_with(Kind::Sliding), (start, steps) in schedule()) {
        let admitted = run_against_models(&specs, start, &steps)?;
        for w in specs.iter().filter(|s| s.kind == Kind::Sliding) {
            // The busiest [s, s + per) starts at an admitted time.
            for &(s, _) in &admitted {
                let units: u64 = admitted.iter().filter(|&&(a, _)| a >= s && a < s + w.per_ms).map(|&(_, c)| c).sum();
                prop_assert!(units <= w.limit, "{} units in [{}, {}) under {:?}", units, s, s + w.per_ms, w);
            }
        }
    }

    #[test]
    fn fixed_never_admits_more_than_limit_in_any_bucket(specs in windows_with(Kind::Fixed), (start, steps) in schedule()) {
        let admitted = run_against_models(&specs, start, &steps)?;
        for w in specs.iter().filter(|s| s.kind == Kind::Fixed) {
            let mut per_bucket = BTreeMap::new();
            for &(a, c) in &admitted {
                *per_bucket.entry((a as i128 - w.offset_ms as i128).div_euclid(w.per_ms as i128)).or_insert(0u64) += c;
            }
            for (k, units) in per_bucket {
                prop_assert!(units <= w.limit, "{} units in bucket {} of {:?}", units, k, w);
            }
        }
    }

    #[test]
    fn bucket_admits_exactly_what_a_reference_token_bucket_admits(specs in windows_with(Kind::Bucket), (start, steps) in schedule()) {
        // Every decision was compared with the reference bucket `Model::Bucket` (tokens
        // refilled at `limit` per `per` ms in integers, capacity `limit`, starting full).
        let admitted = run_against_models(&specs, start, &steps)?;
        for w in specs.iter().filter(|s| s.kind == Kind::Bucket) {
            // And, independently of that model: any span [a_i, a_j] holds at most limit + floor(span * limit / per) units.
            for i in 0..admitted.len() {
                let mut units = 0;
                for &(a, c) in &admitted[i..] {
                    units += c;
                    let bound = w.limit + (a - admitted[i].0) * w.limit / w.per_ms;
                    prop_assert!(units <= bound, "{} units from {} to {} under {:?}", units, admitted[i].0, a, w);
                }
            }
        }
    }

    #[test]
    fn a_wait_charges_no_window_and_an_admit_charges_every_window(specs in prop::collection::vec(any_spec(), 1..=3), (start, steps) in schedule()) {
        let mut lim = Limiter::new(&specs).unwrap();
        let mut t = start;
        for &(d, raw) in &steps {
            t = step_time(t, d);
            let cost = 1 + raw % min_limit(&specs);
            let mut ticked = lim.clone();
            prop_assert_eq!(ticked.admit_next(t).unwrap(), None); // empty queue: only moves the clock
            match lim.try_acquire(t, cost).unwrap() {
                Decision::Wait { .. } => prop_assert_eq!(lim.snapshot(), ticked.snapshot()),
                Decision::Admit(_) => {
                    for i in 0..specs.len() {
                        prop_assert_eq!(lim.used(i).unwrap(), ticked.used(i).unwrap() + cost, "window {}", i);
                    }
                }
            }
        }
    }

    #[test]
    fn a_wait_names_the_exact_first_millisecond_that_admits(
        specs in prop::collection::vec(any_spec(), 1..=3),
        (start, steps) in schedule(),
        feedback in prop::collection::vec((0u8..10, 0usize..64, 0u64..=1500), STEPS),
    ) {
        let mut lim = Limiter::new(&specs).unwrap();
        let (mut t, mut permits) = (start, Vec::new());
        for (&(d, raw), &(kind, which, delta)) in steps.iter().zip(&feedback) {
            t = step_time(t, d);
            let cost = 1 + raw % min_limit(&specs);
            match kind {
                0 => lim.pause_until(t + delta).unwrap(),
                1 | 2 if !permits.is_empty() => {
                    // A permit completes once: it leaves the list.
                    let p: Permit = permits.swap_remove(which % permits.len());
                    lim.complete(p, p.at_ms + delta).unwrap();
                }
                _ => {}
            }
            let mut ticked = lim.clone();
            ticked.admit_next(t).unwrap();
            let earliest = ticked.earliest(cost).unwrap();
            match lim.try_acquire(t, cost).unwrap() {
                Decision::Admit(p) => {
                    prop_assert_eq!(earliest, p.at_ms);
                    permits.push(p);
                }
                Decision::Wait { retry_at_ms: r } => {
                    prop_assert_eq!(earliest, r);
                    prop_assert!(r > lim.clock_ms());
                    let (mut early, mut on_time) = (lim.clone(), lim.clone());
                    prop_assert_eq!(early.try_acquire(r - 1, cost).unwrap(), Decision::Wait { retry_at_ms: r });
                    prop_assert_eq!(on_time.try_acquire(r, cost).unwrap(), Decision::Admit(Permit { at_ms: r, cost }));
                }
            }
        }
    }

    #[test]
    fn a_clock_that_jumps_back_frees_no_slot(specs in prop::collection::vec(any_spec(), 1..=3), (start, steps) in schedule()) {
        let mut lim = Limiter::new(&specs).unwrap();
        let mut t = start;
        for &(d, raw) in &steps {
            t = step_time(t, d);
            let cost = 1 + raw % min_limit(&specs);
            let latest = lim.clock_ms();
            let mut at_latest = lim.clone();
            let expected = at_latest.try_acquire(latest.max(t), cost).unwrap();
            prop_assert_eq!(lim.try_acquire(t, cost).unwrap(), expected, "t={} latest={}", t, latest);
            prop_assert_eq!(lim.clock_ms(), latest.max(t));
            prop_assert_eq!(&lim, &at_latest);
        }
    }
}

/// Requests `n` single units as fast as the limiter allows from `start`, coming
/// back exactly at each `retry_at_ms` (which must then admit). Returns admit times.
fn push_as_fast_as_allowed(lim: &mut Limiter, start: u64, n: usize) -> Vec<u64> {
    let (mut t, mut out, mut waited) = (start, Vec::new(), false);
    while out.len() < n {
        match lim.try_acquire(t, 1).unwrap() {
            Decision::Admit(p) => {
                out.push(p.at_ms);
                waited = false;
            }
            Decision::Wait { retry_at_ms } => {
                assert!(!waited && retry_at_ms > t, "the retry time {t} did not admit");
                (t, waited) = (retry_at_ms, true);
            }
        }
    }
    out
}

fn most_in_any(times: &[u64], per: u64) -> usize {
    times.iter().map(|&s| times.iter().filter(|&&a| a >= s && a < s + per).count()).max().unwrap()
}

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const T1342: u64 = 1_795_441_320_000; // 2026-11-23T13:42:00Z

#[test]
fn hex_twenty_a_minute_and_sixty_an_hour_from_time_zero() {
    let mut hex = Limiter::new(&[WindowSpec::sliding(20, MINUTE), WindowSpec::sliding(60, HOUR)]).unwrap();
    let times = push_as_fast_as_allowed(&mut hex, 0, 100);
    assert_eq!(times.iter().filter(|&&a| a < MINUTE).count(), 20);
    assert_eq!(times.iter().filter(|&&a| a < HOUR).count(), 60);
    assert_eq!(&times[..60], &[[0; 20], [MINUTE; 20], [2 * MINUTE; 20]].concat()[..]);
    assert_eq!(times[60], times[0] + 3_600_000);
    assert_eq!(times[80], times[20] + 3_600_000);
    assert_eq!(most_in_any(&times, MINUTE), 20);
    assert_eq!(most_in_any(&times, HOUR), 60);
}

#[test]
fn securecodinghub_sixty_per_utc_minute_and_a_thousand_per_sliding_hour() {
    let start = T1342 + 30_000;
    let mut sch = Limiter::new(&[WindowSpec::fixed(60, MINUTE, 0), WindowSpec::sliding(1_000, HOUR)]).unwrap();
    let times = push_as_fast_as_allowed(&mut sch, start, 1_100);
    // 60 at 13:42:30, the 61st at the UTC minute boundary 13:43:00.
    assert_eq!(times[59], start);
    assert_eq!(times[60], T1342 + MINUTE);
    // Fifteen more full minutes (960), then 40 of the 13:58 minute: 1,000 in the hour.
    assert_eq!(times[999], T1342 + 16 * MINUTE);
    assert_eq!(times.iter().filter(|&&a| a < start + HOUR).count(), 1_000);
    assert_eq!(times[1_000], start + 3_600_000);
    let per_minute = times.iter().fold(BTreeMap::new(), |mut m, &a| {
        *m.entry(a / MINUTE).or_insert(0) += 1;
        m
    });
    assert_eq!(per_minute.values().max(), Some(&60));
    assert_eq!(most_in_any(&times, HOUR), 1_000);
}

#[test]
fn a_request_at_13_42_59_and_one_at_13_43_01_fall_into_different_utc_minutes() {
    let mut lim = Limiter::new(&[WindowSpec::fixed(1, MINUTE, 0)]).unwrap();
    assert!(matches!(lim.try_acquire(T1342 + 59_000, 1).unwrap(), Decision::Admit(_)));
    assert_eq!(lim.try_acquire(T1342 + 59_999, 1).unwrap(), Decision::Wait { retry_at_ms: T1342 + MINUTE });
    assert!(matches!(lim.try_acquire(T1342 + 61_000, 1).unwrap(), Decision::Admit(_)));
}
