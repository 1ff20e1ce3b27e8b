//! Reading server feedback: every example of RFC 9110 §5.6.7 and §10.2.3, of
//! draft-ietf-httpapi-ratelimit-headers-10 (sections 3, 4, 6, 7, 8.5, appendix B
//! and the FAQ), SecureCodingHub's 429, the older drafts' fields, and
//! malformed values. Property tests: `tests/headers_props.rs`.

use tollgate::headers::{parse_feedback, parse_http_date, parse_retry_after, Feedback, ServerWindow};
use tollgate::MAX_TIME_MS;

const S: u64 = 1_000;
/// 2026-11-23T13:42:59Z on the client clock.
const NOW: u64 = 1_795_441_379_000;

fn named(name: &str) -> ServerWindow {
    ServerWindow { name: Some(name.into()), ..ServerWindow::default() }
}

fn windows(headers: &[(&str, &str)]) -> Vec<ServerWindow> {
    parse_feedback(headers.iter().copied(), NOW).windows
}

#[test]
fn all_three_http_date_formats_of_rfc_9110_are_read() {
    for date in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
        assert_eq!(parse_http_date(date), Some(784_111_777_000), "{date}");
    }
    assert_eq!(parse_http_date(" \tSun, 06 Nov 1994 08:49:37 GMT\t "), Some(784_111_777_000));
    assert_eq!(parse_http_date("Tue, 15 Nov 1994 08:12:31 GMT"), Some(784_887_151_000)); // RFC 9110 §6.6.1
    assert_eq!(parse_http_date("Sun Nov 16 08:49:37 1994"), Some(784_111_777_000 + 10 * 86_400 * S));
    assert_eq!(parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"), Some(951_825_600_000));
}

