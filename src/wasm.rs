//! The wasm boundary of the limiter: plain exported functions over a table of
//! limiters, numbers in and numbers out. No wasm-bindgen, no imports: no
//! JavaScript can run while a wasm frame is on the stack, and the JS layer
//! (`js/src/core.ts`) reads and checks every input before it calls in.
//!
//! Conventions. A limiter is a handle (its index in the table). Times are ms
//! since the Unix epoch, as JS numbers. A call that fails returns NaN and leaves
//! the error in [`tg_error`]'s area as numbers: a code, three numbers and a
//! `&'static str` (pointer and length) that `js/src/errors.ts` turns into a
//! message; nothing here formats text. Lists (windows, plans, snapshots) cross
//! as f64 arrays in one scratch buffer ([`tg_scratch`]).
//!
//! Traps. A trap (the JS stack running out at a call inside wasm, or a panic)
//! abandons a call half done. The JS layer resets the stack pointer after every
//! throw, and the allocator is trap-safe (`wasm_alloc.rs`). A change of a
//! limiter is never cut short by a full stack: every export that changes
//! anything first calls the stack probe (`wasm_probe.rs`), which traps, before
//! anything has changed, unless far more stack is left than the rest of the
//! call can use. A panic (a bug in the core) can still stop a change half done:
//! the slot is then marked and every later call on that limiter fails with a
//! named error instead of deciding from a broken state.

use alloc::vec::Vec;
use core::cell::UnsafeCell;

use crate::policy::Permit;
use crate::snapshot::{Corrupt, Reason, Snapshot, WindowSnapshot, WindowState};
use crate::{ms_from_f64, whole_from_f64, Decision, Error, Kind, Limiter, Options, WaiterId, WindowSpec};

/// A limiter, and whether a change of it was cut short (see the module docs).
struct Slot {
    live: Limiter,
    /// Set while a change is under way; still set afterwards only if the call
    /// trapped half way (a panic: the probe rules out a full stack).
    busy: bool,
}

/// The limiters; `free` lists handles to reuse.
struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
}

struct Global<T>(UnsafeCell<T>);
// SAFETY: wasm32-unknown-unknown without threads has one thread, and no export
// is re-entered (the module imports nothing, so no JS runs inside a call).
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut T {
        // SAFETY: see `Global`; each of the three is borrowed by one function at a time.
        unsafe { &mut *self.0.get() }
    }
}

static TABLE: Global<Table> = Global(UnsafeCell::new(Table { slots: Vec::new(), free: Vec::new() }));
/// Numbers crossing in bulk: windows, plans, snapshots.
static SCRATCH: Global<Vec<f64>> = Global(UnsafeCell::new(Vec::new()));
/// `[code, window, value, bound, detail, text pointer, text length]` of the last error (-1: none).
static ERROR: Global<[f64; 7]> = Global(UnsafeCell::new([0.0; 7]));

/// An error crosses as numbers ([`Error::code`] and its accessors) and a fixed
/// phrase; `js/src/errors.ts` builds the message.
fn fail(e: Error) -> f64 {
    let text = match e {
        Error::InvalidTime { what } => what,
        Error::CorruptSnapshot { why } => why.text(),
        _ => "",
    };
    let num = |v: Option<u64>| v.map_or(-1.0, |v| v as f64);
    fail_with(e.code(), num(e.window()), num(e.value()), num(e.bound()), e.detail(), text)
}

/// Not a core error: the handle names no limiter (it was disposed).
const NO_LIMITER: u32 = 100;
/// Not a core error: a change of this limiter trapped half way (a bug in the core).
const BROKEN: u32 = 101;

fn fail_with(code: u32, window: f64, value: f64, bound: f64, detail: u32, text: &'static str) -> f64 {
    *ERROR.get() = [code as f64, window, value, bound, detail as f64, text.as_ptr() as usize as f64, text.len() as f64];
    f64::NAN
}

