//! Live drift: the population stability index (PSI) of every model input and of the score over
//! the last accounts the champion scored (the server's `drift_window`, by default
//! [`DEFAULT_DRIFT_WINDOW`]), against the training baseline stored
//! in the artifact ([`crate::stability::Baseline`]).
//!
//! Rules, in order:
//! 1. Until the window holds `min_accounts` accounts ([`DriftSettings`], default
//!    [`DEFAULT_MIN_DRIFT_ACCOUNTS`]), no PSI is reported: the status is `insufficient` and the
//!    metrics carry no `payrisk_drift_psi` value. PSI over a handful of accounts is noise: one
//!    account puts all of a feature's mass in one bin, which reads as PSI 8–10 against any
//!    training distribution. (A window smaller than `min_accounts` reports once it is full.)
//! 2. Otherwise PSI = Σ (a − e) · ln(a / e) over the baseline's bins, with `e` the training share
//!    and `a` the window's share of a bin. Empty bins are smoothed: both shares are floored at
//!    [`crate::stability::PSI_FLOOR`] before the sum, so an empty bin adds a large but finite
//!    term instead of an infinite one.
//! 3. Thresholds ([`crate::stability`]): PSI below 0.1 is stable, 0.1 to 0.25 worth watching,
//!    0.25 and above a shift to act on (investigate, retrain).
//!
//! The window keeps each account's bin per input (not its values), so adding an account and
//! evicting the oldest are a few counter updates, and a report is a PSI over bin counts.

use std::sync::{Mutex, MutexGuard};

use crate::stability::{psi, Baseline, PSI_ACT, PSI_WATCH};

/// Accounts in the sliding window unless the server is told otherwise.
pub const DEFAULT_DRIFT_WINDOW: usize = 10_000;
/// Accounts the window must hold before PSI is reported, unless the server is told otherwise.
pub const DEFAULT_MIN_DRIFT_ACCOUNTS: usize = 1_000;

/// How drift is watched: the window's size and the accounts it needs before it reports PSI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftSettings {
    /// Most accounts in the sliding window (0: no drift monitoring).
    pub window: usize,
    /// Accounts the window must hold before PSI is reported (see the module docs).
    pub min_accounts: usize,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            window: DEFAULT_DRIFT_WINDOW,
            min_accounts: DEFAULT_MIN_DRIFT_ACCOUNTS,
        }
    }
}

impl DriftSettings {
    /// No drift monitoring.
    pub const OFF: DriftSettings = DriftSettings {
        window: 0,
        min_accounts: DEFAULT_MIN_DRIFT_ACCOUNTS,
    };
}

/// How far a distribution moved from training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftStatus {
    /// PSI below 0.1.
    Stable,
    /// PSI from 0.1 to 0.25.
    Watch,
    /// PSI of 0.25 or more.
    Act,
    /// Too few accounts in the window for PSI to mean anything; no PSI is reported.
    Insufficient,
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

    /// `stable`, `watch`, `act` or `insufficient`.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftStatus::Stable => "stable",
            DriftStatus::Watch => "watch",
            DriftStatus::Act => "act",
            DriftStatus::Insufficient => "insufficient",
        }
    }
}

/// One distribution's drift.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// Input name, or `score`.
    pub name: String,
    /// PSI against the training baseline; `None` while the window holds too few accounts.
    pub psi: Option<f64>,
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
    /// Accounts the window must hold before PSI is reported.
    pub min_accounts: usize,
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
    min_accounts: usize,
    window: Mutex<Window>,
}

impl DriftMonitor {
    /// A monitor of `settings.window` accounts against `baseline`; `None` when drift is off
    /// (a window of 0) or a histogram has more bins than the window can index.
    pub fn new(baseline: Baseline, settings: DriftSettings) -> Option<DriftMonitor> {
        let size = settings.window;
        if size == 0 {
            return None;
        }
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
            min_accounts: settings.min_accounts.min(size.max(1)),
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

    /// PSI of every input and of the score over the window now (none while the window holds
    /// fewer than `min_accounts` accounts).
    pub fn report(&self) -> DriftReport {
        let w = self.lock();
        let enough = w.filled >= self.min_accounts.max(1);
        let total = w.filled.max(1) as f64;
        let drift = |name: &str, expected: &[f64], counts: &[u64]| {
            let value = enough.then(|| {
                let actual: Vec<f64> = counts.iter().map(|&c| c as f64 / total).collect();
                psi(expected, &actual)
            });
            Drift {
                name: name.to_owned(),
                psi: value,
                status: value.map_or(DriftStatus::Insufficient, DriftStatus::of),
            }
        };
        let p = self.baseline.features.len();
        DriftReport {
            window_accounts: w.filled,
            window_size: self.size,
            min_accounts: self.min_accounts,
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
        monitor_with(size, DEFAULT_MIN_DRIFT_ACCOUNTS)
    }

    fn monitor_with(window: usize, min_accounts: usize) -> DriftMonitor {
        let (inputs, scores) = rows(5_000, 0.0);
        let baseline = Baseline::fit(&["x".into(), "flag".into()], &inputs, &scores);
        let settings = DriftSettings {
            window,
            min_accounts,
        };
        DriftMonitor::new(baseline, settings).expect("small histograms")
    }

    #[test]
    fn the_training_population_is_stable_and_a_shift_is_flagged() {
        let m = monitor(2_000);
        let empty = m.report();
        assert_eq!((empty.window_accounts, empty.score.psi), (0, None));
        assert_eq!(empty.score.status, DriftStatus::Insufficient);

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
        let reported = r.features[0].psi.expect("enough accounts");
        assert!((reported - psi(&h.shares, &h.shares_of(&column))).abs() < 1e-12);
    }

    /// One account, or any number short of the minimum, reports no PSI; the minimum reports.
    #[test]
    fn too_few_accounts_report_no_psi() {
        let m = monitor_with(2_000, 1_000);
        let (one, score) = rows(1, 40.0);
        m.record(&one, &score);
        let r = m.report();
        assert_eq!(r.window_accounts, 1);
        assert!(
            r.features
                .iter()
                .chain([&r.score])
                .all(|d| d.psi.is_none() && d.status == DriftStatus::Insufficient),
            "{r:?}"
        );
        let (more, scores) = rows(998, 0.0);
        m.record(&more, &scores);
        assert_eq!(m.report().score.status, DriftStatus::Insufficient);
        let (last, score) = rows(1, 0.0);
        m.record(&last, &score);
        let r = m.report();
        assert_eq!((r.window_accounts, r.min_accounts), (1_000, 1_000));
        assert!(r.score.psi.is_some(), "{r:?}");
        // A window smaller than the minimum reports once it is full.
        let small = monitor_with(50, 1_000);
        let (rows50, scores) = rows(50, 0.0);
        small.record(&rows50, &scores);
        assert_eq!(small.report().min_accounts, 50);
        assert!(small.report().score.psi.is_some());
        assert!(DriftMonitor::new(monitor(1).baseline.clone(), DriftSettings::OFF).is_none());
    }

    #[test]
    fn mismatched_rows_are_ignored() {
        let m = monitor_with(10, 1);
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
