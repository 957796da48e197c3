//! Evaluation metrics for binary scores: AUC, Gini, KS, Brier score, log loss, expected
//! calibration error, and a decile table for collections.
//!
//! Labels are `true` for the positive class (repaid); scores are predicted probabilities of it.

use serde::{Deserialize, Serialize};

/// Metrics of one model on one data split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Rows evaluated.
    pub rows: u64,
    /// Share of positive (repaid) rows.
    pub repayment_rate: f64,
    /// Area under the ROC curve (ties count one half).
    pub auc: f64,
    /// Gini coefficient, 2 AUC - 1.
    pub gini: f64,
    /// Kolmogorov-Smirnov statistic: the largest gap between the score distributions of the two
    /// classes.
    pub ks: f64,
    /// Mean squared error of the probabilities.
    pub brier: f64,
    /// Mean negative log-likelihood (probabilities clipped to [1e-15, 1 - 1e-15]).
    pub log_loss: f64,
    /// Expected calibration error: over [`CALIBRATION_BINS`] equal-width bins of predicted
    /// probability, the row-weighted mean of |observed repayment rate - mean prediction|.
    pub ece: f64,
}

/// Equal-width probability bins of the expected calibration error.
pub const CALIBRATION_BINS: usize = 10;

/// One row of a decile table. Deciles run from the riskiest accounts (lowest predicted
/// repayment) to the safest, the order in which a collections team works them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decile {
    /// 1 = riskiest tenth.
    pub decile: u32,
    /// Accounts in the decile.
    pub count: u64,
    /// Lowest and highest predicted repayment probability in the decile.
    pub min_predicted: f64,
    /// See `min_predicted`.
    pub max_predicted: f64,
    /// Mean predicted repayment probability.
    pub mean_predicted: f64,
    /// Observed repayment rate.
    pub observed_repayment: f64,
    /// Share of all non-repaying accounts found in deciles 1..=this one.
    pub cumulative_capture: f64,
    /// Non-repayment rate in this decile over the overall non-repayment rate.
    pub lift: f64,
}

/// Why metrics cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// Different numbers of labels and scores.
    #[error("{labels} labels but {scores} scores")]
    LengthMismatch {
        /// Number of labels.
        labels: usize,
        /// Number of scores.
        scores: usize,
    },
    /// AUC and KS need both classes.
    #[error("metrics need both classes; got {positives} positives and {negatives} negatives")]
    OneClass {
        /// Positive rows.
        positives: usize,
        /// Negative rows.
        negatives: usize,
    },
    /// A score is NaN or outside [0, 1].
    #[error("score {index} is {value}, not a probability")]
    BadScore {
        /// Row index.
        index: usize,
        /// The value.
        value: f64,
    },
}

