//! Property tests of server-feedback parsing: whatever the headers, nothing
//! panics and every time is between now and `MAX_TIME_MS`; HTTP-dates in all
//! three formats read back the instant they were written from; and well-formed
//! values of every field DO parse, to exactly what they say (a parser that
//! returned nothing would pass the range checks, not these).
//!
//! Case count: `PROPTEST_CASES` (default 256).

use proptest::prelude::*;
use tollgate::headers::{parse_feedback, parse_http_date, parse_retry_after, ServerWindow};
use tollgate::MAX_TIME_MS;

fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

const NAMES: [&str; 15] = [
    "Date",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Window",
    "X-Rate-Limit-Limit",
    "X-Rate-Limit-Remaining",
    "X-Rate-Limit-Reset",
    "X-Rate-Limit-Window",
    "RateLimit-Policy",
    "RateLimit",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
];

/// Pieces of Structured Fields, valid and not, to be strung together.
const FRAGMENTS: [&str; 24] = [
    "\"a\"", "b", ";q=", ";w=", ";r=", ";t=", ";qu=", ";pk=", "=", "10", "-5", "0", "999999999999999", "1.5", ",", " ",
    "\t", ":YQ==:", "?1", "@1", "%\"x%c3%a9\"", "(", "\\", "\"",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0..NAMES.len(), any::<bool>()).prop_map(|(i, upper)| {
            if upper { NAMES[i].to_ascii_uppercase() } else { NAMES[i].to_ascii_lowercase() }
        }),
        1 => "[A-Za-z-]{0,24}",
    ]
}

/// An HTTP-date for `secs` after the epoch, in one of the three formats (the
/// RFC 850 form only for 1970-2069, which its two-digit year can name).
fn http_date(secs: u64, format: u8) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const DAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
    let days = secs / 86_400;
    let (h, m, s) = (secs % 86_400 / 3_600, secs % 3_600 / 60, secs % 60);
    let (year, month, day) = civil_from_days(days);
    let (long, month) = (DAYS[(days % 7) as usize], MONTHS[month as usize - 1]);
    let short = &long[..3];
    match format {
        0 => format!("{short}, {day:02} {month} {year} {h:02}:{m:02}:{s:02} GMT"),
        1 if year < 2070 => format!("{long}, {day:02}-{month}-{:02} {h:02}:{m:02}:{s:02} GMT", year % 100),
        _ => format!("{short} {month} {day:>2} {h:02}:{m:02}:{s:02} {year}"),
    }
}

/// Howard Hinnant's `civil_from_days`, the inverse of what the parser does, written independently.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

/// The last second of 9999-12-31.
const MAX_DATE_SECS: u64 = 253_402_300_799;

/// A list of well-formed members with parameters of any size, to reach every field.
fn members() -> impl Strategy<Value = String> {
    let param = ("[a-z]{1,2}", prop_oneof![Just(0i64), -5i64..=100, -999_999_999_999_999i64..=999_999_999_999_999]);
    let member = ("\"[a-z]{0,3}\"|[a-z]{1,3}|[0-9]{1,3}", prop::collection::vec(param, 0..5));
    prop::collection::vec(member, 1..4).prop_map(|members| {
        let members: Vec<String> = members
            .into_iter()
            .map(|(name, params)| params.into_iter().fold(name, |m, (key, value)| format!("{m};{key}={value}")))
            .collect();
        members.join(", ")
    })
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => members(),
        2 => "\\PC{0,40}",
        2 => "[ \t]?[0-9]{1,25}[ \t]?",
        1 => "[0-9]{1,14}(\\.[0-9]{0,5})?",
        1 => "[0-9]{0,4}(ms|s|m|h|d|per_minute|per_hour)",
        3 => prop::collection::vec(0..FRAGMENTS.len(), 0..16)
            .prop_map(|parts| parts.into_iter().map(|i| FRAGMENTS[i]).collect::<String>()),
        2 => (0..=MAX_DATE_SECS, 0u8..3).prop_map(|(secs, format)| http_date(secs, format)),
    ]
}

