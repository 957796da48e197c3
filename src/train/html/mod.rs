//! The HTML reports of `payrisk-train`: one self-contained page each (inline CSS and SVG drawn
//! here, no scripts, no network) with the metrics, decile tables and six charts: ROC curve, KS
//! curve, calibration diagram, score distributions of payers and defaulters, decile lift, and
//! feature importance.
//! - [`render`]: `report.html` beside every artifact `fit` makes, on the held-out rows, with
//!   the training data summary. Its figures are `metrics.json`'s.
//! - [`render_evaluation`]: `evaluate`'s page, on every row of the new data, with drift (PSI)
//!   against the model's training baseline. Its figures are the evaluation JSON's.
//! - [`render_comparison`]: `compare`'s page, champion and challenger drawn over each other, with
//!   the differences.
//! - [`render_readout`]: `readout`'s page, what decisions led to; every figure carries its
//!   pointer into `readout.json`.
//! - [`render_plan`]: `plan`'s page, a day's plan within capacities beside today's threshold
//!   policy, pointers into `plan.json`.
//! - [`render_uplift`]: the report of a treatment-effect fit (Qini curves, uplift by decile,
//!   balance of the treatment groups, policies on the simulator's truth), pointers into its
//!   `metrics.json`.
//!
//! The pages are assembled here; `figures` computes and draws the charts of each model, on the
//! chart kit of `svg`.

mod figures;
mod plan;
mod readout;
mod svg;
mod uplift;

use std::fmt::Write;

use super::fit::Fitted;
use super::report::{Comparison, Evaluation, MetricsReport};
use crate::evaluation::Metrics;
use crate::model::Artifact;
use crate::stability::{PSI_ACT, PSI_WATCH};
pub use figures::importance;
use figures::{charts, View};
pub use plan::render_plan;
pub use readout::render_readout;
use svg::escape;
pub use uplift::render_uplift;

/// The page's head and title.
fn open(title: &str, intro: &str) -> String {
    let mut html = String::new();
    let _ = write!(html, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:sans-serif;margin:2em;max-width:1000px}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#eee}}figure{{display:inline-block;margin:0.5em}}figcaption{{text-align:center;font-size:0.9em}}.warning{{background:#fff4d6;border-left:4px solid #d9a400;padding:0.5em 1em}}</style></head><body>", escape(title));
    let _ = write!(html, "<h1>{}</h1><p>{intro}</p>", escape(title));
    html
}

/// The metrics table, one row per `(row id, name, metrics)`.
fn metrics_table(rows: &[(&str, &str, &Metrics)]) -> String {
    let mut html = String::from("<h2>Metrics</h2><table id=\"metrics\"><tr><th></th><th>rows</th><th>repayment rate</th><th>AUC</th><th>Gini</th><th>KS</th><th>Brier</th><th>log loss</th><th>ECE</th></tr>");
    for (id, name, m) in rows {
        let _ = write!(html, "<tr id=\"metrics-{id}\"><th>{}</th><td>{}</td><td>{:.4}</td><td data-metric=\"auc\">{:.4}</td><td>{:.4}</td><td data-metric=\"ks\">{:.4}</td><td>{:.4}</td><td>{:.4}</td><td data-metric=\"ece\">{:.4}</td></tr>", escape(name), m.rows, m.repayment_rate, m.auc, m.gini, m.ks, m.brier, m.log_loss, m.ece);
    }
    html.push_str("</table>");
    html
}

