//! Server feedback: what a response's headers say about the server's limits.
//!
//! [`parse_feedback`] reads these fields (names in any case) and gives every
//! time on the client's clock, in ms since the Unix epoch:
//!
//! | Field | Read as |
//! |---|---|
//! | `Date` | the server's clock: [`Feedback::server_offset_ms`] = Date − now |
//! | `Retry-After` | [`parse_retry_after`] → [`Feedback::retry_at_ms`] |
//! | `X-RateLimit-{Limit,Remaining,Reset,Window}` (also `X-Rate-Limit-*`) | one [`ServerWindow`] |
//! | `RateLimit-Policy` + `RateLimit` (the current IETF draft) | a window per policy or service limit |
//! | `RateLimit-Limit` / `-Remaining` / `-Reset` (its drafts 00-06) | a window, and one per extra policy |
//!
//! Windows come in that order: X-RateLimit, then the current draft's, then the older draft's.
//!
//! ## Server times on the client clock
//!
//! A time the server states as a date or an epoch value is on the server's
//! clock. `Date` has whole seconds and is stamped before the response
//! travels, so it bounds the offset between the clocks: `Date − now` is at
//! most the true offset, and at least the true offset minus a second (plus
//! the trip: from the request's sending to `now`, when the pair
//! `tollgate-sent-at` gives its time in ms since the epoch; not a header, the
//! caller adds it, up to [`MAX_TRIP_MS`] before `now`). When that range holds 0 the clocks are taken as in step and a
//! server time is used as it is: a whole-second reset, rounded up by the
//! server, is then already the latest the window can end, and moving it by
//! the measured offset would add up to a second on top. Otherwise the time is
//! moved by `Date − now`, which never makes it earlier than the server meant.
//!
//! A `Date` more than [`MAX_DATE_SKEW_MS`] away from the client's clock is
//! not trusted (a server whose clock says 1970 would turn a 1 s reset into a
//! 57-year wait): [`Feedback::server_offset_ms`] is then `None` and server
//! times are read on the client's clock. Every time is at least `now` and at
//! most [`MAX_TIME_MS`]; a `now_ms` above that is read as `MAX_TIME_MS`.
//!
//! ## Reset: delta or epoch
//!
//! `X-RateLimit-Reset` (and the older `RateLimit-Reset`) is a count of seconds
//! that servers use three ways; the size of the number tells them apart:
//!
//! * below 1_000_000_000: seconds from now (GitLab, the IETF drafts). 10^9 s
//!   is 31.7 years, longer than any window;
//! * from 1_000_000_000 to 999_999_999_999: Unix epoch seconds (GitHub,
//!   Twitter). 10^9 s after the epoch is 2001-09-09, before any server now running;
//! * from 1_000_000_000_000: Unix epoch ms (10^12 ms is also 2001-09-09; as
//!   epoch seconds it would be the year 33658).
//!
//! An epoch reset already past gives `now`. `X-RateLimit-Reset` may have a
//! fraction (`1700000000.250`, Discord); it is rounded up to the next ms.
//!
//! ## Malformed values
//!
//! A malformed value is ignored (its field is `None`); a malformed member of a
//! RateLimit list is skipped and the others read. Nothing here panics.
//! Well-formed but absurd values (a week of Retry-After) are returned as they
//! are: capping them is [`retry`](crate::retry)'s job.

mod date;
mod ietf;
mod sf;

use alloc::string::String;
use alloc::vec::Vec;
#[cfg(feature = "serde")]
use serde::Serialize;

pub use date::parse_http_date;

use crate::MAX_TIME_MS;

/// How far (1 hour) a server's `Date` may be from the client's clock and still
/// be used to move server times (see the module docs).
pub const MAX_DATE_SKEW_MS: u64 = 3_600_000;

/// The longest trip (`tollgate-sent-at` to `now`) that widens the range of
/// offsets read as clocks in step: a slower answer says little of the clocks.
pub const MAX_TRIP_MS: u64 = 10_000;

