//! The fuzz targets' checks on the stable toolchain, as property tests (part
//! of `cargo test`, so of `npm test`): every seed of tests/fuzz/corpus/, then
//! arbitrary bytes, seeds mutated byte by byte, and structure-aware inputs
//! (header lines from the seeds' names and values, snapshots with extreme
//! numbers). libFuzzer's coverage-guided runs are `npm run fuzz` (README.md).
//!
//! Case count: `PROPTEST_CASES` (default 256).

#[path = "src/lib.rs"]
mod check;

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::json;

fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(seeds.len() >= 4, "the seed corpus of {target} is in {}", dir.display());
    seeds
}

#[test]
fn every_header_seed_passes_and_says_something() {
    let seeds = seeds("headers");
    let mut said = 0;
    for seed in &seeds {
        // A quota of bytes is no rate of requests: the draft's example gives no window, by design.
        if seed.windows(13).any(|w| w == b"content-bytes") {
            check::headers(seed);
            said += 1;
            continue;
        }
        check::headers(seed);
        let text = String::from_utf8_lossy(seed);
        let fields = text.lines().filter_map(|l| l.split_once(": "));
        let feedback = tollgate::headers::parse_feedback(fields, check::NOW_MS);
        said += usize::from(feedback.retry_at_ms.is_some() || !feedback.windows.is_empty());
    }
    // The seeds are the RFC and draft examples: each of them is understood.
    assert_eq!(said, seeds.len(), "every seed yields a retry time or a window");
}

#[test]
fn every_snapshot_seed_restores_and_passes() {
    for seed in seeds("snapshot") {
        let snap: tollgate::Snapshot = serde_json::from_slice(&seed).unwrap();
        assert!(tollgate::Limiter::restore(&snap, None, tollgate::Options::default()).is_ok(), "{}", String::from_utf8_lossy(&seed));
        check::snapshot(&seed);
    }
}

#[derive(Clone, Debug)]
enum Edit {
    Flip { at: usize, bit: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    /// Copy a slice of the input elsewhere (libFuzzer's CrossOver, within one input).
    Splice { from: usize, len: usize, to: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..4),
        prop::sample::select(vec![
            b"0".to_vec(), b"-1".to_vec(), b"18446744073709551615".to_vec(), b"9007199254740993".to_vec(),
            b"999999999999999".to_vec(), b"1e999".to_vec(), b",".to_vec(), b";".to_vec(), b"\"".to_vec(),
            b"\n".to_vec(), b":".to_vec(), b"GMT".to_vec(), b"[".to_vec(), b"]".to_vec(), b"{}".to_vec(),
        ]),
    ];
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Edit::Flip { at, bit }),
        (any::<usize>(), interesting).prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<usize>(), 1usize..8).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 1usize..24, any::<usize>()).prop_map(|(from, len, to)| Edit::Splice { from, len, to }),
    ]
}

fn mutate(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = data.len();
        match e {
            Edit::Flip { at, bit } if n > 0 => data[at % n] ^= 1 << bit,
            Edit::Insert { at, bytes } => {
                let at = at % (n + 1);
                data.splice(at..at, bytes.iter().copied());
            }
            Edit::Delete { at, len } if n > 0 => {
                let at = at % n;
                data.drain(at..(at + len).min(n));
            }
            Edit::Splice { from, len, to } if n > 0 => {
                let from = from % n;
                let piece = data[from..(from + len).min(n)].to_vec();
                let to = to % (n + 1);
                data.splice(to..to, piece);
            }
            _ => {}
        }
    }
    data
}

fn mutated_seed(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    (prop::sample::select(seeds), prop::collection::vec(edit(), 1..8)).prop_map(|(seed, edits)| mutate(seed, &edits))
}

/// Header lines recombined from the seeds' names and values, with a clock line sometimes.
fn header_lines() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds("headers");
    let lines: Vec<String> =
        seeds.iter().flat_map(|s| String::from_utf8_lossy(s).lines().map(String::from).collect::<Vec<_>>()).collect();
    let names: Vec<String> = lines.iter().filter_map(|l| l.split_once(": ").map(|(n, _)| n.to_string())).collect();
    let values: Vec<String> = lines.iter().filter_map(|l| l.split_once(": ").map(|(_, v)| v.to_string())).collect();
    let clock = prop_oneof![Just(None), Just(Some(0u64)), Just(Some(u64::MAX)), (0u64..=1u64 << 53).prop_map(Some)];
    (clock, prop::collection::vec((prop::sample::select(names), prop::sample::select(values)), 0..8)).prop_map(|(clock, fields)| {
        let mut text = clock.map(|c| format!("@{c}\n")).unwrap_or_default();
        for (name, value) in fields {
            text.push_str(&format!("{name}: {value}\n"));
        }
        text.into_bytes()
    })
}

/// Numbers where arithmetic breaks: 0, 1, around 2^53 and `MAX_TIME_MS`, `u64::MAX`.
fn extreme() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64), Just(1), 0u64..=100, 1_000u64..=100_000, Just(tollgate::MAX_TIME_MS), Just(tollgate::MAX_TIME_MS + 1),
        Just((1u64 << 53) - 1), Just(1u64 << 53), Just(1u64 << 40), Just(u64::MAX), Just(u64::MAX / 2), any::<u64>(),
    ]
}

fn window_json() -> impl Strategy<Value = serde_json::Value> {
    let state = prop_oneof![
        prop::collection::vec((extreme(), extreme()), 0..4).prop_map(|mut log| {
            log.sort();
            json!({ "sliding": { "log": log } })
        }),
        (extreme(), extreme(), extreme(), extreme()).prop_map(|(start, count, carry, until)| json!({
            "fixed": { "startMs": start, "count": count, "carryUnits": carry, "carryUntilMs": until }
        })),
        (extreme(), extreme()).prop_map(|(tat, rem)| json!({ "bucket": { "tatMs": tat, "tatRem": rem } })),
    ];
    (extreme(), extreme(), extreme(), state)
        .prop_map(|(limit, per, offset, state)| json!({ "limit": limit, "perMs": per, "offsetMs": offset, "state": state }))
}

fn snapshot_json() -> impl Strategy<Value = Vec<u8>> {
    (extreme(), extreme(), prop::collection::vec(window_json(), 0..4)).prop_map(|(clock, paused, windows)| {
        serde_json::to_vec(&json!({ "version": 1, "clockMs": clock, "pausedUntilMs": paused, "windows": windows })).unwrap()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn headers_of_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        check::headers(&data);
    }

    #[test]
    fn headers_mutated_from_the_seeds(data in mutated_seed("headers")) {
        check::headers(&data);
    }

    #[test]
    fn headers_recombined_from_the_seeds(data in header_lines()) {
        check::headers(&data);
    }

    #[test]
    fn snapshots_of_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        check::snapshot(&data);
    }

    #[test]
    fn snapshots_mutated_from_the_seeds(data in mutated_seed("snapshot")) {
        check::snapshot(&data);
    }

    #[test]
    fn snapshots_with_extreme_numbers(data in snapshot_json()) {
        check::snapshot(&data);
    }
}
