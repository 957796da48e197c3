//! The `payrisk-train` commands: each subcommand's options (clap) and the one call that runs it,
//! returning the text to print. The binary only parses the command line, calls, and prints.
//!
//! Rules every command keeps:
//! 1. Flags win over the training config file, which wins over the built-in defaults
//!    ([`FitArgs::resolve`]).
//! 2. Tables are found by name in `--tables DIR` (`accounts`, `payment_history`, `outcomes`,
//!    Parquet before CSV), unless a flag names a single table.
//! 3. A model is written to `<models_dir>/<name>/<version>/model.json` through
//!    [`crate::serve::repository`]: an existing version is replaced only with `--replace` (never
//!    a shipped one), `--force` writes the next version instead, and the
//!    artifact is renamed into place whole.
//! 4. Row errors stop a command (exit code 3); with `--lenient`, `fit` leaves the accounts out and
//!    writes every rejected row to `rejects.csv` beside the artifact.

mod console;
mod outcomes;
mod plan;
mod progress;
mod uplift;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::model::calibration::CalibrationMethod;
use crate::model::Model;
use crate::serve::audit::CallContext;
use crate::serve::drift::DriftSettings;
use crate::serve::{repository, Deployment, DEFAULT_MODEL, DEFAULT_POLICY};
use crate::train::config::{ModelKind, TrainConfig};
use crate::train::fit::{fit_gbdt_observed, fit_logistic, import_gbdt, Design, FitConfig, Fitted};
use crate::train::report::{write_json, Comparison, Evaluation, MetricsReport};
use crate::train::split::Split;
use crate::train::tables::{self, TablePaths, TrainingSet};
use crate::train::{html, import, monthly, synthetic, uci, worklist, TrainError};
pub use outcomes::{
    decisions, readout, roll_rates, simulate, write_readout, DecisionsArgs, ReadoutArgs,
    RollRatesArgs, SimulateArgs,
};
pub use plan::{plan, PlanArgs};
use progress::stage;
pub use uplift::UpliftArgs;

/// The error and its causes in one line, each said once: a cause whose words the message
/// already carries is not repeated ("no such file: no such file").
pub fn error_message(error: &TrainError) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let words = cause.to_string();
        if !message.contains(&words) {
            message.push_str(": ");
            message.push_str(&words);
        }
        source = cause.source();
    }
    message
}

/// The canonical tables, as `--help` shows them after the options.
pub const TABLES_HELP: &str = "\
The tables (CSV or Parquet; dates YYYY-MM-DD; an empty cell means missing, --null-values adds texts that do):
  accounts         account_id, as_of, open_credit_lines, prior_delinquencies;
                   optional (absent or empty = unknown): credit_limit, current_balance,
                   months_on_book, hardship (0/1), bureau_score, annual_income;
                   attr_<name>: extra numeric features (protected characteristics are refused);
                   compliance (for score): cease_communication, dispute_pending, bankruptcy,
                   attorney_represented, deceased (0/1), opted_out_channels (a;b), time_zone (IANA)
  payment_history  account_id, statement_date, amount_due, minimum_due, amount_paid, days_past_due
  outcomes         account_id, repaid (0/1)
Columns no table defines are refused with the nearest known name (--ignore-unknown-columns skips them).
See docs/training.md.";

/// Where the canonical tables are.
#[derive(Debug, Clone, clap::Args)]
pub struct TableArgs {
    /// Directory holding accounts, payment_history and outcomes as .csv or .parquet; the
    /// --accounts/--history/--outcomes flags override single tables.
    #[arg(long = "tables", default_value = "data/uci")]
    pub dir: PathBuf,
    /// Accounts table (CSV or Parquet).
    #[arg(long)]
    pub accounts: Option<PathBuf>,
    /// Payment-history table (CSV or Parquet).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Outcomes table (CSV or Parquet).
    #[arg(long)]
    pub outcomes: Option<PathBuf>,
    /// Skip columns no table defines instead of refusing them (a refused column's error names
    /// the nearest known one).
    #[arg(long)]
    pub ignore_unknown_columns: bool,
    /// Cell texts that mean "missing" besides the empty cell, comma-separated (for example
    /// `NA,nan`).
    #[arg(long, value_delimiter = ',')]
    pub null_values: Vec<String>,
}