fn now() -> impl Strategy<Value = u64> {
    prop_oneof![0..=MAX_TIME_MS, 1_700_000_000_000u64..1_900_000_000_000, Just(MAX_TIME_MS)]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn feedback_times_are_never_before_now_nor_past_max_time(
        headers in prop::collection::vec((name(), value()), 0..10),
        now in now(),
    ) {
        let feedback = parse_feedback(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), now);
        if let Some(at) = feedback.retry_at_ms {
            prop_assert!((now..=MAX_TIME_MS).contains(&at), "retry at {at}, now {now}");
        }
        for w in &feedback.windows {
            if let Some(at) = w.reset_at_ms {
                prop_assert!((now..=MAX_TIME_MS).contains(&at), "reset at {at}, now {now}");
            }
            for n in [w.limit, w.remaining, w.window_ms].into_iter().flatten() {
                prop_assert!(n <= MAX_TIME_MS);
            }
            prop_assert_ne!(w.window_ms, Some(0));
        }
        // The output is always a plain JS object of safe integers.
        prop_assert!(serde_json::to_value(&feedback).is_ok());
    }

    #[test]
    fn a_retry_after_is_between_now_and_max_time(
        value in value(),
        now in any::<u64>(),
        offset in prop::option::of(any::<i64>()),
    ) {
        if let Some(at) = parse_retry_after(&value, now, offset) {
            prop_assert!((now.min(MAX_TIME_MS)..=MAX_TIME_MS).contains(&at), "{value:?}: {at}");
        }
    }

    #[test]
    fn every_http_date_format_reads_back_its_instant(secs in 0..=MAX_DATE_SECS, format in 0u8..3) {
        let date = http_date(secs, format);
        prop_assert_eq!(parse_http_date(&date), Some(secs * 1_000), "{}", date);
    }

    #[test]
    fn a_retry_date_is_the_date_moved_by_the_clock_offset(
        secs in 0..=MAX_DATE_SECS,
        now in 0..=MAX_TIME_MS,
        offset in -(MAX_TIME_MS as i64)..=(MAX_TIME_MS as i64),
    ) {
        let expected = (secs as i64 * 1_000 - offset).clamp(now as i64, MAX_TIME_MS as i64) as u64;
        prop_assert_eq!(parse_retry_after(&http_date(secs, 0), now, Some(offset)), Some(expected));
    }

    #[test]
    fn a_delay_seconds_retry_after_is_now_plus_those_seconds(
        secs in prop_oneof![0u64..=3_600, 0u64..=999_999_999_999_999],
        pad in "[ \t]{0,2}",
        now in 0..=MAX_TIME_MS,
    ) {
        let expected = now.saturating_add(secs.saturating_mul(1_000)).min(MAX_TIME_MS);
        prop_assert_eq!(parse_retry_after(&format!("{pad}{secs}{pad}"), now, None), Some(expected));
        let feedback = parse_feedback([("Retry-After", format!("{secs}").as_str())], now);
        prop_assert_eq!(feedback.retry_at_ms, Some(expected));
    }

    #[test]
    fn well_formed_x_ratelimit_fields_read_as_one_window(
        limit in 0u64..=1_000_000,
        used in 0u64..=1_000_000,
        reset in 0u64..1_000_000_000,
        window in 0usize..4,
        prefix in prop_oneof![Just("X-RateLimit-"), Just("x-rate-limit-")],
        now in 1_700_000_000_000u64..1_900_000_000_000,
    ) {
        let remaining = limit.saturating_sub(used);
        let (window_name, window_ms) = [("per_minute", 60_000), ("per_hour", 3_600_000), ("60", 60_000), ("15m", 900_000)][window];
        let headers = [
            (format!("{prefix}Limit"), limit.to_string()),
            (format!("{prefix}Remaining"), remaining.to_string()),
            (format!("{prefix}Reset"), reset.to_string()),
            (format!("{prefix}Window"), window_name.to_string()),
        ];
        let feedback = parse_feedback(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), now);
        prop_assert_eq!(feedback.windows, vec![ServerWindow {
            name: Some(window_name.into()),
            limit: Some(limit),
            remaining: Some(remaining),
            reset_at_ms: Some(now + reset * 1_000),
            window_ms: Some(window_ms),
        }]);
    }

    #[test]
    fn an_epoch_reset_in_seconds_moves_by_the_server_clock(
        ahead_s in 0u64..=86_400,
        skew_s in -30i64..=30,
        now_s in 1_700_000_000u64..1_900_000_000,
    ) {
        // The server's clock runs `skew_s` ahead; its reset is `ahead_s` after its own now.
        let server_now_s = (now_s as i64 + skew_s) as u64;
        let headers = [
            ("Date", http_date(server_now_s, 0)),
            ("X-RateLimit-Reset", (server_now_s + ahead_s).to_string()),
        ];
        let now = now_s * 1_000;
        let feedback = parse_feedback(headers.iter().map(|(n, v)| (*n, v.as_str())), now);
        prop_assert_eq!(feedback.server_offset_ms, Some(skew_s * 1_000));
        prop_assert_eq!(feedback.windows.len(), 1);
        // A Date up to a second behind is consistent with clocks in step (it
        // is floored): the reset is then read as it is (see the module docs).
        let expected = if skew_s == -1 { (now + ahead_s * 1_000 - 1_000).max(now) } else { now + ahead_s * 1_000 };
        prop_assert_eq!(feedback.windows[0].reset_at_ms, Some(expected));
    }

    #[test]
    fn well_formed_ietf_policy_and_limit_fields_read_as_one_window_per_policy(
        policies in prop::collection::vec(("[a-z]{1,8}", 1u64..=1_000_000, 1u64..=86_400, 0u64..=1_000_000, 0u64..=86_400), 1..4),
        now in 1_700_000_000_000u64..1_900_000_000_000,
    ) {
        // Distinct names: a second policy of the same name is another window, not this test's point.
        let mut seen = std::collections::HashSet::new();
        let policies: Vec<_> = policies.into_iter().filter(|p| seen.insert(p.0.clone())).collect();
        let policy = policies.iter().map(|(n, q, w, _, _)| format!("\"{n}\";q={q};w={w}")).collect::<Vec<_>>().join(", ");
        let limit = policies.iter().map(|(n, _, _, r, t)| format!("\"{n}\";r={r};t={t}")).collect::<Vec<_>>().join(", ");
        let feedback = parse_feedback([("RateLimit-Policy", policy.as_str()), ("RateLimit", limit.as_str())], now);
        let expected: Vec<ServerWindow> = policies.iter().map(|(n, q, w, r, t)| ServerWindow {
            name: Some(n.clone()),
            limit: Some(*q),
            remaining: Some(*r),
            reset_at_ms: Some(now + t * 1_000),
            window_ms: Some(w * 1_000),
        }).collect();
        prop_assert_eq!(feedback.windows, expected, "{} / {}", policy, limit);
    }

    #[test]
    fn well_formed_legacy_ratelimit_fields_read_as_one_window(
        quota in 1u64..=1_000_000,
        w in 1u64..=86_400,
        remaining in 0u64..=1_000_000,
        reset in 0u64..1_000_000_000,
        now in 1_700_000_000_000u64..1_900_000_000_000,
    ) {
        let limit = format!("{quota}, {quota};w={w}");
        let headers = [("RateLimit-Limit", limit), ("RateLimit-Remaining", remaining.to_string()), ("RateLimit-Reset", reset.to_string())];
        let feedback = parse_feedback(headers.iter().map(|(n, v)| (*n, v.as_str())), now);
        prop_assert_eq!(feedback.windows, vec![ServerWindow {
            name: None,
            limit: Some(quota),
            remaining: Some(remaining),
            reset_at_ms: Some(now + reset * 1_000),
            window_ms: Some(w * 1_000),
        }]);
    }
}
