//! Probability calibration, fitted on a calibration split carved from the training rows, so
//! that a predicted 0.8 means that about 80 % of such accounts repay.
//!
//! - Platt scaling: `p = sigmoid(slope x margin + intercept)`; smooth, two parameters.
//! - Isotonic regression (pool adjacent violators) on the raw probability, served as a
//!   piecewise-linear map between the pooled blocks' mean points; monotone, so rankings (and
//!   AUC) are kept.
//!
//! Calibrated probabilities are clamped to [`MIN_PROBABILITY`, 1 - `MIN_PROBABILITY`], so that
//! log-odds stay finite for the score scale.

use serde::{Deserialize, Serialize};

use super::logistic::sigmoid;

/// Smallest calibrated probability (and distance from 1).
pub const MIN_PROBABILITY: f64 = 1e-6;

/// A fitted calibration map from the model's log-odds to a repayment probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Calibration {
    /// `sigmoid(slope x margin + intercept)`.
    Platt {
        /// Multiplies the margin.
        slope: f64,
        /// Added to the scaled margin.
        intercept: f64,
        /// Calibration rows it was fitted on.
        rows: u64,
    },
    /// Piecewise-linear between knots over the raw probability, flat beyond the ends.
    Isotonic {
        /// Raw probabilities, strictly ascending.
        x: Vec<f64>,
        /// Calibrated probabilities, non-decreasing.
        y: Vec<f64>,
        /// Calibration rows it was fitted on.
        rows: u64,
    },
}

/// The calibration methods `payrisk-train` can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Platt scaling.
    Platt,
    /// Isotonic regression.
    Isotonic,
}

impl Calibration {
    /// The calibrated repayment probability of a model log-odds `margin`.
    #[inline]
    pub fn probability(&self, margin: f64) -> f64 {
        let p = match self {
            Calibration::Platt {
                slope, intercept, ..
            } => sigmoid(slope * margin + intercept),
            Calibration::Isotonic { x, y, .. } => {
                let raw = sigmoid(margin);
                let k = x.partition_point(|&v| v < raw);
                if k == 0 {
                    y[0]
                } else if k == x.len() {
                    y[y.len() - 1]
                } else {
                    let t = (raw - x[k - 1]) / (x[k] - x[k - 1]);
                    y[k - 1] + t * (y[k] - y[k - 1])
                }
            }
        };
        p.clamp(MIN_PROBABILITY, 1.0 - MIN_PROBABILITY)
    }

    /// Fits `method` on calibration rows: model log-odds and outcomes.
    pub fn fit(
        method: CalibrationMethod,
        margins: &[f64],
        labels: &[bool],
    ) -> Result<Calibration, String> {
        if margins.len() != labels.len() || margins.is_empty() {
            return Err("calibration needs rows, as many margins as labels".into());
        }
        if labels.iter().all(|&l| l) || labels.iter().all(|&l| !l) {
            return Err("calibration rows must hold both outcomes".into());
        }
        let rows = margins.len() as u64;
        Ok(match method {
            CalibrationMethod::Platt => {
                let (slope, intercept) = platt(margins, labels);
                Calibration::Platt {
                    slope,
                    intercept,
                    rows,
                }
            }
            CalibrationMethod::Isotonic => {
                let (x, y) = isotonic(margins, labels);
                Calibration::Isotonic { x, y, rows }
            }
        })
    }

    /// Checks the invariants a loaded calibration must meet.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Calibration::Platt {
                slope, intercept, ..
            } => {
                if !(slope.is_finite() && intercept.is_finite() && *slope > 0.0) {
                    return Err("Platt slope must be finite and positive, intercept finite".into());
                }
            }
            Calibration::Isotonic { x, y, .. } => {
                if x.is_empty() || x.len() != y.len() {
                    return Err("isotonic knots: x and y must be non-empty and equally long".into());
                }
                if x.iter().chain(y).any(|v| !(0.0..=1.0).contains(v)) {
                    return Err("isotonic knots must be probabilities".into());
                }
                if x.windows(2).any(|w| w[0] >= w[1]) || y.windows(2).any(|w| w[0] > w[1]) {
                    return Err("isotonic knots: x strictly ascending, y non-decreasing".into());
                }
            }
        }
        Ok(())
    }
}

