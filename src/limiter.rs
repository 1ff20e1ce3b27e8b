//! The limiter: a policy plus its wait queue. Every method takes the time as an
//! argument; nothing here reads a clock.

use alloc::vec::Vec;

use crate::policy::{check_time, Permit, Policy};
use crate::queue::{Queue, WaiterId};
use crate::window::WindowSpec;
use crate::Error;

/// What [`Limiter::try_acquire`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Admitted now; the windows count `permit`.
    Admit(Permit),
    /// Not before `retry_at_ms` (ms since the Unix epoch); nothing was counted.
    /// `u64::MAX` when only the completion of a request in flight can make room,
    /// or when the time would be past [`MAX_TIME_MS`](crate::MAX_TIME_MS).
    Wait {
        /// The earliest time to try again, ms since the epoch.
        retry_at_ms: u64,
    },
}

/// Options of a [`Limiter`] beside its windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The most waiters the queue holds; one more is [`Error::QueueFull`].
    pub max_waiters: u64,
    /// Count each admitted request as in flight, at the current time, in every
    /// sliding and fixed window until [`Limiter::complete`] says its response
    /// arrived (a request may reach the server at any moment until then). Only
    /// for callers that complete every permit: one never completed holds its
    /// units forever.
    pub count_in_flight: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_waiters: u64::MAX, count_in_flight: false }
    }
}

/// Times past [`MAX_TIME_MS`](crate::MAX_TIME_MS) cannot be passed back in (nor
/// held exactly by a JS number): such a wait is reported as `u64::MAX`, "not at
/// any time the limiter can name", like a wait for a completion.
fn in_range(at_ms: u64) -> u64 {
    if at_ms > crate::MAX_TIME_MS {
        crate::policy::NEVER
    } else {
        at_ms
    }
}

/// A multi-window rate limiter with a wait queue.
///
/// ```
/// use tollgate::{Decision, Limiter, WindowSpec};
/// const MINUTE: u64 = 60_000;
/// // Hex's run triggers: 20 per minute AND 60 per hour.
/// let mut hex = Limiter::new(&[WindowSpec::sliding(20, MINUTE), WindowSpec::sliding(60, 60 * MINUTE)]).unwrap();
/// for i in 0..20 {
///     assert!(matches!(hex.try_acquire(i, 1).unwrap(), Decision::Admit(_)));
/// }
/// // The 21st waits until the first slot of the minute frees, to the millisecond.
/// assert_eq!(hex.try_acquire(5_000, 1).unwrap(), Decision::Wait { retry_at_ms: MINUTE });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limiter {
    pub(crate) policy: Policy,
    pub(crate) queue: Queue,
}

impl Limiter {
    /// A limiter with the given windows, all acquired together, and an unbounded queue.
    pub fn new(windows: &[WindowSpec]) -> Result<Self, Error> {
        Self::with_options(windows, Options::default())
    }

    /// A limiter with the given windows and options.
    pub fn with_options(windows: &[WindowSpec], options: Options) -> Result<Self, Error> {
        Ok(Limiter { policy: Policy::new(windows, options.count_in_flight)?, queue: Queue::new(options.max_waiters) })
    }

    /// Admits `cost` units at `now_ms` if every window allows it and no waiter is
    /// queued ahead; otherwise says when to come back and counts nothing.
    ///
    /// With waiters queued, `retry_at_ms` is a lower bound (they go first).
    /// Errors: cost 0, a cost above a window's limit, or a time out of range.
    pub fn try_acquire(&mut self, now_ms: u64, cost: u64) -> Result<Decision, Error> {
        self.policy.check_cost(cost)?;
        // Most often the clock has not moved since the last decision (many a
        // millisecond): nothing to tick, and a time not after the clock is valid.
        let now = if now_ms <= self.policy.clock_ms { self.policy.clock_ms } else { self.policy.tick(now_ms)? };
        if let Some((_, head_cost)) = self.queue.head() {
            let behind = self.policy.earliest(head_cost).max(self.policy.earliest(cost));
            return Ok(Decision::Wait { retry_at_ms: in_range(behind.max(now + 1)) });
        }
        Ok(match self.policy.try_admit(cost) {
            Ok(permit) => Decision::Admit(permit),
            Err(retry_at_ms) => Decision::Wait { retry_at_ms: in_range(retry_at_ms) },
        })
    }

