//! [`Policy::decide`]: the rules in the order the module docs of [`crate::policy`] state, the
//! score scale and the risk bands.

use chrono::{DateTime, Duration, Utc};

use super::contact::Guard;
use super::{Action, Policy, Stage};
use crate::domain::{Account, PromiseStatus};

/// Soft or firm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    /// Reminders, payment plans.
    Soft,
    /// Calls, demand letters, referrals.
    Firm,
}

impl Treatment {
    /// `soft` or `firm`, as the audit log, the metrics and the worklist name treatments.
    pub fn as_str(self) -> &'static str {
        match self {
            Treatment::Soft => "soft",
            Treatment::Firm => "firm",
        }
    }
}

/// Why the treatment was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rationale {
    /// Declared hardship: soft, with the hardship offer.
    Hardship,
    /// A promise to pay is pending: wait for it.
    PendingPromise,
    /// Broken promises to pay: firm whatever the score.
    BrokenPromises,
    /// Many prior delinquencies: firm whatever the score.
    RepeatDefaulter,
    /// Probability below the soft threshold.
    HighRisk,
    /// Probability at or above the soft threshold.
    LikelyToPay,
    /// Likely to pay anyway: the cheap soft action, low priority.
    SelfCure,
    /// Held out as the experiment's random control: the alternative treatment.
    Control,
    /// The treatment-effect model's choice: the highest expected net recovery.
    Uplift,
}

impl Rationale {
    /// Readable explanation.
    pub fn text(self) -> &'static str {
        match self {
            Rationale::Hardship => "declared hardship: soft treatment with a payment plan offer",
            Rationale::PendingPromise => "a promise to pay is pending: hold until it is due",
            Rationale::BrokenPromises => {
                "broken promises to pay: firm treatment whatever the score"
            }
            Rationale::RepeatDefaulter => "repeat defaulter: firm treatment whatever the score",
            Rationale::HighRisk => "repayment probability below the soft threshold: firm treatment",
            Rationale::LikelyToPay => "likely to pay: soft treatment",
            Rationale::SelfCure => {
                "likely to pay anyway: a low-cost reminder, bottom of the worklist"
            }
            Rationale::Control => {
                "held out as the experiment's random control: the alternative treatment"
            }
            Rationale::Uplift => {
                "the candidate treatment with the highest expected net recovery (uplift model)"
            }
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
    /// Worklist priority, higher first: expected loss `(1 - p) * balance` (scaled down for
    /// accounts likely to pay anyway, 0 while a promise is pending or a hold leaves nothing to
    /// do).
    pub priority: f64,
    /// Set when a contact cap or a compliance hold blocked the action the rules chose, and
    /// `action` is what is permitted instead.
    pub guard: Option<Guard<'p>>,
}

impl Policy {
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

    /// Decides the treatment of `account` given its repayment probability, at `now` (contact
    /// caps and promises are judged at that moment). See the module docs for the rules' order.
    pub fn decide(&self, probability: f64, account: &Account, now: DateTime<Utc>) -> Decision<'_> {
        self.decide_with(probability, account, now, None)
    }