/// Each model's decile table and the importance table.
fn tables(views: &[View<'_>], what: &str) -> String {
    let mut html = String::new();
    for v in views {
        let id = if v.id.is_empty() {
            "deciles".to_owned()
        } else {
            format!("deciles-{}", v.id)
        };
        let heading = if views.len() > 1 {
            format!("Deciles of {} ({what}, riskiest first)", v.label)
        } else {
            format!("Deciles ({what}, riskiest first)")
        };
        let _ = write!(html, "<h2>{}</h2><table id=\"{id}\"><tr><th>decile</th><th>count</th><th>predicted</th><th>observed repayment</th><th>capture</th><th>lift</th></tr>", escape(&heading));
        for d in v.deciles {
            let _ = write!(html, "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.2}</td></tr>", d.decile, d.count, d.mean_predicted, d.observed_repayment, d.cumulative_capture, d.lift);
        }
        html.push_str("</table>");
    }
    html.push_str(
        "<h2>Feature importance</h2><table id=\"importance\"><tr><th>rank</th><th>feature</th>",
    );
    for v in views {
        let _ = write!(html, "<th>{}</th>", escape(&format!("{} share", v.label)));
    }
    html.push_str("</tr>");
    if let Some(first) = views.first() {
        for (i, (name, share)) in first.importance.iter().enumerate() {
            let _ = write!(
                html,
                "<tr><td>{}</td><td style=\"text-align:left\">{}</td><td>{share:.4}</td>",
                i + 1,
                escape(name)
            );
            for v in &views[1..] {
                match v.importance.iter().find(|t| &t.0 == name) {
                    Some(t) => {
                        let _ = write!(html, "<td>{:.4}</td>", t.1);
                    }
                    None => html.push_str("<td>-</td>"),
                }
            }
            html.push_str("</tr>");
        }
    }
    html.push_str("</table>");
    html
}

/// The drift table: PSI of the score and of each feature against each model's training
/// baseline, largest first by the first model, with the documented status.
fn drift_table(evaluations: &[&Evaluation]) -> String {
    let status = |psi: f64| {
        if psi >= PSI_ACT {
            "act"
        } else if psi >= PSI_WATCH {
            "watch"
        } else {
            "stable"
        }
    };
    let Some(Some(first)) = evaluations.first().map(|e| e.drift.as_ref()) else {
        return "<h2>Drift</h2><p>The model has no training baseline to compare with.</p>".into();
    };
    let mut html = format!("<h2>Drift against the training baseline</h2><p>Population stability index; {PSI_WATCH} and above: watch, {PSI_ACT} and above: act.</p><table id=\"drift\"><tr><th>input</th>");
    for e in evaluations {
        let _ = write!(
            html,
            "<th>{}</th><th>status</th>",
            escape(&format!("{}/{} PSI", e.name, e.version))
        );
    }
    html.push_str("</tr>");
    let mut names: Vec<(&str, f64)> = vec![("score", first.score_psi)];
    let mut features: Vec<(&str, f64)> = first
        .feature_psi
        .iter()
        .map(|f| (f.name.as_str(), f.psi))
        .collect();
    features.sort_by(|a, b| b.1.total_cmp(&a.1));
    names.extend(features);
    for (name, _) in names {
        let _ = write!(
            html,
            "<tr><td style=\"text-align:left\">{}</td>",
            escape(name)
        );
        for e in evaluations {
            let psi = e.drift.as_ref().and_then(|d| {
                if name == "score" {
                    Some(d.score_psi)
                } else {
                    d.feature_psi.iter().find(|f| f.name == name).map(|f| f.psi)
                }
            });
            match psi {
                Some(psi) => {
                    let _ = write!(html, "<td>{psi:.4}</td><td>{}</td>", status(psi));
                }
                None => html.push_str("<td>-</td><td></td>"),
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

fn model_label(a: &Artifact) -> String {
    format!("{}/{} ({})", a.name, a.version, a.model.kind())
}

/// `report.html` of a fitted model: its held-out rows, and the training data summary.
pub fn render(fitted: &Fitted, report: &MetricsReport) -> String {
    let a = &fitted.artifact;
    let scored = fitted
        .test_predictions
        .iter()
        .map(|(_, y, p)| (*p, *y))
        .collect();
    let view = View::new(
        model_label(a),
        "",
        scored,
        &report.test,
        &report.test_deciles,
        a,
    );
    let title = format!("payrisk model {}", model_label(a));
    let mut html = open(
        &title,
        &format!(
            "Trained {} on {} training and {} held-out accounts; split: {}; data fingerprint <code>{}</code>.",
            a.created_at.format("%Y-%m-%d %H:%M UTC"),
            a.training.train_rows,
            a.training.test_rows,
            escape(&a.training.split),
            escape(&a.training.data_fingerprint)
        ),
    );
    html.push_str(&metrics_table(&[
        ("train", "train", &report.train),
        ("test", "test", &report.test),
    ]));
    html.push_str("<h2>Held-out charts</h2>");
    html.push_str(&charts(std::slice::from_ref(&view)));
    html.push_str(&tables(std::slice::from_ref(&view), "held out"));
    html.push_str("<h2>Data summary (training rows)</h2>");
    let useless: Vec<&str> = fitted
        .summary
        .iter()
        .filter(|f| f.uninformative().is_some())
        .map(|f| f.name.as_str())
        .collect();
    if !useless.is_empty() {
        let _ = write!(
            html,
            "<p class=\"warning\"><strong>{} of {} features carry no information</strong> on the training rows (the same value everywhere, or missing everywhere) and get importance 0: {}.</p>",
            useless.len(),
            fitted.summary.len(),
            escape(&useless.join(", "))
        );
    }
    html.push_str("<table id=\"features\"><tr><th>feature</th><th>mean</th><th>std</th><th>missing</th><th>note</th></tr>");
    for f in &fitted.summary {
        let note = f.uninformative().unwrap_or("");
        let _ = write!(html, "<tr><td style=\"text-align:left\">{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.1} %</td><td style=\"text-align:left\">{}</td></tr>", escape(&f.name), f.mean, f.std, 100.0 * f.missing_rate, note);
    }
    html.push_str("</table>");
    html.push_str(&points_table(&report.scorecard));
    html.push_str("</body></html>\n");
    html
}

/// A scorecard's points table: inputs by information value, each bin with its counts, WoE and
/// points.
fn points_table(rows: &[super::report::PointsRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut inputs: Vec<(&str, f64, f64)> = Vec::new();
    for r in rows {
        if inputs.last().is_none_or(|i| i.0 != r.input) {
            inputs.push((&r.input, r.information_value, r.coefficient));
        }
    }
    inputs.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut html = String::from("<h2>Scorecard</h2><p>Each input's bins on the training rows, with their weight of evidence (positive: more repayment than average) and points; an account's points add up to its score. Inputs by information value; those with coefficient 0 take no part (information value below the threshold). A reason code is what an input lost against its best bin.</p><table id=\"scorecard\"><tr><th>input</th><th>IV</th><th>coefficient</th><th>bin</th><th>repaid</th><th>defaulted</th><th>WoE</th><th>points</th></tr>");
    for (name, iv, coefficient) in inputs {
        for r in rows.iter().filter(|r| r.input == name) {
            let _ = write!(html, "<tr><td style=\"text-align:left\">{}</td><td>{iv:.4}</td><td>{coefficient:.4}</td><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.1}</td></tr>", escape(name), escape(&r.bin), r.repaid, r.defaulted, r.woe, r.points);
        }
    }
    html.push_str("</table>");
    html
}

/// `evaluate`'s page: `model` scored on every row of new data, with drift against its training
/// baseline.
pub fn render_evaluation(e: &Evaluation, model: &Artifact) -> String {
    let view = View::new(
        model_label(model),
        "",
        e.predictions.clone(),
        &e.metrics,
        &e.deciles,
        model,
    );
    let mut html = open(
        &format!("payrisk evaluation of {}", model_label(model)),
        &format!(
            "Every one of {} labelled accounts scored; data fingerprint <code>{}</code>.",
            e.metrics.rows,
            escape(&e.data_fingerprint)
        ),
    );
    html.push_str(&metrics_table(&[("evaluated", "all rows", &e.metrics)]));
    html.push_str("<h2>Charts</h2>");
    html.push_str(&charts(std::slice::from_ref(&view)));
    html.push_str(&drift_table(&[e]));
    html.push_str(&tables(std::slice::from_ref(&view), "all rows"));
    html.push_str("</body></html>\n");
    html
}

/// `compare`'s page: champion and challenger on the same data, drawn over each other.
pub fn render_comparison(c: &Comparison, champion: &Artifact, challenger: &Artifact) -> String {
    let views = [
        View::new(
            format!("champion {}", model_label(champion)),
            "champion",
            c.champion.predictions.clone(),
            &c.champion.metrics,
            &c.champion.deciles,
            champion,
        ),
        View::new(
            format!("challenger {}", model_label(challenger)),
            "challenger",
            c.challenger.predictions.clone(),
            &c.challenger.metrics,
            &c.challenger.deciles,
            challenger,
        ),
    ];
    let mut html = open(
        &format!(
            "payrisk comparison: {} against {}",
            model_label(challenger),
            model_label(champion)
        ),
        &format!(
            "Both models scored on the same {} labelled accounts (data fingerprint <code>{}</code>). Challenger minus champion: AUC <b id=\"auc-delta\">{:+.4}</b>, KS {:+.4}, Brier {:+.4} (negative is better), ECE {:+.4} (negative is better).",
            c.champion.metrics.rows,
            escape(&c.champion.data_fingerprint),
            c.auc_delta,
            c.ks_delta,
            c.brier_delta,
            c.ece_delta
        ),
    );
    html.push_str(&metrics_table(&[
        ("champion", "champion", &c.champion.metrics),
        ("challenger", "challenger", &c.challenger.metrics),
    ]));
    html.push_str("<h2>Charts (challenger dashed or orange)</h2>");
    html.push_str(&charts(&views));
    html.push_str(&drift_table(&[&c.champion, &c.challenger]));
    html.push_str(&tables(&views, "all rows"));
    html.push_str("</body></html>\n");
    html
}
