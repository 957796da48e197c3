//! Out-of-time validation: a model trained on older snapshots and tested on newer ones records
//! the split and the periods it used.
#![cfg(feature = "train")]

use std::fmt::Write;

use chrono::{Datelike, NaiveDate};
use payrisk::model::Model;
use payrisk::stability::PSI_ACT;
use payrisk::train::fit::{fit_logistic, FitConfig};
use payrisk::train::report::{Comparison, Evaluation, MetricsReport};
use payrisk::train::tables::{load, TablePaths};

/// Month-end snapshots, 150 accounts each, with six monthly cycles; accounts that are further
/// past due repay less often (a seeded draw).
fn write_tables(dir: &std::path::Path) -> TablePaths {
    write_tables_with(dir, &[0, 0, 0, 30, 60, 90])
}

/// As [`write_tables`], drawing each account's days past due from `dpd_choices`.
fn write_tables_with(dir: &std::path::Path, dpd_choices: &[u32]) -> TablePaths {
    let mut accounts = String::from("account_id,as_of,credit_limit,current_balance,months_on_book,open_credit_lines,prior_delinquencies,bureau_score,annual_income,hardship\n");
    let mut history = String::from(
        "account_id,statement_date,amount_due,minimum_due,amount_paid,days_past_due\n",
    );
    let mut outcomes = String::from("account_id,repaid\n");
    let mut rng = crate::common::Rng(5);
    let mut next = move || rng.uniform();
    let month_end = |y: i32, m: u32| {
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        NaiveDate::from_ymd_opt(ny, nm, 1)
            .and_then(|d| d.pred_opt())
            .expect("date")
    };
    let mut id = 0;
    for snapshot in 0..4u32 {
        let as_of = month_end(2024, 9 + snapshot);
        for _ in 0..150 {
            id += 1;
            let dpd = dpd_choices[(next() * dpd_choices.len() as f64) as usize];
            writeln!(accounts, "C{id},{as_of},5000,2500,24,2,0,650,40000,0").expect("write");
            for back in (0..6).rev() {
                let total = as_of.year() * 12 + as_of.month0() as i32 - back;
                let date = month_end(total / 12, (total % 12) as u32 + 1);
                let overdue = if back == 0 { dpd } else { 0 };
                let paid = if overdue > 0 { 0 } else { 250 };
                writeln!(history, "C{id},{date},2500,250,{paid},{overdue}").expect("write");
            }
            let repaid = next() < 0.9 - f64::from(dpd) / 120.0;
            writeln!(outcomes, "C{id},{}", u8::from(repaid)).expect("write");
        }
    }
    crate::common::write_tables(dir, &accounts, &history, &outcomes)
}

/// Logistic, trained on the snapshots up to 2024-10-31 and tested on the later ones.
fn oot_config() -> FitConfig {
    FitConfig {
        name: "oot".into(),
        version: "1".into(),
        split: "time:2024-10-31".parse().expect("split"),
        l2_penalty: 1.0,
        max_iterations: 200,
        calibration: None,
        transforms: Default::default(),
    }
}

#[test]
fn out_of_time_fit_trains_on_older_snapshots_and_records_the_periods() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = write_tables(dir.path());
    let set = load(&paths).expect("valid tables");
    let config = oot_config();
    let fitted = fit_logistic(&set, &paths, &config).expect("fit");
    let t = &fitted.artifact.training;
    assert_eq!(
        t.split,
        "out of time: train = as_of <= 2024-10-31, test = as_of > 2024-10-31"
    );
    assert_eq!((t.train_rows, t.test_rows), (300, 300));
    let (train, test) = (t.train_period.expect("train"), t.test_period.expect("test"));
    assert_eq!(train.first.to_string(), "2024-09-30");
    assert_eq!(train.last.to_string(), "2024-10-31");
    assert_eq!(test.first.to_string(), "2024-11-30");
    assert_eq!(test.last.to_string(), "2024-12-31");
    // The held-out accounts are exactly the newer snapshots.
    assert_eq!(fitted.test_predictions.len(), 300);
    assert!(fitted
        .test_predictions
        .iter()
        .all(|(id, _, _)| id[1..].parse::<u32>().expect("id") > 300));
    // Delinquency predicts repayment in the newer months too.
    assert!(
        fitted.artifact.metrics.test.auc > 0.65,
        "{:?}",
        fitted.artifact.metrics.test
    );

    // A cutoff after every snapshot leaves nothing to test on: a clear error.
    let late = FitConfig {
        split: "time:2025-06-30".parse().expect("split"),
        ..config
    };
    let err = fit_logistic(&set, &paths, &late)
        .expect_err("no test rows")
        .to_string();
    assert!(err.contains("0 test rows"), "{err}");
}