impl TableArgs {
    /// The data's name, for a model trained on it: the directory the accounts table is in
    /// (`--tables data/acme` names models `acme`).
    pub fn data_name(&self) -> Option<String> {
        let accounts = self.paths().accounts;
        let dir = accounts
            .parent()?
            .canonicalize()
            .ok()
            .or_else(|| accounts.parent().map(Path::to_path_buf))?;
        let name = dir.file_name()?.to_str()?.trim();
        (!name.is_empty()).then(|| name.to_owned())
    }

    /// The tables' paths: a flag's, else `<dir>/<stem>.parquet` when it exists, else `.csv`.
    pub fn paths(&self) -> TablePaths {
        let table = |flag: &Option<PathBuf>, stem: &str| {
            flag.clone().unwrap_or_else(|| {
                let parquet = self.dir.join(format!("{stem}.parquet"));
                if parquet.exists() {
                    parquet
                } else {
                    self.dir.join(format!("{stem}.csv"))
                }
            })
        };
        TablePaths {
            accounts: table(&self.accounts, "accounts"),
            history: table(&self.history, "payment_history"),
            outcomes: table(&self.outcomes, "outcomes"),
            read: tables::ReadOptions {
                ignore_unknown_columns: self.ignore_unknown_columns,
                null_values: self.null_values.clone(),
                protected: Default::default(),
            },
        }
    }
}

/// Options of `convert-uci`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConvertUciArgs {
    /// The UCI CSV.
    #[arg(long, default_value = "../shared/data/uci_credit_default.csv")]
    pub input: PathBuf,
    /// Output directory for accounts.csv, payment_history.csv and outcomes.csv.
    #[arg(long, default_value = "data/uci")]
    pub out: PathBuf,
}

/// Converts the UCI credit-default CSV into the canonical tables.
pub fn convert_uci(args: &ConvertUciArgs) -> Result<String, TrainError> {
    let c = stage("converting the UCI data", || {
        uci::convert(&args.input, &args.out)
    })?;
    Ok(format!(
        "wrote {} accounts and {} payment cycles to {}",
        c.accounts,
        c.cycles,
        args.out.display()
    ))
}

/// Options of `convert-monthly`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConvertMonthlyArgs {
    /// The monthly status CSV (ID, MONTHS_BALANCE, STATUS).
    #[arg(long, default_value = "../shared/data/monthly_credit_status.csv")]
    pub input: PathBuf,
    /// Output directory for accounts.csv, payment_history.csv and outcomes.csv.
    #[arg(long, default_value = "data/monthly")]
    pub out: PathBuf,
}

/// Converts the long-format monthly status history into the canonical tables.
pub fn convert_monthly(args: &ConvertMonthlyArgs) -> Result<String, TrainError> {
    let c = stage("converting the monthly status history", || {
        monthly::convert(&args.input, &args.out)
    })?;
    Ok(format!(
        "wrote {} accounts ({} defaulted, {:.1} %) and {} history rows to {}; {} accounts skipped (under {} months of history or no outcome window)",
        c.accounts,
        c.defaulted,
        100.0 * c.defaulted as f64 / c.accounts.max(1) as f64,
        c.cycles,
        args.out.display(),
        c.skipped,
        monthly::MIN_HISTORY_MONTHS
    ))
}

/// File format of generated tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    /// CSV with a header row.
    Csv,
    /// Typed Parquet.
    Parquet,
}

/// Options of `generate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// Accounts to generate (about ten history rows each).
    #[arg(long, default_value_t = 100_000)]
    pub accounts: usize,
    /// Seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Table format.
    #[arg(long, value_enum, default_value_t = TableFormat::Parquet)]
    pub format: TableFormat,
    /// Output directory.
    #[arg(long, default_value = "data/synthetic")]
    pub out: PathBuf,
}