/// Logistic regression of the outcome on the margin (Newton's method, with Platt's smoothed
/// targets so that separable data still converges).
fn platt(margins: &[f64], labels: &[bool]) -> (f64, f64) {
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let (hi, lo) = (
        (positives + 1.0) / (positives + 2.0),
        1.0 / (negatives + 2.0),
    );
    let (mut a, mut b) = (1.0, 0.0);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
        for (&m, &l) in margins.iter().zip(labels) {
            let p = sigmoid(a * m + b);
            let t = if l { hi } else { lo };
            let w = (p * (1.0 - p)).max(1e-12);
            ga += (p - t) * m;
            gb += p - t;
            haa += w * m * m;
            hab += w * m;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-12 {
            break;
        }
    }
    (a, b)
}

/// Pool adjacent violators on (raw probability, outcome), sorted by probability: the knots are
/// each pooled block's mean probability and repayment rate.
fn isotonic(margins: &[f64], labels: &[bool]) -> (Vec<f64>, Vec<f64>) {
    let mut points: Vec<(f64, f64)> = margins
        .iter()
        .zip(labels)
        .map(|(&m, &l)| (sigmoid(m), if l { 1.0 } else { 0.0 }))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Blocks of (sum of x, sum of y, count).
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for (x, y) in points {
        blocks.push((x, y, 1.0));
        while blocks.len() >= 2 {
            let (a, b) = (blocks[blocks.len() - 2], blocks[blocks.len() - 1]);
            if a.1 / a.2 < b.1 / b.2 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
        }
    }
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for (sx, sy, n) in blocks {
        let (x, y) = (sx / n, sy / n);
        // Equal block means (possible with ties) keep the later, higher value.
        if xs.last().is_some_and(|&last| x <= last) {
            if let Some(v) = ys.last_mut() {
                *v = y.max(*v);
            }
            continue;
        }
        xs.push(x);
        ys.push(y);
    }
    (xs, ys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outcomes drawn with probability sigmoid(2 m + 0.5): a model whose margins are half as
    /// confident as they should be and shifted.
    fn miscalibrated(n: usize) -> (Vec<f64>, Vec<bool>) {
        let mut state = 3u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let m = next() * 4.0 - 2.0;
                (m, next() < sigmoid(2.0 * m + 0.5))
            })
            .unzip()
    }

    fn ece(cal: &Calibration, margins: &[f64], labels: &[bool]) -> f64 {
        let scores: Vec<f64> = margins.iter().map(|&m| cal.probability(m)).collect();
        crate::evaluation::evaluate(labels, &scores)
            .expect("metrics")
            .ece
    }

    #[test]
    fn platt_recovers_the_true_scaling() {
        let (m, l) = miscalibrated(20_000);
        let cal = Calibration::fit(CalibrationMethod::Platt, &m, &l).expect("fit");
        let Calibration::Platt {
            slope, intercept, ..
        } = cal
        else {
            panic!("platt")
        };
        assert!((slope - 2.0).abs() < 0.15, "{slope}");
        assert!((intercept - 0.5).abs() < 0.1, "{intercept}");
        assert!(cal.validate().is_ok());
    }

    #[test]
    fn isotonic_is_monotone_and_calibrates_held_out_rows() {
        let (m, l) = miscalibrated(20_000);
        let cal =
            Calibration::fit(CalibrationMethod::Isotonic, &m[..10_000], &l[..10_000]).expect("fit");
        assert!(cal.validate().is_ok());
        let raw = Calibration::Platt {
            slope: 1.0,
            intercept: 0.0,
            rows: 0,
        };
        let (before, after) = (
            ece(&raw, &m[10_000..], &l[10_000..]),
            ece(&cal, &m[10_000..], &l[10_000..]),
        );
        assert!(before > 0.05, "{before}");
        assert!(after < 0.02, "{after}");
        let mut last = 0.0;
        for k in -300..=300 {
            let p = cal.probability(f64::from(k) / 50.0);
            assert!(p >= last && (MIN_PROBABILITY..=1.0 - MIN_PROBABILITY).contains(&p));
            last = p;
        }
    }

    #[test]
    fn one_outcome_or_bad_knots_are_refused() {
        assert!(Calibration::fit(CalibrationMethod::Platt, &[0.1, 0.2], &[true, true]).is_err());
        let bad = Calibration::Isotonic {
            x: vec![0.5, 0.4],
            y: vec![0.1, 0.2],
            rows: 2,
        };
        assert!(bad.validate().is_err());
    }
}
