//! The fields of draft-ietf-httpapi-ratelimit-headers: the current
//! `RateLimit-Policy` + `RateLimit` pair (draft 07 on) and the older
//! `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` (drafts 00-06).

use alloc::string::String;
use alloc::vec::Vec;

use super::sf::{self, Bare, Item};
use super::{after_ms, reset_at, ServerWindow};
use crate::MAX_TIME_MS;

/// A quota policy: `"burst";q=100;w=60`.
struct Policy {
    name: String,
    quota: u64,
    window_ms: Option<u64>,
    /// `qu` is absent or `"requests"`. A quota of bytes or of concurrent
    /// requests is no rate of requests, so such a policy gives no window.
    counts_requests: bool,
}

impl Policy {
    /// `None` without a name or without `q`, which the draft requires.
    fn read(item: &Item<'_>) -> Option<Policy> {
        Some(Policy {
            name: item.name()?,
            quota: non_negative(item.param("q")?)?,
            window_ms: item.param("w").and_then(window_ms),
            counts_requests: match item.param("qu") {
                None => true,
                Some(Bare::String(unit)) => unit == "requests",
                Some(_) => false,
            },
        })
    }
}

/// A service limit: `"default";r=50;t=30`.
struct Limit {
    name: String,
    remaining: Option<u64>,
    reset_at_ms: Option<u64>,
}

impl Limit {
    /// `None` without a name, or without both `r` and `t`. The draft requires
    /// `r`, but its own example B.3.1 sends only `t`, which is still worth reading.
    fn read(item: &Item<'_>, now: u64) -> Option<Limit> {
        let limit = Limit {
            name: item.name()?,
            remaining: item.param("r").and_then(non_negative),
            // `t` is delay-seconds: from now, whatever the clocks say.
            reset_at_ms: item.param("t").and_then(non_negative).map(|t| after_ms(now, t * 1_000)),
        };
        (limit.remaining.is_some() || limit.reset_at_ms.is_some()).then_some(limit)
    }
}

