//! Whether and when to retry a failed request: a pure decision, like ky's
//! retry timing. [`decide`] reads no clock and owns no random source: the
//! caller passes the time (ms since the Unix epoch) and a number in `[0, 1)`.
//!
//! In order, a failed attempt is given up when:
//!
//! 1. its status is not one a retry can fix (408, 425, 429, 500, 502, 503 and
//!    504 can) → [`GiveUp::NotRetryable`];
//! 2. repeating it could repeat its effect → [`GiveUp::NotIdempotent`]. A
//!    request is idempotent when its method is (GET, PUT, DELETE, ...) or it
//!    carries an `Idempotency-Key`. Any other request (POST, PATCH) is retried
//!    only when the server says it did not act on it: a 429 (RFC 6585 §4), or
//!    a 503 that says when to come back. A network error may have hit after
//!    the server acted, so it is retried only for idempotent requests;
//! 3. it was the last of `max_attempts` → [`GiveUp::AttemptsExhausted`];
//! 4. the server's retry time (Retry-After, or a reset) is more than
//!    `max_retry_after_ms` away → [`GiveUp::RetryAfterTooLong`];
//! 5. the retry would start more than `max_total_ms` after the first attempt
//!    → [`GiveUp::TotalTimeExceeded`];
//! 6. the [`RetryBudget`] is spent → [`GiveUp::BudgetExhausted`]. A 429 or
//!    503 that says when to come back spends no budget: it is a wait the
//!    server directs, not a storm.
//!
//! Otherwise it is retried at the server's retry time plus up to
//! `retry_after_jitter_ms` (the server's time is authoritative), or, without
//! one, after an exponential backoff with full jitter: a delay drawn from
//! `[0, min(cap_ms, base_ms * 2^(number - 1)))`. With the defaults the
//! ceilings are 1 s, 2 s, 4 s for attempts 1, 2, 3 (and 30 s from attempt 6 on).
//!
//! ```
//! use tollgate::retry::{decide, Attempt, Outcome, RetryBudget, RetryDecision, RetryPolicy};
//! // SecureCodingHub: honor Retry-After, plus up to 5 s of jitter.
//! let policy = RetryPolicy { retry_after_jitter_ms: 5_000, ..RetryPolicy::default() };
//! let now = 1_795_441_379_000;
//! let attempt = Attempt {
//!     number: 1, outcome: Outcome::Status(429), idempotent_method: false, has_idempotency_key: false,
//!     retry_at_ms: Some(now + 60_000), now_ms: now, started_ms: now, random: 0.5,
//! };
//! let mut budget = RetryBudget::default();
//! assert_eq!(decide(&policy, &attempt, &mut budget), RetryDecision::RetryAt(now + 62_500));
//! ```

mod budget;

pub use budget::RetryBudget;

/// How many times and how long to retry. Durations are in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 4: three retries).
    pub max_attempts: u32,
    /// The first backoff ceiling, doubled for each later attempt (default 1_000).
    pub base_ms: u64,
    /// The largest backoff ceiling (default 30_000).
    pub cap_ms: u64,
    /// The latest a retry may start, after the first attempt started (default `None`: no limit).
    pub max_total_ms: Option<u64>,
    /// Up to this much is added to the server's retry time, so that clients
    /// told the same time do not all come back at once (default 0; SecureCodingHub asks 5_000).
    pub retry_after_jitter_ms: u64,
    /// The longest server-asked wait that is honored (default 300_000, 5 minutes).
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_ms: 1_000,
            cap_ms: 30_000,
            max_total_ms: None,
            retry_after_jitter_ms: 0,
            max_retry_after_ms: 300_000,
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with this HTTP status.
    Status(u16),
    /// The request failed without a complete response.
    NetworkError {
        /// Whether part of the response had arrived (so the server acted on the request).
        response_started: bool,
    },
}

/// A failed attempt, as [`decide`] needs it. Times are ms since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt {
    /// 1 for the first attempt (0 is read as 1).
    pub number: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// The method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE, TRACE), not POST or PATCH.
    pub idempotent_method: bool,
    /// The request carries an `Idempotency-Key`, so the server runs it at most once.
    pub has_idempotency_key: bool,
    /// When the server allows a retry (from Retry-After or a reset), if it said.
    pub retry_at_ms: Option<u64>,
    /// Now.
    pub now_ms: u64,
    /// When the first attempt started.
    pub started_ms: u64,
    /// A random number in `[0, 1)`; NaN and negatives are read as 0, 1 and more as just under 1.
    pub random: f64,
}

/// Why not to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// The status is not one that a retry can fix.
    NotRetryable,
    /// The attempt was the last allowed.
    AttemptsExhausted,
    /// The retry would start after the total time allowed.
    TotalTimeExceeded,
    /// The server asked to wait longer than `max_retry_after_ms`.
    RetryAfterTooLong {
        /// The time the server asked for, ms since the epoch.
        retry_at_ms: u64,
    },
    /// Repeating the request could repeat its effect.
    NotIdempotent,
    /// Too many recent failures: the retry budget is spent.
    BudgetExhausted,
}

/// Every kind of give-up, in code order (the payload is a placeholder).
const GIVE_UPS: [GiveUp; 6] = [
    GiveUp::NotRetryable,
    GiveUp::AttemptsExhausted,
    GiveUp::TotalTimeExceeded,
    GiveUp::RetryAfterTooLong { retry_at_ms: 0 },
    GiveUp::NotIdempotent,
    GiveUp::BudgetExhausted,
];

