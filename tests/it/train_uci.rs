//! Training on the real UCI data (`../shared/data/uci_credit_default.csv`): the converter, the
//! held-out AUC bars (logistic >= 0.76, gradient-boosted >= 0.790), the shipped models'
//! provenance (each is exactly what its documented command trains), determinism, and
//! training/serving parity through the real gRPC server. Skips with a message when the data set
//! is absent.
#![cfg(feature = "train")]

use crate::common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{repo, to_proto, TestServer};
use payrisk::domain::Account;
use payrisk::grpc::proto::v1 as pb;
use payrisk::model::{Artifact, ModelParams};
use payrisk::train::config::TrainConfig;
use payrisk::train::fit::{fit_gbdt, fit_logistic, Design, FitConfig, Fitted};
use payrisk::train::report::MetricsReport;
use payrisk::train::tables::{self, TablePaths, TrainingSet};
use payrisk::train::uci;

fn uci_csv() -> Option<PathBuf> {
    let path = repo("../shared/data/uci_credit_default.csv");
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipping: {} not found (the shared data set is absent)",
            path.display()
        );
        None
    }
}

struct Data {
    _dir: tempfile::TempDir,
    paths: TablePaths,
    set: TrainingSet,
}

struct Run {
    set: &'static TrainingSet,
    fitted: Fitted,
}

/// Converts and loads the UCI data once for all tests in this file.
fn data() -> Option<&'static Data> {
    static DATA: OnceLock<Option<Data>> = OnceLock::new();
    DATA.get_or_init(|| {
        let csv = uci_csv()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let converted = uci::convert(&csv, dir.path()).expect("convert");
        assert_eq!(converted.accounts, 30_000);
        assert_eq!(converted.cycles, 180_000);
        let paths = uci::table_paths(dir.path());
        let set = tables::load(&paths).expect("load the converted tables");
        Some(Data {
            _dir: dir,
            paths,
            set,
        })
    })
    .as_ref()
}

/// Version 1 of model `name` on the UCI split, with logistic settings `l2` and `iterations`.
fn fit_config(name: &str, l2: f64, iterations: u64) -> FitConfig {
    FitConfig {
        name: name.into(),
        version: "1".into(),
        split: "mod:5".parse().expect("split"),
        l2_penalty: l2,
        max_iterations: iterations,
        calibration: None,
        transforms: Default::default(),
    }
}

/// The logistic model, trained with the documented default settings.
fn run() -> Option<&'static Run> {
    static RUN: OnceLock<Option<Run>> = OnceLock::new();
    RUN.get_or_init(|| {
        let d = data()?;
        let fitted =
            fit_logistic(&d.set, &d.paths, &fit_config("uci-credit", 1.0, 500)).expect("fit");
        Some(Run {
            set: &d.set,
            fitted,
        })
    })
    .as_ref()
}

/// The training config the shipped gradient-boosted model documents.
fn gbdt_config() -> (FitConfig, TrainConfig) {
    let file = TrainConfig::load(&repo("models/uci-credit/2/train.toml")).expect("train.toml");
    let config = FitConfig {
        name: file.name.clone().expect("name"),
        version: file.version.clone().expect("version"),
        split: file
            .split
            .as_deref()
            .expect("split")
            .parse()
            .expect("split"),
        l2_penalty: file.logistic.l2,
        max_iterations: file.logistic.max_iterations,
        calibration: None,
        transforms: Default::default(),
    };
    (config, file)
}

/// The gradient-boosted model, trained from `models/uci-credit/2/train.toml`.
fn gbdt_run() -> Option<&'static Run> {
    static RUN: OnceLock<Option<Run>> = OnceLock::new();
    RUN.get_or_init(|| {
        let d = data()?;
        let (config, file) = gbdt_config();
        let fitted = fit_gbdt(&d.set, &d.paths, &config, &file.gbdt).expect("fit");
        Some(Run {
            set: &d.set,
            fitted,
        })
    })
    .as_ref()
}

fn shipped() -> Artifact {
    Artifact::load(&repo(payrisk::serve::LOGISTIC_MODEL)).expect("shipped logistic model")
}

fn shipped_gbdt() -> Artifact {
    Artifact::load(&repo(payrisk::serve::DEFAULT_MODEL)).expect("shipped default model")
}

