//! Live drift: the population stability index (PSI) of every model input and of the score over
//! the last accounts the champion scored (the server's `drift_window`, by default
//! [`DEFAULT_DRIFT_WINDOW`]), against the training baseline stored
//! in the artifact ([`crate::stability::Baseline`]).
//!
//! Thresholds ([`crate::stability`]): PSI below 0.1 is stable, 0.1 to 0.25 worth watching, 0.25
//! and above a shift to act on (investigate, retrain). With few accounts in the window PSI is
//! noisy; read it with `window_accounts` (about 1,000 accounts or more make it meaningful).
//!
//! The window keeps each account's bin per input (not its values), so adding an account and
//! evicting the oldest are a few counter updates, and a report is a PSI over bin counts.

use std::sync::{Mutex, MutexGuard};

use crate::stability::{psi, Baseline, PSI_ACT, PSI_WATCH};

/// Accounts in the sliding window unless the server is told otherwise.
pub const DEFAULT_DRIFT_WINDOW: usize = 10_000;

/// How far a distribution moved from training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftStatus {
    /// PSI below 0.1.
    Stable,
    /// PSI from 0.1 to 0.25.
    Watch,
    /// PSI of 0.25 or more.
    Act,
}

impl DriftStatus {
    /// The status of a PSI value.
    pub fn of(psi: f64) -> DriftStatus {
        if psi >= PSI_ACT {
            DriftStatus::Act
        } else if psi >= PSI_WATCH {
            DriftStatus::Watch
        } else {
            DriftStatus::Stable
        }
    }

    /// `stable`, `watch` or `act`.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftStatus::Stable => "stable",
            DriftStatus::Watch => "watch",
            DriftStatus::Act => "act",
        }
    }
}

/// One distribution's drift.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// Input name, or `score`.
    pub name: String,
    /// PSI against the training baseline.
    pub psi: f64,
    /// Its reading.
    pub status: DriftStatus,
}

/// Drift over the window now.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftReport {
    /// Accounts in the window.
    pub window_accounts: usize,
    /// Most accounts the window holds.
    pub window_size: usize,
    /// Training rows of the baseline.
    pub baseline_rows: u64,
    /// The score's drift.
    pub score: Drift,
    /// Each input's drift, in the model's input order.
    pub features: Vec<Drift>,
}

#[derive(Debug)]
struct Window {
    /// `size` rows of `width` bins (inputs, then the score).
    bins: Vec<u16>,
    next: usize,
    filled: usize,
    /// Accounts per bin, per input and then the score.
    counts: Vec<Vec<u64>>,
}

/// The sliding window of a model's scored accounts.
#[derive(Debug)]
pub struct DriftMonitor {
    baseline: Baseline,
    size: usize,
    window: Mutex<Window>,
}

impl DriftMonitor {
    /// A monitor of `size` accounts against `baseline`; `None` when a histogram has more bins
    /// than the window can index.
    pub fn new(baseline: Baseline, size: usize) -> Option<DriftMonitor> {
        let histograms = || {
            baseline
                .features
                .iter()
                .map(|f| &f.histogram)
                .chain([&baseline.score])
        };
        if histograms().any(|h| h.len() > usize::from(u16::MAX)) {
            return None;
        }
        let counts = histograms().map(|h| vec![0; h.len()]).collect();
        let width = baseline.features.len() + 1;
        Some(DriftMonitor {
            window: Mutex::new(Window {
                bins: vec![0; size.max(1) * width],
                next: 0,
                filled: 0,
                counts,
            }),
            size: size.max(1),
            baseline,
        })
    }

    /// Adds accounts: `inputs` holds `probabilities.len()` rows of the model's inputs,
    /// row-major. The oldest accounts leave once the window is full.
    pub fn record(&self, inputs: &[f64], probabilities: &[f64]) {
        let p = self.baseline.features.len();
        if inputs.len() != p * probabilities.len() {
            return;
        }
        let width = p + 1;
        // Binning is the work; it happens before taking the lock, so that concurrent batches
        // (two streams) wait only for the window's bookkeeping.
        let mut rows = Vec::with_capacity(probabilities.len() * width);
        for (row, &probability) in inputs.chunks_exact(p.max(1)).zip(probabilities) {
            let histograms = self.baseline.features.iter().map(|f| &f.histogram);
            rows.extend(histograms.zip(row).map(|(h, &x)| h.bin(x) as u16));
            rows.push(self.baseline.score.bin(probability) as u16);
        }
        let mut w = self.lock();
        let Window {
            bins,
            next,
            filled,
            counts,
        } = &mut *w;
        for row in rows.chunks_exact(width) {
            let slot = &mut bins[*next * width..(*next + 1) * width];
            if *filled == self.size {
                for (j, &b) in slot.iter().enumerate() {
                    counts[j][usize::from(b)] -= 1;
                }
            } else {
                *filled += 1;
            }
            for (j, &b) in row.iter().enumerate() {
                counts[j][usize::from(b)] += 1;
            }
            slot.copy_from_slice(row);
            *next = (*next + 1) % self.size;
        }
    }

