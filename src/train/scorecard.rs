//! Fitting a binned scorecard (model kind `scorecard`): each input binned on the training rows
//! only, a logistic regression on the bins' weights of evidence, and the points table.
//!
//! The binning of one input, in order:
//! 1. Missing values get their own bin, and so does each configured special value (`special`);
//!    a bin no training row falls in has WoE 0 (no evidence either way).
//! 2. The other values are cut at up to `max_bins` quantiles of the training rows.
//! 3. Bins holding less than `min_bin_share` of the training rows merge with the neighbour
//!    whose repayment rate is closest, smallest bin first.
//! 4. Where asked, the value bins' repayment rates are made monotone in the input (`monotone`:
//!    1 rising, -1 falling, 0 left as they are; for inputs not named there, `auto_trend = true`
//!    takes the direction of the count-weighted correlation of bin and rate, and the default
//!    leaves them as they are), merging the first adjacent pair that breaks the trend until none
//!    does.
//! 5. WoE and information value per [`crate::model::scorecard`].
//!
//! Inputs whose information value is below `min_information_value` keep their bins in the
//! artifact (for the report) but take no part in the regression (coefficient 0). The
//! regression is linfa's L2-penalised logistic regression on the WoE values, oriented toward
//! "repaid" as the logistic kind is. An input whose coefficient comes out negative (its
//! evidence already counted by correlated inputs) would give a worse bin more points, which no
//! risk committee signs: such inputs leave the regression together, and it is refitted from the
//! others' coefficients until every one is positive.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};

pub use super::config::ScorecardConfig;
use super::fit::{Design, FitConfig, Fitted};
use super::tables::{TablePaths, TrainingSet};
use super::TrainError;
use crate::model::scorecard::{Bin, Characteristic};
use crate::model::ModelParams;
use crate::stability::Histogram;

impl ScorecardConfig {
    /// Checks the section against the inputs `names`.
    fn validate(&self, names: &[String]) -> Result<(), TrainError> {
        let fail = |m: String| Err(TrainError::Config(format!("scorecard: {m}")));
        if !(2..=200).contains(&self.max_bins) {
            return fail(format!("max_bins must be 2 to 200, got {}", self.max_bins));
        }
        if !(self.min_bin_share > 0.0 && self.min_bin_share < 0.5) {
            return fail(format!(
                "min_bin_share must be in (0, 0.5), got {}",
                self.min_bin_share
            ));
        }
        if !(self.min_information_value >= 0.0 && self.min_information_value.is_finite()) {
            return fail("min_information_value must be 0 or more".into());
        }
        self.scale
            .validate()
            .map_err(|e| TrainError::Config(format!("scorecard.scale: {e}")))?;
        for (name, t) in &self.monotone {
            if !names.contains(name) {
                return fail(format!("monotone names `{name}`, which is not an input"));
            }
            if !(-1..=1).contains(t) {
                return fail(format!("monotone.{name} must be -1, 0 or 1"));
            }
        }
        for (name, values) in &self.special {
            if !names.contains(name) {
                return fail(format!("special names `{name}`, which is not an input"));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return fail(format!("special.{name}: values must be finite"));
            }
        }
        Ok(())
    }
}

/// Counts of one bin while binning.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    repaid: u64,
    defaulted: u64,
}

impl Counts {
    fn n(self) -> u64 {
        self.repaid + self.defaulted
    }

    fn rate(self) -> f64 {
        self.repaid as f64 / self.n().max(1) as f64
    }

    fn add(&mut self, other: Counts) {
        self.repaid += other.repaid;
        self.defaulted += other.defaulted;
    }
}