#[test]
fn held_out_auc_clears_the_bar_and_probabilities_mean_repayment() {
    let Some(run) = run() else { return };
    let a = &run.fitted.artifact;
    assert_eq!(a.metrics.test.rows, 6_000);
    assert_eq!(a.metrics.train.rows, 24_000);
    assert!(
        a.metrics.test.auc >= 0.76,
        "held-out AUC {}",
        a.metrics.test.auc
    );
    // The probability is of repayment: repaid accounts score higher on average.
    let mean = |repaid: bool| {
        let v: Vec<f64> = run
            .fitted
            .test_predictions
            .iter()
            .filter(|p| p.1 == repaid)
            .map(|p| p.2)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(
        mean(true) > mean(false) + 0.1,
        "{} vs {}",
        mean(true),
        mean(false)
    );
    // Calibrated on average: mean prediction close to the observed repayment rate.
    let all: f64 = run.fitted.test_predictions.iter().map(|p| p.2).sum::<f64>()
        / run.fitted.test_predictions.len() as f64;
    assert!((all - a.metrics.test.repayment_rate).abs() < 0.02);
    // No protected attribute is a feature.
    assert!(a
        .features
        .iter()
        .all(|f| !["sex", "age", "education", "marriage"]
            .iter()
            .any(|p| f.name.contains(p))));
}

#[test]
fn the_shipped_logistic_model_is_exactly_what_the_documented_command_trains() {
    let Some(run) = run() else { return };
    // Byte for byte, apart from the creation time and where the inputs were read from: the
    // fit is deterministic and the artifact's numbers round-trip exactly through JSON.
    assert_eq!(comparable(&shipped()), comparable(&run.fitted.artifact));
}

/// Scores a sample of held-out accounts through a real server on `model` and checks each
/// probability equals the one training evaluated.
async fn assert_served_like_trained(run: &Run, model: &str) {
    assert_served_from(run, repo(model)).await;
}

/// As [`assert_served_like_trained`], for a model file anywhere.
async fn assert_served_from(run: &Run, model: PathBuf) {
    let config = payrisk::grpc::server::ServerConfig {
        model,
        ..common::default_config()
    };
    let server = TestServer::start_with(config).await;
    let mut client = server.client().await;
    let by_id: std::collections::HashMap<&str, &Account> = run
        .set
        .rows
        .iter()
        .map(|r| (r.account.account_id.as_str(), &r.account))
        .collect();
    let sample: Vec<&(String, bool, f64)> = run.fitted.test_predictions.iter().step_by(7).collect();
    let response = client
        .score_batch(pb::ScoreBatchRequest {
            accounts: sample
                .iter()
                .map(|p| to_proto(by_id[p.0.as_str()]))
                .collect(),
            max_reasons: None,
            batch_id: 0,
            ..Default::default()
        })
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(response.results.len(), sample.len());
    for (r, p) in response.results.iter().zip(&sample) {
        let Some(pb::score_result::Outcome::Score(s)) = &r.outcome else {
            panic!("account {} was not scored: {:?}", p.0, r.outcome);
        };
        assert_eq!(s.account_id, p.0);
        assert!(
            (s.repayment_probability - p.2).abs() < 1e-9,
            "account {}: served {} vs trained {}",
            p.0,
            s.repayment_probability,
            p.2
        );
    }
    server.stop().await;
}

// Multi-threaded: if this test is the first to load the tables, Polars needs that runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_scores_real_accounts_exactly_as_training_evaluated_them() {
    let Some(run) = run() else { return };
    assert_served_like_trained(run, payrisk::serve::LOGISTIC_MODEL).await;
    let Some(run) = gbdt_run() else { return };
    assert_served_like_trained(run, payrisk::serve::DEFAULT_MODEL).await;
}

