//! Binned scorecards: each input cut into bins (special values, value ranges, missing), each bin
//! carrying its weight of evidence (WoE), and a logistic regression on the WoE values.
//!
//! The maths, for input `j` falling in bin `b`:
//! - `WoE_jb = ln((repaid_jb + ½) / (R + ½)) - ln((defaulted_jb + ½) / (D + ½))` on the
//!   training rows (`R`, `D`: all repaid and defaulted rows), so a bin of good payers has a
//!   positive WoE.
//! - The log-odds of repayment are `intercept + Σ_j coefficient_j · WoE_jb`.
//! - Points: with `factor = points_to_double_odds / ln 2` and
//!   `offset = base_points - factor · ln(base_odds)`, bin `b` of input `j` is worth
//!   `factor · (coefficient_j · WoE_jb + intercept / n) + offset / n` points (`n` inputs), so an
//!   account's points add up to `offset + factor · log-odds`: the policy's score when the scales
//!   agree.
//! - Reasons, adverse-action style: each input's contribution is what it lost against its best
//!   bin, `coefficient_j · (WoE_jb - max_b WoE_jb')` (≤ 0 with the best bin's sign); they are
//!   measured from the best possible account's log-odds, so they add up to the margin exactly.
//!
//! A value bin `b` holds `edges[b - 1] < x <= edges[b]` (the first from -∞, the last to +∞);
//! special values are matched exactly before the ranges; `NaN` is missing.

use serde::{Deserialize, Serialize};

/// One input's bins, as the artifact holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Characteristic {
    /// Ascending, finite inner edges of the value bins (`edges.len() + 1` value bins).
    pub edges: Vec<f64>,
    /// Values with a bin of their own (matched exactly), before the value bins.
    #[serde(default)]
    pub special: Vec<f64>,
    /// Per bin: the special values' bins, then the value bins, then the missing bin.
    pub bins: Vec<Bin>,
    /// The trend of the value bins' repayment rates the binning enforced: +1 rising, -1
    /// falling, 0 none.
    pub trend: i8,
    /// Information value, `Σ_b (repaid share - defaulted share) · WoE_b`.
    pub information_value: f64,
    /// The logistic regression's coefficient on this input's WoE.
    pub coefficient: f64,
}

/// One bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bin {
    /// Training rows that repaid.
    pub repaid: u64,
    /// Training rows that defaulted.
    pub defaulted: u64,
    /// Weight of evidence.
    pub woe: f64,
    /// Score points.
    pub points: f64,
}

/// The points scale of a scorecard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsScale {
    /// Points at `base_odds`.
    pub base_points: f64,
    /// Odds of repayment worth `base_points`.
    pub base_odds: f64,
    /// Points that double the odds.
    pub points_to_double_odds: f64,
}

impl Default for PointsScale {
    /// The shipped policy's scale: 600 points at odds 50:1, 20 points to double them.
    fn default() -> Self {
        PointsScale {
            base_points: 600.0,
            base_odds: 50.0,
            points_to_double_odds: 20.0,
        }
    }
}

impl PointsScale {
    /// `(factor, offset)`: points = offset + factor · log-odds.
    pub fn factor_offset(&self) -> (f64, f64) {
        let factor = self.points_to_double_odds / std::f64::consts::LN_2;
        (factor, self.base_points - factor * self.base_odds.ln())
    }

    /// Checks the scale.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.base_points.is_finite()
            && self.base_odds.is_finite()
            && self.base_odds > 0.0
            && self.points_to_double_odds.is_finite()
            && self.points_to_double_odds > 0.0)
        {
            return Err(
                "base_points finite, base_odds > 0 and points_to_double_odds > 0 required".into(),
            );
        }
        Ok(())
    }
}

impl Characteristic {
    /// The bin of `x`: special bins first, then value bins, the missing bin last.
    #[inline]
    pub fn bin(&self, x: f64) -> usize {
        if x.is_nan() {
            return self.bins.len() - 1;
        }
        if let Some(s) = self.special.iter().position(|&v| v == x) {
            return s;
        }
        self.special.len() + self.edges.partition_point(|&e| e < x)
    }

    /// Each bin's label, in bin order: `= v` for a special value, `(a, b]` for a range,
    /// `missing`.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self.special.iter().map(|v| format!("= {v}")).collect();
        // Edges are data values (quantiles): six significant digits tell them apart in a table.
        let short = |v: f64| {
            let digits = (5 - v.abs().log10().floor().clamp(-6.0, 5.0) as i32).max(0) as usize;
            let text = format!("{v:.digits$}");
            if text.contains('.') {
                text.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                text
            }
        };
        let bounds: Vec<String> = std::iter::once("-inf".to_owned())
            .chain(
                self.edges
                    .iter()
                    .map(|&e| if e == 0.0 { "0".into() } else { short(e) }),
            )
            .chain(std::iter::once("+inf".to_owned()))
            .collect();
        for w in bounds.windows(2) {
            let close = if w[1] == "+inf" { ")" } else { "]" };
            labels.push(format!("({}, {}{close}", w[0], w[1]));
        }
        labels.push("missing".into());
        labels
    }

    /// The points of bin `b` given the intercept, the number of inputs and the scale.
    pub fn points_of(&self, b: usize, intercept: f64, inputs: usize, scale: &PointsScale) -> f64 {
        let (factor, offset) = scale.factor_offset();
        let n = inputs.max(1) as f64;
        factor * (self.coefficient * self.bins[b].woe + intercept / n) + offset / n
    }

    /// Checks the bins' shape; `at` names the input.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        let fail = |m: &str| Err(format!("scorecard input `{at}`: {m}"));
        if self.edges.iter().any(|e| !e.is_finite()) || self.edges.windows(2).any(|w| w[0] >= w[1])
        {
            return fail("edges must be finite and strictly ascending");
        }
        if self.special.iter().any(|s| !s.is_finite()) {
            return fail("special values must be finite");
        }
        if self.bins.len() != self.special.len() + self.edges.len() + 2 {
            return fail(
                "one bin per special value, per value range and for missing values required",
            );
        }
        if self
            .bins
            .iter()
            .any(|b| !b.woe.is_finite() || !b.points.is_finite())
        {
            return fail("every bin's woe and points must be finite");
        }
        if !(self.coefficient.is_finite()
            && self.information_value.is_finite()
            && (-1..=1).contains(&self.trend))
        {
            return fail("coefficient and information_value must be finite, trend -1, 0 or 1");
        }
        Ok(())
    }
}