fn done(r: Result<f64, Error>) -> f64 {
    r.unwrap_or_else(fail)
}

/// Times cross as numbers; "only after a completion" (`u64::MAX`) as Infinity.
fn time_to_js(at_ms: u64) -> f64 {
    if at_ms == u64::MAX {
        f64::INFINITY
    } else {
        at_ms as f64
    }
}

/// The live limiter `h`, or `None` with the error set: the handle names no
/// limiter, or a change of it trapped half way. One function, not inlined, so
/// that each export carries only a call.
#[inline(never)]
fn live(h: f64) -> Option<&'static mut Slot> {
    let code = match TABLE.get().slots.get_mut(h as usize) {
        Some(Some(s)) if !s.busy => return Some(s),
        Some(Some(_)) => BROKEN,
        _ => NO_LIMITER,
    };
    fail_with(code, -1.0, h, -1.0, 0, "");
    None
}

/// Runs a change of limiter `h`: the probe first (no trap once it returned),
/// then `f`, which checks its inputs before it changes anything.
fn change(h: f64, f: impl FnOnce(&mut Limiter) -> Result<f64, Error>) -> f64 {
    crate::wasm_probe::reach();
    let Some(s) = live(h) else { return f64::NAN };
    s.busy = true;
    let r = f(&mut s.live);
    s.busy = false;
    done(r)
}

fn read(h: f64, f: impl FnOnce(&Limiter) -> Result<f64, Error>) -> f64 {
    live(h).map_or(f64::NAN, |s| done(f(&s.live)))
}

fn now_of(ms: f64) -> Result<u64, Error> {
    ms_from_f64(ms, "now")
}

fn cost_of(cost: f64) -> Result<u64, Error> {
    whole_from_f64(cost, u32::MAX as u64).ok_or(Error::InvalidCost)
}

fn index_of(i: f64) -> usize {
    if i >= 0.0 && i < u32::MAX as f64 { i as usize } else { usize::MAX }
}

/// Makes room for `n` numbers in the scratch buffer; returns its address.
#[no_mangle]
pub extern "C" fn tg_scratch(n: u32) -> u32 {
    crate::wasm_probe::reach();
    let scratch = SCRATCH.get();
    if scratch.len() < n as usize {
        scratch.resize(n as usize, 0.0);
    }
    scratch.as_ptr() as usize as u32
}

/// The address of the last error's seven numbers.
#[no_mangle]
pub extern "C" fn tg_error() -> u32 {
    ERROR.get().as_ptr() as usize as u32
}

fn specs_of(flat: &[f64]) -> Result<Vec<WindowSpec>, Error> {
    // A loop, not `collect::<Result<_, _>>()`: the same, in less code.
    let mut specs = Vec::with_capacity(flat.len() / 4);
    for (window, w) in flat.chunks_exact(4).enumerate() {
        let kind = match w[0] as u8 {
            1 => Kind::Fixed,
            2 => Kind::Bucket,
            _ => Kind::Sliding,
        };
        // Out-of-range numbers become 0, which the core refuses by name.
        let limit = whole_from_f64(w[1], u64::MAX).unwrap_or(0);
        let per_ms = whole_from_f64(w[2], u64::MAX).ok_or(Error::InvalidPeriod { window, per_ms: 0 })?;
        let offset_ms = if w[3] == 0.0 { 0 } else { ms_from_f64(w[3], "offset")? };
        specs.push(WindowSpec { kind, limit, per_ms, offset_ms });
    }
    Ok(specs)
}

fn options_of(max_waiters: f64, count_in_flight: u32) -> Options {
    // Infinity (or anything past u64) means unbounded.
    let max_waiters = if max_waiters >= u64::MAX as f64 { u64::MAX } else { max_waiters as u64 };
    Options { max_waiters, count_in_flight: count_in_flight != 0 }
}

