//! A window: one "N per P" rule of a policy, and its state.

use serde::{Deserialize, Serialize};

use crate::bucket::Bucket;
use crate::fixed::Fixed;
use crate::sliding::Sliding;
use crate::{Error, MAX_LIMIT, MAX_PERIOD_MS, MAX_TIME_MS};

/// How a window counts. See the crate docs for which to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// How the window counts.
    pub kind: Kind,
    /// Units allowed per period, `1..=MAX_LIMIT`.
    pub limit: u64,
    /// The period in milliseconds, `1..=MAX_PERIOD_MS`.
    pub per_ms: u64,
    /// For [`Kind::Fixed`]: where the buckets start, in ms after the Unix epoch
    /// (taken modulo `per_ms`). Ignored by the other kinds.
    #[serde(default)]
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
        self.offset_ms % self.per_ms
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
}

impl Window {
    pub(crate) fn new(spec: WindowSpec) -> Self {
        let state = match spec.kind {
            Kind::Sliding => State::Sliding(Sliding::default()),
            Kind::Fixed => State::Fixed(Fixed::new(spec.per_ms, spec.phase_ms())),
            Kind::Bucket => State::Bucket(Bucket::default()),
        };
        Window { spec, state }
    }

    pub(crate) fn advance(&mut self, now_ms: u64, in_flight: u64) {
        let s = &self.spec;
        match &mut self.state {
            State::Sliding(w) => w.advance(now_ms, s.per_ms),
            State::Fixed(w) => w.advance(now_ms, s.per_ms, in_flight),
            State::Bucket(_) => {}
        }
    }

    /// Units counted against the limit at `now_ms` (after `advance(now_ms)`),
    /// requests in flight included.
    pub(crate) fn used(&self, now_ms: u64, in_flight: u64) -> u64 {
        match &self.state {
            State::Sliding(w) => w.used() + in_flight,
            State::Fixed(w) => w.used(),
            State::Bucket(w) => w.used(now_ms, self.spec.limit, self.spec.per_ms, in_flight),
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
    pub(crate) fn add(&mut self, now_ms: u64, cost: u64, tracked: bool) {
        let s = &self.spec;
        match &mut self.state {
            State::Sliding(_) | State::Bucket(_) if tracked => {}
            State::Sliding(w) => w.add(now_ms, cost),
            State::Fixed(w) => w.add(now_ms, cost, s.per_ms),
            State::Bucket(w) => w.add(now_ms, cost, s.limit, s.per_ms),
        }
    }

    /// Aligns a fixed window's buckets to a server clock running `offset_ms`
    /// ahead of ours. Other kinds have no boundaries to align.
    pub(crate) fn realign(&mut self, now_ms: u64, offset_ms: i64, uncertainty_ms: u64) -> bool {
        let s = &self.spec;
        match &mut self.state {
            State::Fixed(w) => {
                let phase = (s.offset_ms as i128 - offset_ms as i128).rem_euclid(s.per_ms as i128) as u64;
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
            State::Bucket(w) => w.land(to_ms, cost, s.limit, s.per_ms),
        }
    }

    pub(crate) fn restamp(&mut self, from_ms: u64, to_ms: u64, cost: u64) {
        let s = &self.spec;
        match &mut self.state {
            State::Sliding(w) => w.restamp(from_ms, to_ms, cost),
            State::Fixed(w) => w.restamp(from_ms, to_ms, cost, s.per_ms),
            State::Bucket(w) => w.restamp(to_ms, cost, s.limit, s.per_ms),
        }
    }

    /// Adopts the server's count when it is higher than ours. `server_used` is
    /// what the server says is spent; it holds until `until_ms`.
    /// Returns whether anything changed.
    /// `reset_known`: `until_ms` is the server's stated reset (not a guess of a
    /// full period), so a fixed window moves its boundaries there.
    pub(crate) fn reconcile(
        &mut self,
        now_ms: u64,
        server_used: u64,
        until_ms: u64,
        in_flight: u64,
        reset_known: bool,
    ) -> bool {
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
            State::Bucket(_) if server_used <= ours => false,
            State::Bucket(w) => {
                w.reconcile(now_ms, server_used, s.limit, s.per_ms);
                true
            }
        }
    }
}
