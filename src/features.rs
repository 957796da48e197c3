//! The feature engine: the one definition of every model input.
//!
//! [`derive_base`] turns an [`Account`] into the fixed vector of base features; a [`FeatureSpec`]
//! (the feature list a model was trained with, base features plus `attr.<name>` attributes) maps
//! that onto the model's input order. Training and serving both call [`FeatureSpec::derive`], so
//! they can never disagree. The engine is deterministic, does not allocate, and never depends on
//! Polars or gRPC.
//!
//! Missing values are `NaN` (for example no bureau score, an unknown or zero credit limit under a
//! ratio, or an attribute the request does not carry); each model decides how to treat them (the
//! logistic model imputes the training mean). A missing input stays missing through every cap and
//! transform: `f64::min` and `f64::max` return the other operand when one is `NaN`, so the caps
//! here go through [`cap`] and [`ln1p`], which keep `NaN` (a zero limit once came out as 300 %
//! utilised through `.min(3.0)`).

use crate::domain::{Account, PaymentCycle, ProtectedList};

/// How many of the latest cycles the history features look at.
pub const RECENT_CYCLES: usize = 12;
/// Prefix of attribute features in a model's feature list.
pub const ATTRIBUTE_PREFIX: &str = "attr.";
/// Cap on paid-to-due ratios, so that one large overpayment does not dominate a mean.
const RATIO_CAP: f64 = 2.0;
/// Cap on utilisation ratios.
const UTILISATION_CAP: f64 = 3.0;

macro_rules! base_features {
    ($( $variant:ident = $name:literal : $desc:literal ),* $(,)?) => {
        /// A feature derived from the account by [`derive_base`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum BaseFeature {
            $(
                #[doc = $desc]
                $variant
            ),*
        }

        impl BaseFeature {
            /// Every base feature, in the order of [`derive_base`]'s output.
            pub const ALL: &'static [BaseFeature] = &[$(BaseFeature::$variant),*];

            /// Stable name used in artifacts and reason codes.
            pub const fn name(self) -> &'static str {
                match self { $(BaseFeature::$variant => $name),* }
            }

            /// Readable description used in reason codes and model info.
            pub const fn description(self) -> &'static str {
                match self { $(BaseFeature::$variant => $desc),* }
            }

            /// The base feature with this name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($name => Some(BaseFeature::$variant),)* _ => None }
            }
        }
    };
}

base_features! {
    DpdCurrent = "dpd_current": "Days past due on the latest statement",
    Dpd30Current = "dpd_30_current": "Latest statement 30 or more days past due",
    Dpd60Current = "dpd_60_current": "Latest statement 60 or more days past due",
    Dpd90Current = "dpd_90_current": "Latest statement 90 or more days past due",
    DpdMax3 = "dpd_max_3": "Worst days past due over the last 3 statements",
    DpdMax6 = "dpd_max_6": "Worst days past due over the last 6 statements",
    DpdMax12 = "dpd_max_12": "Worst days past due over the last 12 statements",
    DpdTrend3 = "dpd_trend_3": "Change in days past due over the last 3 statements",
    DelinquentCycles6 = "delinquent_cycles_6": "Statements 30+ days past due among the last 6",
    DelinquentCycles12 = "delinquent_cycles_12": "Statements 30+ days past due among the last 12",
    MissedPayments12 = "missed_payments_12": "Cycles with no payment against an amount due, last 12",
    ShortPayments12 = "short_payments_12": "Cycles paid below the minimum due, last 12",
    FullPayments12 = "full_payments_12": "Cycles paid in full, last 12",
    PayRatioLast = "pay_ratio_last": "Latest payment as a share of the amount due",
    PayRatioMean3 = "pay_ratio_mean_3": "Mean paid-to-due ratio, last 3 cycles",
    PayRatioMean12 = "pay_ratio_mean_12": "Mean paid-to-due ratio, last 12 cycles",
    CyclesSinceFullPayment = "cycles_since_full_payment": "Cycles since the last payment in full",
    Utilisation = "utilisation": "Current balance as a share of the credit limit",
    UtilisationMax12 = "utilisation_max_12": "Highest statement balance as a share of the limit, last 12",
    BalanceTrend3 = "balance_trend_3": "Change in statement balance over the last 3 cycles, as a share of the limit",
    LogCreditLimit = "log_credit_limit": "Credit limit (log)",
    LogBalance = "log_balance": "Current balance (log)",
    LogPaidLast = "log_paid_last": "Latest payment amount (log)",
    LogPaidTotal3 = "log_paid_total_3": "Total paid over the last 3 cycles (log)",
    PaidToLimit3 = "paid_to_limit_3": "Total paid over the last 3 cycles as a share of the limit",
    ZeroBalanceCycles12 = "zero_balance_cycles_12": "Statements with nothing due, last 12",
    HistoryCycles = "history_cycles": "Statements in the payment history (up to 12)",
    DaysSinceLastStatement = "days_since_last_statement": "Days from the latest statement to the scoring date",
    LogMonthsOnBook = "log_months_on_book": "Months on book (log)",
    OpenCreditLines = "open_credit_lines": "Open credit lines",
    PriorDelinquencies = "prior_delinquencies": "Delinquency episodes before the history window",
    BureauScore = "bureau_score": "Credit bureau score",
    BureauScoreMissing = "bureau_score_missing": "No bureau score on file",
    LogIncome = "log_income": "Annual income (log)",
    IncomeMissing = "income_missing": "No income on file",
    Hardship = "hardship": "Declared financial hardship",
}

