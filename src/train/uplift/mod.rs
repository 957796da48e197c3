//! `payrisk-train fit --model uplift`: treatment-effect models from the decisions and outcomes
//! of a randomised control, so a policy can choose the treatment that changes the outcome.
//!
//! The rules, in order:
//! 1. **Outcomes.** Decisions are joined to their events over the window (the readout's join,
//!    [`readout::window_outcomes`]); only decisions whose window has closed count. The outcome
//!    is the readout's *repaid*: a payment and neither a roll forward nor a charge-off.
//! 2. **Randomised accounts.** The policy's experiment must hold out a control that assigns the
//!    policy's candidates at random (`[experiment.control] candidates = [...]`). Each account's
//!    first mature decision in that control is one row; its treatment is the candidate the
//!    experiment's hash assigned it (intent to treat: what was assigned, whatever a contact cap
//!    or a hold delivered). Its features come from the accounts tables through the one feature
//!    engine; an account the tables do not hold is counted and left out.
//! 3. **No confounded answers.** Without such a control the fit is refused. With
//!    `--allow-confounded` it goes on with the T-learner on every account's first mature
//!    decision, its treatment the candidate the recorded treatment and action match; the
//!    artifact, the report and the command's output say the effects are confounded.
//! 4. **Enough of each.** Every candidate needs a cost (>= 0) and at least `min_accounts`
//!    training accounts; else the fit is refused naming the rule.
//! 5. **Split.** `test_fraction` of the accounts, by a stable hash of the id, are held out.
//! 6. **T-learner.** One gradient-boosted outcome model per treatment on its training accounts.
//! 7. **DR-learner** (`learner = "dr"`): outcome models cross-fitted on two halves of the
//!    training accounts give each account doubly robust pseudo-outcomes (the control's
//!    assignment probabilities are known: equal parts); squared-error trees fitted to them are
//!    each treatment's effect model (see [`crate::model::uplift`]).
//! 8. **Evaluation** on the held-out accounts ([`evaluate`]): Qini curves and coefficients,
//!    AUUC and uplift by decile per treatment against the reference, for each learner; balance
//!    of the treatment groups per stage; with `--simulated-truth`, the value of each policy
//!    against the simulator's known effect.

pub mod evaluate;

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::config::UpliftConfig;
use super::events::Events;
use super::fit::{feature_stats, hash_file, placeholder_metrics, Design, FitConfig};
use super::readout::{self, account_key, Decided, Join};
use super::split::Split;
use super::tables::{Labeled, TrainingSet};
use super::TrainError;
use crate::boost::{boost, boost_squared, GbdtConfig};
use crate::domain::{Account, ProtectedList};
use crate::evaluation::evaluate as metrics_of;
use crate::features::FeatureSpec;
use crate::model::artifact::{Period, SplitMetrics, TrainingInfo, SCHEMA_VERSION};
use crate::model::uplift::{Ensemble, Learner, TreatmentModel};
use crate::model::{Artifact, Model, ModelParams};
use crate::policy::{Arm, Candidate, Policy};
use crate::stability::Baseline;

/// Seed of the hash that holds accounts out for evaluation.
const TEST_SEED: u64 = 0x71f7;
/// Seed of the hash that halves the training accounts for cross-fitting.
const FOLD_SEED: u64 = 0xc205_5f17;

/// What the fit was given.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The decisions.
    pub decided: &'a Decided,
    /// Their events.
    pub events: &'a Events,
    /// The accounts as decided (features).
    pub accounts: &'a [Account],
    /// The attributes of the accounts table, sorted.
    pub attributes: &'a [String],
    /// The policy whose experiment held out the randomised control.
    pub policy: &'a Policy,
    /// The protected list the accounts were read with (the artifact records it).
    pub protected: &'a ProtectedList,
    /// Fit on data without random assignment, saying so everywhere.
    pub allow_confounded: bool,
    /// The date outcomes are known to (default: the latest event's).
    pub as_of: Option<NaiveDate>,
}

