//! Snapshots: the full state of a limiter's windows as plain data, so that a
//! restarted process does not forget what it already spent.
//!
//! The form (version 1), as JSON:
//!
//! ```json
//! { "version": 1, "clockMs": 1795441320000, "pausedUntilMs": 0,
//!   "windows": [
//!     { "limit": 20, "perMs": 60000, "offsetMs": 0,
//!       "state": { "sliding": { "log": [[1795441319000, 1]] } } },
//!     { "limit": 60, "perMs": 60000, "offsetMs": 0,
//!       "state": { "fixed": { "startMs": 1795441320000, "count": 3, "carryUnits": 0, "carryUntilMs": 0 } } },
//!     { "limit": 10, "perMs": 1000, "offsetMs": 0,
//!       "state": { "bucket": { "tatMs": 1795441320100, "tatRem": 0 } } } ] }
//! ```
//!
//! Times are ms since the Unix epoch. A sliding log lists `[atMs, cost]` pairs,
//! oldest first. A bucket's theoretical arrival time is `tatMs + tatRem / limit`.
//! Waiters are not part of a snapshot: they are live calls of one process.
//!
//! `inFlight` (absent: 0) counts the units of requests in flight when the
//! snapshot was taken (with [`Options::count_in_flight`](crate::Options)): their
//! responses will never reach a restored limiter, and they may reach the server
//! until the process that sent them is gone. A restored limiter counts them as
//! in flight until the first time it is given after `clockMs` (its first call in
//! the new process, when the old one has stopped), and from then as sent at
//! that time. Take the snapshot with [`Limiter::snapshot_at`] and the current
//! time, so that `clockMs` is not older than the requests it describes.
//!
//! [`Limiter::restore`] checks every field against its window kind and refuses
//! anything a limiter cannot have written with [`Error::CorruptSnapshot`],
//! whose [`Corrupt`] says which field and window: times within
//! `0..=MAX_TIME_MS`, counts within the window's limit, a fixed window's bucket
//! the one holding `clockMs`, a token bucket owing at most one full period.
//!
//! Serde support is the `serde` feature (on by default); without it the
//! snapshot is the same plain data, built and read field by field.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::bucket::Bucket;
use crate::fixed::Fixed;
use crate::limiter::{Limiter, Options};
use crate::policy::Policy;
use crate::queue::Queue;
use crate::sliding::{Entry, Sliding};
use crate::window::{Kind, State, Window, WindowSpec};
use crate::{Error, MAX_LIMIT, MAX_PERIOD_MS, MAX_TIME_MS};

/// The snapshot version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Only the version, read first so that a future format is refused by its
/// number and not by whatever field it renamed.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "serde", derive(Deserialize))]
pub struct SnapshotVersion {
    /// The format version.
    pub version: u64,
}

/// A limiter's state. See the module docs for the form.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(rename_all = "camelCase"))]
pub struct Snapshot {
    /// The format version, [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// The latest time the limiter had seen, ms since the epoch.
    pub clock_ms: u64,
    /// Nothing is admitted before this time (0: not paused).
    pub paused_until_ms: u64,
    /// Units of requests in flight (see the module docs).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_zero"))]
    pub in_flight: u64,
    /// The windows, in policy order.
    pub windows: Vec<WindowSnapshot>,
}

/// One window's configuration and state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(rename_all = "camelCase"))]
pub struct WindowSnapshot {
    /// Units per period.
    pub limit: u64,
    /// The period, in ms.
    pub per_ms: u64,
    /// Bucket alignment of a fixed window, in ms after the epoch.
    pub offset_ms: u64,
    /// The counted state; its key names the kind.
    pub state: WindowState,
}