/// Writes a seeded synthetic portfolio.
pub fn generate(args: &GenerateArgs) -> Result<String, TrainError> {
    let format = match args.format {
        TableFormat::Csv => synthetic::Format::Csv,
        TableFormat::Parquet => synthetic::Format::Parquet,
    };
    let spec = synthetic::PortfolioSpec {
        accounts: args.accounts,
        seed: args.seed,
    };
    let g = stage("generating the synthetic portfolio", || {
        synthetic::generate(spec, &args.out, format)
    })?;
    Ok(format!(
        "wrote {} accounts ({} defaulted, {:.1} %) and {} history rows to {}",
        g.accounts,
        g.defaulted,
        100.0 * g.defaulted as f64 / g.accounts.max(1) as f64,
        g.cycles,
        args.out.display()
    ))
}

/// Probability calibration of `fit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CalibrationArg {
    /// The model's own probabilities.
    None,
    /// Platt scaling of the log-odds.
    Platt,
    /// Isotonic regression of the probability.
    Isotonic,
}

/// Options of `fit`.
#[derive(Debug, Clone, clap::Args)]
pub struct FitArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tables: TableArgs,
    /// Training config file (TOML: model, name, version, split, `[logistic]`, `[gbdt]`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Model kind [default: the config's, else logistic].
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Held-out split: `mod:M[:R]` (integer ids, test = id % M == R),
    /// `hash:FRACTION[:SEED]`, or `time:YYYY-MM-DD` (out of time: test = snapshots with
    /// as_of after the date) [default: the config's, else mod:5].
    #[arg(long)]
    pub split: Option<Split>,
    /// Model name [default: the config's, else the tables directory's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Model version [default: the config's, else the next free version of the model].
    #[arg(long)]
    pub version: Option<String>,
    /// Logistic L2 penalty [default: the config's, else 1.0].
    #[arg(long)]
    pub l2: Option<f64>,
    /// Logistic optimiser iteration cap [default: the config's, else 500].
    #[arg(long)]
    pub max_iterations: Option<u64>,
    /// Reject invalid accounts (all their rows) instead of stopping; every rejected row is
    /// written with its reason to rejects.csv beside the artifact.
    #[arg(long)]
    pub lenient: bool,
    /// Calibrate probabilities on 20 % of the training rows, held out of the fit
    /// [default: the config's, else none].
    #[arg(long, value_enum)]
    pub calibration: Option<CalibrationArg>,
    /// Where model directories go.
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// When the version exists, write the next free version instead.
    #[arg(long)]
    pub force: bool,
    /// When the version exists, overwrite it (never a shipped version, whose directory holds a
    /// `SHIPPED` file).
    #[arg(long, conflicts_with = "force")]
    pub replace: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub uplift: uplift::UpliftArgs,
}

/// What `--force` and `--replace` ask for when a version exists.
fn existing(force: bool, replace: bool) -> repository::Existing {
    match (force, replace) {
        (_, true) => repository::Existing::Replace,
        (true, false) => repository::Existing::NextVersion,
        (false, false) => repository::Existing::Refuse,
    }
}

impl FitArgs {
    /// The model kind and fit settings: each flag given wins over the config file `file`, which
    /// wins over the defaults (logistic, the name of the tables' directory, the next free
    /// version (an empty `version` here), `mod:5`, no calibration).
    pub fn resolve(&self, file: &TrainConfig) -> Result<(ModelKind, FitConfig), TrainError> {
        let kind = self.model.or(file.model).unwrap_or(ModelKind::Logistic);
        let split = match (&self.split, &file.split) {
            (Some(s), _) => *s,
            (None, Some(s)) => s.parse().map_err(TrainError::Config)?,
            (None, None) => "mod:5".parse().map_err(TrainError::Config)?,
        };
        let name = match self.name.clone().or_else(|| file.name.clone()) {
            Some(name) => name,
            None => self.tables.data_name().ok_or_else(|| {
                TrainError::Config(
                    "cannot name the model after its tables: pass --name (or `name` in the config)"
                        .into(),
                )
            })?,
        };
        let config = FitConfig {
            name,
            version: self
                .version
                .clone()
                .or_else(|| file.version.clone())
                .unwrap_or_default(),
            split,
            l2_penalty: self.l2.unwrap_or(file.logistic.l2),
            max_iterations: self.max_iterations.unwrap_or(file.logistic.max_iterations),
            calibration: match self.calibration {
                Some(CalibrationArg::None) => None,
                Some(CalibrationArg::Platt) => Some(CalibrationMethod::Platt),
                Some(CalibrationArg::Isotonic) => Some(CalibrationMethod::Isotonic),
                None => file.calibration,
            },
            transforms: file.transforms.clone(),
        };
        Ok((kind, config))
    }
}