    /// PSI of every input and of the score over the window now.
    pub fn report(&self) -> DriftReport {
        let w = self.lock();
        let total = w.filled.max(1) as f64;
        let drift = |name: &str, expected: &[f64], counts: &[u64]| {
            let actual: Vec<f64> = counts.iter().map(|&c| c as f64 / total).collect();
            let value = if w.filled == 0 {
                0.0
            } else {
                psi(expected, &actual)
            };
            Drift {
                name: name.to_owned(),
                psi: value,
                status: DriftStatus::of(value),
            }
        };
        let p = self.baseline.features.len();
        DriftReport {
            window_accounts: w.filled,
            window_size: self.size,
            baseline_rows: self.baseline.rows,
            score: drift("score", &self.baseline.score.shares, &w.counts[p]),
            features: self
                .baseline
                .features
                .iter()
                .zip(&w.counts)
                .map(|(f, c)| drift(&f.name, &f.histogram.shares, c))
                .collect(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Window> {
        // Counts are updated account by account; a panic between two of them is impossible
        // (no code that can panic runs under the lock), so a poisoned lock is still consistent.
        self.window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two inputs: a uniform 0..100 and a constant-ish 0/1, and a score in (0, 1).
    fn rows(n: usize, shift: f64) -> (Vec<f64>, Vec<f64>) {
        let mut inputs = Vec::with_capacity(2 * n);
        let mut scores = Vec::with_capacity(n);
        for i in 0..n {
            inputs.push(((i * 37) % 100) as f64 + shift);
            inputs.push((i % 2) as f64);
            scores.push((((i * 53) % 97) as f64 + 1.0) / 99.0);
        }
        (inputs, scores)
    }

    fn monitor(size: usize) -> DriftMonitor {
        let (inputs, scores) = rows(5_000, 0.0);
        let baseline = Baseline::fit(&["x".into(), "flag".into()], &inputs, &scores);
        DriftMonitor::new(baseline, size).expect("small histograms")
    }

    #[test]
    fn the_training_population_is_stable_and_a_shift_is_flagged() {
        let m = monitor(2_000);
        let empty = m.report();
        assert_eq!((empty.window_accounts, empty.score.psi), (0, 0.0));

        let (inputs, scores) = rows(2_000, 0.0);
        m.record(&inputs, &scores);
        let r = m.report();
        assert_eq!(r.window_accounts, 2_000);
        assert!(
            r.features.iter().all(|f| f.status == DriftStatus::Stable),
            "{r:?}"
        );
        assert_eq!(r.score.status, DriftStatus::Stable);

        // The window slides: 2,000 shifted accounts push out every training-like one.
        let (shifted, scores) = rows(2_000, 40.0);
        m.record(&shifted, &scores);
        let r = m.report();
        assert_eq!(r.window_accounts, 2_000);
        assert_eq!(r.features[0].status, DriftStatus::Act, "{r:?}");
        assert_eq!(r.features[1].status, DriftStatus::Stable, "{r:?}");
        // Exactly the PSI of the shifted rows alone.
        let (x, _) = rows(2_000, 40.0);
        let column: Vec<f64> = x.iter().step_by(2).copied().collect();
        let h = &m.baseline.features[0].histogram;
        assert!((r.features[0].psi - psi(&h.shares, &h.shares_of(&column))).abs() < 1e-12);
    }

    #[test]
    fn mismatched_rows_are_ignored() {
        let m = monitor(10);
        m.record(&[1.0, 2.0, 3.0], &[0.5]);
        assert_eq!(m.report().window_accounts, 0);
    }

    #[test]
    fn statuses_follow_the_documented_thresholds() {
        assert_eq!(DriftStatus::of(0.099), DriftStatus::Stable);
        assert_eq!(DriftStatus::of(0.1), DriftStatus::Watch);
        assert_eq!(DriftStatus::of(0.2499), DriftStatus::Watch);
        assert_eq!(DriftStatus::of(0.25), DriftStatus::Act);
    }
}
