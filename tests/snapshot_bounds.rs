//! Snapshots at the edges of the supported range restore: the bounds that
//! refuse corrupt snapshots must not refuse the largest valid ones.

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