/// Calibration of the logistic model, isotonic, on 20 % of the training rows. (Polars, which
/// loads the tables, needs the multi-threaded runtime.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrated_probabilities_mean_what_they_say_and_are_served_as_trained() {
    let (Some(d), Some(plain)) = (data(), run()) else {
        return;
    };
    let config = FitConfig {
        calibration: Some(payrisk::model::calibration::CalibrationMethod::Isotonic),
        transforms: Default::default(),
        ..fit_config("calibrated", 1.0, 500)
    };
    let fitted = fit_logistic(&d.set, &d.paths, &config).expect("fit");
    let a = &fitted.artifact;
    let Some(payrisk::model::calibration::Calibration::Isotonic { rows, .. }) = &a.calibration
    else {
        panic!("an isotonic calibration: {:?}", a.calibration);
    };
    // The calibration rows come out of the training rows, never the test rows.
    assert_eq!(
        *rows + a.training.train_rows,
        plain.fitted.artifact.training.train_rows
    );
    assert_eq!(a.training.test_rows, 6_000);
    let (before, after) = (plain.fitted.artifact.metrics.test.ece, a.metrics.test.ece);
    assert!(after <= 0.02, "calibrated held-out ECE {after}");
    assert!(
        after < before,
        "calibration should help: {before} -> {after}"
    );
    // Ranking barely moves (fewer rows to fit on, and ties from the step map).
    assert!(a.metrics.test.auc > plain.fitted.artifact.metrics.test.auc - 0.01);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.json");
    std::fs::write(&path, a.to_json()).expect("write");
    let run = Run {
        set: &d.set,
        fitted,
    };
    assert_served_from(&run, path).await;
}

#[test]
fn gradient_boosting_clears_the_bar_and_beats_logistic_regression() {
    let (Some(gbdt), Some(logistic)) = (gbdt_run(), run()) else {
        return;
    };
    let a = &gbdt.fitted.artifact;
    assert_eq!(a.model.kind(), "gbdt");
    assert!(
        a.metrics.test.auc >= 0.790,
        "held-out AUC {}",
        a.metrics.test.auc
    );
    assert!(a.metrics.test.auc > logistic.fitted.artifact.metrics.test.auc);
    let ModelParams::Gbdt {
        trees, monotone, ..
    } = &a.model
    else {
        panic!("gbdt params");
    };
    assert!(
        trees.len() < 2000,
        "early stopping kept {} trees",
        trees.len()
    );
    assert!(monotone.iter().any(|&m| m < 0));
}

/// Everything but the creation time and the temporary input paths.
fn comparable(a: &Artifact) -> String {
    let mut a = a.clone();
    a.created_at = chrono::DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap_or_default();
    a.training.inputs.clear();
    a.to_json()
}

#[test]
fn the_shipped_gradient_boosted_model_is_exactly_what_its_config_trains() {
    let Some(run) = gbdt_run() else { return };
    assert_eq!(
        comparable(&shipped_gbdt()),
        comparable(&run.fitted.artifact)
    );
}

#[test]
fn the_shipped_metrics_json_is_what_training_reports_and_agrees_with_the_artifact() {
    let Some(run) = gbdt_run() else { return };
    let path = repo("models/uci-credit/2/metrics.json");
    let text = std::fs::read_to_string(&path).expect("shipped metrics.json");
    let shipped: MetricsReport = serde_json::from_str(&text).expect("metrics.json parses");
    assert_eq!(shipped, MetricsReport::of(&run.fitted).expect("report"));
    let a = shipped_gbdt();
    assert_eq!(shipped.test, a.metrics.test);
    assert_eq!(shipped.train, a.metrics.train);
    let deciles = &shipped.test_deciles;
    assert_eq!(deciles.len(), 10);
    assert_eq!(
        deciles.iter().map(|d| d.count).sum::<u64>(),
        a.training.test_rows
    );
    assert!((deciles[9].cumulative_capture - 1.0).abs() < 1e-12);
    // A useful model finds more defaulters in its riskiest tenth than the average tenth.
    assert!(deciles[0].lift > 2.0, "{:?}", deciles[0]);
    assert!(deciles[0].observed_repayment < deciles[9].observed_repayment);
    // The repayment rate the deciles observe is the split's.
    let repaid: f64 = deciles
        .iter()
        .map(|d| d.observed_repayment * d.count as f64)
        .sum();
    assert!((repaid / a.training.test_rows as f64 - a.metrics.test.repayment_rate).abs() < 1e-9);
    // Probabilities that mean what they say, even before any calibration step (the target is
    // ECE <= 0.02 after calibration).
    assert!(a.metrics.test.ece < 0.02, "{}", a.metrics.test.ece);
}

