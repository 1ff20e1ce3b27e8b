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
//! Requests in flight are written into sliding logs as sent at `clockMs`.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::bucket::Bucket;
use crate::fixed::Fixed;
use crate::limiter::{Limiter, Options};
use crate::policy::Policy;
use crate::queue::Queue;
use crate::sliding::{Entry, Sliding};
use crate::window::{Kind, State, Window, WindowSpec};
use crate::{Error, MAX_PERIOD_MS, MAX_TIME_MS};

/// The snapshot version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Only the version, read first so that a future format is refused by its
/// number and not by whatever field it renamed.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct SnapshotVersion {
    /// The format version.
    pub version: u64,
}

/// A limiter's state. See the module docs for the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// The format version, [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// The latest time the limiter had seen, ms since the epoch.
    pub clock_ms: u64,
    /// Nothing is admitted before this time (0: not paused).
    pub paused_until_ms: u64,
    /// The windows, in policy order.
    pub windows: Vec<WindowSnapshot>,
}

/// One window's configuration and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WindowState {
    /// A [`Kind::Sliding`] window's log.
    #[serde(rename_all = "camelCase")]
    Sliding {
        /// `(at_ms, cost)` pairs, oldest first.
        log: Vec<(u64, u64)>,
    },
    /// A [`Kind::Fixed`] window's bucket.
    #[serde(rename_all = "camelCase")]
    Fixed {
        /// Start of the current bucket (`null`: none yet).
        start_ms: Option<i64>,
        /// Units counted in it.
        count: u64,
        /// Units the server reported that hold in buckets starting before `carry_until_ms`.
        carry_units: u64,
        /// See `carry_units`.
        carry_until_ms: u64,
        /// Where buckets start after each multiple of the period, moved to the
        /// server's clock (absent: the window's own offset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase_ms: Option<u64>,
        /// How far those boundaries may be off, ms (absent: 0).
        #[serde(default, skip_serializing_if = "is_zero")]
        guard_ms: u64,
        /// Units admitted within `guardMs` of the bucket's end, counted in the next bucket too.
        #[serde(default, skip_serializing_if = "is_zero")]
        spill: u64,
    },
    /// A [`Kind::Bucket`] window's GCRA state.
    #[serde(rename_all = "camelCase")]
    Bucket {
        /// Whole ms of the theoretical arrival time.
        tat_ms: u64,
        /// The fraction, in `1 / limit` ms.
        tat_rem: u64,
    },
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

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn corrupt(why: &'static str) -> Error {
    Error::CorruptSnapshot { why }
}

/// Checks a version read with [`SnapshotVersion`] before the whole snapshot is parsed.
pub fn check_version(version: u64) -> Result<(), Error> {
    if version == SNAPSHOT_VERSION as u64 {
        Ok(())
    } else {
        Err(Error::UnsupportedSnapshotVersion { found: version })
    }
}

fn window_of(i: usize, s: &WindowSnapshot) -> Result<Window, Error> {
    let spec = s.spec();
    spec.validate(i)?;
    let state = match &s.state {
        WindowState::Sliding { log } => {
            let mut prev = 0;
            for &(at_ms, cost) in log {
                if at_ms < prev || at_ms > MAX_TIME_MS {
                    return Err(corrupt("a sliding log must list times in order, each at most 2^53 - 1"));
                }
                if cost == 0 || cost > MAX_TIME_MS {
                    return Err(corrupt("a sliding log entry's cost must be from 1 to 2^53 - 1"));
                }
                prev = at_ms;
            }
            State::Sliding(Sliding::from_log(log.iter().map(|&(at_ms, cost)| Entry { at_ms, cost }).collect()))
        }
        &WindowState::Fixed { start_ms, count, carry_units, carry_until_ms, phase_ms, guard_ms, spill } => {
            if count > MAX_TIME_MS || carry_units > MAX_TIME_MS || carry_until_ms > MAX_TIME_MS {
                return Err(corrupt("a fixed window's counts and times must be at most 2^53 - 1"));
            }
            if start_ms.is_some_and(|s| s < -(MAX_PERIOD_MS as i64) || s > MAX_TIME_MS as i64) {
                return Err(corrupt("a fixed window's `startMs` is out of range"));
            }
            let start_ms = start_ms.unwrap_or_else(|| Fixed::bucket_start(0, spec.per_ms, spec.offset_ms % spec.per_ms));
            let phase_ms = phase_ms.unwrap_or(spec.offset_ms % spec.per_ms);
            if phase_ms >= spec.per_ms || guard_ms > spec.per_ms / 2 || spill > count {
                return Err(corrupt("a fixed window's `phaseMs` must be below its period, `guardMs` at most half of it, `spill` at most `count`"));
            }
            State::Fixed(Fixed { start_ms, count, carry_units, carry_until_ms, phase_ms, guard_ms, spill })
        }
        &WindowState::Bucket { tat_ms, tat_rem } => {
            if tat_ms > MAX_TIME_MS + MAX_PERIOD_MS || tat_rem >= s.limit {
                return Err(corrupt("a bucket's `tatMs` must be at most 2^53 + 2^40 and `tatRem` below its limit"));
            }
            State::Bucket(Bucket { tat: tat_ms as u128 * s.limit as u128 + tat_rem as u128 })
        }
    };
    Ok(Window { spec, state })
}

