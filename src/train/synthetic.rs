//! A synthetic collections portfolio: seeded, documented, as large as asked. It feeds the scale
//! benchmark (`payrisk-train generate`, then `fit`) and tests that need many accounts.
//!
//! Every account is drawn from its own generator, seeded from the portfolio seed and the
//! account's index, so account `i` is the same whatever the portfolio's size or thread count,
//! and the same seed always writes the same bytes.
//!
//! # The distribution
//! Each account has a hidden risk `z ~ N(0, 1)` (higher is riskier) that drives everything the
//! model can see, plus noise of its own in every field:
//! - **Snapshot**: `as_of` is one of [`SNAPSHOTS`] month ends, uniformly, from [`FIRST_AS_OF`]
//!   (a year of portfolio snapshots, so out-of-time splits such as `time:2025-09-30` work).
//!   Later snapshots default a little more (a drifting economy: +0.25 on the default log-odds
//!   over the year), so an out-of-time test is honestly harder than a random one.
//! - **Profile**: `months_on_book` from the history's length to 110 months more (skewed young); `credit_limit` log-normal around
//!   4,000, lower for riskier accounts, in hundreds, 500..50,000; `open_credit_lines` 1..30;
//!   `prior_delinquencies` 0..5, more for riskier accounts; `bureau_score` 690 - 55 z + noise in
//!   300..850, missing for 8 %; `annual_income` log-normal around 40,000, missing for 20 %;
//!   `hardship` with probability sigmoid(-3.5 + 0.8 z) (about 4 %).
//! - **History**: 2..=18 monthly cycles, uniformly (mean 10), the last on the
//!   `as_of` month end. Each cycle's `amount_due` is the limit times a utilisation that rises
//!   with risk; `minimum_due` is 3 % of it but at least 25 (never above the balance). A cycle is
//!   missed with probability sigmoid(-2.8 + 1.3 z + 1.2 `[previous cycle missed]` + 0.5
//!   `[hardship]`); a missed cycle adds 30 days past due (up to 180) and pays nothing or part of
//!   the minimum; a paid cycle clears the arrears and pays between the minimum and the previous
//!   statement in full (in full more often for safer accounts). `current_balance` is the last
//!   statement's balance.
//! - **Outcome**: repaid with probability sigmoid(2.1 - 1.1 z - 0.25 t - 0.01 dpd - 0.4
//!   hardship), with `t` the snapshot's position in the year (0..1) and `dpd` the last cycle's
//!   days past due: about 18 % of accounts default.
//!
//! Account ids are `1..=accounts` as text, so the `mod:` split works as on the UCI data.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use super::monthly::months_after;
use super::tables::{ReadOptions, TablePaths};
use super::TrainError;
use crate::boost::Rng;
use crate::domain::{Account, CreditProfile, PaymentCycle};
use crate::model::logistic::sigmoid;

/// Month ends the snapshots fall on, from [`FIRST_AS_OF`].
pub const SNAPSHOTS: u32 = 12;
/// The first snapshot month end.
pub const FIRST_AS_OF: (i32, u32) = (2025, 1);
/// Accounts generated per parallel task (and rows of a Parquet row group, about ten times that).
const CHUNK: usize = 50_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortfolioSpec {
    /// Accounts.
    pub accounts: usize,
    /// Seed: the same seed gives the same portfolio.
    pub seed: u64,
}

/// File format of the generated tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `accounts.csv`, `payment_history.csv`, `outcomes.csv`.
    Csv,
    /// The same tables as typed Parquet (`.parquet`).
    Parquet,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

/// What the generator wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The tables written.
    pub paths: TablePaths,
    /// Accounts.
    pub accounts: usize,
    /// Payment-history rows.
    pub cycles: usize,
    /// Accounts that defaulted.
    pub defaulted: usize,
}