#[test]
fn the_artifact_baseline_finds_the_held_out_population_stable() {
    let Some(run) = gbdt_run() else { return };
    let a = &run.fitted.artifact;
    let baseline = a
        .baseline
        .as_ref()
        .expect("a trained artifact carries its baseline");
    assert_eq!(baseline.rows, a.training.train_rows);
    let (config, _) = gbdt_config();
    let design = Design::build(run.set, &config.split).expect("design");
    let rows = |ids: &[usize]| -> Vec<f64> {
        ids.iter()
            .flat_map(|&i| design.row(i).iter().copied())
            .collect()
    };
    // The training rows against their own baseline: no drift at all.
    let train_scores: Vec<f64> = {
        let model = payrisk::model::Model::from_artifact(a.clone()).expect("model");
        design
            .train
            .iter()
            .map(|&i| model.probability(design.row(i)))
            .collect()
    };
    let (features, score) = baseline.psi_of(&rows(&design.train), &train_scores);
    assert!(score.abs() < 1e-12 && features.iter().all(|f| f.abs() < 1e-12));
    // The held-out accounts come from the same population: every PSI is below the watch level.
    let test_scores: Vec<f64> = run.fitted.test_predictions.iter().map(|t| t.2).collect();
    let (features, score) = baseline.psi_of(&rows(&design.test), &test_scores);
    assert!(score < payrisk::stability::PSI_WATCH, "score PSI {score}");
    for (f, psi) in baseline.features.iter().zip(&features) {
        assert!(*psi < payrisk::stability::PSI_WATCH, "{} PSI {psi}", f.name);
    }
}

#[test]
fn gradient_boosting_is_deterministic_whatever_the_thread_count() {
    let Some(d) = data() else { return };
    let (config, mut file) = gbdt_config();
    file.gbdt.trees = 40;
    file.gbdt.early_stopping_rounds = 0;
    file.gbdt.validation_fraction = 0.0;
    file.gbdt.threads = 1;
    // The trees and base score (the provenance records the thread count, so it differs).
    let ensemble = |f: &Fitted| match &f.artifact.model {
        ModelParams::Gbdt {
            base_score, trees, ..
        } => (base_score.to_bits(), trees.clone()),
        other => panic!("expected gbdt, got {}", other.kind()),
    };
    let one = fit_gbdt(&d.set, &d.paths, &config, &file.gbdt).expect("fit");
    file.gbdt.threads = 2;
    let two = fit_gbdt(&d.set, &d.paths, &config, &file.gbdt).expect("fit");
    assert_eq!(ensemble(&one), ensemble(&two));
    assert_eq!(ensemble(&one).1.len(), 40);
    file.gbdt.seed += 1;
    let other_seed = fit_gbdt(&d.set, &d.paths, &config, &file.gbdt).expect("fit");
    assert_ne!(ensemble(&one), ensemble(&other_seed));
}

#[test]
fn an_imported_lightgbm_model_becomes_an_evaluated_artifact() {
    let Some(d) = data() else { return };
    let text =
        std::fs::read_to_string(repo("tests/fixtures/import/lightgbm.txt")).expect("fixture");
    let imported = payrisk::train::import::lightgbm(&text).expect("parse");
    let config = fit_config("imported", 0.0, 0);
    let fitted = payrisk::train::fit::import_gbdt(
        &d.set,
        &d.paths,
        &config,
        &imported,
        &std::collections::HashMap::new(),
        true,
    )
    .expect("import");
    let a = Artifact::from_json(&fitted.artifact.to_json()).expect("valid artifact");
    assert_eq!(a.model.kind(), "gbdt");
    assert_eq!(a.features.len(), 4);
    assert_eq!(a.metrics.test.rows, 6_000);
    // Trained on synthetic data, it still ranks real accounts better than chance.
    assert!(a.metrics.test.auc > 0.55, "{}", a.metrics.test.auc);
}

/// Live drift on real data: the 6,000 held-out UCI accounts, scored through the server, read as
/// stable against the shipped model's training baseline, every input and the score.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_out_uci_accounts_read_as_stable_live_drift() {
    let Some(data) = data() else { return };
    let server = TestServer::start_with(common::default_config()).await;
    let mut client = server.client().await;
    let held_out: Vec<&Account> = data
        .set
        .rows
        .iter()
        .map(|r| &r.account)
        .filter(|a| a.account_id.parse::<u64>().is_ok_and(|id| id % 5 == 0))
        .collect();
    assert_eq!(held_out.len(), 6_000);
    for chunk in held_out.chunks(2_000) {
        client
            .score_batch(pb::ScoreBatchRequest {
                accounts: chunk.iter().map(|a| to_proto(a)).collect(),
                max_reasons: Some(0),
                ..Default::default()
            })
            .await
            .expect("batch");
    }
    let report = pb::admin_service_client::AdminServiceClient::new(server.channel().await)
        .get_drift(pb::GetDriftRequest {})
        .await
        .expect("drift")
        .into_inner();
    assert_eq!(report.window_accounts, 6_000);
    let all: Vec<&pb::FeatureDrift> = report
        .features
        .iter()
        .chain(report.score.as_ref())
        .collect();
    assert!(
        all.iter()
            .all(|d| d.status == "stable" && d.psi.is_some_and(|p| p < 0.1)),
        "{all:?}"
    );
    server.stop().await;
}

