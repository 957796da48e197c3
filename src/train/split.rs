//! Which accounts are held out for evaluation: by key (`mod:`), by hash (`hash:`), or out of
//! time (`time:`: train on the older snapshots, test on the newer, the honest check of a model
//! that will score next month's accounts).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// A deterministic train/test split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Split {
    /// Accounts whose (integer) id modulo `modulus` equals `remainder` are held out;
    /// `mod:5` is the UCI evaluation split (test = `ID % 5 == 0`).
    KeyModulo {
        /// Divisor.
        modulus: u64,
        /// Remainder of held-out ids.
        remainder: u64,
    },
    /// A stable 64-bit hash (FNV-1a, then splitmix64's finaliser) of the seed and the id holds
    /// out about `test_fraction` of the accounts; works for any id.
    Hash {
        /// Share of accounts held out, in (0, 1).
        test_fraction: f64,
        /// Seed mixed into the hash.
        seed: u64,
    },
    /// Out-of-time: snapshots taken after `cutoff` (`as_of > cutoff`) are held out.
    OutOfTime {
        /// The last `as_of` date used for training.
        cutoff: NaiveDate,
    },
}

impl Split {
    /// True when the account snapshot (`account_id` as of `as_of`) is held out. Errors for a
    /// non-integer id under `KeyModulo`.
    pub fn is_test(&self, account_id: &str, as_of: NaiveDate) -> Result<bool, String> {
        match *self {
            Split::OutOfTime { cutoff } => Ok(as_of > cutoff),
            Split::KeyModulo { modulus, remainder } => account_id
                .trim()
                .parse::<u64>()
                .map(|id| id % modulus == remainder)
                .map_err(|_| {
                    format!("account id `{account_id}` is not a whole number, as the `mod:` split needs")
                }),
            Split::Hash {
                test_fraction,
                seed,
            } => {
                Ok(crate::stable_hash::unit_interval(&[&seed.to_le_bytes()], account_id) < test_fraction)
            }
        }
    }
}

impl Split {
    /// The split an artifact records (its `Display` form, as in `training.split`), or the
    /// command-line form.
    pub fn from_recorded(text: &str) -> Result<Split, String> {
        let t = text.trim();
        let recorded = if let Some(rest) = t.strip_prefix("test = account_id % ") {
            rest.split_once(" == ")
                .map(|(m, r)| format!("mod:{}:{}", m.trim(), r.trim()))
        } else if let Some(rest) = t.strip_prefix("test = hash(seed ") {
            rest.split_once(", account_id) < ").map(|(seed, f)| {
                let fraction = f.split_whitespace().next().unwrap_or_default();
                format!("hash:{fraction}:{seed}")
            })
        } else if let Some(rest) = t.strip_prefix("out of time: train = as_of <= ") {
            rest.split_once(',')
                .map(|(d, _)| format!("time:{}", d.trim()))
        } else {
            None
        };
        recorded.unwrap_or_else(|| t.to_owned()).parse()
    }
}

impl FromStr for Split {
    type Err = String;

    /// `mod:M[:R]`, `hash:FRACTION[:SEED]` or `time:YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Split, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad = || {
            format!(
                "split `{s}`: expected `mod:M[:R]`, `hash:FRACTION[:SEED]` or `time:YYYY-MM-DD`"
            )
        };
        match parts.as_slice() {
            ["time", date] => NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map(|cutoff| Split::OutOfTime { cutoff })
                .map_err(|_| format!("split `{s}`: `{date}` is not a date (YYYY-MM-DD)")),
            ["mod", m, rest @ ..] if rest.len() <= 1 => {
                let modulus: u64 = m.parse().map_err(|_| bad())?;
                let remainder: u64 = rest
                    .first()
                    .map_or(Ok(0), |r| r.parse())
                    .map_err(|_| bad())?;
                if modulus < 2 || remainder >= modulus {
                    return Err(format!("split `{s}`: need M >= 2 and 0 <= R < M"));
                }
                Ok(Split::KeyModulo { modulus, remainder })
            }
            ["hash", f, rest @ ..] if rest.len() <= 1 => {
                let test_fraction: f64 = f.parse().map_err(|_| bad())?;
                let seed: u64 = rest
                    .first()
                    .map_or(Ok(0), |r| r.parse())
                    .map_err(|_| bad())?;
                if !(test_fraction > 0.0 && test_fraction < 1.0) {
                    return Err(format!("split `{s}`: FRACTION must be in (0, 1)"));
                }
                Ok(Split::Hash {
                    test_fraction,
                    seed,
                })
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Split::KeyModulo { modulus, remainder } => {
                write!(f, "test = account_id % {modulus} == {remainder}")
            }
            Split::Hash {
                test_fraction,
                seed,
            } => write!(
                f,
                "test = hash(seed {seed}, account_id) < {test_fraction} (FNV-1a + splitmix64)"
            ),
            Split::OutOfTime { cutoff } => {
                write!(
                    f,
                    "out of time: train = as_of <= {cutoff}, test = as_of > {cutoff}"
                )
            }
        }
    }
}

#[cfg(test)]
mod recorded_tests {
    use super::*;

    #[test]
    fn a_recorded_split_reads_back_as_itself() {
        for spec in [
            "mod:5",
            "mod:7:3",
            "hash:0.2",
            "hash:0.25:42",
            "time:2024-06-30",
        ] {
            let split: Split = spec.parse().expect("spec");
            assert_eq!(
                Split::from_recorded(&split.to_string()),
                Ok(split),
                "{spec}"
            );
            assert_eq!(Split::from_recorded(spec), Ok(split), "{spec}");
        }
        assert!(Split::from_recorded("whatever").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn modulo_split_matches_the_uci_rule() {
        let s: Split = "mod:5".parse().expect("split");
        let d = day("2024-01-31");
        assert_eq!(s.is_test("10", d), Ok(true));
        assert_eq!(s.is_test("11", d), Ok(false));
        assert!(s.is_test("abc", d).is_err());
        assert_eq!(s.to_string(), "test = account_id % 5 == 0");
    }

    #[test]
    fn hash_split_is_stable_and_close_to_the_fraction() {
        let s: Split = "hash:0.2:7".parse().expect("split");
        let held = (0..10_000)
            .filter(|i| s.is_test(&format!("acct-{i}"), day("2024-01-31")) == Ok(true))
            .count();
        assert!((1_800..2_200).contains(&held), "{held}");
    }

    #[test]
    fn out_of_time_split_holds_out_the_newer_snapshots() {
        let s: Split = "time:2024-06-30".parse().expect("split");
        assert_eq!(
            s.is_test("a", day("2024-06-30")),
            Ok(false),
            "the cutoff trains"
        );
        assert_eq!(s.is_test("a", day("2024-07-01")), Ok(true));
        assert_eq!(s.is_test("a", day("2023-12-31")), Ok(false));
        assert_eq!(
            s.to_string(),
            "out of time: train = as_of <= 2024-06-30, test = as_of > 2024-06-30"
        );
        assert!("time:2024-13-01".parse::<Split>().is_err());
    }

    #[test]
    fn bad_specs_are_refused() {
        for bad in [
            "mod:1", "mod:5:5", "hash:1.5", "nope", "mod:x", "time:", "time:x",
        ] {
            assert!(bad.parse::<Split>().is_err(), "{bad}");
        }
    }
}
