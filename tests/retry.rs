//! Retry decisions: which failures are retried, when, and when to give up;
//! then property tests of the retry time's bounds.
//!
//! Case count: `PROPTEST_CASES` (default 256).

use proptest::prelude::*;
use tollgate::retry::{backoff_ceiling_ms, decide, Attempt, GiveUp, Outcome, RetryBudget, RetryDecision, RetryPolicy};

const NOW: u64 = 1_795_441_379_000;

/// A first GET that ended in `status`, now, with no server retry time.
fn get(status: u16) -> Attempt {
    Attempt {
        number: 1,
        outcome: Outcome::Status(status),
        idempotent_method: true,
        has_idempotency_key: false,
        retry_at_ms: None,
        now_ms: NOW,
        started_ms: NOW,
        random: 0.5,
    }
}

fn post(outcome: Outcome) -> Attempt {
    Attempt { outcome, idempotent_method: false, ..get(0) }
}

fn network_error(response_started: bool) -> Outcome {
    Outcome::NetworkError { response_started }
}

fn run(policy: &RetryPolicy, attempt: &Attempt) -> RetryDecision {
    decide(policy, attempt, &mut RetryBudget::default())
}

fn default(attempt: &Attempt) -> RetryDecision {
    run(&RetryPolicy::default(), attempt)
}

fn gave_up(why: GiveUp) -> RetryDecision {
    RetryDecision::GiveUp(why)
}

#[test]
fn only_408_425_429_500_502_503_504_are_retried() {
    for status in 100..=599 {
        let retried = matches!(default(&get(status)), RetryDecision::RetryAt(_));
        assert_eq!(retried, [408, 425, 429, 500, 502, 503, 504].contains(&status), "{status}");
    }
    assert_eq!(default(&get(501)), gave_up(GiveUp::NotRetryable));
}

#[test]
fn post_is_not_retried_on_502_without_idempotency_key() {
    assert_eq!(default(&post(Outcome::Status(502))), gave_up(GiveUp::NotIdempotent));
    let keyed = Attempt { has_idempotency_key: true, ..post(Outcome::Status(502)) };
    assert!(matches!(default(&keyed), RetryDecision::RetryAt(_)));
}

#[test]
fn post_is_retried_on_429_and_on_503_with_a_retry_time() {
    assert!(matches!(default(&post(Outcome::Status(429))), RetryDecision::RetryAt(_)));
    assert_eq!(default(&post(Outcome::Status(503))), gave_up(GiveUp::NotIdempotent));
    let told = Attempt { retry_at_ms: Some(NOW + 10_000), ..post(Outcome::Status(503)) };
    assert_eq!(default(&told), RetryDecision::RetryAt(NOW + 10_000));
}

#[test]
fn post_network_errors_are_retried_only_with_an_idempotency_key() {
    for started in [false, true] {
        assert_eq!(default(&post(network_error(started))), gave_up(GiveUp::NotIdempotent));
        let keyed = Attempt { has_idempotency_key: true, ..post(network_error(started)) };
        assert!(matches!(default(&keyed), RetryDecision::RetryAt(_)));
    }
}

#[test]
fn network_errors_of_idempotent_requests_are_retried_before_or_after_the_response_started() {
    for started in [false, true] {
        let attempt = Attempt { outcome: network_error(started), ..get(0) };
        assert_eq!(default(&attempt), RetryDecision::RetryAt(NOW + 500));
    }
}

#[test]
fn the_last_attempt_is_not_retried() {
    let policy = RetryPolicy::default();
    assert!(matches!(run(&policy, &Attempt { number: 3, ..get(503) }), RetryDecision::RetryAt(_)));
    assert_eq!(run(&policy, &Attempt { number: 4, ..get(503) }), gave_up(GiveUp::AttemptsExhausted));
    let once = RetryPolicy { max_attempts: 1, ..policy };
    assert_eq!(run(&once, &get(503)), gave_up(GiveUp::AttemptsExhausted));
}

#[test]
fn retry_after_is_authoritative_over_backoff() {
    let attempt = Attempt { number: 3, retry_at_ms: Some(NOW + 60_000), random: 0.99, ..get(429) };
    assert_eq!(default(&attempt), RetryDecision::RetryAt(NOW + 60_000));
}

#[test]
fn retry_after_plus_jitter_stays_within_the_window() {
    let sch = RetryPolicy { retry_after_jitter_ms: 5_000, ..RetryPolicy::default() };
    let at = |random| run(&sch, &Attempt { retry_at_ms: Some(NOW + 60_000), random, ..get(429) });
    assert_eq!(at(0.0), RetryDecision::RetryAt(NOW + 60_000));
    assert_eq!(at(0.5), RetryDecision::RetryAt(NOW + 62_500));
    assert_eq!(at(0.999_999_9), RetryDecision::RetryAt(NOW + 65_000));
}

