//! payrisk's histogram gradient-boosting trainer, cargo feature `boost` (enabled by `train`; it
//! needs neither Polars nor rayon, so its benchmark builds without them). Binary log-loss for the
//! repayment models; squared error ([`Objective::Squared`]) for the treatment-effect learners'
//! regressions on pseudo-outcomes.
//!
//! - [`binning`]: quantile bins per feature, with a bin for missing values.
//! - `grow`: one tree from gradient statistics: histograms with subtraction, learned missing
//!   direction, leaf-wise growth, monotone constraints.
//!
//! - `team`: how the workers of one fit share a round: spinning barriers, per-row cells, passes
//!   over the rows in claimed chunks.
//!
//! The boosting loop here draws the row and column samples (seeded, deterministic), holds out an
//! early-stopping set carved from the training rows (never the test rows), and keeps the trees up
//! to the best validation log loss. Its workers live for the whole fit: histograms are built in
//! parallel over features, each feature's sums in a fixed order, and every row's margin and
//! gradient has one writer and one formula, so the model is the same for any thread count.

pub mod binning;
mod grow;
mod team;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::features::FeatureSpec;
use crate::model::gbdt::Tree;
use binning::Bins;
use binning::{BinnedMatrix, RowBinned};
use grow::{predict_binned, Exchange, GrowNode, Grower, TreeData, PARALLEL_MIN_CELLS};
use team::{Barrier, Cells, Chunks};

/// A gradient-boosting configuration or run that cannot proceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gbdt: {0}")]
pub struct BoostError(pub String);

/// Gradient-boosting settings (the `[gbdt]` table of a training config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbdtConfig {
    /// Most boosting rounds.
    pub trees: usize,
    /// Shrinkage applied to every leaf value.
    pub learning_rate: f64,
    /// Most leaves per tree.
    pub max_leaves: usize,
    /// Deepest leaf (root = 0).
    pub max_depth: usize,
    /// L2 penalty on leaf values.
    pub l2: f64,
    /// Fewest training rows in a leaf.
    pub min_child_samples: u32,
    /// Smallest hessian sum in a leaf.
    pub min_child_hessian: f64,
    /// Smallest gain worth a split.
    pub min_split_gain: f64,
    /// Share of rows drawn for each tree (without replacement).
    pub row_subsample: f64,
    /// Share of features drawn for each tree.
    pub col_subsample: f64,
    /// Most bins per feature, the missing bin included (at most 255).
    pub max_bins: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Stop after this many rounds without a better validation log loss (0: never stop early).
    pub early_stopping_rounds: usize,
    /// Share of the training rows held out for early stopping.
    pub validation_fraction: f64,
    /// Worker threads (0: all cores).
    pub threads: usize,
    /// Monotone constraints by feature name: 1 = the repayment probability never falls as the
    /// feature rises, -1 = never rises.
    pub monotone: BTreeMap<String, i8>,
}

impl Default for GbdtConfig {
    fn default() -> Self {
        GbdtConfig {
            trees: 2000,
            learning_rate: 0.03,
            max_leaves: 15,
            max_depth: 6,
            l2: 1.0,
            min_child_samples: 20,
            min_child_hessian: 1e-3,
            min_split_gain: 0.0,
            row_subsample: 0.8,
            col_subsample: 0.8,
            max_bins: 255,
            seed: 42,
            early_stopping_rounds: 100,
            validation_fraction: 0.1,
            threads: 0,
            monotone: BTreeMap::new(),
        }
    }
}

