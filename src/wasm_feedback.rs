//! The wasm boundary of [`headers`](crate::headers) and [`retry`](crate::retry),
//! a module of its own (`pkg/web/tollgate_feedback.wasm`), loaded only by what
//! reads server feedback or retries (`rateLimitedFetch`,
//! `parseRateLimitHeaders`). Like the limiter's boundary (`wasm.rs`): plain
//! exports, no wasm-bindgen, no serde, no `core::fmt`, no imports; numbers and
//! bytes in wasm memory in, numbers out. `js/src/wasm/feedback.ts` writes the
//! inputs, reads the results back and shapes them; every decision is made by
//! the core here.
//!
//! Conventions. Header text goes into the input area ([`tf_input`]); results go
//! into the output area ([`tf_out`]) as f64s, strings as byte ranges of the
//! name area ([`tf_names`]) or as `&'static str` pointers. A call that fails
//! returns NaN with `[kind, argument]` in the output area; the JS side builds
//! the message. Absent values are -1 (times and counts are never negative).
//!
//! State: none beyond those areas. A retry budget is kept by the caller and
//! passed in with each decision. A trap (the JS stack running out) can abandon
//! a call at any function call: the areas are replaced whole (`mem::replace`),
//! never grown in place, so a trap leaks at most that call's temporaries.

use alloc::vec;
use alloc::vec::Vec;
use core::cell::UnsafeCell;

use crate::headers::parse_feedback;
use crate::retry::{decide, Attempt, GiveUp, Outcome, RetryBudget, RetryDecision, RetryPolicy};
use crate::{ms_from_f64, whole_from_f64, MAX_TIME_MS};

/// wasm32-unknown-unknown has one thread: no call is ever re-entered.
struct Global<T>(UnsafeCell<T>);

// SAFETY: one thread (see above).
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut T {
        // SAFETY: one thread, and each export borrows each area once at a time.
        unsafe { &mut *self.0.get() }
    }
}

/// The header text of the next [`tf_parse`] (UTF-8, written by JS).
static INPUT: Global<Vec<u8>> = Global(UnsafeCell::new(Vec::new()));
/// The last call's numbers.
static OUT: Global<Vec<f64>> = Global(UnsafeCell::new(Vec::new()));
/// The last [`tf_parse`]'s window names, back to back.
static NAMES: Global<Vec<u8>> = Global(UnsafeCell::new(Vec::new()));

/// Error kinds (the first number of the output area after a NaN); the second
/// is the argument's position in the call (0-based). `js/src/wasm/feedback.ts`
/// names the argument and builds the message.
const WHOLE: f64 = 1.0; // a whole number from 1 to u32::MAX
const DURATION: f64 = 2.0; // a whole number of ms from 0 to MAX_TIME_MS
const RATIO: f64 = 3.0; // tokens per success, 0 to u32::MAX / 1000
const STATUS: f64 = 4.0; // an HTTP status, 0 or -1
const TIME: f64 = 5.0; // a time, ms since the epoch, 0 to MAX_TIME_MS

fn fail(kind: f64, argument: usize) -> f64 {
    put(vec![kind, argument as f64]);
    f64::NAN
}

fn put(out: Vec<f64>) {
    drop(core::mem::replace(OUT.get(), out));
}

/// The output area's address (valid until the next call).
#[no_mangle]
pub extern "C" fn tf_out() -> u32 {
    OUT.get().as_ptr() as usize as u32
}

/// The name area's address (valid until the next call).
#[no_mangle]
pub extern "C" fn tf_names() -> u32 {
    NAMES.get().as_ptr() as usize as u32
}

/// Makes an input area of `len` bytes and returns its address, for JS to write
/// the header text of the next [`tf_parse`] into.
#[no_mangle]
pub extern "C" fn tf_input(len: u32) -> u32 {
    let input = INPUT.get();
    if input.len() < len as usize {
        drop(core::mem::replace(input, vec![0; len as usize]));
    }
    input.as_ptr() as usize as u32
}

