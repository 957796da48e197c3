//! `payrisk-train`: the offline trainer for data analysts (build with `--features train`).
//!
//! Exit codes: 0 success, 1 failure, 2 bad command line, 3 invalid input data (the message names
//! file, row and column).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use payrisk::train::fit::{fit_logistic, FitConfig};
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
    /// Fit a logistic model, evaluate it on the held-out split, and write its artifact to
    /// MODELS_DIR/NAME/VERSION/model.json.
    Fit {
        /// Directory holding accounts.csv, payment_history.csv and outcomes.csv (or .parquet);
        /// the --accounts/--history/--outcomes flags override single tables.
        #[arg(long, default_value = "data/uci")]
        tables: PathBuf,
        /// Accounts table (CSV or Parquet).
        #[arg(long)]
        accounts: Option<PathBuf>,
        /// Payment-history table (CSV or Parquet).
        #[arg(long)]
        history: Option<PathBuf>,
        /// Outcomes table (CSV or Parquet).
        #[arg(long)]
        outcomes: Option<PathBuf>,
        /// Held-out split: `mod:M[:R]` (integer ids, test = id % M == R) or
        /// `hash:FRACTION[:SEED]`.
        #[arg(long, default_value = "mod:5")]
        split: Split,
        /// Model name.
        #[arg(long, default_value = "uci-credit")]
        name: String,
        /// Model version.
        #[arg(long, default_value = "1")]
        version: String,
        /// L2 penalty.
        #[arg(long, default_value_t = 1.0)]
        l2: f64,
        /// Optimiser iteration cap.
        #[arg(long, default_value_t = 500)]
        max_iterations: u64,
        /// Where model directories go.
        #[arg(long, default_value = "models")]
        models_dir: PathBuf,
        /// Replace an existing artifact of the same name and version.
        #[arg(long)]
        force: bool,
    },
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
            let c = uci::convert(&input, &out)?;
            println!(
                "wrote {} accounts and {} payment cycles to {}",
                c.accounts,
                c.cycles,
                out.display()
            );
        }
        Command::Fit {
            tables: dir,
            accounts,
            history,
            outcomes,
            split,
            name,
            version,
            l2,
            max_iterations,
            models_dir,
            force,
        } => {
            let paths = TablePaths {
                accounts: table(&dir, accounts, "accounts"),
                history: table(&dir, history, "payment_history"),
                outcomes: table(&dir, outcomes, "outcomes"),
            };
            let target = models_dir.join(&name).join(&version).join("model.json");
            if target.exists() && !force {
                anyhow::bail!(
                    "{} exists; pass --force to replace it or choose another --version",
                    target.display()
                );
            }
            let started = std::time::Instant::now();
            let set = tables::load(&paths)?;
            tracing::info!(accounts = set.rows.len(), "tables loaded and validated");
            let config = FitConfig {
                name,
                version,
                split,
                l2_penalty: l2,
                max_iterations,
            };
            let fitted = fit_logistic(&set, &paths, &config)?;
            let a = &fitted.artifact;
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&target, a.to_json())
                .with_context(|| format!("cannot write {}", target.display()))?;
            let (tr, te) = (a.metrics.train, a.metrics.test);
            println!("wrote {}", target.display());
            println!(
                "split: {} ({} train / {} test rows)",
                a.training.split, a.training.train_rows, a.training.test_rows
            );
            println!("            AUC     Gini    KS      Brier   LogLoss");
            println!(
                "train    {:.4}  {:.4}  {:.4}  {:.4}  {:.4}",
                tr.auc, tr.gini, tr.ks, tr.brier, tr.log_loss
            );
            println!(
                "test     {:.4}  {:.4}  {:.4}  {:.4}  {:.4}",
                te.auc, te.gini, te.ks, te.brier, te.log_loss
            );
            println!("data fingerprint: {}", a.training.data_fingerprint);
            println!("took {:.1}s", started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}
