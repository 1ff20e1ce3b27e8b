//! The wasm-bindgen boundary. Each method converts its arguments, calls the
//! core and converts the result; there is no policy logic here.
//!
//! Numbers cross as JS numbers (f64). Windows cross as a flat list of
//! `[kind, limit, perMs, offsetMs]` quadruples (kind 0 sliding, 1 fixed,
//! 2 bucket), so that building a limiter allocates no JS objects. Errors become
//! JS `Error`s whose `name` is [`Error::name`] and whose message is
//! [`Error::message`]; the JS layer turns them into its own classes by name.

use alloc::vec::Vec;
use wasm_bindgen::prelude::*;

use crate::snapshot::{check_version, Snapshot, SnapshotVersion};
use crate::{ms_from_f64, whole_from_f64, Decision, Error, Kind, Limiter, Options, Permit, WaiterId, WindowSpec};

pub(crate) fn js_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message());
    err.set_name(e.name());
    err.into()
}

fn snapshot_error(_why: &'static str) -> JsValue {
    js_error(Error::CorruptSnapshot { why: crate::snapshot::Corrupt::whole(crate::snapshot::Reason::Malformed) })
}

fn cost_of(cost: f64) -> Result<u64, JsValue> {
    whole_from_f64(cost, u32::MAX as u64).ok_or_else(|| js_error(Error::InvalidCost))
}

fn specs_of(flat: &[f64]) -> Result<Vec<WindowSpec>, JsValue> {
    if flat.len() % 4 != 0 {
        return Err(js_error(Error::NoWindows));
    }
    flat.chunks_exact(4)
        .enumerate()
        .map(|(window, w)| {
            let kind = match w[0] as u8 {
                1 => Kind::Fixed,
                2 => Kind::Bucket,
                _ => Kind::Sliding,
            };
            // Out-of-range numbers become 0, which the core refuses by name.
            let limit = whole_from_f64(w[1], u64::MAX).unwrap_or(0);
            let per_ms = whole_from_f64(w[2], u64::MAX).ok_or_else(|| js_error(Error::InvalidPeriod { window, per_ms: 0 }))?;
            let offset_ms = if w[3] == 0.0 { 0 } else { ms_from_f64(w[3], "offset").map_err(js_error)? };
            Ok(WindowSpec { kind, limit, per_ms, offset_ms })
        })
        .collect()
}

fn options_of(max_waiters: f64, count_in_flight: bool) -> Options {
    // Infinity (or anything past u64) means unbounded.
    let max_waiters = if max_waiters >= u64::MAX as f64 { u64::MAX } else { max_waiters as u64 };
    Options { max_waiters, count_in_flight }
}

/// Times cross as numbers; "only after a completion" (`u64::MAX`) as Infinity.
fn time_to_js(at_ms: u64) -> f64 {
    if at_ms == u64::MAX {
        f64::INFINITY
    } else {
        at_ms as f64
    }
}

/// The core limiter as seen from JS. Times are ms since the Unix epoch.
#[wasm_bindgen]
pub struct LimiterCore {
    inner: Limiter,
    /// The error of the last hot-path call that returned NaN (see `tryAcquire`).
    last_error: Option<Error>,
}

#[wasm_bindgen]
impl LimiterCore {
    /// `windows`: flat `[kind, limit, perMs, offsetMs, ...]`; `maxWaiters`: Infinity for unbounded.
    #[wasm_bindgen(constructor)]
    pub fn new(windows: &[f64], max_waiters: f64, count_in_flight: bool) -> Result<LimiterCore, JsValue> {
        let specs = specs_of(windows)?;
        let options = options_of(max_waiters, count_in_flight);
        Ok(LimiterCore { inner: Limiter::with_options(&specs, options).map_err(js_error)?, last_error: None })
    }