impl GbdtConfig {
    /// Checks the settings against the model's features.
    pub fn validate(&self, spec: &FeatureSpec) -> Result<Vec<i8>, BoostError> {
        let bad = |m: &str| Err(BoostError(m.to_owned()));
        if self.trees == 0 || self.max_leaves < 2 || self.max_depth == 0 {
            return bad("trees >= 1, max_leaves >= 2 and max_depth >= 1 are required");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad("learning_rate must be in (0, 1]");
        }
        let share = |x: f64| x > 0.0 && x <= 1.0;
        if !(share(self.row_subsample) && share(self.col_subsample)) {
            return bad("row_subsample and col_subsample must be in (0, 1]");
        }
        if !(self.validation_fraction >= 0.0 && self.validation_fraction < 0.5) {
            return bad("validation_fraction must be in [0, 0.5)");
        }
        if !(self.l2 >= 0.0 && self.min_child_hessian >= 0.0 && self.min_split_gain >= 0.0) {
            return bad("l2, min_child_hessian and min_split_gain must be >= 0");
        }
        if self.early_stopping_rounds > 0 && self.validation_fraction == 0.0 {
            return bad("early stopping needs validation_fraction > 0");
        }
        let names = spec.names();
        let mut monotone = vec![0i8; names.len()];
        for (name, &c) in &self.monotone {
            let Some(j) = names.iter().position(|n| n == name) else {
                return Err(BoostError(format!(
                    "monotone: `{name}` is not a feature of this model"
                )));
            };
            if !(-1..=1).contains(&c) {
                return bad("monotone constraints are -1, 0 or 1");
            }
            monotone[j] = c;
        }
        Ok(monotone)
    }
}

/// What the trees minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Binary log-loss on 0/1 targets; the trees' sum is a log-odds.
    LogLoss,
    /// Squared error on real targets; the trees' sum is the predicted value.
    Squared,
}

/// A fitted ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct Boosted {
    /// Initial log-odds (of the training rows' repayment rate), or the mean target under
    /// [`Objective::Squared`].
    pub base_score: f64,
    /// Trees up to the best iteration, learning rate applied.
    pub trees: Vec<Tree>,
    /// Rounds kept.
    pub best_iteration: usize,
    /// Rounds run.
    pub rounds: usize,
    /// Validation loss (the objective's) after each round (empty without early stopping).
    pub validation_loss: Vec<f64>,
    /// Monotone constraint per feature.
    pub monotone: Vec<i8>,
}

/// SplitMix64: a small, seeded, portable generator (the boosting samples and the synthetic
/// portfolio): the same seed gives the same numbers on every platform and version.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller; one draw per call).
    #[cfg_attr(not(feature = "train"), allow(dead_code))]
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `k` distinct indices of `0..n`, ascending (partial Fisher-Yates).
    fn choose(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = i + (self.next() % (n - i) as u64) as usize;
            all.swap(i, j);
        }
        let mut chosen = all[..k.min(n)].to_vec();
        chosen.sort_unstable();
        chosen
    }
}

fn sigmoid(z: f64) -> f64 {
    crate::model::logistic::sigmoid(z)
}

/// The objective's gradient and hessian at margin `m` for target `y`.
#[inline]
fn gradient(objective: Objective, m: f64, y: f64) -> (f64, f64) {
    match objective {
        Objective::LogLoss => {
            let prob = sigmoid(m);
            (prob - y, (prob * (1.0 - prob)).max(1e-16))
        }
        Objective::Squared => (m - y, 1.0),
    }
}

/// The objective's mean loss (early stopping's measure).
fn loss(objective: Objective, margins: &[f64], labels: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (&f, &y) in margins.iter().zip(labels) {
        sum += match objective {
            // log(1 + e^f) - y f, computed stably.
            Objective::LogLoss => {
                let softplus = if f > 0.0 {
                    f + (-f).exp().ln_1p()
                } else {
                    f.exp().ln_1p()
                };
                softplus - y * f
            }
            Objective::Squared => (f - y) * (f - y),
        };
    }
    sum / margins.len().max(1) as f64
}

/// Fits gradient-boosted trees on `rows` of the row-major matrix `values` (`p` columns).
pub fn boost(
    values: &[f64],
    p: usize,
    labels: &[bool],
    rows: &[usize],
    spec: &FeatureSpec,
    config: &GbdtConfig,
) -> Result<Boosted, BoostError> {
    boost_observed(values, p, labels, rows, spec, config, &|_| {})
}

/// As [`boost`], calling `on_round` with the number of rounds run after each one (for progress
/// displays; it does not affect the model).
pub fn boost_observed(
    values: &[f64],
    p: usize,
    labels: &[bool],
    rows: &[usize],
    spec: &FeatureSpec,
    config: &GbdtConfig,
    on_round: &(dyn Fn(usize) + Sync),
) -> Result<Boosted, BoostError> {
    let targets: Vec<f64> = labels.iter().map(|&l| f64::from(u8::from(l))).collect();
    let fit = Fit {
        objective: Objective::LogLoss,
        values,
        p,
        targets: &targets,
        rows,
    };
    boost_fit(&fit, spec, config, on_round)
}

