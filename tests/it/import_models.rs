//! Importing LightGBM and XGBoost models: payrisk's predictions match the source library's own
//! (committed fixtures made by `benches/peers/make_import_fixtures.py`) to 1e-6, the imported
//! artifact validates and serves, and TreeSHAP contributions add up on imported trees.

use std::collections::HashMap;
use std::path::PathBuf;

use payrisk::model::gbdt::shap::ShapScratch;
use payrisk::model::gbdt::GbdtModel;
use payrisk::model::logistic::sigmoid;
use payrisk::model::{Artifact, FeatureStats, Model, ModelParams};
use payrisk::train::import::{self, Imported};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Rows of inputs.csv: feature values by name, and the two libraries' probabilities.
fn rows() -> Vec<(HashMap<String, f64>, f64, f64)> {
    let text = fixture("inputs.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|line| {
            let cells: Vec<f64> = line
                .split(',')
                .map(|c| {
                    if c.is_empty() {
                        f64::NAN
                    } else {
                        c.parse().expect("number")
                    }
                })
                .collect();
            let features = header[..4]
                .iter()
                .zip(&cells)
                .map(|(h, v)| ((*h).to_owned(), *v))
                .collect();
            (features, cells[4], cells[5])
        })
        .collect()
}

fn inputs(names: &[String], row: &HashMap<String, f64>) -> Vec<f64> {
    names.iter().map(|n| row[n]).collect()
}

fn check(
    imported: &Imported,
    positive_is_repaid: bool,
    expected: impl Fn(&(HashMap<String, f64>, f64, f64)) -> f64,
) {
    let (names, base, trees) = imported
        .remap(&HashMap::new(), positive_is_repaid)
        .expect("remap");
    for t in &trees {
        t.validate(names.len()).expect("valid tree");
    }
    let model = GbdtModel::new(base, &trees);
    let mut scratch = ShapScratch::default();
    let rows = rows();
    assert!(rows.len() > 200);
    for row in &rows {
        let x = inputs(&names, &row.0);
        let p = sigmoid(model.margin(&x));
        let want = expected(row);
        assert!(
            (p - want).abs() < 1e-6,
            "{:?}: payrisk {p} vs source {want}",
            row.0
        );
        let mut phi = vec![0.0; names.len()];
        let margin = model.shap(&x, &mut phi, &mut scratch);
        assert!((margin - model.margin(&x)).abs() < 1e-9);
    }
}

#[test]
fn lightgbm_predictions_match_lightgbm() {
    let imported = import::lightgbm(&fixture("lightgbm.txt")).expect("parse");
    assert_eq!(imported.trees.len(), 20);
    check(&imported, true, |r| r.1);
}

#[test]
fn xgboost_predictions_match_xgboost_after_orienting_toward_repayment() {
    let imported = import::xgboost(&fixture("xgboost.json")).expect("parse");
    assert_eq!(imported.trees.len(), 20);
    // The XGBoost model predicts default; payrisk's probability is of repayment.
    check(&imported, false, |r| 1.0 - r.2);
}

#[test]
fn an_imported_model_is_a_valid_artifact_that_serves() {
    let imported = import::lightgbm(&fixture("lightgbm.txt")).expect("parse");
    let (names, base_score, trees) = imported.remap(&HashMap::new(), true).expect("remap");
    let shipped = Artifact::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(payrisk::serve::DEFAULT_MODEL),
    )
    .expect("template");
    let mut artifact = shipped.clone();
    artifact.features = names
        .iter()
        .map(|n| FeatureStats {
            name: n.clone(),
            mean: 0.0,
            std: 1.0,
            missing_rate: 0.0,
        })
        .collect();
    artifact.model = ModelParams::Gbdt {
        base_score,
        trees,
        monotone: Vec::new(),
        provenance: serde_json::json!({"imported_from": imported.source}),
    };
    // The shipped model's training baseline describes other features.
    artifact.baseline = None;
    let text = artifact.to_json();
    let model = Model::from_artifact(Artifact::from_json(&text).expect("valid")).expect("model");
    let row = &rows()[0];
    let p = model.probability(&inputs(&names, &row.0));
    assert!((p - row.1).abs() < 1e-6);
}

#[test]
fn unsupported_models_are_refused_clearly() {
    let lgb = fixture("lightgbm.txt");
    let categorical = lgb.replacen("num_cat=0", "num_cat=1", 1);
    let e = import::lightgbm(&categorical).expect_err("categorical");
    assert!(e.to_string().contains("categorical"), "{e}");
    let multiclass = lgb.replacen("objective=binary", "objective=multiclass", 1);
    let e = import::lightgbm(&multiclass).expect_err("multiclass");
    assert!(e.to_string().contains("not `binary`"), "{e}");
    let xgb = fixture("xgboost.json").replace("binary:logistic", "reg:squarederror");
    let e = import::xgboost(&xgb).expect_err("regression");
    assert!(e.to_string().contains("reg:squarederror"), "{e}");
    assert!(import::xgboost("{").is_err());
    // Malformed child links are errors, not panics.
    let broken = lgb.replacen("left_child=1 ", "left_child=99 ", 1);
    assert!(lgb.contains("left_child=1 "), "fixture layout changed");
    let e = import::lightgbm(&broken).expect_err("broken links");
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn feature_names_can_be_mapped_to_payrisk_names() {
    let text = fixture("lightgbm.txt").replace("pay_ratio_mean_3", "payment_ratio");
    let imported = import::lightgbm(&text).expect("parse");
    let mapping = HashMap::from([("payment_ratio".to_owned(), "pay_ratio_mean_3".to_owned())]);
    let (names, _, _) = imported.remap(&mapping, true).expect("remap");
    assert!(names.contains(&"pay_ratio_mean_3".to_owned()), "{names:?}");
    assert!(!names.contains(&"payment_ratio".to_owned()));
}
