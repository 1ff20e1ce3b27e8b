//! The RateLimit fields: every example of draft-ietf-httpapi-ratelimit-headers-10
//! (sections 3.2, 4.2, 6, 7, 8.5, appendix B, FAQ), the older drafts'
//! `RateLimit-Limit` / `-Remaining` / `-Reset`, and malformed members.

use tollgate::headers::{parse_feedback, ServerWindow};

const S: u64 = 1_000;
/// 2026-11-23T13:42:59Z on the client clock.
const NOW: u64 = 1_795_441_379_000;

fn named(name: &str) -> ServerWindow {
    ServerWindow { name: Some(name.into()), ..ServerWindow::default() }
}

/// A policy window: its name, quota and window in seconds.
fn policy(name: &str, limit: u64, window_s: Option<u64>) -> ServerWindow {
    ServerWindow { limit: Some(limit), window_ms: window_s.map(|w| w * S), ..named(name) }
}

/// That window with the service limit's remaining and reset (seconds from now).
fn with(window: ServerWindow, remaining: Option<u64>, reset_s: Option<u64>) -> ServerWindow {
    ServerWindow { remaining, reset_at_ms: reset_s.map(|t| NOW + t * S), ..window }
}

fn limit(name: &str, remaining: Option<u64>, reset_s: Option<u64>) -> ServerWindow {
    with(named(name), remaining, reset_s)
}

fn windows(headers: &[(&str, &str)]) -> Vec<ServerWindow> {
    parse_feedback(headers.iter().copied(), NOW).windows
}

