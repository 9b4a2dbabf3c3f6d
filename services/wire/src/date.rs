//! Dates as `YYYY-MM-DD` and nothing else, in a plausible range. chrono's `%Y-%m-%d` also takes
//! `1990-1-2`, `+1990-01-02` and `-5000-01-01`; the first two made one victim two people in the
//! keyed hash, the last cannot be stored by PostgreSQL at all. Error messages never repeat the
//! value: a date of birth is personal data.

use crate::violation::Violations;
use chrono::{Months, NaiveDate};

/// No referral is about anything before this.
pub const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a real date");
/// Nobody a referral is about is older than this.
pub const OLDEST_AGE_YEARS: u32 = 120;

/// The form every date must be sent in.
pub const FORM: &str = "YYYY-MM-DD, e.g. 1990-01-02";

/// Parses the canonical form only: four digits, dash, two digits, dash, two digits.
pub fn canonical(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| raw[r].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?)
}

/// A required date between [`EARLIEST`] and `today`.
pub fn past(v: &mut Violations, field: &str, raw: &str, today: NaiveDate) -> Option<NaiveDate> {
    if raw.trim().is_empty() {
        v.push(field, format!("is required ({FORM})"));
        return None;
    }
    let Some(date) = canonical(raw) else {
        v.push(
            field,
            format!("is not a date in the form {FORM} (two-digit month and day, a real day)"),
        );
        return None;
    };
    if date < EARLIEST {
        v.push(field, format!("is before {EARLIEST}: not a plausible date"));
        None
    } else if date > today {
        v.push(field, format!("is in the future (today is {today})"));
        None
    } else {
        Some(date)
    }
}

/// A date of birth: a past date, and nobody older than [`OLDEST_AGE_YEARS`] on `today`.
pub fn birth(v: &mut Violations, field: &str, raw: &str, today: NaiveDate) -> Option<NaiveDate> {
    let born = past(v, field, raw, today)?;
    let oldest = today
        .checked_sub_months(Months::new(OLDEST_AGE_YEARS * 12))
        .unwrap_or(EARLIEST);
    if born < oldest {
        v.push(
            field,
            format!("makes the person older than {OLDEST_AGE_YEARS}: check the year"),
        );
        return None;
    }
    Some(born)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn ok(raw: &str) -> bool {
        past(&mut Violations::new(), "d", raw, today()).is_some()
    }

    #[test]
    fn only_the_canonical_form_is_a_date() {
        for good in ["1990-01-02", "2026-11-23", "1900-01-01", "2024-02-29"] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "1990-1-2",
            "+1990-01-02",
            "-5000-01-01",
            "1990-01-2",
            " 1990-01-02",
            "1990/01/02",
            "19900102",
            "1990-02-30",
            "2023-02-29",
            "1990-13-01",
            "１９９０-01-02",
            "",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[test]
    fn dates_are_bounded_at_1900_and_today() {
        assert!(ok("1900-01-01"));
        assert!(!ok("1899-12-31"));
        assert!(!ok("0001-01-01"));
        assert!(ok("2026-11-23"));
        assert!(!ok("2026-11-24"));
        assert!(!ok("9999-12-31"));
    }

    #[test]
    fn nobody_is_older_than_120() {
        let born = |raw| birth(&mut Violations::new(), "d", raw, today()).is_some();
        assert!(born("1906-11-23"), "120 today");
        assert!(!born("1906-11-22"), "121 today");
    }

    #[test]
    fn messages_do_not_repeat_the_value() {
        let mut v = Violations::new();
        past(&mut v, "dob", "1990-1-2", today());
        let text = format!("{:?}", v.into_vec());
        assert!(!text.contains("1990-1-2"), "{text}");
    }
}
