//! HTTP-date (RFC 9110 §5.6.7) to ms since the Unix epoch, with our own
//! calendar arithmetic (no calendar crate in a `no_std` wasm core).

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const DAY_NAMES_LONG: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Reads an HTTP-date as ms since the Unix epoch (UTC), or `None`.
///
/// Accepts the three formats RFC 9110 §5.6.7 requires a recipient to accept,
/// exactly as specified (case-sensitive names, single spaces), with
/// surrounding spaces and tabs ignored:
///
/// * IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
/// * RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`. A two-digit year `yy` is
///   read as `20yy` when `yy < 70` and as `19yy` otherwise. (RFC 9110 asks for
///   "more than 50 years in the future means the past century", which needs
///   the current date; a parser that reads no clock cannot know it, and 1970
///   is where the times it can return begin.)
/// * asctime: `Sun Nov  6 08:49:37 1994`, read as UTC.
///
/// The day of the month must exist in that month (`Feb 29` only in leap
/// years), the hour be 00-23, the minute 00-59 and the second 00-60 (60 is a
/// leap second, read as the first second of the next minute). The day name is
/// checked to be a day name, not to match the date. Dates before 1970 are `None`.
///
/// ```
/// use tollgate::headers::parse_http_date;
/// assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777_000));
/// assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777_000));
/// assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(784_111_777_000));
/// assert_eq!(parse_http_date("Sun, 30 Feb 1994 08:49:37 GMT"), None);
/// ```
pub fn parse_http_date(value: &str) -> Option<u64> {
    let v = value.trim_matches([' ', '\t']);
    imf_fixdate(v).or_else(|| rfc850_date(v)).or_else(|| asctime_date(v))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn imf_fixdate(v: &str) -> Option<u64> {
    if v.len() != 29 || !DAY_NAMES.contains(&v.get(0..3)?) {
        return None;
    }
    lit(v, 3, ", ")?;
    let day = num(v, 5, 2)?;
    lit(v, 7, " ")?;
    let month = month(v, 8)?;
    lit(v, 11, " ")?;
    let year = num(v, 12, 4)?;
    lit(v, 16, " ")?;
    let secs = time_of_day(v, 17)?;
    lit(v, 25, " GMT")?;
    to_ms(year, month, day, secs)
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`
fn rfc850_date(v: &str) -> Option<u64> {
    let (name, rest) = v.split_once(',')?;
    if !DAY_NAMES_LONG.contains(&name) || rest.len() != 23 {
        return None;
    }
    lit(rest, 0, " ")?;
    let day = num(rest, 1, 2)?;
    lit(rest, 3, "-")?;
    let month = month(rest, 4)?;
    lit(rest, 7, "-")?;
    let yy = num(rest, 8, 2)?;
    lit(rest, 10, " ")?;
    let secs = time_of_day(rest, 11)?;
    lit(rest, 19, " GMT")?;
    let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
    to_ms(year, month, day, secs)
}

/// `Sun Nov  6 08:49:37 1994`: the day is two digits or a space and one digit.
fn asctime_date(v: &str) -> Option<u64> {
    if v.len() != 24 || !DAY_NAMES.contains(&v.get(0..3)?) {
        return None;
    }
    lit(v, 3, " ")?;
    let month = month(v, 4)?;
    lit(v, 7, " ")?;
    let day = if lit(v, 8, " ").is_some() { num(v, 9, 1)? } else { num(v, 8, 2)? };
    lit(v, 10, " ")?;
    let secs = time_of_day(v, 11)?;
    lit(v, 19, " ")?;
    let year = num(v, 20, 4)?;
    to_ms(year, month, day, secs)
}

/// `HH:MM:SS` at byte `at`, as seconds into the day (up to 86_400 with a leap second).
fn time_of_day(v: &str, at: usize) -> Option<u64> {
    let hour = num(v, at, 2)?;
    lit(v, at + 2, ":")?;
    let minute = num(v, at + 3, 2)?;
    lit(v, at + 5, ":")?;
    let second = num(v, at + 6, 2)?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(hour * 3_600 + minute * 60 + second)
}

/// The month named at byte `at`, 1 to 12.
fn month(v: &str, at: usize) -> Option<u64> {
    let name = v.get(at..at + 3)?;
    MONTHS.iter().position(|m| *m == name).map(|i| i as u64 + 1)
}

/// `Some(())` when `v` holds `expected` at byte `at`.
fn lit(v: &str, at: usize, expected: &str) -> Option<()> {
    (v.get(at..at + expected.len())? == expected).then_some(())
}

/// Exactly `len` ASCII digits at byte `at` (len <= 4: no overflow).
fn num(v: &str, at: usize, len: usize) -> Option<u64> {
    let digits = v.get(at..at + len)?;
    digits.bytes().try_fold(0u64, |n, d| d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0')))
}

fn is_leap(year: u64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a civil date in the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`, for years from 1970 on, so that every
/// term stays unsigned).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    // Years start in March, so that the leap day is the last day of a year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// A validated UTC date and time as ms since the epoch; at most year 9999,
/// about 2.5e14 ms, well under `MAX_TIME_MS`.
fn to_ms(year: u64, month: u64, day: u64, secs_of_day: u64) -> Option<u64> {
    if year < 1970 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((days_from_civil(year, month, day) * 86_400 + secs_of_day) * 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_and_leap_days_are_where_they_belong() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(to_ms(2000, 2, 29, 0), Some(951_782_400_000));
        assert_eq!(to_ms(2000, 2, 30, 0), None);
        assert_eq!(to_ms(2100, 2, 29, 0), None);
        assert_eq!(to_ms(1969, 12, 31, 0), None);
    }

    #[test]
    fn a_leap_second_is_the_first_second_of_the_next_minute() {
        let leap = parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT");
        assert_eq!(leap, parse_http_date("Sun, 01 Jan 2017 00:00:00 GMT"));
    }
}