impl Limiter {
    /// The full state of the windows, the gate and the clock.
    pub fn snapshot(&self) -> Snapshot {
        let p = &self.policy;
        let windows = p
            .windows
            .iter()
            .map(|w| {
                let s = &w.spec;
                let state = match &w.state {
                    State::Sliding(l) => {
                        // Requests still in flight are written as sent now: a
                        // restarted process will never see their responses.
                        let mut l = l.clone();
                        if p.in_flight_total > 0 {
                            l.add(p.clock_ms, p.in_flight_total);
                        }
                        WindowState::Sliding { log: l.log().iter().map(|e| (e.at_ms, e.cost)).collect() }
                    }
                    State::Fixed(f) => WindowState::Fixed {
                        start_ms: (f.start_ms != i64::MIN).then_some(f.start_ms),
                        count: f.count,
                        carry_units: f.carry_units,
                        carry_until_ms: f.carry_until_ms,
                        phase_ms: (f.phase_ms != s.offset_ms % s.per_ms).then_some(f.phase_ms),
                        guard_ms: f.guard_ms,
                        spill: f.spill,
                    },
                    State::Bucket(b) => {
                        // As for the log: requests in flight are written as sent now.
                        let mut b = b.clone();
                        if p.in_flight_total > 0 {
                            b.land(p.clock_ms, p.in_flight_total, s.limit, s.per_ms);
                        }
                        WindowState::Bucket {
                            tat_ms: (b.tat / s.limit as u128) as u64,
                            tat_rem: (b.tat % s.limit as u128) as u64,
                        }
                    }
                };
                WindowSnapshot { limit: s.limit, per_ms: s.per_ms, offset_ms: s.offset_ms, state }
            })
            .collect();
        Snapshot { version: SNAPSHOT_VERSION, clock_ms: p.clock_ms, paused_until_ms: p.gate_ms, windows }
    }

    /// A limiter in the state of `snapshot`, with an empty queue.
    ///
    /// If `expected` is given, the snapshot's windows must be exactly those
    /// (kind, limit, period, offset), else [`Error::SnapshotMismatch`]: a changed
    /// quota should start from a fresh state, not from one counted differently.
    pub fn restore(snapshot: &Snapshot, expected: Option<&[WindowSpec]>, options: Options) -> Result<Self, Error> {
        check_version(snapshot.version as u64)?;
        if snapshot.windows.is_empty() {
            return Err(Error::NoWindows);
        }
        if snapshot.clock_ms > MAX_TIME_MS || snapshot.paused_until_ms > MAX_TIME_MS {
            return Err(corrupt("`clockMs` and `pausedUntilMs` must be at most 2^53 - 1"));
        }
        let windows = snapshot.windows.iter().enumerate().map(|(i, w)| window_of(i, w)).collect::<Result<Vec<_>, _>>()?;
        if let Some(expected) = expected {
            if expected.len() != windows.len() || expected.iter().zip(&windows).any(|(e, w)| *e != w.spec) {
                return Err(Error::SnapshotMismatch);
            }
        }
        let policy = Policy {
            windows,
            gate_ms: snapshot.paused_until_ms,
            clock_ms: snapshot.clock_ms,
            count_in_flight: options.count_in_flight,
            in_flight: Default::default(),
            in_flight_total: 0,
        };
        Ok(Limiter { policy, queue: Queue::new(options.max_waiters) })
    }
}
