//! The one error type of the core.
//!
//! Being rate limited is not an error (that is [`Decision::Wait`](crate::Decision)).
//! An [`Error`] means the request or the configuration can never work as given.
//! Messages are built without `core::fmt` so that the wasm build stays small.

use alloc::string::String;

/// Everything that can be wrong with an argument, a policy or a snapshot.
///
/// Each variant has a stable [`name`](Error::name) (the JS error's `name`) and a
/// [`message`](Error::message) saying what was wrong and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A policy needs at least one window.
    NoWindows,
    /// A window's `limit` is outside `1..=MAX_LIMIT`.
    InvalidLimit {
        /// Index of the window in the policy.
        window: usize,
        /// The limit given.
        limit: u64,
    },
    /// A window's period is outside `1..=MAX_PERIOD_MS` milliseconds.
    InvalidPeriod {
        /// Index of the window in the policy.
        window: usize,
        /// The period given, in ms.
        per_ms: u64,
    },
    /// A time is not a finite number of milliseconds in `0..=MAX_TIME_MS`.
    InvalidTime {
        /// The argument's name.
        what: &'static str,
    },
    /// A cost is not an integer in `1..=u32::MAX`.
    InvalidCost,
    /// A priority is not an integer in `i32` range.
    InvalidPriority,
    /// The cost is larger than a window's limit: it can never be admitted.
    InsufficientCapacity {
        /// The cost asked for.
        cost: u64,
        /// Index of the first window it exceeds.
        window: usize,
        /// That window's limit.
        limit: u64,
    },
    /// The wait queue already holds its configured maximum of waiters.
    QueueFull {
        /// The configured maximum.
        max_waiters: u64,
    },
    /// A window index that the policy does not have.
    UnknownWindow {
        /// The index given.
        window: usize,
        /// How many windows the policy has.
        windows: usize,
    },
    /// A plan of more requests than [`MAX_PLAN`](crate::MAX_PLAN).
    PlanTooLong {
        /// The number asked for.
        requests: u64,
    },
    /// A snapshot of a version this build cannot read.
    UnsupportedSnapshotVersion {
        /// The version the snapshot states.
        found: u64,
    },
    /// A snapshot whose contents are inconsistent; `why` says which field and how.
    CorruptSnapshot {
        /// What is inconsistent.
        why: crate::snapshot::Corrupt,
    },
    /// A snapshot taken under other windows than the ones asked for.
    SnapshotMismatch,
    /// A permit this limiter did not issue, or already had back (completed or
    /// released): a permit is handed back exactly once.
    PermitNotHeld,
    /// A completion time later than the limiter's clock plus
    /// [`COMPLETION_TOLERANCE_MS`](crate::COMPLETION_TOLERANCE_MS).
    CompletionAhead {
        /// The completion time given, ms.
        at_ms: u64,
        /// The latest completion time accepted then, ms.
        latest_ms: u64,
    },
    /// A [`plan`](crate::Limiter::plan) whose times would pass
    /// [`MAX_TIME_MS`](crate::MAX_TIME_MS).
    PlanBeyondTimeRange {
        /// How many admissions (queued waiters first) fit before it.
        planned: u64,
    },
}

/// The names [`Error::InvalidTime`] gives arguments, in the order of their
/// [`detail`](Error::detail) codes (0 = `now`); an unlisted name has code
/// `TIME_ARGUMENTS.len()`.
pub const TIME_ARGUMENTS: [&str; 7] = ["now", "at", "until", "reset", "offset", "permit.at", "resetAt"];

