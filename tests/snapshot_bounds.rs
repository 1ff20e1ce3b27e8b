//! Edges that mutation testing (`npm run mutants`) found untested: snapshots
//! at the end of the supported range restore (the bounds that refuse corrupt
//! snapshots must not refuse the largest valid ones), and an asctime date is
//! read only in its exact form.

use tollgate::{Limiter, Options, Snapshot, WindowSpec, MAX_TIME_MS};

fn restore(json: serde_json::Value) -> Limiter {
    let snap: Snapshot = serde_json::from_value(json).unwrap();
    Limiter::restore(&snap, None, Options::default()).unwrap()
}

#[test]
fn an_empty_token_bucket_at_the_latest_time_restores_and_counts_its_limit() {
    // At the clock's last millisecond, a bucket of 10 per second spent entirely:
    // full again one period after MAX_TIME_MS.
    let lim = restore(serde_json::json!({
        "version": 1, "clockMs": MAX_TIME_MS, "pausedUntilMs": 0,
        "windows": [{ "limit": 10, "perMs": 1000, "offsetMs": 0, "state": { "bucket": { "tatMs": MAX_TIME_MS + 1000, "tatRem": 0 } } }],
    }));
    assert_eq!(lim.windows().copied().collect::<Vec<_>>(), [WindowSpec::bucket(10, 1000)]);
    assert_eq!(lim.used(0), Some(10));
    assert_eq!(lim.clock_ms(), MAX_TIME_MS);
}

/// An asctime date is exactly 24 characters and starts with a day name: one
/// more character, or another name, is not a date (not a Retry-After either).
#[test]
fn an_asctime_date_of_another_length_or_day_name_is_not_a_date() {
    use tollgate::headers::parse_http_date;
    assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(784_111_777_000));
    assert_eq!(parse_http_date("Xyz Nov  6 08:49:37 1994"), None);
    assert_eq!(parse_http_date("Sun Nov  6 08:49:37 19945"), None);
}

/// A clock moving on with no orphaned units (none restored) changes no
/// window: a token bucket keeps its theoretical arrival time where the last
/// admission put it, in the past, instead of having it dragged to the clock
/// (same decisions, but another snapshot).
#[test]
fn a_tick_without_orphans_leaves_a_bucket_in_the_past_as_it_is() {
    let mut lim = Limiter::new(&[WindowSpec::bucket(10, 10_000)]).unwrap();
    assert!(matches!(lim.try_acquire(1_000, 1), Ok(tollgate::Decision::Admit(_))));
    lim.advance(100_000).unwrap();
    let snap = serde_json::to_value(lim.snapshot()).unwrap();
    assert_eq!(snap["clockMs"], 100_000);
    assert_eq!(snap["windows"][0]["state"]["bucket"]["tatMs"], 2_000, "{snap}");
}

/// Units in flight in a snapshot are bounded by the smallest sliding or fixed
/// limit (each counts them); a token bucket does not count units in flight, so
/// its limit bounds nothing: a larger bucket does not let more through, and a
/// bucket alone takes any count.
#[test]
fn in_flight_units_are_bounded_by_sliding_and_fixed_limits_not_by_a_bucket() {
    use tollgate::snapshot::Reason;
    let options = Options { count_in_flight: true, ..Options::default() };
    let snapshot = |specs: &[WindowSpec], in_flight: u64| {
        let mut lim = Limiter::with_options(specs, options).unwrap();
        let mut snap = lim.snapshot_at(1_000).unwrap();
        snap.in_flight = in_flight;
        Limiter::restore(&snap, None, options).map(|l| l.in_flight())
    };
    let mixed = [WindowSpec::sliding(5, 60_000), WindowSpec::bucket(100, 60_000)];
    assert_eq!(snapshot(&mixed, 5), Ok(5));
    assert_eq!(snapshot(&mixed, 6), Err(tollgate::Error::CorruptSnapshot { why: tollgate::snapshot::Corrupt::whole(Reason::InFlight) }));
    assert_eq!(snapshot(&[WindowSpec::bucket(5, 60_000)], 6), Ok(6));
}