/// The scorecard on UCI: at least the logistic model's held-out AUC (0.780) and within 0.015 of
/// the gradient-boosted model's; served exactly as trained; its reasons are points lost against
/// each input's best bin, adding up to the margin; its points add up to the policy's score.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scorecard_reaches_its_goal_and_serves_with_points_based_reasons() {
    use payrisk::train::scorecard::{fit_scorecard, ScorecardConfig};
    let Some(d) = data() else { return };
    let fitted = fit_scorecard(
        &d.set,
        &d.paths,
        &fit_config("scorecard", 1.0, 500),
        &ScorecardConfig::default(),
    )
    .expect("fit");
    let a = &fitted.artifact;
    let gbdt = Artifact::load(&repo(payrisk::serve::DEFAULT_MODEL)).expect("shipped gbdt");
    eprintln!(
        "scorecard held-out AUC {:.4} (gbdt {:.4})",
        a.metrics.test.auc, gbdt.metrics.test.auc
    );
    assert!(a.metrics.test.auc >= 0.780, "{}", a.metrics.test.auc);
    assert!(a.metrics.test.auc >= gbdt.metrics.test.auc - 0.015);
    let ModelParams::Scorecard {
        characteristics, ..
    } = &a.model
    else {
        panic!("not a scorecard");
    };
    // Reasons: contributions are at most 0 and add up to the margin.
    let model = payrisk::model::Model::from_artifact(a.clone()).expect("valid");
    let design = Design::build(&d.set, &"mod:5".parse().expect("split")).expect("design");
    let policy = payrisk::policy::Policy::load(&repo("models/policy.toml")).expect("policy");
    let mut scratch = payrisk::model::ModelScratch::default();
    let mut out = vec![0.0; model.spec().len()];
    for &i in design.test.iter().step_by(97) {
        let x = design.row(i);
        let margin = model.contributions(x, &mut out, &mut scratch);
        assert!((margin - model.margin(x)).abs() < 1e-12);
        let sum: f64 = out.iter().sum();
        assert!((model.expected_margin() + sum - margin).abs() < 1e-9);
        assert!(out.iter().all(|&c| c <= 1e-12));
        // The points table adds up to the policy's score points (the same scale).
        let points: f64 = characteristics
            .iter()
            .zip(x)
            .map(|(c, &v)| c.bins[c.bin(v)].points)
            .sum();
        let p = payrisk::model::logistic::sigmoid(margin);
        assert!(
            (points - policy.points(p)).abs() < 1e-6,
            "{points} vs {}",
            policy.points(p)
        );
    }
    // Served as trained, through the real server.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.json");
    std::fs::write(&path, a.to_json()).expect("write");
    // The server's reasons: points lost, the largest loss first, for a risky held-out account.
    let risky = design
        .test
        .iter()
        .copied()
        .find(|&i| !design.labels[i] && design.row(i)[0] >= 60.0)
        .expect("a held-out defaulter 60+ days past due");
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        model: path.clone(),
        ..common::default_config()
    })
    .await;
    let reply = server
        .client()
        .await
        .score(pb::ScoreRequest {
            account: Some(to_proto(&d.set.rows[risky].account)),
            max_reasons: Some(4),
            ..Default::default()
        })
        .await
        .expect("score")
        .into_inner();
    server.stop().await;
    assert!(!reply.reasons.is_empty());
    assert!(
        reply.reasons.iter().all(|r| r.contribution <= 0.0),
        "{:?}",
        reply.reasons
    );
    assert!(reply
        .reasons
        .windows(2)
        .all(|w| w[0].contribution <= w[1].contribution));
    assert_eq!(reply.reasons[0].code, "delinquency");
    let run = Run {
        set: &d.set,
        fitted,
    };
    assert_served_from(&run, path).await;
}