/// Fits trees minimising squared error to real `targets` on `rows` of the row-major matrix
/// `values` (`p` columns): the regressions of the treatment-effect learners. Monotone
/// constraints of `config` apply to the predicted value.
pub fn boost_squared(
    values: &[f64],
    p: usize,
    targets: &[f64],
    rows: &[usize],
    spec: &FeatureSpec,
    config: &GbdtConfig,
) -> Result<Boosted, BoostError> {
    if let Some(&i) = rows.iter().find(|&&i| !targets[i].is_finite()) {
        return Err(BoostError(format!("target of row {i} is not finite")));
    }
    let fit = Fit {
        objective: Objective::Squared,
        values,
        p,
        targets,
        rows,
    };
    boost_fit(&fit, spec, config, &|_| {})
}

/// One fit's data: what [`boost_fit`] reads.
struct Fit<'a> {
    objective: Objective,
    values: &'a [f64],
    p: usize,
    targets: &'a [f64],
    rows: &'a [usize],
}

fn boost_fit(
    fit: &Fit<'_>,
    spec: &FeatureSpec,
    config: &GbdtConfig,
    on_round: &(dyn Fn(usize) + Sync),
) -> Result<Boosted, BoostError> {
    let monotone = config.validate(spec)?;
    let Fit {
        objective,
        values,
        p,
        targets,
        rows,
    } = *fit;
    let mut rng = Rng::new(config.seed);
    // Early-stopping rows: a seeded draw from the training rows.
    let (mut fit_rows, mut valid_rows) = (Vec::new(), Vec::new());
    for &i in rows {
        if config.early_stopping_rounds > 0 && rng.uniform() < config.validation_fraction {
            valid_rows.push(i);
        } else {
            fit_rows.push(i);
        }
    }
    if fit_rows.is_empty() {
        return Err(BoostError("no rows to fit".into()));
    }
    let bins = Bins::fit(values, p, &fit_rows, config.max_bins);
    let binned = bins.apply(values, p, &fit_rows);
    let valid_binned = bins.apply(values, p, &valid_rows);
    let y: Vec<f64> = fit_rows.iter().map(|&i| targets[i]).collect();
    let y_valid: Vec<f64> = valid_rows.iter().map(|&i| targets[i]).collect();

    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let base_score = match objective {
        Objective::LogLoss if mean > 0.0 && mean < 1.0 => (mean / (1.0 - mean)).ln(),
        Objective::LogLoss => 0.0,
        Objective::Squared => mean,
    };
    // Features with a single value bin can never split: column sampling draws from the others
    // (as LightGBM does), so every tree gets its full share of useful features.
    let usable: Vec<usize> = (0..p).filter(|&j| bins.n_bins(j) >= 3).collect();
    let n_cols = ((usable.len() as f64 * config.col_subsample).ceil() as usize)
        .clamp(usable.len().min(1), usable.len());
    let sampled = (fit_rows.len() as f64 * config.row_subsample.clamp(0.0, 1.0)) as usize;
    let threads = if sampled * n_cols < PARALLEL_MIN_CELLS {
        1
    } else {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = if config.threads == 0 {
            cores
        } else {
            config.threads
        };
        threads.clamp(1, n_cols.max(1))
    };
    let row_binned = binned.row_major(&usable);
    let barrier = Barrier::new(threads);
    let shared = Shared {
        objective,
        config,
        binned: &binned,
        row_binned: &row_binned,
        bins: &bins,
        monotone: &monotone,
        y: &y,
        margin: Cells::new(fit_rows.len(), base_score),
        grad: Cells::new(fit_rows.len(), 0.0),
        hess: Cells::new(fit_rows.len(), 0.0),
        drawn: [RwLock::default(), RwLock::default()],
        chunks: Chunks::new(fit_rows.len()),
        exchange: Exchange::new(&barrier),
        barrier,
        stop: AtomicBool::new(false),
    };
    let mut lead = Lead {
        rng,
        usable: &usable,
        n_cols,
        valid_binned: &valid_binned,
        y_valid: &y_valid,
        valid_margin: vec![base_score; valid_rows.len()],
        trees: Vec::new(),
        validation_loss: Vec::new(),
        best_loss: f64::INFINITY,
        best_iteration: 0,
        on_round,
    };
    std::thread::scope(|scope| {
        for id in 1..threads {
            let (shared, bins, usable) = (&shared, &bins, &usable);
            scope.spawn(move || shared.work(&mut Grower::new(bins, usable, id), None));
        }
        shared.work(&mut Grower::new(&bins, &usable, 0), Some(&mut lead));
    });
    let Lead {
        mut trees,
        validation_loss,
        best_iteration,
        ..
    } = lead;
    let rounds = trees.len();
    trees.truncate(best_iteration.max(1));
    Ok(Boosted {
        base_score,
        trees: trees.iter().map(|t| to_tree(t)).collect(),
        best_iteration: best_iteration.max(1),
        rounds,
        validation_loss,
        monotone,
    })
}