/// One of the server's windows, as far as its headers describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct ServerWindow {
    /// The policy's name (`"burst"`), or the `X-RateLimit-Window` value as sent (`per_minute`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub name: Option<String>,
    /// Units (requests) allowed per window.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub limit: Option<u64>,
    /// Units left in the current window.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub remaining: Option<u64>,
    /// When the server makes more room, ms since the epoch (client clock).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub reset_at_ms: Option<u64>,
    /// The window's length, in ms.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub window_ms: Option<u64>,
}

/// Everything [`parse_feedback`] found in one response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct Feedback {
    /// When the server allows a retry (Retry-After), ms since the epoch (client
    /// clock), at least `now`. With several Retry-After fields, the latest.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub retry_at_ms: Option<u64>,
    /// The server's clock minus ours, in ms (from `Date`; whole seconds).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub server_offset_ms: Option<i64>,
    /// The windows described, in the order of the module docs.
    pub windows: Vec<ServerWindow>,
}

/// Reads a Retry-After value as the client time to retry at (ms since the epoch).
///
/// * delay-seconds (`120`): `now_ms + 120_000`. Only digits: no sign, no
///   fraction; a huge count saturates at [`MAX_TIME_MS`].
/// * an HTTP-date ([`parse_http_date`]): a time on the server's clock. With
///   `server_offset_ms` (the server's `Date` minus `now_ms`), the wait is the
///   date minus the server's `Date`, so the result is `date − offset`; without,
///   the date itself. Never earlier than `now_ms`.
///
/// ```
/// use tollgate::headers::parse_retry_after;
/// let now = 946_684_000_000; // 1999-12-31T23:46:40Z
/// assert_eq!(parse_retry_after("120", now, None), Some(now + 120_000));
/// let date = "Fri, 31 Dec 1999 23:59:59 GMT"; // 946_684_799_000
/// assert_eq!(parse_retry_after(date, now, None), Some(946_684_799_000));
/// // The server's clock is 10 s ahead: the date is 10 s nearer than it looks.
/// assert_eq!(parse_retry_after(date, now, Some(10_000)), Some(946_684_789_000));
/// assert_eq!(parse_retry_after("1.5", now, None), None);
/// ```
pub fn parse_retry_after(value: &str, now_ms: u64, server_offset_ms: Option<i64>) -> Option<u64> {
    let now = now_ms.min(MAX_TIME_MS);
    let value = trim(value);
    match digits(value) {
        Some(seconds) => Some(after_ms(now, seconds.saturating_mul(1_000))),
        None => Some(to_client(parse_http_date(value)?, now, server_offset_ms)),
    }
}

/// Reads what a response's headers say about the server's limits; see the module docs.
///
/// `headers` are `(name, value)` pairs; names match in any case and a field
/// that repeats keeps its last value, except `Retry-After` (the latest time
/// wins) and the RateLimit lists (joined, as Structured Fields specifies).
///
/// ```
/// use tollgate::headers::{parse_feedback, ServerWindow};
/// let now = 1_795_441_379_000;
/// let sch = [("Retry-After", "60"), ("X-RateLimit-Window", "per_minute"), ("X-RateLimit-Limit", "60")];
/// let feedback = parse_feedback(sch, now);
/// assert_eq!(feedback.retry_at_ms, Some(now + 60_000));
/// assert_eq!(feedback.windows, [ServerWindow {
///     name: Some("per_minute".into()), limit: Some(60), window_ms: Some(60_000), ..Default::default()
/// }]);
/// ```
pub fn parse_feedback<'a, I: IntoIterator<Item = (&'a str, &'a str)>>(headers: I, now_ms: u64) -> Feedback {
    let now = now_ms.min(MAX_TIME_MS);
    let mut fields = Fields::default();
    for (name, value) in headers {
        fields.add(name, value);
    }
    // Dates are at most year 9999 (about 2.5e14 ms): the difference cannot overflow.
    let measured = fields
        .date
        .and_then(parse_http_date)
        .map(|server| server as i64 - now as i64)
        .filter(|offset| offset.unsigned_abs() <= MAX_DATE_SKEW_MS);
    let trip = fields.sent_at.and_then(digits).map_or(0, |sent| now.saturating_sub(sent).min(MAX_TRIP_MS));
    let offset = measured.map(|m| moving_offset(m, trip));
    let retry_at_ms = fields.retry_after.iter().filter_map(|v| parse_retry_after(v, now, offset)).max();
    let mut windows = Vec::new();
    windows.extend(fields.x_ratelimit(now, offset));
    let unnamed = ietf::current(&fields.policy, &fields.ratelimit, now, &mut windows);
    let legacy =
        ietf::Legacy { limit: fields.legacy_limit, remaining: fields.legacy_remaining, reset: fields.legacy_reset };
    ietf::legacy(legacy, unnamed, now, offset, &mut windows);
    Feedback { retry_at_ms, server_offset_ms: measured, windows }
}