/// A scorecard ready to score: each input's bins with their log-odds terms.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorecardModel {
    intercept: f64,
    characteristics: Vec<Characteristic>,
    /// Per input, per bin: `coefficient · WoE`.
    terms: Vec<Vec<f64>>,
    /// Per input: its best bin's term.
    best: Vec<f64>,
}

impl ScorecardModel {
    /// Builds the model from validated characteristics.
    pub fn new(intercept: f64, characteristics: &[Characteristic]) -> Self {
        let terms: Vec<Vec<f64>> = characteristics
            .iter()
            .map(|c| c.bins.iter().map(|b| c.coefficient * b.woe).collect())
            .collect();
        let best = terms
            .iter()
            .map(|t| t.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .collect();
        ScorecardModel {
            intercept,
            characteristics: characteristics.to_vec(),
            terms,
            best,
        }
    }

    /// Log-odds of repayment for the input vector `x`.
    #[inline]
    pub fn margin(&self, x: &[f64]) -> f64 {
        let mut sum = self.intercept;
        for ((c, t), &v) in self.characteristics.iter().zip(&self.terms).zip(x) {
            sum += t[c.bin(v)];
        }
        sum
    }

    /// Writes each input's points lost against its best bin, on the log-odds scale, into
    /// `out`, and returns the margin: the contributions add up to `margin -
    /// expected_margin()`.
    #[inline]
    pub fn contributions(&self, x: &[f64], out: &mut [f64]) -> f64 {
        let mut sum = self.intercept;
        for ((((c, t), &best), &v), o) in self
            .characteristics
            .iter()
            .zip(&self.terms)
            .zip(&self.best)
            .zip(x)
            .zip(out.iter_mut())
        {
            let term = t[c.bin(v)];
            *o = term - best;
            sum += term;
        }
        sum
    }

    /// The log-odds of the best possible account, every input in its best bin: what the
    /// contributions are measured from.
    pub fn expected_margin(&self) -> f64 {
        self.intercept + self.best.iter().sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn characteristic() -> Characteristic {
        let bin = |woe: f64| Bin {
            repaid: 10,
            defaulted: 5,
            woe,
            points: 0.0,
        };
        Characteristic {
            edges: vec![10.0, 20.0],
            special: vec![-1.0],
            bins: vec![bin(-0.5), bin(-1.0), bin(0.2), bin(0.9), bin(0.1)],
            trend: 1,
            information_value: 0.3,
            coefficient: 0.8,
        }
    }

    /// Bins: special first, ranges closed on the right, missing last.
    #[test]
    fn values_fall_in_their_bins() {
        let c = characteristic();
        for (x, b) in [
            (-1.0, 0),
            (-5.0, 1),
            (10.0, 1),
            (10.5, 2),
            (20.0, 2),
            (20.1, 3),
            (f64::NAN, 4),
        ] {
            assert_eq!(c.bin(x), b, "{x}");
        }
        assert!(c.validate("x").is_ok());
    }

    /// Contributions are the points lost against the best bin and add up to the margin.
    #[test]
    fn reasons_are_points_lost_and_add_up() {
        let c = characteristic();
        let m = ScorecardModel::new(1.5, &[c.clone(), c]);
        let x = [5.0, f64::NAN];
        let mut out = [0.0; 2];
        let margin = m.contributions(&x, &mut out);
        assert!((margin - m.margin(&x)).abs() < 1e-12);
        assert!((out[0] - 0.8 * (-1.0 - 0.9)).abs() < 1e-12);
        assert!((out[1] - 0.8 * (0.1 - 0.9)).abs() < 1e-12);
        assert!((m.expected_margin() + out[0] + out[1] - margin).abs() < 1e-12);
        // The points add up to the scale's score of the margin.
        let scale = PointsScale::default();
        let (factor, offset) = scale.factor_offset();
        let cs = [characteristic(), characteristic()];
        let points: f64 = cs
            .iter()
            .zip(&x)
            .map(|(c, &v)| c.points_of(c.bin(v), 1.5, 2, &scale))
            .sum();
        assert!((points - (offset + factor * margin)).abs() < 1e-9);
    }
}