/// Fits a model, evaluates it on the held-out split and writes its artifact, `metrics.json` and
/// `report.html` into the model repository.
pub fn fit(args: &FitArgs) -> Result<String, TrainError> {
    let file = match &args.config {
        Some(path) => TrainConfig::load(path)?,
        None => TrainConfig::default(),
    };
    let (kind, config) = args.resolve(&file)?;
    let mut config = config;
    let mut paths = args.tables.paths();
    paths.read.protected = file.protected.clone();
    let placed = repository::place(
        &args.models_dir,
        &config.name,
        Some(config.version.as_str()).filter(|v| !v.is_empty()),
        existing(args.force, args.replace),
    )?;
    config.version.clone_from(&placed.version);
    let target = placed.path;
    let started = Instant::now();
    let mut out = String::new();
    if let Some(note) = &placed.note {
        let _ = writeln!(out, "{note}");
    }
    if kind == ModelKind::Uplift {
        out.push_str(&uplift::fit(args, &file, &config, &paths, &target)?);
        let _ = write!(out, "\ntook {:.1}s", started.elapsed().as_secs_f64());
        return Ok(out);
    }
    let set = if args.lenient {
        let loaded = stage("reading and validating the tables (lenient)", || {
            tables::load_with(&paths, true)
        })?;
        let rejects = target.with_file_name("rejects.csv");
        tables::write_rejects(&rejects, &loaded.rejects)?;
        let _ = writeln!(
            out,
            "lenient: {} account(s) rejected, {} line(s) in {}",
            loaded.rejected_accounts,
            loaded.rejects.len(),
            rejects.display()
        );
        loaded.set
    } else {
        stage("reading and validating the tables", || tables::load(&paths))?
    };
    tracing::info!(accounts = set.rows.len(), "tables loaded and validated");
    let fitted = match kind {
        ModelKind::Logistic => stage("fitting logistic regression", || {
            fit_logistic(&set, &paths, &config)
        })?,
        ModelKind::Scorecard => stage("fitting the scorecard", || {
            crate::train::scorecard::fit_scorecard(&set, &paths, &config, &file.scorecard)
        })?,
        // Fitted above, from decisions and events rather than an outcomes table.
        ModelKind::Uplift => return Err(TrainError::Fit("uplift is fitted by uplift::fit".into())),
        ModelKind::Gbdt => progress::rounds(
            "fitting gradient-boosted trees",
            file.gbdt.trees as u64,
            |on_round| fit_gbdt_observed(&set, &paths, &config, &file.gbdt, on_round),
        )?,
    };
    out.push_str(&uninformative_warnings(&fitted, &file));
    out.push_str(&write_model(&target, &fitted, started)?);
    Ok(out)
}

/// Warnings for features that carry no information on the training rows, and for monotone
/// constraints placed on them.
fn uninformative_warnings(fitted: &Fitted, file: &TrainConfig) -> String {
    let useless: Vec<(&str, &str)> = fitted
        .summary
        .iter()
        .filter_map(|f| f.uninformative().map(|why| (f.name.as_str(), why)))
        .collect();
    let mut out = String::new();
    if useless.is_empty() {
        return out;
    }
    tracing::warn!(
        features = useless.len(),
        of = fitted.summary.len(),
        "features carry no information on the training rows"
    );
    let _ = writeln!(
        out,
        "warning: {} of {} features carry no information on the training rows and get importance 0:",
        useless.len(),
        fitted.summary.len()
    );
    for (name, why) in &useless {
        let _ = writeln!(out, "  {name}: {why}");
    }
    let constrained: Vec<&str> = useless
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| file.gbdt.monotone.contains_key(*name))
        .collect();
    if !constrained.is_empty() && fitted.artifact.model.kind() == "gbdt" {
        let _ = writeln!(
            out,
            "warning: monotone constraints on features without information have no effect: {}",
            constrained.join(", ")
        );
    }
    out
}

/// Model formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// LightGBM text model (`Booster.save_model`).
    Lightgbm,
    /// XGBoost JSON model (`Booster.save_model("model.json")`).
    Xgboost,
}

