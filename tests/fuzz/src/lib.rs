//! What the fuzz targets check, shared by the libFuzzer targets
//! (`fuzz_targets/`) and the stable property tests (`tests/fuzz/props.rs`,
//! which includes this file as a module). Each function panics when an input
//! breaks a promise of the crate: a panic inside the crate, a time outside
//! `[now, MAX_TIME_MS]`, a restored limiter that admits past its limits.

use tollgate::headers::{parse_feedback, parse_http_date, parse_retry_after};
use tollgate::{Decision, Limiter, Options, Snapshot, MAX_TIME_MS};

/// The client clock the header inputs are read at, unless the input sets one
/// (a first line `@<ms>`).
pub const NOW_MS: u64 = 1_795_441_320_000;

/// Reads `data` as header lines, `Name: value`, and parses them every way.
pub fn headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut now = NOW_MS;
    let mut fields = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(at) = line.strip_prefix('@') {
            now = at.trim().parse().unwrap_or(now);
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        fields.push((name, value.strip_prefix(' ').unwrap_or(value)));
    }
    let capped = now.min(MAX_TIME_MS);
    let feedback = parse_feedback(fields.iter().copied(), now);
    if let Some(at) = feedback.retry_at_ms {
        assert!((capped..=MAX_TIME_MS).contains(&at), "retry at {at}, now {now}");
    }
    for w in &feedback.windows {
        if let Some(at) = w.reset_at_ms {
            assert!((capped..=MAX_TIME_MS).contains(&at), "reset at {at}, now {now}");
        }
        for n in [w.limit, w.remaining, w.window_ms].into_iter().flatten() {
            assert!(n <= MAX_TIME_MS, "{n} is past MAX_TIME_MS in {w:?}");
        }
        assert_ne!(w.window_ms, Some(0));
    }
    serde_json::to_string(&feedback).expect("feedback serializes");
    for (_, value) in &fields {
        for offset in [None, Some(0), Some(-3_600_000), Some(3_600_000), Some(i64::MIN), Some(i64::MAX)] {
            if let Some(at) = parse_retry_after(value, now, offset) {
                assert!((capped..=MAX_TIME_MS).contains(&at), "{value:?}: retry at {at}");
            }
        }
        if let Some(at) = parse_http_date(value) {
            // The last millisecond of 9999-12-31, the latest an HTTP-date can name.
            assert!(at <= 253_402_300_799_000, "{value:?}: date {at}");
        }
    }
}

/// Reads `data` as a JSON snapshot; whatever restores must behave.
pub fn snapshot(data: &[u8]) {
    let Ok(snap) = serde_json::from_slice::<Snapshot>(data) else { return };
    let Ok(mut lim) = Limiter::restore(&snap, None, Options::default()) else { return };
    let windows: Vec<_> = lim.windows().copied().collect();
    // A restored limiter snapshots and restores to itself.
    let again = Limiter::restore(&lim.snapshot(), Some(&windows), Options::default()).expect("its own snapshot restores");
    assert_eq!(again, lim, "snapshot round trip");
    let now = lim.clock_ms();
    for (i, w) in windows.iter().enumerate() {
        let used = lim.used(i).expect("a window it has");
        assert!(used <= w.limit, "window {i}: used {used} above its limit {}", w.limit);
    }
    // Use it: every wait is at or after the clock, and admitting follows it.
    let min = windows.iter().map(|w| w.limit).min().unwrap_or(1);
    for cost in [1, min] {
        if let Ok(at) = lim.earliest(cost) {
            assert!(at >= now, "earliest {at} before the clock {now}");
            if at <= MAX_TIME_MS {
                if let Ok(Decision::Wait { retry_at_ms }) = lim.try_acquire(at, cost) {
                    panic!("earliest({cost}) = {at}, but try_acquire there waits until {retry_at_ms}");
                }
            }
        }
    }
    let _ = lim.plan(lim.clock_ms(), 5, 1);
    let _ = serde_json::to_string(&lim.snapshot());
}
