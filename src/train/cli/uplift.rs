//! `fit --model uplift`: the treatment-effect model from decisions, events, the accounts and the
//! policy that ran the randomised control.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::progress::stage;
use super::{outcomes, FitArgs};
use crate::policy::Policy;
use crate::serve::repository;
use crate::train::config::TrainConfig;
use crate::train::fit::FitConfig;
use crate::train::report::write_json;
use crate::train::tables::{self, TablePaths};
use crate::train::uplift::{self, evaluate::Truth, Inputs, Provenance};
use crate::train::{html, TrainError};

/// Options of `fit` for the uplift kind.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct UpliftArgs {
    /// Uplift: the decisions (a decisions table, or the audit directory).
    #[arg(long)]
    pub decisions: Option<PathBuf>,
    /// Uplift: the events table.
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Uplift: the policy whose experiment held out the randomised control (its candidates).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Uplift: fit even without randomised data; every output says the effects are confounded.
    #[arg(long)]
    pub allow_confounded: bool,
    /// Uplift: the events came from `payrisk-train simulate`; value each policy against its
    /// known effect too.
    #[arg(long)]
    pub simulated_truth: bool,
    /// Uplift: the date outcomes are known to (YYYY-MM-DD; default: the latest event's).
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
    /// Uplift: also write every randomised account's row (id, split, treatment, repaid, then
    /// the model's inputs as the feature engine derives them) to this CSV, for a peer to fit on
    /// the same data and split.
    #[arg(long)]
    pub matrix: Option<PathBuf>,
}

fn required<'a>(value: &'a Option<PathBuf>, flag: &str) -> Result<&'a Path, TrainError> {
    value.as_deref().ok_or_else(|| {
        TrainError::Config(format!(
            "--model uplift learns from decisions and their outcomes: pass {flag}"
        ))
    })
}

/// Fits, evaluates and writes the treatment-effect model to `target`.
pub(super) fn fit(
    args: &FitArgs,
    file: &TrainConfig,
    config: &FitConfig,
    paths: &TablePaths,
    target: &Path,
) -> Result<String, TrainError> {
    let u = &args.uplift;
    let decisions = required(&u.decisions, "--decisions")?;
    let events_path = required(&u.events, "--events")?;
    let policy_path = required(&u.policy, "--policy")?;
    let policy = Policy::load(policy_path)?;
    let (decided, _) = stage("reading the decisions", || {
        outcomes::load_decisions(decisions, false)
    })?;
    let events = stage("reading the events", || {
        crate::train::events::read(events_path, decided.index(), &paths.read, false)
    })?;
    let (accounts, attributes) = stage("reading the accounts and their history", || {
        tables::load_portfolio_with_attributes(&paths.accounts, &paths.history, &paths.read)
    })?;
    let inputs = Inputs {
        decided: &decided,
        events: &events,
        accounts: &accounts,
        attributes: &attributes,
        policy: &policy,
        protected: &paths.read.protected,
        allow_confounded: u.allow_confounded,
        as_of: u.as_of,
    };
    let trial = stage("finding the randomised accounts", || {
        uplift::trial(&inputs, &file.uplift)
    })?;
    let provenance = Provenance {
        files: vec![
            decisions.to_path_buf(),
            events_path.to_path_buf(),
            paths.accounts.clone(),
            paths.history.clone(),
        ],
    };
    let truth = Truth { policy: &policy };
    let fitted = stage("fitting the treatment-effect models", || {
        uplift::fit_uplift(
            &trial,
            &provenance,
            config,
            &file.uplift,
            &file.gbdt,
            u.simulated_truth.then_some(&truth),
        )
    })?;
    repository::write_artifact(target, &fitted.artifact.to_json())?;
    let metrics = target.with_file_name("metrics.json");
    write_json(&fitted.report, &metrics)?;
    let page = target.with_file_name("report.html");
    std::fs::write(&page, html::render_uplift(&fitted.artifact, &fitted.report)).map_err(
        |source| TrainError::Io {
            path: page.clone(),
            source,
        },
    )?;
    let predictions = target.with_file_name("test_predictions.csv");
    write_predictions(&fitted, &predictions)?;
    if let Some(path) = &u.matrix {
        write_matrix(&trial, &fitted.artifact, path)?;
    }
    let r = &fitted.report;
    let mut out = String::new();
    if let Some(warning) = r.confounded {
        let _ = writeln!(out, "{warning}");
    }
    let _ = writeln!(
        out,
        "{} accounts ({} learner, outcome {}):",
        r.rows.accounts, r.learner, r.outcome
    );
    for t in &r.treatments {
        let _ = writeln!(
            out,
            "  {:<12} cost {:>8.2}  train {:>7}  held out {:>7}  repaid {:.3} (predicted {:.3})",
            t.name,
            t.cost,
            t.train_accounts,
            t.test_accounts,
            t.test_repayment_rate,
            t.test_predicted_rate
        );
    }
    for e in &r.effects {
        let _ = writeln!(
            out,
            "  {} vs {} ({}-learner): Qini {:.4}, AUUC {:.4} on {} held-out accounts",
            e.treatment, e.against, e.learner, e.qini, e.auuc, e.accounts
        );
    }
    if let Some(v) = &r.policy_values {
        let _ = writeln!(
            out,
            "  simulated net recovery per account: reference {:.2}, random {:.2}, threshold {:.2} \
             ({:.1} % of the oracle's gain), uplift {:.2} ({:.1} %), oracle {:.2}",
            v.reference,
            v.random,
            v.threshold,
            100.0 * v.threshold_share_of_oracle,
            v.uplift,
            100.0 * v.uplift_share_of_oracle,
            v.oracle
        );
    }
    let _ = write!(
        out,
        "wrote {}, {}, {} and {}",
        target.display(),
        metrics.display(),
        page.display(),
        predictions.display()
    );
    Ok(out)
}

