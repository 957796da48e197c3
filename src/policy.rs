//! The treatment policy: risk bands, soft versus firm treatment, the staged collection ladder,
//! hardship handling, the score scale and the worklist priority.
//!
//! A policy is a TOML file kept apart from the model (see `models/policy.toml`), validated
//! completely at load. [`Policy::decide`] turns a repayment probability and an account into a
//! [`Decision`] without allocating.

use std::path::Path;

use serde::Deserialize;

use crate::domain::Account;
use crate::error::LoadError;

/// A validated treatment policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Policy name.
    pub name: String,
    /// Policy version, reported with every decision.
    pub version: String,
    /// How probabilities map to score points.
    pub score_scale: ScoreScale,
    /// Risk bands, from the lowest risk (highest `min_probability`) down to a last band at 0.
    pub bands: Vec<Band>,
    /// Soft versus firm.
    pub treatment: TreatmentRules,
    /// What to offer customers in declared hardship.
    pub hardship: Action,
    /// Stages by days past due, ascending, the first at 0.
    pub ladder: Vec<Stage>,
}

/// Points-to-double-odds scaling: `points = base_points + pdo * log2(odds / base_odds)`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreScale {
    /// Points at `base_odds`.
    pub base_points: f64,
    /// Repayment odds (p / (1 - p)) that score `base_points`.
    pub base_odds: f64,
    /// Points that double the odds.
    pub points_to_double_odds: f64,
}

/// A risk band.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// Band label, for example `A`.
    pub name: String,
    /// Lowest repayment probability in the band.
    pub min_probability: f64,
}

/// When treatment is firm.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreatmentRules {
    /// At or above this repayment probability the treatment is soft, below it firm.
    pub soft_min_probability: f64,
    /// Accounts with at least this many prior delinquencies are repeat defaulters: firm.
    pub firm_min_prior_delinquencies: u32,
}

/// An action and its channel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Action code, for example `reminder`.
    pub action: String,
    /// Channel, for example `sms`.
    pub channel: String,
}

/// One stage of the collection ladder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Stage label, for example `30+`.
    pub stage: String,
    /// The stage applies from this many days past due.
    pub min_days_past_due: u32,
    /// Action under soft treatment.
    pub soft: Action,
    /// Action under firm treatment.
    pub firm: Action,
}

/// Soft or firm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Reminders, payment plans.
    Soft,
    /// Calls, demand letters, referrals.
    Firm,
}

/// Why the treatment was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rationale {
    /// Declared hardship: soft, with the hardship offer.
    Hardship,
    /// Many prior delinquencies: firm whatever the score.
    RepeatDefaulter,
    /// Probability below the soft threshold.
    HighRisk,
    /// Probability at or above the soft threshold.
    LikelyToPay,
}

impl Rationale {
    /// Readable explanation.
    pub fn text(self) -> &'static str {
        match self {
            Rationale::Hardship => "declared hardship: soft treatment with a payment plan offer",
            Rationale::RepeatDefaulter => "repeat defaulter: firm treatment whatever the score",
            Rationale::HighRisk => "repayment probability below the soft threshold: firm treatment",
            Rationale::LikelyToPay => "likely to pay: soft treatment",
        }
    }
}

/// What to do with one account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision<'p> {
    /// Score points on the policy's scale.
    pub score: f64,
    /// Risk band label.
    pub band: &'p str,
    /// Soft or firm.
    pub treatment: Treatment,
    /// The next action.
    pub action: &'p Action,
    /// The ladder stage that applied.
    pub stage: &'p str,
    /// Why.
    pub rationale: Rationale,
    /// Worklist priority, higher first: expected loss `(1 - p) * balance`.
    pub priority: f64,
}

impl Policy {
    /// Parses and validates a policy from TOML text.
    pub fn from_toml(text: &str) -> Result<Policy, LoadError> {
        let policy: Policy = toml::from_str(text).map_err(LoadError::parse)?;
        policy.validate()?;
        Ok(policy)
    }

    /// Reads, parses and validates a policy file.
    pub fn load(path: &Path) -> Result<Policy, LoadError> {
        let text = LoadError::read(path)?;
        Policy::from_toml(&text).map_err(|e| e.with_origin(&path.display().to_string()))
    }