/// Bins one input: `values` and `labels` of the training rows (rules 1-5 of the module docs).
/// The characteristic's coefficient and points are left at 0.
pub fn bin(
    values: &[f64],
    labels: &[bool],
    special: &[f64],
    monotone: Option<i8>,
    config: &ScorecardConfig,
) -> Characteristic {
    let mut special_counts = vec![Counts::default(); special.len()];
    let mut missing = Counts::default();
    let mut regular: Vec<f64> = Vec::with_capacity(values.len());
    let mut regular_labels: Vec<bool> = Vec::with_capacity(values.len());
    let count = |c: &mut Counts, y: bool| {
        if y {
            c.repaid += 1
        } else {
            c.defaulted += 1
        }
    };
    for (&x, &y) in values.iter().zip(labels) {
        if x.is_nan() {
            count(&mut missing, y);
        } else if let Some(s) = special.iter().position(|&v| v == x) {
            count(&mut special_counts[s], y);
        } else {
            regular.push(x);
            regular_labels.push(y);
        }
    }
    // Rule 2: quantile cuts of the training values.
    let mut edges = Histogram::fit(&regular, config.max_bins).edges;
    let mut bins = vec![Counts::default(); edges.len() + 1];
    for (&x, &y) in regular.iter().zip(&regular_labels) {
        count(&mut bins[edges.partition_point(|&e| e < x)], y);
    }
    // Merging bins `b` and `b + 1` removes the edge between them.
    let merge = |bins: &mut Vec<Counts>, edges: &mut Vec<f64>, b: usize| {
        let next = bins.remove(b + 1);
        bins[b].add(next);
        edges.remove(b);
    };
    // Rule 3.
    let least = (config.min_bin_share * values.len() as f64).ceil() as u64;
    while bins.len() > 1 {
        let Some((b, _)) = bins
            .iter()
            .enumerate()
            .filter(|(_, c)| c.n() < least)
            .min_by_key(|(_, c)| c.n())
        else {
            break;
        };
        let closer_right = match (b.checked_sub(1), (b + 1 < bins.len()).then_some(b + 1)) {
            (Some(l), Some(r)) => {
                (bins[r].rate() - bins[b].rate()).abs() < (bins[l].rate() - bins[b].rate()).abs()
            }
            (None, _) => true,
            (_, None) => false,
        };
        let at = if closer_right { b } else { b - 1 };
        merge(&mut bins, &mut edges, at);
    }
    // Rule 4.
    let trend = match monotone {
        Some(t) => t,
        None if config.auto_trend => correlation_sign(&bins),
        None => 0,
    };
    if trend != 0 {
        while let Some(b) = (0..bins.len().saturating_sub(1))
            .find(|&b| f64::from(trend) * (bins[b + 1].rate() - bins[b].rate()) < 0.0)
        {
            merge(&mut bins, &mut edges, b);
        }
    }
    // Rule 5.
    let all: Vec<Counts> = special_counts
        .iter()
        .chain(&bins)
        .chain(std::iter::once(&missing))
        .copied()
        .collect();
    let (repaid, defaulted) = all
        .iter()
        .fold((0u64, 0u64), |(r, d), c| (r + c.repaid, d + c.defaulted));
    let (r, d) = (repaid as f64 + 0.5, defaulted as f64 + 0.5);
    let mut information_value = 0.0;
    let bins: Vec<Bin> = all
        .iter()
        .map(|c| {
            let woe = if c.n() == 0 {
                0.0
            } else {
                ((c.repaid as f64 + 0.5) / r).ln() - ((c.defaulted as f64 + 0.5) / d).ln()
            };
            information_value += (c.repaid as f64 / r - c.defaulted as f64 / d) * woe;
            Bin {
                repaid: c.repaid,
                defaulted: c.defaulted,
                woe,
                points: 0.0,
            }
        })
        .collect();
    Characteristic {
        edges,
        special: special.to_vec(),
        bins,
        trend,
        information_value,
        coefficient: 0.0,
    }
}

/// A regression on WoE values.
struct Regression {
    /// Toward "repaid".
    intercept: f64,
    /// One per active input, toward "repaid".
    coefficients: Vec<f64>,
    /// linfa's own parameters (its orientation, the intercept last): where a refit starts.
    raw: Vec<f64>,
}

