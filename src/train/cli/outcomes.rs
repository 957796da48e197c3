//! The commands of the outcomes loop: `decisions` (the audit log as a table), `simulate`
//! (events with a known treatment effect), `readout` (what decisions led to) and `roll-rates`
//! (moves between aging buckets).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::progress::stage;
use super::TableArgs;
use crate::train::readout::{self, segments, Decided, Metric, Readout, ReadoutOptions};
use crate::train::tables::{self, ReadOptions};
use crate::train::{html, report, RowError, TrainError};

/// Options of `decisions`.
#[derive(Debug, Clone, clap::Args)]
pub struct DecisionsArgs {
    /// The server's audit directory (its `decisions-*.jsonl` files), or one audit file.
    #[arg(long)]
    pub audit: PathBuf,
    /// Where to write the decisions table (Parquet for .parquet, else CSV).
    #[arg(long, default_value = "decisions.parquet")]
    pub output: PathBuf,
    /// Keep the good lines and write every refused one with its reason to rejects.csv beside
    /// the output, instead of stopping.
    #[arg(long)]
    pub lenient: bool,
}

/// Turns the audit log into the typed decisions table.
pub fn decisions(args: &DecisionsArgs) -> Result<String, TrainError> {
    let read = stage("reading the audit log", || {
        crate::train::decisions::read(&args.audit, args.lenient)
    })?;
    stage("writing the decisions table", || {
        crate::train::decisions::write(&read.records, &args.output)
    })?;
    let mut out = format!(
        "wrote {} decisions to {}",
        read.records.len(),
        args.output.display()
    );
    if !read.rejects.is_empty() {
        let rejects = args.output.with_file_name("rejects.csv");
        tables::write_rejects(&rejects, &read.rejects)?;
        let _ = write!(
            out,
            "; {} line(s) refused, each with its reason in {}",
            read.rejects.len(),
            rejects.display()
        );
    }
    Ok(out)
}

/// The decisions at `path`: a decisions table (`.parquet`), or the audit log (a directory or a
/// `.jsonl` file), with the audit lines refused by a lenient read.
pub(super) fn load_decisions(
    path: &Path,
    lenient: bool,
) -> Result<(Decided, Vec<RowError>), TrainError> {
    if tables::is_parquet(path) {
        Ok((Decided::read_table(path)?, Vec::new()))
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        Err(TrainError::Config(format!(
            "{}: a readout reads the decisions table as Parquet (`payrisk-train decisions \
             --output decisions.parquet`) or the audit log itself; a CSV copy loses its types",
            path.display()
        )))
    } else {
        let read = crate::train::decisions::read(path, lenient)?;
        Ok((Decided::of_records(&read.records), read.rejects))
    }
}

/// The canonical tables in `dir` (for segments and roll rates).
fn portfolio(dir: &Path, read: &ReadOptions) -> Result<Vec<crate::domain::Account>, TrainError> {
    let paths = TableArgs {
        dir: dir.to_path_buf(),
        accounts: None,
        history: None,
        outcomes: None,
        ignore_unknown_columns: read.ignore_unknown_columns,
        null_values: read.null_values.clone(),
    }
    .paths();
    tables::load_portfolio(&paths.accounts, &paths.history, read)
}

fn window(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(w) if readout::WINDOWS.contains(&w) => Ok(w),
        _ => Err(format!(
            "the observation window is one of {:?} days",
            readout::WINDOWS
        )),
    }
}