    /// Checks the policy's rules.
    pub fn validate(&self) -> Result<(), LoadError> {
        let fail = |m: &str| Err(LoadError::invalid(m));
        if self.name.trim().is_empty() || self.version.trim().is_empty() {
            return fail("name and version must not be empty");
        }
        let s = &self.score_scale;
        if !(s.base_points.is_finite()
            && s.base_odds.is_finite()
            && s.base_odds > 0.0
            && s.points_to_double_odds.is_finite()
            && s.points_to_double_odds > 0.0)
        {
            return fail("score_scale: base_points finite, base_odds > 0 and points_to_double_odds > 0 required");
        }
        if self.bands.is_empty() {
            return fail("bands: at least one band is required");
        }
        for (i, b) in self.bands.iter().enumerate() {
            if b.name.trim().is_empty() {
                return fail("bands: every band needs a name");
            }
            if !(0.0..=1.0).contains(&b.min_probability) {
                return fail("bands: min_probability must be in [0, 1]");
            }
            if i > 0 && b.min_probability >= self.bands[i - 1].min_probability {
                return fail("bands: min_probability must strictly decrease from band to band");
            }
            if self.bands[..i].iter().any(|o| o.name == b.name) {
                return fail("bands: names must be unique");
            }
        }
        if self.bands.last().map(|b| b.min_probability) != Some(0.0) {
            return fail("bands: the last band must start at min_probability = 0");
        }
        if !(0.0..=1.0).contains(&self.treatment.soft_min_probability) {
            return fail("treatment.soft_min_probability must be in [0, 1]");
        }
        check_action(&self.hardship, "hardship")?;
        if self.ladder.first().map(|s| s.min_days_past_due) != Some(0) {
            return fail("ladder: the first stage must start at min_days_past_due = 0");
        }
        for (i, stage) in self.ladder.iter().enumerate() {
            if stage.stage.trim().is_empty() {
                return fail("ladder: every stage needs a name");
            }
            if i > 0 && stage.min_days_past_due <= self.ladder[i - 1].min_days_past_due {
                return fail("ladder: min_days_past_due must strictly increase");
            }
            check_action(&stage.soft, "ladder.soft")?;
            check_action(&stage.firm, "ladder.firm")?;
        }
        Ok(())
    }

    /// Score points for a repayment probability (probabilities are clamped to
    /// [1e-9, 1 - 1e-9] so the points stay finite).
    pub fn points(&self, probability: f64) -> f64 {
        let p = probability.clamp(1e-9, 1.0 - 1e-9);
        let s = &self.score_scale;
        s.base_points + s.points_to_double_odds * (p / (1.0 - p) / s.base_odds).log2()
    }

    /// The risk band of a probability.
    pub fn band(&self, probability: f64) -> &str {
        self.bands
            .iter()
            .find(|b| probability >= b.min_probability)
            .or(self.bands.last())
            .map_or("", |b| b.name.as_str())
    }

    /// Decides the treatment of `account` given its repayment probability.
    pub fn decide(&self, probability: f64, account: &Account) -> Decision<'_> {
        let dpd = account.history.last().map_or(0, |c| c.days_past_due);
        let stage = self
            .ladder
            .iter()
            .rev()
            .find(|s| dpd >= s.min_days_past_due)
            .unwrap_or(&UNREACHABLE_STAGE);
        let (treatment, rationale, action) = if account.profile.hardship {
            (Treatment::Soft, Rationale::Hardship, &self.hardship)
        } else if account.profile.prior_delinquencies >= self.treatment.firm_min_prior_delinquencies
        {
            (Treatment::Firm, Rationale::RepeatDefaulter, &stage.firm)
        } else if probability < self.treatment.soft_min_probability {
            (Treatment::Firm, Rationale::HighRisk, &stage.firm)
        } else {
            (Treatment::Soft, Rationale::LikelyToPay, &stage.soft)
        };
        Decision {
            score: self.points(probability),
            band: self.band(probability),
            treatment,
            action,
            stage: &stage.stage,
            rationale,
            priority: (1.0 - probability) * account.profile.current_balance,
        }
    }
}