/// A reason code: a group of related features whose contributions are reported together, so
/// that correlated inputs (say, days past due, its 30/60/90 indicators and the worst recent days
/// past due) explain a score as one readable reason instead of several that pull in opposite
/// directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReasonGroup {
    /// Stable code, for example `delinquency`.
    pub code: &'static str,
    /// Readable description.
    pub description: &'static str,
    /// The feature whose value is shown with the reason.
    pub primary: BaseFeature,
}

impl BaseFeature {
    /// The reason code this feature reports under.
    pub const fn reason_group(self) -> ReasonGroup {
        use BaseFeature as F;
        let (code, description, primary) = match self {
            F::DpdCurrent
            | F::Dpd30Current
            | F::Dpd60Current
            | F::Dpd90Current
            | F::DpdTrend3
            | F::DpdMax3
            | F::DpdMax6
            | F::DpdMax12
            | F::DelinquentCycles6
            | F::DelinquentCycles12 => (
                "delinquency",
                "Days past due, now and over the last 12 statements",
                F::DpdCurrent,
            ),
            F::MissedPayments12
            | F::ShortPayments12
            | F::FullPayments12
            | F::PayRatioLast
            | F::PayRatioMean3
            | F::PayRatioMean12
            | F::CyclesSinceFullPayment
            | F::LogPaidLast
            | F::LogPaidTotal3
            | F::PaidToLimit3 => (
                "payments",
                "Payments against the amounts due (share paid over the last 3 cycles)",
                F::PayRatioMean3,
            ),
            F::Utilisation | F::UtilisationMax12 | F::BalanceTrend3 | F::LogBalance => (
                "utilisation",
                "Balance as a share of the credit limit",
                F::Utilisation,
            ),
            F::LogCreditLimit => ("credit_limit", "Credit limit (log)", F::LogCreditLimit),
            F::ZeroBalanceCycles12 | F::HistoryCycles | F::DaysSinceLastStatement => (
                "account_activity",
                "Statements with nothing due over the last 12",
                F::ZeroBalanceCycles12,
            ),
            F::LogMonthsOnBook => ("tenure", "Months on book (log)", F::LogMonthsOnBook),
            F::OpenCreditLines => ("credit_lines", "Open credit lines", F::OpenCreditLines),
            F::PriorDelinquencies => (
                "prior_delinquencies",
                "Delinquency episodes before the history window",
                F::PriorDelinquencies,
            ),
            F::BureauScore | F::BureauScoreMissing => {
                ("bureau_score", "Credit bureau score", F::BureauScore)
            }
            F::LogIncome | F::IncomeMissing => ("income", "Annual income (log)", F::LogIncome),
            F::Hardship => ("hardship", "Declared financial hardship", F::Hardship),
        };
        ReasonGroup {
            code,
            description,
            primary,
        }
    }
}

/// Number of base features.
pub const N_BASE: usize = BaseFeature::ALL.len();

/// The base feature vector, indexed by `BaseFeature as usize`.
pub type BaseVector = [f64; N_BASE];