/// Options of `readout`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadoutArgs {
    /// The decisions: a decisions table written by `decisions` (.parquet), or the server's
    /// audit directory or one audit file.
    #[arg(long)]
    pub decisions: PathBuf,
    /// The events table (CSV or Parquet; see docs/outcomes.md).
    #[arg(long)]
    pub events: PathBuf,
    /// Observation window after each decision, in days: 30, 60 or 90.
    #[arg(long, default_value_t = 90, value_parser = window)]
    pub window: u32,
    /// The date outcomes are known to (YYYY-MM-DD; default: the latest event's). Decisions whose
    /// window has not closed by then are left out.
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// The experiment's planned number of accounts (its fixed horizon): no verdict before
    /// that many accounts of the compared arms are mature.
    #[arg(long)]
    pub planned_accounts: Option<u64>,
    /// The metric the experiment's verdict is on.
    #[arg(long, value_enum, default_value = "recovery")]
    pub primary: Metric,
    /// Directory of the canonical accounts and payment-history tables: adds the roll-rate
    /// matrices of the history, and makes --segment possible.
    #[arg(long)]
    pub tables: Option<PathBuf>,
    /// A customer segment to break the readout down by: a feature name (`prior_delinquencies`,
    /// `log_credit_limit`, `attr.<name>`), computed from --tables.
    #[arg(long, requires = "tables")]
    pub segment: Option<String>,
    /// Keep the good rows and write every refused decision line and event row to
    /// rejects.csv in --out, instead of stopping.
    #[arg(long)]
    pub lenient: bool,
    /// Cell texts of the events table that mean "missing" besides the empty cell.
    #[arg(long, value_delimiter = ',')]
    pub null_values: Vec<String>,
    /// Output directory for readout.json and readout.html.
    #[arg(long, default_value = "readout")]
    pub out: PathBuf,
}

/// Joins decisions to their events and writes the readout (JSON and HTML).
pub fn readout(args: &ReadoutArgs) -> Result<String, TrainError> {
    let read = ReadOptions {
        null_values: args.null_values.clone(),
        ..ReadOptions::default()
    };
    let (decided, mut rejects) = stage("reading the decisions", || {
        load_decisions(&args.decisions, args.lenient)
    })?;
    let events = stage("reading the events", || {
        crate::train::events::read(&args.events, decided.index(), &read, args.lenient)
    })?;
    let accounts = match &args.tables {
        Some(dir) => Some(stage("reading the accounts and their history", || {
            portfolio(dir, &read)
        })?),
        None => None,
    };
    let labels = match (&args.segment, &accounts) {
        (Some(name), Some(accounts)) => Some(segments::by_feature(accounts, name)?),
        _ => None,
    };
    let options = ReadoutOptions {
        window_days: args.window,
        as_of: args.as_of,
        planned_accounts: args.planned_accounts,
        primary: args.primary,
    };
    let mut r = stage("reading out", || {
        Ok::<_, TrainError>(readout::readout(
            &decided,
            &events,
            args.segment.as_deref().zip(labels.as_ref()),
            &options,
        ))
    })?;
    if let Some(accounts) = &accounts {
        r.roll_rates = Some(readout::rolls::roll_rates(
            accounts,
            args.segment.as_deref().zip(labels.as_ref()),
        ));
    }
    write_readout(&r, &args.out)?;
    rejects.extend(events.rejects);
    let mut out = summary(&r);
    if !rejects.is_empty() {
        let path = args.out.join("rejects.csv");
        tables::write_rejects(&path, &rejects)?;
        let _ = writeln!(
            out,
            "{} row(s) refused, each with its reason in {}",
            rejects.len(),
            path.display()
        );
    }
    let _ = write!(
        out,
        "wrote {} and {}",
        args.out.join("readout.json").display(),
        args.out.join("readout.html").display()
    );
    Ok(out)
}

/// Writes `readout.json` and `readout.html` into `dir`.
pub fn write_readout(r: &Readout, dir: &Path) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    report::write_json(r, &dir.join("readout.json"))?;
    let path = dir.join("readout.html");
    std::fs::write(&path, html::render_readout(r)).map_err(|source| TrainError::Io { path, source })
}