#[test]
fn a_retry_time_already_past_means_now_plus_jitter() {
    let policy = RetryPolicy { retry_after_jitter_ms: 1_000, ..RetryPolicy::default() };
    let attempt = Attempt { retry_at_ms: Some(NOW - 5_000), random: 0.25, ..get(429) };
    assert_eq!(run(&policy, &attempt), RetryDecision::RetryAt(NOW + 250));
}

#[test]
fn a_retry_after_longer_than_allowed_gives_up_naming_the_time() {
    let five_minutes = Attempt { retry_at_ms: Some(NOW + 300_000), ..get(429) };
    assert_eq!(default(&five_minutes), RetryDecision::RetryAt(NOW + 300_000));
    let a_week = Attempt { retry_at_ms: Some(NOW + 604_800_000), ..get(429) };
    assert_eq!(default(&a_week), gave_up(GiveUp::RetryAfterTooLong { retry_at_ms: NOW + 604_800_000 }));
}

#[test]
fn backoff_ceiling_doubles_from_base_up_to_cap() {
    let policy = RetryPolicy::default();
    let ceilings: Vec<u64> = (1..=7).map(|n| backoff_ceiling_ms(&policy, n)).collect();
    assert_eq!(ceilings, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    assert_eq!(backoff_ceiling_ms(&policy, 0), 1_000, "attempt 0 is read as 1");
    assert_eq!(backoff_ceiling_ms(&policy, u32::MAX), 30_000);
    let uncapped = RetryPolicy { base_ms: u64::MAX / 2, cap_ms: u64::MAX, ..policy };
    assert_eq!(backoff_ceiling_ms(&uncapped, 3), u64::MAX);
    assert_eq!(backoff_ceiling_ms(&RetryPolicy { base_ms: 0, ..policy }, 100), 0);
}

#[test]
fn backoff_never_exceeds_cap() {
    let policy = RetryPolicy { max_attempts: 100, ..RetryPolicy::default() };
    for number in 1..100 {
        let at = run(&policy, &Attempt { number, random: 0.999_999_999, ..get(503) });
        assert!(matches!(at, RetryDecision::RetryAt(at) if at < NOW + 30_000), "{number}: {at:?}");
    }
}

#[test]
fn full_jitter_draws_from_zero_up_to_the_ceiling() {
    let at = |number, random| default(&Attempt { number, random, ..get(503) });
    assert_eq!(at(1, 0.0), RetryDecision::RetryAt(NOW));
    assert_eq!(at(1, 0.5), RetryDecision::RetryAt(NOW + 500));
    assert_eq!(at(3, 0.5), RetryDecision::RetryAt(NOW + 2_000));
    assert_eq!(at(3, 0.999_999_999_999), RetryDecision::RetryAt(NOW + 3_999));
}

#[test]
fn a_random_outside_zero_one_is_clamped_into_it() {
    let at = |random| default(&Attempt { random, ..get(503) });
    for low in [f64::NAN, -1.0, f64::NEG_INFINITY, -0.0] {
        assert_eq!(at(low), RetryDecision::RetryAt(NOW), "{low}");
    }
    for high in [1.0, 7.5, f64::INFINITY] {
        assert_eq!(at(high), RetryDecision::RetryAt(NOW + 999), "{high}");
    }
}

#[test]
fn a_retry_past_the_total_time_gives_up() {
    let policy = RetryPolicy { max_total_ms: Some(60_000), ..RetryPolicy::default() };
    let early = Attempt { started_ms: NOW - 59_000, random: 0.0, ..get(503) };
    assert_eq!(run(&policy, &early), RetryDecision::RetryAt(NOW));
    let late = Attempt { started_ms: NOW - 59_500, random: 0.999, ..get(503) };
    assert_eq!(run(&policy, &late), gave_up(GiveUp::TotalTimeExceeded));
    let told = Attempt { retry_at_ms: Some(NOW + 1_001), started_ms: NOW - 59_000, ..get(429) };
    assert_eq!(run(&policy, &told), gave_up(GiveUp::TotalTimeExceeded));
}

#[test]
fn the_budget_allows_four_retries_from_full_then_stops_until_successes_refill_it() {
    let policy = RetryPolicy { max_attempts: 100, ..RetryPolicy::default() };
    let mut budget = RetryBudget::default();
    let mut retried = |number| matches!(decide(&policy, &Attempt { number, ..get(503) }, &mut budget), RetryDecision::RetryAt(_));
    let decisions: Vec<bool> = (1..=5).map(&mut retried).collect();
    assert_eq!(decisions, [true, true, true, true, false]);
    assert_eq!(decide(&policy, &get(503), &mut budget), gave_up(GiveUp::BudgetExhausted));
    // 4 tokens left; 21 successes make 6.1, and the next failure leaves 5.1 > 5.
    for _ in 0..21 {
        budget.on_success();
    }
    assert_eq!(budget.tokens_milli(), 6_100);
    assert!(matches!(decide(&policy, &get(503), &mut budget), RetryDecision::RetryAt(_)));
    for _ in 0..1_000 {
        budget.on_success();
    }
    assert_eq!(budget.tokens_milli(), 10_000, "never above the maximum");
}

#[test]
fn a_give_up_for_another_reason_spends_no_budget() {
    let mut budget = RetryBudget::new(2, 100);
    assert_eq!(decide(&RetryPolicy::default(), &get(404), &mut budget), gave_up(GiveUp::NotRetryable));
    assert_eq!(budget.tokens_milli(), 2_000);
    assert!(!RetryBudget::new(0, 100).try_spend(), "a budget of 0 tokens allows no retry");
}

#[test]
fn give_up_codes_are_stable_and_each_has_a_reason() {
    let all = [
        GiveUp::NotRetryable,
        GiveUp::AttemptsExhausted,
        GiveUp::TotalTimeExceeded,
        GiveUp::RetryAfterTooLong { retry_at_ms: 1 },
        GiveUp::NotIdempotent,
        GiveUp::BudgetExhausted,
    ];
    assert_eq!(all.map(|g| g.code()), [-1, -2, -3, -4, -5, -6]);
    for g in all {
        assert_eq!(GiveUp::reason_for_code(g.code()), Some(g.reason()));
    }
    assert_eq!(GiveUp::reason_for_code(0), None);
    assert_eq!(GiveUp::reason_for_code(-7), None);
}

#[test]
fn nothing_overflows_at_the_edges() {
    let edge = RetryPolicy {
        max_attempts: u32::MAX,
        base_ms: u64::MAX,
        cap_ms: u64::MAX,
        max_total_ms: Some(u64::MAX),
        retry_after_jitter_ms: u64::MAX,
        max_retry_after_ms: u64::MAX,
    };
    let told =
        Attempt { number: u32::MAX - 1, retry_at_ms: Some(u64::MAX), now_ms: u64::MAX, started_ms: 0, random: 0.9, ..get(429) };
    assert_eq!(run(&edge, &told), RetryDecision::RetryAt(u64::MAX));
    let backoff = Attempt { retry_at_ms: None, ..told };
    assert_eq!(run(&edge, &backoff), RetryDecision::RetryAt(u64::MAX));
}

fn any_policy() -> impl Strategy<Value = RetryPolicy> {
    let ms = prop_oneof![0u64..=100_000, any::<u64>()];
    (1u32..=10, ms.clone(), ms.clone(), prop::option::of(ms.clone()), ms.clone(), ms).prop_map(
        |(max_attempts, base_ms, cap_ms, max_total_ms, retry_after_jitter_ms, max_retry_after_ms)| RetryPolicy {
            max_attempts,
            base_ms,
            cap_ms,
            max_total_ms,
            retry_after_jitter_ms,
            max_retry_after_ms,
        },
    )
}

fn any_attempt() -> impl Strategy<Value = Attempt> {
    let outcome = prop_oneof![
        prop_oneof![Just(429u16), Just(503), Just(500), 100u16..=599].prop_map(Outcome::Status),
        any::<bool>().prop_map(network_error),
    ];
    let time = prop_oneof![NOW - 1_000_000..NOW + 1_000_000, any::<u64>()];
    let random = prop_oneof![0.0f64..1.0, any::<f64>()];
    (0u32..=12, outcome, any::<(bool, bool)>(), prop::option::of(time.clone()), time, random).prop_map(
        |(number, outcome, (idempotent_method, has_idempotency_key), retry_at_ms, now_ms, random)| Attempt {
            number,
            outcome,
            idempotent_method,
            has_idempotency_key,
            retry_at_ms,
            now_ms,
            started_ms: now_ms.saturating_sub(5_000),
            random,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_retry_is_never_before_now_nor_outside_the_servers_window(policy in any_policy(), attempt in any_attempt()) {
        let RetryDecision::RetryAt(at) = run(&policy, &attempt) else { return Ok(()) };
        prop_assert!(at >= attempt.now_ms);
        if let Some(server_at) = attempt.retry_at_ms {
            let from = server_at.max(attempt.now_ms);
            prop_assert!(at >= server_at, "before the server's time");
            prop_assert!(at - from <= policy.retry_after_jitter_ms, "more than the jitter after it");
        } else {
            let ceiling = backoff_ceiling_ms(&policy, attempt.number);
            prop_assert!(ceiling <= policy.cap_ms);
            prop_assert!(at - attempt.now_ms < ceiling.max(1), "backoff of {} under a ceiling of {ceiling}", at - attempt.now_ms);
        }
    }

    #[test]
    fn a_retry_obeys_every_rule(policy in any_policy(), attempt in any_attempt()) {
        let RetryDecision::RetryAt(at) = run(&policy, &attempt) else { return Ok(()) };
        prop_assert!(attempt.number < policy.max_attempts);
        let told = attempt.retry_at_ms.is_some();
        let refused = matches!(attempt.outcome, Outcome::Status(429)) || (told && attempt.outcome == Outcome::Status(503));
        prop_assert!(attempt.idempotent_method || attempt.has_idempotency_key || refused);
        if let Some(max_total) = policy.max_total_ms {
            prop_assert!(at - attempt.started_ms <= max_total);
        }
        if let Some(server_at) = attempt.retry_at_ms {
            prop_assert!(server_at.saturating_sub(attempt.now_ms) <= policy.max_retry_after_ms);
        }
    }

    /// The give-up side, which the two properties above return early on: each
    /// give-up names a rule whose condition really holds for this attempt.
    #[test]
    fn a_give_up_names_a_rule_that_holds(policy in any_policy(), attempt in any_attempt()) {
        let RetryDecision::GiveUp(why) = run(&policy, &attempt) else { return Ok(()) };
        let told = attempt.retry_at_ms;
        let refused = matches!(attempt.outcome, Outcome::Status(429)) || (told.is_some() && attempt.outcome == Outcome::Status(503));
        let retryable = match attempt.outcome {
            Outcome::Status(s) => [408, 425, 429, 500, 502, 503, 504].contains(&s),
            Outcome::NetworkError { .. } => true,
        };
        match why {
            GiveUp::NotRetryable => prop_assert!(!retryable),
            GiveUp::NotIdempotent => {
                prop_assert!(retryable && !refused);
                prop_assert!(!attempt.idempotent_method && !attempt.has_idempotency_key);
            }
            GiveUp::AttemptsExhausted => prop_assert!(retryable && attempt.number >= policy.max_attempts),
            GiveUp::RetryAfterTooLong { retry_at_ms } => {
                prop_assert_eq!(Some(retry_at_ms), told, "names the server's time");
                prop_assert!(retry_at_ms.saturating_sub(attempt.now_ms) > policy.max_retry_after_ms);
            }
            GiveUp::TotalTimeExceeded => {
                let max_total = policy.max_total_ms;
                prop_assert!(max_total.is_some(), "no total time was set");
                // The latest time the retry could have been drawn at is past the total.
                let latest = match told {
                    Some(at) => at.max(attempt.now_ms).saturating_add(policy.retry_after_jitter_ms),
                    None => attempt.now_ms.saturating_add(backoff_ceiling_ms(&policy, attempt.number)),
                };
                prop_assert!(latest.saturating_sub(attempt.started_ms) > max_total.unwrap());
            }
            GiveUp::BudgetExhausted => prop_assert!(false, "a full budget was refused"),
        }
        // Giving up for a rule spends nothing from the budget.
        let mut budget = RetryBudget::default();
        let before = budget.tokens_milli();
        prop_assert_eq!(decide(&policy, &attempt, &mut budget), RetryDecision::GiveUp(why));
        prop_assert_eq!(budget.tokens_milli(), before, "no token spent");
    }
}

#[test]
fn a_budget_resumed_from_its_count_spends_like_the_one_it_was_taken_from() {
    // The JS layer keeps the count between calls into wasm (`with_tokens_milli`).
    // A retry is allowed while more than half of the 10 tokens is left.
    let mut kept = RetryBudget::default();
    assert!(kept.try_spend());
    let mut resumed = RetryBudget::default().with_tokens_milli(kept.tokens_milli());
    assert_eq!(resumed, kept);
    assert_eq!([resumed.try_spend(), resumed.try_spend(), resumed.try_spend(), resumed.try_spend()], [true, true, true, false]);
    assert_eq!(RetryBudget::default().with_tokens_milli(u64::MAX).tokens_milli(), 10_000, "at most the maximum");
}