/// The class an imported model's probability is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PositiveClass {
    /// Repayment (as payrisk).
    Repaid,
    /// Default: payrisk flips the model.
    Default,
}

/// Options of `import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Source format.
    #[arg(long, value_enum)]
    pub format: ImportFormat,
    /// The model file (LightGBM `model.txt`, XGBoost `model.json`).
    #[arg(long)]
    pub input: PathBuf,
    /// Feature map: lines `source_name = payrisk_name` (names not listed are used as they
    /// are).
    #[arg(long)]
    pub feature_map: Option<PathBuf>,
    /// Which class the source model predicts the probability of.
    #[arg(long, value_enum, default_value_t = PositiveClass::Repaid)]
    pub positive_class: PositiveClass,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tables: TableArgs,
    /// Held-out split for the evaluation, as for `fit`.
    #[arg(long, default_value = "mod:5")]
    pub split: Split,
    /// Model name.
    #[arg(long)]
    pub name: String,
    /// Model version [default: the next free version of the model].
    #[arg(long)]
    pub version: Option<String>,
    /// Where model directories go.
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// When the version exists, write the next free version instead.
    #[arg(long)]
    pub force: bool,
    /// When the version exists, overwrite it (never a shipped version).
    #[arg(long, conflicts_with = "force")]
    pub replace: bool,
}

/// Imports a LightGBM or XGBoost model as a payrisk artifact, evaluated on the tables' held-out
/// split, into the model repository.
pub fn import(args: &ImportArgs) -> Result<String, TrainError> {
    let placed = repository::place(
        &args.models_dir,
        &args.name,
        args.version.as_deref(),
        existing(args.force, args.replace),
    )?;
    let target = placed.path;
    let started = Instant::now();
    let text = read(&args.input)?;
    let imported = match args.format {
        ImportFormat::Lightgbm => import::lightgbm(&text)?,
        ImportFormat::Xgboost => import::xgboost(&text)?,
    };
    let mapping = match &args.feature_map {
        Some(path) => import::parse_feature_map(&read(path)?, path)?,
        None => HashMap::new(),
    };
    let paths = args.tables.paths();
    let set = stage("reading and validating the tables", || tables::load(&paths))?;
    let config = FitConfig {
        name: args.name.clone(),
        version: placed.version.clone(),
        split: args.split,
        l2_penalty: 0.0,
        max_iterations: 0,
        calibration: None,
        transforms: Default::default(),
    };
    let positive_is_repaid = args.positive_class == PositiveClass::Repaid;
    let fitted = import_gbdt(
        &set,
        &paths,
        &config,
        &imported,
        &mapping,
        positive_is_repaid,
    )?;
    let written = write_model(&target, &fitted, started)?;
    Ok(match placed.note {
        Some(note) => format!("{note}\n{written}"),
        None => written,
    })
}

/// Options of `evaluate`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvaluateArgs {
    /// The model artifact.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tables: TableArgs,
    /// Which rows to evaluate: `all`, or a split (`mod:5`, `hash:0.2`, `time:2024-06-30`)
    /// whose held-out side is scored [default: the split the model was trained with, so that
    /// no training account is scored].
    #[arg(long)]
    pub split: Option<String>,
    /// Where to write the evaluation JSON.
    #[arg(long, default_value = "evaluation.json")]
    pub out: PathBuf,
}

/// Scores a model on labelled tables: metrics, deciles and drift, as JSON and an HTML report.
pub fn evaluate(args: &EvaluateArgs) -> Result<String, TrainError> {
    let paths = args.tables.paths();
    let model = Model::load(&args.model)?;
    let set = stage("reading and validating the tables", || tables::load(&paths))?;
    let (set, evaluated_on) = rows_to_evaluate(set, args.split.as_deref(), &model)?;
    let mut e = stage("scoring", || Evaluation::of(&model, &set, &paths))?;
    e.evaluated_on = evaluated_on;
    write_json(&e, &args.out)?;
    let html_path = args.out.with_extension("html");
    write(&html_path, &html::render_evaluation(&e, model.artifact()))?;
    Ok(format!(
        "{}wrote {} and {}",
        console::evaluations(&[&e]),
        args.out.display(),
        html_path.display()
    ))
}

