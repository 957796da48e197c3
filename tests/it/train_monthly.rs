//! The long-format monthly status history (1,048,575 real rows): conversion with a
//! forward-looking label, Polars ingest of the result, and a model that learns from it. Skips
//! with a message when `../shared/data/monthly_credit_status.csv` is absent.
#![cfg(feature = "train")]

use std::path::PathBuf;

use payrisk::train::fit::{fit_logistic, FitConfig};
use payrisk::train::monthly::{self, month_end, AS_OF_MONTH};
use payrisk::train::tables;
use payrisk::train::uci::table_paths;

fn data() -> Option<PathBuf> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/monthly_credit_status.csv");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} is absent", path.display());
        None
    }
}

#[test]
fn a_million_monthly_rows_become_labelled_accounts_a_model_learns_from() {
    let Some(input) = data() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let converted = monthly::convert(&input, dir.path()).expect("convert");
    // The data's README: about 3.2 % of the 26,151 accounts with six or more months of history.
    assert_eq!(converted.accounts, 26_151);
    assert_eq!(converted.defaulted, 827);
    assert_eq!(converted.accounts + converted.skipped, 45_985);

    let paths = table_paths(dir.path());
    let set = tables::load(&paths).expect("the converted tables validate");
    assert_eq!(set.rows.len(), 26_151);
    assert_eq!(
        set.rows
            .iter()
            .map(|r| r.account.history.len())
            .sum::<usize>(),
        converted.cycles
    );
    // Forward-looking: every account is scored at month -7 from history up to then only.
    let as_of = month_end(AS_OF_MONTH);
    assert!(set
        .rows
        .iter()
        .all(|r| r.account.as_of == as_of
            && r.account.history.iter().all(|c| c.statement_date <= as_of)));

    let config = FitConfig {
        name: "monthly".into(),
        version: "1".into(),
        split: "mod:5".parse().expect("split"),
        l2_penalty: 1.0,
        max_iterations: 500,
        calibration: None,
        transforms: Default::default(),
    };
    let fitted = fit_logistic(&set, &paths, &config).expect("fit");
    let test = fitted.artifact.metrics.test;
    assert!(test.auc > 0.85, "held-out AUC {}", test.auc);
    assert!(test.ece < 0.02, "held-out ECE {}", test.ece);
}

/// The roll-rate matrix of the real monthly data is the one docs/outcomes.md shows, cell by cell,
/// and every row of shares sums to 1.
#[test]
fn the_monthly_roll_rates_are_the_documented_ones() {
    let Some(input) = data() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    monthly::convert(&input, dir.path()).expect("convert");
    let paths = table_paths(dir.path());
    let accounts = tables::load_portfolio(&paths.accounts, &paths.history, &Default::default())
        .expect("the converted tables validate");
    let rolls = payrisk::train::readout::rolls::roll_rates(&accounts, None);
    let m = &rolls.portfolio;
    assert_eq!(m.transitions, 622_354);
    assert_eq!(rolls.gaps, 0);
    for row in &m.shares {
        let sum: f64 = row.iter().map(|s| s.unwrap_or(0.0)).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    }
    let doc =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/outcomes.md"))
            .expect("docs");
    let table = doc
        .split("<!-- roll rates of the monthly data: tests/it/train_monthly.rs -->")
        .nth(1)
        .expect("the documented matrix");
    let rows: Vec<&str> = table
        .lines()
        .skip(3)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(rows.len(), rolls.buckets.len());
    for (from, line) in rows.iter().enumerate() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(cells[1], rolls.buckets[from]);
        for to in 0..rolls.buckets.len() {
            let shown = format!("{:.1} %", 100.0 * m.shares[from][to].unwrap_or(0.0));
            assert_eq!(
                cells[2 + to],
                shown,
                "{} to {}",
                cells[1],
                rolls.buckets[to]
            );
        }
        let months: u64 = m.counts[from].iter().sum();
        assert_eq!(
            cells[2 + rolls.buckets.len()].replace(',', ""),
            months.to_string()
        );
    }
}
