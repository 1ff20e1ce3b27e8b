//! Every snapshot field is checked against its window kind on restore: a table
//! of corrupt snapshots, each refused with the error (and, for
//! `CorruptSnapshot`, the reason and window) it names, and the same fields at
//! their largest valid values accepted. The JS layer mirrors this table.

use tollgate::snapshot::{Corrupt, Reason, Snapshot, WindowState};
use tollgate::{Decision, Error, Limiter, Options, WindowSpec, MAX_LIMIT, MAX_PERIOD_MS, MAX_TIME_MS};

const MINUTE: u64 = 60_000;
const CLOCK: u64 = 1_795_441_330_000; // 2026-11-23T13:42:10Z
const SPECS: [WindowSpec; 3] = [WindowSpec::sliding(5, MINUTE), WindowSpec::fixed(5, MINUTE, 0), WindowSpec::bucket(5, MINUTE)];

fn options() -> Options {
    Options { count_in_flight: true, ..Options::default() }
}

/// A valid snapshot with something in every field: 2 units completed, 1 in flight.
fn base() -> Snapshot {
    let mut l = Limiter::with_options(&SPECS, options()).unwrap();
    let Decision::Admit(p) = l.try_acquire(CLOCK - 5_000, 2).unwrap() else { panic!() };
    l.complete(p, CLOCK - 4_000).unwrap();
    assert!(matches!(l.try_acquire(CLOCK - 1_000, 1).unwrap(), Decision::Admit(_)));
    l.snapshot_at(CLOCK).unwrap()
}

fn sliding(s: &mut Snapshot) -> &mut Vec<(u64, u64)> {
    match &mut s.windows[0].state {
        WindowState::Sliding { log } => log,
        _ => unreachable!(),
    }
}

type Fixed<'a> = (&'a mut Option<i64>, &'a mut u64, &'a mut u64, &'a mut u64, &'a mut Option<u64>, &'a mut u64, &'a mut u64);

fn fixed(s: &mut Snapshot) -> Fixed<'_> {
    match &mut s.windows[1].state {
        WindowState::Fixed { start_ms, count, carry_units, carry_until_ms, phase_ms, guard_ms, spill } => {
            (start_ms, count, carry_units, carry_until_ms, phase_ms, guard_ms, spill)
        }
        _ => unreachable!(),
    }
}

fn bucket(s: &mut Snapshot) -> (&mut u64, &mut u64) {
    match &mut s.windows[2].state {
        WindowState::Bucket { tat_ms, tat_rem } => (tat_ms, tat_rem),
        _ => unreachable!(),
    }
}

const BUCKET_START: i64 = (CLOCK - CLOCK % MINUTE) as i64;

fn whole(reason: Reason) -> Error {
    Error::CorruptSnapshot { why: Corrupt::whole(reason) }
}

fn at(window: usize, reason: Reason) -> Error {
    Error::CorruptSnapshot { why: Corrupt::at(window, reason) }
}