/// The readout's headline, for the terminal.
fn summary(r: &Readout) -> String {
    let j = &r.join;
    let mut out = format!(
        "{} decisions: {} mature over a {}-day window to {} ({} with events, {} without), {} still open; {} events joined ({} after their window), {} refused\n",
        j.decisions,
        j.mature_decisions,
        r.window_days,
        r.as_of,
        j.mature_with_events,
        j.mature_without_events,
        j.immature_decisions,
        j.events_joined,
        j.events_after_window,
        j.events_refused
    );
    if let Some(stages) = r.breakdowns.first() {
        let _ = writeln!(
            out,
            "{:>12} {:>10} {:>9} {:>9} {:>9}",
            stages.by, "decisions", "recovery", "cure", "roll fwd"
        );
        for g in &stages.groups {
            let _ = writeln!(
                out,
                "{:>12} {:>10} {:>8.1}% {:>8.1}% {:>8.1}%",
                g.key,
                g.decisions,
                100.0 * g.recovery_rate.unwrap_or(f64::NAN),
                100.0 * g.cure_rate,
                100.0 * g.roll_forward_rate
            );
        }
    }
    if let Some(e) = &r.experiment {
        let _ = writeln!(out, "experiment {} ({} accounts):", e.name, e.accounts);
        for c in &e.comparisons {
            let _ = writeln!(out, "  {}", c.verdict);
        }
    }
    out
}

/// Options of `roll-rates`.
#[derive(Debug, Clone, clap::Args)]
pub struct RollRatesArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tables: TableArgs,
    /// A customer segment to give a matrix each (a feature name, as for `readout`).
    #[arg(long)]
    pub segment: Option<String>,
    /// Where to write the matrices as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The roll-rate matrices of a portfolio's payment history.
pub fn roll_rates(args: &RollRatesArgs) -> Result<String, TrainError> {
    let paths = args.tables.paths();
    let accounts = stage("reading the accounts and their history", || {
        tables::load_portfolio(&paths.accounts, &paths.history, &paths.read)
    })?;
    let labels = match &args.segment {
        Some(name) => Some(segments::by_feature(&accounts, name)?),
        None => None,
    };
    let rolls = readout::rolls::roll_rates(&accounts, args.segment.as_deref().zip(labels.as_ref()));
    let mut out = readout::rolls::text(&rolls.portfolio);
    for m in &rolls.segments {
        out.push('\n');
        out.push_str(&readout::rolls::text(m));
    }
    let _ = write!(
        out,
        "{} accounts; {} statement pairs further apart than a month not counted",
        accounts.len(),
        rolls.gaps
    );
    if let Some(path) = &args.out {
        report::write_json(&rolls, path)?;
        let _ = write!(out, "; wrote {}", path.display());
    }
    Ok(out)
}

/// Options of `simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The decisions: a decisions table (.parquet), or the audit directory or file.
    #[arg(long)]
    pub decisions: PathBuf,
    /// First write a synthetic decisions table of this many decisions to --decisions (a
    /// Parquet file; see src/train/simulate.rs): the readout benchmark's input.
    #[arg(long)]
    pub synthetic: Option<usize>,
    /// Seed: the same seed and decisions write the same events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the events table (Parquet for .parquet, else CSV).
    #[arg(long, default_value = "events.csv")]
    pub output: PathBuf,
}

/// Simulates what each decision led to, with the documented treatment effect.
pub fn simulate(args: &SimulateArgs) -> Result<String, TrainError> {
    if let Some(n) = args.synthetic {
        if !tables::is_parquet(&args.decisions) {
            return Err(TrainError::Config(
                "--synthetic writes a Parquet decisions table: name a .parquet file in --decisions"
                    .into(),
            ));
        }
        stage("writing synthetic decisions", || {
            crate::train::simulate::write_synthetic_decisions(n, args.seed, &args.decisions)
        })?;
    }
    let (decided, _) = stage("reading the decisions", || {
        load_decisions(&args.decisions, false)
    })?;
    let n = stage("simulating and writing the events", || {
        crate::train::simulate::write_simulated(&decided, args.seed, &args.output)
    })?;
    Ok(format!(
        "simulated {n} events for {} decisions; wrote {}",
        decided.len(),
        args.output.display()
    ))
}