/// The state of one window, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(rename_all = "camelCase"))]
pub enum WindowState {
    /// A [`Kind::Sliding`] window's log.
    #[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
    Sliding {
        /// `(at_ms, cost)` pairs, oldest first.
        log: Vec<(u64, u64)>,
    },
    /// A [`Kind::Fixed`] window's bucket.
    #[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
    Fixed {
        /// Start of the current bucket, the one holding `clockMs` (`null`: that one).
        start_ms: Option<i64>,
        /// Units counted in it.
        count: u64,
        /// Units the server reported that hold in buckets starting before `carry_until_ms`.
        carry_units: u64,
        /// See `carry_units`.
        carry_until_ms: u64,
        /// Where buckets start after each multiple of the period, moved to the
        /// server's clock (absent: the window's own offset).
        #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
        phase_ms: Option<u64>,
        /// How far those boundaries may be off, ms (absent: 0).
        #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_zero"))]
        guard_ms: u64,
        /// Units admitted within `guardMs` of the bucket's end, counted in the next bucket too.
        #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_zero"))]
        spill: u64,
    },
    /// A [`Kind::Bucket`] window's GCRA state.
    #[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
    Bucket {
        /// Whole ms of the theoretical arrival time.
        tat_ms: u64,
        /// The fraction, in `1 / limit` ms.
        tat_rem: u64,
    },
}

/// Why a snapshot was refused: the [`Reason`] and, if it is about one, the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt {
    /// What is wrong.
    pub reason: Reason,
    /// The index of the window it is wrong in.
    pub window: Option<u32>,
}

/// What is wrong with a snapshot. The numbers are stable (see
/// [`Error::detail`]); [`Corrupt::text`] says each in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Reason {
    /// Not data of the snapshot's form (a field missing or of the wrong type).
    Malformed = 1,
    /// `windows` is empty.
    NoWindows = 2,
    /// A window's `limit` is outside `1..=MAX_LIMIT`.
    Limit = 3,
    /// A window's `perMs` is outside `1..=MAX_PERIOD_MS`.
    Period = 4,
    /// A window's `offsetMs` is past `MAX_TIME_MS`.
    Offset = 5,
    /// `clockMs` is past `MAX_TIME_MS`.
    Clock = 6,
    /// `pausedUntilMs` is past `MAX_TIME_MS`.
    Pause = 7,
    /// A sliding log's times are out of order or past `MAX_TIME_MS`.
    LogTime = 8,
    /// A sliding log entry's cost is 0.
    LogCost = 9,
    /// A sliding log counts more than the window's limit.
    LogTotal = 10,
    /// A fixed window's `startMs` is not the start of the bucket holding `clockMs`.
    FixedStart = 11,
    /// A fixed window's `count` is above its limit.
    FixedCount = 12,
    /// A fixed window's `carryUnits` is above its limit or `carryUntilMs` past `MAX_TIME_MS`.
    FixedCarry = 13,
    /// A fixed window's `phaseMs` is not below its period.
    FixedPhase = 14,
    /// A fixed window's `guardMs` is above half its period.
    FixedGuard = 15,
    /// A fixed window's `spill` is above its `count`.
    FixedSpill = 16,
    /// A token bucket's `tatMs` owes more than one full period after `clockMs`.
    BucketTat = 17,
    /// A token bucket's `tatRem` is not below its limit.
    BucketRem = 18,
    /// `inFlight` is above the smallest sliding or fixed limit, or past `MAX_TIME_MS`.
    InFlight = 19,
}

impl Corrupt {
    /// A reason about the whole snapshot.
    pub const fn whole(reason: Reason) -> Self {
        Corrupt { reason, window: None }
    }

    /// A reason about window `window`.
    pub const fn at(window: usize, reason: Reason) -> Self {
        Corrupt { reason, window: Some(window as u32) }
    }

    /// The reason's stable number.
    pub fn code(&self) -> u32 {
        self.reason as u32
    }

    /// The window index, if the reason is about one window.
    pub fn window(&self) -> Option<u64> {
        self.window.map(u64::from)
    }