/// Derives every base feature of `account` into `out`. No allocation; `NaN` marks a missing value.
pub fn derive_base(account: &Account, out: &mut BaseVector) {
    use BaseFeature as F;
    let history = account.history.as_slice();
    let start = history.len().saturating_sub(RECENT_CYCLES);
    let recent = &history[start..];
    let n = recent.len();
    let profile = &account.profile;
    let limit = profile.credit_limit.unwrap_or(f64::NAN);
    let balance = profile.current_balance.unwrap_or(f64::NAN);
    // A ratio to the limit is missing when the limit is unknown or zero.
    let per_limit = |x: f64| if limit > 0.0 { x / limit } else { f64::NAN };

    // Days past due.
    let dpd_at = |back: usize| -> f64 {
        // `back` cycles before the latest; 0 when the history is shorter.
        n.checked_sub(1 + back)
            .map_or(0.0, |i| f64::from(recent[i].days_past_due))
    };
    let max_dpd = |k: usize| -> f64 {
        recent[n.saturating_sub(k)..]
            .iter()
            .map(|c| c.days_past_due)
            .max()
            .map_or(0.0, f64::from)
    };
    let delinquent = |k: usize| -> f64 {
        recent[n.saturating_sub(k)..]
            .iter()
            .filter(|c| c.days_past_due >= 30)
            .count() as f64
    };
    let dpd_current = dpd_at(0);
    out[F::DpdCurrent as usize] = dpd_current;
    out[F::Dpd30Current as usize] = indicator(dpd_current >= 30.0);
    out[F::Dpd60Current as usize] = indicator(dpd_current >= 60.0);
    out[F::Dpd90Current as usize] = indicator(dpd_current >= 90.0);
    out[F::DpdMax3 as usize] = max_dpd(3);
    out[F::DpdMax6 as usize] = max_dpd(6);
    out[F::DpdMax12 as usize] = max_dpd(12);
    out[F::DpdTrend3 as usize] = if n >= 2 {
        dpd_current - dpd_at((n - 1).min(3))
    } else {
        0.0
    };
    out[F::DelinquentCycles6 as usize] = delinquent(6);
    out[F::DelinquentCycles12 as usize] = delinquent(12);

    // Payments: each cycle's payment is measured against the previous statement.
    let payments = PaymentStats::of(history, start);
    out[F::MissedPayments12 as usize] = payments.missed as f64;
    out[F::ShortPayments12 as usize] = payments.short as f64;
    out[F::FullPayments12 as usize] = payments.full as f64;
    out[F::PayRatioLast as usize] = payments.ratio_last;
    out[F::PayRatioMean3 as usize] = mean(payments.ratio_sum_3, payments.count_3);
    out[F::PayRatioMean12 as usize] = mean(payments.ratio_sum, payments.observed);
    out[F::CyclesSinceFullPayment as usize] = if payments.observed == 0 {
        f64::NAN
    } else {
        payments.since_full as f64
    };

    // Balances and utilisation.
    let last_due = recent.last().map_or(0.0, |c| c.amount_due);
    let max_due = recent.iter().map(|c| c.amount_due).fold(0.0, f64::max);
    out[F::Utilisation as usize] = cap(per_limit(balance), UTILISATION_CAP);
    out[F::UtilisationMax12 as usize] = cap(per_limit(max_due), UTILISATION_CAP);
    out[F::BalanceTrend3 as usize] = if n >= 2 {
        let base = recent[n - 1 - (n - 1).min(3)].amount_due;
        per_limit(last_due - base).clamp(-UTILISATION_CAP, UTILISATION_CAP)
    } else {
        f64::NAN
    };
    let paid_last = recent.last().map_or(0.0, |c| c.amount_paid);
    let paid_3: f64 = recent[n.saturating_sub(3)..]
        .iter()
        .map(|c| c.amount_paid)
        .sum();
    out[F::LogCreditLimit as usize] = ln1p(limit);
    out[F::LogBalance as usize] = ln1p(balance);
    out[F::LogPaidLast as usize] = ln1p(paid_last);
    out[F::LogPaidTotal3 as usize] = ln1p(paid_3);
    out[F::PaidToLimit3 as usize] = cap(per_limit(paid_3), UTILISATION_CAP);
    out[F::ZeroBalanceCycles12 as usize] =
        recent.iter().filter(|c| c.amount_due <= 0.0).count() as f64;
    out[F::HistoryCycles as usize] = n as f64;
    out[F::DaysSinceLastStatement as usize] = recent.last().map_or(f64::NAN, |c| {
        (account.as_of - c.statement_date).num_days() as f64
    });

    // Profile.
    out[F::LogMonthsOnBook as usize] = profile
        .months_on_book
        .map_or(f64::NAN, |m| ln1p(f64::from(m)));
    out[F::OpenCreditLines as usize] = f64::from(profile.open_credit_lines);
    out[F::PriorDelinquencies as usize] = f64::from(profile.prior_delinquencies);
    out[F::BureauScore as usize] = profile.bureau_score.unwrap_or(f64::NAN);
    out[F::BureauScoreMissing as usize] = indicator(profile.bureau_score.is_none());
    out[F::LogIncome as usize] = profile.annual_income.map_or(f64::NAN, ln1p);
    out[F::IncomeMissing as usize] = indicator(profile.annual_income.is_none());
    out[F::Hardship as usize] = profile.hardship.map_or(f64::NAN, indicator);
}