impl Error {
    /// A stable number per variant, so that a boundary without `core::fmt`
    /// (the wasm build) can pass an error as numbers and build its message on
    /// the other side. Never reused for another meaning:
    ///
    /// | code | variant | [`window`](Self::window) | [`value`](Self::value) | [`bound`](Self::bound) | [`detail`](Self::detail) |
    /// |---|---|---|---|---|---|
    /// | 1 | [`NoWindows`](Self::NoWindows) | | | | |
    /// | 2 | [`InvalidLimit`](Self::InvalidLimit) | index | the limit | [`MAX_LIMIT`](crate::MAX_LIMIT) | |
    /// | 3 | [`InvalidPeriod`](Self::InvalidPeriod) | index | the period | [`MAX_PERIOD_MS`](crate::MAX_PERIOD_MS) | |
    /// | 4 | [`InvalidTime`](Self::InvalidTime) | | | [`MAX_TIME_MS`](crate::MAX_TIME_MS) | argument, see [`TIME_ARGUMENTS`] |
    /// | 5 | [`InvalidCost`](Self::InvalidCost) | | | `u32::MAX` | |
    /// | 6 | [`InvalidPriority`](Self::InvalidPriority) | | | | |
    /// | 7 | [`InsufficientCapacity`](Self::InsufficientCapacity) | index | the cost | the window's limit | |
    /// | 8 | [`QueueFull`](Self::QueueFull) | | | `maxWaiters` | |
    /// | 9 | [`UnknownWindow`](Self::UnknownWindow) | index | | number of windows | |
    /// | 10 | [`PlanTooLong`](Self::PlanTooLong) | | requests asked | [`MAX_PLAN`](crate::MAX_PLAN) | |
    /// | 11 | [`UnsupportedSnapshotVersion`](Self::UnsupportedSnapshotVersion) | | version found | version read | |
    /// | 12 | [`CorruptSnapshot`](Self::CorruptSnapshot) | window index, if one | | | reason, see [`Corrupt`](crate::snapshot::Corrupt) |
    /// | 13 | [`SnapshotMismatch`](Self::SnapshotMismatch) | | | | |
    /// | 14 | [`PermitNotHeld`](Self::PermitNotHeld) | | | | |
    /// | 15 | [`CompletionAhead`](Self::CompletionAhead) | | the time given | latest accepted | |
    /// | 16 | [`PlanBeyondTimeRange`](Self::PlanBeyondTimeRange) | | admissions planned | [`MAX_TIME_MS`](crate::MAX_TIME_MS) | |
    pub fn code(&self) -> u32 {
        match self {
            Error::NoWindows => 1,
            Error::InvalidLimit { .. } => 2,
            Error::InvalidPeriod { .. } => 3,
            Error::InvalidTime { .. } => 4,
            Error::InvalidCost => 5,
            Error::InvalidPriority => 6,
            Error::InsufficientCapacity { .. } => 7,
            Error::QueueFull { .. } => 8,
            Error::UnknownWindow { .. } => 9,
            Error::PlanTooLong { .. } => 10,
            Error::UnsupportedSnapshotVersion { .. } => 11,
            Error::CorruptSnapshot { .. } => 12,
            Error::SnapshotMismatch => 13,
            Error::PermitNotHeld => 14,
            Error::CompletionAhead { .. } => 15,
            Error::PlanBeyondTimeRange { .. } => 16,
        }
    }

    /// The index of the window the error is about, if it is about one.
    pub fn window(&self) -> Option<u64> {
        match *self {
            Error::InvalidLimit { window, .. }
            | Error::InvalidPeriod { window, .. }
            | Error::InsufficientCapacity { window, .. }
            | Error::UnknownWindow { window, .. } => Some(window as u64),
            Error::CorruptSnapshot { why } => why.window(),
            _ => None,
        }
    }

    /// The offending value, if the error carries one (see [`code`](Self::code)).
    pub fn value(&self) -> Option<u64> {
        match *self {
            Error::InvalidLimit { limit, .. } => Some(limit),
            Error::InvalidPeriod { per_ms, .. } => Some(per_ms),
            Error::InsufficientCapacity { cost, .. } => Some(cost),
            Error::PlanTooLong { requests } => Some(requests),
            Error::UnsupportedSnapshotVersion { found } => Some(found),
            Error::CompletionAhead { at_ms, .. } => Some(at_ms),
            Error::PlanBeyondTimeRange { planned } => Some(planned),
            _ => None,
        }
    }

    /// The bound the value broke, or what is allowed (see [`code`](Self::code)).
    pub fn bound(&self) -> Option<u64> {
        match *self {
            Error::InvalidLimit { .. } => Some(crate::MAX_LIMIT),
            Error::InvalidPeriod { .. } => Some(crate::MAX_PERIOD_MS),
            Error::InvalidTime { .. } | Error::PlanBeyondTimeRange { .. } => Some(crate::MAX_TIME_MS),
            Error::InvalidCost => Some(u32::MAX as u64),
            Error::InsufficientCapacity { limit, .. } => Some(limit),
            Error::QueueFull { max_waiters } => Some(max_waiters),
            Error::UnknownWindow { windows, .. } => Some(windows as u64),
            Error::PlanTooLong { .. } => Some(crate::MAX_PLAN as u64),
            Error::UnsupportedSnapshotVersion { .. } => Some(crate::snapshot::SNAPSHOT_VERSION as u64),
            Error::CompletionAhead { latest_ms, .. } => Some(latest_ms),
            _ => None,
        }
    }

