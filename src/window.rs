//! A window: one "N per P" rule of a policy, and its state.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::bucket::Bucket;
use crate::fixed::Fixed;
use crate::sliding::Sliding;
use crate::{Error, MAX_LIMIT, MAX_PERIOD_MS, MAX_TIME_MS};

/// How a window counts. See the crate docs for which to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(rename_all = "lowercase"))]
pub enum Kind {
    /// Never more than `limit` in any interval of `per_ms` (the default).
    #[default]
    Sliding,
    /// Up to `limit` in each bucket `[k * per_ms + offset_ms, (k + 1) * per_ms + offset_ms)`.
    Fixed,
    /// A token bucket of capacity `limit` refilled at `limit` per `per_ms`, starting full.
    Bucket,
}

/// The configuration of one window: `limit` units per `per_ms` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct WindowSpec {
    /// How the window counts.
    pub kind: Kind,
    /// Units allowed per period, `1..=MAX_LIMIT`.
    pub limit: u64,
    /// The period in milliseconds, `1..=MAX_PERIOD_MS`.
    pub per_ms: u64,
    /// For [`Kind::Fixed`]: where the buckets start, in ms after the Unix epoch
    /// (taken modulo `per_ms`). Ignored by the other kinds.
    #[cfg_attr(feature = "serde", serde(default))]
    pub offset_ms: u64,
}

impl WindowSpec {
    /// A sliding window of `limit` per `per_ms`.
    pub const fn sliding(limit: u64, per_ms: u64) -> Self {
        WindowSpec { kind: Kind::Sliding, limit, per_ms, offset_ms: 0 }
    }

    /// A fixed window of `limit` per `per_ms`, buckets aligned to the epoch plus `offset_ms`.
    pub const fn fixed(limit: u64, per_ms: u64, offset_ms: u64) -> Self {
        WindowSpec { kind: Kind::Fixed, limit, per_ms, offset_ms }
    }

    /// A token bucket of capacity `limit` refilled at `limit` per `per_ms`.
    pub const fn bucket(limit: u64, per_ms: u64) -> Self {
        WindowSpec { kind: Kind::Bucket, limit, per_ms, offset_ms: 0 }
    }

    pub(crate) fn validate(&self, window: usize) -> Result<(), Error> {
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(Error::InvalidLimit { window, limit: self.limit });
        }
        if self.per_ms == 0 || self.per_ms > MAX_PERIOD_MS {
            return Err(Error::InvalidPeriod { window, per_ms: self.per_ms });
        }
        if self.offset_ms > MAX_TIME_MS {
            return Err(Error::InvalidTime { what: "offset" });
        }
        Ok(())
    }

    pub(crate) fn phase_ms(&self) -> u64 {
        self.offset_ms.checked_rem(self.per_ms).unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    Sliding(Sliding),
    Fixed(Fixed),
    Bucket(Bucket),
}

/// A window and its state. All methods assume `now_ms` never decreases
/// (the policy clamps it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) spec: WindowSpec,
    pub(crate) state: State,
    /// `(clock, until)` of the last server report applied to the window: a
    /// permit issued before it may be inside the count the server gave.
    pub(crate) reconciled: Option<(u64, u64)>,
}

impl Window {
    pub(crate) fn new(spec: WindowSpec) -> Self {
        let state = match spec.kind {
            Kind::Sliding => State::Sliding(Sliding::default()),
            Kind::Fixed => State::Fixed(Fixed::new(spec.per_ms, spec.phase_ms())),
            Kind::Bucket => State::Bucket(Bucket::default()),
        };
        Window { spec, state, reconciled: None }
    }

    pub(crate) fn advance(&mut self, now_ms: u64, in_flight: u64) {
        let s = &self.spec;
        match &mut self.state {
            State::Sliding(w) => w.advance(now_ms, s.per_ms),
            State::Fixed(w) => w.advance(now_ms, s.per_ms, in_flight),
            State::Bucket(_) => {}
        }
        self.cap();
    }

    /// Units counted against the limit at `now_ms` (after `advance(now_ms)`),
    /// requests in flight included.
    pub(crate) fn used(&self, now_ms: u64, in_flight: u64) -> u64 {
        match &self.state {
            State::Sliding(w) => w.used().saturating_add(in_flight),
            State::Fixed(w) => w.used(),
            State::Bucket(w) => w.used(now_ms, self.spec.limit, self.spec.per_ms, in_flight),
        }
    }