/// Account `index` (0-based) of the portfolio with `seed`, and whether it repaid.
pub fn account(seed: u64, index: usize) -> (Account, bool) {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0xd134_2543_de82_ef95));
    // Mix the seed in: neighbouring indices must not start from neighbouring states.
    rng.next();
    let z = rng.normal();
    let snapshot = (rng.uniform() * f64::from(SNAPSHOTS)) as u32 % SNAPSHOTS;
    let drift = f64::from(snapshot) / f64::from(SNAPSHOTS - 1);
    let as_of = months_after(FIRST_AS_OF, snapshot as i64);

    let cycles = 2 + (rng.uniform() * 17.0) as u32;
    let months_on_book = cycles + (rng.uniform().powf(1.5) * 110.0) as u32;
    let credit_limit = ((8.3 + 0.5 * rng.normal() - 0.2 * z).exp() / 100.0)
        .round()
        .clamp(5.0, 500.0)
        * 100.0;
    let open_credit_lines = (1.0 + (0.8 + 0.3 * rng.normal() + 0.2 * z).exp()).min(30.0) as u32;
    let prior_delinquencies = (0..5).filter(|_| rng.uniform() < sigmoid(-2.5 + z)).count() as u32;
    let bureau = (690.0 - 55.0 * z + 35.0 * rng.normal())
        .round()
        .clamp(300.0, 850.0);
    let bureau_score = (rng.uniform() >= 0.08).then_some(bureau);
    let income = ((10.6 + 0.45 * rng.normal() - 0.1 * z).exp() / 100.0).round() * 100.0;
    let annual_income = (rng.uniform() >= 0.20).then_some(income);
    let hardship = rng.uniform() < sigmoid(-3.5 + 0.8 * z);

    let cycles = cycles as usize;
    let utilisation = sigmoid(-0.3 + 0.7 * z + 0.5 * rng.normal());
    let full_payer = sigmoid(0.5 - 1.2 * z);
    let mut history = Vec::with_capacity(cycles);
    let (mut previous_due, mut dpd, mut missed) = (0.0, 0u32, false);
    for k in 0..cycles {
        let statement_date = months_after(FIRST_AS_OF, snapshot as i64 - (cycles - 1 - k) as i64);
        let u = (utilisation + 0.05 * rng.normal()).clamp(0.0, 1.05);
        let amount_due = cents(credit_limit * u);
        let minimum_due = cents((0.03 * amount_due).max(25.0).min(amount_due));
        if k == 0 {
            previous_due = cents(0.95 * amount_due);
        }
        let p_miss = sigmoid(
            -2.8 + 1.3 * z + if missed { 1.2 } else { 0.0 } + if hardship { 0.5 } else { 0.0 },
        );
        missed = rng.uniform() < p_miss;
        let amount_paid = if missed {
            dpd = (dpd + 30).min(180);
            if rng.uniform() < 0.7 {
                0.0
            } else {
                cents(rng.uniform() * minimum_due)
            }
        } else {
            dpd = 0;
            let floor = minimum_due.min(previous_due);
            if rng.uniform() < full_payer {
                previous_due
            } else {
                cents(floor + rng.uniform() * (previous_due - floor))
            }
        };
        history.push(PaymentCycle {
            statement_date,
            amount_due,
            minimum_due,
            amount_paid,
            days_past_due: dpd,
        });
        previous_due = amount_due;
    }
    let current_balance = history.last().map_or(0.0, |c| c.amount_due);
    let p_repaid = sigmoid(
        2.1 - 1.1 * z - 0.25 * drift - 0.01 * f64::from(dpd) - if hardship { 0.4 } else { 0.0 },
    );
    let repaid = rng.uniform() < p_repaid;
    let account = Account {
        account_id: (index + 1).to_string(),
        as_of,
        profile: CreditProfile {
            credit_limit: Some(credit_limit),
            current_balance: Some(current_balance),
            months_on_book: Some(months_on_book),
            open_credit_lines,
            prior_delinquencies,
            bureau_score,
            annual_income,
            hardship: Some(hardship),
        },
        history,
        attributes: Default::default(),
        contacts: Vec::new(),
        promises: Vec::new(),
        compliance: Default::default(),
    };
    (account, repaid)
}

/// Rounds to whole cents.
fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