    /// Queues a waiter for `cost` units; higher `priority` goes first, equal
    /// priorities in arrival order. Call [`admit_next`](Self::admit_next) to let
    /// waiters in. Errors: the cost can never fit, or the queue is full.
    pub fn enqueue(&mut self, cost: u64, priority: i32) -> Result<WaiterId, Error> {
        self.policy.check_cost(cost)?;
        self.queue.push(cost, priority)
    }

    /// Admits the head waiter at `now_ms` if the policy allows it. Call until it
    /// returns `None`, then arm one timer for [`next_wake_ms`](Self::next_wake_ms).
    /// A large head blocks smaller waiters behind it, so no one is starved.
    pub fn admit_next(&mut self, now_ms: u64) -> Result<Option<(WaiterId, Permit)>, Error> {
        self.policy.tick(now_ms)?;
        let Some((id, cost)) = self.queue.head() else {
            return Ok(None);
        };
        match self.policy.try_admit(cost) {
            Ok(permit) => {
                self.queue.remove(id);
                Ok(Some((id, permit)))
            }
            Err(_) => Ok(None),
        }
    }

    /// When the head waiter can be admitted (ms since the epoch), exactly;
    /// `None` when no one waits; `Some(u64::MAX)` when only a completion can
    /// make room.
    pub fn next_wake_ms(&self) -> Option<u64> {
        self.queue.head().map(|(_, cost)| in_range(self.policy.earliest(cost)))
    }

    /// Removes a waiter (its caller gave up). Returns whether it was queued.
    pub fn cancel(&mut self, id: WaiterId) -> bool {
        self.queue.remove(id)
    }

    /// Number of queued waiters.
    pub fn waiters(&self) -> usize {
        self.queue.len()
    }

    /// The response to `permit`'s request arrived now, at `now_ms`: count the
    /// request at that time, the latest a server could have seen it. The same
    /// as [`complete_at`](Self::complete_at)`(permit, now_ms, now_ms)`.
    pub fn complete(&mut self, permit: Permit, now_ms: u64) -> Result<(), Error> {
        self.complete_at(permit, now_ms, now_ms)
    }