/// The rows of `set` to evaluate `model` on, and their description: every row for `all`, else
/// the held-out side of the split given, or of the split `model` was trained with.
fn rows_to_evaluate(
    mut set: TrainingSet,
    choice: Option<&str>,
    model: &Model,
) -> Result<(TrainingSet, String), TrainError> {
    if choice == Some("all") {
        return Ok((set, "all rows".into()));
    }
    let recorded = &model.artifact().training.split;
    let split = match choice {
        Some(spec) => spec.parse::<Split>(),
        None => Split::from_recorded(recorded).map_err(|e| {
            format!(
                "{e}; the model records the split `{recorded}`: pass --split SPEC or --split all"
            )
        }),
    }
    .map_err(TrainError::Config)?;
    let mut kept = Vec::with_capacity(set.rows.len());
    for row in set.rows {
        if split
            .is_test(&row.account.account_id, row.account.as_of)
            .map_err(TrainError::Config)?
        {
            kept.push(row);
        }
    }
    if kept.is_empty() {
        return Err(TrainError::Config(format!(
            "no row of the tables is on the held-out side of `{split}`: pass --split all to evaluate every row"
        )));
    }
    set.rows = kept;
    Ok((set, split.to_string()))
}

/// Options of `compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The model in production.
    #[arg(long)]
    pub champion: PathBuf,
    /// The candidate.
    #[arg(long)]
    pub challenger: PathBuf,
    /// Which rows to compare on: `all`, or a split whose held-out side is scored [default: the
    /// split the champion was trained with].
    #[arg(long)]
    pub split: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tables: TableArgs,
    /// Where to write the comparison JSON.
    #[arg(long, default_value = "comparison.json")]
    pub out: PathBuf,
}

/// Champion against challenger on the same labelled tables, as JSON and an HTML report.
pub fn compare(args: &CompareArgs) -> Result<String, TrainError> {
    let paths = args.tables.paths();
    let champion = Model::load(&args.champion)?;
    let challenger = Model::load(&args.challenger)?;
    let set = stage("reading and validating the tables", || tables::load(&paths))?;
    let (set, evaluated_on) = rows_to_evaluate(set, args.split.as_deref(), &champion)?;
    let evaluate = |model: &Model| {
        Evaluation::of(model, &set, &paths).map(|mut e| {
            e.evaluated_on.clone_from(&evaluated_on);
            e
        })
    };
    let c = Comparison::of(
        stage("scoring the champion", || evaluate(&champion))?,
        stage("scoring the challenger", || evaluate(&challenger))?,
    )?;
    write_json(&c, &args.out)?;
    let html_path = args.out.with_extension("html");
    let page = html::render_comparison(&c, champion.artifact(), challenger.artifact());
    write(&html_path, &page)?;
    Ok(format!(
        "{}challenger - champion: AUC {:+.4}  KS {:+.4}  Brier {:+.4}  ECE {:+.4}\nwrote {} and {}",
        console::evaluations(&[&c.champion, &c.challenger]),
        c.auc_delta,
        c.ks_delta,
        c.brier_delta,
        c.ece_delta,
        args.out.display(),
        html_path.display()
    ))
}

/// Options of `score`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScoreArgs {
    /// The model artifact.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// The treatment policy (relative to the working directory).
    #[arg(long, default_value = DEFAULT_POLICY, conflicts_with = "probabilities_only")]
    pub policy: PathBuf,
    /// Write repayment probabilities only (rank, account, probability, model version), riskiest
    /// first, without a collections policy.
    #[arg(long)]
    pub probabilities_only: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tables: TableArgs,
    /// The decision time for contact caps and promises (RFC 3339) [default: now].
    #[arg(long)]
    pub decision_time: Option<DateTime<Utc>>,
    /// Where to write the ranked worklist.
    #[arg(long, default_value = "scores.parquet")]
    pub output: PathBuf,
    /// Also write every decision's audit record (the server's format) to this `.jsonl` file,
    /// for `decisions`, `readout` and `fit --model uplift`.
    #[arg(long)]
    pub audit: Option<PathBuf>,
}