/// Writes the portfolio's three tables into `dir` (created if needed) in `format`.
pub fn generate(spec: PortfolioSpec, dir: &Path, format: Format) -> Result<Generated, TrainError> {
    std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let ext = format.extension();
    let paths = TablePaths {
        accounts: dir.join(format!("accounts.{ext}")),
        history: dir.join(format!("payment_history.{ext}")),
        outcomes: dir.join(format!("outcomes.{ext}")),
        read: ReadOptions::default(),
    };
    let mut sink = match format {
        Format::Csv => Sink::Csv(Box::new(CsvSink::create(&paths)?)),
        Format::Parquet => Sink::Parquet(Box::new(ParquetSink::create(&paths))),
    };
    let mut out = Generated {
        paths: paths.clone(),
        accounts: 0,
        cycles: 0,
        defaulted: 0,
    };
    // A window of chunks is generated in parallel and written in order: bounded memory, and
    // the bytes do not depend on the thread count.
    let window = CHUNK * 2 * rayon::current_num_threads().max(1);
    let mut start = 0;
    while start < spec.accounts {
        let end = (start + window).min(spec.accounts);
        let chunks: Vec<Vec<(Account, bool)>> = (start..end)
            .step_by(CHUNK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|from| {
                (from..(from + CHUNK).min(end))
                    .map(|i| account(spec.seed, i))
                    .collect()
            })
            .collect();
        for chunk in &chunks {
            out.accounts += chunk.len();
            out.cycles += chunk.iter().map(|(a, _)| a.history.len()).sum::<usize>();
            out.defaulted += chunk.iter().filter(|(_, repaid)| !repaid).count();
            sink.write(chunk)?;
        }
        start = end;
    }
    sink.finish()?;
    Ok(out)
}

enum Sink {
    Csv(Box<CsvSink>),
    Parquet(Box<ParquetSink>),
}

impl Sink {
    fn write(&mut self, chunk: &[(Account, bool)]) -> Result<(), TrainError> {
        match self {
            Sink::Csv(s) => s.write(chunk),
            Sink::Parquet(s) => s.write(chunk),
        }
    }

    fn finish(self) -> Result<(), TrainError> {
        match self {
            Sink::Csv(s) => s.finish(),
            Sink::Parquet(s) => s.finish(),
        }
    }
}

struct CsvFile {
    path: std::path::PathBuf,
    out: BufWriter<File>,
    line: String,
}

impl CsvFile {
    fn create(path: &Path, header: &str) -> Result<CsvFile, TrainError> {
        let file = File::create(path).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut f = CsvFile {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, file),
            line: String::new(),
        };
        f.line.push_str(header);
        f.flush_line()?;
        Ok(f)
    }

    fn flush_line(&mut self) -> Result<(), TrainError> {
        self.line.push('\n');
        let result = self.out.write_all(self.line.as_bytes());
        self.line.clear();
        result.map_err(|source| TrainError::Io {
            path: self.path.clone(),
            source,
        })
    }

    fn finish(mut self) -> Result<(), TrainError> {
        self.out.flush().map_err(|source| TrainError::Io {
            path: self.path,
            source,
        })
    }
}

struct CsvSink {
    accounts: CsvFile,
    history: CsvFile,
    outcomes: CsvFile,
}

impl CsvSink {
    fn create(paths: &TablePaths) -> Result<CsvSink, TrainError> {
        Ok(CsvSink {
            accounts: CsvFile::create(&paths.accounts, ACCOUNTS_HEADER)?,
            history: CsvFile::create(&paths.history, HISTORY_HEADER)?,
            outcomes: CsvFile::create(&paths.outcomes, "account_id,repaid")?,
        })
    }