/// One row per account: what it was assigned and what followed.
#[derive(Debug, Clone)]
pub struct Trial {
    /// The accounts with their outcome (repaid in the window).
    pub set: TrainingSet,
    /// Per row, its treatment (an index into `candidates`).
    pub treatment: Vec<usize>,
    /// The candidates, the reference first.
    pub candidates: Vec<Candidate>,
    /// Per row, the amount paid in the window.
    pub recovered: Vec<f64>,
    /// Per row, the balance at the decision (NaN when unknown).
    pub balance: Vec<f64>,
    /// Per row, the serving model's repayment probability at the decision.
    pub probability: Vec<f64>,
    /// Per row, its ladder stage at the decision.
    pub stage: Vec<String>,
    /// Per row, the decision's date.
    pub decided_on: Vec<NaiveDate>,
    /// True when the treatments were not assigned at random (rule 3).
    pub confounded: bool,
    /// How the rows were found.
    pub counts: TrialCounts,
}

/// How decisions became rows (rules 1-3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrialCounts {
    /// How decisions and events joined.
    pub join: Option<Join>,
    /// Mature decisions of randomised accounts (all mature decisions when confounded).
    pub eligible_decisions: u64,
    /// Of them, later decisions of an account already counted.
    pub repeat_decisions: u64,
    /// Accounts the accounts tables do not hold (left out).
    pub not_in_tables: u64,
    /// Decisions whose treatment matches no candidate (confounded fits only; left out).
    pub unmatched: u64,
    /// Rows.
    pub accounts: u64,
}

/// The warning every output of a confounded fit carries.
pub const CONFOUNDED: &str = "CONFOUNDED: the treatments were not assigned at random, so these \
     effects mix what the treatments did with whatever chose them; do not act on them";