    /// A small number naming what the error is about: for
    /// [`InvalidTime`](Self::InvalidTime) the argument's index in
    /// [`TIME_ARGUMENTS`], for [`CorruptSnapshot`](Self::CorruptSnapshot) the
    /// [`Corrupt`](crate::snapshot::Corrupt) reason's code; else 0.
    pub fn detail(&self) -> u32 {
        match *self {
            Error::InvalidTime { what } => {
                TIME_ARGUMENTS.iter().position(|&a| a == what).unwrap_or(TIME_ARGUMENTS.len()) as u32
            }
            Error::CorruptSnapshot { why } => why.code(),
            _ => 0,
        }
    }

    /// The stable name the JS layer gives the error (`error.name`).
    pub fn name(&self) -> &'static str {
        match self {
            Error::InsufficientCapacity { .. } => "InsufficientCapacityError",
            Error::QueueFull { .. } => "QueueFullError",
            Error::UnsupportedSnapshotVersion { .. }
            | Error::CorruptSnapshot { .. }
            | Error::SnapshotMismatch => "SnapshotError",
            Error::PermitNotHeld => "PermitError",
            Error::CompletionAhead { .. } => "TypeError",
            _ => "TollgateConfigError",
        }
    }

    /// A sentence saying what was wrong and what is allowed.
    pub fn message(&self) -> String {
        let mut m = String::new();
        match *self {
            Error::NoWindows => m.push_str("a policy needs at least one window; got none"),
            Error::InvalidLimit { window, limit } => {
                window_prefix(&mut m, window);
                m.push_str("`limit` must be an integer from 1 to ");
                push_u64(&mut m, crate::MAX_LIMIT);
                m.push_str("; got ");
                push_u64(&mut m, limit);
            }
            Error::InvalidPeriod { window, per_ms } => {
                window_prefix(&mut m, window);
                m.push_str("`per` must be a whole number of milliseconds from 1 to ");
                push_u64(&mut m, crate::MAX_PERIOD_MS);
                m.push_str("; got ");
                push_u64(&mut m, per_ms);
            }
            Error::InvalidTime { what } => {
                m.push('`');
                m.push_str(what);
                m.push_str("` must be a finite number of milliseconds since the Unix epoch, from 0 to ");
                push_u64(&mut m, crate::MAX_TIME_MS);
            }
            Error::InvalidCost => {
                m.push_str("`cost` must be an integer from 1 to ");
                push_u64(&mut m, u32::MAX as u64);
            }
            Error::InvalidPriority => {
                m.push_str("`priority` must be an integer from -2147483648 to 2147483647")
            }
            Error::InsufficientCapacity { cost, window, limit } => {
                m.push_str("a cost of ");
                push_u64(&mut m, cost);
                m.push_str(" can never be admitted: window ");
                push_u64(&mut m, window as u64);
                m.push_str(" allows at most ");
                push_u64(&mut m, limit);
            }
            Error::QueueFull { max_waiters } => {
                m.push_str("the wait queue is full: it already holds `maxWaiters` = ");
                push_u64(&mut m, max_waiters);
                m.push_str(" waiters");
            }
            Error::UnknownWindow { window, windows } => {
                m.push_str("window ");
                push_u64(&mut m, window as u64);
                m.push_str(" does not exist; the policy has ");
                push_u64(&mut m, windows as u64);
            }
            Error::PlanTooLong { requests } => {
                m.push_str("a plan covers at most ");
                push_u64(&mut m, crate::MAX_PLAN as u64);
                m.push_str(" requests; asked for ");
                push_u64(&mut m, requests);
            }
            Error::UnsupportedSnapshotVersion { found } => {
                m.push_str("snapshot version ");
                push_u64(&mut m, found);
                m.push_str(" is not supported; this build reads version ");
                push_u64(&mut m, crate::snapshot::SNAPSHOT_VERSION as u64);
            }
            Error::CorruptSnapshot { why } => {
                m.push_str("corrupt snapshot: ");
                if let Some(window) = why.window() {
                    window_prefix(&mut m, window as usize);
                }
                m.push_str(why.text());
            }
            Error::PermitNotHeld => m.push_str(
                "this permit is not held by the limiter: it was never issued by it, \
                 or it was already completed or released (a permit is handed back once)",
            ),
            Error::CompletionAhead { at_ms, latest_ms } => {
                m.push_str("`at` must not be later than the limiter's clock plus ");
                push_u64(&mut m, crate::COMPLETION_TOLERANCE_MS);
                m.push_str(" ms (");
                push_u64(&mut m, latest_ms);
                m.push_str("); got ");
                push_u64(&mut m, at_ms);
                m.push_str(" (microseconds instead of milliseconds?)");
            }
            Error::PlanBeyondTimeRange { planned } => {
                m.push_str("the plan passes the largest supported time, ");
                push_u64(&mut m, crate::MAX_TIME_MS);
                m.push_str(" ms, after ");
                push_u64(&mut m, planned);
                m.push_str(" admissions");
            }
            Error::SnapshotMismatch => m.push_str(
                "the snapshot was taken with other windows than the ones given; \
                 restore without `windows`, or with the same windows",
            ),
        }
        m
    }
}