/// The regression on the WoE values of the `active` inputs, from `start` (linfa's parameters)
/// when given.
fn regress(
    design: &Design,
    characteristics: &[Characteristic],
    active: &[usize],
    labels: &[bool],
    config: &FitConfig,
    start: Option<Vec<f64>>,
) -> Result<Regression, TrainError> {
    let mut x = Array2::<f64>::zeros((design.train.len(), active.len()));
    for (r, &i) in design.train.iter().enumerate() {
        let row = design.row(i);
        for (c, &j) in active.iter().enumerate() {
            let ch = &characteristics[j];
            x[[r, c]] = ch.bins[ch.bin(row[j])].woe;
        }
    }
    let y: Array1<bool> = labels.iter().copied().collect();
    let tolerance = super::fit::GRADIENT_TOLERANCE_PER_ROW * design.train.len() as f64;
    let mut regression = LogisticRegression::default()
        .alpha(config.l2_penalty)
        .max_iterations(config.max_iterations)
        .gradient_tolerance(tolerance);
    if let Some(start) = start.filter(|s| s.len() == active.len() + 1) {
        regression = regression.initial_params(Array1::from(start));
    }
    let fitted = regression
        .fit(&Dataset::new(x, y))
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    // linfa orients the model toward the more frequent class; turn it toward "repaid".
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let mut raw: Vec<f64> = fitted.params().to_vec();
    raw.push(fitted.intercept());
    Ok(Regression {
        intercept: sign * fitted.intercept(),
        coefficients: fitted.params().iter().map(|c| sign * c).collect(),
        raw,
    })
}

/// The sign of the count-weighted correlation of bin position and repayment rate.
fn correlation_sign(bins: &[Counts]) -> i8 {
    let n: f64 = bins.iter().map(|c| c.n() as f64).sum();
    if n == 0.0 || bins.len() < 2 {
        return 0;
    }
    let mean_b: f64 = bins
        .iter()
        .enumerate()
        .map(|(b, c)| b as f64 * c.n() as f64)
        .sum::<f64>()
        / n;
    let mean_r: f64 = bins.iter().map(|c| c.rate() * c.n() as f64).sum::<f64>() / n;
    let cov: f64 = bins
        .iter()
        .enumerate()
        .map(|(b, c)| c.n() as f64 * (b as f64 - mean_b) * (c.rate() - mean_r))
        .sum();
    if cov > 0.0 {
        1
    } else if cov < 0.0 {
        -1
    } else {
        0
    }
}