/// Every row of the trial with its split, treatment, outcome and the model's inputs (empty when
/// missing), derived by the artifact's feature spec.
fn write_matrix(
    trial: &uplift::Trial,
    artifact: &crate::model::Artifact,
    path: &Path,
) -> Result<(), TrainError> {
    let spec = artifact.feature_spec()?;
    let split = crate::train::split::Split::from_recorded(&artifact.training.split)
        .map_err(TrainError::Config)?;
    let mut text = String::from("account_id,split,treatment,repaid");
    for n in spec.names() {
        let _ = write!(text, ",{n}");
    }
    text.push('\n');
    let mut x = vec![0.0; spec.len()];
    for (i, row) in trial.set.rows.iter().enumerate() {
        let a = &row.account;
        spec.derive(a, &mut x);
        let test = split
            .is_test(&a.account_id, a.as_of)
            .map_err(TrainError::Config)?;
        let _ = write!(
            text,
            "{},{},{},{}",
            crate::domain::printable(&a.account_id),
            if test { "test" } else { "train" },
            trial.candidates[trial.treatment[i]].name,
            u8::from(row.repaid)
        );
        for v in &x {
            if v.is_nan() {
                text.push(',');
            } else {
                let _ = write!(text, ",{v}");
            }
        }
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The held-out accounts' predictions, for a peer to score with its own metric:
/// `account_id, treatment, repaid, p_<treatment>...`.
fn write_predictions(fitted: &uplift::UpliftFitted, path: &Path) -> Result<(), TrainError> {
    let names: Vec<&str> = match &fitted.artifact.model {
        crate::model::ModelParams::Uplift { treatments, .. } => {
            treatments.iter().map(|t| t.name.as_str()).collect()
        }
        _ => Vec::new(),
    };
    let mut text = String::from("account_id,treatment,repaid");
    for n in &names {
        let _ = write!(text, ",p_{n}");
    }
    text.push('\n');
    for (id, t, y, p) in &fitted.test_predictions {
        let _ = write!(text, "{id},{},{}", names[*t], u8::from(*y));
        for v in p {
            let _ = write!(text, ",{v}");
        }
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}