/// A round's draw: the rows its tree grows on and the features it may split on.
#[derive(Default)]
struct Drawn {
    /// Sampled rows, ascending.
    sample: Vec<u32>,
    /// Per row: sampled (else out of bag).
    in_bag: Vec<bool>,
    /// Sampled features, ascending.
    features: Vec<usize>,
}

/// What every worker of a fit reads, and the per-row state they write (see [`team`]).
struct Shared<'a> {
    objective: Objective,
    config: &'a GbdtConfig,
    binned: &'a BinnedMatrix,
    row_binned: &'a RowBinned,
    bins: &'a Bins,
    monotone: &'a [i8],
    y: &'a [f64],
    margin: Cells,
    grad: Cells,
    hess: Cells,
    /// Draws of the rounds, by round parity: the lead draws the next round's while the others
    /// read this one's.
    drawn: [RwLock<Drawn>; 2],
    chunks: Chunks,
    barrier: Barrier,
    exchange: Exchange,
    /// Set by the lead when early stopping ends the fit.
    stop: AtomicBool,
}

/// What only the first worker keeps: the random draws, the validation margins, the trees.
struct Lead<'a> {
    rng: Rng,
    usable: &'a [usize],
    n_cols: usize,
    valid_binned: &'a BinnedMatrix,
    y_valid: &'a [f64],
    valid_margin: Vec<f64>,
    trees: Vec<Vec<GrowNode>>,
    validation_loss: Vec<f64>,
    best_loss: f64,
    best_iteration: usize,
    on_round: &'a (dyn Fn(usize) + Sync),
}

impl Lead<'_> {
    /// Draws a round's rows (of `n`) and features: the same sequence of draws for any thread
    /// count.
    fn draw(&mut self, config: &GbdtConfig, n: usize, into: &RwLock<Drawn>) {
        let mut drawn = into.write().unwrap_or_else(PoisonError::into_inner);
        let Drawn {
            sample,
            in_bag,
            features,
        } = &mut *drawn;
        // Branch-free: every row is written to the sample, whose cursor advances if it is kept.
        sample.resize(n, 0);
        in_bag.resize(n, false);
        let mut kept = 0;
        for (r, bagged) in in_bag.iter_mut().enumerate() {
            let keep = config.row_subsample >= 1.0 || self.rng.uniform() < config.row_subsample;
            sample[kept] = r as u32;
            *bagged = keep;
            kept += usize::from(keep);
        }
        sample.truncate(kept);
        features.clear();
        let usable = self.usable;
        features.extend(
            self.rng
                .choose(usable.len(), self.n_cols)
                .into_iter()
                .map(|k| usable[k]),
        );
    }

    /// Adds a round's tree to the validation margins, keeps it, and says whether early
    /// stopping ends the fit here.
    fn keep(&mut self, config: &GbdtConfig, objective: Objective, nodes: Vec<GrowNode>) -> bool {
        for (r, m) in self.valid_margin.iter_mut().enumerate() {
            *m += predict_binned(&nodes, self.valid_binned, r);
        }
        self.trees.push(nodes);
        let round = self.trees.len();
        (self.on_round)(round);
        if config.early_stopping_rounds == 0 {
            self.best_iteration = round;
            return false;
        }
        let valid_loss = loss(objective, &self.valid_margin, self.y_valid);
        self.validation_loss.push(valid_loss);
        if valid_loss < self.best_loss {
            self.best_loss = valid_loss;
            self.best_iteration = round;
        }
        round - self.best_iteration >= config.early_stopping_rounds
    }
}