#[test]
fn evaluate_scores_new_data_and_flags_drift_and_compare_takes_differences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = write_tables(dir.path());
    let set = load(&paths).expect("valid tables");
    let config = oot_config();
    let fitted = fit_logistic(&set, &paths, &config).expect("fit");
    let model = Model::from_artifact(fitted.artifact.clone()).expect("model");

    // The same population: every row scored, the test rows' figures reproduced, no drift alarm.
    let same = Evaluation::of(&model, &set, &paths).expect("evaluation");
    assert_eq!(same.metrics.rows, 600);
    assert_eq!(same.deciles.iter().map(|d| d.count).sum::<u64>(), 600);
    let drift = same.drift.as_ref().expect("the artifact has a baseline");
    assert!(drift.score_psi < PSI_ACT, "{}", drift.score_psi);

    // A portfolio that has turned delinquent: the score and the delinquency features alarm.
    let worse_dir = tempfile::tempdir().expect("tempdir");
    let worse_paths = write_tables_with(worse_dir.path(), &[60, 90]);
    let worse_set = load(&worse_paths).expect("valid tables");
    let worse = Evaluation::of(&model, &worse_set, &worse_paths).expect("evaluation");
    let drift = worse.drift.as_ref().expect("drift");
    assert!(drift.score_psi > PSI_ACT, "{}", drift.score_psi);
    let dpd = drift
        .feature_psi
        .iter()
        .find(|f| f.name == "dpd_current")
        .expect("dpd_current");
    assert!(dpd.psi > PSI_ACT, "{}", dpd.psi);

    // Champion against itself: zero differences; against other data: refused.
    let c = Comparison::of(same.clone(), same.clone()).expect("comparison");
    assert_eq!(
        (c.auc_delta, c.ks_delta, c.brier_delta, c.ece_delta),
        (0.0, 0.0, 0.0, 0.0)
    );
    assert!(Comparison::of(same, worse).is_err());
}

#[test]
fn the_html_report_is_self_contained_and_shows_the_metrics_json_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = write_tables(dir.path());
    let set = load(&paths).expect("valid tables");
    let config = oot_config();
    let fitted = fit_logistic(&set, &paths, &config).expect("fit");
    let report = MetricsReport::of(&fitted).expect("report");
    let html = payrisk::train::html::render(&fitted, &report);

    assert_self_contained_with_six_charts(&html);
    // The numbers are metrics.json's.
    for (name, m) in [("train", &report.train), ("test", &report.test)] {
        let row_at = html
            .find(&format!("<tr id=\"metrics-{name}\">"))
            .expect("metrics row");
        let row = &html[row_at..row_at + html[row_at..].find("</tr>").expect("row end")];
        assert!(
            row.contains(&format!("data-metric=\"auc\">{:.4}<", m.auc)),
            "{row}"
        );
        assert!(
            row.contains(&format!("data-metric=\"ks\">{:.4}<", m.ks)),
            "{row}"
        );
        assert!(
            row.contains(&format!("data-metric=\"ece\">{:.4}<", m.ece)),
            "{row}"
        );
    }
    assert!(html.contains(&format!("ROC curve (AUC {:.4})", report.test.auc)));
    // Every account has the same limit, balance, income and bureau score: those features say
    // nothing, and the report says so, with their true spread (0, not the placeholder 1).
    let useless: Vec<&str> = report
        .uninformative_features
        .iter()
        .map(|u| u.name.as_str())
        .collect();
    for name in ["log_credit_limit", "bureau_score", "hardship", "log_income"] {
        assert!(useless.contains(&name), "{name} in {useless:?}");
    }
    assert!(!useless.contains(&"dpd_current"), "{useless:?}");
    assert!(
        html.contains(&format!(
            "{} of {} features carry no information",
            useless.len(),
            fitted.summary.len()
        )),
        "the report warns"
    );
    assert!(
        html.contains(
            "<td style=\"text-align:left\">log_credit_limit</td><td>8.5174</td><td>0.0000</td>"
        ),
        "the true spread is shown"
    );
    let deciles_at = html.find("<table id=\"deciles\">").expect("deciles");
    let deciles = &html[deciles_at..deciles_at + html[deciles_at..].find("</table>").expect("end")];
    assert_eq!(
        deciles.matches("<tr>").count(),
        1 + report.test_deciles.len()
    );
    // Importance shares add up to one and name the model's features.
    let importance = payrisk::train::html::importance(&fitted.artifact);
    assert_eq!(importance.len(), fitted.artifact.features.len());
    assert!((importance.iter().map(|i| i.1).sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(html.contains(&format!(">{}<", importance[0].0)));
}

/// Offline (no scripts, links or external resources), with the six charts, each an inline SVG
/// with a caption.
fn assert_self_contained_with_six_charts(html: &str) {
    for banned in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(banned), "the report contains {banned}");
    }
    for id in [
        "roc",
        "ks",
        "calibration",
        "distributions",
        "lift",
        "importance",
    ] {
        let at = html
            .find(&format!("<figure id=\"{id}\"><svg"))
            .unwrap_or_else(|| panic!("no {id} chart"));
        assert!(html[at..].contains("</svg><figcaption>"), "{id}");
    }
    assert_eq!(html.matches("<svg").count(), 6);
    assert!(
        html.matches("<polyline").count() >= 5,
        "ROC, KS x2, calibration, distributions x2"
    );
}

