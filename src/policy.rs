//! A policy: several windows acquired all-or-nothing, a pause gate, and a clock
//! that never goes back.

use alloc::vec::Vec;

use crate::held::Held;
use crate::window::{Window, WindowSpec};
use crate::{Error, MAX_TIME_MS};

/// An admitted request's hold on its windows: `cost` units counted at `at_ms`.
///
/// Hand it back to [`Limiter::complete`](crate::Limiter::complete) when the
/// response arrives so the windows count it at that later time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    /// When the windows counted the request, in ms since the Unix epoch.
    pub at_ms: u64,
    /// Units taken from every window.
    pub cost: u64,
}

/// "Not at any time we can name": only the completion of a request in flight
/// can make room (see [`Options::count_in_flight`](crate::Options)).
pub(crate) const NEVER: u64 = u64::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) windows: Vec<Window>,
    /// Nothing is admitted before this time (server feedback such as Retry-After).
    pub(crate) gate_ms: u64,
    /// The latest time seen. Earlier times are read as this one, so a clock
    /// that jumps back never frees a slot.
    pub(crate) clock_ms: u64,
    /// Whether admitted requests count as in flight until they complete.
    pub(crate) count_in_flight: bool,
    /// Permits issued and not yet completed or released.
    pub(crate) held: Held,
    /// Units counted as in flight: the held permits' with `count_in_flight`,
    /// plus `orphans`.
    pub(crate) in_flight_total: u64,
    /// Units a restored snapshot says were in flight in the process that took
    /// it. Their responses will never be seen here, and they may reach the
    /// server until that process is gone: they count as in flight until the
    /// first time this limiter sees after its restored clock, and land then.
    pub(crate) orphans: u64,
    /// The longest window period: a permit older than that has left every window.
    pub(crate) horizon_ms: u64,
}

pub(crate) fn check_time(at_ms: u64, what: &'static str) -> Result<u64, Error> {
    if at_ms > MAX_TIME_MS {
        Err(Error::InvalidTime { what })
    } else {
        Ok(at_ms)
    }
}

impl Policy {
    pub(crate) fn new(specs: &[WindowSpec], count_in_flight: bool) -> Result<Self, Error> {
        if specs.is_empty() {
            return Err(Error::NoWindows);
        }
        for (i, s) in specs.iter().enumerate() {
            s.validate(i)?;
        }
        Ok(Policy::with_windows(specs.iter().map(|s| Window::new(*s)).collect(), count_in_flight))
    }

    /// A policy over windows already checked, at clock 0, nothing held.
    pub(crate) fn with_windows(windows: Vec<Window>, count_in_flight: bool) -> Self {
        let horizon_ms = windows.iter().map(|w| w.spec.per_ms).max().unwrap_or(0);
        Policy {
            windows,
            gate_ms: 0,
            clock_ms: 0,
            count_in_flight,
            held: Held::default(),
            in_flight_total: 0,
            orphans: 0,
            horizon_ms,
        }
    }

    /// This policy without its held permits: a plan's simulation, where they
    /// play no part (and not cloning them keeps a second deque clone out of the
    /// wasm). Every field is named, so a field added later is decided on here,
    /// not silently left at a default.
    pub(crate) fn clone_without_held(&self) -> Policy {
        let Policy { windows, gate_ms, clock_ms, count_in_flight, held: _, in_flight_total, orphans, horizon_ms } = self;
        Policy {
            windows: windows.clone(),
            gate_ms: *gate_ms,
            clock_ms: *clock_ms,
            count_in_flight: *count_in_flight,
            held: Held::default(),
            in_flight_total: *in_flight_total,
            orphans: *orphans,
            horizon_ms: *horizon_ms,
        }
    }

    /// Moves the clock to `now_ms` (or keeps it, if `now_ms` is earlier) and
    /// lets every window forget what has expired. Returns the clock.
    pub(crate) fn tick(&mut self, now_ms: u64) -> Result<u64, Error> {
        let now = check_time(now_ms, "now")?;
        if now > self.clock_ms {
            self.clock_ms = now;
            for w in &mut self.windows {
                w.advance(now, self.in_flight_total);
            }
            // Permits issued before `now - horizon` have left every window.
            self.held.retire_before(now.saturating_sub(self.horizon_ms));
            if self.orphans > 0 {
                let orphans = core::mem::take(&mut self.orphans);
                self.in_flight_total = self.in_flight_total.saturating_sub(orphans);
                for w in &mut self.windows {
                    w.settle(now, orphans);
                }
            }
        }
        Ok(self.clock_ms)
    }

    /// Errors unless `cost` can ever be admitted.
    // Called, not inlined (called by every export that takes a cost): about 0.1 KB less wasm (twiggy, gzip).
    #[inline(never)]
    pub(crate) fn check_cost(&self, cost: u64) -> Result<(), Error> {
        if cost == 0 {
            return Err(Error::InvalidCost);
        }
        for (window, w) in self.windows.iter().enumerate() {
            if cost > w.spec.limit {
                return Err(Error::InsufficientCapacity { cost, window, limit: w.spec.limit });
            }
        }
        Ok(())
    }

    /// The earliest time `>= clock` at which every window and the gate admit `cost`.
    /// Each window alone admits from its own earliest time on (admission is
    /// monotone in time), so the latest of them is exact for the whole policy.
    pub(crate) fn earliest(&self, cost: u64) -> u64 {
        let now = self.clock_ms;
        let in_flight = self.in_flight_total;
        self.windows.iter().fold(self.gate_ms.max(now), |at, w| at.max(w.earliest(now, cost, in_flight)))
    }

    /// Admits `cost` at the current clock if every window allows it.
    pub(crate) fn try_admit(&mut self, cost: u64) -> Result<Permit, u64> {
        let now = self.clock_ms;
        let in_flight = self.in_flight_total;
        // The common case in one cheap pass: the gate is open and every window
        // has room now, which is exactly when `earliest` is `now`. Only a
        // refusal needs the earliest time (a walk over the logs).
        if self.gate_ms > now || !self.windows.iter().all(|w| w.fits(now, cost, in_flight)) {
            let retry_at = self.earliest(cost);
            if retry_at > now {
                return Err(retry_at);
            }
        }
        let tracked = self.count_in_flight;
        for w in &mut self.windows {
            w.add(now, cost, tracked);
        }
        if tracked {
            self.in_flight_total = self.in_flight_total.saturating_add(cost);
        }
        self.held.push(now, cost);
        Ok(Permit { at_ms: now, cost })
    }

    /// Takes `permit` back (it completed or was released): `Err` if it is not
    /// held (never issued, already back, or not this limiter's), changing nothing.
    pub(crate) fn take_back(&mut self, permit: Permit) -> Result<(), Error> {
        if permit.at_ms > self.clock_ms || !self.held.take(permit.at_ms, permit.cost) {
            return Err(Error::PermitNotHeld);
        }
        if self.count_in_flight {
            self.in_flight_total = self.in_flight_total.saturating_sub(permit.cost);
        }
        Ok(())
    }

    /// Units used in window `i` at the clock, in-flight requests included.
    pub(crate) fn used(&self, i: usize) -> Option<u64> {
        self.windows.get(i).map(|w| w.used(self.clock_ms, self.in_flight_total))
    }
}
