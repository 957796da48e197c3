//! The domain's rules on single values, one function each: every one returns the value (or
//! nothing) when it holds, and otherwise what is wrong with it, as a description without the
//! field's name. Each edge reports a broken rule in its own terms: the gRPC edge as a field
//! violation with the field's path (`accounts[3].history[2].amount_due`), the training tables
//! as a row error with file, row and column. So both edges accept and refuse the same values
//! with the same words.
//!
//! Every rule is `#[inline]` and builds its words in a cold function. The rules a caller runs per
//! payment cycle also come as predicates (`is_…`, the test the rule applies), so that the gRPC
//! edge, which runs about 75 rules per account, pays a comparison for each and builds a `Result`
//! only for a broken one (callgrind: 470 instructions per account less).

use chrono::NaiveDate;

use super::{
    MAX_ACCOUNT_ID_BYTES, MAX_ATTRIBUTES, MAX_BUREAU_SCORE, MAX_CHANNEL_BYTES, MAX_DAYS_PAST_DUE,
    MAX_HISTORY_CYCLES, MAX_OPT_OUTS,
};

/// Whether `v` is an amount of money: finite and not negative. The test [`amount`] applies, for
/// callers that check many values and want the words only for a broken one.
#[inline]
pub fn is_amount(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

/// An amount of money: finite and not negative.
#[inline]
pub fn amount(v: f64) -> Result<f64, String> {
    if is_amount(v) {
        Ok(v)
    } else {
        Err(broken(format_args!(
            "must be a finite, non-negative amount, got {v}"
        )))
    }
}

/// An account id: not blank, at most [`MAX_ACCOUNT_ID_BYTES`] bytes.
#[inline]
pub fn account_id(id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        Err(broken(format_args!("is required")))
    } else if id.len() > MAX_ACCOUNT_ID_BYTES {
        Err(broken(format_args!(
            "must be at most {MAX_ACCOUNT_ID_BYTES} bytes"
        )))
    } else {
        Ok(())
    }
}

/// A bureau score: finite, within `[0, MAX_BUREAU_SCORE]`.
#[inline]
pub fn bureau_score(s: f64) -> Result<f64, String> {
    if s.is_finite() && (0.0..=MAX_BUREAU_SCORE).contains(&s) {
        Ok(s)
    } else {
        Err(broken(format_args!(
            "must be between 0 and {MAX_BUREAU_SCORE}, got {s}"
        )))
    }
}

/// A whole count within `[0, max]`.
#[inline]
pub fn count(v: i64, max: u32) -> Result<u32, String> {
    match u32::try_from(v) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(broken(format_args!("must be between 0 and {max}, got {v}"))),
    }
}

/// Days past due: at most [`MAX_DAYS_PAST_DUE`].
#[inline]
pub fn days_past_due(v: u32) -> Result<u32, String> {
    count(i64::from(v), MAX_DAYS_PAST_DUE)
}

/// Whether `v` days past due is within [`days_past_due`]'s bound.
#[inline]
pub fn is_days_past_due(v: u32) -> bool {
    v <= MAX_DAYS_PAST_DUE
}

/// A cycle's minimum due: not above its amount due.
#[inline]
pub fn minimum_due(minimum_due: f64, amount_due: f64) -> Result<(), String> {
    if !is_minimum_due(minimum_due, amount_due) {
        Err(broken(format_args!("must not exceed amount_due")))
    } else {
        Ok(())
    }
}

/// A statement date: not after the date the account is scored at.
#[inline]
pub fn statement_date(date: NaiveDate, as_of: NaiveDate) -> Result<NaiveDate, String> {
    if !is_statement_date(date, as_of) {
        Err(broken(format_args!(
            "{date} is after the account's as_of date {as_of}"
        )))
    } else {
        Ok(date)
    }
}

/// An extra attribute's value: finite.
#[inline]
pub fn attribute(v: f64) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(broken(format_args!("must be a finite number, got {v}")))
    }
}

