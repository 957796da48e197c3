//! payrisk's side of `benches/peers/inference_compare.sh`: one round of scoring every row of a
//! features CSV (`payrisk-train features`) with an imported model, one thread, model only (the
//! batch walk, and one row at a time) and with features derived from the canonical tables,
//! after checking every margin against the source library's (`account_id,margin`) to 1e-12;
//! and exact TreeSHAP on the first 2,000 rows, one row at a time and in blocks, checked to add up
//! to each margin and, given the source library's contributions of those rows
//! (`account_id,<feature>...`), to equal them.
//!
//! Run: `cargo run --release --features train --example inference_rounds -- MODEL FEATURES_CSV
//! MARGINS_CSV TABLES_DIR [CONTRIBUTIONS_CSV [TOLERANCE]]` (TOLERANCE: of margins and
//! contributions, 1e-12 by default; XGBoost computes in single precision).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use payrisk::model::Model;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, features, margins, tables, rest @ ..] = args.as_slice() else {
        bail!(
            "usage: inference_rounds MODEL FEATURES_CSV MARGINS_CSV TABLES_DIR \
             [CONTRIBUTIONS_CSV [TOLERANCE]]"
        );
    };
    let tolerance: f64 = match rest.get(1) {
        Some(t) => t.parse().context("tolerance")?,
        None => 1e-12,
    };
    let model = Model::load(model.as_ref())?;
    let spec = model.spec();
    let names = spec.names();
    // The features CSV: account_id, split, repaid, then one column per feature.
    let text = std::fs::read_to_string(features).context("features")?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("header")?.split(',').collect();
    let column: Vec<usize> = names
        .iter()
        .map(|n| {
            header
                .iter()
                .position(|h| h == n)
                .context("a model input missing")
        })
        .collect::<Result<_>>()?;
    let (mut ids, mut rows) = (Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        ids.push(cells[0].to_owned());
        for &c in &column {
            rows.push(cells[c].parse::<f64>().unwrap_or(f64::NAN));
        }
    }
    let n = ids.len();
    let p = names.len();
    let expected: HashMap<String, f64> = std::fs::read_to_string(margins)
        .context("margins")?
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(id, m)| (id.to_owned(), m.parse().unwrap_or(f64::NAN)))
        .collect();
    let mut out = vec![0.0; n];
    model.margins(&rows, &mut out);
    // A row without the source's margin is a NaN difference, and NaN stays (f64::max would
    // drop it).
    let worst = ids
        .iter()
        .zip(&out)
        .map(|(id, m)| (m - expected.get(id).copied().unwrap_or(f64::NAN)).abs())
        .fold(0.0, |a: f64, d| if d.is_nan() || d > a { d } else { a });
    if worst.is_nan() || worst > tolerance {
        bail!("margins differ from the source library's by up to {worst:e}");
    }
    let best = |f: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let batch = best(&mut || {
        model.margins(black_box(&rows), &mut out);
        black_box(&out);
    });
    let single = best(&mut || {
        for x in rows.chunks_exact(p) {
            black_box(model.margin(black_box(x)));
        }
    });
    // Exact TreeSHAP on the first 2,000 rows, each row's values checked to add up to its
    // margin less the expected one.
    let few = rows.len().min(2_000 * p) / p.max(1);
    let mut contributions = vec![0.0; p];
    let mut shap_scratch = payrisk::model::ModelScratch::default();
    for x in rows.chunks_exact(p).take(few) {
        let m = model.contributions(x, &mut contributions, &mut shap_scratch);
        let sum: f64 = contributions.iter().sum();
        if (m - model.expected_margin() - sum).abs() > 1e-9 {
            bail!("SHAP values do not add up to the margin");
        }
    }
    let shap = best(&mut || {
        for x in rows.chunks_exact(p).take(few) {
            black_box(model.contributions(black_box(x), &mut contributions, &mut shap_scratch));
        }
    });
    if let Some(path) = rest.first() {
        let worst = worst_contribution(path, &names, &model, &rows[..few * p])?;
        if worst.is_nan() || worst > tolerance {
            bail!("SHAP values differ from the source library's by up to {worst:e}");
        }
        println!("SHAP values equal the source library's to {worst:e}");
    }
    // The same rows in blocks (each leaf's table row read once per block): the same values.
    let head = &rows[..few * p];
    let (mut many, mut margins) = (vec![0.0; few * p], vec![0.0; few]);
    model.contributions_many(head, &mut many, &mut margins, &mut shap_scratch);
    for (x, values) in head.chunks_exact(p).zip(many.chunks_exact(p)) {
        model.contributions(x, &mut contributions, &mut shap_scratch);
        if values != contributions.as_slice() {
            bail!("SHAP values in blocks differ from one row at a time");
        }
    }
    let shap_batch = best(&mut || {
        model.contributions_many(black_box(head), &mut many, &mut margins, &mut shap_scratch);
        black_box(&many);
    });
    let dir = std::path::Path::new(tables);
    let accounts = payrisk::train::tables::load_portfolio(
        &dir.join("accounts.csv"),
        &dir.join("payment_history.csv"),
        &Default::default(),
    )?;
    let mut derived = vec![0.0; accounts.len() * p];
    let mut scores = vec![0.0; accounts.len()];
    let with_features = best(&mut || {
        for (row, a) in derived.chunks_exact_mut(p).zip(&accounts) {
            spec.derive(a, row);
        }
        model.margins(&derived, &mut scores);
        black_box(&scores);
    });
    println!(
        "payrisk  model only (batch walk): {:8.0} K rows/s",
        n as f64 / batch / 1e3
    );
    println!(
        "payrisk  model only (row by row): {:8.0} K rows/s",
        n as f64 / single / 1e3
    );
    println!(
        "payrisk  features + model:        {:8.0} K rows/s",
        accounts.len() as f64 / with_features / 1e3
    );
    println!(
        "payrisk  exact TreeSHAP:       {:8.1} us per row",
        shap / few as f64 * 1e6
    );
    println!(
        "payrisk  exact TreeSHAP, blocks: {:6.1} us per row",
        shap_batch / few as f64 * 1e6
    );
    println!("margins equal LightGBM's to {worst:e}");
    Ok(())
}

/// The largest difference between payrisk's SHAP values of `rows` and the source library's in
/// the CSV at `path` (`account_id`, then one column per feature; features the model does not
/// use must be 0 there).
fn worst_contribution(path: &str, names: &[String], model: &Model, rows: &[f64]) -> Result<f64> {
    let text = std::fs::read_to_string(path).context("contributions")?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("header")?.split(',').collect();
    let p = names.len();
    let mut mine = vec![0.0; p];
    let mut scratch = payrisk::model::ModelScratch::default();
    let mut worst: f64 = 0.0;
    for (line, x) in lines.zip(rows.chunks_exact(p)) {
        model.contributions(x, &mut mine, &mut scratch);
        for (h, cell) in header.iter().zip(line.split(',')).skip(1) {
            let theirs: f64 = cell.parse().unwrap_or(f64::NAN);
            let ours = names.iter().position(|n| n == h).map_or(0.0, |j| mine[j]);
            let d = (ours - theirs).abs();
            // NaN stays (f64::max would drop it).
            if d.is_nan() || d > worst {
                worst = d;
            }
        }
    }
    Ok(worst)
}