/// Payment behaviour over the recent window.
struct PaymentStats {
    /// Cycles with a previous statement to pay toward.
    observed: usize,
    missed: usize,
    short: usize,
    full: usize,
    ratio_sum: f64,
    ratio_sum_3: f64,
    count_3: usize,
    ratio_last: f64,
    /// Observed cycles since the latest one paid in full (or with nothing due).
    since_full: usize,
}

impl PaymentStats {
    fn of(history: &[PaymentCycle], start: usize) -> Self {
        let mut s = PaymentStats {
            observed: 0,
            missed: 0,
            short: 0,
            full: 0,
            ratio_sum: 0.0,
            ratio_sum_3: 0.0,
            count_3: 0,
            ratio_last: f64::NAN,
            since_full: 0,
        };
        let first = start.max(1);
        let total = history.len().saturating_sub(first);
        for (k, pair) in history[first - 1..].windows(2).enumerate() {
            let (prev, cur) = (pair[0], pair[1]);
            let paid = cur.amount_paid;
            let (ratio, paid_up) = if prev.amount_due > 0.0 {
                if paid <= 0.0 {
                    s.missed += 1;
                } else if paid < prev.minimum_due {
                    s.short += 1;
                }
                let full = paid >= prev.amount_due;
                s.full += usize::from(full);
                (cap(paid / prev.amount_due, RATIO_CAP), full)
            } else {
                (1.0, true)
            };
            s.observed += 1;
            s.ratio_sum += ratio;
            if k + 3 >= total {
                s.ratio_sum_3 += ratio;
                s.count_3 += 1;
            }
            s.ratio_last = ratio;
            s.since_full = if paid_up { 0 } else { s.since_full + 1 };
        }
        s
    }
}

fn indicator(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `x`, at most `hi`; `NaN` (missing) stays `NaN`.
fn cap(x: f64, hi: f64) -> f64 {
    if x > hi {
        hi
    } else {
        x
    }
}

/// `ln(1 + x)` of a non-negative amount (negative ones count as 0); `NaN` (missing) stays `NaN`.
fn ln1p(x: f64) -> f64 {
    if x > 0.0 {
        x.ln_1p()
    } else if x.is_nan() {
        x
    } else {
        0.0
    }
}

fn mean(sum: f64, count: usize) -> f64 {
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// Where one model input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureSource {
    /// A base feature.
    Base(BaseFeature),
    /// An extra attribute of the account, by attribute name (without the `attr.` prefix).
    Attribute(String),
}

impl FeatureSource {
    /// The name used in artifacts: the base feature's name or `attr.<name>`.
    pub fn name(&self) -> String {
        match self {
            FeatureSource::Base(b) => b.name().to_owned(),
            FeatureSource::Attribute(a) => format!("{ATTRIBUTE_PREFIX}{a}"),
        }
    }

    /// Readable description.
    pub fn description(&self) -> String {
        match self {
            FeatureSource::Base(b) => b.description().to_owned(),
            FeatureSource::Attribute(a) => format!("Account attribute `{a}`"),
        }
    }
}

/// Why a feature list cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeatureSpecError {
    /// The name is neither a base feature nor `attr.<name>`.
    #[error("unknown feature `{0}` (not a base feature and not `attr.<name>`)")]
    Unknown(String),
    /// The attribute is a protected characteristic.
    #[error("feature `{0}` is a protected attribute and can never be a model input")]
    Protected(String),
    /// The name appears twice.
    #[error("feature `{0}` is listed twice")]
    Duplicate(String),
}