impl GiveUp {
    /// A stable negative code, -1 to -6 in declaration order (a retry time is never negative).
    pub fn code(&self) -> i32 {
        match self {
            GiveUp::NotRetryable => -1,
            GiveUp::AttemptsExhausted => -2,
            GiveUp::TotalTimeExceeded => -3,
            GiveUp::RetryAfterTooLong { .. } => -4,
            GiveUp::NotIdempotent => -5,
            GiveUp::BudgetExhausted => -6,
        }
    }

    /// A sentence saying why the request is not retried.
    pub fn reason(&self) -> &'static str {
        match self {
            GiveUp::NotRetryable => "the response status is not one that a retry can fix",
            GiveUp::AttemptsExhausted => "the request has used all its attempts",
            GiveUp::TotalTimeExceeded => "a retry would start after the total time allowed for the request",
            GiveUp::RetryAfterTooLong { .. } => "the server asked to wait longer than the longest wait allowed",
            GiveUp::NotIdempotent => {
                "the request is not idempotent and has no idempotency key: a retry could repeat its effect"
            }
            GiveUp::BudgetExhausted => "too many requests failed recently: the retry budget is spent",
        }
    }

    /// The [`reason`](GiveUp::reason) of a [`code`](GiveUp::code); `None` for any other number.
    pub fn reason_for_code(code: i32) -> Option<&'static str> {
        GIVE_UPS.iter().find(|g| g.code() == code).map(GiveUp::reason)
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Send the next attempt at this time, ms since the epoch (never before `now_ms`).
    RetryAt(u64),
    /// Do not retry.
    GiveUp(GiveUp),
}

/// Decides whether and when to retry `attempt`; see the module docs for the
/// rules. Spends a token of `budget` only when every other rule allows a
/// retry. Arithmetic saturates: no input overflows.
pub fn decide(policy: &RetryPolicy, attempt: &Attempt, budget: &mut RetryBudget) -> RetryDecision {
    match retry_at(policy, attempt) {
        // The server said when to come back: a directed wait, not a storm.
        Ok(at) if server_directed(attempt) => RetryDecision::RetryAt(at),
        Ok(at) if budget.try_spend() => RetryDecision::RetryAt(at),
        Ok(_) => RetryDecision::GiveUp(GiveUp::BudgetExhausted),
        Err(give_up) => RetryDecision::GiveUp(give_up),
    }
}

/// A 429 or 503 that says when to come back (Retry-After or a reset): the
/// server is up and refused on purpose, so the retry spends no budget (the
/// budget stops retry storms on 5xx and network errors). `max_retry_after_ms`,
/// `max_attempts` and `max_total_ms` still bound it.
fn server_directed(a: &Attempt) -> bool {
    matches!(a.outcome, Outcome::Status(429 | 503)) && a.retry_at_ms.is_some()
}

/// Statuses a later attempt can succeed on.
const RETRYABLE: [u16; 7] = [408, 425, 429, 500, 502, 503, 504];

/// Every rule but the budget.
fn retry_at(policy: &RetryPolicy, a: &Attempt) -> Result<u64, GiveUp> {
    let idempotent = a.idempotent_method || a.has_idempotency_key;
    match a.outcome {
        Outcome::Status(status) if !RETRYABLE.contains(&status) => return Err(GiveUp::NotRetryable),
        // The server refused without acting on the request.
        Outcome::Status(429) => {}
        Outcome::Status(503) if a.retry_at_ms.is_some() => {}
        _ if !idempotent => return Err(GiveUp::NotIdempotent),
        _ => {}
    }
    if a.number >= policy.max_attempts {
        return Err(GiveUp::AttemptsExhausted);
    }
    let at = match a.retry_at_ms {
        Some(server_at) if server_at.saturating_sub(a.now_ms) > policy.max_retry_after_ms => {
            return Err(GiveUp::RetryAfterTooLong { retry_at_ms: server_at })
        }
        Some(server_at) => {
            let jitter = draw(a.random, policy.retry_after_jitter_ms.saturating_add(1));
            server_at.max(a.now_ms).saturating_add(jitter)
        }
        None => a.now_ms.saturating_add(draw(a.random, backoff_ceiling_ms(policy, a.number))),
    };
    match policy.max_total_ms {
        Some(max_total) if at.saturating_sub(a.started_ms) > max_total => Err(GiveUp::TotalTimeExceeded),
        _ => Ok(at),
    }
}

/// The backoff ceiling after attempt `number`, in ms: `min(cap_ms, base_ms * 2^(number - 1))`,
/// saturating. The delay is drawn from `[0, ceiling)`.
pub fn backoff_ceiling_ms(policy: &RetryPolicy, number: u32) -> u64 {
    let doublings = number.saturating_sub(1);
    let uncapped = match 1u64.checked_shl(doublings) {
        Some(factor) => policy.base_ms.saturating_mul(factor),
        _ if policy.base_ms == 0 => 0,
        _ => u64::MAX,
    };
    uncapped.min(policy.cap_ms)
}

/// `floor(random * span)`, in `[0, span)` whatever `random` is (0 when `span` is 0).
fn draw(random: f64, span: u64) -> u64 {
    // NaN and negatives fail the comparison and count as 0.
    let random = if random > 0.0 { random } else { 0.0 };
    // `as` saturates; a product rounded up to `span` is brought back under it.
    ((random * span as f64) as u64).min(span.saturating_sub(1))
}
