//! The headers that real rate-limiting middleware sends (express-rate-limit's
//! `draft-6`, `draft-7`, `draft-8` and legacy modes, @fastify/rate-limit,
//! rate-limiter-flexible behind node:http), and how server times from a
//! whole-second `Date` are read.

use tollgate::headers::{parse_feedback, ServerWindow, MAX_DATE_SKEW_MS};

const S: u64 = 1_000;
/// 2026-11-23T13:42:59Z on the client clock.
const NOW: u64 = 1_795_441_379_000;

fn windows(headers: &[(&str, &str)], now: u64) -> Vec<ServerWindow> {
    parse_feedback(headers.iter().copied(), now).windows
}

fn window(limit: u64, remaining: u64, reset_at_ms: u64, window_s: Option<u64>) -> ServerWindow {
    ServerWindow {
        limit: Some(limit),
        remaining: Some(remaining),
        reset_at_ms: Some(reset_at_ms),
        window_ms: window_s.map(|w| w * S),
        name: None,
    }
}

#[test]
fn express_rate_limit_draft_7_is_one_window_with_the_policy_s_length() {
    let headers = [("RateLimit-Policy", "20;w=10"), ("RateLimit", "limit=20, remaining=0, reset=7")];
    assert_eq!(windows(&headers, NOW), [window(20, 0, NOW + 7 * S, Some(10))]);
    // Without the policy the length is unknown; the rest is read.
    assert_eq!(windows(&headers[1..], NOW), [window(20, 0, NOW + 7 * S, None)]);
    // A dictionary without any of the three keys says nothing.
    assert_eq!(windows(&[("RateLimit", "foo, bar=1")], NOW), []);
}

#[test]
fn express_rate_limit_draft_6_joins_the_policy_to_the_three_fields() {
    let headers = [
        ("RateLimit-Policy", "20;w=10"),
        ("RateLimit-Limit", "20"),
        ("RateLimit-Remaining", "13"),
        ("RateLimit-Reset", "4"),
    ];
    assert_eq!(windows(&headers, NOW), [window(20, 13, NOW + 4 * S, Some(10))]);
    // A policy alone is a window with no count.
    let alone = windows(&headers[..1], NOW);
    assert_eq!(alone, [ServerWindow { limit: Some(20), window_ms: Some(10 * S), ..ServerWindow::default() }]);
}

#[test]
fn express_rate_limit_draft_8_names_its_policy() {
    let headers = [
        ("RateLimit-Policy", r#""20-in-10sec"; q=20; w=10; pk=:ZmFrZQ==:"#),
        ("RateLimit", r#""20-in-10sec"; r=19; t=10"#),
    ];
    let expected = ServerWindow { name: Some("20-in-10sec".into()), ..window(20, 19, NOW + 10 * S, Some(10)) };
    assert_eq!(windows(&headers, NOW), [expected]);
}

#[test]
fn an_epoch_reset_from_a_server_in_step_is_the_bound_it_states() {
    // The response arrives 700 ms into a second; the server's Date is that
    // second, floored. Its reset (an epoch second, rounded up) is already the
    // latest the window can end: no second of Date offset is added to it.
    let now = NOW + 700;
    let headers = [
        ("Date", "Mon, 23 Nov 2026 13:42:59 GMT"),
        ("X-RateLimit-Limit", "10"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", "1795441381"),
    ];
    let feedback = parse_feedback(headers, now);
    assert_eq!(feedback.server_offset_ms, Some(-700));
    assert_eq!(feedback.windows[0].reset_at_ms, Some(NOW + 2 * S));
    // A server 5.7 s behind by its Date (4.7 to 5.7 s really): its times are
    // moved by the offset that makes them latest, as before.
    let behind = [("Date", "Mon, 23 Nov 2026 13:42:54 GMT"), ("X-RateLimit-Reset", "1795441376")];
    assert_eq!(windows(&behind, now)[0].reset_at_ms, Some(NOW - 3 * S + 5_700));
}

#[test]
fn a_date_behind_by_a_second_and_the_trip_is_still_in_step() {
    // Stamped at 13:42:59.950 (its Date that second, floored), answered 300 ms
    // later: Date − now is −1.25 s, within a second and the trip of in step.
    // The epoch reset, rounded up by the server, is the bound it states; moved
    // by the measured offset it would be 1.25 s later than that.
    let now = NOW + 1_250;
    let headers = [
        ("Date", "Mon, 23 Nov 2026 13:42:59 GMT"),
        ("X-RateLimit-Limit", "10"),
        ("X-RateLimit-Remaining", "9"),
        ("X-RateLimit-Reset", "1795441390"),
    ];
    let sent = (NOW - 50).to_string();
    let with_trip = headers.iter().copied().chain([("tollgate-sent-at", sent.as_str())]);
    assert_eq!(parse_feedback(with_trip, now).windows[0].reset_at_ms, Some(NOW + 11 * S));
    // Without the trip: a second behind is the most read as in step.
    assert_eq!(parse_feedback(headers, now).windows[0].reset_at_ms, Some(NOW + 11 * S + 1_250));
    // Sent at 13:43:00.100: a Date of 13:42:59 is then more than a second and
    // the trip (150 ms) behind, not in step: moved, as before.
    let late = (NOW + 1_100).to_string();
    let short_trip = headers.iter().copied().chain([("tollgate-sent-at", late.as_str())]);
    assert_eq!(parse_feedback(short_trip, now).windows[0].reset_at_ms, Some(NOW + 11 * S + 1_250));
}

#[test]
fn a_date_further_off_than_the_bound_is_not_trusted() {
    let reset = [("X-RateLimit-Reset", "1795441381"), ("Retry-After", "Mon, 23 Nov 2026 13:43:09 GMT")];
    for date in ["Thu, 01 Jan 1970 00:00:01 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 23 Nov 2026 15:00:00 GMT"] {
        let mut headers = vec![("Date", date)];
        headers.extend_from_slice(&reset);
        let feedback = parse_feedback(headers, NOW);
        assert_eq!(feedback.server_offset_ms, None, "{date}");
        assert_eq!(feedback.windows[0].reset_at_ms, Some(NOW + 2 * S), "{date}");
        assert_eq!(feedback.retry_at_ms, Some(NOW + 10 * S), "{date}");
    }
    // Just inside the bound, it is.
    let inside = [("Date", "Mon, 23 Nov 2026 14:42:58 GMT")];
    assert_eq!(parse_feedback(inside, NOW).server_offset_ms, Some(MAX_DATE_SKEW_MS as i64 - 1_000));
}
