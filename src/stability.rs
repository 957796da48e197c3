//! Population stability: binned training distributions of every feature and of the score (the
//! artifact's baseline), and the population stability index (PSI) of new data against them.
//!
//! PSI = sum over bins of (actual - expected) x ln(actual / expected), on bin shares, with
//! empty bins floored at [`PSI_FLOOR`]. Conventional reading: below 0.1 stable, 0.1 to 0.25
//! watch, above 0.25 act (retrain or investigate).

use serde::{Deserialize, Serialize};

/// Value bins per feature (quantiles of the training values; fewer when values repeat).
pub const BASELINE_BINS: usize = 10;
/// Share given to an empty bin in PSI, so that the logarithm stays finite.
pub const PSI_FLOOR: f64 = 1e-4;
/// PSI at or above which a distribution is worth watching.
pub const PSI_WATCH: f64 = 0.1;
/// PSI at or above which a distribution has shifted enough to act on.
pub const PSI_ACT: f64 = 0.25;

/// A binned distribution. Bin 0 holds missing values; value bin `b >= 1` holds
/// `edges[b - 2] < x <= edges[b - 1]` (the first from -inf, the last to +inf).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Histogram {
    /// Ascending, finite inner edges.
    pub edges: Vec<f64>,
    /// Share of rows per bin (missing first), summing to 1.
    pub shares: Vec<f64>,
}

impl Histogram {
    /// Bins `values` (NaN = missing) at up to `bins` quantiles of the non-missing ones.
    pub fn fit(values: &[f64], bins: usize) -> Histogram {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = Vec::new();
        let n = sorted.len();
        for q in 1..bins.max(1) {
            if n == 0 {
                break;
            }
            let v = sorted[(q * n / bins).min(n - 1)];
            // A value bin ends at a data value; skip repeats and the maximum (it would leave
            // the last bin empty).
            if v.is_finite() && edges.last().is_none_or(|&e| v > e) && v < sorted[n - 1] {
                edges.push(v);
            }
        }
        let mut h = Histogram {
            shares: vec![0.0; edges.len() + 2],
            edges,
        };
        h.shares = h.shares_of(values);
        h
    }

    /// The bin of `x`.
    #[inline]
    pub fn bin(&self, x: f64) -> usize {
        if x.is_nan() {
            0
        } else if self.edges.len() <= 32 {
            // The edges are ascending (`validate`), so the count of those below `x` is the
            // binary search's answer; counting has no unpredictable branches, and a histogram
            // has about ten edges. The drift window bins every input of every scored account.
            1 + self
                .edges
                .iter()
                .map(|&e| usize::from(e < x))
                .sum::<usize>()
        } else {
            1 + self.edges.partition_point(|&e| e < x)
        }
    }

    /// Number of bins, the missing bin included.
    pub fn len(&self) -> usize {
        self.edges.len() + 2
    }

    /// Always false: there is at least the missing bin and one value bin.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Bin shares of `values` (all zero when there are none).
    pub fn shares_of(&self, values: &[f64]) -> Vec<f64> {
        let mut counts = vec![0.0; self.len()];
        for &x in values {
            counts[self.bin(x)] += 1.0;
        }
        let total = values.len().max(1) as f64;
        counts.iter().map(|c| c / total).collect()
    }

    /// Checks the invariants a loaded baseline must meet.
    pub fn validate(&self) -> Result<(), String> {
        if self.shares.len() != self.edges.len() + 2 {
            return Err(format!(
                "{} shares for {} edges (expected edges + 2)",
                self.shares.len(),
                self.edges.len()
            ));
        }
        if self.edges.iter().any(|e| !e.is_finite()) || self.edges.windows(2).any(|w| w[0] >= w[1])
        {
            return Err("edges must be finite and strictly ascending".into());
        }
        if self.shares.iter().any(|s| !(0.0..=1.0).contains(s)) {
            return Err("shares must be in [0, 1]".into());
        }
        let sum: f64 = self.shares.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(format!("shares sum to {sum}, not 1"));
        }
        Ok(())
    }
}

/// PSI between an expected (baseline) and an actual distribution over the same bins.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(PSI_FLOOR), a.max(PSI_FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// One feature's training distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureBaseline {
    /// Feature name, as in the artifact's feature list.
    pub name: String,
    /// Its binned training values.
    pub histogram: Histogram,
}

/// The training distributions drift is measured against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Rows the baseline was computed on (the training rows).
    pub rows: u64,
    /// Per feature, in the artifact's feature order.
    pub features: Vec<FeatureBaseline>,
    /// The predicted repayment probability on the training rows.
    pub score: Histogram,
}