    /// Admitted: returns `-atMs` (so `<= 0`). Refused: returns `retryAtMs` (`> 0`;
    /// Infinity when only a completion can make room). An error returns NaN and
    /// is thrown by `takeError()`: a plain number return keeps this hot path
    /// free of the array wasm-bindgen builds for a `Result`.
    #[wasm_bindgen(js_name = tryAcquire)]
    pub fn try_acquire(&mut self, now_ms: f64, cost: f64) -> f64 {
        let decision = ms_from_f64(now_ms, "now").and_then(|now| {
            let cost = whole_from_f64(cost, u32::MAX as u64).ok_or(Error::InvalidCost)?;
            self.inner.try_acquire(now, cost)
        });
        match decision {
            Ok(Decision::Admit(p)) => -(p.at_ms as f64),
            Ok(Decision::Wait { retry_at_ms }) => time_to_js(retry_at_ms),
            Err(e) => {
                self.last_error = Some(e);
                f64::NAN
            }
        }
    }

    /// The error behind the last NaN, as a JS error (`undefined` if none).
    #[wasm_bindgen(js_name = takeError)]
    pub fn take_error(&mut self) -> JsValue {
        self.last_error.take().map_or(JsValue::UNDEFINED, js_error)
    }

    /// Queues a waiter; returns its id (> 0).
    pub fn enqueue(&mut self, cost: f64, priority: f64) -> Result<f64, JsValue> {
        let priority = if priority.fract() == 0.0 && priority >= i32::MIN as f64 && priority <= i32::MAX as f64 {
            priority as i32
        } else {
            return Err(js_error(Error::InvalidPriority));
        };
        Ok(self.inner.enqueue(cost_of(cost)?, priority).map_err(js_error)?.0 as f64)
    }

    /// Admits the head waiter if it fits at `nowMs`: its id, or 0. The permit's
    /// time is `clockMs()`.
    #[wasm_bindgen(js_name = admitNext)]
    pub fn admit_next(&mut self, now_ms: f64) -> Result<f64, JsValue> {
        let now = ms_from_f64(now_ms, "now").map_err(js_error)?;
        Ok(self.inner.admit_next(now).map_err(js_error)?.map_or(0.0, |(id, _)| id.0 as f64))
    }

    /// When the head waiter fits, -1 when no one waits, Infinity when only a
    /// completion can make room.
    #[wasm_bindgen(js_name = nextWakeMs)]
    pub fn next_wake_ms(&self) -> f64 {
        self.inner.next_wake_ms().map_or(-1.0, time_to_js)
    }

    /// Moves the clock to `nowMs` (views then describe that moment).
    pub fn advance(&mut self, now_ms: f64) -> Result<(), JsValue> {
        self.inner.advance(ms_from_f64(now_ms, "now").map_err(js_error)?).map_err(js_error)
    }

    /// The server's clock runs `offsetMs` ahead of ours: align fixed windows.
    #[wasm_bindgen(js_name = alignToServer)]
    pub fn align_to_server(&mut self, offset_ms: f64, uncertainty_ms: f64) -> bool {
        // Finite values within the time range; anything else changes nothing.
        let bound = crate::MAX_TIME_MS as f64;
        if offset_ms.is_nan() || offset_ms.abs() > bound || uncertainty_ms.is_nan() || !(0.0..=bound).contains(&uncertainty_ms) {
            return false;
        }
        self.inner.align_to_server(offset_ms as i64, uncertainty_ms as u64)
    }

    /// When one unit fits in window `window` alone (-1: no such window).
    #[wasm_bindgen(js_name = windowEarliest)]
    pub fn window_earliest(&self, window: f64) -> f64 {
        self.inner.window_earliest(window as usize, 1).map_or(-1.0, time_to_js)
    }

    /// Units admitted and not yet completed.
    #[wasm_bindgen(js_name = inFlight)]
    pub fn in_flight(&self) -> f64 {
        self.inner.in_flight() as f64
    }

    /// Removes a waiter; whether it was queued.
    pub fn cancel(&mut self, id: f64) -> bool {
        self.inner.cancel(WaiterId(id as u64))
    }

    /// Number of queued waiters.
    pub fn waiters(&self) -> f64 {
        self.inner.waiters() as f64
    }