type Change = fn(&mut Snapshot);
type Case = (&'static str, Change, Error);

fn corrupt_cases() -> Vec<Case> {
    vec![
        ("no windows", |s| s.windows.clear(), whole(Reason::NoWindows)),
        ("version 2", |s| s.version = 2, Error::UnsupportedSnapshotVersion { found: 2 }),
        ("version 0", |s| s.version = 0, Error::UnsupportedSnapshotVersion { found: 0 }),
        ("clockMs past 2^53 - 1", |s| s.clock_ms = MAX_TIME_MS + 1, whole(Reason::Clock)),
        ("clockMs u64::MAX", |s| s.clock_ms = u64::MAX, whole(Reason::Clock)),
        ("pausedUntilMs past 2^53 - 1", |s| s.paused_until_ms = MAX_TIME_MS + 1, whole(Reason::Pause)),
        ("limit 0", |s| s.windows[0].limit = 0, at(0, Reason::Limit)),
        ("limit past MAX_LIMIT", |s| s.windows[1].limit = MAX_LIMIT + 1, at(1, Reason::Limit)),
        ("perMs 0", |s| s.windows[2].per_ms = 0, at(2, Reason::Period)),
        ("perMs past 2^40", |s| s.windows[0].per_ms = MAX_PERIOD_MS + 1, at(0, Reason::Period)),
        ("offsetMs past 2^53 - 1", |s| s.windows[1].offset_ms = MAX_TIME_MS + 1, at(1, Reason::Offset)),
        ("log out of order", |s| *sliding(s) = vec![(CLOCK - 10, 1), (CLOCK - 20, 1)], at(0, Reason::LogTime)),
        ("log time past 2^53 - 1", |s| sliding(s).push((MAX_TIME_MS + 1, 1)), at(0, Reason::LogTime)),
        ("log cost 0", |s| sliding(s).push((CLOCK, 0)), at(0, Reason::LogCost)),
        ("log above the limit", |s| *sliding(s) = vec![(CLOCK - 10, 3), (CLOCK, 3)], at(0, Reason::LogTotal)),
        ("log summing past u64", |s| *sliding(s) = vec![(CLOCK - 10, u64::MAX), (CLOCK, 2)], at(0, Reason::LogTotal)),
        ("log of one huge cost", |s| *sliding(s) = vec![(CLOCK, 1 << 60)], at(0, Reason::LogTotal)),
        ("fixed startMs negative", |s| *fixed(s).0 = Some(-(MINUTE as i64)), at(1, Reason::FixedStart)),
        ("fixed startMs i64::MIN", |s| *fixed(s).0 = Some(i64::MIN), at(1, Reason::FixedStart)),
        ("fixed startMs off the boundary", |s| *fixed(s).0 = Some(BUCKET_START + 1), at(1, Reason::FixedStart)),
        ("fixed startMs a bucket ahead", |s| *fixed(s).0 = Some(BUCKET_START + MINUTE as i64), at(1, Reason::FixedStart)),
        ("fixed startMs a bucket behind", |s| *fixed(s).0 = Some(BUCKET_START - MINUTE as i64), at(1, Reason::FixedStart)),
        ("fixed count above the limit", |s| *fixed(s).1 = 6, at(1, Reason::FixedCount)),
        ("fixed count u64::MAX", |s| *fixed(s).1 = u64::MAX, at(1, Reason::FixedCount)),
        ("fixed carryUnits above the limit", |s| *fixed(s).2 = 6, at(1, Reason::FixedCarry)),
        ("fixed carryUntilMs past 2^53 - 1", |s| *fixed(s).3 = MAX_TIME_MS + 1, at(1, Reason::FixedCarry)),
        ("fixed phaseMs = period", |s| *fixed(s).4 = Some(MINUTE), at(1, Reason::FixedPhase)),
        ("fixed guardMs above half the period", |s| *fixed(s).5 = MINUTE / 2 + 1, at(1, Reason::FixedGuard)),
        ("fixed spill above count", |s| *fixed(s).6 = 4, at(1, Reason::FixedSpill)),
        ("bucket tatMs past clock + period", |s| *bucket(s).0 = CLOCK + MINUTE + 1, at(2, Reason::BucketTat)),
        ("bucket tatMs u64::MAX", |s| *bucket(s).0 = u64::MAX, at(2, Reason::BucketTat)),
        (
            "bucket a fraction past clock + period",
            |s| {
                let (tat_ms, tat_rem) = bucket(s);
                (*tat_ms, *tat_rem) = (CLOCK + MINUTE, 1);
            },
            at(2, Reason::BucketTat),
        ),
        ("bucket tatRem = limit", |s| *bucket(s).1 = 5, at(2, Reason::BucketRem)),
        ("inFlight above the smallest limit", |s| s.in_flight = 6, whole(Reason::InFlight)),
        ("inFlight u64::MAX", |s| s.in_flight = u64::MAX, whole(Reason::InFlight)),
    ]
}

#[test]
fn the_base_snapshot_restores_and_decides_like_the_limiter_that_took_it() {
    let snap = base();
    assert_eq!(snap.in_flight, 1);
    let restored = Limiter::restore(&snap, Some(&SPECS), options()).unwrap();
    assert_eq!(restored.snapshot(), snap);
}

#[test]
fn a_log_listing_one_millisecond_twice_is_in_order_and_decides_like_one_entry() {
    // "In order" is non-decreasing: a log written by hand (or another tool)
    // may list two entries at one time; they count as one of their sum.
    let (mut split, mut merged) = (base(), base());
    let (at, cost) = sliding(&mut merged)[0];
    assert_eq!(cost, 2);
    sliding(&mut split)[0] = (at, 1);
    sliding(&mut split).insert(0, (at, 1));
    let split = Limiter::restore(&split, Some(&SPECS), options()).unwrap();
    let merged = Limiter::restore(&merged, Some(&SPECS), options()).unwrap();
    assert_eq!(split.used(0), merged.used(0));
    for cost in 1..=5 {
        assert_eq!(split.earliest(cost), merged.earliest(cost), "cost {cost}");
    }
}

#[test]
fn each_corrupt_snapshot_is_refused_with_its_reason() {
    let cases = corrupt_cases();
    assert!(cases.len() >= 30);
    for (what, corrupt, expected) in cases {
        let mut snap = base();
        corrupt(&mut snap);
        assert_eq!(Limiter::restore(&snap, None, options()).err(), Some(expected.clone()), "{what}");
        assert_eq!(Limiter::restore(&snap, Some(&SPECS), options()).err(), Some(expected.clone()), "{what}");
        assert_eq!(expected.name(), "SnapshotError", "{what}");
        if let Error::CorruptSnapshot { why } = expected {
            assert_eq!(expected.code(), 12);
            assert_eq!(expected.detail(), why.reason as u32);
            assert_eq!(expected.window(), why.window.map(u64::from));
            assert!(expected.message().contains(why.text()), "{what}: {}", expected.message());
        }
    }
}

#[test]
fn a_snapshot_of_other_windows_is_a_mismatch() {
    let snap = base();
    let other = [WindowSpec::sliding(5, MINUTE), WindowSpec::fixed(5, MINUTE, 1), WindowSpec::bucket(5, MINUTE)];
    assert_eq!(Limiter::restore(&snap, Some(&other), options()), Err(Error::SnapshotMismatch));
    assert_eq!(Limiter::restore(&snap, Some(&SPECS[..2]), options()), Err(Error::SnapshotMismatch));
}

#[test]
fn every_field_at_its_largest_valid_value_is_accepted() {
    let cases: [(&str, Change); 10] = [
        ("log at the limit", |s| *sliding(s) = vec![(CLOCK - 10, 2), (CLOCK, 3)]),
        ("fixed count at the limit", |s| *fixed(s).1 = 5),
        ("fixed carry at the limit until 2^53 - 1", |s| {
            let f = fixed(s);
            (*f.1, *f.2, *f.3) = (5, 5, MAX_TIME_MS);
        }),
        ("fixed startMs absent", |s| *fixed(s).0 = None),
        ("fixed guard at half the period, spill at count", |s| {
            let f = fixed(s);
            (*f.1, *f.5, *f.6) = (3, MINUTE / 2, 3);
        }),
        ("fixed phase just below the period", |s| {
            let f = fixed(s);
            (*f.0, *f.4) = (Some(BUCKET_START + MINUTE as i64 - 1 - MINUTE as i64), Some(MINUTE - 1));
        }),
        ("bucket owing a full period", |s| *bucket(s).0 = CLOCK + MINUTE),
        ("bucket tatRem just below the limit", |s| *bucket(s).1 = 4),
        ("inFlight at the smallest limit", |s| s.in_flight = 5),
        ("clock and pause at 2^53 - 1", |s| {
            s.clock_ms = MAX_TIME_MS;
            s.paused_until_ms = MAX_TIME_MS;
            *fixed(s).0 = None;
            *bucket(s).0 = MAX_TIME_MS;
        }),
    ];
    for (what, change) in cases {
        let mut snap = base();
        change(&mut snap);
        let restored = Limiter::restore(&snap, Some(&SPECS), options());
        assert!(restored.is_ok(), "{what}: {restored:?}");
    }
}