#[test]
fn a_two_digit_year_below_70_is_in_the_2000s() {
    assert_eq!(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT"), Some(0));
    assert_eq!(parse_http_date("Tuesday, 31-Dec-69 23:59:59 GMT"), Some(3_155_759_999_000));
    assert_eq!(parse_http_date("Friday, 31-Dec-99 23:59:59 GMT"), Some(946_684_799_000));
}

#[test]
fn malformed_or_impossible_dates_are_none() {
    for bad in [
        "",
        "Sun, 30 Feb 1994 08:49:37 GMT",
        "Sun, 29 Feb 2100 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:00:00 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1969 08:49:37 GMT",
        "sun, 06 nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT extra",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov +994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Feb 30 08:49:37 1994",
        "Son, 06 Nov 1994 08:49:37 GMT",
        "Sün, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT\u{a0}",
        "1994-11-06T08:49:37Z",
        "784111777",
    ] {
        assert_eq!(parse_http_date(bad), None, "{bad:?}");
    }
}

#[test]
fn retry_after_examples_of_rfc_9110() {
    let before = 946_684_000_000;
    assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", before, None), Some(946_684_799_000));
    assert_eq!(parse_retry_after("120", before, None), Some(before + 120 * S));
    // A date already past means now.
    assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", NOW, None), Some(NOW));
    assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", NOW, Some(10_000)), Some(NOW));
}

#[test]
fn delay_seconds_are_digits_only_and_saturate() {
    assert_eq!(parse_retry_after("0", NOW, None), Some(NOW));
    assert_eq!(parse_retry_after(" 007\t", NOW, None), Some(NOW + 7 * S));
    assert_eq!(parse_retry_after("604800", NOW, None), Some(NOW + 604_800 * S), "a week is returned as it is");
    assert_eq!(parse_retry_after("99999999999999999999999", NOW, None), Some(MAX_TIME_MS));
    assert_eq!(parse_retry_after("120", u64::MAX, Some(i64::MIN)), Some(MAX_TIME_MS));
    for bad in ["-5", "1.5", "abc", "", " ", "+5", "5s", "0x10", "1e3", "5 5", "٥", "60, 60"] {
        assert_eq!(parse_retry_after(bad, NOW, None), None, "{bad:?}");
    }
}

#[test]
fn a_retry_date_waits_as_long_after_the_server_date_as_the_server_meant() {
    // Draft B.1.4, received by a client whose clock is 3 s behind the server's.
    let now = 1_564_997_220_000 - 3 * S;
    let headers = [
        ("Date", "Mon, 05 Aug 2019 09:27:00 GMT"),
        ("Retry-After", "Mon, 05 Aug 2019 09:27:05 GMT"),
        ("RateLimit", "\"default\";r=0;t=5"),
    ];
    let feedback = parse_feedback(headers, now);
    assert_eq!(feedback.server_offset_ms, Some(3_000));
    assert_eq!(feedback.retry_at_ms, Some(now + 5 * S));
    assert_eq!(feedback.windows, [ServerWindow { remaining: Some(0), reset_at_ms: Some(now + 5 * S), ..named("default") }]);
    // Without the Date, the date is taken as it is.
    assert_eq!(parse_feedback([headers[1]], now).retry_at_ms, Some(1_564_997_225_000));
}

#[test]
fn securecodinghub_429_gives_the_retry_time_and_its_minute_window() {
    let sch = [("retry-after", "60"), ("x-ratelimit-window", "per_minute"), ("x-ratelimit-limit", "60")];
    let expected = Feedback {
        retry_at_ms: Some(NOW + 60 * S),
        server_offset_ms: None,
        windows: vec![ServerWindow { limit: Some(60), window_ms: Some(60 * S), ..named("per_minute") }],
    };
    assert_eq!(parse_feedback(sch, NOW), expected);
    let hour = windows(&[("X-RateLimit-Window", "per_hour"), ("X-RateLimit-Limit", "1000")]);
    assert_eq!(hour, [ServerWindow { limit: Some(1000), window_ms: Some(3_600 * S), ..named("per_hour") }]);
}

#[test]
fn x_ratelimit_reset_is_delta_seconds_epoch_seconds_or_epoch_ms_by_size() {
    let reset = |value: &str, headers: &[(&str, &str)]| {
        let mut all = vec![("X-RateLimit-Reset", value)];
        all.extend_from_slice(headers);
        parse_feedback(all, NOW).windows.first().and_then(|w| w.reset_at_ms)
    };
    assert_eq!(reset("30", &[]), Some(NOW + 30 * S));
    assert_eq!(reset("999999999", &[]), Some(NOW + 999_999_999 * S), "just under 10^9 is still delta");
    assert_eq!(reset("1000000000", &[]), Some(NOW), "an epoch second long past is now");
    assert_eq!(reset("1795441439", &[]), Some(NOW + 60 * S));
    assert_eq!(reset("1795441379500", &[]), Some(NOW + 500));
    assert_eq!(reset("999999999999", &[]), Some(999_999_999_999 * S), "epoch seconds in the year 33658");
    assert_eq!(reset("99999999999999999999", &[]), Some(MAX_TIME_MS));
    // The server's clock is 10 s ahead: its epoch reset is 10 s nearer on ours; a delta is not moved.
    let ahead = [("Date", "Mon, 23 Nov 2026 13:43:09 GMT")];
    assert_eq!(reset("1795441449", &ahead), Some(NOW + 60 * S));
    assert_eq!(reset("30", &ahead), Some(NOW + 30 * S));
    // Fractions round up to the ms.
    assert_eq!(reset("1.25", &[]), Some(NOW + 1_250));
    assert_eq!(reset("0.0001", &[]), Some(NOW + 1));
    assert_eq!(reset("1795441439.0004", &[]), Some(NOW + 60 * S + 1));
    assert_eq!(reset("1795441379500.2", &[]), Some(NOW + 501));
    for bad in ["-1", "1.", ".5", "1.2.3", "abc", "", "1e3", "30s"] {
        assert_eq!(reset(bad, &[]), None, "{bad:?}");
    }
}

#[test]
fn x_ratelimit_window_spellings() {
    let window_ms = |value: &str| windows(&[("X-RateLimit-Window", value)]).first().and_then(|w| w.window_ms);
    let table = [
        ("per_second", Some(S)),
        ("per_minute", Some(60 * S)),
        ("PER_HOUR", Some(3_600 * S)),
        ("per_day", Some(86_400 * S)),
        ("60", Some(60 * S)),
        ("500ms", Some(500)),
        ("30s", Some(30 * S)),
        ("1m", Some(60 * S)),
        ("1h", Some(3_600 * S)),
        ("1d", Some(86_400 * S)),
        ("99999999999999999999d", Some(MAX_TIME_MS)),
        ("per_week", None),
        ("0", None),
        ("0s", None),
        ("-60", None),
        ("1.5m", None),
        ("m", None),
        ("1 m", None),
    ];
    for (value, expected) in table {
        assert_eq!(window_ms(value), expected, "{value:?}");
    }
    assert!(windows(&[("X-RateLimit-Window", " ")]).is_empty(), "an empty window says nothing");
}

#[test]
fn both_x_rate_limit_spellings_in_any_case() {
    let headers = [("X-Rate-Limit-Limit", "100"), ("x-rate-limit-remaining", " 7 "), ("X-RATELIMIT-RESET", "30")];
    let expected = ServerWindow { limit: Some(100), remaining: Some(7), reset_at_ms: Some(NOW + 30 * S), ..Default::default() };
    assert_eq!(windows(&headers), [expected]);
    assert!(windows(&[("X-RateLimit-Limit", "abc"), ("X-RateLimit-Remaining", "-1")]).is_empty());
    assert_eq!(windows(&[("X-RateLimit-Limit", "99999999999999999999")])[0].limit, Some(MAX_TIME_MS));
}

#[test]
fn repeated_fields_keep_the_last_value_the_latest_retry_and_join_lists() {
    let headers = [
        ("Retry-After", "120"),
        ("RETRY-AFTER", "30"),
        ("Retry-After", "soon"),
        ("X-RateLimit-Limit", "10"),
        ("X-RateLimit-Limit", "20"),
        ("RateLimit-Policy", "\"a\";q=1"),
        ("ratelimit-policy", "\"b\";q=2"),
    ];
    let feedback = parse_feedback(headers, NOW);
    assert_eq!(feedback.retry_at_ms, Some(NOW + 120 * S));
    let limits: Vec<_> = feedback.windows.iter().map(|w| (w.name.as_deref(), w.limit)).collect();
    assert_eq!(limits, [(None, Some(20)), (Some("a"), Some(1)), (Some("b"), Some(2))]);
}

#[test]
fn no_rate_limit_headers_give_empty_feedback() {
    assert_eq!(parse_feedback([], NOW), Feedback::default());
    assert_eq!(parse_feedback([("Content-Type", "application/json"), ("Date", "yesterday")], NOW), Feedback::default());
}

#[test]
fn feedback_serializes_as_camel_case_without_missing_fields() {
    let feedback = parse_feedback([("Retry-After", "1"), ("X-RateLimit-Remaining", "0")], 0);
    let json = serde_json::to_string(&feedback).unwrap();
    assert_eq!(json, r#"{"retryAtMs":1000,"windows":[{"remaining":0}]}"#);
    let dated = parse_feedback([("Date", "Thu, 01 Jan 1970 00:00:01 GMT"), ("X-RateLimit-Reset", "5")], 2_000);
    let json = serde_json::to_string(&dated).unwrap();
    assert_eq!(json, r#"{"serverOffsetMs":-1000,"windows":[{"resetAtMs":7000}]}"#);
}
