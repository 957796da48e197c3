//! Gradient-boosting training time on the UCI features, against LightGBM with the same settings
//! (`benches/peers/lightgbm_train_time.py`). A bench binary, not criterion: one fit takes
//! seconds.
//!
//! Run (features first, then the two timings):
//! ```sh
//! cargo run --features train --bin payrisk-train -- convert-uci
//! cargo run --features train --bin payrisk-train -- features          # data/uci/features.csv
//! cargo bench --features boost --bench gbdt_train
//! scripts/python-env.sh && .venv/bin/python benches/peers/lightgbm_train_time.py
//! ```
//! Both fit 500 trees (no early stopping) of at most 15 leaves and depth 6, learning rate 0.03,
//! L2 1, at least 20 rows per leaf, 80 % row and column sampling, 255 bins, on 2 threads, and
//! report the best wall time of 3 fits (`PAYRISK_FITS=7` for more) and the held-out AUC.

use std::path::PathBuf;
use std::time::Instant;

use payrisk::boost::{boost, GbdtConfig};
use payrisk::evaluation::evaluate;
use payrisk::features::FeatureSpec;
use payrisk::model::gbdt::GbdtModel;
use payrisk::model::logistic::sigmoid;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs benches without `--bench`: nothing to time then.
        println!("gbdt_train: run with `cargo bench --features boost --bench gbdt_train`");
        return;
    }
    let path = std::env::var_os("PAYRISK_FEATURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/uci/features.csv"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "skipping: {} not found; make it with `cargo run --features train --bin payrisk-train -- convert-uci` then `... -- features`",
            path.display()
        );
        return;
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let names = &header[3..];
    let spec = FeatureSpec::from_names(names).unwrap_or_else(|e| panic!("{e}"));
    let p = names.len();
    let (mut values, mut labels, mut is_test) = (Vec::new(), Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        is_test.push(cells[1] == "test");
        labels.push(cells[2] == "1");
        values.extend(cells[3..].iter().map(|c| {
            if c.is_empty() {
                f64::NAN
            } else {
                c.parse().unwrap_or(f64::NAN)
            }
        }));
    }
    let train: Vec<usize> = (0..labels.len()).filter(|&i| !is_test[i]).collect();
    let test: Vec<usize> = (0..labels.len()).filter(|&i| is_test[i]).collect();
    let config = GbdtConfig {
        trees: 500,
        learning_rate: 0.03,
        max_leaves: 15,
        max_depth: 6,
        l2: 1.0,
        min_child_samples: 20,
        row_subsample: 0.8,
        col_subsample: 0.8,
        max_bins: 255,
        early_stopping_rounds: 0,
        validation_fraction: 0.0,
        threads: std::env::var("PAYRISK_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2),
        ..GbdtConfig::default()
    };
    // More fits give a steadier minimum on a noisy machine: PAYRISK_FITS=7.
    let fits: usize = std::env::var("PAYRISK_FITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut best = f64::INFINITY;
    let mut model = None;
    for _ in 0..fits.max(1) {
        let started = Instant::now();
        let boosted =
            boost(&values, p, &labels, &train, &spec, &config).unwrap_or_else(|e| panic!("{e}"));
        best = best.min(started.elapsed().as_secs_f64());
        model = Some(boosted);
    }
    let Some(boosted) = model else { return };
    let serving = GbdtModel::new(boosted.base_score, &boosted.trees);
    let scores: Vec<f64> = test
        .iter()
        .map(|&i| sigmoid(serving.margin(&values[i * p..(i + 1) * p])))
        .collect();
    let test_labels: Vec<bool> = test.iter().map(|&i| labels[i]).collect();
    let auc = evaluate(&test_labels, &scores).map_or(f64::NAN, |m| m.auc);
    println!(
        "payrisk gbdt: {} rows x {p} features, {} trees, {} threads: best of {fits} fits {best:.3} s, test AUC {auc:.4}",
        train.len(),
        boosted.trees.len(),
        config.threads
    );
}