impl Shared<'_> {
    /// One worker's fit, in step with the others: the lead (worker 0) also draws the samples
    /// and keeps the trees.
    fn work(&self, grower: &mut Grower, mut lead: Option<&mut Lead<'_>>) {
        let _guard = self.barrier.guard();
        let config = self.config;
        let n = self.y.len();
        // Pass 0: the gradients at the base score, while the lead draws the first round.
        if let Some(lead) = lead.as_deref_mut() {
            lead.draw(config, n, &self.drawn[0]);
        }
        self.pass(0, None);
        self.barrier.wait();
        for round in 0..config.trees {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            if lead.is_some() {
                // Pass round + 2 counts as pass round did, which every worker has left.
                self.chunks.reset(round + 2);
            }
            let drawn = self.drawn[round % 2]
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let data = TreeData {
                binned: self.binned,
                rows: self.row_binned,
                bins: self.bins,
                grad: &self.grad,
                hess: &self.hess,
                features: &drawn.features,
                monotone: self.monotone,
                params: config,
            };
            let mut nodes = grower.grow(&data, &drawn.sample, &self.barrier, &self.exchange);
            for node in &mut nodes {
                node.value *= config.learning_rate;
            }
            // The sampled rows' leaves are known from the partition: each worker adds its share.
            let (workers, id) = (self.barrier.workers(), grower.id());
            for (_, (node, rows)) in grower
                .leaves()
                .enumerate()
                .filter(|(k, _)| k % workers == id)
            {
                let value = nodes[node].value;
                for &r in rows {
                    self.margin.add(r as usize, value);
                }
            }
            self.barrier.wait();
            if let Some(lead) = lead.as_deref_mut() {
                if round + 1 < config.trees {
                    lead.draw(config, n, &self.drawn[(round + 1) % 2]);
                }
                if lead.keep(config, self.objective, nodes.clone()) {
                    self.stop.store(true, Ordering::Relaxed);
                }
            }
            self.pass(round + 1, Some((&nodes, &drawn.in_bag)));
            drop(drawn);
            self.barrier.wait();
        }
    }

    /// Pass `pass` over the rows, in chunks claimed by whichever worker is free: the out-of-bag
    /// rows' values of `tree` (if any) added to their margins, then every row's gradient and
    /// hessian.
    fn pass(&self, pass: usize, tree: Option<(&[GrowNode], &[bool])>) {
        while let Some(rows) = self.chunks.claim(pass) {
            if let Some((nodes, in_bag)) = tree {
                for r in rows.clone().filter(|&r| !in_bag[r]) {
                    self.margin.add(r, predict_binned(nodes, self.binned, r));
                }
            }
            for r in rows {
                let (g, h) = gradient(self.objective, self.margin.get(r), self.y[r]);
                self.grad.set(r, g);
                self.hess.set(r, h);
            }
        }
    }
}