fn insert(limiter: Limiter) -> f64 {
    let s = TABLE.get();
    crate::wasm_probe::reach();
    let slot = Slot { live: limiter, busy: false };
    let h = match s.free.pop() {
        Some(h) => h as usize,
        None => {
            s.slots.push(None);
            s.slots.len() - 1
        }
    };
    s.slots[h] = Some(slot);
    h as f64
}

/// A limiter with the `windows` windows in the scratch buffer (`[kind, limit,
/// perMs, offsetMs]` each); its handle.
#[no_mangle]
pub extern "C" fn tg_new(windows: u32, max_waiters: f64, count_in_flight: u32) -> f64 {
    let scratch = SCRATCH.get();
    let flat = &scratch[..(windows as usize * 4).min(scratch.len())];
    let made = specs_of(flat).and_then(|specs| Limiter::with_options(&specs, options_of(max_waiters, count_in_flight)));
    match made {
        Ok(l) => insert(l),
        Err(e) => fail(e),
    }
}

/// Frees a limiter at once; its handle is reused.
#[no_mangle]
pub extern "C" fn tg_free(h: f64) {
    crate::wasm_probe::reach();
    let s = TABLE.get();
    if let Some(slot) = s.slots.get_mut(h as usize).and_then(Option::take) {
        s.free.push(h as u32);
        if slot.busy {
            // Half changed by a panic: it may not even drop cleanly; leak it.
            core::mem::forget(slot);
        }
    }
}

/// Admitted: `-atMs` (`<= 0`). Refused: `retryAtMs` (`> 0`; Infinity when only
/// a completion can make room). NaN: an error.
#[no_mangle]
pub extern "C" fn tg_try_acquire(h: f64, now: f64, cost: f64) -> f64 {
    change(h, |l| {
        let (now, cost) = (now_of(now)?, cost_of(cost)?);
        Ok(match l.try_acquire(now, cost)? {
            Decision::Admit(p) => -(p.at_ms as f64),
            Decision::Wait { retry_at_ms } => time_to_js(retry_at_ms),
        })
    })
}

/// Queues a waiter; its id (> 0).
#[no_mangle]
pub extern "C" fn tg_enqueue(h: f64, cost: f64, priority: f64) -> f64 {
    let priority = if priority >= i32::MIN as f64 && priority <= i32::MAX as f64 && (priority as i32) as f64 == priority {
        Ok(priority as i32)
    } else {
        Err(Error::InvalidPriority)
    };
    change(h, |l| Ok(l.enqueue(cost_of(cost)?, priority?)?.0 as f64))
}

/// Admits the head waiter if it fits at `now`: its id, or 0. The permit's time is `tg_clock`.
#[no_mangle]
pub extern "C" fn tg_admit_next(h: f64, now: f64) -> f64 {
    change(h, |l| Ok(l.admit_next(now_of(now)?)?.map_or(0.0, |(id, _)| id.0 as f64)))
}

/// Removes a waiter: 1 if it was queued, else 0.
#[no_mangle]
pub extern "C" fn tg_cancel(h: f64, id: f64) -> f64 {
    change(h, |l| Ok(l.cancel(WaiterId(id as u64)) as u8 as f64))
}

fn permit_of(at: f64, cost: f64) -> Result<Permit, Error> {
    Ok(Permit { at_ms: ms_from_f64(at, "permit.at")?, cost: cost_of(cost)? })
}

/// The permit's response arrived at `at`; it is `now`. Counts the request at `at`.
#[no_mangle]
pub extern "C" fn tg_complete(h: f64, permit_at: f64, cost: f64, at: f64, now: f64) -> f64 {
    change(h, |l| {
        let (permit, at, now) = (permit_of(permit_at, cost)?, ms_from_f64(at, "at")?, now_of(now)?);
        l.complete_at(permit, at, now).map(|_| 0.0)
    })
}