/// Parses the first `len` bytes of the input area (`name: value` lines,
/// `\n`-separated) as at `now_ms`. Returns the count of numbers in the output
/// area: `[retryAtMs, serverOffsetMs, hasOffset, then per window: limit,
/// remaining, resetAtMs, windowMs, nameStart, nameLength]`, -1 for each value
/// absent. -1 when `now_ms` is not a valid time or the text is not UTF-8.
#[no_mangle]
pub extern "C" fn tf_parse(len: u32, now_ms: f64) -> f64 {
    let input = INPUT.get();
    let (Ok(now), Some(bytes)) = (ms_from_f64(now_ms, "now"), input.get(..len as usize)) else {
        return -1.0;
    };
    let Ok(text) = core::str::from_utf8(bytes) else { return -1.0 };
    let feedback = parse_feedback(text.lines().filter_map(|line| line.split_once(':')), now);
    let num = |v: Option<u64>| v.map_or(-1.0, |v| v as f64);
    let mut out = Vec::with_capacity(3 + 6 * feedback.windows.len());
    out.extend_from_slice(&[
        num(feedback.retry_at_ms),
        feedback.server_offset_ms.unwrap_or(0) as f64,
        if feedback.server_offset_ms.is_some() { 1.0 } else { 0.0 },
    ]);
    let mut names = Vec::new();
    for w in &feedback.windows {
        out.extend_from_slice(&[num(w.limit), num(w.remaining), num(w.reset_at_ms), num(w.window_ms)]);
        match &w.name {
            Some(name) => {
                out.extend_from_slice(&[names.len() as f64, name.len() as f64]);
                names.extend_from_slice(name.as_bytes());
            }
            None => out.extend_from_slice(&[-1.0, -1.0]),
        }
    }
    let count = out.len() as f64;
    drop(core::mem::replace(NAMES.get(), names));
    put(out);
    count
}

/// The [`GiveUp::reason`] of a give-up code (`tf_decide`'s negative results):
/// its address, and its length in the output area's first number; 0 for no such code.
#[no_mangle]
pub extern "C" fn tf_reason(code: f64) -> u32 {
    let reason = if code == (code as i32) as f64 { GiveUp::reason_for_code(code as i32) } else { None };
    let reason = reason.unwrap_or("");
    put(vec![reason.len() as f64]);
    reason.as_ptr() as usize as u32
}

/// A whole number of ms in `0..=MAX_TIME_MS`.
fn duration_ms(value: f64) -> Option<u64> {
    if value == 0.0 { Some(0) } else { whole_from_f64(value, MAX_TIME_MS) }
}

fn whole_u32(value: f64) -> Option<u32> {
    whole_from_f64(value, u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok())
}

/// Checks a retry policy and its budget and writes them in the output area, as
/// [`tf_decide`] takes them: `[maxAttempts, baseMs, capMs, maxTotalMs (-1: no
/// limit), retryAfterJitterMs, maxRetryAfterMs, budgetMaxTokens,
/// budgetRatioMilli, budgetTokensMilli (full)]`. `max_total_ms`: Infinity for
/// no limit; `budget_token_ratio`: tokens per success (0.1). Returns 0, or NaN.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
pub extern "C" fn tf_policy(
    max_attempts: f64,
    base_ms: f64,
    cap_ms: f64,
    max_total_ms: f64,
    retry_after_jitter_ms: f64,
    max_retry_after_ms: f64,
    budget_max_tokens: f64,
    budget_token_ratio: f64,
) -> f64 {
    let Some(attempts) = whole_u32(max_attempts) else { return fail(WHOLE, 0) };
    let mut durations = [0.0; 5];
    for (i, v) in [base_ms, cap_ms, max_total_ms, retry_after_jitter_ms, max_retry_after_ms].into_iter().enumerate() {
        durations[i] = match duration_ms(v) {
            Some(ms) => ms as f64,
            None if i == 2 && v == f64::INFINITY => -1.0,
            None => return fail(DURATION, i + 1),
        };
    }
    let Some(max_tokens) = whole_u32(budget_max_tokens) else { return fail(WHOLE, 6) };
    // In thousandths of a token, rounded to the nearest.
    if !(budget_token_ratio >= 0.0 && budget_token_ratio <= f64::from(u32::MAX / 1_000)) {
        return fail(RATIO, 7);
    }
    let ratio_milli = (budget_token_ratio * 1_000.0 + 0.5) as u32;
    let full = RetryBudget::new(max_tokens, ratio_milli).tokens_milli();
    let [base, cap, total, jitter, longest] = durations;
    put(vec![f64::from(attempts), base, cap, total, jitter, longest, f64::from(max_tokens), f64::from(ratio_milli), full as f64]);
    0.0
}