/// The ordered inputs of a model: which base features and attributes, in which order, and the
/// reason code each reports under.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    sources: Vec<FeatureSource>,
    /// Reason index of each input.
    reason_of: Vec<usize>,
    /// The reasons, in order of first appearance.
    reasons: Vec<Reason>,
    /// The transform of each input, if any (none at all: an empty vector).
    transforms: Vec<Option<Transform>>,
}

/// A per-feature transform a model was trained with, applied after the feature is derived, in
/// training and in serving alike (`FeatureSpec::select`): values are raised to `floor`, lowered
/// to `cap`, then, with `log`, mapped to `sign(x) ln(1 + |x|)`. A missing value stays missing.
/// Tames heavy-tailed attributes for the logistic model.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transform {
    /// Smallest value kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<f64>,
    /// Largest value kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<f64>,
    /// Log-compress after bounding.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log: bool,
}

impl Transform {
    /// The transformed value; `NaN` stays `NaN`.
    #[inline]
    pub fn apply(&self, x: f64) -> f64 {
        let mut v = x;
        if let Some(floor) = self.floor {
            if v < floor {
                v = floor;
            }
        }
        if let Some(cap) = self.cap {
            if v > cap {
                v = cap;
            }
        }
        if self.log {
            v = v.signum() * v.abs().ln_1p();
        }
        v
    }

    /// Checks the bounds: finite, and the floor not above the cap.
    pub fn validate(&self) -> Result<(), String> {
        let finite = |b: Option<f64>| b.is_none_or(f64::is_finite);
        if !finite(self.floor) || !finite(self.cap) {
            return Err("floor and cap must be finite".into());
        }
        if let (Some(f), Some(c)) = (self.floor, self.cap) {
            if f > c {
                return Err(format!("floor {f} is above cap {c}"));
            }
        }
        Ok(())
    }
}

/// One reason code of a model: a group of its inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// Code, for example `delinquency` or `attr.region_risk`.
    pub code: String,
    /// Readable description.
    pub description: String,
    /// Index of the input whose value is shown with the reason.
    pub primary: usize,
}

impl FeatureSpec {
    /// All base features, in order, followed by the given attributes.
    pub fn with_attributes<S: AsRef<str>>(attributes: &[S]) -> Result<Self, FeatureSpecError> {
        Self::with_attributes_checked(attributes, &ProtectedList::default())
    }

    /// [`Self::with_attributes`], refusing and allowing attributes by `protected` as well.
    pub fn with_attributes_checked<S: AsRef<str>>(
        attributes: &[S],
        protected: &ProtectedList,
    ) -> Result<Self, FeatureSpecError> {
        let names = BaseFeature::ALL.iter().map(|b| b.name().to_owned()).chain(
            attributes
                .iter()
                .map(|a| format!("{ATTRIBUTE_PREFIX}{}", a.as_ref())),
        );
        Self::from_names_checked(names, protected)
    }