fn to_tree(nodes: &[GrowNode]) -> Tree {
    Tree {
        split_feature: nodes.iter().map(|n| n.feature).collect(),
        threshold: nodes.iter().map(|n| n.threshold).collect(),
        left: nodes.iter().map(|n| n.left).collect(),
        right: nodes.iter().map(|n| n.right).collect(),
        default_left: nodes.iter().map(|n| n.default_left).collect(),
        value: nodes.iter().map(|n| n.value).collect(),
        cover: nodes.iter().map(|n| n.cover).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn progress_is_reported_every_round_and_does_not_change_the_model() {
        let spec = FeatureSpec::with_attributes(&[] as &[String]).expect("spec");
        let p = spec.len();
        let n = 400;
        let mut state = 9u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let values: Vec<f64> = (0..n * p).map(|_| (next() * 20.0).floor()).collect();
        let labels: Vec<bool> = (0..n)
            .map(|r| values[r * p] + 5.0 * next() > 12.0)
            .collect();
        let rows: Vec<usize> = (0..n).collect();
        let config = GbdtConfig {
            trees: 7,
            early_stopping_rounds: 0,
            validation_fraction: 0.0,
            min_child_samples: 5,
            threads: 1,
            ..GbdtConfig::default()
        };
        let seen = Mutex::new(Vec::new());
        let observed = boost_observed(&values, p, &labels, &rows, &spec, &config, &|r| {
            seen.lock().expect("lock").push(r)
        })
        .expect("boost");
        assert_eq!(*seen.lock().expect("lock"), (1..=7).collect::<Vec<_>>());
        let plain = boost(&values, p, &labels, &rows, &spec, &config).expect("boost");
        assert_eq!(observed, plain);
        assert_eq!(plain.trees.len(), 7);
    }

    /// The workers of a fit (here 1, 2 and 3, more than the cores CI has) give the same model
    /// to the bit, early stopping included: every draw, margin and gradient has one writer.
    #[test]
    fn the_fit_does_not_depend_on_the_thread_count_early_stopping_included() {
        let spec = FeatureSpec::with_attributes(&[] as &[String]).expect("spec");
        let p = spec.len();
        let n = 12_000;
        let mut rng = Rng::new(11);
        let values: Vec<f64> = (0..n * p)
            .map(|i| match i % p {
                3 if rng.uniform() < 0.3 => f64::NAN,
                _ => (rng.uniform() * 40.0).floor(),
            })
            .collect();
        let labels: Vec<bool> = (0..n)
            .map(|r| values[r * p] + values[r * p + 1] / 2.0 + 30.0 * rng.uniform() > 45.0)
            .collect();
        let rows: Vec<usize> = (0..n).collect();
        let config = |threads| GbdtConfig {
            trees: 300,
            learning_rate: 0.3,
            early_stopping_rounds: 5,
            validation_fraction: 0.2,
            threads,
            ..GbdtConfig::default()
        };
        let one = boost(&values, p, &labels, &rows, &spec, &config(1)).expect("boost");
        assert!(
            one.rounds < 300,
            "early stopping ends the fit: {} rounds",
            one.rounds
        );
        assert!(one.best_iteration < one.rounds);
        for threads in [2, 3] {
            let many = boost(&values, p, &labels, &rows, &spec, &config(threads)).expect("boost");
            assert_eq!(one, many, "{threads} threads");
        }
    }

    /// Squared error fits a real target: the mean as base score, and predictions that follow
    /// a step function of one input to within its noise.
    #[test]
    fn squared_error_fits_a_real_target() {
        let spec = FeatureSpec::with_attributes(&[] as &[String]).expect("spec");
        let p = spec.len();
        let n = 2_000;
        let mut rng = Rng::new(5);
        let values: Vec<f64> = (0..n * p).map(|_| (rng.uniform() * 10.0).floor()).collect();
        let truth = |r: usize| if values[r * p] >= 5.0 { 2.0 } else { -1.0 };
        let targets: Vec<f64> = (0..n).map(|r| truth(r) + 0.1 * rng.normal()).collect();
        let rows: Vec<usize> = (0..n).collect();
        let config = GbdtConfig {
            trees: 200,
            learning_rate: 0.1,
            threads: 1,
            ..GbdtConfig::default()
        };
        let fit = boost_squared(&values, p, &targets, &rows, &spec, &config).expect("boost");
        let mean = targets.iter().sum::<f64>() / n as f64;
        assert!((fit.base_score - mean).abs() < 0.2, "{}", fit.base_score);
        let model = crate::model::gbdt::GbdtModel::new(fit.base_score, &fit.trees);
        let errors: Vec<f64> = (0..n)
            .map(|r| (model.margin(&values[r * p..(r + 1) * p]) - truth(r)).abs())
            .collect();
        let mean_error = errors.iter().sum::<f64>() / n as f64;
        assert!(mean_error < 0.06, "mean error {mean_error}");
        assert!(errors.iter().all(|&e| e < 0.4), "largest error over 0.4");
        let mut bad = targets.clone();
        bad[3] = f64::NAN;
        let err = boost_squared(&values, p, &bad, &rows, &spec, &config).expect_err("NaN target");
        assert!(err.0.contains("row 3"), "{err}");
    }
}
