//! Training on the real UCI data (`../shared/data/uci_credit_default.csv`): the converter, the
//! held-out AUC bar, the shipped default model's provenance, and training/serving parity through
//! the real gRPC server. Skips with a message when the data set is absent.
#![cfg(feature = "train")]

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{repo, TestServer};
use payrisk::domain::Account;
use payrisk::model::{Artifact, ModelParams};
use payrisk::proto::v1 as pb;
use payrisk::train::fit::{fit_logistic, FitConfig, Fitted};
use payrisk::train::tables::{self, TrainingSet};
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

struct Run {
    _dir: tempfile::TempDir,
    set: TrainingSet,
    fitted: Fitted,
}

/// Converts and trains once for all tests in this file, with the documented default settings.
fn run() -> Option<&'static Run> {
    static RUN: OnceLock<Option<Run>> = OnceLock::new();
    RUN.get_or_init(|| {
        let csv = uci_csv()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let converted = uci::convert(&csv, dir.path()).expect("convert");
        assert_eq!(converted.accounts, 30_000);
        assert_eq!(converted.cycles, 180_000);
        let paths = uci::table_paths(dir.path());
        let set = tables::load(&paths).expect("load the converted tables");
        let config = FitConfig {
            name: "uci-credit".into(),
            version: "1".into(),
            split: "mod:5".parse().expect("split"),
            l2_penalty: 1.0,
            max_iterations: 500,
        };
        let fitted = fit_logistic(&set, &paths, &config).expect("fit");
        Some(Run {
            _dir: dir,
            set,
            fitted,
        })
    })
    .as_ref()
}

fn shipped() -> Artifact {
    Artifact::load(&repo(payrisk::server::DEFAULT_MODEL)).expect("shipped model")
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
fn the_shipped_default_model_is_the_one_the_documented_command_trains() {
    let Some(run) = run() else { return };
    let ours = &run.fitted.artifact;
    let shipped = shipped();
    assert_eq!(
        shipped.training.data_fingerprint,
        ours.training.data_fingerprint
    );
    assert_eq!(shipped.features.len(), ours.features.len());
    for (s, o) in shipped.features.iter().zip(&ours.features) {
        assert_eq!(s.name, o.name);
        assert!((s.mean - o.mean).abs() <= 1e-9 * s.mean.abs().max(1.0));
    }
    let (
        ModelParams::Logistic {
            coefficients: s,
            intercept: si,
            ..
        },
        ModelParams::Logistic {
            coefficients: o,
            intercept: oi,
            ..
        },
    ) = (&shipped.model, &ours.model);
    assert!((si - oi).abs() < 1e-6);
    for (a, b) in s.iter().zip(o) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    assert!((shipped.metrics.test.auc - ours.metrics.test.auc).abs() < 1e-6);
}

fn to_proto(a: &Account) -> pb::Account {
    let date = |d: chrono::NaiveDate| {
        use chrono::Datelike;
        Some(pb::Date {
            year: d.year(),
            month: d.month() as i32,
            day: d.day() as i32,
        })
    };
    pb::Account {
        account_id: a.account_id.clone(),
        as_of: date(a.as_of),
        profile: Some(pb::CreditProfile {
            credit_limit: a.profile.credit_limit,
            current_balance: a.profile.current_balance,
            months_on_book: a.profile.months_on_book,
            open_credit_lines: a.profile.open_credit_lines,
            prior_delinquencies: a.profile.prior_delinquencies,
            bureau_score: a.profile.bureau_score,
            annual_income: a.profile.annual_income,
            hardship: a.profile.hardship,
        }),
        history: a
            .history
            .iter()
            .map(|c| pb::PaymentCycle {
                statement_date: date(c.statement_date),
                amount_due: c.amount_due,
                minimum_due: c.minimum_due,
                amount_paid: c.amount_paid,
                days_past_due: c.days_past_due,
            })
            .collect(),
        attributes: a.attributes.clone(),
    }
}

#[tokio::test]
async fn the_server_scores_real_accounts_exactly_as_training_evaluated_them() {
    let Some(run) = run() else { return };
    let server = TestServer::start().await;
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
            max_reasons: 0,
            batch_id: 0,
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