/// How many attributes one account may carry.
#[inline]
pub fn attribute_count(n: usize) -> Result<(), String> {
    if n > MAX_ATTRIBUTES {
        Err(broken(format_args!(
            "at most {MAX_ATTRIBUTES} attributes are accepted"
        )))
    } else {
        Ok(())
    }
}

/// A channel name: not blank, at most [`MAX_CHANNEL_BYTES`].
#[inline]
pub fn channel(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.len() > MAX_CHANNEL_BYTES {
        Err(broken(format_args!(
            "is required, at most {MAX_CHANNEL_BYTES} bytes"
        )))
    } else {
        Ok(())
    }
}

/// How many channels one account may be opted out of.
#[inline]
pub fn opt_out_count(n: usize) -> Result<(), String> {
    if n > MAX_OPT_OUTS {
        Err(broken(format_args!(
            "has {n} channels; at most {MAX_OPT_OUTS} are accepted"
        )))
    } else {
        Ok(())
    }
}

/// A customer's time zone: an IANA name, or nothing when empty.
pub fn time_zone(name: &str) -> Result<Option<chrono_tz::Tz>, String> {
    if name.is_empty() {
        return Ok(None);
    }
    name.parse().map(Some).map_err(|_| {
        broken(format_args!(
            "is not an IANA time zone (for example America/Chicago): {}",
            super::printable(name)
        ))
    })
}

/// How many payment cycles one account may carry.
#[inline]
pub fn history_cycles(n: usize) -> Result<(), String> {
    if n > MAX_HISTORY_CYCLES {
        Err(broken(format_args!(
            "has {n} cycles; at most {MAX_HISTORY_CYCLES} are accepted"
        )))
    } else {
        Ok(())
    }
}

/// Whether a cycle's minimum due keeps [`minimum_due`]'s rule (not above the amount due).
#[inline]
pub fn is_minimum_due(minimum_due: f64, amount_due: f64) -> bool {
    minimum_due.partial_cmp(&amount_due) != Some(std::cmp::Ordering::Greater)
}

/// Whether a statement date keeps [`statement_date`]'s rule (not after `as_of`).
#[inline]
pub fn is_statement_date(date: NaiveDate, as_of: NaiveDate) -> bool {
    date <= as_of
}

/// A broken rule's words, built off the hot path.
#[cold]
#[inline(never)]
fn broken(words: std::fmt::Arguments<'_>) -> String {
    words.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_out_of_range_values_are_refused_with_the_value_in_the_words() {
        assert_eq!(amount(0.0), Ok(0.0));
        assert!(amount(-1.0).unwrap_err().contains("got -1"));
        assert!(amount(f64::NAN).is_err());
        assert!(amount(f64::INFINITY).is_err());
        assert!(bureau_score(f64::NAN).is_err());
        assert_eq!(bureau_score(MAX_BUREAU_SCORE), Ok(MAX_BUREAU_SCORE));
        assert_eq!(
            count(-1, 10).unwrap_err(),
            "must be between 0 and 10, got -1"
        );
        assert_eq!(count(10, 10), Ok(10));
        assert!(days_past_due(MAX_DAYS_PAST_DUE + 1).is_err());
        assert!(account_id("  ").is_err());
        assert!(account_id(&"x".repeat(MAX_ACCOUNT_ID_BYTES + 1)).is_err());
        assert!(minimum_due(2.0, 1.0).is_err());
        assert!(attribute(f64::NEG_INFINITY).is_err());
        assert!(history_cycles(MAX_HISTORY_CYCLES + 1).is_err());
        assert!(attribute_count(MAX_ATTRIBUTES + 1).is_err());
        let d = |s: &str| s.parse::<NaiveDate>().expect("date");
        assert!(statement_date(d("2025-02-01"), d("2025-01-31")).is_err());
        assert!(statement_date(d("2025-01-31"), d("2025-01-31")).is_ok());
    }
}