    /// The reason in words: the field, and what it must be.
    pub fn text(&self) -> &'static str {
        match self.reason {
            Reason::Malformed => "a field is missing or has the wrong type",
            Reason::NoWindows => "`windows` must list at least one window",
            Reason::Limit => "`limit` must be an integer from 1 to 4294967295",
            Reason::Period => "`perMs` must be an integer from 1 to 1099511627776",
            Reason::Offset => "`offsetMs` must be at most 2^53 - 1",
            Reason::Clock => "`clockMs` must be at most 2^53 - 1",
            Reason::Pause => "`pausedUntilMs` must be at most 2^53 - 1",
            Reason::LogTime => "a sliding log must list times in order, each at most 2^53 - 1",
            Reason::LogCost => "a sliding log entry's cost must be at least 1",
            Reason::LogTotal => "a sliding log must count at most the window's `limit`",
            Reason::FixedStart => "a fixed window's `startMs` must be the start of the bucket holding `clockMs`",
            Reason::FixedCount => "a fixed window's `count` must be at most its `limit`",
            Reason::FixedCarry => "a fixed window's `carryUnits` must be at most its `limit` and `carryUntilMs` at most 2^53 - 1",
            Reason::FixedPhase => "a fixed window's `phaseMs` must be below its period",
            Reason::FixedGuard => "a fixed window's `guardMs` must be at most half its period",
            Reason::FixedSpill => "a fixed window's `spill` must be at most its `count`",
            Reason::BucketTat => "a token bucket's `tatMs` must be at most `clockMs` plus its period",
            Reason::BucketRem => "a token bucket's `tatRem` must be below its `limit`",
            Reason::InFlight => "`inFlight` must be at most the smallest sliding or fixed `limit`",
        }
    }
}

impl WindowSnapshot {
    fn kind(&self) -> Kind {
        match self.state {
            WindowState::Sliding { .. } => Kind::Sliding,
            WindowState::Fixed { .. } => Kind::Fixed,
            WindowState::Bucket { .. } => Kind::Bucket,
        }
    }

    fn spec(&self) -> WindowSpec {
        WindowSpec { kind: self.kind(), limit: self.limit, per_ms: self.per_ms, offset_ms: self.offset_ms }
    }
}

#[cfg(feature = "serde")]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Checks a version read with [`SnapshotVersion`] before the whole snapshot is parsed.
pub fn check_version(version: u64) -> Result<(), Error> {
    if version == SNAPSHOT_VERSION as u64 {
        Ok(())
    } else {
        Err(Error::UnsupportedSnapshotVersion { found: version })
    }
}

fn window_of(i: usize, s: &WindowSnapshot, clock_ms: u64) -> Result<Window, Error> {
    let bad = |reason| Error::CorruptSnapshot { why: Corrupt::at(i, reason) };
    let spec = s.spec();
    if spec.limit == 0 || spec.limit > MAX_LIMIT {
        return Err(bad(Reason::Limit));
    }
    if spec.per_ms == 0 || spec.per_ms > MAX_PERIOD_MS {
        return Err(bad(Reason::Period));
    }
    if spec.offset_ms > MAX_TIME_MS {
        return Err(bad(Reason::Offset));
    }
    let (limit, per) = (spec.limit, spec.per_ms);
    let state = match &s.state {
        WindowState::Sliding { log } => {
            // One pass: checked, summed and copied together.
            let (mut prev, mut used) = (0, 0u64);
            let mut entries = VecDeque::with_capacity(log.len());
            for &(at_ms, cost) in log {
                if at_ms < prev || at_ms > MAX_TIME_MS {
                    return Err(bad(Reason::LogTime));
                }
                if cost == 0 {
                    return Err(bad(Reason::LogCost));
                }
                prev = at_ms;
                // Saturating: a sum past u64 is past every limit too.
                used = used.saturating_add(cost);
                entries.push_back(Entry { at_ms, cost });
            }
            if used > limit {
                return Err(bad(Reason::LogTotal));
            }
            State::Sliding(Sliding::from_log(entries, used))
        }
        &WindowState::Fixed { start_ms, count, carry_units, carry_until_ms, phase_ms, guard_ms, spill } => {
            let phase_ms = phase_ms.unwrap_or(spec.phase_ms());
            if phase_ms >= per {
                return Err(bad(Reason::FixedPhase));
            }
            let current = Fixed::bucket_start(clock_ms, per, phase_ms);
            if start_ms.is_some_and(|s| s != current) {
                return Err(bad(Reason::FixedStart));
            }
            if count > limit {
                return Err(bad(Reason::FixedCount));
            }
            if carry_units > limit || carry_until_ms > MAX_TIME_MS {
                return Err(bad(Reason::FixedCarry));
            }
            if guard_ms > per / 2 {
                return Err(bad(Reason::FixedGuard));
            }
            if spill > count {
                return Err(bad(Reason::FixedSpill));
            }
            State::Fixed(Fixed { start_ms: current, count, carry_units, carry_until_ms, phase_ms, guard_ms, spill })
        }
        &WindowState::Bucket { tat_ms, tat_rem } => {
            if tat_rem >= limit {
                return Err(bad(Reason::BucketRem));
            }
            // At most one full bucket owed: `limit` units of `per` past the clock.
            if tat_ms > clock_ms.saturating_add(per) || (tat_ms == clock_ms + per && tat_rem > 0) {
                return Err(bad(Reason::BucketTat));
            }
            State::Bucket(Bucket { tat: tat_ms as u128 * limit as u128 + tat_rem as u128 })
        }
    };
    Ok(Window { spec, state, reconciled: None })
}

