//! `payrisk-train`: the offline trainer for data analysts (build with `--features train`).
//!
//! Each subcommand is one call into `payrisk::train::cli`, whose text is printed. Exit codes: 0
//! success, 1 failure, 2 bad command line, 3 invalid input data (the message names file, row
//! and column).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use payrisk::train::cli;
use payrisk::train::TrainError;

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
    ConvertUci(cli::ConvertUciArgs),
    /// Convert the long-format monthly status history into the canonical tables, scored as of
    /// month -7 with a forward-looking label (30+ days past due in months -6..0); see
    /// src/train/monthly.rs for every mapping choice.
    ConvertMonthly(cli::ConvertMonthlyArgs),
    /// Write a seeded synthetic portfolio (accounts, payment history, outcomes; see
    /// src/train/synthetic.rs for its distribution): for tests, demos and the scale benchmark.
    Generate(cli::GenerateArgs),
    /// Fit a model (logistic regression or gradient-boosted trees), evaluate it on the held-out
    /// split, and write its artifact to MODELS_DIR/NAME/VERSION/model.json.
    #[command(after_long_help = cli::TABLES_HELP)]
    Fit(cli::FitArgs),
    /// Import a LightGBM text model or an XGBoost JSON model as a payrisk artifact, evaluated on
    /// the tables' held-out split, into MODELS_DIR/NAME/VERSION/model.json.
    Import(cli::ImportArgs),
    /// Score an existing model on labelled tables (the held-out side of its split, or every row
    /// with --split all): metrics, decile table and drift against the model's training
    /// baseline; prints them, writes JSON to --out and an HTML report with charts beside it
    /// (same name, .html).
    #[command(after_long_help = cli::TABLES_HELP)]
    Evaluate(cli::EvaluateArgs),
    /// Champion against challenger on the same labelled tables, side by side; writes both
    /// evaluations and the differences as JSON to --out and an HTML report with both models'
    /// charts beside it (same name, .html).
    #[command(after_long_help = cli::TABLES_HELP)]
    Compare(cli::CompareArgs),
    /// Score a whole portfolio (accounts and payment history; no outcomes needed) with the
    /// serving model, policy and experiment, and write the worklist ranked by priority
    /// (Parquet when --output ends in .parquet, else CSV). A shadow experiment adds the
    /// challenger's decisions for its share (shadow_* columns).
    #[command(after_long_help = cli::TABLES_HELP)]
    Score(cli::ScoreArgs),
    /// Validate the tables, derive every account's features with the serving feature engine and
    /// write them as CSV (account_id, split, repaid, one column per feature; empty = missing).
    #[command(after_long_help = cli::TABLES_HELP)]
    Features(cli::FeaturesArgs),
    /// Turn the server's audit log (JSON Lines) into a typed decisions table (Parquet or CSV):
    /// one row per decision, keyed by its decision id; a corrupt or cut-short line is an error
    /// with its file and line (--lenient writes it to rejects.csv instead).
    Decisions(cli::DecisionsArgs),
    /// Simulate what each decision led to (payments, cures, rolls, promises, costs) with a
    /// known, documented treatment effect (src/train/simulate.rs): the events table for tests,
    /// demos and the readout's benchmark.
    Simulate(cli::SimulateArgs),
    /// Join decisions to their events over an observation window and read out recovery by
    /// aging bucket, band, treatment, action, channel, arm, model version and a segment; the
    /// serving model's live AUC, calibration and PSI by month; the experiment with intervals,
    /// p-values and a fixed-horizon verdict; and roll rates. Writes readout.json and
    /// readout.html (see docs/outcomes.md).
    Readout(cli::ReadoutArgs),
    /// Roll-rate matrices of a portfolio's payment history: month-over-month moves between
    /// 30-day aging buckets, for the portfolio and by segment.
    #[command(after_long_help = cli::TABLES_HELP)]
    RollRates(cli::RollRatesArgs),
    /// Choose one action per account for the day with a treatment-effect model, maximising
    /// total expected net recovery within capacities per channel (exact for one, Lagrangian
    /// with its gap for several); writes the worklist, plan.json and plan.html beside today's
    /// threshold policy.
    #[command(after_long_help = cli::TABLES_HELP)]
    Plan(cli::PlanArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into a file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let done = match Args::parse().command {
        Command::ConvertUci(args) => cli::convert_uci(&args),
        Command::ConvertMonthly(args) => cli::convert_monthly(&args),
        Command::Generate(args) => cli::generate(&args),
        Command::Fit(args) => cli::fit(&args),
        Command::Import(args) => cli::import(&args),
        Command::Evaluate(args) => cli::evaluate(&args),
        Command::Compare(args) => cli::compare(&args),
        Command::Score(args) => cli::score(&args),
        Command::Features(args) => cli::features(&args),
        Command::Decisions(args) => cli::decisions(&args),
        Command::Simulate(args) => cli::simulate(&args),
        Command::Readout(args) => cli::readout(&args),
        Command::Plan(args) => cli::plan(&args),
        Command::RollRates(args) => cli::roll_rates(&args),
    };
    match done {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = match e {
                TrainError::Data { .. } => ExitCode::from(3),
                _ => ExitCode::FAILURE,
            };
            eprintln!("error: {}", cli::error_message(&e));
            code
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_help_of_every_command_that_reads_tables_describes_them() {
        use clap::CommandFactory;
        let mut args = super::Args::command();
        for name in ["fit", "evaluate", "compare", "score", "features"] {
            let command = args.find_subcommand_mut(name).expect("a command");
            let help = command.render_long_help().to_string();
            assert!(help.contains("payment_history"), "{name}: {help}");
            assert!(help.contains("--ignore-unknown-columns"), "{name}");
        }
    }
}
