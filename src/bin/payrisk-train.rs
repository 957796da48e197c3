//! `payrisk-train`: the offline trainer for data analysts (build with `--features train`).
//!
//! Exit codes: 0 success, 1 failure, 2 bad command line, 3 invalid input data (the message names
//! file, row and column).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use payrisk::model::calibration::CalibrationMethod;
use payrisk::train::config::{ModelKind, TrainConfig};
use payrisk::train::fit::{fit_gbdt_observed, fit_logistic, import_gbdt, Design, FitConfig};
use payrisk::train::report::{write_json, Comparison, Evaluation, MetricsReport};
use payrisk::train::split::Split;
use payrisk::train::tables::{self, TablePaths};
use payrisk::train::{uci, TrainError};

/// Train and evaluate payrisk models.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert the UCI credit-default CSV into the canonical accounts, payment-history and
    /// outcomes tables.
    ConvertUci {
        /// The UCI CSV.
        #[arg(long, default_value = "../shared/data/uci_credit_default.csv")]
        input: PathBuf,
        /// Output directory for accounts.csv, payment_history.csv and outcomes.csv.
        #[arg(long, default_value = "data/uci")]
        out: PathBuf,
    },
    /// Convert the long-format monthly status history into the canonical tables, scored as of
    /// month -7 with a forward-looking label (30+ days past due in months -6..0); see
    /// src/train/monthly.rs for every mapping choice.
    ConvertMonthly {
        /// The monthly status CSV (ID, MONTHS_BALANCE, STATUS).
        #[arg(long, default_value = "../shared/data/monthly_credit_status.csv")]
        input: PathBuf,
        /// Output directory for accounts.csv, payment_history.csv and outcomes.csv.
        #[arg(long, default_value = "data/monthly")]
        out: PathBuf,
    },
    /// Write a seeded synthetic portfolio (accounts, payment history, outcomes; see
    /// src/train/synthetic.rs for its distribution): for tests, demos and the scale benchmark.
    Generate {
        /// Accounts to generate (about ten history rows each).
        #[arg(long, default_value_t = 100_000)]
        accounts: usize,
        /// Seed: the same seed writes the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Table format.
        #[arg(long, value_enum, default_value_t = TableFormat::Parquet)]
        format: TableFormat,
        /// Output directory.
        #[arg(long, default_value = "data/synthetic")]
        out: PathBuf,
    },
    /// Fit a model (logistic regression or gradient-boosted trees), evaluate it on the held-out
    /// split, and write its artifact to MODELS_DIR/NAME/VERSION/model.json.
    Fit {
        #[command(flatten)]
        tables: TableArgs,
        /// Training config file (TOML: model, name, version, split, [logistic], [gbdt]).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Model kind [default: the config's, else logistic].
        #[arg(long, value_enum)]
        model: Option<ModelKind>,
        /// Held-out split: `mod:M[:R]` (integer ids, test = id % M == R),
        /// `hash:FRACTION[:SEED]`, or `time:YYYY-MM-DD` (out of time: test = snapshots with
        /// as_of after the date) [default: the config's, else mod:5].
        #[arg(long)]
        split: Option<Split>,
        /// Model name [default: the config's, else uci-credit].
        #[arg(long)]
        name: Option<String>,
        /// Model version [default: the config's, else 1].
        #[arg(long)]
        version: Option<String>,
        /// Logistic L2 penalty [default: the config's, else 1.0].
        #[arg(long)]
        l2: Option<f64>,
        /// Logistic optimiser iteration cap [default: the config's, else 500].
        #[arg(long)]
        max_iterations: Option<u64>,
        /// Reject invalid accounts (all their rows) instead of stopping; every rejected row is
        /// written with its reason to rejects.csv beside the artifact.
        #[arg(long)]
        lenient: bool,
        /// Calibrate probabilities on 20 % of the training rows, held out of the fit
        /// [default: the config's, else none].
        #[arg(long, value_enum)]
        calibration: Option<CalibrationArg>,
        /// Where model directories go.
        #[arg(long, default_value = "models")]
        models_dir: PathBuf,
        /// Replace an existing artifact of the same name and version.
        #[arg(long)]
        force: bool,
    },
    /// Import a LightGBM text model or an XGBoost JSON model as a payrisk artifact, evaluated on
    /// the tables' held-out split, into MODELS_DIR/NAME/VERSION/model.json.
    Import {
        /// Source format.
        #[arg(long, value_enum)]
        format: ImportFormat,
        /// The model file (LightGBM `model.txt`, XGBoost `model.json`).
        #[arg(long)]
        input: PathBuf,
        /// Feature map: lines `source_name = payrisk_name` (names not listed are used as they
        /// are).
        #[arg(long)]
        feature_map: Option<PathBuf>,
        /// Which class the source model predicts the probability of.
        #[arg(long, value_enum, default_value_t = PositiveClass::Repaid)]
        positive_class: PositiveClass,
        #[command(flatten)]
        tables: TableArgs,
        /// Held-out split for the evaluation, as for `fit`.
        #[arg(long, default_value = "mod:5")]
        split: Split,
        /// Model name.
        #[arg(long)]
        name: String,
        /// Model version.
        #[arg(long, default_value = "1")]
        version: String,
        /// Where model directories go.
        #[arg(long, default_value = "models")]
        models_dir: PathBuf,
        /// Replace an existing artifact of the same name and version.
        #[arg(long)]
        force: bool,
    },
    /// Score an existing model on labelled tables (every row): metrics, decile table and drift
    /// against the model's training baseline; prints them, writes JSON to --out and an HTML
    /// report with charts beside it (same name, .html).
    Evaluate {
        /// The model artifact.
        #[arg(long, default_value = "models/uci-credit/2/model.json")]
        model: PathBuf,
        #[command(flatten)]
        tables: TableArgs,
        /// Where to write the evaluation JSON.
        #[arg(long, default_value = "evaluation.json")]
        out: PathBuf,
    },
    /// Champion against challenger on the same labelled tables, side by side; writes both
    /// evaluations and the differences as JSON to --out and an HTML report with both models'
    /// charts beside it (same name, .html).
    Compare {
        /// The model in production.
        #[arg(long)]
        champion: PathBuf,
        /// The candidate.
        #[arg(long)]
        challenger: PathBuf,
        #[command(flatten)]
        tables: TableArgs,
        /// Where to write the comparison JSON.
        #[arg(long, default_value = "comparison.json")]
        out: PathBuf,
    },
    /// Score a whole portfolio (accounts and payment history; no outcomes needed) with the
    /// serving model, policy and experiment, and write the worklist ranked by priority
    /// (Parquet when --output ends in .parquet, else CSV). A shadow experiment adds the
    /// challenger's decisions for its share (shadow_* columns).
    Score {
        /// The model artifact.
        #[arg(long, default_value = payrisk::server::DEFAULT_MODEL)]
        model: PathBuf,
        /// The treatment policy.
        #[arg(long, default_value = payrisk::server::DEFAULT_POLICY)]
        policy: PathBuf,
        #[command(flatten)]
        tables: TableArgs,
        /// The decision time for contact caps and promises (RFC 3339) [default: now].
        #[arg(long)]
        decision_time: Option<chrono::DateTime<chrono::Utc>>,
        /// Where to write the ranked worklist.
        #[arg(long, default_value = "scores.parquet")]
        output: PathBuf,
    },
    /// Validate the tables, derive every account's features with the serving feature engine and
    /// write them as CSV (account_id, split, repaid, one column per feature; empty = missing).
    Features {
        #[command(flatten)]
        tables: TableArgs,
        /// Held-out split, as for `fit`.
        #[arg(long, default_value = "mod:5")]
        split: Split,
        /// Output CSV.
        #[arg(long, default_value = "data/uci/features.csv")]
        out: PathBuf,
    },
}