    fn write(&mut self, chunk: &[(Account, bool)]) -> Result<(), TrainError> {
        for (a, repaid) in chunk {
            let p = &a.profile;
            let line = &mut self.accounts.line;
            // Writing to a String cannot fail.
            // An unknown value is an empty cell.
            let cell = |v: Option<String>| v.unwrap_or_default();
            let _ = write!(
                line,
                "{},{},{},{},{},{},{},",
                a.account_id,
                a.as_of,
                cell(p.credit_limit.map(|v| v.to_string())),
                cell(p.current_balance.map(|v| v.to_string())),
                cell(p.months_on_book.map(|v| v.to_string())),
                p.open_credit_lines,
                p.prior_delinquencies
            );
            if let Some(s) = p.bureau_score {
                let _ = write!(line, "{s}");
            }
            line.push(',');
            if let Some(s) = p.annual_income {
                let _ = write!(line, "{s}");
            }
            line.push(',');
            if let Some(h) = p.hardship {
                let _ = write!(line, "{}", u8::from(h));
            }
            self.accounts.flush_line()?;
            for c in &a.history {
                let _ = write!(
                    self.history.line,
                    "{},{},{},{},{},{}",
                    a.account_id,
                    c.statement_date,
                    c.amount_due,
                    c.minimum_due,
                    c.amount_paid,
                    c.days_past_due
                );
                self.history.flush_line()?;
            }
            let _ = write!(self.outcomes.line, "{},{}", a.account_id, u8::from(*repaid));
            self.outcomes.flush_line()?;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), TrainError> {
        self.accounts.finish()?;
        self.history.finish()?;
        self.outcomes.finish()
    }
}

const ACCOUNTS_HEADER: &str = "account_id,as_of,credit_limit,current_balance,months_on_book,open_credit_lines,prior_delinquencies,bureau_score,annual_income,hardship";
const HISTORY_HEADER: &str =
    "account_id,statement_date,amount_due,minimum_due,amount_paid,days_past_due";

/// Typed Parquet tables, one row group per chunk.
struct ParquetSink {
    accounts: ParquetTable,
    history: ParquetTable,
    outcomes: ParquetTable,
}

struct ParquetTable {
    path: std::path::PathBuf,
    writer: Option<polars::io::parquet::write::BatchedWriter<File>>,
}

impl ParquetTable {
    fn write(&mut self, df: DataFrame) -> Result<(), TrainError> {
        let polars = |source| TrainError::Polars {
            context: format!("writing {}", self.path.display()),
            source,
        };
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(|source| TrainError::Io {
                path: self.path.clone(),
                source,
            })?;
            self.writer = Some(
                ParquetWriter::new(file)
                    .batched(df.schema())
                    .map_err(polars)?,
            );
        }
        if let Some(w) = &mut self.writer {
            w.write_batch(&df).map_err(polars)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), TrainError> {
        if let Some(w) = self.writer {
            w.finish().map_err(|source| TrainError::Polars {
                context: format!("writing {}", self.path.display()),
                source,
            })?;
        }
        Ok(())
    }
}

fn days(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days() as i32
}

impl ParquetSink {
    fn create(paths: &TablePaths) -> ParquetSink {
        let table = |path: &Path| ParquetTable {
            path: path.to_path_buf(),
            writer: None,
        };
        ParquetSink {
            accounts: table(&paths.accounts),
            history: table(&paths.history),
            outcomes: table(&paths.outcomes),
        }
    }

