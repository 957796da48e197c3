//! Which accounts are held out for evaluation.

use std::fmt;
use std::str::FromStr;

/// A deterministic train/test split by account id.
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
}

impl Split {
    /// True when the account is held out. Errors for a non-integer id under `KeyModulo`.
    pub fn is_test(&self, account_id: &str) -> Result<bool, String> {
        match *self {
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
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in seed.to_le_bytes().iter().chain(account_id.as_bytes()) {
                    h ^= u64::from(*b);
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
                // splitmix64's finaliser spreads FNV's low-bit differences over the whole word.
                h ^= h >> 30;
                h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
                h ^= h >> 27;
                h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
                h ^= h >> 31;
                Ok(((h >> 11) as f64 / ((1u64 << 53) as f64)) < test_fraction)
            }
        }
    }
}

impl FromStr for Split {
    type Err = String;

    /// `mod:M[:R]` or `hash:FRACTION[:SEED]`.
    fn from_str(s: &str) -> Result<Split, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad = || format!("split `{s}`: expected `mod:M[:R]` or `hash:FRACTION[:SEED]`");
        match parts.as_slice() {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulo_split_matches_the_uci_rule() {
        let s: Split = "mod:5".parse().expect("split");
        assert_eq!(s.is_test("10"), Ok(true));
        assert_eq!(s.is_test("11"), Ok(false));
        assert!(s.is_test("abc").is_err());
        assert_eq!(s.to_string(), "test = account_id % 5 == 0");
    }

    #[test]
    fn hash_split_is_stable_and_close_to_the_fraction() {
        let s: Split = "hash:0.2:7".parse().expect("split");
        let held = (0..10_000)
            .filter(|i| s.is_test(&format!("acct-{i}")) == Ok(true))
            .count();
        assert!((1_800..2_200).contains(&held), "{held}");
        assert_eq!(s.is_test("acct-1"), s.is_test("acct-1"));
    }

    #[test]
    fn bad_specs_are_refused() {
        for bad in ["mod:1", "mod:5:5", "hash:1.5", "nope", "mod:x"] {
            assert!(bad.parse::<Split>().is_err(), "{bad}");
        }
    }
}