/// Probability calibration of `fit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CalibrationArg {
    /// The model's own probabilities.
    None,
    /// Platt scaling of the log-odds.
    Platt,
    /// Isotonic regression of the probability.
    Isotonic,
}

/// File format of generated tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TableFormat {
    /// CSV with a header row.
    Csv,
    /// Typed Parquet.
    Parquet,
}

/// Model formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ImportFormat {
    /// LightGBM text model (`Booster.save_model`).
    Lightgbm,
    /// XGBoost JSON model (`Booster.save_model("model.json")`).
    Xgboost,
}

/// The class an imported model's probability is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PositiveClass {
    /// Repayment (as payrisk).
    Repaid,
    /// Default: payrisk flips the model.
    Default,
}

/// Where the canonical tables are.
#[derive(Debug, clap::Args)]
struct TableArgs {
    /// Directory holding accounts, payment_history and outcomes as .csv or .parquet; the
    /// --accounts/--history/--outcomes flags override single tables.
    #[arg(long = "tables", default_value = "data/uci")]
    dir: PathBuf,
    /// Accounts table (CSV or Parquet).
    #[arg(long)]
    accounts: Option<PathBuf>,
    /// Payment-history table (CSV or Parquet).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Outcomes table (CSV or Parquet).
    #[arg(long)]
    outcomes: Option<PathBuf>,
}

