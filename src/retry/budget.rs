//! Retry throttling (gRPC's, proposal A6): when most requests fail, retries
//! stop, so that clients do not multiply the load on a server that is down.

/// A token bucket that failures drain and successes refill. Tokens are kept
/// in thousandths, so that a fractional refill stays exact.
///
/// It starts full. Each retryable failure ([`try_spend`](RetryBudget::try_spend))
/// takes 1 token, each success ([`on_success`](RetryBudget::on_success)) gives
/// back `token_ratio_milli / 1000` (never above the maximum), and a retry is
/// allowed only while more than `max_tokens / 2` tokens are left.
///
/// With the defaults (10 tokens, ratio 0.1): from full, failures leave 9, 8, 7,
/// 6 (four retries allowed), then 5, which is not more than 5: retries stop.
/// From there, 11 successes bring it to 6.1, and the next failure (5.1) may retry.
///
/// ```
/// use tollgate::retry::RetryBudget;
/// let mut budget = RetryBudget::default();
/// let allowed: Vec<bool> = (0..5).map(|_| budget.try_spend()).collect();
/// assert_eq!(allowed, [true, true, true, true, false]);
/// for _ in 0..11 {
///     budget.on_success();
/// }
/// assert_eq!(budget.tokens_milli(), 6_100);
/// assert!(budget.try_spend());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryBudget {
    max_milli: u64,
    ratio_milli: u64,
    tokens_milli: u64,
}

impl RetryBudget {
    /// A full budget of `max_tokens` tokens, refilled by `token_ratio_milli`
    /// thousandths of a token per success (100 for gRPC's 0.1). With
    /// `max_tokens` 0 no retry is ever allowed.
    pub fn new(max_tokens: u32, token_ratio_milli: u32) -> Self {
        let max_milli = u64::from(max_tokens) * 1_000;
        RetryBudget { max_milli, ratio_milli: u64::from(token_ratio_milli), tokens_milli: max_milli }
    }

    /// Counts a retryable failure (1 token) and says whether a retry is still
    /// allowed: whether more than half the maximum is left after it.
    pub fn try_spend(&mut self) -> bool {
        self.tokens_milli = self.tokens_milli.saturating_sub(1_000);
        self.tokens_milli > self.max_milli / 2
    }

    /// Counts a success: gives back the ratio, up to the maximum.
    pub fn on_success(&mut self) {
        self.tokens_milli = self.tokens_milli.saturating_add(self.ratio_milli).min(self.max_milli);
    }

    /// The tokens left, in thousandths of a token.
    pub fn tokens_milli(&self) -> u64 {
        self.tokens_milli
    }

    /// This budget with `tokens_milli` thousandths left (at most the maximum):
    /// how a caller that keeps the count itself (the JS layer, between calls
    /// into wasm) resumes it.
    ///
    /// ```
    /// use tollgate::retry::RetryBudget;
    /// let mut kept = RetryBudget::default();
    /// kept.try_spend();
    /// let resumed = RetryBudget::default().with_tokens_milli(kept.tokens_milli());
    /// assert_eq!(resumed, kept);
    /// assert_eq!(RetryBudget::default().with_tokens_milli(u64::MAX).tokens_milli(), 10_000);
    /// ```
    pub fn with_tokens_milli(mut self, tokens_milli: u64) -> Self {
        self.tokens_milli = tokens_milli.min(self.max_milli);
        self
    }
}

impl Default for RetryBudget {
    /// gRPC's example: 10 tokens, 0.1 token back per success.
    fn default() -> Self {
        RetryBudget::new(10, 100)
    }
}