/// The offset that moves server times, from `Date − now` (see the module
/// docs): 0 when the clocks may be in step (a Date up to a second and the
/// `trip` behind), else the measured one.
fn moving_offset(measured: i64, trip: u64) -> i64 {
    if measured <= 0 && measured + 1_000 + trip as i64 >= 0 {
        0
    } else {
        measured
    }
}

#[derive(Clone, Copy)]
enum Field {
    Date,
    RetryAfter,
    XLimit,
    XRemaining,
    XReset,
    XWindow,
    Policy,
    RateLimit,
    LegacyLimit,
    LegacyRemaining,
    LegacyReset,
    SentAt,
}

const FIELDS: [(&str, Field); 16] = [
    ("date", Field::Date),
    ("retry-after", Field::RetryAfter),
    ("x-ratelimit-limit", Field::XLimit),
    ("x-ratelimit-remaining", Field::XRemaining),
    ("x-ratelimit-reset", Field::XReset),
    ("x-ratelimit-window", Field::XWindow),
    ("x-rate-limit-limit", Field::XLimit),
    ("x-rate-limit-remaining", Field::XRemaining),
    ("x-rate-limit-reset", Field::XReset),
    ("x-rate-limit-window", Field::XWindow),
    ("ratelimit-policy", Field::Policy),
    ("ratelimit", Field::RateLimit),
    ("ratelimit-limit", Field::LegacyLimit),
    ("ratelimit-remaining", Field::LegacyRemaining),
    ("ratelimit-reset", Field::LegacyReset),
    ("tollgate-sent-at", Field::SentAt),
];

/// The raw values of the fields read, gathered before any is interpreted
/// (a `Date` may come after the times it converts).
#[derive(Default)]
struct Fields<'a> {
    date: Option<&'a str>,
    retry_after: Vec<&'a str>,
    x_limit: Option<&'a str>,
    x_remaining: Option<&'a str>,
    x_reset: Option<&'a str>,
    x_window: Option<&'a str>,
    policy: String,
    ratelimit: String,
    legacy_limit: Option<&'a str>,
    legacy_remaining: Option<&'a str>,
    legacy_reset: Option<&'a str>,
    sent_at: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn add(&mut self, name: &str, value: &'a str) {
        let name = trim(name);
        let Some(&(_, field)) = FIELDS.iter().find(|(known, _)| known.eq_ignore_ascii_case(name)) else {
            return;
        };
        let slot = match field {
            Field::RetryAfter => return self.retry_after.push(value),
            Field::Policy => return join(&mut self.policy, value),
            Field::RateLimit => return join(&mut self.ratelimit, value),
            Field::Date => &mut self.date,
            Field::XLimit => &mut self.x_limit,
            Field::XRemaining => &mut self.x_remaining,
            Field::XReset => &mut self.x_reset,
            Field::XWindow => &mut self.x_window,
            Field::LegacyLimit => &mut self.legacy_limit,
            Field::LegacyRemaining => &mut self.legacy_remaining,
            Field::LegacyReset => &mut self.legacy_reset,
            Field::SentAt => &mut self.sent_at,
        };
        *slot = Some(value);
    }

    fn x_ratelimit(&self, now: u64, offset: Option<i64>) -> Option<ServerWindow> {
        let window = ServerWindow {
            name: self.x_window.map(trim).filter(|w| !w.is_empty()).map(String::from),
            limit: self.x_limit.and_then(count),
            remaining: self.x_remaining.and_then(count),
            reset_at_ms: self.x_reset.and_then(|v| {
                let (whole, fraction) = decimal(trim(v))?;
                Some(reset_at(whole, fraction, now, offset))
            }),
            window_ms: self.x_window.and_then(window_ms),
        };
        (window != ServerWindow::default()).then_some(window)
    }
}