#[test]
fn policy_examples_of_section_3() {
    let table = [
        (
            r#""burst";q=100;w=60,"daily";q=1000;w=86400"#,
            vec![policy("burst", 100, Some(60)), policy("daily", 1000, Some(86_400))],
        ),
        (r#""default";q=100;w=10"#, vec![policy("default", 100, Some(10))]),
        (r#""permin";q=50;w=60,"perhr";q=1000;w=3600"#, vec![policy("permin", 50, Some(60)), policy("perhr", 1000, Some(3_600))]),
        (r#""peruser";q=100;w=60;pk=:cHsdsRa894==:"#, vec![policy("peruser", 100, Some(60))]),
        // A quota of content bytes is no rate of requests: no window.
        (r#""peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:"#, vec![]),
        (r#""peruser";q=10;qu="requests";w=10"#, vec![policy("peruser", 10, Some(10))]),
    ];
    for (value, expected) in table {
        assert_eq!(windows(&[("RateLimit-Policy", value)]), expected, "{value}");
    }
}

#[test]
fn parameters_of_other_names_are_skipped_whatever_characters_their_keys_hold() {
    // A key may hold digits and `_-.*` after its first letter (RFC 9651 3.1.2).
    for key in ["x-ext", "v2", "a_b", "a.b", "a*", "*x"] {
        let value = format!(r#""p";q=10;w=60;{key}=1"#);
        assert_eq!(windows(&[("RateLimit-Policy", &value)]), vec![policy("p", 10, Some(60))], "{value}");
    }
    // A key starts with a lowercase letter or `*`: one starting with a digit is malformed.
    assert_eq!(windows(&[("RateLimit-Policy", r#""p";q=10;w=60;1x=1"#)]), vec![], "a key starting with a digit");
}

#[test]
fn draft_7_dictionary_without_a_reset_is_still_a_window() {
    // `RateLimit: limit=, remaining=` with no `reset`: the limit and what is left still count.
    let got = windows(&[("RateLimit", "limit=10, remaining=4")]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].limit, got[0].remaining, got[0].reset_at_ms), (Some(10), Some(4), None), "{got:?}");
}

#[test]
fn service_limit_examples_of_sections_4_6_and_7() {
    let table = [
        (r#""default";r=50;t=30"#, limit("default", Some(50), Some(30))),
        (r#""default";r=999;pk=:dHJpYWwxMjEzMjM=:"#, limit("default", Some(999), None)),
        (r#""default";r=300000000;t=60;pk=:QXBwLTk5OQ==:"#, limit("default", Some(300_000_000), Some(60))),
        (r#""problemPolicy";r=0;t=10"#, limit("problemPolicy", Some(0), Some(10))),
        (r#""default";r=1;t=7"#, limit("default", Some(1), Some(7))),
    ];
    for (value, expected) in table {
        assert_eq!(windows(&[("RateLimit", value)]), [expected], "{value}");
    }
}

#[test]
fn examples_of_section_8_5() {
    let daily = [("Date", "Tue, 15 Nov 1994 18:00:00 GMT"), ("RateLimit", r#""daily";r=1;t=36400"#)];
    assert_eq!(windows(&daily), [limit("daily", Some(1), Some(36_400))], "t is from now whatever the Date");
    let some = [("RateLimit-Policy", r#""somepolicy";q=10000;w=1000"#), ("RateLimit", r#""somepolicy";r=10000;t=10"#)];
    assert_eq!(windows(&some), [with(policy("somepolicy", 10_000, Some(1_000)), Some(10_000), Some(10))]);
}

#[test]
fn examples_of_appendix_b_without_policies() {
    assert_eq!(windows(&[("RateLimit", r#""default";r=0;t=50"#)]), [limit("default", Some(0), Some(50))]);
    assert_eq!(windows(&[("RateLimit", r#""default";r=0;t=48"#)]), [limit("default", Some(0), Some(48))]);
    assert_eq!(windows(&[("RateLimit", r#""dayLimit";r=100;t=36000"#)]), [limit("dayLimit", Some(100), Some(36_000))]);
}

#[test]
fn examples_of_appendix_b_with_policies() {
    let table: [(&str, &str, Vec<ServerWindow>); 8] = [
        (r#""basic";q=100;w=60"#, r#""basic";r=60;t=58"#, vec![with(policy("basic", 100, Some(60)), Some(60), Some(58))]),
        (r#""basic";q=100;w=60"#, r#""basic";r=20;t=56"#, vec![with(policy("basic", 100, Some(60)), Some(20), Some(56))]),
        (
            r#""fixedwindow";q=100;w=60"#,
            r#""fixedwindow";r=99;t=50"#,
            vec![with(policy("fixedwindow", 100, Some(60)), Some(99), Some(50))],
        ),
        (r#""dynamic";q=100;w=60"#, r#""dynamic";r=9;t=50"#, vec![with(policy("dynamic", 100, Some(60)), Some(9), Some(50))]),
        (r#""dynamic";q=15;w=20"#, r#""dynamic";r=0;t=20"#, vec![with(policy("dynamic", 15, Some(20)), Some(0), Some(20))]),
        // B.3.1: a token name, and a service limit with only `t`.
        ("quota;q=100;w=1", "quota;t=1", vec![with(policy("quota", 100, Some(1)), None, Some(1))]),
        ("quota;q=10", "quota;t=1", vec![with(policy("quota", 10, None), None, Some(1))]),
        (
            r#""hour";q=1000;w=3600, "day";q=5000;w=86400"#,
            r#""day";r=100;t=36000"#,
            vec![policy("hour", 1000, Some(3_600)), with(policy("day", 5000, Some(86_400)), Some(100), Some(36_000))],
        ),
    ];
    for (policy_field, limit_field, expected) in table {
        // B.2.1 sends RateLimit first: the order of the fields does not matter.
        assert_eq!(windows(&[("RateLimit", limit_field), ("RateLimit-Policy", policy_field)]), expected, "{policy_field}");
    }
}

#[test]
fn b_3_retry_after_with_a_policy() {
    let headers =
        [("Retry-After", "20"), ("RateLimit-Policy", r#""dynamic";q=100;w=60"#), ("RateLimit", r#""dynamic";r=15;t=40"#)];
    let feedback = parse_feedback(headers, NOW);
    assert_eq!(feedback.retry_at_ms, Some(NOW + 20 * S));
    assert_eq!(feedback.windows, [with(policy("dynamic", 100, Some(60)), Some(15), Some(40))]);
}

#[test]
fn faq_examples_no_space_and_a_policy_list_over_two_fields() {
    assert_eq!(windows(&[("RateLimit", r#""default";r=50;t=60"#)]), [limit("default", Some(50), Some(60))]);
    let headers = [
        ("RateLimit-Policy", r#""sliding";q=100;w=60;burst=1000"#),
        ("RateLimit-Policy", r#""fixed";q=5000;w=3600;burst=0"#),
        ("RateLimit", r#""sliding";r=50;t=44"#),
    ];
    let expected = [with(policy("sliding", 100, Some(60)), Some(50), Some(44)), policy("fixed", 5000, Some(3_600))];
    assert_eq!(windows(&headers), expected);
}

#[test]
fn a_service_limit_of_a_byte_policy_is_dropped_with_it() {
    let headers = [
        // `qu` must be a String: a Token unit is no known unit either.
        ("RateLimit-Policy", r#""bytes";q=65535;qu="content-bytes";w=10, "odd";q=5;qu=requests"#),
        ("RateLimit", r#""bytes";r=300000000;t=60, "odd";r=1"#),
    ];
    assert!(windows(&headers).is_empty());
}

#[test]
fn malformed_members_are_skipped_and_the_rest_read() {
    let headers = [
        ("RateLimit-Policy", r#""neg";q=-1, "zero-w";q=10;w=0, "str-q";q="10", "noq";w=60, 5;w=60, ok;q=5;w=60, "bad"x;q=1"#),
        ("RateLimit", r#""frac";r=1.5, "neg";r=-3;t=-1, "ok";r=3;t=2, "none";pk=:YQ==:, "esc\"aped";r=2"#),
    ];
    let expected = [
        policy("zero-w", 10, None),
        with(policy("ok", 5, Some(60)), Some(3), Some(2)),
        limit("esc\"aped", Some(2), None),
        // `5;w=60` is no draft-10 policy, but it is draft 06's and 07's unnamed form.
        ServerWindow { limit: Some(5), window_ms: Some(60 * S), ..ServerWindow::default() },
    ];
    assert_eq!(windows(&headers), expected);
}

#[test]
fn a_window_of_a_quadrillion_seconds_is_capped_at_max_time() {
    let huge = "999999999999999";
    let policy_field = format!("big;q={huge};w={huge}");
    let expected = ServerWindow { limit: Some(999_999_999_999_999), window_ms: Some(tollgate::MAX_TIME_MS), ..named("big") };
    assert_eq!(windows(&[("RateLimit-Policy", &policy_field)]), [expected]);
    let legacy_field = format!("1, 1;w={huge}");
    assert_eq!(windows(&[("RateLimit-Limit", &legacy_field)])[0].window_ms, Some(tollgate::MAX_TIME_MS));
}

#[test]
fn an_escaped_quote_in_a_malformed_member_does_not_end_its_string() {
    // The malformed member `"bad"x;note=...` holds the string `a", p;r=0;t=3600, `: skipping it
    // must step over the escaped quote, or the comma after it would end the member early and the
    // string's text would be read as a member `p` saying nothing is left for an hour.
    let headers = [
        ("RateLimit-Policy", r#""p";q=10;w=60"#),
        ("RateLimit", r#""bad"x;note="a\", p;r=0;t=3600, ", "p";r=7;t=30"#),
    ];
    assert_eq!(windows(&headers), [with(policy("p", 10, Some(60)), Some(7), Some(30))]);
}

#[test]
fn the_older_drafts_three_fields() {
    let headers = [("RateLimit-Limit", "100"), ("RateLimit-Remaining", "50"), ("RateLimit-Reset", "30")];
    let current =
        ServerWindow { limit: Some(100), remaining: Some(50), reset_at_ms: Some(NOW + 30 * S), ..ServerWindow::default() };
    assert_eq!(windows(&headers), std::slice::from_ref(&current));
    // Policies after the current limit: the one with its quota is its window.
    let with_policies = [("RateLimit-Limit", "100, 100;w=60, 1000;w=3600"), headers[1], headers[2]];
    let hourly = ServerWindow { limit: Some(1000), window_ms: Some(3_600 * S), ..ServerWindow::default() };
    assert_eq!(windows(&with_policies), [ServerWindow { window_ms: Some(60 * S), ..current }, hourly]);
    let draft_03 = windows(&[("RateLimit-Limit", "10, 10;w=1, 50;w=60, 1000;w=3600, 5000;w=86400")]);
    let quotas: Vec<_> = draft_03.iter().map(|w| (w.limit, w.window_ms.map(|ms| ms / S))).collect();
    assert_eq!(quotas, [(Some(10), Some(1)), (Some(50), Some(60)), (Some(1000), Some(3_600)), (Some(5000), Some(86_400))]);
    let own_window = windows(&[("RateLimit-Limit", "100;w=60, 100;w=60")]);
    assert_eq!(own_window, [ServerWindow { limit: Some(100), window_ms: Some(60 * S), ..ServerWindow::default() }]);
}

#[test]
fn the_older_drafts_malformed_values_are_ignored() {
    let headers = [("RateLimit-Limit", "abc"), ("RateLimit-Remaining", "50, 40"), ("RateLimit-Reset", "-1")];
    assert!(windows(&headers).is_empty());
    let remaining_only = windows(&[("RateLimit-Remaining", " 0 "), ("RateLimit-Reset", "1795441439")]);
    let expected = ServerWindow { remaining: Some(0), reset_at_ms: Some(NOW + 60 * S), ..ServerWindow::default() };
    assert_eq!(remaining_only, [expected], "an epoch reset is read by the same rule as X-RateLimit-Reset");
}

#[test]
fn windows_come_x_ratelimit_first_then_the_current_draft_then_the_older() {
    let headers = [
        ("RateLimit-Limit", "3"),
        ("RateLimit", r#""b";r=2"#),
        ("X-RateLimit-Limit", "1"),
    ];
    let limits: Vec<_> = windows(&headers).iter().map(|w| (w.limit, w.remaining)).collect();
    assert_eq!(limits, [(Some(1), None), (None, Some(2)), (Some(3), None)]);
}