/// Fits a scorecard on `set` (the module docs' rules), evaluates it on the held-out split
/// through the serving model, and builds its artifact.
pub fn fit_scorecard(
    set: &TrainingSet,
    paths: &TablePaths,
    config: &FitConfig,
    scorecard: &ScorecardConfig,
) -> Result<Fitted, TrainError> {
    let mut design = Design::build(set, &config.split)?;
    if config.calibration.is_some() {
        design.hold_out_calibration(set)?;
    }
    design.apply_transforms(&config.transforms)?;
    let names = design.spec.names();
    scorecard.validate(&names)?;
    let train_labels: Vec<bool> = design.train.iter().map(|&i| design.labels[i]).collect();
    let mut characteristics: Vec<Characteristic> = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let values: Vec<f64> = design.train.iter().map(|&i| design.row(i)[j]).collect();
            let special = scorecard.special.get(name).map_or(&[][..], Vec::as_slice);
            bin(
                &values,
                &train_labels,
                special,
                scorecard.monotone.get(name).copied(),
                scorecard,
            )
        })
        .collect();
    let mut active: Vec<usize> = (0..names.len())
        .filter(|&j| characteristics[j].information_value >= scorecard.min_information_value)
        .collect();
    // Each refit starts from the previous one's solution without the input dropped.
    let mut start: Option<Vec<f64>> = None;
    let intercept = loop {
        if active.is_empty() {
            return Err(TrainError::Fit(format!(
                "no input reaches the information value of {} on the training rows",
                scorecard.min_information_value
            )));
        }
        let fit = regress(
            &design,
            &characteristics,
            &active,
            &train_labels,
            config,
            start.take(),
        )?;
        let (intercept, coefficients) = (fit.intercept, &fit.coefficients);
        if coefficients.iter().any(|&c| c < 0.0) {
            // Every input with a negative coefficient leaves; the refit starts from the others'.
            let (mut kept, mut raw) = (Vec::new(), Vec::new());
            for (k, &c) in coefficients.iter().enumerate() {
                if c >= 0.0 {
                    kept.push(active[k]);
                    raw.push(fit.raw[k]);
                }
            }
            raw.push(fit.raw[coefficients.len()]);
            active = kept;
            start = Some(raw);
            continue;
        }
        for ch in characteristics.iter_mut() {
            ch.coefficient = 0.0;
        }
        for (&j, &c) in active.iter().zip(coefficients) {
            characteristics[j].coefficient = c;
        }
        break intercept;
    };
    let n = characteristics.len();
    for ch in &mut characteristics {
        for b in 0..ch.bins.len() {
            ch.bins[b].points = ch.points_of(b, intercept, n, &scorecard.scale);
        }
    }
    let features = super::fit::feature_stats(&design.spec, &design.values, &design.train)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let params = ModelParams::Scorecard {
        intercept,
        characteristics,
        l2_penalty: config.l2_penalty,
        scale: scorecard.scale,
    };
    super::fit::finish(set, paths, config, &design, features, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binning is monotone where asked, keeps missing and special values apart, and respects
    /// the minimum bin share.
    #[test]
    fn bins_are_monotone_large_enough_and_keep_missing_and_special_apart() {
        // Repayment rises with x, with noise; 10 % missing (mostly defaulters), 5 % special -1.
        let mut rng = 7u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut values, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let u = next();
            let (x, p) = if u < 0.1 {
                (f64::NAN, 0.3)
            } else if u < 0.15 {
                (-1.0, 0.9)
            } else {
                let x = next() * 100.0;
                (x, 0.4 + 0.5 * x / 100.0)
            };
            values.push(x);
            labels.push(next() < p);
        }
        let config = ScorecardConfig {
            auto_trend: true,
            ..ScorecardConfig::default()
        };
        let c = bin(&values, &labels, &[-1.0], None, &config);
        assert_eq!(c.trend, 1);
        assert!(c.validate("x").is_ok());
        let value_bins = &c.bins[1..c.bins.len() - 1];
        assert!(value_bins.len() >= 3, "{}", value_bins.len());
        let rate = |b: &Bin| b.repaid as f64 / (b.repaid + b.defaulted) as f64;
        assert!(value_bins.windows(2).all(|w| rate(&w[0]) <= rate(&w[1])));
        assert!(value_bins.windows(2).all(|w| w[0].woe <= w[1].woe));
        let least = (0.05 * 20_000.0) as u64;
        assert!(value_bins.iter().all(|b| b.repaid + b.defaulted >= least));
        // Special and missing bins hold exactly their rows.
        let specials = values.iter().filter(|&&x| x == -1.0).count() as u64;
        let missing = values.iter().filter(|x| x.is_nan()).count() as u64;
        assert_eq!(c.bins[0].repaid + c.bins[0].defaulted, specials);
        let last = &c.bins[c.bins.len() - 1];
        assert_eq!(last.repaid + last.defaulted, missing);
        assert!(c.bins[0].woe > 0.0 && last.woe < 0.0);
        assert!(c.information_value > 0.1);
        // Asked for the opposite trend, the bins merge until it holds (here: one bin).
        let falling = bin(&values, &labels, &[-1.0], Some(-1), &config);
        let value_bins = &falling.bins[1..falling.bins.len() - 1];
        assert!(value_bins.windows(2).all(|w| rate(&w[0]) >= rate(&w[1])));
        assert!(value_bins.len() < 3);
        // Not asked, no trend is enforced.
        let free = bin(&values, &labels, &[-1.0], None, &ScorecardConfig::default());
        assert_eq!(free.trend, 0);
    }
}