    /// The response to `permit`'s request arrived at `at_ms`, and it is now
    /// `now_ms`: count the request at `at_ms`, the latest a server could have
    /// seen it, and move the clock to `now_ms`. An `at_ms` before the permit
    /// moves nothing.
    ///
    /// A permit completes (or is [released](Self::release)) exactly once.
    /// Errors, each changing nothing, so the call can be retried with
    /// corrected arguments:
    /// * [`Error::InvalidTime`]: `now_ms` beyond [`MAX_TIME_MS`](crate::MAX_TIME_MS);
    /// * [`Error::CompletionAhead`]: `at_ms` later than the clock (the later
    ///   of `now_ms` and the latest time seen) plus
    ///   [`COMPLETION_TOLERANCE_MS`](crate::COMPLETION_TOLERANCE_MS) (say,
    ///   microseconds passed for milliseconds); up to the tolerance it is read as
    ///   the clock;
    /// * [`Error::PermitNotHeld`]: this limiter did not issue the permit, or
    ///   already had it back.
    ///
    /// With [`Options::count_in_flight`], the request leaves the in-flight set.
    ///
    /// ```
    /// use tollgate::{Decision, Error, Limiter, WindowSpec};
    /// let mut l = Limiter::new(&[WindowSpec::sliding(1, 1_000)])?;
    /// let Decision::Admit(permit) = l.try_acquire(0, 1)? else { unreachable!() };
    /// // Microseconds by mistake: refused, nothing moved.
    /// assert!(matches!(l.complete_at(permit, 250_000, 250), Err(Error::CompletionAhead { .. })));
    /// l.complete_at(permit, 240, 250)?;
    /// assert_eq!(l.complete_at(permit, 240, 250), Err(Error::PermitNotHeld));
    /// assert_eq!(l.earliest(1)?, 1_240);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn complete_at(&mut self, permit: Permit, at_ms: u64, now_ms: u64) -> Result<(), Error> {
        let now = check_time(now_ms, "now")?;
        let latest = now.max(self.policy.clock_ms).saturating_add(crate::COMPLETION_TOLERANCE_MS);
        if at_ms > latest {
            return Err(Error::CompletionAhead { at_ms, latest_ms: latest });
        }
        if !self.holds(permit) {
            return Err(Error::PermitNotHeld);
        }
        let clock = self.policy.tick(now)?;
        self.policy.take_back(permit)?;
        let at = at_ms.min(clock);
        if self.policy.count_in_flight {
            let at = at.max(permit.at_ms);
            for w in &mut self.policy.windows {
                w.settle(at, permit.cost);
            }
        } else if at > permit.at_ms {
            for w in &mut self.policy.windows {
                w.restamp(permit.at_ms, at, permit.cost);
            }
        }
        // A completion stamped long enough ago may have expired already.
        let in_flight = self.policy.in_flight_total;
        for w in &mut self.policy.windows {
            w.advance(clock, in_flight);
        }
        Ok(())
    }

    /// Gives back the units of a permit whose request was never sent (the
    /// caller gave up before sending it), as far as the windows can still tell
    /// they are that permit's: a sliding log drops its entry if it is still
    /// there, a fixed window un-counts it if its bucket is still the current
    /// one (with [`Options::count_in_flight`], it was counted in the current
    /// bucket wherever it was admitted), a token bucket returns what is still
    /// owed of it. With `count_in_flight` it leaves the in-flight set. Never
    /// gives back more than the permit took, so a server that never saw the
    /// request counts at least as much room as the limiter.
    ///
    /// A window that applied a server report ([`reconcile`](Self::reconcile))
    /// after the permit was issued gives nothing back: the server's count may
    /// have been read as including the permit's units (a tracked permit stays
    /// counted in a sliding window, as sent when that report ends).
    ///
    /// Errors: [`Error::PermitNotHeld`] (nothing changes).
    ///
    /// ```
    /// use tollgate::{Decision, Limiter, WindowSpec};
    /// let mut l = Limiter::new(&[WindowSpec::sliding(1, 60_000)])?;
    /// let Decision::Admit(permit) = l.try_acquire(0, 1)? else { unreachable!() };
    /// l.release(permit)?; // aborted before it was sent
    /// assert!(matches!(l.try_acquire(1, 1)?, Decision::Admit(_)));
    /// # Ok::<(), tollgate::Error>(())
    /// ```
    pub fn release(&mut self, permit: Permit) -> Result<(), Error> {
        self.policy.take_back(permit)?;
        let (now, tracked) = (self.policy.clock_ms, self.policy.count_in_flight);
        for w in &mut self.policy.windows {
            w.release(permit.at_ms, permit.cost, now, tracked);
        }
        Ok(())
    }

    /// Whether this limiter issued `permit` and has not had it back.
    pub fn holds(&self, permit: Permit) -> bool {
        permit.at_ms <= self.policy.clock_ms && self.policy.held.holds(permit.at_ms, permit.cost)
    }

    /// Admits nothing before `until_ms` (for Retry-After or a reset). Pauses
    /// only lengthen: an earlier `until_ms` than the current gate changes nothing.
    pub fn pause_until(&mut self, until_ms: u64) -> Result<(), Error> {
        let until = check_time(until_ms, "until")?;
        self.policy.gate_ms = self.policy.gate_ms.max(until);
        Ok(())
    }

    /// The time before which nothing is admitted (0 when never paused).
    pub fn paused_until_ms(&self) -> u64 {
        self.policy.gate_ms
    }

    /// The server reports `remaining` units left in window `window` at `now_ms`,
    /// until `reset_at_ms` (or, if unknown, for a full period). When that is
    /// fewer than we count, adopt the server's view: the quota may be shared.
    /// A report that is already past (`reset_at_ms <= now`) is ignored.
    /// Returns whether the window changed.
    pub fn reconcile(
        &mut self,
        window: usize,
        remaining: u64,
        reset_at_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<bool, Error> {
        let windows = self.policy.windows.len();
        if window >= windows {
            return Err(Error::UnknownWindow { window, windows });
        }
        // Every argument is checked before anything moves.
        check_time(now_ms, "now")?;
        if let Some(at) = reset_at_ms {
            check_time(at, "reset")?;
        }
        let now = self.policy.tick(now_ms)?;
        let in_flight = self.policy.in_flight_total;
        let Some(w) = self.policy.windows.get_mut(window) else { return Err(Error::UnknownWindow { window, windows }) };
        let until = match reset_at_ms {
            Some(at) if at <= now => return Ok(false),
            Some(at) => at,
            // A full period from now, within the time range.
            None => now.saturating_add(w.spec.per_ms).min(crate::MAX_TIME_MS),
        };
        let server_used = w.spec.limit.saturating_sub(remaining);
        Ok(w.reconcile(now, server_used, until, in_flight, reset_at_ms.is_some()))
    }

    /// The windows, as configured.
    pub fn windows(&self) -> impl ExactSizeIterator<Item = &WindowSpec> + '_ {
        self.policy.windows.iter().map(|w| &w.spec)
    }

    /// Units counted in window `window` at the current clock.
    pub fn used(&self, window: usize) -> Option<u64> {
        self.policy.used(window)
    }

    /// Moves the clock to `now_ms` (an earlier time changes nothing) so that
    /// [`used`](Self::used) and the earliest times describe that moment.
    pub fn advance(&mut self, now_ms: u64) -> Result<(), Error> {
        self.policy.tick(now_ms).map(|_| ())
    }

    /// The server's clock runs `offset_ms` ahead of ours (negative: behind), as
    /// its `Date` header says, give or take `uncertainty_ms` (Date has whole
    /// seconds): fixed windows move their buckets to its calendar, keeping what
    /// they counted in the bucket now current, and count what they admit within
    /// `uncertainty_ms` of a boundary in both buckets. Returns whether any
    /// window moved.
    pub fn align_to_server(&mut self, offset_ms: i64, uncertainty_ms: u64) -> bool {
        let now = self.policy.clock_ms;
        let mut moved = false;
        for w in &mut self.policy.windows {
            moved |= w.realign(now, offset_ms, uncertainty_ms);
        }
        moved
    }

    /// When `cost` would fit in window `window` alone (ignoring the other
    /// windows, the gate and the queue); `u64::MAX` when only a completion can
    /// make room, `None` for a window the policy does not have.
    pub fn window_earliest(&self, window: usize, cost: u64) -> Option<u64> {
        let w = self.policy.windows.get(window)?;
        Some(in_range(w.earliest(self.policy.clock_ms, cost.clamp(1, w.spec.limit), self.policy.in_flight_total)))
    }

    /// Units admitted and not yet completed (always 0 without
    /// [`Options::count_in_flight`]).
    pub fn in_flight(&self) -> u64 {
        self.policy.in_flight_total
    }

    /// The earliest time `cost` fits under every window and the gate, ignoring
    /// the queue; `Err` if it never can.
    pub fn earliest(&self, cost: u64) -> Result<u64, Error> {
        self.policy.check_cost(cost)?;
        Ok(in_range(self.policy.earliest(cost)))
    }

    /// The latest time seen, ms since the epoch.
    pub fn clock_ms(&self) -> u64 {
        self.policy.clock_ms
    }

    /// When each of the next `n` requests of `cost` would be admitted from
    /// `now_ms` on (ms since the epoch, in order), if nothing else takes from the windows: the queued
    /// waiters go first, and requests in flight are taken as completed at the
    /// clock. Each time is exactly when [`try_acquire`](Self::try_acquire) would
    /// first admit that request. Computed, not simulated by waiting.
    ///
    /// ```
    /// use tollgate::{Limiter, WindowSpec};
    /// let hex = Limiter::new(&[WindowSpec::sliding(20, 60_000), WindowSpec::sliding(60, 3_600_000)]).unwrap();
    /// let plan = hex.plan(0, 61, 1).unwrap();
    /// assert_eq!((plan[19], plan[20], plan[59], plan[60]), (0, 60_000, 120_000, 3_600_000));
    /// ```
    pub fn plan(&self, now_ms: u64, n: usize, cost: u64) -> Result<Vec<u64>, Error> {
        if n > crate::MAX_PLAN {
            return Err(Error::PlanTooLong { requests: n as u64 });
        }
        self.policy.check_cost(cost)?;
        let mut sim = self.policy.clone_without_held();
        let now = sim.tick(now_ms)?;
        // Requests in flight are taken as completed at the clock.
        let in_flight = core::mem::take(&mut sim.in_flight_total);
        if in_flight > 0 {
            for w in &mut sim.windows {
                w.settle(now, in_flight);
            }
        }
        sim.count_in_flight = false;
        sim.orphans = 0;
        let mut planned = 0u64;
        let mut admit = |sim: &mut Policy, cost: u64| -> Result<u64, Error> {
            let at = sim.earliest(cost);
            if at > crate::MAX_TIME_MS {
                return Err(Error::PlanBeyondTimeRange { planned });
            }
            sim.tick(at)?;
            // `earliest` is exact, so this admits; a refusal would be a bug, not a wait.
            let at = sim.try_admit(cost).map(|p| p.at_ms).map_err(|_| Error::PlanBeyondTimeRange { planned })?;
            planned += 1;
            Ok(at)
        };
        for (_, waiter_cost) in self.queue.iter() {
            admit(&mut sim, waiter_cost)?;
        }
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            times.push(admit(&mut sim, cost)?);
        }
        Ok(times)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    fn counting_in_flight(windows: &[WindowSpec]) -> Limiter {
        Limiter::with_options(windows, Options { count_in_flight: true, ..Options::default() }).unwrap()
    }

    fn admit(l: &mut Limiter, now: u64) -> Permit {
        match l.try_acquire(now, 1).unwrap() {
            Decision::Admit(p) => p,
            d => panic!("refused at {now}: {d:?}"),
        }
    }

    #[test]
    fn a_request_in_flight_longer_than_the_window_still_holds_its_slot() {
        let mut l = counting_in_flight(&[WindowSpec::sliding(1, MINUTE)]);
        let p = admit(&mut l, 0);
        // Two minutes later it may still reach the server: only its completion frees room.
        assert_eq!(l.try_acquire(2 * MINUTE, 1).unwrap(), Decision::Wait { retry_at_ms: u64::MAX });
        assert_eq!(l.used(0), Some(1));
        l.complete(p, 2 * MINUTE + 500).unwrap();
        assert_eq!(l.in_flight(), 0);
        assert_eq!(l.try_acquire(2 * MINUTE + 600, 1).unwrap(), Decision::Wait { retry_at_ms: 3 * MINUTE + 500 });
    }

    #[test]
    fn a_waiter_blocked_by_requests_in_flight_wakes_on_their_completion() {
        let mut l = counting_in_flight(&[WindowSpec::fixed(2, MINUTE, 0)]);
        let a = admit(&mut l, 59_000);
        let _b = admit(&mut l, 59_000);
        let w = l.enqueue(1, 0).unwrap();
        // Both may land in the next minute: no bucket has room before one completes.
        assert_eq!(l.next_wake_ms(), Some(u64::MAX));
        l.complete(a, 59_500).unwrap();
        assert_eq!(l.next_wake_ms(), Some(60_000));
        assert_eq!(l.admit_next(59_999).unwrap(), None);
        assert_eq!(l.admit_next(60_000).unwrap().map(|(id, _)| id), Some(w));
    }

    #[test]
    fn without_counting_in_flight_a_slot_frees_one_period_after_admission() {
        let mut l = Limiter::new(&[WindowSpec::sliding(1, MINUTE)]).unwrap();
        admit(&mut l, 0);
        assert_eq!(l.in_flight(), 0);
        admit(&mut l, MINUTE);
    }

    #[test]
    fn a_restored_snapshot_counts_requests_in_flight_until_it_is_first_used_then_from_then() {
        let mut l = counting_in_flight(&[WindowSpec::sliding(2, MINUTE)]);
        admit(&mut l, 1_000);
        assert!(matches!(l.try_acquire(5_000, 2).unwrap(), Decision::Wait { .. }));
        let snap = l.snapshot_at(7_000).unwrap();
        assert_eq!((snap.in_flight, snap.clock_ms), (1, 7_000));
        let opts = Options { count_in_flight: true, ..Options::default() };
        let mut restored = Limiter::restore(&snap, None, opts).unwrap();
        assert_eq!((restored.used(0), restored.in_flight()), (Some(1), 1));
        // Still in flight at the snapshot's clock: only its landing makes room for 2.
        assert_eq!(restored.try_acquire(7_000, 2).unwrap(), Decision::Wait { retry_at_ms: u64::MAX });
        // The first later time lands it, counted from then.
        restored.advance(9_000).unwrap();
        assert_eq!(restored.in_flight(), 0);
        assert_eq!(restored.earliest(2).unwrap(), 9_000 + MINUTE);
        // Not the restored limiter's permit.
        assert_eq!(restored.complete(Permit { at_ms: 1_000, cost: 1 }, 9_000), Err(Error::PermitNotHeld));
    }
}
