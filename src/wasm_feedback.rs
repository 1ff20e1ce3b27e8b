//! The wasm-bindgen boundary of [`headers`](crate::headers) and
//! [`retry`](crate::retry): convert the arguments, call the core, convert the
//! result. Malformed headers are never an error (they are ignored); a bad
//! option or argument is a JS `Error` named `TollgateConfigError`.

use alloc::string::String;
use wasm_bindgen::prelude::*;

use crate::error::push_u64;
use crate::headers::parse_feedback;
use crate::retry::{decide, Attempt, GiveUp, Outcome, RetryBudget, RetryDecision, RetryPolicy};
use crate::{ms_from_f64, whole_from_f64, MAX_TIME_MS};

fn js_error(e: crate::Error) -> JsValue {
    let err = js_sys::Error::new(&e.message());
    err.set_name(e.name());
    err.into()
}

/// A `TollgateConfigError` saying that `option` must be `allowed` (and, when given, up to `max`).
fn config_error(option: &str, allowed: &str, max: Option<u64>) -> JsValue {
    let mut message = String::from("`");
    message.push_str(option);
    message.push_str("` must be ");
    message.push_str(allowed);
    if let Some(max) = max {
        push_u64(&mut message, max);
    }
    let err = js_sys::Error::new(&message);
    err.set_name("TollgateConfigError");
    err.into()
}

/// As in `wasm.rs`: the error's `name` and `message`.
const STATUS_ALLOWED: &str =
    "an HTTP status from 1 to 65535, 0 (a network error before any response) or -1 (one after the response started)";

/// A whole number of ms in `0..=MAX_TIME_MS`.
fn duration_ms(value: f64, option: &str) -> Result<u64, JsValue> {
    let ms = if value == 0.0 { Some(0) } else { whole_from_f64(value, MAX_TIME_MS) };
    ms.ok_or_else(|| config_error(option, "a whole number of milliseconds from 0 to ", Some(MAX_TIME_MS)))
}

fn whole_u32(value: f64, option: &str) -> Result<u32, JsValue> {
    let n = whole_from_f64(value, u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok());
    n.ok_or_else(|| config_error(option, "a whole number from 1 to ", Some(u64::from(u32::MAX))))
}

/// What a response's headers say about the server's limits, as a plain object
/// (`{ retryAtMs?, serverOffsetMs?, windows: [{ name?, limit?, remaining?, resetAtMs?, windowMs? }] }`).
/// `headers`: `name: value` lines separated by `\n`. `null` when `nowMs` is not a valid time.
#[wasm_bindgen(js_name = parseFeedback)]
pub fn parse_feedback_js(headers: &str, now_ms: f64) -> JsValue {
    let Ok(now) = ms_from_f64(now_ms, "now") else {
        return JsValue::NULL;
    };
    let feedback = parse_feedback(headers.lines().filter_map(|line| line.split_once(':')), now);
    // Every number is capped at MAX_TIME_MS, a safe integer, so this does not fail.
    serde_wasm_bindgen::to_value(&feedback).unwrap_or(JsValue::NULL)
}

/// The [`GiveUp::reason`] of a give-up code (`decide`'s negative results).
#[wasm_bindgen(js_name = giveUpReason)]
pub fn give_up_reason(code: f64) -> String {
    let reason = if code.fract() == 0.0 && code >= -6.0 { GiveUp::reason_for_code(code as i32) } else { None };
    String::from(reason.unwrap_or("not a give-up code"))
}

/// A retry policy and its retry budget. Times are ms since the Unix epoch.
#[wasm_bindgen]
pub struct RetryPlanner {
    policy: RetryPolicy,
    budget: RetryBudget,
}

#[wasm_bindgen]
impl RetryPlanner {
    /// `maxTotalMs`: Infinity for no limit; `budgetTokenRatio`: tokens per success (0.1).
    // Numbers cross one by one, so that building a planner allocates no JS object.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(constructor)]
    pub fn new(
        max_attempts: f64,
        base_ms: f64,
        cap_ms: f64,
        max_total_ms: f64,
        retry_after_jitter_ms: f64,
        max_retry_after_ms: f64,
        budget_max_tokens: f64,
        budget_token_ratio: f64,
    ) -> Result<RetryPlanner, JsValue> {
        let policy = RetryPolicy {
            max_attempts: whole_u32(max_attempts, "maxAttempts")?,
            base_ms: duration_ms(base_ms, "baseMs")?,
            cap_ms: duration_ms(cap_ms, "capMs")?,
            max_total_ms: if max_total_ms == f64::INFINITY { None } else { Some(duration_ms(max_total_ms, "maxTotalMs")?) },
            retry_after_jitter_ms: duration_ms(retry_after_jitter_ms, "retryAfterJitterMs")?,
            max_retry_after_ms: duration_ms(max_retry_after_ms, "maxRetryAfterMs")?,
        };
        let max_tokens = whole_u32(budget_max_tokens, "budgetMaxTokens")?;
        // In thousandths of a token, rounded to the nearest.
        let max_ratio = u64::from(u32::MAX / 1_000);
        if !(budget_token_ratio >= 0.0 && budget_token_ratio <= max_ratio as f64) {
            return Err(config_error("budgetTokenRatio", "a number of tokens per success from 0 to ", Some(max_ratio)));
        }
        let ratio_milli = (budget_token_ratio * 1_000.0 + 0.5) as u32;
        Ok(RetryPlanner { policy, budget: RetryBudget::new(max_tokens, ratio_milli) })
    }

    /// The time to retry at (`>= 0`), or a give-up code (`< 0`, see `giveUpReason`).
    /// `status`: the HTTP status, 0 for a network error before any response,
    /// -1 for one after the response started. `retryAtMs` < 0 or NaN: the server gave no time.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &mut self,
        attempt: f64,
        status: f64,
        idempotent: bool,
        has_key: bool,
        retry_at_ms: f64,
        now_ms: f64,
        started_ms: f64,
        random: f64,
    ) -> Result<f64, JsValue> {
        let outcome = match status {
            0.0 => Outcome::NetworkError { response_started: false },
            -1.0 => Outcome::NetworkError { response_started: true },
            s => Outcome::Status(
                whole_from_f64(s, u64::from(u16::MAX))
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or_else(|| config_error("status", STATUS_ALLOWED, None))?,
            ),
        };
        let attempt = Attempt {
            number: whole_u32(attempt, "attempt")?,
            outcome,
            idempotent_method: idempotent,
            has_idempotency_key: has_key,
            retry_at_ms: if retry_at_ms >= 0.0 { Some(ms_from_f64(retry_at_ms, "retryAtMs").map_err(js_error)?) } else { None },
            now_ms: ms_from_f64(now_ms, "nowMs").map_err(js_error)?,
            started_ms: ms_from_f64(started_ms, "startedMs").map_err(js_error)?,
            random,
        };
        Ok(match decide(&self.policy, &attempt, &mut self.budget) {
            RetryDecision::RetryAt(at_ms) => at_ms as f64,
            RetryDecision::GiveUp(give_up) => f64::from(give_up.code()),
        })
    }

    /// Counts a success: gives the budget back its ratio of a token.
    #[wasm_bindgen(js_name = onSuccess)]
    pub fn on_success(&mut self) {
        self.budget.on_success();
    }
}