/// Gives back the units of a permit whose request was never sent.
#[no_mangle]
pub extern "C" fn tg_release(h: f64, permit_at: f64, cost: f64) -> f64 {
    change(h, |l| l.release(permit_of(permit_at, cost)?).map(|_| 0.0))
}

/// Admits nothing before `until`.
#[no_mangle]
pub extern "C" fn tg_pause_until(h: f64, until: f64) -> f64 {
    change(h, |l| l.pause_until(ms_from_f64(until, "until")?).map(|_| 0.0))
}

/// Server feedback; `resetAt` < 0: unknown. 1 if the window changed.
#[no_mangle]
pub extern "C" fn tg_reconcile(h: f64, window: f64, remaining: f64, reset_at: f64, now: f64) -> f64 {
    change(h, |l| {
        let reset = if reset_at < 0.0 { None } else { Some(ms_from_f64(reset_at, "resetAt")?) };
        let remaining = if remaining >= 0.0 { remaining as u64 } else { 0 };
        let now = now_of(now)?;
        Ok(l.reconcile(index_of(window), remaining, reset, now)? as u8 as f64)
    })
}

/// Moves the clock to `now`.
#[no_mangle]
pub extern "C" fn tg_advance(h: f64, now: f64) -> f64 {
    change(h, |l| l.advance(now_of(now)?).map(|_| 0.0))
}

/// The server's clock runs `offset` ms ahead: align fixed windows. 1 if any moved.
#[no_mangle]
pub extern "C" fn tg_align(h: f64, offset: f64, uncertainty: f64) -> f64 {
    let bound = crate::MAX_TIME_MS as f64;
    if offset.is_nan() || offset.abs() > bound || uncertainty.is_nan() || !(0.0..=bound).contains(&uncertainty) {
        return read(h, |_| Ok(0.0));
    }
    change(h, |l| Ok(l.align_to_server(offset as i64, uncertainty as u64) as u8 as f64))
}

/// When the head waiter fits; -1 when no one waits; Infinity when only a completion can make room.
#[no_mangle]
pub extern "C" fn tg_next_wake(h: f64) -> f64 {
    read(h, |l| Ok(l.next_wake_ms().map_or(-1.0, time_to_js)))
}

/// Units admitted and not completed.
#[no_mangle]
pub extern "C" fn tg_in_flight(h: f64) -> f64 {
    read(h, |l| Ok(l.in_flight() as f64))
}

/// Queued waiters.
#[no_mangle]
pub extern "C" fn tg_waiters(h: f64) -> f64 {
    read(h, |l| Ok(l.waiters() as f64))
}

/// The pause gate (0: never paused).
#[no_mangle]
pub extern "C" fn tg_paused_until(h: f64) -> f64 {
    read(h, |l| Ok(l.paused_until_ms() as f64))
}

/// The latest time seen.
#[no_mangle]
pub extern "C" fn tg_clock(h: f64) -> f64 {
    read(h, |l| Ok(l.clock_ms() as f64))
}

/// Units counted in window `window` (-1: no such window).
#[no_mangle]
pub extern "C" fn tg_used(h: f64, window: f64) -> f64 {
    read(h, |l| Ok(l.used(index_of(window)).map_or(-1.0, |u| u as f64)))
}

/// When one unit fits in window `window` alone (-1: no such window).
#[no_mangle]
pub extern "C" fn tg_window_earliest(h: f64, window: f64) -> f64 {
    read(h, |l| Ok(l.window_earliest(index_of(window), 1).map_or(-1.0, time_to_js)))
}

/// The earliest time `cost` fits, ignoring the queue.
#[no_mangle]
pub extern "C" fn tg_earliest(h: f64, cost: f64) -> f64 {
    read(h, |l| Ok(time_to_js(l.earliest(cost_of(cost)?)?)))
}