/// A non-negative Integer. Structured integers have at most 15 digits, so a
/// count stays under `MAX_TIME_MS` and seconds times 1_000 fit a `u64`.
fn non_negative(bare: &Bare<'_>) -> Option<u64> {
    match bare {
        Bare::Integer(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// A `w` parameter: a positive Integer of seconds, in ms (capped: 10^15 s is past `MAX_TIME_MS`).
fn window_ms(w: &Bare<'_>) -> Option<u64> {
    non_negative(w).filter(|&w| w > 0).map(|w| (w * 1_000).min(MAX_TIME_MS))
}

/// An unnamed quota policy of drafts 06 and 07 (`RateLimit-Policy: 20;w=10`):
/// the quota and its window, if it has a `w`.
pub(super) type Quota = (u64, Option<u64>);

/// Appends a window per policy counting requests (with the service limit of
/// the same name, if any), then one per service limit that names no policy.
/// A service limit named like a policy of another unit is dropped with it.
///
/// Drafts 06 and 07 (express-rate-limit's `draft-6` and `draft-7`) send
/// unnamed policies (`20;w=10`); draft 07 adds the dictionary
/// `RateLimit: limit=20, remaining=0, reset=7` (`reset` in seconds from now),
/// read here as one window with the policy of its limit. The unnamed policies
/// not used are returned, for the older drafts' fields.
pub(super) fn current(policy_field: &str, limit_field: &str, now: u64, out: &mut Vec<ServerWindow>) -> Vec<Quota> {
    let members = sf::parse_list(policy_field);
    let policies: Vec<Policy> = members.iter().filter_map(Policy::read).collect();
    let mut unnamed: Vec<Quota> =
        members.iter().filter_map(|m| Some((non_negative(&m.bare)?, m.param("w").and_then(window_ms)))).collect();
    if let Some(window) = dictionary(limit_field, &mut unnamed, now) {
        out.push(window);
    }
    let limits: Vec<Limit> = sf::parse_list(limit_field).iter().filter_map(|item| Limit::read(item, now)).collect();
    for policy in policies.iter().filter(|p| p.counts_requests) {
        let limit = limits.iter().find(|l| l.name == policy.name);
        out.push(ServerWindow {
            name: Some(policy.name.clone()),
            limit: Some(policy.quota),
            remaining: limit.and_then(|l| l.remaining),
            reset_at_ms: limit.and_then(|l| l.reset_at_ms),
            window_ms: policy.window_ms,
        });
    }
    for limit in limits.into_iter().filter(|l| !policies.iter().any(|p| p.name == l.name)) {
        out.push(ServerWindow {
            name: Some(limit.name),
            remaining: limit.remaining,
            reset_at_ms: limit.reset_at_ms,
            ..ServerWindow::default()
        });
    }
    unnamed
}

/// Draft 07's `RateLimit: limit=, remaining=, reset=` as one window, taking
/// the window of the unnamed policy with its limit (else of the only one)
/// out of `unnamed`. `None` unless one of the three keys is a non-negative Integer.
fn dictionary(field: &str, unnamed: &mut Vec<Quota>, now: u64) -> Option<ServerWindow> {
    let members = sf::parse_dictionary(field);
    let value =
        |key: &str| members.iter().rev().find(|(k, _)| *k == key).and_then(|(_, item)| non_negative(&item.bare));
    let (limit, remaining, reset) = (value("limit"), value("remaining"), value("reset"));
    if limit.is_none() && remaining.is_none() && reset.is_none() {
        return None;
    }
    let policy = match limit {
        Some(quota) => unnamed.iter().position(|p| p.0 == quota),
        None => (unnamed.len() == 1).then_some(0),
    };
    let policy = policy.map(|i| unnamed.remove(i));
    Some(ServerWindow {
        name: None,
        limit: limit.or(policy.map(|p| p.0)),
        remaining,
        reset_at_ms: reset.map(|t| after_ms(now, t * 1_000)),
        window_ms: policy.and_then(|p| p.1),
    })
}

/// The older drafts' three fields, as sent.
pub(super) struct Legacy<'a> {
    pub(super) limit: Option<&'a str>,
    pub(super) remaining: Option<&'a str>,
    pub(super) reset: Option<&'a str>,
}

/// Appends the older drafts' window, then one per further policy.
///
/// `RateLimit-Limit` is a list: its first member is the current limit (the
/// one `-Remaining` and `-Reset` are about), and members with a `w` are
/// quota policies (`100, 100;w=60, 1000;w=3600`). The current window takes
/// its own `w`, or else that of the first policy with its quota, which is
/// then the same window and not repeated. `-Reset` follows the module's
/// delta-or-epoch rule.
///
/// `extra` are the unnamed policies of `RateLimit-Policy` (draft 06 sends it
/// beside these three fields), read like the members with a `w`.
pub(super) fn legacy(
    fields: Legacy<'_>,
    extra: Vec<Quota>,
    now: u64,
    offset: Option<i64>,
    out: &mut Vec<ServerWindow>,
) {
    let Legacy { limit, remaining, reset } = fields;
    let members = limit.map(sf::parse_list).unwrap_or_default();
    let mut quotas = members.iter().map(|m| Some((non_negative(&m.bare)?, m.param("w").and_then(window_ms))));
    let current = quotas.next().flatten();
    let mut policies: Vec<(u64, u64)> = quotas.flatten().filter_map(|(quota, w)| Some((quota, w?))).collect();
    for (quota, w) in extra.into_iter().filter_map(|(quota, w)| Some((quota, w?))) {
        if !policies.contains(&(quota, w)) {
            policies.push((quota, w));
        }
    }
    let current_window_ms =
        current.and_then(|(quota, w)| w.or_else(|| policies.iter().find(|p| p.0 == quota).map(|p| p.1)));
    if let (Some((quota, _)), Some(w)) = (current, current_window_ms) {
        // `position` gives an index in range: `remove` cannot panic.
        if let Some(same) = policies.iter().position(|&p| p == (quota, w)) {
            policies.remove(same);
        }
    }
    let integer = |field: Option<&str>| field.and_then(sf::parse_item).and_then(|item| non_negative(&item.bare));
    let window = ServerWindow {
        name: None,
        limit: current.map(|(quota, _)| quota),
        remaining: integer(remaining),
        reset_at_ms: integer(reset).map(|whole| reset_at(whole, "", now, offset)),
        window_ms: current_window_ms,
    };
    if window != ServerWindow::default() {
        out.push(window);
    }
    out.extend(policies.into_iter().map(|(quota, window_ms)| ServerWindow {
        limit: Some(quota),
        window_ms: Some(window_ms),
        ..ServerWindow::default()
    }));
}