    /// As [`Self::decide`], with a treatment-effect model's choice: `(index into
    /// [`Policy::candidates`], its expected net gain over the reference)`. Under `mode =
    /// "uplift"` the choice replaces rules 4-7; hardship and promises come first, the caps and
    /// holds after, as always. Ignored under `mode = "threshold"`.
    pub fn decide_with(
        &self,
        probability: f64,
        account: &Account,
        now: DateTime<Utc>,
        uplift: Option<(usize, f64)>,
    ) -> Decision<'_> {
        let chosen = uplift
            .filter(|_| self.treatment.mode == super::Mode::Uplift)
            .and_then(|(c, gain)| Some((self.candidates.get(c)?, gain)));
        let dpd = account.history.last().map_or(0, |c| c.days_past_due);
        let stage = self
            .ladder
            .iter()
            .rev()
            .find(|s| dpd >= s.min_days_past_due)
            .unwrap_or(&UNREACHABLE_STAGE);
        // An unknown balance has no expected loss to rank by: priority 0.
        let expected_loss = (1.0 - probability) * account.profile.current_balance.unwrap_or(0.0);
        let today = now.date_naive();
        let (mut pending, mut broken) = (false, 0u32);
        if let Some(rules) = &self.promises {
            let since = today - Duration::days(i64::from(rules.lookback_days));
            for p in &account.promises {
                match p.status {
                    PromiseStatus::Pending if p.due >= today && p.promised_on <= today => {
                        pending = true;
                    }
                    PromiseStatus::Broken if p.due >= since && p.due <= today => broken += 1,
                    _ => {}
                }
            }
        }
        let (treatment, rationale, action, priority) = match (&self.promises, &self.self_cure) {
            _ if account.profile.declared_hardship() => (
                Treatment::Soft,
                Rationale::Hardship,
                &self.hardship,
                expected_loss,
            ),
            (Some(rules), _) if pending => {
                (Treatment::Soft, Rationale::PendingPromise, &rules.hold, 0.0)
            }
            (Some(rules), _) if rules.firm_min_broken > 0 && broken >= rules.firm_min_broken => (
                Treatment::Firm,
                Rationale::BrokenPromises,
                &stage.firm,
                expected_loss,
            ),

            _ if account.profile.prior_delinquencies
                >= self.treatment.firm_min_prior_delinquencies =>
            {
                (
                    Treatment::Firm,
                    Rationale::RepeatDefaulter,
                    &stage.firm,
                    expected_loss,
                )
            }
            _ if probability < self.treatment.soft_min_probability => (
                Treatment::Firm,
                Rationale::HighRisk,
                &stage.firm,
                expected_loss,
            ),
            (_, Some(cure)) if probability >= cure.min_probability => (
                Treatment::Soft,
                Rationale::SelfCure,
                &cure.action,
                expected_loss * cure.priority_factor,
            ),
            _ => (
                Treatment::Soft,
                Rationale::LikelyToPay,
                &stage.soft,
                expected_loss,
            ),
        };
        // Uplift mode: the model's choice replaces the score rules (4-7), not hardship or promises.
        let (treatment, rationale, action, priority) = match chosen {
            Some((c, gain))
                if matches!(
                    rationale,
                    Rationale::RepeatDefaulter
                        | Rationale::HighRisk
                        | Rationale::LikelyToPay
                        | Rationale::SelfCure
                ) =>
            {
                let stage_action = match c.treatment {
                    Treatment::Soft => &stage.soft,
                    Treatment::Firm => &stage.firm,
                };
                (
                    c.treatment,
                    Rationale::Uplift,
                    c.action.as_ref().unwrap_or(stage_action),
                    gain.max(0.0),
                )
            }
            _ => (treatment, rationale, action, priority),
        };
        // The experiment's control (a policy made by `Policy::held_out`): the alternative
        // replaces what the score and behaviour rules chose; the caps and holds below still apply.
        let alternative = match &self.held_out {
            Some(c) if !matches!(rationale, Rationale::Hardship | Rationale::PendingPromise) => {
                self.control_alternative(c, &account.account_id)
            }
            _ => None,
        };
        let (treatment, rationale, action) = match alternative {
            Some((t, a)) => {
                let stage_action = match t {
                    Treatment::Soft => &stage.soft,
                    Treatment::Firm => &stage.firm,
                };
                (t, Rationale::Control, a.unwrap_or(stage_action))
            }
            None => (treatment, rationale, action),
        };
        let (action, guard) = self.guard(action, account, now);
        let (action, guard, stopped) = self.compliance().apply(action, guard, account, now);
        Decision {
            score: self.points(probability),
            band: self.band(probability),
            treatment,
            action,
            stage: &stage.stage,
            rationale,
            priority: if stopped { 0.0 } else { priority },
            guard,
        }
    }
}

impl Policy {
    /// The control's alternative for `account_id`: its one treatment and action, or the
    /// candidate the experiment's hash assigns the account.
    fn control_alternative<'p>(
        &'p self,
        control: &'p super::Control,
        account_id: &str,
    ) -> Option<(Treatment, Option<&'p Action>)> {
        if let Some(t) = control.treatment {
            return Some((t, control.action.as_ref()));
        }
        let i = self.experiment.as_ref()?.control_candidate(account_id)?;
        let name = control.candidates.get(i)?;
        let candidate = self.candidates.iter().find(|c| &c.name == name)?;
        Some((candidate.treatment, candidate.action.as_ref()))
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
