//! A 429 or 503 that says when to come back is a wait the server directs: it
//! spends no retry budget, which still stops storms of 5xx and network errors.

use tollgate::retry::{decide, Attempt, GiveUp, Outcome, RetryBudget, RetryDecision, RetryPolicy};

const NOW: u64 = 1_795_441_379_000;

fn attempt(status: u16, retry_at_ms: Option<u64>) -> Attempt {
    Attempt {
        number: 1,
        outcome: Outcome::Status(status),
        idempotent_method: true,
        has_idempotency_key: false,
        retry_at_ms,
        now_ms: NOW,
        started_ms: NOW,
        random: 0.0,
    }
}

#[test]
fn a_refusal_with_a_retry_time_spends_no_budget() {
    let policy = RetryPolicy::default();
    let mut budget = RetryBudget::default();
    for status in [429, 503] {
        for _ in 0..100 {
            let decision = decide(&policy, &attempt(status, Some(NOW + 1_000)), &mut budget);
            assert_eq!(decision, RetryDecision::RetryAt(NOW + 1_000));
        }
    }
    assert_eq!(budget.tokens_milli(), 10_000);
}

#[test]
fn errors_without_a_retry_time_still_spend_it_until_retries_stop() {
    let policy = RetryPolicy::default();
    for status in [429, 500, 503] {
        let mut budget = RetryBudget::default();
        let decisions: Vec<bool> = (0..5)
            .map(|_| matches!(decide(&policy, &attempt(status, None), &mut budget), RetryDecision::RetryAt(_)))
            .collect();
        assert_eq!(decisions, [true, true, true, true, false], "{status}");
        assert_eq!(
            decide(&policy, &attempt(status, None), &mut budget),
            RetryDecision::GiveUp(GiveUp::BudgetExhausted)
        );
    }
}
