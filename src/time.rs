//! Units and bounds of time, and the conversion from the numbers JS passes.

use crate::Error;

/// The largest time or count accepted: 2^53 - 1, the largest integer a JS number holds exactly.
pub const MAX_TIME_MS: u64 = (1 << 53) - 1;
/// The longest window period: 2^40 ms, about 34.8 years.
pub const MAX_PERIOD_MS: u64 = 1 << 40;
/// The most requests one [`Limiter::plan`](crate::Limiter::plan) covers.
pub const MAX_PLAN: usize = 1_000_000;
/// The largest window limit: 2^32 - 1 units.
pub const MAX_LIMIT: u64 = u32::MAX as u64;
/// How far past the limiter's clock a completion time may be:
/// [`Limiter::complete_at`](crate::Limiter::complete_at) reads a time up to
/// this far ahead as the clock (two clocks read a moment apart, rounding) and
/// refuses a later one as [`Error::CompletionAhead`]: 1 second.
pub const COMPLETION_TOLERANCE_MS: u64 = 1_000;

/// Reads a JS number as whole milliseconds, rounding down (so a "now" is never
/// read as later than it is). NaN, infinities, negatives and values above
/// [`MAX_TIME_MS`] are [`Error::InvalidTime`] naming `what`.
pub fn ms_from_f64(value: f64, what: &'static str) -> Result<u64, Error> {
    if value.is_nan() || value < 0.0 || value > MAX_TIME_MS as f64 {
        return Err(Error::InvalidTime { what });
    }
    Ok(value as u64)
}

/// Reads a JS number that must be a whole number in `1..=max` (a cost, a
/// limit, a period); `None` when it is not.
pub fn whole_from_f64(value: f64, max: u64) -> Option<u64> {
    if value >= 1.0 && value <= max as f64 && value == (value as u64) as f64 {
        Some(value as u64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_infinite_and_negative_times_are_refused_by_name() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 9.1e15] {
            assert_eq!(ms_from_f64(bad, "now"), Err(Error::InvalidTime { what: "now" }));
        }
        assert_eq!(ms_from_f64(1_700_000_000_000.9, "now"), Ok(1_700_000_000_000));
        assert_eq!(ms_from_f64(0.0, "now"), Ok(0));
    }

    #[test]
    fn whole_numbers_only() {
        assert_eq!(whole_from_f64(20.0, 100), Some(20));
        for bad in [0.0, 1.5, -3.0, f64::NAN, 101.0, f64::INFINITY] {
            assert_eq!(whole_from_f64(bad, 100), None);
        }
    }
}