/// Stands in for a ladder stage only if a policy that skipped validation has none; a validated
/// policy always has a stage from 0 days past due. Keeps `decide` free of panics.
static UNREACHABLE_STAGE: Stage = Stage {
    stage: String::new(),
    min_days_past_due: 0,
    soft: Action {
        action: String::new(),
        channel: String::new(),
    },
    firm: Action {
        action: String::new(),
        channel: String::new(),
    },
};

fn check_action(a: &Action, at: &str) -> Result<(), LoadError> {
    if a.action.trim().is_empty() || a.channel.trim().is_empty() {
        return Err(LoadError::invalid(format!(
            "{at}: action and channel must not be empty"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CreditProfile, PaymentCycle};
    use chrono::NaiveDate;

    const DEFAULT: &str = include_str!("../models/policy.toml");

    fn account(dpd: u32, hardship: bool, prior: u32) -> Account {
        let d = NaiveDate::from_ymd_opt(2025, 1, 31).unwrap_or_default();
        Account {
            account_id: "x".into(),
            as_of: d,
            profile: CreditProfile {
                credit_limit: 1000.0,
                current_balance: 800.0,
                prior_delinquencies: prior,
                hardship,
                ..CreditProfile::default()
            },
            history: vec![PaymentCycle {
                statement_date: d,
                amount_due: 800.0,
                minimum_due: 40.0,
                amount_paid: 0.0,
                days_past_due: dpd,
            }],
            attributes: Default::default(),
        }
    }

    #[test]
    fn shipped_policy_is_valid_and_escalates_by_stage() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let early_soft = p.decide(0.95, &account(0, false, 0));
        assert_eq!(early_soft.treatment, Treatment::Soft);
        assert_eq!(early_soft.rationale, Rationale::LikelyToPay);
        let late_firm = p.decide(0.2, &account(150, false, 0));
        assert_eq!(late_firm.treatment, Treatment::Firm);
        assert_eq!(late_firm.action.action, "legal_referral");
        let firm_90 = p.decide(0.2, &account(95, false, 0));
        assert_eq!(firm_90.action.action, "agency_referral");
        assert!((late_firm.priority - 0.8 * 800.0).abs() < 1e-9);
    }

    #[test]
    fn hardship_and_repeat_defaulters_override_the_score() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let h = p.decide(0.1, &account(60, true, 9));
        assert_eq!(h.treatment, Treatment::Soft);
        assert_eq!(h.action.action, "payment_plan_offer");
        let r = p.decide(0.99, &account(0, false, 5));
        assert_eq!(r.treatment, Treatment::Firm);
        assert_eq!(r.rationale, Rationale::RepeatDefaulter);
    }

    #[test]
    fn score_points_follow_points_to_double_odds() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let s = p.score_scale;
        let at_base = s.base_odds / (1.0 + s.base_odds);
        assert!((p.points(at_base) - s.base_points).abs() < 1e-9);
        let doubled = 2.0 * s.base_odds / (1.0 + 2.0 * s.base_odds);
        assert!((p.points(doubled) - s.base_points - s.points_to_double_odds).abs() < 1e-9);
        assert!(p.points(1.0).is_finite() && p.points(0.0).is_finite());
    }

    #[test]
    fn bands_cover_all_probabilities() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        assert_eq!(p.band(1.0), p.bands[0].name);
        assert_eq!(p.band(0.0), p.bands[p.bands.len() - 1].name);
    }

    #[test]
    fn invalid_policies_are_refused_with_a_reason() {
        let cases = [
            (
                "min_probability = 0.0\n",
                "min_probability = 0.05\n",
                "last band",
            ),
            (
                "min_days_past_due = 0\n",
                "min_days_past_due = 5\n",
                "first stage",
            ),
            (
                "soft_min_probability = 0.70",
                "soft_min_probability = 1.70",
                "soft_min_probability",
            ),
            (
                "points_to_double_odds = 20.0",
                "points_to_double_odds = -1.0",
                "score_scale",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(DEFAULT.contains(from), "fixture lacks {from}");
            let err = Policy::from_toml(&DEFAULT.replacen(from, to, 1))
                .expect_err(expected)
                .to_string();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
        let err = Policy::from_toml("name = 1").expect_err("type error");
        assert!(matches!(err, LoadError::Parse { .. }));
        let err = Policy::from_toml(&format!("{DEFAULT}\nsurprise = true\n")).expect_err("unknown");
        assert!(err.to_string().contains("surprise"), "{err}");
    }
}