    /// Whether `cost` fits at `now_ms` (after `advance(now_ms)`): exactly when
    /// [`earliest`](Self::earliest) is `now_ms`, without computing a later time.
    #[inline(always)]
    pub(crate) fn fits(&self, now_ms: u64, cost: u64, in_flight: u64) -> bool {
        let s = &self.spec;
        match &self.state {
            State::Sliding(w) => w.fits(cost, s.limit, in_flight),
            State::Fixed(w) => w.fits(cost, s.limit),
            State::Bucket(_) => self.earliest(now_ms, cost, in_flight) <= now_ms,
        }
    }

    /// Earliest time `>= now_ms` at which `cost` fits (after `advance(now_ms)`),
    /// or [`NEVER`](crate::policy::NEVER) before an in-flight request completes.
    pub(crate) fn earliest(&self, now_ms: u64, cost: u64, in_flight: u64) -> u64 {
        let s = &self.spec;
        match &self.state {
            State::Sliding(w) => w.earliest(now_ms, cost, s.limit, s.per_ms, in_flight),
            State::Fixed(w) => w.earliest(now_ms, cost, s.limit, s.per_ms, in_flight),
            State::Bucket(w) => w.earliest(now_ms, cost, s.limit, s.per_ms, in_flight),
        }
    }

    /// Counts an admission. A tracked (in-flight) one stays out of a sliding log
    /// and a bucket until it completes: meanwhile it is counted as in flight.
    /// Called only for an admission every window has room for (see
    /// `Policy::try_admit`), so a sliding log stays within the limit and needs
    /// no `cap` (on the hot path of every decision); a fixed window's carry may not.
    #[inline(always)]
    pub(crate) fn add(&mut self, now_ms: u64, cost: u64, tracked: bool) {
        let s = &self.spec;
        match &mut self.state {
            State::Sliding(_) | State::Bucket(_) if tracked => {}
            State::Sliding(w) => {
                w.admit(now_ms, cost);
                debug_assert!(w.used() <= s.limit);
            }
            State::Fixed(w) => {
                w.add(now_ms, cost, s.per_ms);
                self.cap();
            }
            State::Bucket(w) => w.add(now_ms, cost, s.limit, s.per_ms),
        }
    }

    /// Keeps every count within the limit. A count can pass it (a completion
    /// counts units again that had already expired, a server reports more),
    /// but units beyond the limit never change a decision: a sliding window
    /// must wait for the oldest of them to expire before any unit fits, so
    /// dropping exactly those leaves every earliest time as it was, and a fixed
    /// bucket at its limit is full either way. Capped, the state stays small
    /// and a snapshot's totals can be checked against the limit.
    pub(crate) fn cap(&mut self) {
        let limit = self.spec.limit;
        match &mut self.state {
            State::Sliding(w) => w.trim_to(limit),
            State::Fixed(w) => {
                w.count = w.count.min(limit);
                w.carry_units = w.carry_units.min(limit);
                w.spill = w.spill.min(w.count);
            }
            State::Bucket(_) => {}
        }
    }

    /// Gives back the units of a permit that was never used (its request was
    /// not sent), issued at `at_ms` and released at `now_ms`; `tracked`: it was
    /// counted as in flight (the caller takes it out of the in-flight total).
    /// Gives back only what the window can tell is that permit's, never more:
    /// what a server counts can only be less than what is left.
    pub(crate) fn release(&mut self, at_ms: u64, cost: u64, now_ms: u64, tracked: bool) {
        let s = &self.spec;
        if let Some((reported_ms, until_ms)) = self.reconciled {
            if reported_ms >= at_ms {
                // The server's count, adopted since, may have been taken as
                // including this permit: keep what is counted. A tracked one was
                // counted only as in flight in a sliding window: keep it there,
                // as sent when the server's count ends.
                if let (true, State::Sliding(w)) = (tracked, &mut self.state) {
                    w.add(until_ms.saturating_sub(s.per_ms).max(now_ms), cost);
                    self.cap();
                } else if let (true, State::Bucket(w)) = (tracked, &mut self.state) {
                    w.land(now_ms, cost.min(s.limit), s.limit, s.per_ms);
                }
                return;
            }
        }
        match &mut self.state {
            // A tracked request is counted only as in flight (a bucket's too).
            State::Sliding(_) | State::Bucket(_) if tracked => {}
            State::Sliding(w) => w.remove(at_ms, cost),
            State::Fixed(w) => {
                // Only the current bucket still counts it: a tracked request is
                // counted there wherever it was admitted, an untracked one only
                // if it was admitted in it.
                let current = Fixed::bucket_start(at_ms, s.per_ms, w.phase_ms) == w.start_ms;
                if tracked || current {
                    let floor = if (w.start_ms) < w.carry_until_ms as i64 { w.carry_units } else { 0 };
                    w.count = w.count.saturating_sub(cost).max(floor);
                    // Admitted within the guard of this bucket's end, it also spilled.
                    let guarded = w.guard_ms > 0
                        && at_ms as i64 >= w.start_ms.saturating_add(s.per_ms as i64).saturating_sub(w.guard_ms as i64);
                    if current && guarded {
                        w.spill = w.spill.saturating_sub(cost);
                    }
                    w.spill = w.spill.min(w.count);
                }
            }
            State::Bucket(w) => w.unadd(at_ms, cost, now_ms, s.limit, s.per_ms),
        }
    }