/// Computes every metric.
pub fn evaluate(labels: &[bool], scores: &[f64]) -> Result<Metrics, MetricsError> {
    if labels.len() != scores.len() {
        return Err(MetricsError::LengthMismatch {
            labels: labels.len(),
            scores: scores.len(),
        });
    }
    if let Some((index, &value)) = scores
        .iter()
        .enumerate()
        .find(|(_, s)| !(0.0..=1.0).contains(*s))
    {
        return Err(MetricsError::BadScore { index, value });
    }
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(MetricsError::OneClass {
            positives,
            negatives,
        });
    }

    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));

    // One pass over tied groups of ascending scores: Mann-Whitney U for the AUC, and the largest
    // gap between the two empirical CDFs for KS.
    let (np, nn) = (positives as f64, negatives as f64);
    let mut u = 0.0;
    let mut neg_below = 0.0;
    let mut pos_below = 0.0;
    let mut ks: f64 = 0.0;
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        let (mut p, mut n) = (0.0, 0.0);
        while i < order.len() && scores[order[i]] == s {
            if labels[order[i]] {
                p += 1.0;
            } else {
                n += 1.0;
            }
            i += 1;
        }
        u += p * (neg_below + 0.5 * n);
        neg_below += n;
        pos_below += p;
        ks = ks.max((neg_below / nn - pos_below / np).abs());
    }
    let auc = u / (np * nn);

    let mut brier = 0.0;
    let mut log_loss = 0.0;
    for (&l, &s) in labels.iter().zip(scores) {
        let y = if l { 1.0 } else { 0.0 };
        brier += (s - y) * (s - y);
        let p = s.clamp(1e-15, 1.0 - 1e-15);
        log_loss -= if l { p.ln() } else { (1.0 - p).ln() };
    }
    let rows = labels.len() as f64;
    let mut bins = [(0.0f64, 0.0f64, 0.0f64); CALIBRATION_BINS];
    for (&l, &s) in labels.iter().zip(scores) {
        let b = ((s * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        bins[b].0 += 1.0;
        bins[b].1 += if l { 1.0 } else { 0.0 };
        bins[b].2 += s;
    }
    let ece = bins
        .iter()
        .filter(|b| b.0 > 0.0)
        .map(|&(_, repaid, predicted)| (repaid - predicted).abs())
        .sum::<f64>()
        / rows;
    Ok(Metrics {
        rows: labels.len() as u64,
        repayment_rate: np / rows,
        auc,
        gini: 2.0 * auc - 1.0,
        ks,
        brier: brier / rows,
        log_loss: log_loss / rows,
        ece,
    })
}

/// The decile table of `scores` (both classes needed): accounts sorted by predicted repayment,
/// riskiest first, cut into ten groups of equal size (the first `rows % 10` get one more; fewer
/// than ten rows give fewer groups); ties are kept in input order.
pub fn deciles(labels: &[bool], scores: &[f64]) -> Result<Vec<Decile>, MetricsError> {
    // The same checks as `evaluate`.
    let m = evaluate(labels, scores)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let n = order.len();
    let defaults_total = labels.iter().filter(|&&l| !l).count() as f64;
    let default_rate = 1.0 - m.repayment_rate;
    let mut table = Vec::with_capacity(10);
    let (mut start, mut captured) = (0, 0.0);
    for d in 0..10 {
        let size = n / 10 + usize::from(d < n % 10);
        let group = &order[start..start + size];
        start += size;
        if group.is_empty() {
            continue;
        }
        let count = group.len() as f64;
        let repaid = group.iter().filter(|&&i| labels[i]).count() as f64;
        captured += count - repaid;
        table.push(Decile {
            decile: d as u32 + 1,
            count: group.len() as u64,
            min_predicted: scores[group[0]],
            max_predicted: scores[group[group.len() - 1]],
            mean_predicted: group.iter().map(|&i| scores[i]).sum::<f64>() / count,
            observed_repayment: repaid / count,
            cumulative_capture: captured / defaults_total,
            lift: ((count - repaid) / count) / default_rate,
        });
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_error_is_the_weighted_gap_per_probability_bin() {
        // Bin [0.2, 0.3): predicted 0.25 x 4, observed 1/4 -> gap 0. Bin [0.9, 1]: predicted
        // 0.95 x 4, observed 2/4 -> gap 0.45. Weighted: (4 x 0 + 4 x 0.45) / 8.
        let labels = [true, false, false, false, true, true, false, false];
        let scores = [0.25, 0.25, 0.25, 0.25, 0.95, 0.95, 0.95, 0.95];
        let m = evaluate(&labels, &scores).expect("metrics");
        assert!((m.ece - 0.225).abs() < 1e-12, "{}", m.ece);
        // A probability of exactly 1 falls in the top bin.
        let m = evaluate(&[true, false], &[1.0, 0.0]).expect("metrics");
        assert_eq!(m.ece, 0.0);
    }

    #[test]
    fn deciles_run_riskiest_first_and_capture_every_defaulter() {
        // 25 accounts; the 5 lowest scores all default, the rest repay except one.
        let scores: Vec<f64> = (0..25).map(|i| f64::from(i) / 25.0).collect();
        let labels: Vec<bool> = (0..25).map(|i| i >= 5 && i != 17).collect();
        let table = deciles(&labels, &scores).expect("deciles");
        assert_eq!(table.len(), 10);
        let counts: Vec<u64> = table.iter().map(|d| d.count).collect();
        assert_eq!(counts, [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
        assert_eq!(table[0].observed_repayment, 0.0);
        assert_eq!(table[0].min_predicted, 0.0);
        assert!(table
            .windows(2)
            .all(|w| w[0].max_predicted <= w[1].min_predicted));
        // 6 defaulters: 3 in decile 1, 2 in decile 2, 1 (i = 17) in decile 7.
        assert!((table[0].cumulative_capture - 0.5).abs() < 1e-12);
        assert!((table[1].cumulative_capture - 5.0 / 6.0).abs() < 1e-12);
        assert!((table[9].cumulative_capture - 1.0).abs() < 1e-12);
        // Lift of decile 1: default rate 1 over the overall 6/25.
        assert!((table[0].lift - 25.0 / 6.0).abs() < 1e-12);
        let mean: f64 = table
            .iter()
            .map(|d| d.mean_predicted * d.count as f64)
            .sum::<f64>();
        assert!((mean - scores.iter().sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn perfect_and_inverted_rankings() {
        let labels = [false, false, true, true];
        let m = evaluate(&labels, &[0.1, 0.2, 0.8, 0.9]).expect("metrics");
        assert_eq!(m.auc, 1.0);
        assert_eq!(m.gini, 1.0);
        assert_eq!(m.ks, 1.0);
        let m = evaluate(&labels, &[0.9, 0.8, 0.2, 0.1]).expect("metrics");
        assert_eq!(m.auc, 0.0);
        assert_eq!(m.ks, 1.0);
    }

    #[test]
    fn ties_count_half_and_match_a_brute_force_auc() {
        let labels = [true, false, true, false, true, false, false];
        let scores = [0.5, 0.5, 0.7, 0.2, 0.5, 0.9, 0.1];
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (i, &li) in labels.iter().enumerate() {
            for (j, &lj) in labels.iter().enumerate() {
                if li && !lj {
                    pairs += 1.0;
                    wins += match scores[i].partial_cmp(&scores[j]) {
                        Some(std::cmp::Ordering::Greater) => 1.0,
                        Some(std::cmp::Ordering::Equal) => 0.5,
                        _ => 0.0,
                    };
                }
            }
        }
        let m = evaluate(&labels, &scores).expect("metrics");
        assert!((m.auc - wins / pairs).abs() < 1e-12);
    }

    #[test]
    fn brier_and_log_loss() {
        let m = evaluate(&[true, false], &[0.8, 0.4]).expect("metrics");
        assert!((m.brier - (0.04 + 0.16) / 2.0).abs() < 1e-12);
        assert!((m.log_loss - (-(0.8f64.ln()) - 0.6f64.ln()) / 2.0).abs() < 1e-12);
        assert_eq!(m.repayment_rate, 0.5);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            evaluate(&[true, true], &[0.1, 0.2]),
            Err(MetricsError::OneClass { .. })
        ));
        assert!(matches!(
            evaluate(&[true, false], &[0.1, f64::NAN]),
            Err(MetricsError::BadScore { index: 1, .. })
        ));
        assert!(matches!(
            evaluate(&[true], &[0.1, 0.2]),
            Err(MetricsError::LengthMismatch { .. })
        ));
    }
}