fn window_prefix(m: &mut String, window: usize) {
    m.push_str("window ");
    push_u64(m, window as u64);
    m.push_str(": ");
}

/// Appends the decimal digits of `n` (what `write!` would do, without `core::fmt`).
pub(crate) fn push_u64(m: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        m.push(d as char);
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())?;
        f.write_str(": ")?;
        f.write_str(&self.message())
    }
}

#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut s = String::new();
        push_u64(&mut s, 0);
        s.push(' ');
        push_u64(&mut s, u64::MAX);
        assert_eq!(s, "0 18446744073709551615");
    }

    #[test]
    fn messages_say_what_was_wrong_and_what_is_allowed() {
        let e = Error::InsufficientCapacity { cost: 21, window: 0, limit: 20 };
        assert_eq!(e.name(), "InsufficientCapacityError");
        assert_eq!(e.message(), "a cost of 21 can never be admitted: window 0 allows at most 20");
        let e = Error::InvalidLimit { window: 1, limit: 0 };
        assert!(e.message().starts_with("window 1: `limit` must be an integer from 1 to "));
        assert!(e.message().ends_with("; got 0"));
        // What `{}` prints (and so `?` in a main returning a boxed error): name, then message.
        let e = Error::InsufficientCapacity { cost: 21, window: 0, limit: 20 };
        assert_eq!(alloc::format!("{e}"), "InsufficientCapacityError: a cost of 21 can never be admitted: window 0 allows at most 20");
    }

    #[test]
    fn each_variant_has_its_own_stable_code_and_the_numbers_a_message_needs() {
        use crate::snapshot::{Corrupt, Reason};
        let all = [
            (Error::NoWindows, 1, None, None, None),
            (Error::InvalidLimit { window: 2, limit: 0 }, 2, Some(2), Some(0), Some(crate::MAX_LIMIT)),
            (Error::InvalidPeriod { window: 1, per_ms: 0 }, 3, Some(1), Some(0), Some(crate::MAX_PERIOD_MS)),
            (Error::InvalidTime { what: "until" }, 4, None, None, Some(crate::MAX_TIME_MS)),
            (Error::InvalidCost, 5, None, None, Some(u32::MAX as u64)),
            (Error::InvalidPriority, 6, None, None, None),
            (Error::InsufficientCapacity { cost: 21, window: 0, limit: 20 }, 7, Some(0), Some(21), Some(20)),
            (Error::QueueFull { max_waiters: 9 }, 8, None, None, Some(9)),
            (Error::UnknownWindow { window: 4, windows: 2 }, 9, Some(4), None, Some(2)),
            (Error::PlanTooLong { requests: 7 }, 10, None, Some(7), Some(crate::MAX_PLAN as u64)),
            (Error::UnsupportedSnapshotVersion { found: 3 }, 11, None, Some(3), Some(1)),
            (Error::CorruptSnapshot { why: Corrupt::at(5, Reason::BucketTat) }, 12, Some(5), None, None),
            (Error::SnapshotMismatch, 13, None, None, None),
            (Error::PermitNotHeld, 14, None, None, None),
            (Error::CompletionAhead { at_ms: 9, latest_ms: 8 }, 15, None, Some(9), Some(8)),
            (Error::PlanBeyondTimeRange { planned: 6 }, 16, None, Some(6), Some(crate::MAX_TIME_MS)),
        ];
        for (e, code, window, value, bound) in all {
            assert_eq!((e.code(), e.window(), e.value(), e.bound()), (code, window, value, bound), "{e:?}");
            assert!(!e.message().is_empty());
        }
        assert_eq!(Error::InvalidTime { what: "until" }.detail(), 2);
        assert_eq!(Error::InvalidTime { what: "now" }.detail(), 0);
        assert_eq!(Error::InvalidTime { what: "other" }.detail(), TIME_ARGUMENTS.len() as u32);
        assert_eq!(Error::CorruptSnapshot { why: Corrupt::at(5, Reason::BucketTat) }.detail(), 17);
        assert_eq!(Error::PermitNotHeld.detail(), 0);
    }
}