/// A policy and budget as [`tf_policy`] wrote them (so already checked).
fn policy_of(p: [f64; 6]) -> RetryPolicy {
    RetryPolicy {
        max_attempts: p[0] as u32,
        base_ms: p[1] as u64,
        cap_ms: p[2] as u64,
        max_total_ms: if p[3] < 0.0 { None } else { Some(p[3] as u64) },
        retry_after_jitter_ms: p[4] as u64,
        max_retry_after_ms: p[5] as u64,
    }
}

fn budget_of(max_tokens: f64, ratio_milli: f64, tokens_milli: f64) -> RetryBudget {
    RetryBudget::new(max_tokens as u32, ratio_milli as u32).with_tokens_milli(tokens_milli as u64)
}

/// The time to retry at (`>= 0`), or a give-up code (`< 0`, see [`tf_reason`]),
/// or NaN for a bad argument; the budget's tokens after it in the output area.
/// The first nine arguments are what [`tf_policy`] wrote (the last, the tokens
/// left). `status`: the HTTP status, 0 for a network error before any response,
/// -1 for one after the response started. `retry_at_ms` < 0 or NaN: the server gave no time.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
pub extern "C" fn tf_decide(
    max_attempts: f64,
    base_ms: f64,
    cap_ms: f64,
    max_total_ms: f64,
    retry_after_jitter_ms: f64,
    max_retry_after_ms: f64,
    budget_max_tokens: f64,
    budget_ratio_milli: f64,
    budget_tokens_milli: f64,
    attempt: f64,
    status: f64,
    idempotent: u32,
    has_key: u32,
    retry_at_ms: f64,
    now_ms: f64,
    started_ms: f64,
    random: f64,
) -> f64 {
    let policy = policy_of([max_attempts, base_ms, cap_ms, max_total_ms, retry_after_jitter_ms, max_retry_after_ms]);
    let mut budget = budget_of(budget_max_tokens, budget_ratio_milli, budget_tokens_milli);
    let outcome = match status {
        0.0 => Outcome::NetworkError { response_started: false },
        -1.0 => Outcome::NetworkError { response_started: true },
        s => match whole_from_f64(s, u64::from(u16::MAX)) {
            Some(s) => Outcome::Status(s as u16),
            None => return fail(STATUS, 1),
        },
    };
    let Some(number) = whole_u32(attempt) else { return fail(WHOLE, 0) };
    let retry_at = if retry_at_ms >= 0.0 {
        match ms_from_f64(retry_at_ms, "") {
            Ok(at) => Some(at),
            Err(_) => return fail(TIME, 4),
        }
    } else {
        None
    };
    let (Ok(now), Ok(started)) = (ms_from_f64(now_ms, ""), ms_from_f64(started_ms, "")) else {
        return fail(TIME, if ms_from_f64(now_ms, "").is_err() { 5 } else { 6 });
    };
    let attempt = Attempt {
        number,
        outcome,
        idempotent_method: idempotent != 0,
        has_idempotency_key: has_key != 0,
        retry_at_ms: retry_at,
        now_ms: now,
        started_ms: started,
        random,
    };
    let result = match decide(&policy, &attempt, &mut budget) {
        RetryDecision::RetryAt(at_ms) => at_ms as f64,
        RetryDecision::GiveUp(give_up) => f64::from(give_up.code()),
    };
    put(vec![budget.tokens_milli() as f64]);
    result
}

/// Counts a success: the budget's tokens after it (given back its ratio of a token).
#[no_mangle]
pub extern "C" fn tf_success(budget_max_tokens: f64, budget_ratio_milli: f64, budget_tokens_milli: f64) -> f64 {
    let mut budget = budget_of(budget_max_tokens, budget_ratio_milli, budget_tokens_milli);
    budget.on_success();
    budget.tokens_milli() as f64
}
