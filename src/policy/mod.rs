//! The treatment policy: risk bands, soft versus firm treatment, the staged collection ladder,
//! hardship and promises to pay, accounts likely to pay anyway, contact caps, the score scale,
//! the worklist priority, and an optional champion/challenger experiment.
//!
//! A policy is a TOML file kept apart from the model (see `models/policy.toml`), validated
//! completely at load. [`Policy::decide`] turns a repayment probability and an account into a
//! [`Decision`] without allocating.
//!
//! The order of the rules in [`Policy::decide`]:
//! 1. Declared hardship: soft, the hardship offer (a flexible payment plan).
//! 2. A promise to pay not yet due: hold (the promise's action), priority 0.
//! 3. Broken promises (at least `promises.firm_min_broken` in `promises.lookback_days`): firm.
//!
//! With `treatment.mode = "uplift"` the treatment-effect model's choice (the candidate of highest
//! expected net recovery, [`Policy::decide_with`]) replaces rules 4-7, its priority the choice's
//! expected gain over the reference treatment; otherwise (`"threshold"`, the default):
//!
//! 4. Repeat defaulters (`treatment.firm_min_prior_delinquencies`): firm.
//! 5. Repayment probability below `treatment.soft_min_probability`: firm.
//! 6. At or above `self_cure.min_probability`: likely to pay anyway, the cheap soft action, and
//!    the priority scaled down by `self_cure.priority_factor`.
//! 7. Otherwise soft.
//!
//! Firm and soft actions come from the ladder stage of the latest days past due. Then the
//! contact caps: when the chosen action's channel is capped and the account's contact history
//! reaches the cap (too many attempts in the window, or too soon after a conversation), the
//! cap's fallback action replaces it, and the decision carries the [`Guard`] saying why.
//!
//! Last, the compliance holds (`[compliance]`, with safe defaults when the section is absent):
//! bankruptcy, deceased, dispute pending and cease communication stop collection; an attorney
//! redirects it; opt-outs move an action off a channel; contact hours make it wait. They apply
//! whatever the rules, the caps or an experiment chose; the order is in `compliance`.
//!
//! Where each part lives: the schema, loading and validation here; the rules of
//! [`Policy::decide`], the score scale and the bands in `decide`; contact caps and their guards in
//! `contact`; compliance holds in `compliance`; experiment arms in `experiment`.

mod compliance;
mod contact;
mod decide;
mod experiment;

use std::path::Path;

use serde::Deserialize;

use crate::error::LoadError;
pub use compliance::{ComplianceRules, ContactHours};
pub use contact::{ContactCap, Guard, GuardRule};
pub use decide::{Decision, Rationale, Treatment};
pub use experiment::{candidate_for, Arm, Candidate, Control, Experiment, ExperimentMode};

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
    /// Promises to pay: hold while one is pending, firm after broken ones.
    #[serde(default)]
    pub promises: Option<PromiseRules>,
    /// Accounts likely to pay anyway.
    #[serde(default)]
    pub self_cure: Option<SelfCure>,
    /// Caps on contact attempts, per channel.
    #[serde(default)]
    pub contact_caps: Vec<ContactCap>,
    /// The treatments a randomised control assigns and a treatment-effect model chooses
    /// between (`[[candidates]]`), names unique.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// A champion/challenger experiment.
    #[serde(default)]
    pub experiment: Option<Experiment>,
    /// Compliance holds; absent: the defaults of [`ComplianceRules`]. A challenger policy
    /// declares none and takes the champion's.
    #[serde(default)]
    pub compliance: Option<ComplianceRules>,
    /// Set only on the policy that decides the experiment's control accounts
    /// ([`Policy::held_out`]); never read from a file.
    #[serde(skip)]
    held_out: Option<Control>,
}

/// How promises to pay change the treatment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromiseRules {
    /// What to do while a promise is pending and not yet due (usually: wait for it).
    pub hold: Action,
    /// Broken promises within `lookback_days` that make the treatment firm.
    pub firm_min_broken: u32,
    /// How far back broken promises count, by their due date.
    pub lookback_days: u32,
}

/// Accounts likely to pay anyway: a cheap soft action and a low worklist priority.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfCure {
    /// From this repayment probability up.
    pub min_probability: f64,
    /// The cheap soft action.
    pub action: Action,
    /// Multiplies the priority (expected loss), in [0, 1].
    pub priority_factor: f64,
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
    /// How the treatment is chosen once the customer-protection rules have passed.
    #[serde(default)]
    pub mode: Mode,
}