    /// Resolves feature names (as stored in an artifact).
    pub fn from_names<I, S>(names: I) -> Result<Self, FeatureSpecError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::from_names_checked(names, &ProtectedList::default())
    }

    /// [`Self::from_names`], refusing and allowing attributes by `protected` as well (an
    /// artifact's recorded list).
    pub fn from_names_checked<I, S>(
        names: I,
        protected: &ProtectedList,
    ) -> Result<Self, FeatureSpecError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut sources: Vec<FeatureSource> = Vec::new();
        for name in names {
            let name = name.as_ref();
            let source = if let Some(attr) = name.strip_prefix(ATTRIBUTE_PREFIX) {
                if attr.is_empty() {
                    return Err(FeatureSpecError::Unknown(name.to_owned()));
                }
                if protected.refuses(attr).is_some() {
                    return Err(FeatureSpecError::Protected(name.to_owned()));
                }
                FeatureSource::Attribute(attr.to_owned())
            } else {
                BaseFeature::from_name(name)
                    .map(FeatureSource::Base)
                    .ok_or_else(|| FeatureSpecError::Unknown(name.to_owned()))?
            };
            if sources.contains(&source) {
                return Err(FeatureSpecError::Duplicate(name.to_owned()));
            }
            sources.push(source);
        }
        let mut reasons: Vec<Reason> = Vec::new();
        let mut reason_of = Vec::with_capacity(sources.len());
        for (j, source) in sources.iter().enumerate() {
            let (code, description, primary) = match source {
                FeatureSource::Base(b) => {
                    let g = b.reason_group();
                    let primary = sources
                        .iter()
                        .position(|s| *s == FeatureSource::Base(g.primary))
                        .unwrap_or(j);
                    (g.code.to_owned(), g.description.to_owned(), primary)
                }
                FeatureSource::Attribute(_) => (source.name(), source.description(), j),
            };
            let r = match reasons.iter().position(|r| r.code == code) {
                Some(r) => r,
                None => {
                    reasons.push(Reason {
                        code,
                        description,
                        primary,
                    });
                    reasons.len() - 1
                }
            };
            reason_of.push(r);
        }
        Ok(FeatureSpec {
            sources,
            reason_of,
            reasons,
            transforms: Vec::new(),
        })
    }

    /// The model's reason codes.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// The reason index of each input.
    pub fn reason_of(&self) -> &[usize] {
        &self.reason_of
    }

    /// Number of model inputs.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// True when the model has no inputs.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The inputs, in order.
    pub fn sources(&self) -> &[FeatureSource] {
        &self.sources
    }

    /// Feature names, in order.
    pub fn names(&self) -> Vec<String> {
        self.sources.iter().map(FeatureSource::name).collect()
    }

    /// Derives the model's input vector for `account` into `out` (length [`Self::len`]).
    /// The single feature path of training and serving.
    pub fn derive(&self, account: &Account, out: &mut [f64]) {
        let mut base = [0.0; N_BASE];
        derive_base(account, &mut base);
        self.select(&base, account, out);
    }

    /// Fills `out` from an already derived base vector, then applies the transforms.
    pub fn select(&self, base: &BaseVector, account: &Account, out: &mut [f64]) {
        debug_assert_eq!(out.len(), self.sources.len());
        for (slot, source) in out.iter_mut().zip(&self.sources) {
            *slot = match source {
                FeatureSource::Base(b) => base[*b as usize],
                FeatureSource::Attribute(a) => {
                    account.attributes.get(a).copied().unwrap_or(f64::NAN)
                }
            };
        }
        if !self.transforms.is_empty() {
            self.transform(out);
        }
    }

    /// Applies the transforms to one row of inputs, as [`Self::select`] does.
    pub fn transform(&self, row: &mut [f64]) {
        for (v, t) in row.iter_mut().zip(&self.transforms) {
            if let Some(t) = t {
                *v = t.apply(*v);
            }
        }
    }

    /// The spec with `transforms` (by feature name) applied to its inputs; a name that is not
    /// an input is an error.
    pub fn with_transforms(
        mut self,
        transforms: &std::collections::BTreeMap<String, Transform>,
    ) -> Result<Self, FeatureSpecError> {
        if transforms.is_empty() {
            self.transforms.clear();
            return Ok(self);
        }
        let names = self.names();
        for name in transforms.keys() {
            if !names.contains(name) {
                return Err(FeatureSpecError::Unknown(name.clone()));
            }
        }
        self.transforms = names.iter().map(|n| transforms.get(n).copied()).collect();
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CreditProfile;
    use chrono::NaiveDate;
    use std::collections::HashMap;

    fn date(m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, m, 28).unwrap_or_default()
    }

    fn cycle(m: u32, due: f64, min: f64, paid: f64, dpd: u32) -> PaymentCycle {
        PaymentCycle {
            statement_date: date(m),
            amount_due: due,
            minimum_due: min,
            amount_paid: paid,
            days_past_due: dpd,
        }
    }

    fn account(history: Vec<PaymentCycle>) -> Account {
        Account {
            account_id: "a".into(),
            as_of: date(12),
            profile: CreditProfile {
                credit_limit: Some(1000.0),
                current_balance: Some(500.0),
                months_on_book: Some(24),
                open_credit_lines: 2,
                prior_delinquencies: 1,
                bureau_score: None,
                annual_income: Some(30_000.0),
                hardship: Some(false),
            },
            history,
            attributes: HashMap::new(),
            contacts: Vec::new(),
            promises: Vec::new(),
            compliance: Default::default(),
        }
    }

    fn base(a: &Account) -> BaseVector {
        let mut out = [0.0; N_BASE];
        derive_base(a, &mut out);
        out
    }

    #[test]
    fn missing_inputs_give_missing_features_never_a_bound() {
        // Pins that an unknown or zero limit, an unknown balance, months on book or hardship
        // come out as NaN in every feature built from them, on random histories: `.min(3.0)`
        // once turned a zero limit into 300 % utilisation.
        use BaseFeature as F;
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let per_limit = [
            F::Utilisation,
            F::UtilisationMax12,
            F::BalanceTrend3,
            F::PaidToLimit3,
        ];
        for _ in 0..500 {
            let n = 1 + (next() * 11.0) as u32;
            let history = (1..=n)
                .map(|m| {
                    let due = next() * 5_000.0;
                    cycle(
                        m,
                        due,
                        due * 0.05,
                        next() * 3_000.0,
                        (next() * 4.0) as u32 * 30,
                    )
                })
                .collect();
            let mut a = account(history);
            for limit in [None, Some(0.0)] {
                a.profile.credit_limit = limit;
                let f = base(&a);
                for x in per_limit {
                    assert!(f[x as usize].is_nan(), "{} with limit {limit:?}", x.name());
                }
                assert_eq!(f[F::LogCreditLimit as usize].is_nan(), limit.is_none());
            }
            a.profile.current_balance = None;
            a.profile.months_on_book = None;
            a.profile.hardship = None;
            let f = base(&a);
            for x in [F::LogBalance, F::LogMonthsOnBook, F::Hardship] {
                assert!(f[x as usize].is_nan(), "{}", x.name());
            }
        }
        // Known values give values: 500 of a 1,000 limit is 50 % utilised.
        let f = base(&account(vec![cycle(1, 100.0, 5.0, 0.0, 0)]));
        assert_eq!(f[F::Utilisation as usize], 0.5);
        for x in [
            F::LogCreditLimit,
            F::LogBalance,
            F::LogMonthsOnBook,
            F::Hardship,
        ] {
            assert!(f[x as usize].is_finite(), "{}", x.name());
        }
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        for (i, f) in BaseFeature::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            assert_eq!(BaseFeature::from_name(f.name()), Some(*f));
        }
        let spec = FeatureSpec::with_attributes::<&str>(&[]).expect("base spec");
        assert_eq!(spec.len(), N_BASE);
    }

    #[test]
    fn every_reason_group_contains_its_primary_feature() {
        for f in BaseFeature::ALL {
            let g = f.reason_group();
            assert_eq!(g.primary.reason_group(), g, "{}", f.name());
        }
        let spec = FeatureSpec::with_attributes(&["region_risk"]).expect("spec");
        let codes: Vec<&str> = spec.reasons().iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes.first(), Some(&"delinquency"));
        assert_eq!(codes.last(), Some(&"attr.region_risk"));
        for (j, &r) in spec.reason_of().iter().enumerate() {
            let primary = spec.reasons()[r].primary;
            assert_eq!(spec.reason_of()[primary], r, "input {j}");
        }
    }

    #[test]
    fn payment_behaviour_is_measured_against_the_previous_statement() {
        let a = account(vec![
            cycle(1, 100.0, 10.0, 0.0, 0),
            cycle(2, 200.0, 20.0, 100.0, 0),  // pays cycle 1 in full
            cycle(3, 300.0, 30.0, 0.0, 0),    // misses cycle 2
            cycle(4, 300.0, 30.0, 10.0, 30),  // short on cycle 3 (min 30)
            cycle(5, 300.0, 30.0, 150.0, 60), // half of cycle 4
        ]);
        let b = base(&a);
        use BaseFeature as F;
        assert_eq!(b[F::FullPayments12 as usize], 1.0);
        assert_eq!(b[F::MissedPayments12 as usize], 1.0);
        assert_eq!(b[F::ShortPayments12 as usize], 1.0);
        assert_eq!(b[F::PayRatioLast as usize], 0.5);
        let mean3 = (0.0 + 10.0 / 300.0 + 0.5) / 3.0;
        assert!((b[F::PayRatioMean3 as usize] - mean3).abs() < 1e-12);
        let mean_all = (1.0 + 0.0 + 10.0 / 300.0 + 0.5) / 4.0;
        assert!((b[F::PayRatioMean12 as usize] - mean_all).abs() < 1e-12);
        assert_eq!(b[F::CyclesSinceFullPayment as usize], 3.0);
        assert_eq!(b[F::DpdCurrent as usize], 60.0);
        assert_eq!(b[F::Dpd30Current as usize], 1.0);
        assert_eq!(b[F::Dpd60Current as usize], 1.0);
        assert_eq!(b[F::Dpd90Current as usize], 0.0);
        assert_eq!(b[F::DpdMax3 as usize], 60.0);
        assert_eq!(b[F::DpdTrend3 as usize], 60.0);
        assert_eq!(b[F::DelinquentCycles6 as usize], 2.0);
        assert_eq!(b[F::Utilisation as usize], 0.5);
        assert_eq!(b[F::UtilisationMax12 as usize], 0.3);
        assert!((b[F::BalanceTrend3 as usize] - 0.1).abs() < 1e-12);
        assert_eq!(b[F::HistoryCycles as usize], 5.0);
        assert_eq!(b[F::BureauScoreMissing as usize], 1.0);
        assert!(b[F::BureauScore as usize].is_nan());
        assert_eq!(b[F::IncomeMissing as usize], 0.0);
        assert_eq!(
            b[F::DaysSinceLastStatement as usize],
            (date(12) - date(5)).num_days() as f64
        );
    }

    #[test]
    fn only_the_latest_twelve_cycles_count() {
        let mut history: Vec<PaymentCycle> = (0..24)
            .map(|i| PaymentCycle {
                statement_date: NaiveDate::from_ymd_opt(2023, 1, 1)
                    .unwrap_or_default()
                    .checked_add_days(chrono::Days::new(30 * i))
                    .unwrap_or_default(),
                amount_due: 100.0,
                minimum_due: 10.0,
                amount_paid: 100.0,
                days_past_due: 0,
            })
            .collect();
        history[5].days_past_due = 90; // outside the window
        let mut a = account(history);
        a.as_of = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
        let b = base(&a);
        assert_eq!(b[BaseFeature::DpdMax12 as usize], 0.0);
        assert_eq!(b[BaseFeature::FullPayments12 as usize], 12.0);
        assert_eq!(b[BaseFeature::HistoryCycles as usize], 12.0);
        assert_eq!(b[BaseFeature::CyclesSinceFullPayment as usize], 0.0);
    }

    #[test]
    fn empty_history_gives_neutral_or_missing_values() {
        let b = base(&account(vec![]));
        assert_eq!(b[BaseFeature::DpdCurrent as usize], 0.0);
        assert!(b[BaseFeature::PayRatioLast as usize].is_nan());
        assert!(b[BaseFeature::CyclesSinceFullPayment as usize].is_nan());
        assert!(b.iter().all(|v| v.is_nan() || v.is_finite()));
    }

    #[test]
    fn attributes_come_from_the_account_and_protected_ones_are_refused() {
        let spec = FeatureSpec::from_names(["dpd_current", "attr.region_risk"]).expect("spec");
        let mut a = account(vec![cycle(1, 100.0, 10.0, 0.0, 45)]);
        a.attributes.insert("region_risk".into(), 0.25);
        let mut out = [0.0; 2];
        spec.derive(&a, &mut out);
        assert_eq!(out, [45.0, 0.25]);
        a.attributes.clear();
        spec.derive(&a, &mut out);
        assert!(out[1].is_nan());

        assert_eq!(
            FeatureSpec::from_names(["attr.Age"]),
            Err(FeatureSpecError::Protected("attr.Age".into()))
        );
        assert!(matches!(
            FeatureSpec::from_names(["nope"]),
            Err(FeatureSpecError::Unknown(_))
        ));
        assert!(matches!(
            FeatureSpec::from_names(["hardship", "hardship"]),
            Err(FeatureSpecError::Duplicate(_))
        ));
    }
}
