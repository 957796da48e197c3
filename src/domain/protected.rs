//! Protected characteristics, which are never model inputs, recognised by what a column's name
//! says rather than by its exact spelling.
//!
//! Rules, in order:
//! 1. A name is split into lowercase words: at anything not a letter or digit and at camelCase
//!    humps (`applicantAgeBand`, `applicant-age band` and `APPLICANT_AGE_BAND` are all
//!    `applicant age band`).
//! 2. It is protected when its words contain one of [`PROTECTED_CHARACTERISTICS`]' phrases, word
//!    for word (`age` matches `applicant_age_band` but not `usage` or `average_balance`).
//! 3. A [`ProtectedList`] adds names of its own (matched the same way) and may allow a name the
//!    rules would refuse (an account's age, not a person's) only with a written reason; the
//!    training config carries the list and the artifact records it, so serving refuses and allows
//!    exactly what training did.

use serde::{Deserialize, Serialize};

/// Each protected characteristic, with the phrases (word sequences) that name it.
pub const PROTECTED_CHARACTERISTICS: &[(&str, &[&[&str]])] = &[
    ("age", &[&["age"], &["ages"], &["aged"]]),
    (
        "date of birth",
        &[
            &["dob"],
            &["birth"],
            &["birthdate"],
            &["birthday"],
            &["birthyear"],
        ],
    ),
    ("sex", &[&["sex"]]),
    ("gender", &[&["gender"]]),
    (
        "marital status",
        &[&["marital"], &["marriage"], &["married"], &["spouse"]],
    ),
    (
        "dependants",
        &[
            &["dependents"],
            &["dependants"],
            &["dependent"],
            &["dependant"],
            &["children"],
        ],
    ),
    ("race", &[&["race"], &["racial"]]),
    ("ethnicity", &[&["ethnicity"], &["ethnic"]]),
    ("religion", &[&["religion"], &["religious"]]),
    ("nationality", &[&["nationality"], &["citizenship"]]),
    (
        "national origin",
        &[
            &["national", "origin"],
            &["origin", "country"],
            &["country", "of", "origin"],
        ],
    ),
    ("disability", &[&["disability"], &["disabled"]]),
    (
        "pregnancy",
        &[&["pregnancy"], &["pregnant"], &["maternity"]],
    ),
    ("education", &[&["education"]]),
];

/// The words of a name (rule 1).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.trim().chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Whether `phrase` occurs in `words`, word for word.
fn contains(words: &[String], phrase: &[&str]) -> bool {
    !phrase.is_empty()
        && words
            .windows(phrase.len())
            .any(|w| w.iter().zip(phrase).all(|(a, b)| a == b))
}

/// The protected characteristic `name` names, if any (rules 1 and 2).
pub fn protected_characteristic(name: &str) -> Option<&'static str> {
    let words = words(name);
    PROTECTED_CHARACTERISTICS
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| contains(&words, p)))
        .map(|(c, _)| *c)
}

/// True when `name` names a protected characteristic that must never be a model input.
pub fn is_protected_attribute(name: &str) -> bool {
    protected_characteristic(name).is_some()
}

/// Names a portfolio adds to the protected ones, and names allowed despite the rules, each with
/// its reason (rule 3). As `[protected]` in the training config and `protected` in an artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtectedList {
    /// More names never to use (for example `postcode`), matched as phrases of words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
    /// Names the rules match that are not the characteristic (an account's age), allowed with
    /// a reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<AllowedAttribute>,
}

/// An attribute allowed despite matching a protected characteristic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedAttribute {
    /// The attribute's name, exactly as in the data (without `attr_`).
    pub name: String,
    /// Why it is not the protected characteristic, recorded with the model.
    pub reason: String,
}

impl ProtectedList {
    /// Whether the list adds or allows nothing.
    pub fn is_empty(&self) -> bool {
        self.extra.is_empty() && self.allowed.is_empty()
    }

    /// Why the list refuses attribute `name` as a model input, or `None` when it may be one.
    pub fn refuses(&self, name: &str) -> Option<String> {
        let words = words(name);
        if let Some(extra) = self.extra.iter().find(|e| {
            contains(
                &words,
                &self::words(e)
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )
        }) {
            return Some(format!(
                "it is on the portfolio's protected list (`{extra}`)"
            ));
        }
        let characteristic = protected_characteristic(name)?;
        if self.allowed.iter().any(|a| a.name == name) {
            return None;
        }
        Some(format!(
            "it names a protected characteristic ({characteristic}); if it is not one, allow it \
             in the training config's [protected] with a reason"
        ))
    }

    /// Checks the list: every allowance needs a name and a reason.
    pub fn validate(&self) -> Result<(), String> {
        for a in &self.allowed {
            if a.name.trim().is_empty() || a.reason.trim().len() < 10 {
                return Err(format!(
                    "protected.allowed `{}`: a name and a reason of at least 10 characters are required",
                    a.name
                ));
            }
        }
        if self.extra.iter().any(|e| words(e).is_empty()) {
            return Err("protected.extra: names must not be empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_matched_by_their_words_in_any_spelling() {
        // Pins rules 1 and 2 on the names an analyst's data carried and on near misses.
        for name in [
            "SEX",
            " Age ",
            "education",
            "number_of_dependents",
            "applicant_age_band",
            "applicantAgeBand",
            "Date-Of-Birth",
            "dob",
            "marital_status",
            "NumberOfDependents",
            "country_of_origin",
            "national origin",
            "is_pregnant",
        ] {
            assert!(is_protected_attribute(name), "{name}");
        }
        for name in [
            "region_unemployment",
            "usage",
            "average_balance",
            "page_views",
            "storage_fee",
            "debt_ratio",
            "origination_fee",
        ] {
            assert!(!is_protected_attribute(name), "{name}");
        }
        assert_eq!(
            protected_characteristic("NumberOfDependents"),
            Some("dependants")
        );
    }

    #[test]
    fn a_list_extends_the_rules_and_allows_only_with_a_reason() {
        // Pins rule 3.
        let list = ProtectedList {
            extra: vec!["postcode".into()],
            allowed: vec![AllowedAttribute {
                name: "account_age_months".into(),
                reason: "the age of the account since opening, not of the customer".into(),
            }],
        };
        assert!(list.validate().is_ok());
        assert!(list.refuses("home_postcode").is_some());
        assert!(list.refuses("account_age_months").is_none());
        assert!(list.refuses("customer_age").is_some());
        assert!(list.refuses("debt_ratio").is_none());
        let lazy = ProtectedList {
            allowed: vec![AllowedAttribute {
                name: "age".into(),
                reason: String::new(),
            }],
            ..ProtectedList::default()
        };
        assert!(lazy.validate().is_err());
    }
}