/// Writes when each of the next `n` requests of `cost` would be admitted into
/// the scratch buffer; returns `n`.
#[no_mangle]
pub extern "C" fn tg_plan(h: f64, now: f64, n: f64, cost: f64) -> f64 {
    read(h, |l| {
        let now = now_of(now)?;
        let n = if n == 0.0 { 0 } else { whole_from_f64(n, u64::MAX).ok_or(Error::PlanTooLong { requests: 0 })? };
        let times = l.plan(now, n.min(crate::MAX_PLAN as u64 + 1) as usize, cost_of(cost)?)?;
        let scratch = SCRATCH.get();
        scratch.clear();
        scratch.extend(times.iter().map(|&t| t as f64));
        Ok(times.len() as f64)
    })
}

/// Writes the limiter's snapshot, flat (see the form below), into the
/// scratch buffer; returns its length. Move the clock first (`tg_advance`):
/// then this is the core's `snapshot_at(now)`.
#[no_mangle]
pub extern "C" fn tg_snapshot(h: f64) -> f64 {
    read(h, |l| {
        // Window by window: the snapshot's windows are never all held at once.
        let (s, windows) = l.snapshot_parts();
        let out = SCRATCH.get();
        out.clear();
        out.extend([s.version as f64, s.clock_ms as f64, s.paused_until_ms as f64, s.in_flight as f64, windows.len() as f64]);
        for w in windows {
            flat_window(&w, out);
        }
        Ok(out.len() as f64)
    })
}

/// A limiter in the state of the flat snapshot of `len` numbers in the scratch
/// buffer, whose windows must be the `windows` specs that follow it (0: take
/// the snapshot's own); its handle.
#[no_mangle]
pub extern "C" fn tg_restore(len: u32, windows: u32, max_waiters: f64, count_in_flight: u32) -> f64 {
    let scratch = SCRATCH.get();
    let (len, specs_len) = (len as usize, windows as usize * 4);
    if len.checked_add(specs_len).map_or(true, |end| end > scratch.len()) {
        return fail(TRUNCATED);
    }
    let made = (|| {
        let expected = if windows == 0 { None } else { Some(specs_of(&scratch[len..len + specs_len])?) };
        restore_flat(&scratch[..len], expected.as_deref(), options_of(max_waiters, count_in_flight))
    })();
    match made {
        Ok(l) => insert(l),
        Err(e) => fail(e),
    }
}

// The flat snapshot: `[version, clockMs, pausedUntilMs, inFlight, windows]`, then per
// window `[kind, limit, perMs, offsetMs]` and its state: sliding `[n, (atMs,
// cost) x n]`; fixed `[startMs (NaN: none), count, carryUnits, carryUntilMs,
// phaseMs (-1: none), guardMs, spill]`; bucket `[tatMs, tatRem]`. The JS layer
// turns it into the documented JSON form and back.

fn flat_window(w: &WindowSnapshot, out: &mut Vec<f64>) {
    let kind = match w.state {
        WindowState::Sliding { .. } => 0.0,
        WindowState::Fixed { .. } => 1.0,
        WindowState::Bucket { .. } => 2.0,
    };
    out.extend([kind, w.limit as f64, w.per_ms as f64, w.offset_ms as f64]);
    match &w.state {
        WindowState::Sliding { log } => {
            out.push(log.len() as f64);
            for &(at, cost) in log {
                out.extend([at as f64, cost as f64]);
            }
        }
        &WindowState::Fixed { start_ms, count, carry_units, carry_until_ms, phase_ms, guard_ms, spill } => out.extend([
            start_ms.map_or(f64::NAN, |s| s as f64),
            count as f64,
            carry_units as f64,
            carry_until_ms as f64,
            phase_ms.map_or(-1.0, |p| p as f64),
            guard_ms as f64,
            spill as f64,
        ]),
        &WindowState::Bucket { tat_ms, tat_rem } => out.extend([tat_ms as f64, tat_rem as f64]),
    }
}

/// Reads numbers off a flat snapshot; every one must be a whole number in range.
struct Reader<'a>(core::slice::Iter<'a, f64>);