impl Baseline {
    /// The baseline of row-major `values` (`names.len()` columns) and their `scores`.
    pub fn fit(names: &[String], values: &[f64], scores: &[f64]) -> Baseline {
        let p = names.len();
        let rows = values.len().checked_div(p).unwrap_or(0);
        let features = names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let column: Vec<f64> = (0..rows).map(|r| values[r * p + j]).collect();
                FeatureBaseline {
                    name: name.clone(),
                    histogram: Histogram::fit(&column, BASELINE_BINS),
                }
            })
            .collect();
        Baseline {
            rows: rows as u64,
            features,
            score: Histogram::fit(scores, BASELINE_BINS),
        }
    }

    /// PSI of every feature (in order) and of the score for new rows and their scores.
    pub fn psi_of(&self, values: &[f64], scores: &[f64]) -> (Vec<f64>, f64) {
        let p = self.features.len();
        let rows = values.len().checked_div(p).unwrap_or(0);
        let features = self
            .features
            .iter()
            .enumerate()
            .map(|(j, f)| {
                let column: Vec<f64> = (0..rows).map(|r| values[r * p + j]).collect();
                psi(&f.histogram.shares, &f.histogram.shares_of(&column))
            })
            .collect();
        let score = psi(&self.score.shares, &self.score.shares_of(scores));
        (features, score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, shift: f64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                if i % 10 == 0 {
                    f64::NAN
                } else {
                    ((i * 37) % 101) as f64 + shift
                }
            })
            .collect()
    }

    #[test]
    fn quantile_bins_have_equal_shares_and_a_missing_bin() {
        let v = values(10_000, 0.0);
        let h = Histogram::fit(&v, 10);
        assert!(h.validate().is_ok());
        assert_eq!(h.len(), 11, "missing + 10 value bins");
        assert!((h.shares[0] - 0.1).abs() < 1e-12, "{:?}", h.shares);
        for &s in &h.shares[1..] {
            assert!((s - 0.09).abs() < 0.01, "{:?}", h.shares);
        }
        // x <= edge is in the bin below the edge.
        assert_eq!(h.bin(h.edges[0]), 1);
        assert_eq!(h.bin(h.edges[0] + 1e-9), 2);
        assert_eq!(h.bin(f64::NEG_INFINITY), 1);
        assert_eq!(h.bin(1e300), h.len() - 1);
        // A constant feature: one value bin.
        let h = Histogram::fit(&[3.0; 50], 10);
        assert_eq!(h.shares, vec![0.0, 1.0]);
    }

    #[test]
    fn counting_bins_agree_with_the_binary_search() {
        let mut widest = 0;
        for bins in [2, 10, 33, 40, 200] {
            let h = Histogram::fit(&values(10_000, 0.0), bins);
            widest = widest.max(h.edges.len());
            let mut probes = vec![f64::NEG_INFINITY, f64::INFINITY, -1e300, 1e300, 0.0];
            for &e in &h.edges {
                probes.extend([e, e - 1e-9, e + 1e-9, f64::from_bits(e.to_bits() + 1)]);
            }
            probes.extend((0..500).map(|i| f64::from(i) * 0.21 - 3.0));
            for x in probes {
                let expected = 1 + h.edges.partition_point(|&e| e < x);
                assert_eq!(h.bin(x), expected, "{} edges, x = {x}", h.edges.len());
            }
        }
        assert!(widest > 32, "the binary search ran too ({widest} edges)");
    }

    #[test]
    fn psi_is_zero_on_the_baseline_and_large_after_a_shift() {
        let names = vec!["a".to_string()];
        let v = values(5_000, 0.0);
        let scores: Vec<f64> = (0..5_000).map(|i| (i % 100) as f64 / 100.0).collect();
        let b = Baseline::fit(&names, &v, &scores);
        let (f, s) = b.psi_of(&v, &scores);
        assert!(f[0].abs() < 1e-12 && s.abs() < 1e-12);
        // Shift the feature by a third of its range and the scores up: both must alarm.
        let shifted = values(5_000, 33.0);
        let higher: Vec<f64> = scores.iter().map(|s| (s + 0.3).min(1.0)).collect();
        let (f, s) = b.psi_of(&shifted, &higher);
        assert!(f[0] > PSI_ACT, "{}", f[0]);
        assert!(s > PSI_ACT, "{s}");
        // A small sample of the same population stays below the watch level.
        let sample: Vec<f64> = v.iter().step_by(7).copied().collect();
        let (f, _) = b.psi_of(&sample, &scores);
        assert!(f[0] < PSI_WATCH, "{}", f[0]);
    }
}