/// Hands each window of a snapshot to the function it is given, stopping at
/// the first error (see [`Limiter::restore_from`]).
pub(crate) type EachWindow<'a> = dyn FnMut(&mut dyn FnMut(&WindowSnapshot) -> Result<(), Error>) -> Result<(), Error> + 'a;

impl Limiter {
    /// The full state of the windows, the gate and the clock, at the limiter's
    /// clock. Prefer [`snapshot_at`](Self::snapshot_at) with the current time.
    pub fn snapshot(&self) -> Snapshot {
        let (mut snapshot, windows) = self.snapshot_parts();
        snapshot.windows = windows.collect();
        snapshot
    }

    /// The snapshot without its windows, and the windows' one by one as they
    /// are asked for (the wasm boundary writes each and drops it).
    pub(crate) fn snapshot_parts(&self) -> (Snapshot, impl ExactSizeIterator<Item = WindowSnapshot> + '_) {
        let p = &self.policy;
        let windows = p.windows.iter().map(|w| {
            let s = &w.spec;
            let state = match &w.state {
                State::Sliding(l) => WindowState::Sliding { log: l.log().iter().map(|e| (e.at_ms, e.cost)).collect() },
                State::Fixed(f) => WindowState::Fixed {
                    start_ms: Some(f.start_ms),
                    count: f.count,
                    carry_units: f.carry_units,
                    carry_until_ms: f.carry_until_ms,
                    phase_ms: (f.phase_ms != s.phase_ms()).then_some(f.phase_ms),
                    guard_ms: f.guard_ms,
                    spill: f.spill,
                },
                // Requests in flight are written as `in_flight`, like the log's.
                State::Bucket(b) => {
                    let (tat_ms, tat_rem) = crate::bucket::div_rem(b.tat, s.limit as u128);
                    WindowState::Bucket { tat_ms: tat_ms as u64, tat_rem: tat_rem as u64 }
                }
            };
            WindowSnapshot { limit: s.limit, per_ms: s.per_ms, offset_ms: s.offset_ms, state }
        });
        let head = Snapshot {
            version: SNAPSHOT_VERSION,
            clock_ms: p.clock_ms,
            paused_until_ms: p.gate_ms,
            in_flight: p.in_flight_total,
            windows: Vec::new(),
        };
        (head, windows)
    }