    fn write(&mut self, chunk: &[(Account, bool)]) -> Result<(), TrainError> {
        let polars = |source| TrainError::Polars {
            context: "building a synthetic chunk".into(),
            source,
        };
        let ids: Vec<&str> = chunk.iter().map(|(a, _)| a.account_id.as_str()).collect();
        let p = |f: fn(&CreditProfile) -> Option<f64>| -> Vec<Option<f64>> {
            chunk.iter().map(|(a, _)| f(&a.profile)).collect()
        };
        let maybe_n = |f: fn(&CreditProfile) -> Option<u32>| -> Vec<Option<i64>> {
            chunk
                .iter()
                .map(|(a, _)| f(&a.profile).map(i64::from))
                .collect()
        };
        let n = |f: fn(&CreditProfile) -> u32| -> Vec<i64> {
            chunk
                .iter()
                .map(|(a, _)| i64::from(f(&a.profile)))
                .collect()
        };
        let date = |name: &str, v: Vec<i32>| Series::new(name.into(), v).into_date().into_column();
        let accounts = DataFrame::new_infer_height(vec![
            Column::new("account_id".into(), &ids),
            date("as_of", chunk.iter().map(|(a, _)| days(a.as_of)).collect()),
            Column::new("credit_limit".into(), p(|p| p.credit_limit)),
            Column::new("current_balance".into(), p(|p| p.current_balance)),
            Column::new("months_on_book".into(), maybe_n(|p| p.months_on_book)),
            Column::new("open_credit_lines".into(), n(|p| p.open_credit_lines)),
            Column::new("prior_delinquencies".into(), n(|p| p.prior_delinquencies)),
            Column::new(
                "bureau_score".into(),
                chunk
                    .iter()
                    .map(|(a, _)| a.profile.bureau_score)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "annual_income".into(),
                chunk
                    .iter()
                    .map(|(a, _)| a.profile.annual_income)
                    .collect::<Vec<_>>(),
            ),
            Column::new("hardship".into(), maybe_n(|p| p.hardship.map(u32::from))),
        ])
        .map_err(polars)?;
        self.accounts.write(accounts)?;

        let rows = chunk.iter().map(|(a, _)| a.history.len()).sum();
        let mut h_ids: Vec<&str> = Vec::with_capacity(rows);
        let mut h_dates = Vec::with_capacity(rows);
        let (mut due, mut min, mut paid, mut dpd) = (
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
        );
        for (a, _) in chunk {
            for c in &a.history {
                h_ids.push(&a.account_id);
                h_dates.push(days(c.statement_date));
                due.push(c.amount_due);
                min.push(c.minimum_due);
                paid.push(c.amount_paid);
                dpd.push(i64::from(c.days_past_due));
            }
        }
        let history = DataFrame::new_infer_height(vec![
            Column::new("account_id".into(), &h_ids),
            date("statement_date", h_dates),
            Column::new("amount_due".into(), due),
            Column::new("minimum_due".into(), min),
            Column::new("amount_paid".into(), paid),
            Column::new("days_past_due".into(), dpd),
        ])
        .map_err(polars)?;
        self.history.write(history)?;

        let outcomes = DataFrame::new_infer_height(vec![
            Column::new("account_id".into(), &ids),
            Column::new(
                "repaid".into(),
                chunk.iter().map(|(_, r)| i64::from(*r)).collect::<Vec<_>>(),
            ),
        ])
        .map_err(polars)?;
        self.outcomes.write(outcomes)
    }

    fn finish(self) -> Result<(), TrainError> {
        self.accounts.finish()?;
        self.history.finish()?;
        self.outcomes.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_depends_only_on_seed_and_index() {
        assert_eq!(account(7, 41), account(7, 41));
        assert_ne!(account(7, 41), account(8, 41));
        assert_ne!(account(7, 41).0.profile, account(7, 42).0.profile);
    }

    #[test]
    fn accounts_keep_the_domain_rules() {
        for i in 0..5_000 {
            let (a, _) = account(3, i);
            assert!(a.history.len() >= 2 && a.history.len() <= 18);
            assert!(Some(a.history.len() as u32) <= a.profile.months_on_book);
            assert_eq!(a.history.last().map(|c| c.statement_date), Some(a.as_of));
            for w in a.history.windows(2) {
                assert!(w[0].statement_date < w[1].statement_date);
            }
            for c in &a.history {
                assert!(c.minimum_due <= c.amount_due && c.amount_paid >= 0.0);
                assert!(c.days_past_due <= 180);
            }
            assert!(a
                .profile
                .credit_limit
                .is_some_and(|l| (500.0..=50_000.0).contains(&l)));
        }
    }

    #[test]
    fn the_portfolio_has_the_documented_shape() {
        let n = 20_000;
        let all: Vec<(Account, bool)> = (0..n).map(|i| account(11, i)).collect();
        let default_rate = all.iter().filter(|(_, r)| !r).count() as f64 / n as f64;
        let mean_cycles = all.iter().map(|(a, _)| a.history.len()).sum::<usize>() as f64 / n as f64;
        let no_bureau = all
            .iter()
            .filter(|(a, _)| a.profile.bureau_score.is_none())
            .count();
        let hardship = all
            .iter()
            .filter(|(a, _)| a.profile.declared_hardship())
            .count();
        assert!((0.15..0.21).contains(&default_rate), "{default_rate}");
        assert!((9.8..10.2).contains(&mean_cycles), "{mean_cycles}");
        assert!((0.06..0.10).contains(&(no_bureau as f64 / n as f64)));
        assert!((0.02..0.08).contains(&(hardship as f64 / n as f64)));
        let months: std::collections::BTreeSet<_> = all.iter().map(|(a, _)| a.as_of).collect();
        assert_eq!(months.len(), SNAPSHOTS as usize);
    }
}
