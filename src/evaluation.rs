//! Evaluation metrics for binary scores: AUC, Gini, KS, Brier score and log loss.
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
    Ok(Metrics {
        rows: labels.len() as u64,
        repayment_rate: np / rows,
        auc,
        gini: 2.0 * auc - 1.0,
        ks,
        brier: brier / rows,
        log_loss: log_loss / rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