/// Lines of a List field are one list (RFC 9651 §4.2).
fn join(list: &mut String, value: &str) {
    if !list.is_empty() {
        list.push(',');
    }
    list.push_str(value);
}

/// A reset given as `whole` (seconds, epoch seconds or epoch ms; see the
/// module docs) and a fraction's digits, on the client clock.
fn reset_at(whole: u64, fraction: &str, now: u64, offset: Option<i64>) -> u64 {
    if whole >= 1_000_000_000_000 {
        to_client(whole.saturating_add(ceil_ms(fraction, 0)), now, offset)
    } else if whole >= 1_000_000_000 {
        to_client(whole * 1_000 + ceil_ms(fraction, 3), now, offset)
    } else {
        after_ms(now, whole * 1_000 + ceil_ms(fraction, 3))
    }
}

/// A fraction's digits (`"25"` of `1.25`) as a count of 10^-`places` (`places` <= 3), rounded up.
fn ceil_ms(fraction: &str, places: usize) -> u64 {
    let head = fraction.get(..places).unwrap_or(fraction);
    let tail = fraction.get(head.len()..).unwrap_or("");
    let units = head.bytes().fold(0u64, |n, d| n * 10 + u64::from(d.saturating_sub(b'0')));
    let scale = 10u64.pow((places - head.len()) as u32);
    units * scale + u64::from(tail.bytes().any(|d| d != b'0'))
}

/// `digits` or `digits.digits`: the whole part (saturating) and the fraction's digits.
fn decimal(value: &str) -> Option<(u64, &str)> {
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) => {
            (whole, fraction)
        }
        Some(_) => return None,
        None => (value, ""),
    };
    Some((digits(whole)?, fraction))
}

/// `X-RateLimit-Window`: `per_second`, `per_minute`, `per_hour`, `per_day`,
/// seconds (`60`), or a count and a unit (`500ms`, `30s`, `1m`, `1h`, `1d`).
fn window_ms(value: &str) -> Option<u64> {
    let value = trim(value);
    let named = [("per_second", 1_000), ("per_minute", 60_000), ("per_hour", 3_600_000), ("per_day", 86_400_000)];
    if let Some(&(_, ms)) = named.iter().find(|(name, _)| name.eq_ignore_ascii_case(value)) {
        return Some(ms);
    }
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (n, unit) = value.split_at(split);
    let units = [("", 1_000), ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];
    let &(_, unit_ms) = units.iter().find(|(name, _)| name.eq_ignore_ascii_case(unit))?;
    let ms = digits(n)?.saturating_mul(unit_ms).min(MAX_TIME_MS);
    (ms > 0).then_some(ms)
}

/// A count (limit, remaining): digits only, capped at `MAX_TIME_MS`.
fn count(value: &str) -> Option<u64> {
    digits(trim(value)).map(|n| n.min(MAX_TIME_MS))
}

/// One or more ASCII digits, saturating at `u64::MAX`.
fn digits(value: &str) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value
        .bytes()
        .try_fold(0u64, |n, d| d.is_ascii_digit().then(|| n.saturating_mul(10).saturating_add(u64::from(d - b'0'))))
}

/// `now + ms`, capped.
fn after_ms(now: u64, ms: u64) -> u64 {
    now.saturating_add(ms).min(MAX_TIME_MS)
}

/// A server-clock time on the client clock, from `now` to `MAX_TIME_MS`.
fn to_client(server_ms: u64, now: u64, offset: Option<i64>) -> u64 {
    let at = i128::from(server_ms) - i128::from(offset.unwrap_or(0));
    at.clamp(i128::from(now), i128::from(MAX_TIME_MS.max(now))) as u64
}

/// Without the optional whitespace (SP, HTAB) around a field value.
fn trim(value: &str) -> &str {
    value.trim_matches([' ', '\t'])
}