/// Scores a whole portfolio with the serving deployment and writes the ranked worklist.
pub fn score(args: &ScoreArgs) -> Result<String, TrainError> {
    if args.probabilities_only {
        return score_probabilities(args);
    }
    if !args.policy.exists() {
        return Err(TrainError::Config(format!(
            "no policy at {} (relative to the working directory): pass --policy FILE, or \
             --probabilities-only for probabilities without one",
            args.policy.display()
        )));
    }
    // Offline scoring reports no drift: no window to fill.
    let deployment = Deployment::load(&args.model, &args.policy)?.with_drift(DriftSettings::OFF);
    let paths = args.tables.paths();
    let accounts = stage("reading and validating the portfolio", || {
        tables::load_portfolio(&paths.accounts, &paths.history, &paths.read)
    })?;
    let now = args.decision_time.unwrap_or_else(Utc::now);
    let started = Instant::now();
    let time = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let call = args.audit.as_ref().map(|_| CallContext {
        request_id: format!("offline-{}", now.timestamp_millis()),
        rpc: "offline",
        time: time.clone(),
        decision_time: time.clone(),
    });
    let (ranked, lines) = stage("scoring and ranking", || {
        let how = worklist::Ranking {
            call: call.as_ref(),
            ..worklist::Ranking::default()
        };
        Ok::<_, TrainError>(worklist::rank_with(&deployment, &accounts, now, &how))
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &args.audit {
        write_bytes(path, &lines)?;
    }
    stage("writing the worklist", || {
        worklist::write(&ranked, &args.output)
    })?;
    Ok(format!(
        "scored and ranked {} accounts in {seconds:.2} s ({:.0} accounts/s); wrote {}",
        ranked.len(),
        ranked.len() as f64 / seconds.max(1e-9),
        args.output.display()
    ))
}

/// `score --probabilities-only`: the model alone, no policy.
fn score_probabilities(args: &ScoreArgs) -> Result<String, TrainError> {
    let model = Model::load(&args.model)?;
    let paths = args.tables.paths();
    let accounts = stage("reading and validating the portfolio", || {
        tables::load_portfolio(&paths.accounts, &paths.history, &paths.read)
    })?;
    let rows = stage("scoring", || {
        Ok::<_, TrainError>(worklist::rank_probabilities(&model, &accounts))
    })?;
    stage("writing the probabilities", || {
        worklist::write_probabilities(&rows, &model.artifact().version, &args.output)
    })?;
    Ok(format!(
        "scored {} accounts (probabilities only); wrote {}",
        rows.len(),
        args.output.display()
    ))
}

/// Options of `features`.
#[derive(Debug, Clone, clap::Args)]
pub struct FeaturesArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tables: TableArgs,
    /// Held-out split, as for `fit`.
    #[arg(long, default_value = "mod:5")]
    pub split: Split,
    /// Output CSV.
    #[arg(long, default_value = "data/uci/features.csv")]
    pub out: PathBuf,
}

/// Derives every account's features with the serving feature engine and writes them as CSV.
pub fn features(args: &FeaturesArgs) -> Result<String, TrainError> {
    let paths = args.tables.paths();
    let set = stage("reading and validating the tables", || tables::load(&paths))?;
    let design = Design::build(&set, &args.split)?;
    design.write_csv(&set, &args.out)?;
    Ok(format!(
        "wrote {} rows x {} features to {}",
        set.rows.len(),
        design.p,
        args.out.display()
    ))
}

/// Writes a fitted model into the repository (the artifact, then `metrics.json` and
/// `report.html` beside it) and describes what was written.
fn write_model(target: &Path, fitted: &Fitted, started: Instant) -> Result<String, TrainError> {
    repository::write_artifact(target, &fitted.artifact.to_json())?;
    let metrics_path = target.with_file_name("metrics.json");
    let report = MetricsReport::of(fitted)?;
    report.write(&metrics_path)?;
    let html_path = target.with_file_name("report.html");
    write(&html_path, &html::render(fitted, &report))?;
    let mut points = String::new();
    if !report.scorecard.is_empty() {
        let path = target.with_file_name("scorecard.csv");
        crate::train::report::PointsRow::write_csv(&report.scorecard, &path)?;
        points = format!(" (points table: {})", path.display());
    }
    Ok(format!(
        "wrote {}, {} and {}{points}\n{}\ntook {:.1}s",
        target.display(),
        metrics_path.display(),
        html_path.display(),
        console::fitted(&fitted.artifact),
        started.elapsed().as_secs_f64()
    ))
}

fn read(path: &Path) -> Result<String, TrainError> {
    std::fs::read_to_string(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    std::fs::write(path, bytes).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), TrainError> {
    std::fs::write(path, text).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Fit {
        #[command(flatten)]
        args: FitArgs,
    }

    fn fit_args(flags: &[&str]) -> FitArgs {
        let argv = std::iter::once("fit").chain(flags.iter().copied());
        Fit::try_parse_from(argv).expect("flags parse").args
    }

    #[test]
    fn flags_win_over_the_config_file_which_wins_over_defaults() {
        let file: TrainConfig = toml::from_str(
            "model = \"gbdt\"\nname = \"from-file\"\nversion = \"7\"\nsplit = \"hash:0.3\"\n[logistic]\nl2 = 4.0\n",
        )
        .expect("config");
        let (kind, config) = fit_args(&["--name", "from-flag", "--l2", "2.5"])
            .resolve(&file)
            .expect("resolves");
        assert_eq!(kind, ModelKind::Gbdt);
        assert_eq!(config.name, "from-flag");
        assert_eq!(config.version, "7");
        assert_eq!(config.split, "hash:0.3".parse::<Split>().expect("split"));
        assert_eq!(config.l2_penalty, 2.5);
        assert_eq!(config.max_iterations, 500);

        let (kind, config) = fit_args(&["--tables", "data/acme"])
            .resolve(&TrainConfig::default())
            .expect("defaults");
        assert_eq!(kind, ModelKind::Logistic);
        // Named after the data, versioned by the repository.
        assert_eq!(
            (config.name.as_str(), config.version.as_str()),
            ("acme", "")
        );
        assert_eq!(config.split, "mod:5".parse::<Split>().expect("split"));
        assert_eq!(config.calibration, None);
    }

    #[test]
    fn a_bad_split_in_the_config_file_is_a_config_error() {
        let file = TrainConfig {
            split: Some("thirds".into()),
            ..TrainConfig::default()
        };
        let err = fit_args(&[]).resolve(&file).expect_err("refused");
        assert!(matches!(err, TrainError::Config(_)), "{err}");
    }

    #[test]
    fn an_error_says_each_cause_once() {
        let missing = TrainError::Io {
            path: PathBuf::from("data/accounts.csv"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(error_message(&missing), "data/accounts.csv: no such file");
    }

    #[test]
    fn tables_are_found_parquet_first_unless_a_flag_names_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("accounts.parquet"), b"").expect("write");
        let args = TableArgs {
            dir: dir.path().to_path_buf(),
            accounts: None,
            history: None,
            outcomes: Some(PathBuf::from("elsewhere/outcomes.csv")),
            ignore_unknown_columns: false,
            null_values: vec!["NA".into()],
        };
        let paths = args.paths();
        assert_eq!(paths.read.null_values, ["NA"]);
        assert_eq!(paths.accounts, dir.path().join("accounts.parquet"));
        assert_eq!(paths.history, dir.path().join("payment_history.csv"));
        assert_eq!(paths.outcomes, PathBuf::from("elsewhere/outcomes.csv"));
    }

    #[test]
    fn fit_refuses_to_overwrite_a_version_without_being_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = repository::artifact_path(dir.path(), "acme", "1");
        repository::write_artifact(&target, "{}").expect("existing version");
        let mut args = fit_args(&["--tables", "does/not/acme", "--version", "1"]);
        args.models_dir = dir.path().to_path_buf();
        let err = fit(&args).expect_err("refused before reading any table");
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).expect("kept"), "{}");
    }

    #[test]
    fn the_shipped_versions_are_marked_and_never_replaced() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for version in ["1", "2"] {
            let dir = root.join("models/uci-credit").join(version);
            assert!(
                dir.join(repository::SHIPPED_MARKER).is_file(),
                "{}",
                dir.display()
            );
        }
        let err = repository::place(
            &root.join("models"),
            "uci-credit",
            Some("2"),
            repository::Existing::Replace,
        )
        .expect_err("shipped");
        assert!(err.to_string().contains("shipped"), "{err}");
    }
}