impl TableArgs {
    fn paths(self) -> TablePaths {
        TablePaths {
            accounts: table(&self.dir, self.accounts, "accounts"),
            history: table(&self.dir, self.history, "payment_history"),
            outcomes: table(&self.dir, self.outcomes, "outcomes"),
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<TrainError>()
                .is_some_and(|t| matches!(t, TrainError::Data { .. }))
            {
                ExitCode::from(3)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn table(dir: &std::path::Path, flag: Option<PathBuf>, stem: &str) -> PathBuf {
    flag.unwrap_or_else(|| {
        let parquet = dir.join(format!("{stem}.parquet"));
        if parquet.exists() {
            parquet
        } else {
            dir.join(format!("{stem}.csv"))
        }
    })
}

fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::ConvertUci { input, out } => {
            let c = stage("converting the UCI data", || uci::convert(&input, &out))?;
            println!(
                "wrote {} accounts and {} payment cycles to {}",
                c.accounts,
                c.cycles,
                out.display()
            );
        }
        Command::Import {
            format,
            input,
            feature_map,
            positive_class,
            tables,
            split,
            name,
            version,
            models_dir,
            force,
        } => {
            let target = models_dir.join(&name).join(&version).join("model.json");
            if target.exists() && !force {
                anyhow::bail!(
                    "{} exists; pass --force to replace it or choose another --version",
                    target.display()
                );
            }
            let started = std::time::Instant::now();
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let imported = match format {
                ImportFormat::Lightgbm => payrisk::model::import::lightgbm(&text)?,
                ImportFormat::Xgboost => payrisk::model::import::xgboost(&text)?,
            };
            let mut mapping = std::collections::HashMap::new();
            if let Some(path) = &feature_map {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let Some((from, to)) = line.split_once('=') else {
                        anyhow::bail!("{}:{}: expected `source = payrisk`", path.display(), n + 1);
                    };
                    mapping.insert(from.trim().to_owned(), to.trim().to_owned());
                }
            }
            let paths = tables.paths();
            let set = stage("reading and validating the tables", || tables::load(&paths))?;
            let config = FitConfig {
                name,
                version,
                split,
                l2_penalty: 0.0,
                max_iterations: 0,
                calibration: None,
            };
            let fitted = import_gbdt(
                &set,
                &paths,
                &config,
                &imported,
                &mapping,
                positive_class == PositiveClass::Repaid,
            )?;
            write_and_report(&target, &fitted, started)?;
        }
        Command::Generate {
            accounts,
            seed,
            format,
            out,
        } => {
            use payrisk::train::synthetic::{generate, Format, PortfolioSpec};
            let format = match format {
                TableFormat::Csv => Format::Csv,
                TableFormat::Parquet => Format::Parquet,
            };
            let g = stage("generating the synthetic portfolio", || {
                generate(PortfolioSpec { accounts, seed }, &out, format)
            })?;
            println!(
                "wrote {} accounts ({} defaulted, {:.1} %) and {} history rows to {}",
                g.accounts,
                g.defaulted,
                100.0 * g.defaulted as f64 / g.accounts.max(1) as f64,
                g.cycles,
                out.display()
            );
        }
        Command::ConvertMonthly { input, out } => {
            let c = stage("converting the monthly status history", || {
                payrisk::train::monthly::convert(&input, &out)
            })?;
            println!(
                "wrote {} accounts ({} defaulted, {:.1} %) and {} history rows to {}; {} accounts skipped (under {} months of history or no outcome window)",
                c.accounts,
                c.defaulted,
                100.0 * c.defaulted as f64 / c.accounts.max(1) as f64,
                c.cycles,
                out.display(),
                c.skipped,
                payrisk::train::monthly::MIN_HISTORY_MONTHS
            );
        }
        Command::Evaluate { model, tables, out } => {
            let paths = tables.paths();
            let model = load_model(&model)?;
            let set = stage("reading and validating the tables", || tables::load(&paths))?;
            let e = stage("scoring", || Evaluation::of(&model, &set, &paths))?;
            print_evaluations(&[&e]);
            write_json(&e, &out)?;
            let html = out.with_extension("html");
            write_html(
                &html,
                &payrisk::train::html::render_evaluation(&e, model.artifact()),
            )?;
            println!("wrote {} and {}", out.display(), html.display());
        }
        Command::Compare {
            champion,
            challenger,
            tables,
            out,
        } => {
            let paths = tables.paths();
            let (champion, challenger) = (load_model(&champion)?, load_model(&challenger)?);
            let set = stage("reading and validating the tables", || tables::load(&paths))?;
            let c = Comparison::of(
                stage("scoring the champion", || {
                    Evaluation::of(&champion, &set, &paths)
                })?,
                stage("scoring the challenger", || {
                    Evaluation::of(&challenger, &set, &paths)
                })?,
            )?;
            print_evaluations(&[&c.champion, &c.challenger]);
            println!(
                "challenger - champion: AUC {:+.4}  KS {:+.4}  Brier {:+.4}  ECE {:+.4}",
                c.auc_delta, c.ks_delta, c.brier_delta, c.ece_delta
            );
            write_json(&c, &out)?;
            let html = out.with_extension("html");
            write_html(
                &html,
                &payrisk::train::html::render_comparison(
                    &c,
                    champion.artifact(),
                    challenger.artifact(),
                ),
            )?;
            println!("wrote {} and {}", out.display(), html.display());
        }
        Command::Score {
            model,
            policy,
            tables,
            decision_time,
            output,
        } => {
            let deployment = payrisk::deployment::Deployment::load(&model, &policy)?;
            let paths = tables.paths();
            let accounts = stage("reading and validating the portfolio", || {
                tables::load_portfolio(&paths.accounts, &paths.history)
            })?;
            let now = decision_time.unwrap_or_else(chrono::Utc::now);
            let started = std::time::Instant::now();
            let ranked = stage("scoring and ranking", || {
                Ok::<_, TrainError>(payrisk::train::worklist::rank(&deployment, &accounts, now))
            })?;
            let seconds = started.elapsed().as_secs_f64();
            stage("writing the worklist", || {
                payrisk::train::worklist::write(&ranked, &output)
            })?;
            println!(
                "scored and ranked {} accounts in {seconds:.2} s ({:.0} accounts/s); wrote {}",
                ranked.len(),
                ranked.len() as f64 / seconds.max(1e-9),
                output.display()
            );
        }
        Command::Features { tables, split, out } => {
            let paths = tables.paths();
            let set = stage("reading and validating the tables", || tables::load(&paths))?;
            let design = Design::build(&set, &split)?;
            design.write_csv(&set, &out)?;
            println!(
                "wrote {} rows x {} features to {}",
                set.rows.len(),
                design.p,
                out.display()
            );
        }
        Command::Fit {
            tables,
            config,
            model,
            split,
            name,
            version,
            l2,
            max_iterations,
            lenient,
            calibration,
            models_dir,
            force,
        } => {
            let file = match &config {
                Some(path) => TrainConfig::load(path)?,
                None => TrainConfig::default(),
            };
            let split = match (split, &file.split) {
                (Some(s), _) => s,
                (None, Some(s)) => s.parse().map_err(anyhow::Error::msg)?,
                (None, None) => "mod:5".parse().map_err(anyhow::Error::msg)?,
            };
            let kind = model.or(file.model).unwrap_or(ModelKind::Logistic);
            let fit_config = FitConfig {
                name: name
                    .or(file.name.clone())
                    .unwrap_or_else(|| "uci-credit".into()),
                version: version
                    .or(file.version.clone())
                    .unwrap_or_else(|| "1".into()),
                split,
                l2_penalty: l2.unwrap_or(file.logistic.l2),
                max_iterations: max_iterations.unwrap_or(file.logistic.max_iterations),
                calibration: match calibration {
                    Some(CalibrationArg::None) => None,
                    Some(CalibrationArg::Platt) => Some(CalibrationMethod::Platt),
                    Some(CalibrationArg::Isotonic) => Some(CalibrationMethod::Isotonic),
                    None => file.calibration,
                },
            };
            let paths = tables.paths();
            let target = models_dir
                .join(&fit_config.name)
                .join(&fit_config.version)
                .join("model.json");
            if target.exists() && !force {
                anyhow::bail!(
                    "{} exists; pass --force to replace it or choose another --version",
                    target.display()
                );
            }
            let started = std::time::Instant::now();
            let set = if lenient {
                let loaded = stage("reading and validating the tables (lenient)", || {
                    tables::load_with(&paths, true)
                })?;
                let rejects = target.with_file_name("rejects.csv");
                write_rejects(&rejects, &loaded.rejects)?;
                println!(
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
                    fit_logistic(&set, &paths, &fit_config)
                })?,
                ModelKind::Gbdt => {
                    // A bar over the round budget (early stopping may end it sooner).
                    let bar = indicatif::ProgressBar::new(file.gbdt.trees as u64);
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "fitting gradient-boosted trees [{bar:30}] {pos}/{len} rounds ({elapsed})",
                    ) {
                        bar.set_style(style);
                    }
                    let started = std::time::Instant::now();
                    let fitted = fit_gbdt_observed(&set, &paths, &fit_config, &file.gbdt, &|r| {
                        bar.set_position(r as u64)
                    });
                    bar.finish_and_clear();
                    tracing::info!(
                        step = "fitting gradient-boosted trees",
                        seconds = started.elapsed().as_secs_f64(),
                        "step finished"
                    );
                    fitted?
                }
            };
            write_and_report(&target, &fitted, started)?;
        }
    }
    Ok(())
}

