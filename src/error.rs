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
    /// A snapshot whose contents are inconsistent; `why` names the field.
    CorruptSnapshot {
        /// What is inconsistent.
        why: &'static str,
    },
    /// A snapshot taken under other windows than the ones asked for.
    SnapshotMismatch,
}

impl Error {
    /// The stable name the JS layer gives the error (`error.name`).
    pub fn name(&self) -> &'static str {
        match self {
            Error::InsufficientCapacity { .. } => "InsufficientCapacityError",
            Error::QueueFull { .. } => "QueueFullError",
            Error::UnsupportedSnapshotVersion { .. }
            | Error::CorruptSnapshot { .. }
            | Error::SnapshotMismatch => "SnapshotError",
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
                m.push_str(why);
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
    }
}