/// How the policy chooses the treatment after hardship and promises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Repeat defaulters firm, then soft or firm by the repayment probability (rules 4-7).
    #[default]
    Threshold,
    /// The candidate with the highest expected net recovery under a treatment-effect model
    /// (`probability × balance − cost`), in place of rules 4-7.
    Uplift,
}

impl Mode {
    /// `threshold` or `uplift`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Threshold => "threshold",
            Mode::Uplift => "uplift",
        }
    }
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

    /// The policy that decides the experiment's control accounts: this one, with the control's
    /// alternative treatment in place of what the score and behaviour rules choose (`None`
    /// without a control).
    pub fn held_out(&self) -> Option<Policy> {
        let control = self.experiment.as_ref()?.control.clone()?;
        Some(Policy {
            held_out: Some(control),
            ..self.clone()
        })
    }

    /// Whether this policy decides an experiment's control accounts.
    pub fn is_held_out(&self) -> bool {
        self.held_out.is_some()
    }

    /// The compliance holds in force: the policy's `[compliance]`, else the defaults.
    pub fn compliance(&self) -> &ComplianceRules {
        self.compliance
            .as_ref()
            .unwrap_or(&compliance::DEFAULT_RULES)
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
        if let Some(p) = &self.promises {
            check_action(&p.hold, "promises.hold")?;
        }
        if let Some(c) = &self.self_cure {
            check_action(&c.action, "self_cure.action")?;
            if !(0.0..=1.0).contains(&c.min_probability) {
                return fail("self_cure.min_probability must be in [0, 1]");
            }
            if c.min_probability < self.treatment.soft_min_probability {
                return fail(
                    "self_cure.min_probability must not be below treatment.soft_min_probability",
                );
            }
            if !(0.0..=1.0).contains(&c.priority_factor) {
                return fail("self_cure.priority_factor must be in [0, 1]");
            }
        }
        for (i, cap) in self.contact_caps.iter().enumerate() {
            if cap.channel.trim().is_empty() {
                return fail("contact_caps: every cap needs a channel");
            }
            if self.contact_caps[..i]
                .iter()
                .any(|o| o.channel == cap.channel)
            {
                return fail("contact_caps: one cap per channel");
            }
            if cap.max_attempts == 0 || cap.window_days == 0 {
                return fail("contact_caps: max_attempts and window_days must be at least 1");
            }
            check_action(&cap.fallback, "contact_caps.fallback")?;
            // Following fallbacks from this cap must reach an uncapped channel.
            let mut channel = &cap.fallback.channel;
            let mut steps = 0;
            while let Some(next) = self.contact_caps.iter().find(|c| &c.channel == channel) {
                steps += 1;
                if steps > self.contact_caps.len() {
                    return fail("contact_caps: the fallbacks go round in a cycle; one must lead to an uncapped channel");
                }
                channel = &next.fallback.channel;
            }
        }
        if let Some(c) = &self.compliance {
            c.validate()?;
        }
        for (i, c) in self.candidates.iter().enumerate() {
            if c.name.trim().is_empty() {
                return fail("candidates: every candidate needs a name");
            }
            if self.candidates[..i].iter().any(|o| o.name == c.name) {
                return Err(LoadError::invalid(format!(
                    "candidates: `{}` is named twice",
                    c.name
                )));
            }
            if let Some(a) = &c.action {
                check_action(a, "candidates.action")?;
            }
        }
        if self.treatment.mode == Mode::Uplift && self.candidates.len() < 2 {
            return fail(
                "treatment.mode = \"uplift\" chooses among the policy's [[candidates]]: declare \
                 at least two",
            );
        }
        if let Some(e) = &self.experiment {
            if e.name.trim().is_empty() {
                return fail("experiment.name must not be empty");
            }
            if !(e.share > 0.0 && e.share <= 1.0) {
                return fail("experiment.share must be in (0, 1]");
            }
            if e.challenger_model.is_none() && e.challenger_policy.is_none() {
                return fail("experiment: name a challenger_model, a challenger_policy, or both");
            }
            if let Some(c) = &e.control {
                if !(c.share > 0.0 && e.share + c.share <= 1.0) {
                    return fail(
                        "experiment.control.share must be more than 0, and with experiment.share at most 1",
                    );
                }
                if let Some(a) = &c.action {
                    check_action(a, "experiment.control.action")?;
                }
                match (c.treatment, c.candidates.len()) {
                    (Some(_), 0) => {}
                    (None, 0) | (Some(_), _) => {
                        return fail(
                            "experiment.control: give either `treatment` (one alternative) or \
                             `candidates` (several, at random), not both",
                        )
                    }
                    (None, 1) => {
                        return fail(
                            "experiment.control.candidates: a randomised control needs at least \
                             two candidates (one alternative is `treatment`)",
                        )
                    }
                    (None, _) => {
                        if c.action.is_some() {
                            return fail(
                                "experiment.control.action belongs to `treatment`; each \
                                 candidate names its own action",
                            );
                        }
                        for (i, name) in c.candidates.iter().enumerate() {
                            if !self.candidates.iter().any(|k| &k.name == name) {
                                return Err(LoadError::invalid(format!(
                                    "experiment.control.candidates: `{name}` is not one of the \
                                     policy's [[candidates]]"
                                )));
                            }
                            if c.candidates[..i].contains(name) {
                                return Err(LoadError::invalid(format!(
                                    "experiment.control.candidates: `{name}` is listed twice"
                                )));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn check_action(a: &Action, at: &str) -> Result<(), LoadError> {
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
    use crate::domain::{
        Account, ContactAttempt, ContactOutcome, CreditProfile, PaymentCycle, PromiseStatus,
        PromiseToPay,
    };
    use chrono::{DateTime, Duration, NaiveDate, Utc};

    const DEFAULT: &str = include_str!("../../models/policy.toml");

    /// 2025-02-10 17:00 UTC (noon in New York, within the shipped contact hours), ten days
    /// after the test accounts' statement.
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_739_206_800, 0).unwrap_or_default()
    }

    fn contact(days_ago: f64, channel: &str, outcome: ContactOutcome) -> ContactAttempt {
        ContactAttempt {
            at: now() - Duration::seconds((days_ago * 86_400.0) as i64),
            channel: channel.into(),
            outcome,
        }
    }

    fn day(days_from_now: i64) -> NaiveDate {
        now().date_naive() + Duration::days(days_from_now)
    }

    fn account(dpd: u32, hardship: bool, prior: u32) -> Account {
        let d = NaiveDate::from_ymd_opt(2025, 1, 31).unwrap_or_default();
        Account {
            account_id: "x".into(),
            as_of: d,
            profile: CreditProfile {
                credit_limit: Some(1000.0),
                current_balance: Some(800.0),
                prior_delinquencies: prior,
                hardship: Some(hardship),
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
            contacts: Vec::new(),
            promises: Vec::new(),
            compliance: Default::default(),
        }
    }

    #[test]
    fn shipped_policy_is_valid_and_escalates_by_stage() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let early_soft = p.decide(0.85, &account(0, false, 0), now());
        assert_eq!(early_soft.treatment, Treatment::Soft);
        assert_eq!(early_soft.rationale, Rationale::LikelyToPay);
        let late_firm = p.decide(0.2, &account(150, false, 0), now());
        assert_eq!(late_firm.treatment, Treatment::Firm);
        assert_eq!(late_firm.action.action, "legal_referral");
        let firm_90 = p.decide(0.2, &account(95, false, 0), now());
        assert_eq!(firm_90.action.action, "agency_referral");
        assert!((late_firm.priority - 0.8 * 800.0).abs() < 1e-9);
    }

    #[test]
    fn an_unknown_balance_has_no_expected_loss_and_unknown_hardship_is_none_declared() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let mut a = account(35, false, 0);
        a.profile.current_balance = None;
        a.profile.hardship = None;
        let d = p.decide(0.3, &a, now());
        assert_eq!(d.priority, 0.0);
        assert_eq!(d.rationale, Rationale::HighRisk);
    }

    #[test]
    fn hardship_and_repeat_defaulters_override_the_score() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let h = p.decide(0.1, &account(60, true, 9), now());
        assert_eq!(h.treatment, Treatment::Soft);
        assert_eq!(h.action.action, "payment_plan_offer");
        let r = p.decide(0.99, &account(0, false, 5), now());
        assert_eq!(r.treatment, Treatment::Firm);
        assert_eq!(r.rationale, Rationale::RepeatDefaulter);
    }

    #[test]
    fn seven_calls_in_seven_days_block_the_eighth_and_fall_back_to_a_text() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        // High risk at 30+ days: the ladder says call.
        let mut a = account(35, false, 0);
        let six: Vec<_> = (0..6)
            .map(|k| contact(0.5 + f64::from(k), "phone", ContactOutcome::NoAnswer))
            .collect();
        a.contacts = six.clone();
        let d = p.decide(0.3, &a, now());
        assert_eq!((d.action.action.as_str(), d.guard), ("call", None));

        a.contacts
            .push(contact(6.9, "phone", ContactOutcome::LeftMessage));
        let d = p.decide(0.3, &a, now());
        assert_eq!(d.action.channel, "sms", "the 8th call is not allowed");
        let guard = d.guard.expect("guard");
        assert_eq!(guard.blocked.action, "call");
        assert_eq!(
            guard.rule,
            GuardRule::MaxAttempts {
                attempts: 7,
                max_attempts: 7,
                window_days: 7
            }
        );
        assert_eq!(
            guard.reason(),
            "7 phone attempts in the last 7 days (at most 7)"
        );
        assert_eq!(d.treatment, Treatment::Firm, "the treatment stands");

        // The seventh attempt eight days ago is outside the window; future ones do not count;
        // other channels do not count.
        a.contacts = six.clone();
        a.contacts
            .push(contact(8.0, "phone", ContactOutcome::NoAnswer));
        a.contacts
            .push(contact(-1.0, "phone", ContactOutcome::NoAnswer));
        a.contacts
            .push(contact(1.0, "email", ContactOutcome::Delivered));
        assert_eq!(p.decide(0.3, &a, now()).guard, None);
    }

    #[test]
    fn no_call_for_seven_days_after_a_conversation() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let mut a = account(35, false, 0);
        a.contacts = vec![contact(3.0, "phone", ContactOutcome::Conversation)];
        let d = p.decide(0.3, &a, now());
        assert_eq!(d.action.channel, "sms");
        let guard = d.guard.expect("guard");
        assert_eq!(
            guard.rule,
            GuardRule::QuietPeriod {
                hours_ago: 72,
                quiet_days: 7
            }
        );
        assert_eq!(guard.rule.code(), "quiet_period");
        // Eight days on, calls may resume; a conversation by email is not a call.
        a.contacts = vec![
            contact(8.0, "phone", ContactOutcome::Conversation),
            contact(1.0, "email", ContactOutcome::Conversation),
        ];
        assert_eq!(p.decide(0.3, &a, now()).action.action, "call");
    }

    #[test]
    fn fallbacks_follow_the_caps_to_a_permitted_channel() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let mut a = account(35, false, 0);
        a.contacts = vec![contact(2.0, "phone", ContactOutcome::Conversation)];
        a.contacts
            .extend((0..3).map(|k| contact(f64::from(k) + 0.1, "sms", ContactOutcome::Delivered)));
        let d = p.decide(0.3, &a, now());
        assert_eq!(d.action.channel, "email");
        // The guard names the first block: the call.
        assert_eq!(d.guard.map(|g| g.blocked.channel.as_str()), Some("phone"));
        // A cycle of fallbacks is refused at load.
        let cyclic = DEFAULT.replace(
            "fallback = { action = \"reminder\", channel = \"email\" }",
            "fallback = { action = \"call\", channel = \"phone\" }",
        );
        assert_ne!(cyclic, DEFAULT);
        let err = Policy::from_toml(&cyclic).expect_err("cycle").to_string();
        assert!(err.contains("cycle"), "{err}");
    }

    #[test]
    fn promises_hold_while_pending_and_broken_ones_are_firm() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let mut a = account(35, false, 0);
        let promise = |made: i64, due: i64, status| PromiseToPay {
            promised_on: day(made),
            due: day(due),
            amount: 100.0,
            status,
        };
        a.promises = vec![promise(-2, 5, PromiseStatus::Pending)];
        let d = p.decide(0.3, &a, now());
        assert_eq!(d.rationale, Rationale::PendingPromise);
        assert_eq!(d.action.action, "await_promise");
        assert_eq!(d.priority, 0.0);

        // A likely payer who broke a promise last month is treated firmly.
        a.promises = vec![promise(-40, -30, PromiseStatus::Broken)];
        let d = p.decide(0.85, &a, now());
        assert_eq!(
            (d.treatment, d.rationale),
            (Treatment::Firm, Rationale::BrokenPromises)
        );
        // Beyond the lookback, or kept, it no longer counts; an overdue "pending" one does not
        // hold.
        a.promises = vec![
            promise(-400, -390, PromiseStatus::Broken),
            promise(-20, -10, PromiseStatus::Kept),
            promise(-20, -1, PromiseStatus::Pending),
        ];
        assert_eq!(p.decide(0.85, &a, now()).rationale, Rationale::LikelyToPay);
        // Hardship comes first.
        a.profile.hardship = Some(true);
        a.promises = vec![promise(-40, -30, PromiseStatus::Broken)];
        assert_eq!(p.decide(0.85, &a, now()).rationale, Rationale::Hardship);
    }

    #[test]
    fn accounts_likely_to_pay_anyway_get_a_cheap_reminder_and_low_priority() {
        let p = Policy::from_toml(DEFAULT).expect("shipped policy");
        let a = account(35, false, 0);
        let cure = p.decide(0.95, &a, now());
        assert_eq!(cure.rationale, Rationale::SelfCure);
        assert_eq!(
            (cure.action.action.as_str(), cure.action.channel.as_str()),
            ("reminder", "sms")
        );
        assert!((cure.priority - 0.05 * 0.05 * 800.0).abs() < 1e-9);
        // A less certain payer of the same balance comes first on the worklist.
        let soft = p.decide(0.85, &a, now());
        assert_eq!(soft.rationale, Rationale::LikelyToPay);
        assert!(soft.priority > 10.0 * cure.priority);
    }

    #[test]
    fn experiment_arms_are_stable_and_near_the_share() {
        let e = Experiment {
            name: "gbdt-trial".into(),
            share: 0.2,
            mode: ExperimentMode::Split,
            challenger_model: Some("other.json".into()),
            challenger_policy: None,
            control: None,
        };
        let arms: Vec<Arm> = (0..20_000).map(|i| e.arm(&format!("acct-{i}"))).collect();
        let share = arms.iter().filter(|a| **a == Arm::Challenger).count() as f64 / 20_000.0;
        assert!((share - 0.2).abs() < 0.01, "{share}");
        assert!((0..20_000).all(|i| e.arm(&format!("acct-{i}")) == arms[i]));
        // A new experiment name reshuffles the arms.
        let renamed = Experiment {
            name: "gbdt-trial-2".into(),
            ..e.clone()
        };
        assert!((0..1000).any(|i| renamed.arm(&format!("acct-{i}")) != arms[i]));
        // An experiment needs a challenger and a share in (0, 1].
        let base = format!("{DEFAULT}\n[experiment]\nname = \"x\"\nmode = \"split\"\n");
        for (extra, expected) in [
            ("share = 0.1\n", "challenger"),
            ("share = 0.0\nchallenger_model = \"m.json\"\n", "share"),
        ] {
            let err = Policy::from_toml(&format!("{base}{extra}"))
                .expect_err(expected)
                .to_string();
            assert!(err.contains(expected), "{err}");
        }
        assert!(Policy::from_toml(&format!(
            "{base}share = 0.5\nchallenger_model = \"m.json\"\n"
        ))
        .is_ok());
    }

    /// A control's policy gives the alternative where the score and behaviour rules decided,
    /// keeps hardship and pending promises, and still yields to the caps and the holds.
    #[test]
    fn the_control_gets_the_alternative_and_still_yields_to_caps_and_holds() {
        let text = format!(
            "{DEFAULT}\n[experiment]\nname = \"x\"\nmode = \"split\"\nshare = 0.3\n\
             challenger_model = \"m.json\"\n[experiment.control]\nshare = 0.1\n\
             treatment = \"soft\"\naction = {{ action = \"no_contact\", channel = \"none\" }}\n"
        );
        let p = Policy::from_toml(&text).expect("policy with a control");
        assert!(!p.is_held_out());
        let control = p.held_out().expect("a control");
        // Firm for the champion (low probability), the no-contact soft alternative for the control.
        let a = account(45, false, 0);
        assert_eq!(p.decide(0.2, &a, now()).treatment, Treatment::Firm);
        let d = control.decide(0.2, &a, now());
        assert_eq!(
            (d.treatment, d.rationale, d.action.action.as_str()),
            (Treatment::Soft, Rationale::Control, "no_contact")
        );
        // Hardship keeps its offer.
        let h = control.decide(0.2, &account(45, true, 0), now());
        assert_eq!(h.rationale, Rationale::Hardship);
        // A hold overrides the alternative.
        let mut bankrupt = account(45, false, 0);
        bankrupt.compliance.bankruptcy = true;
        let b = control.decide(0.2, &bankrupt, now());
        assert_eq!(b.action.action, "bankruptcy_hold");
        assert_eq!(b.priority, 0.0);
        // Shares beyond 1 together are refused.
        let over = text.replace("share = 0.1", "share = 0.8");
        let err = Policy::from_toml(&over).expect_err("too large").to_string();
        assert!(err.contains("control.share"), "{err}");
        // Without a control there is no held-out policy.
        assert!(Policy::from_toml(DEFAULT)
            .expect("shipped")
            .held_out()
            .is_none());
    }

    /// A randomised control gives each of its accounts one of the named candidates, in equal
    /// parts by the arm's hash, the decision following the candidate; hardship keeps its offer;
    /// a control naming no known candidate, one candidate, or both forms is refused.
    #[test]
    fn a_randomised_control_assigns_the_candidates_in_equal_parts() {
        let text = format!(
            "{DEFAULT}
[[candidates]]
name = \"none\"
treatment = \"soft\"
\
             action = {{ action = \"no_contact\", channel = \"none\" }}
\
             [[candidates]]
name = \"soft\"
treatment = \"soft\"
\
             [[candidates]]
name = \"firm\"
treatment = \"firm\"
\
             [experiment]
name = \"trial\"
mode = \"split\"
share = 0.1
\
             challenger_model = \"m.json\"
[experiment.control]
share = 0.6
\
             candidates = [\"none\", \"soft\", \"firm\"]
"
        );
        let p = Policy::from_toml(&text).expect("policy with a randomised control");
        let control = p.held_out().expect("a control");
        let e = p.experiment.as_ref().expect("experiment");
        let mut counts = [0usize; 3];
        let mut a = account(45, false, 0);
        for i in 0..3_000 {
            a.account_id = format!("acct-{i}");
            let Some(k) = e.control_candidate(&a.account_id) else {
                assert_ne!(e.arm(&a.account_id), Arm::Control);
                continue;
            };
            assert_eq!(e.arm(&a.account_id), Arm::Control);
            counts[k] += 1;
            let d = control.decide(0.95, &a, now());
            let expected = [
                (Treatment::Soft, "no_contact"),
                (Treatment::Soft, "reminder"),
                (Treatment::Firm, "call"),
            ][k];
            assert_eq!((d.treatment, d.action.action.as_str()), expected);
            assert_eq!(d.rationale, Rationale::Control);
        }
        // 1,800 expected in the control, 600 per candidate (sd about 22).
        for c in counts {
            assert!((500..700).contains(&c), "{counts:?}");
        }
        let h = control.decide(0.2, &account(45, true, 0), now());
        assert_eq!(h.rationale, Rationale::Hardship);
        for (edit, expected) in [
            ("[\"none\", \"soft\", \"firm\"]", "[\"none\", \"call\"]"),
            ("[\"none\", \"soft\", \"firm\"]", "[\"none\"]"),
            ("[\"none\", \"soft\", \"firm\"]", "[\"none\", \"none\"]"),
            ("share = 0.6\n", "share = 0.6\ntreatment = \"soft\"\n"),
        ] {
            let bad = text.replace(edit, expected);
            assert_ne!(bad, text);
            let err = Policy::from_toml(&bad).expect_err(expected).to_string();
            assert!(err.contains("experiment.control"), "{err}");
        }
        let twice = text.replacen("name = \"soft\"", "name = \"none\"", 1);
        let err = Policy::from_toml(&twice).expect_err("twice").to_string();
        assert!(err.contains("named twice"), "{err}");
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

    mod compliance {
        //! The compliance holds of the shipped policy, rule by rule (`policy::compliance`).
        use super::*;
        use crate::domain::{rules, Compliance};

        fn at(rfc3339: &str) -> DateTime<Utc> {
            DateTime::parse_from_rfc3339(rfc3339)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        }

        /// High risk at 30+ days past due: the ladder's firm action is a call.
        fn caller() -> Account {
            account(35, false, 0)
        }

        #[test]
        fn stopping_holds_replace_the_action_zero_the_priority_and_name_the_rule() {
            // Pins rules 1-4: each stopping hold's action, guard and priority, whatever the rules
            // chose (a high-risk call, a hardship offer, a capped call).
            let p = Policy::from_toml(DEFAULT).expect("shipped policy");
            type Case = (fn(&mut Compliance), &'static str, &'static str);
            let cases: [Case; 4] = [
                (|c| c.bankruptcy = true, "bankruptcy", "bankruptcy_hold"),
                (|c| c.deceased = true, "deceased", "deceased_review"),
                (
                    |c| c.dispute_pending = true,
                    "dispute_pending",
                    "dispute_hold",
                ),
                (
                    |c| c.cease_communication = true,
                    "cease_communication",
                    "no_contact",
                ),
            ];
            for (set, rule, action) in cases {
                for mut a in [caller(), account(60, true, 0)] {
                    set(&mut a.compliance);
                    let d = p.decide(0.3, &a, now());
                    assert_eq!(d.action.action, action, "{rule}");
                    assert_eq!(d.action.channel, "none", "{rule}");
                    assert_eq!(d.priority, 0.0, "{rule}");
                    let guard = d.guard.expect("a guard");
                    assert_eq!(guard.rule.code(), rule);
                    assert_ne!(
                        guard.blocked.channel, "none",
                        "{rule}: blocked what the rules chose"
                    );
                }
            }
            // Bankruptcy comes first when several holds apply, and a hold wins over a contact cap.
            let mut a = caller();
            a.compliance.dispute_pending = true;
            a.compliance.bankruptcy = true;
            a.contacts = (0..7)
                .map(|k| contact(0.5 + f64::from(k) * 0.9, "phone", ContactOutcome::NoAnswer))
                .collect();
            let d = p.decide(0.3, &a, now());
            assert_eq!(d.guard.map(|g| g.rule.code()), Some("bankruptcy"));
            // The treatment is still the risk view: holds change what is done, not the score.
            assert_eq!(d.treatment, Treatment::Firm);
        }

        #[test]
        fn an_attorney_takes_every_contact_and_keeps_the_priority() {
            // Pins rule 5: the attorney action, whatever the customer's opt-outs and hours.
            let p = Policy::from_toml(DEFAULT).expect("shipped policy");
            let mut a = caller();
            a.compliance.attorney_represented = true;
            a.compliance.opted_out = vec!["phone".into(), "letter".into()];
            let plain = p.decide(0.3, &caller(), now());
            let d = p.decide(0.3, &a, at("2025-02-10T04:00:00Z"));
            assert_eq!(
                (d.action.action.as_str(), d.action.channel.as_str()),
                ("contact_attorney", "letter")
            );
            assert_eq!(d.priority, plain.priority);
            assert_eq!(d.guard.map(|g| g.rule.code()), Some("attorney_represented"));
        }

        #[test]
        fn opted_out_channels_move_along_the_fallbacks_until_none_is_left() {
            // Pins rule 6.
            let p = Policy::from_toml(DEFAULT).expect("shipped policy");
            let mut a = caller();
            let expect = [
                (&["phone"][..], "sms", "phone"),
                (&["phone", "sms"][..], "email", "sms"),
                (&["phone", "sms", "email"][..], "letter", "email"),
                (&["phone", "sms", "email", "letter"][..], "none", "letter"),
            ];
            for (opted_out, channel, last_blocked) in expect {
                a.compliance.opted_out = opted_out.iter().map(|c| (*c).to_owned()).collect();
                let d = p.decide(0.3, &a, now());
                assert_eq!(d.action.channel, channel, "{opted_out:?}");
                let guard = d.guard.expect("a guard");
                assert_eq!(guard.rule, GuardRule::OptedOut);
                assert_eq!(guard.blocked.channel, last_blocked);
                assert_eq!(d.priority == 0.0, channel == "none", "{opted_out:?}");
            }
            // A channel not opted out is untouched.
            a.compliance.opted_out = vec!["email".into()];
            assert_eq!(p.decide(0.3, &a, now()).guard, None);
        }

        #[test]
        fn contact_hours_are_judged_in_the_customers_zone_with_the_next_permitted_time() {
            // Pins rule 7: local time, the policy's default zone, the next start (same day or next,
            // across a daylight-saving change), and letters, which have no hours.
            let p = Policy::from_toml(DEFAULT).expect("shipped policy");
            let mut a = caller();
            let cases = [
                // 02:00 in New York (the default zone): wait until 08:00 EST the same day.
                ("", "2025-02-10T07:00:00Z", Some("2025-02-10T13:00:00Z")),
                // 21:30 in New York: wait until 08:00 the next day.
                ("", "2025-02-11T02:30:00Z", Some("2025-02-11T13:00:00Z")),
                // 20:59 is still within the hours; 21:00 is not.
                ("", "2025-02-11T01:59:00Z", None),
                ("", "2025-02-11T02:00:00Z", Some("2025-02-11T13:00:00Z")),
                // 09:00 in Los Angeles is within its hours (noon in New York would be too).
                ("America/Los_Angeles", "2025-02-10T17:00:00Z", None),
                // 07:30 in Los Angeles: wait until 08:00 there.
                (
                    "America/Los_Angeles",
                    "2025-02-10T15:30:00Z",
                    Some("2025-02-10T16:00:00Z"),
                ),
                // Midnight before the spring change in New York: 08:00 is EDT, 12:00 UTC.
                ("", "2025-03-09T05:00:00Z", Some("2025-03-09T12:00:00Z")),
            ];
            for (zone, now, next) in cases {
                a.compliance.time_zone = rules::time_zone(zone).expect("zone");
                let d = p.decide(0.3, &a, at(now));
                match next {
                    None => assert_eq!(d.action.action, "call", "{zone} {now}"),
                    Some(next) => {
                        assert_eq!(d.action.action, "wait", "{zone} {now}");
                        let guard = d.guard.expect("a guard");
                        assert_eq!(guard.rule.code(), "contact_hours");
                        assert_eq!(guard.blocked.action, "call");
                        assert_eq!(guard.next_permitted(), Some(at(next)), "{zone} {now}");
                        assert!(guard.reason().contains("08:00"), "{}", guard.reason());
                        assert!(d.priority > 0.0, "waiting work keeps its place");
                    }
                }
            }
            // A demand letter at 60+ days goes out at any hour.
            let letter = p.decide(0.3, &account(65, false, 0), at("2025-02-10T07:00:00Z"));
            assert_eq!(
                (letter.action.action.as_str(), letter.guard),
                ("demand_letter", None)
            );
        }

        #[test]
        fn a_policy_without_the_section_still_holds_with_the_defaults() {
            // Pins that no policy can forget the law: the defaults stop, redirect and wait too.
            let start = DEFAULT.find("\n[compliance]").expect("the section");
            let bare = Policy::from_toml(&DEFAULT[..start]).expect("policy without [compliance]");
            assert!(bare.compliance.is_none());
            let mut a = caller();
            a.compliance.bankruptcy = true;
            assert_eq!(bare.decide(0.3, &a, now()).action.action, "bankruptcy_hold");
            // The default zone is UTC: 03:00 UTC waits.
            let d = bare.decide(0.3, &caller(), at("2025-02-10T03:00:00Z"));
            assert_eq!(d.guard.map(|g| g.rule.code()), Some("contact_hours"));
        }

        #[test]
        fn broken_compliance_sections_are_refused_naming_the_key() {
            let cases = [
                (
                    "bankruptcy = { action = \"bankruptcy_hold\", channel = \"none\" }",
                    "bankruptcy = { action = \"call\", channel = \"phone\" }",
                    "compliance.bankruptcy",
                ),
                (
                    "dispute_pending = { action = \"dispute_hold\", channel = \"none\" }",
                    "dispute_pending = { action = \"letter\", channel = \"letter\" }",
                    "compliance.dispute_pending",
                ),
                (
                    "end = \"21:00\"",
                    "end = \"07:00\"",
                    "start must be before end",
                ),
                ("start = \"08:00\"", "start = \"8 am\"", "HH:MM"),
                (
                    "default_time_zone = \"America/New_York\"",
                    "default_time_zone = \"Eastern\"",
                    "IANA",
                ),
                (
                    "channels = [\"phone\", \"sms\", \"email\"]",
                    "channels = [\"phone\", \"\"]",
                    "contact_hours.channels",
                ),
            ];
            for (from, to, expected) in cases {
                assert!(DEFAULT.contains(from), "fixture lacks {from}");
                let err = Policy::from_toml(&DEFAULT.replacen(from, to, 1))
                    .expect_err(expected)
                    .to_string();
                assert!(err.contains(expected), "{err} should mention {expected}");
            }
        }
    }
}