/// Runs one long step under a spinner with its elapsed time (drawn on stderr only when it is a
/// terminal, so scripts and CI logs stay clean) and logs how long it took.
fn stage<T, E>(label: &str, step: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(label.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let started = std::time::Instant::now();
    let result = step();
    bar.finish_and_clear();
    tracing::info!(
        step = label,
        seconds = started.elapsed().as_secs_f64(),
        ok = result.is_ok(),
        "step finished"
    );
    result
}

/// Writes rejected rows as CSV: file, row, column, account_id, reason.
fn write_rejects(
    path: &std::path::Path,
    rejects: &[payrisk::train::RowError],
) -> anyhow::Result<()> {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("file,row,column,account_id,reason\n");
    for e in rejects {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            quote(&e.file),
            e.row,
            quote(&e.column),
            quote(e.account_id.as_deref().unwrap_or("")),
            quote(&e.message)
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes an HTML report.
fn write_html(path: &std::path::Path, html: &str) -> anyhow::Result<()> {
    std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))
}

/// Loads and validates a model artifact.
fn load_model(path: &std::path::Path) -> anyhow::Result<payrisk::model::Model> {
    let artifact = payrisk::model::Artifact::load(path)?;
    Ok(payrisk::model::Model::from_artifact(artifact)?)
}

/// Prints evaluations side by side: metrics, then the riskiest deciles, then the largest drift.
fn print_evaluations(all: &[&Evaluation]) {
    println!(
        "model                  rows    AUC     Gini    KS      Brier   LogLoss ECE     score PSI"
    );
    for e in all {
        let m = e.metrics;
        let psi = e
            .drift
            .as_ref()
            .map_or_else(|| "-".to_string(), |d| format!("{:.4}", d.score_psi));
        println!(
            "{:<26} {:>6}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {psi}",
            format!("{}/{} ({})", e.name, e.version, e.kind),
            m.rows,
            m.auc,
            m.gini,
            m.ks,
            m.brier,
            m.log_loss,
            m.ece
        );
    }
    for e in all {
        println!(
            "{}/{}: decile  count  predicted  observed  capture  lift",
            e.name, e.version
        );
        for d in &e.deciles {
            println!(
                "        {:>6}  {:>5}  {:>9.3}  {:>8.3}  {:>7.3}  {:>4.2}",
                d.decile,
                d.count,
                d.mean_predicted,
                d.observed_repayment,
                d.cumulative_capture,
                d.lift
            );
        }
        if let Some(d) = &e.drift {
            let mut worst: Vec<_> = d.feature_psi.iter().collect();
            worst.sort_by(|a, b| b.psi.total_cmp(&a.psi));
            let top: Vec<String> = worst
                .iter()
                .take(3)
                .map(|f| format!("{} {:.3}", f.name, f.psi))
                .collect();
            println!("        largest feature PSI: {}", top.join(", "));
        }
    }
}

/// Writes the artifact and `metrics.json` beside it, and prints the metrics.
fn write_and_report(
    target: &std::path::Path,
    fitted: &payrisk::train::fit::Fitted,
    started: std::time::Instant,
) -> anyhow::Result<()> {
    let a = &fitted.artifact;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(target, a.to_json())
        .with_context(|| format!("cannot write {}", target.display()))?;
    let metrics_path = target.with_file_name("metrics.json");
    let report = MetricsReport::of(fitted)?;
    report.write(&metrics_path)?;
    let html_path = target.with_file_name("report.html");
    write_html(&html_path, &payrisk::train::html::render(fitted, &report))?;
    let (tr, te) = (a.metrics.train, a.metrics.test);
    println!(
        "wrote {}, {} and {}",
        target.display(),
        metrics_path.display(),
        html_path.display()
    );
    println!(
        "split: {} ({} train / {} test rows)",
        a.training.split, a.training.train_rows, a.training.test_rows
    );
    println!("            AUC     Gini    KS      Brier   LogLoss ECE");
    for (name, m) in [("train", tr), ("test", te)] {
        println!(
            "{name:<8} {:.4}  {:.4}  {:.4}  {:.4}  {:.4}  {:.4}",
            m.auc, m.gini, m.ks, m.brier, m.log_loss, m.ece
        );
    }
    println!("data fingerprint: {}", a.training.data_fingerprint);
    println!("took {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}