    /// The state at `now_ms` (the clock moves there first, as with
    /// [`advance`](Self::advance)): requests in flight are saved so that a
    /// restored limiter counts them until it is first used after `now_ms`
    /// (see the [`snapshot`](crate::snapshot) module). Errors: `now_ms` past
    /// [`MAX_TIME_MS`](crate::MAX_TIME_MS).
    ///
    /// ```
    /// use tollgate::{Decision, Limiter, Options, WindowSpec};
    /// let opts = Options { count_in_flight: true, ..Options::default() };
    /// let mut l = Limiter::with_options(&[WindowSpec::sliding(1, 60_000)], opts)?;
    /// assert!(matches!(l.try_acquire(1_000, 1)?, Decision::Admit(_)));
    /// let snap = l.snapshot_at(5_000)?; // the process stops; the request may still arrive
    /// let mut next = Limiter::restore(&snap, None, opts)?;
    /// // First call in the new process, at 9 000: the request counts from then.
    /// assert_eq!(next.try_acquire(9_000, 1)?, Decision::Wait { retry_at_ms: 69_000 });
    /// # Ok::<(), tollgate::Error>(())
    /// ```
    pub fn snapshot_at(&mut self, now_ms: u64) -> Result<Snapshot, Error> {
        self.policy.tick(now_ms)?;
        Ok(self.snapshot())
    }

    /// A limiter in the state of `snapshot`, with an empty queue, holding no
    /// permits (those of the limiter that took the snapshot are not its own).
    ///
    /// Every field is checked (see the [`snapshot`](crate::snapshot) module);
    /// a snapshot no limiter can have written is [`Error::CorruptSnapshot`].
    /// If `expected` is given, the snapshot's windows must be exactly those
    /// (kind, limit, period, offset), else [`Error::SnapshotMismatch`]: a changed
    /// quota should start from a fresh state, not from one counted differently.
    pub fn restore(snapshot: &Snapshot, expected: Option<&[WindowSpec]>, options: Options) -> Result<Self, Error> {
        let windows = snapshot.windows.len();
        Self::restore_from(snapshot, windows, &mut |each| snapshot.windows.iter().try_for_each(each), expected, options)
    }

    /// [`restore`](Self::restore) from the snapshot's scalar fields in
    /// `snapshot` (its `windows` unused) and its `windows` windows, which
    /// `each_window` hands to the function it is given one by one (the wasm
    /// boundary reads each off its flat form and drops it: the windows are
    /// never all held twice).
    pub(crate) fn restore_from(
        snapshot: &Snapshot,
        windows: usize,
        each_window: &mut EachWindow<'_>,
        expected: Option<&[WindowSpec]>,
        options: Options,
    ) -> Result<Self, Error> {
        check_version(snapshot.version as u64)?;
        let bad = |reason| Error::CorruptSnapshot { why: Corrupt::whole(reason) };
        if windows == 0 {
            return Err(bad(Reason::NoWindows));
        }
        let clock = snapshot.clock_ms;
        if clock > MAX_TIME_MS {
            return Err(bad(Reason::Clock));
        }
        if snapshot.paused_until_ms > MAX_TIME_MS {
            return Err(bad(Reason::Pause));
        }
        // A loop, not `collect::<Result<_, _>>()`: the same, in less wasm.
        let mut checked = Vec::with_capacity(windows);
        each_window(&mut |w| {
            checked.push(window_of(checked.len(), w, clock)?);
            Ok(())
        })?;
        let windows = checked;
        // In flight units count against every sliding and fixed window.
        let room = windows.iter().filter(|w| w.spec.kind != Kind::Bucket).map(|w| w.spec.limit).min().unwrap_or(MAX_TIME_MS);
        if snapshot.in_flight > room {
            return Err(bad(Reason::InFlight));
        }
        if let Some(expected) = expected {
            if expected.len() != windows.len() || expected.iter().zip(&windows).any(|(e, w)| *e != w.spec) {
                return Err(Error::SnapshotMismatch);
            }
        }
        let mut policy = Policy::with_windows(windows, options.count_in_flight);
        policy.gate_ms = snapshot.paused_until_ms;
        policy.clock_ms = clock;
        policy.orphans = snapshot.in_flight;
        policy.in_flight_total = snapshot.in_flight;
        // Drops what expired by the clock (a log written before its last advance).
        for w in &mut policy.windows {
            w.advance(clock, 0);
        }
        Ok(Limiter { policy, queue: Queue::new(options.max_waiters) })
    }
}