/// The `<table id="{id}">` element.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("<table id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no table {id}"));
    &html[at..at + html[at..].find("</table>").expect("table end")]
}

#[test]
fn evaluate_and_compare_reports_show_their_json_figures_and_drift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = write_tables(dir.path());
    let set = load(&paths).expect("valid tables");
    let fitted = fit_logistic(&set, &paths, &oot_config()).expect("fit");
    let champion = Model::from_artifact(fitted.artifact.clone()).expect("model");
    let worse_dir = tempfile::tempdir().expect("tempdir");
    let worse_paths = write_tables_with(worse_dir.path(), &[60, 90]);
    let worse_set = load(&worse_paths).expect("valid tables");

    // evaluate: every row drawn, the JSON's figures, and the drift table flags the shift.
    let e = Evaluation::of(&champion, &worse_set, &worse_paths).expect("evaluation");
    assert_eq!(e.predictions.len(), 600);
    let html = payrisk::train::html::render_evaluation(&e, champion.artifact());
    assert_self_contained_with_six_charts(&html);
    let row = table(&html, "metrics");
    assert!(row.contains(&format!("data-metric=\"auc\">{:.4}<", e.metrics.auc)));
    assert!(row.contains(&format!("data-metric=\"ece\">{:.4}<", e.metrics.ece)));
    assert_eq!(table(&html, "deciles").matches("<tr>").count(), 11);
    let drift = table(&html, "drift");
    let score_psi = e.drift.as_ref().expect("drift").score_psi;
    assert!(
        drift.contains(&format!(">score</td><td>{score_psi:.4}</td><td>act</td>")),
        "{drift}"
    );
    assert!(drift.contains(">dpd_current</td>"));

    // compare: both models on every chart and table, and the differences.
    let mut challenger_config = oot_config();
    challenger_config.version = "2".into();
    challenger_config.l2_penalty = 50.0;
    let challenger = Model::from_artifact(
        fit_logistic(&set, &paths, &challenger_config)
            .expect("fit")
            .artifact,
    )
    .expect("model");
    let c = Comparison::of(
        Evaluation::of(&champion, &set, &paths).expect("evaluation"),
        Evaluation::of(&challenger, &set, &paths).expect("evaluation"),
    )
    .expect("comparison");
    let html =
        payrisk::train::html::render_comparison(&c, champion.artifact(), challenger.artifact());
    assert_self_contained_with_six_charts(&html);
    for (id, e) in [("champion", &c.champion), ("challenger", &c.challenger)] {
        let metrics = table(&html, "metrics");
        let row_at = metrics
            .find(&format!("<tr id=\"metrics-{id}\">"))
            .expect("row");
        assert!(metrics[row_at..].contains(&format!("data-metric=\"auc\">{:.4}<", e.metrics.auc)));
        assert_eq!(
            table(&html, &format!("deciles-{id}"))
                .matches("<tr>")
                .count(),
            11
        );
    }
    assert!(html.contains(&format!("<b id=\"auc-delta\">{:+.4}</b>", c.auc_delta)));
    // Two ROC curves, the challenger's KS and distribution lines dashed.
    let roc = &html[html.find("<figure id=\"roc\">").expect("roc")..];
    assert_eq!(
        roc[..roc.find("</figure>").expect("end")]
            .matches("<polyline")
            .count(),
        2
    );
    assert_eq!(html.matches("stroke-dasharray=\"6 3\" points=").count(), 4);
}