    /// Aligns a fixed window's buckets to a server clock running `offset_ms`
    /// ahead of ours. Other kinds have no boundaries to align.
    pub(crate) fn realign(&mut self, now_ms: u64, offset_ms: i64, uncertainty_ms: u64) -> bool {
        let s = &self.spec;
        match &mut self.state {
            State::Fixed(w) => {
                // (offset - server offset) mod per, in u64 (no 128-bit division in the wasm).
                let per = s.per_ms;
                let phase = (s.offset_ms % per + per - offset_ms.rem_euclid(per as i64) as u64) % per;
                w.realign(now_ms, s.per_ms, phase, uncertainty_ms)
            }
            _ => false,
        }
    }

    /// A tracked request completed at `to_ms`: a sliding log and a bucket count
    /// it from then; a fixed bucket counted it in every bucket while it was in flight.
    pub(crate) fn settle(&mut self, to_ms: u64, cost: u64) {
        let s = &self.spec;
        match &mut self.state {
            State::Sliding(w) => w.add(to_ms, cost),
            State::Fixed(_) => {}
            // Units landing together (a restored snapshot's) owe a full bucket at most.
            State::Bucket(w) => w.land(to_ms, cost.min(s.limit), s.limit, s.per_ms),
        }
        self.cap();
    }

    pub(crate) fn restamp(&mut self, from_ms: u64, to_ms: u64, cost: u64) {
        let s = &self.spec;
        match &mut self.state {
            State::Sliding(w) => w.restamp(from_ms, to_ms, cost),
            State::Fixed(w) => w.restamp(from_ms, to_ms, cost, s.per_ms),
            State::Bucket(w) => w.restamp(to_ms, cost, s.limit, s.per_ms),
        }
        self.cap();
    }

    /// Adopts the server's count when it is higher than ours. `server_used` is
    /// what the server says is spent; it holds until `until_ms`.
    /// Returns whether anything changed.
    /// `reset_known`: `until_ms` is the server's stated reset (not a guess of a
    /// full period), so a fixed window moves its boundaries there.
    pub(crate) fn reconcile(&mut self, now_ms: u64, server_used: u64, until_ms: u64, in_flight: u64, reset_known: bool) -> bool {
        let changed = self.reconcile_uncapped(now_ms, server_used.min(self.spec.limit), until_ms, in_flight, reset_known);
        self.cap();
        // Even a report our count already covers may count a permit of ours
        // that is never sent: remember it (see `release`).
        let until = self.reconciled.map_or(until_ms, |(_, u)| u.max(until_ms));
        self.reconciled = Some((now_ms, until));
        changed
    }

    fn reconcile_uncapped(&mut self, now_ms: u64, server_used: u64, until_ms: u64, in_flight: u64, reset_known: bool) -> bool {
        let ours = self.used(now_ms, in_flight);
        let s = &self.spec;
        match &mut self.state {
            // What the server counts holds until `until_ms`: enough of our own
            // units are held until then, and the others' units are one entry
            // that frees then.
            State::Sliding(w) => {
                let from = until_ms.saturating_sub(s.per_ms);
                let moved = w.hold(from, server_used.min(w.used()));
                let others = server_used.saturating_sub(ours);
                if others > 0 {
                    w.add(from, others);
                }
                moved || others > 0
            }
            State::Fixed(w) => {
                let before = (w.count, w.carry_units, w.carry_until_ms);
                let moved = reset_known && w.adopt_reset(now_ms, until_ms, s.per_ms);
                w.reconcile(server_used, until_ms, s.per_ms);
                moved || before != (w.count, w.carry_units, w.carry_until_ms)
            }
            // Not compared with `ours`: that is rounded up, and a bucket owing
            // 4.4 units still owes less than a server reporting 5.
            State::Bucket(w) => {
                let before = w.tat;
                w.reconcile(now_ms, server_used, s.limit, s.per_ms);
                w.tat != before
            }
        }
    }
}