/// Finds the trial's rows (rules 1-4).
pub fn trial(inputs: &Inputs<'_>, config: &UpliftConfig) -> Result<Trial, TrainError> {
    let Inputs {
        decided, policy, ..
    } = *inputs;
    let refuse = |m: String| Err(TrainError::Config(m));
    let experiment = policy.experiment.as_ref();
    let control = experiment.and_then(|e| e.control.as_ref());
    let randomised = control.is_some_and(|c| !c.candidates.is_empty());
    if !randomised && !inputs.allow_confounded {
        return refuse(
            "no randomised data: an uplift model learns from a control that assigns the \
             candidates at random (`[experiment.control] candidates = [...]` in the policy); \
             without one every estimate is confounded by what chose the treatments. Run such a \
             control first, or pass --allow-confounded to fit anyway with every output marked"
                .into(),
        );
    }
    if !randomised && config.learner == Learner::Dr {
        return refuse(
            "the DR-learner needs known assignment probabilities, which only a randomised \
             control gives: use learner = \"t\" with --allow-confounded"
                .into(),
        );
    }
    // The candidates, in the control's order (or the policy's), the reference first.
    let mut candidates: Vec<Candidate> = match control.filter(|_| randomised) {
        Some(c) => c
            .candidates
            .iter()
            .filter_map(|n| policy.candidates.iter().find(|k| &k.name == n).cloned())
            .collect(),
        None => policy.candidates.clone(),
    };
    if candidates.len() < 2 {
        return refuse(
            "the policy declares fewer than two [[candidates]]: an uplift model compares \
             treatments"
                .into(),
        );
    }
    if let Some(name) = &config.reference {
        let Some(k) = candidates.iter().position(|c| &c.name == name) else {
            return refuse(format!(
                "uplift.reference: `{name}` is not one of the candidates"
            ));
        };
        candidates[..=k].rotate_right(1);
    }
    for c in &candidates {
        match config.costs.get(&c.name) {
            None => {
                return refuse(format!(
                    "uplift.costs: no cost for the candidate `{}` (give every candidate's cost \
                     per decision, 0 or more)",
                    c.name
                ))
            }
            Some(&cost) if !(cost.is_finite() && cost >= 0.0) => {
                return refuse(format!(
                    "uplift.costs: the cost of `{}` must be a finite amount >= 0 (got {cost})",
                    c.name
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = config
        .costs
        .keys()
        .find(|k| !candidates.iter().any(|c| &c.name == *k))
    {
        return refuse(format!(
            "uplift.costs: `{extra}` is not one of the candidates"
        ));
    }
    let windowed =
        readout::window_outcomes(decided, inputs.events, config.window_days, inputs.as_of);
    let by_key: HashMap<u64, usize> = inputs
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (account_key(&a.account_id), i))
        .collect();
    let experiment_code = experiment.and_then(|e| {
        decided
            .experiments()
            .names
            .iter()
            .position(|n| n == &e.name)
    });
    let control_code = decided
        .arms()
        .names
        .iter()
        .position(|n| n == Arm::Control.as_str());
    // Decisions in date order, so each account's first mature one is its row.
    let mut order: Vec<usize> = (0..decided.len()).filter(|&i| windowed.mature[i]).collect();
    order.sort_by_key(|&i| (decided.date(i), i));
    let mut counts = TrialCounts {
        join: Some(windowed.join),
        ..TrialCounts::default()
    };
    let mut seen = std::collections::HashSet::new();
    let mut trial = Trial {
        set: TrainingSet {
            rows: Vec::new(),
            attributes: inputs.attributes.to_vec(),
            protected: inputs.protected.clone(),
        },
        treatment: Vec::new(),
        candidates,
        recovered: Vec::new(),
        balance: Vec::new(),
        probability: Vec::new(),
        stage: Vec::new(),
        decided_on: Vec::new(),
        confounded: !randomised,
        counts: TrialCounts::default(),
    };
    for i in order {
        if randomised {
            let in_experiment =
                experiment_code.is_some_and(|c| decided.experiments().codes[i] as usize == c);
            let in_control = control_code.is_some_and(|c| decided.arms().codes[i] as usize == c);
            if !(in_experiment && in_control) {
                continue;
            }
        }
        counts.eligible_decisions += 1;
        if !seen.insert(decided.account(i)) {
            counts.repeat_decisions += 1;
            continue;
        }
        let Some(&a) = by_key.get(&decided.account(i)) else {
            counts.not_in_tables += 1;
            continue;
        };
        let account = &inputs.accounts[a];
        let treatment = if randomised {
            experiment
                .and_then(|e| e.control_candidate(&account.account_id))
                .and_then(|k| control.map(|c| &c.candidates[k]))
                .and_then(|name| trial.candidates.iter().position(|c| &c.name == name))
        } else {
            recorded_candidate(decided, i, &trial.candidates)
        };
        let Some(treatment) = treatment else {
            counts.unmatched += 1;
            continue;
        };
        let outcome = windowed.outcomes[i];
        trial.set.rows.push(Labeled {
            account: account.clone(),
            repaid: outcome.repaid(),
        });
        trial.treatment.push(treatment);
        trial.recovered.push(outcome.recovered());
        trial.balance.push(decided.balance(i));
        trial.probability.push(decided.probability(i));
        trial
            .stage
            .push(decided.value("stage", i).unwrap_or_default().to_owned());
        trial.decided_on.push(decided.date(i));
    }
    counts.accounts = trial.set.rows.len() as u64;
    trial.counts = counts;
    if trial.set.rows.is_empty() {
        let j = windowed.join;
        return refuse(format!(
            "no account to learn from: of {} decisions, {} have their {}-day window closed by \
             {} (pass --as-of when the events stop before the windows close), {} of them in \
             the randomised control, {} of those accounts missing from the accounts tables",
            j.decisions,
            j.mature_decisions,
            config.window_days,
            windowed.as_of,
            counts.eligible_decisions,
            counts.not_in_tables
        ));
    }
    Ok(trial)
}

/// The candidate a decision's recorded treatment and action match (confounded fits): one with
/// that action, else one of that treatment with the ladder's action.
fn recorded_candidate(decided: &Decided, i: usize, candidates: &[Candidate]) -> Option<usize> {
    let treatment = decided.value("treatment", i)?;
    let action = decided.value("action", i)?;
    candidates
        .iter()
        .position(|c| c.action.as_ref().is_some_and(|a| a.action == action))
        .or_else(|| {
            candidates
                .iter()
                .position(|c| c.action.is_none() && c.treatment.as_str() == treatment)
        })
}

/// A fitted treatment-effect model.
#[derive(Debug, Clone)]
pub struct UpliftFitted {
    /// The artifact, validated.
    pub artifact: Artifact,
    /// The held-out evaluation.
    pub report: evaluate::UpliftReport,
    /// Per held-out account: id, treatment, repaid, and the probability under each treatment.
    pub test_predictions: Vec<(String, usize, bool, Vec<f64>)>,
}

/// What the fit read, for the artifact's provenance.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The input files (decisions, events, accounts, history), as given.
    pub files: Vec<PathBuf>,
}

/// Fits the treatment-effect model on `trial` (rules 4-8).
pub fn fit_uplift(
    trial: &Trial,
    provenance: &Provenance,
    config: &FitConfig,
    uplift: &UpliftConfig,
    gbdt: &GbdtConfig,
    truth: Option<&evaluate::Truth<'_>>,
) -> Result<UpliftFitted, TrainError> {
    let k = trial.candidates.len();
    // Every candidate's cost (`trial` checked them; a caller may pass another config).
    let costs: Vec<f64> = trial
        .candidates
        .iter()
        .map(|c| {
            uplift.costs.get(&c.name).copied().ok_or_else(|| {
                TrainError::Config(format!(
                    "uplift.costs: no cost for the candidate `{}`",
                    c.name
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let split = Split::Hash {
        test_fraction: uplift.test_fraction,
        seed: TEST_SEED,
    };
    if !(uplift.test_fraction > 0.0 && uplift.test_fraction < 1.0) {
        return Err(TrainError::Config(
            "uplift.test_fraction must be in (0, 1)".into(),
        ));
    }
    let spec = FeatureSpec::with_attributes_checked(&trial.set.attributes, &trial.set.protected)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let mut design = Design::build_with(&trial.set, &split, spec)?;
    design.apply_transforms(&config.transforms)?;
    // Rule 4: enough training accounts of each treatment.
    let of = |rows: &[usize], t: usize| -> Vec<usize> {
        rows.iter()
            .copied()
            .filter(|&i| trial.treatment[i] == t)
            .collect()
    };
    for (t, c) in trial.candidates.iter().enumerate() {
        let n = of(&design.train, t).len();
        if n < uplift.min_accounts {
            return Err(TrainError::Config(format!(
                "treatment `{}` has {n} training accounts, fewer than uplift.min_accounts = {}: \
                 too few to learn its effect (a longer or larger control gives more)",
                c.name, uplift.min_accounts
            )));
        }
    }
    // Rule 6: the T-learner.
    let outcome = |rows: &[usize]| -> Result<Ensemble, TrainError> {
        let b = boost(
            &design.values,
            design.p,
            &design.labels,
            rows,
            &design.spec,
            gbdt,
        )?;
        Ok(Ensemble {
            base_score: b.base_score,
            trees: b.trees,
        })
    };
    let mut treatments = Vec::with_capacity(k);
    for (t, c) in trial.candidates.iter().enumerate() {
        treatments.push(TreatmentModel {
            name: c.name.clone(),
            cost: costs[t],
            outcome: outcome(&of(&design.train, t))?,
            effect: None,
        });
    }
    // Rule 7: the DR-learner's effect models.
    if uplift.learner == Learner::Dr {
        let effects = dr_effects(trial, &design, gbdt, &outcome)?;
        for (t, e) in treatments.iter_mut().zip(effects) {
            t.effect = e;
        }
    }
    let features = feature_stats(&design.spec, &design.values, &design.train)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let mut artifact = Artifact {
        schema_version: SCHEMA_VERSION,
        name: config.name.clone(),
        version: config.version.clone(),
        created_at: Utc::now(),
        features,
        model: ModelParams::Uplift {
            learner: uplift.learner,
            outcome: format!("repaid within {} days", uplift.window_days),
            treatments,
            confounded: trial.confounded,
        },
        metrics: SplitMetrics {
            train: placeholder_metrics(),
            test: placeholder_metrics(),
        },
        training: TrainingInfo {
            data_fingerprint: fingerprint(&provenance.files)?,
            inputs: provenance
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            split: split.to_string(),
            train_rows: design.train.len() as u64,
            test_rows: design.test.len() as u64,
            payrisk_version: env!("CARGO_PKG_VERSION").to_owned(),
            train_period: Period::of(design.train.iter().map(|&i| trial.decided_on[i])),
            test_period: Period::of(design.test.iter().map(|&i| trial.decided_on[i])),
        },
        baseline: None,
        calibration: None,
        protected: trial.set.protected.clone(),
        transforms: design.transforms.clone(),
    };
    // Everything below reads the model as it will serve.
    let model = Model::from_artifact(artifact.clone())?;
    let uplift_model = model
        .uplift()
        .ok_or_else(|| TrainError::Fit("an uplift artifact built another kind".into()))?;
    let probabilities = |rows: &[usize]| -> Vec<f64> {
        let xs: Vec<f64> = rows
            .iter()
            .flat_map(|&i| design.row(i).iter().copied())
            .collect();
        let mut out = vec![0.0; rows.len() * k];
        let (mut margins, mut column) = (vec![0.0; rows.len()], Vec::new());
        uplift_model.probabilities_many(&xs, design.p, &mut out, &mut margins, &mut column);
        out
    };
    let (train_p, test_p) = (probabilities(&design.train), probabilities(&design.test));
    // Factual accuracy: each account's prediction under the treatment it received.
    let factual = |rows: &[usize], p: &[f64]| {
        let (labels, scores): (Vec<bool>, Vec<f64>) = rows
            .iter()
            .enumerate()
            .map(|(r, &i)| (design.labels[i], p[r * k + trial.treatment[i]]))
            .unzip();
        metrics_of(&labels, &scores)
    };
    artifact.metrics = SplitMetrics {
        train: factual(&design.train, &train_p)?,
        test: factual(&design.test, &test_p)?,
    };
    let names: Vec<String> = artifact.features.iter().map(|f| f.name.clone()).collect();
    let train_matrix: Vec<f64> = design
        .train
        .iter()
        .flat_map(|&i| design.row(i).iter().copied())
        .collect();
    let reference_scores: Vec<f64> = (0..design.train.len()).map(|r| train_p[r * k]).collect();
    artifact.baseline = Some(Baseline::fit(&names, &train_matrix, &reference_scores));
    artifact.validate()?;
    // Rule 8.
    let t_learner = (uplift.learner == Learner::Dr).then(|| {
        let mut out = vec![0.0; design.test.len() * k];
        let xs: Vec<f64> = design
            .test
            .iter()
            .flat_map(|&i| design.row(i).iter().copied())
            .collect();
        for t in 0..k {
            let mut m = vec![0.0; design.test.len()];
            uplift_model.treatment_margins(t, &xs, design.p, &mut m);
            for (r, v) in m.iter().enumerate() {
                out[r * k + t] = crate::model::logistic::sigmoid(*v);
            }
        }
        out
    });
    let report = evaluate::report(&evaluate::Held {
        trial,
        rows: &design.test,
        train_rows: &design.train,
        labels: &design.labels,
        probabilities: &test_p,
        t_learner: t_learner.as_deref(),
        learner: uplift.learner,
        costs: &costs,
        window_days: uplift.window_days,
        truth,
    });
    let test_predictions = design
        .test
        .iter()
        .enumerate()
        .map(|(r, &i)| {
            (
                trial.set.rows[i].account.account_id.clone(),
                trial.treatment[i],
                design.labels[i],
                test_p[r * k..(r + 1) * k].to_vec(),
            )
        })
        .collect();
    Ok(UpliftFitted {
        artifact,
        report,
        test_predictions,
    })
}

/// The DR-learner's effect model of every treatment but the reference (rule 7): outcome models
/// fitted on one half of the training accounts predict the other half; the pseudo-outcomes
/// of every training account are regressed on its features.
fn dr_effects(
    trial: &Trial,
    design: &Design,
    gbdt: &GbdtConfig,
    outcome: &dyn Fn(&[usize]) -> Result<Ensemble, TrainError>,
) -> Result<Vec<Option<Ensemble>>, TrainError> {
    let k = trial.candidates.len();
    let fold = |i: usize| {
        crate::stable_hash::unit_interval(
            &[&FOLD_SEED.to_le_bytes()],
            &trial.set.rows[i].account.account_id,
        ) < 0.5
    };
    // mu[r * k + t]: treatment t's cross-fitted probability for training row r.
    let mut mu = vec![0.0; design.train.len() * k];
    for half in [false, true] {
        let fit_rows: Vec<usize> = design
            .train
            .iter()
            .copied()
            .filter(|&i| fold(i) != half)
            .collect();
        let predict: Vec<(usize, usize)> = design
            .train
            .iter()
            .enumerate()
            .filter(|&(_, &i)| fold(i) == half)
            .map(|(r, &i)| (r, i))
            .collect();
        for t in 0..k {
            let rows: Vec<usize> = fit_rows
                .iter()
                .copied()
                .filter(|&i| trial.treatment[i] == t)
                .collect();
            let e = outcome(&rows)?;
            let m = crate::model::gbdt::GbdtModel::new(e.base_score, &e.trees);
            for &(r, i) in &predict {
                mu[r * k + t] = crate::model::logistic::sigmoid(m.margin(design.row(i)));
            }
        }
    }
    // Equal parts: every treatment had probability 1/k of being assigned.
    let propensity = 1.0 / k as f64;
    let effect_config = GbdtConfig {
        monotone: Default::default(),
        ..gbdt.clone()
    };
    let mut effects = vec![None];
    for t in 1..k {
        let mut targets = vec![0.0; design.labels.len()];
        for (r, &i) in design.train.iter().enumerate() {
            let y = f64::from(u8::from(design.labels[i]));
            let (m_t, m_r) = (mu[r * k + t], mu[r * k]);
            let given = trial.treatment[i];
            targets[i] = m_t - m_r
                + if given == t {
                    (y - m_t) / propensity
                } else {
                    0.0
                }
                - if given == 0 {
                    (y - m_r) / propensity
                } else {
                    0.0
                };
        }
        let b = boost_squared(
            &design.values,
            design.p,
            &targets,
            &design.train,
            &design.spec,
            &effect_config,
        )?;
        effects.push(Some(Ensemble {
            base_score: b.base_score,
            trees: b.trees,
        }));
    }
    Ok(effects)
}

/// SHA-256 over the input files' bytes, in order (a directory: its files in name order).
fn fingerprint(files: &[PathBuf]) -> Result<String, TrainError> {
    let mut hasher = Sha256::new();
    for path in files {
        let mut paths = vec![path.clone()];
        if path.is_dir() {
            paths = std::fs::read_dir(path)
                .map_err(|source| TrainError::Io {
                    path: path.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            paths.sort();
        }
        for p in paths {
            hash_file(&p, &mut hasher)?;
        }
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}