    /// Re-stamps a permit at `atMs`, when its response arrived.
    pub fn complete(&mut self, permit_at_ms: f64, cost: f64, at_ms: f64) -> Result<(), JsValue> {
        let permit = Permit { at_ms: ms_from_f64(permit_at_ms, "permit.at").map_err(js_error)?, cost: cost_of(cost)? };
        self.inner.complete(permit, ms_from_f64(at_ms, "at").map_err(js_error)?).map_err(js_error)
    }

    /// Admits nothing before `untilMs`.
    #[wasm_bindgen(js_name = pauseUntil)]
    pub fn pause_until(&mut self, until_ms: f64) -> Result<(), JsValue> {
        self.inner.pause_until(ms_from_f64(until_ms, "until").map_err(js_error)?).map_err(js_error)
    }

    /// The pause gate (0 when never paused).
    #[wasm_bindgen(js_name = pausedUntilMs)]
    pub fn paused_until_ms(&self) -> f64 {
        self.inner.paused_until_ms() as f64
    }

    /// Server feedback; `resetAtMs` < 0 means unknown. Whether the window changed.
    pub fn reconcile(&mut self, window: f64, remaining: f64, reset_at_ms: f64, now_ms: f64) -> Result<bool, JsValue> {
        let reset = if reset_at_ms < 0.0 { None } else { Some(ms_from_f64(reset_at_ms, "resetAt").map_err(js_error)?) };
        let remaining = if remaining >= 0.0 { remaining as u64 } else { 0 };
        let now = ms_from_f64(now_ms, "now").map_err(js_error)?;
        self.inner.reconcile(window as usize, remaining, reset, now).map_err(js_error)
    }

    /// Units counted in window `window` (-1 if there is no such window).
    pub fn used(&self, window: f64) -> f64 {
        self.inner.used(window as usize).map_or(-1.0, |u| u as f64)
    }

    /// The earliest time `cost` fits, ignoring the queue.
    pub fn earliest(&self, cost: f64) -> Result<f64, JsValue> {
        Ok(time_to_js(self.inner.earliest(cost_of(cost)?).map_err(js_error)?))
    }

    /// When each of the next `n` requests of `cost` would be admitted.
    pub fn plan(&self, now_ms: f64, n: f64, cost: f64) -> Result<Vec<f64>, JsValue> {
        let now = ms_from_f64(now_ms, "now").map_err(js_error)?;
        let n = if n == 0.0 { 0 } else { whole_from_f64(n, u64::MAX).ok_or_else(|| js_error(Error::PlanTooLong { requests: 0 }))? };
        let times = self.inner.plan(now, n.min(usize::MAX as u64) as usize, cost_of(cost)?).map_err(js_error)?;
        Ok(times.into_iter().map(|t| t as f64).collect())
    }

    /// The latest time seen.
    #[wasm_bindgen(js_name = clockMs)]
    pub fn clock_ms(&self) -> f64 {
        self.inner.clock_ms() as f64
    }

    /// The state as a plain JS object (see the crate's `snapshot` module).
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        serde_wasm_bindgen::to_value(&self.inner.snapshot()).map_err(|_| snapshot_error("a value is not a safe JS integer"))
    }

    /// A limiter in a snapshot's state. `windows`: flat specs the snapshot must
    /// match, or empty to take the snapshot's own.
    pub fn restore(snapshot: JsValue, windows: &[f64], max_waiters: f64, count_in_flight: bool) -> Result<LimiterCore, JsValue> {
        let version: SnapshotVersion = serde_wasm_bindgen::from_value(snapshot.clone())
            .map_err(|_| snapshot_error("not an object with a numeric `version`"))?;
        check_version(version.version).map_err(js_error)?;
        let snap: Snapshot = serde_wasm_bindgen::from_value(snapshot)
            .map_err(|_| snapshot_error("a field is missing or has the wrong type"))?;
        let expected = if windows.is_empty() { None } else { Some(specs_of(windows)?) };
        let options = options_of(max_waiters, count_in_flight);
        let inner = Limiter::restore(&snap, expected.as_deref(), options).map_err(js_error)?;
        Ok(LimiterCore { inner, last_error: None })
    }
}