const TRUNCATED: Error = Error::CorruptSnapshot { why: Corrupt::whole(Reason::Malformed) };
const NOT_WHOLE: Error = Error::CorruptSnapshot { why: Corrupt::whole(Reason::Malformed) };

impl Reader<'_> {
    #[inline(never)]
    fn raw(&mut self) -> Result<f64, Error> {
        self.0.next().copied().ok_or(TRUNCATED)
    }

    fn whole(&mut self) -> Result<u64, Error> {
        self.up_to(crate::MAX_TIME_MS)
    }

    /// A bucket's `tatMs` may pass 2^53 by up to a period.
    fn wide(&mut self) -> Result<u64, Error> {
        self.up_to(crate::MAX_TIME_MS + crate::MAX_PERIOD_MS)
    }

    /// A whole number from 0 to `max`.
    #[inline(never)]
    fn up_to(&mut self, max: u64) -> Result<u64, Error> {
        let v = self.raw()?;
        if v == 0.0 {
            return Ok(0);
        }
        whole_from_f64(v, max).ok_or(NOT_WHOLE)
    }

    #[inline(never)]
    fn signed(&mut self) -> Result<i64, Error> {
        let v = self.raw()?;
        let bound = (crate::MAX_TIME_MS + crate::MAX_PERIOD_MS) as f64;
        if !(-bound..=bound).contains(&v) || (v as i64) as f64 != v {
            return Err(NOT_WHOLE);
        }
        Ok(v as i64)
    }
}

/// The core's restore, fed one window at a time off the flat form.
fn restore_flat(flat: &[f64], expected: Option<&[WindowSpec]>, options: Options) -> Result<Limiter, Error> {
    let mut r = Reader(flat.iter());
    let version = r.whole()?;
    crate::snapshot::check_version(version)?;
    let clock_ms = r.whole()?;
    let paused_until_ms = r.whole()?;
    let in_flight = r.whole()?;
    let n = r.whole()? as usize;
    if n > flat.len() / 6 {
        return Err(TRUNCATED);
    }
    let head = Snapshot { version: version as u32, clock_ms, paused_until_ms, in_flight, windows: Vec::new() };
    Limiter::restore_from(&head, n, &mut |each| {
        for _ in 0..n {
            each(&window_of(&mut r, flat.len())?)?;
        }
        if r.0.next().is_some() {
            return Err(TRUNCATED);
        }
        Ok(())
    }, expected, options)
}

/// One window off the flat form (`len`: the whole form's, a bound on any count in it).
fn window_of(r: &mut Reader, len: usize) -> Result<WindowSnapshot, Error> {
    let kind = r.whole()?;
    let (limit, per_ms, offset_ms) = (r.whole()?, r.whole()?, r.whole()?);
    let state = match kind {
        0 => {
            let entries = r.whole()? as usize;
            if entries > len / 2 {
                return Err(TRUNCATED);
            }
            let mut log = Vec::with_capacity(entries);
            for _ in 0..entries {
                log.push((r.whole()?, r.whole()?));
            }
            WindowState::Sliding { log }
        }
        1 => {
            let start = r.raw()?;
            let start_ms = if start.is_nan() { None } else { Some(Reader([start].iter()).signed()?) };
            let (count, carry_units, carry_until_ms) = (r.whole()?, r.whole()?, r.whole()?);
            let phase = r.raw()?;
            let phase_ms = if phase == -1.0 { None } else { Some(Reader([phase].iter()).whole()?) };
            WindowState::Fixed { start_ms, count, carry_units, carry_until_ms, phase_ms, guard_ms: r.whole()?, spill: r.whole()? }
        }
        2 => WindowState::Bucket { tat_ms: r.wide()?, tat_rem: r.whole()? },
        _ => return Err(NOT_WHOLE),
    };
    Ok(WindowSnapshot { limit, per_ms, offset_ms, state })
}
