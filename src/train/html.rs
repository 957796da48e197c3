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

use std::fmt::Write;

use super::fit::Fitted;
use super::report::{Comparison, Evaluation, MetricsReport};
use crate::evaluation::{Decile, Metrics};
use crate::model::{Artifact, ModelParams};
use crate::stability::{PSI_ACT, PSI_WATCH};

const WIDTH: f64 = 460.0;
const HEIGHT: f64 = 300.0;
const MARGIN: f64 = 46.0;
/// Height of one legend line under a chart.
const LEGEND_LINE: f64 = 15.0;
const PAYER: &str = "#1b7837";
const DEFAULTER: &str = "#b2182b";
const NEUTRAL: &str = "#2166ac";
/// Line colours of the models on a comparison (champion, challenger).
const MODEL_COLORS: [&str; 2] = [NEUTRAL, "#e08214"];

/// One drawn series.
struct Series {
    name: String,
    color: &'static str,
    points: Vec<(f64, f64)>,
    bars: bool,
    /// Dashed line (the challenger's on a comparison).
    dashed: bool,
}

/// Axis labels and ranges of a chart.
struct Frame<'a> {
    x_label: &'a str,
    y_label: &'a str,
    x_max: f64,
    y_max: f64,
}

/// An SVG chart over `[0, x_max] x [0, y_max]` (with the diagonal when `diagonal`).
fn chart(id: &str, title: &str, frame: Frame<'_>, series: &[Series], diagonal: bool) -> String {
    let Frame {
        x_label,
        y_label,
        x_max,
        y_max,
    } = frame;
    let (w, h) = (WIDTH - 2.0 * MARGIN, HEIGHT - 2.0 * MARGIN);
    let x = |v: f64| MARGIN + v / x_max * w;
    let y = |v: f64| HEIGHT - MARGIN - v / y_max * h;
    // The legend sits under the plot, one line per series, so it never covers the data.
    let total_height = HEIGHT + 12.0 + LEGEND_LINE * series.len() as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure id="{id}"><svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{total_height}" viewBox="0 0 {WIDTH} {total_height}" role="img" aria-label="{title}">"#
    );
    let _ = write!(
        s,
        r##"<rect x="{MARGIN}" y="{MARGIN}" width="{w}" height="{h}" fill="#fafafa" stroke="#999"/>"##
    );
    // Bar charts label their categories (1, 2, ...) under the bars; line charts get quartiles.
    let categories = series
        .iter()
        .filter(|s| s.bars)
        .map(|s| s.points.len())
        .max();
    for k in 0..=4 {
        let f = f64::from(k) / 4.0;
        if categories.is_none() {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                x(f * x_max),
                HEIGHT - MARGIN + 14.0,
                tick(f * x_max)
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"#,
            MARGIN - 4.0,
            y(f * y_max) + 3.0,
            tick(f * y_max)
        );
    }
    if let Some(n) = categories {
        let slot = w / n.max(1) as f64;
        for i in 0..n {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                MARGIN + slot * (i as f64 + 0.5),
                HEIGHT - MARGIN + 14.0,
                i + 1
            );
        }
    }
    if diagonal {
        let _ = write!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
            x(0.0),
            y(0.0),
            x(x_max),
            y(y_max.min(x_max))
        );
    }
    let bar_series = series.iter().filter(|s| s.bars).count().max(1) as f64;
    for (k, series) in series.iter().enumerate() {
        if series.bars {
            let n = series.points.len().max(1) as f64;
            let slot = w / n;
            let width = slot * 0.8 / bar_series;
            for (i, &(_, v)) in series.points.iter().enumerate() {
                let left = MARGIN
                    + slot * i as f64
                    + slot * 0.1
                    + width * (k as f64).min(bar_series - 1.0);
                let _ = write!(
                    s,
                    r#"<rect x="{left:.1}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="{}" fill-opacity="0.75"/>"#,
                    y(v),
                    (y(0.0) - y(v)).max(0.0),
                    series.color
                );
            }
        } else {
            let path: Vec<String> = series
                .points
                .iter()
                .map(|&(a, b)| format!("{:.1},{:.1}", x(a), y(b)))
                .collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="2"{} points="{}"/>"#,
                series.color,
                if series.dashed {
                    r#" stroke-dasharray="6 3""#
                } else {
                    ""
                },
                path.join(" ")
            );
        }
        let swatch_y = HEIGHT + 12.0 + LEGEND_LINE * k as f64;
        let _ = write!(
            s,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="{}"{}/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            MARGIN,
            swatch_y - 4.0,
            MARGIN + 22.0,
            swatch_y - 4.0,
            series.color,
            if series.bars { 8 } else { 2 },
            if series.dashed {
                r#" stroke-dasharray="6 3""#
            } else {
                ""
            },
            MARGIN + 28.0,
            swatch_y,
            escape(&series.name)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
        MARGIN + w / 2.0,
        HEIGHT - 8.0,
        escape(x_label)
    );
    let _ = write!(
        s,
        r#"<text x="12" y="{:.1}" font-size="11" text-anchor="middle" transform="rotate(-90 12 {:.1})">{}</text>"#,
        MARGIN + h / 2.0,
        MARGIN + h / 2.0,
        escape(y_label)
    );
    let _ = write!(
        s,
        "</svg><figcaption>{}</figcaption></figure>",
        escape(title)
    );
    s
}

fn tick(v: f64) -> String {
    if v == 0.0 || v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Feature importance of an artifact: logistic, |coefficient| on standardised inputs;
/// gradient-boosted trees, the share of training cover (hessian) split on each feature. Shares
/// add up to one, largest first.
pub fn importance(a: &Artifact) -> Vec<(String, f64)> {
    let mut scores = vec![0.0; a.features.len()];
    match &a.model {
        ModelParams::Logistic { coefficients, .. } => {
            for (s, c) in scores.iter_mut().zip(coefficients) {
                *s = c.abs();
            }
        }
        ModelParams::Gbdt { trees, .. } => {
            for t in trees {
                for (n, &f) in t.split_feature.iter().enumerate() {
                    if let Ok(f) = usize::try_from(f) {
                        if let Some(s) = scores.get_mut(f) {
                            *s += t.cover[n];
                        }
                    }
                }
            }
        }
    }
    let total: f64 = scores.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut out: Vec<(String, f64)> = a
        .features
        .iter()
        .zip(scores)
        .map(|(f, s)| (f.name.clone(), s / total))
        .collect();
    out.sort_by(|x, y| y.1.total_cmp(&x.1));
    out
}

/// One model's scored rows, as a page draws them.
struct View<'a> {
    /// Legend label.
    label: String,
    /// Suffix of the model's table ids (`deciles-<id>`), empty on a one-model page.
    id: &'static str,
    /// `(predicted repayment, repaid)`, highest prediction first.
    scored: Vec<(f64, bool)>,
    metrics: &'a Metrics,
    deciles: &'a [Decile],
    importance: Vec<(String, f64)>,
}

impl<'a> View<'a> {
    fn new(
        label: String,
        id: &'static str,
        mut scored: Vec<(f64, bool)>,
        metrics: &'a Metrics,
        deciles: &'a [Decile],
        artifact: &Artifact,
    ) -> View<'a> {
        scored.sort_by(|x, y| y.0.total_cmp(&x.0));
        View {
            label,
            id,
            scored,
            metrics,
            deciles,
            importance: importance(artifact),
        }
    }
}

/// The curves of one model.
struct Curves {
    roc: Vec<(f64, f64)>,
    ks_payers: Vec<(f64, f64)>,
    ks_defaulters: Vec<(f64, f64)>,
    calibration: Vec<(f64, f64)>,
    payer_dist: Vec<(f64, f64)>,
    defaulter_dist: Vec<(f64, f64)>,
}

fn curves(scored: &[(f64, bool)]) -> Curves {
    let payers = scored.iter().filter(|s| s.1).count().max(1) as f64;
    let defaulters = scored.iter().filter(|s| !s.1).count().max(1) as f64;
    // ROC of "repays" (scores descending) and the KS gap along the score.
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut roc = vec![(0.0, 0.0)];
    let mut ks_payers = vec![(0.0, 0.0)];
    let mut ks_defaulters = vec![(0.0, 0.0)];
    for (k, &(p, y)) in scored.iter().enumerate() {
        if y {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let end_of_tie = k + 1 == scored.len() || scored[k + 1].0 != p;
        // About 500 points a curve are plenty on screen: keep a point when the curve has moved
        // 1/500 since the last one kept, and always the end.
        let moved = roc.last().is_none_or(|&(x, y): &(f64, f64)| {
            (fp / defaulters - x).abs().max((tp / payers - y).abs()) >= 0.002
        });
        if end_of_tie && (moved || k + 1 == scored.len()) {
            roc.push((fp / defaulters, tp / payers));
            // KS as cumulative shares below a score: ascending, so read from the other end.
            ks_payers.push((1.0 - p, tp / payers));
            ks_defaulters.push((1.0 - p, fp / defaulters));
        }
    }
    // Calibration: ten equal-width bins of predicted probability.
    let mut bins = [(0.0, 0.0, 0.0); 10];
    for &(p, y) in scored {
        let b = ((p * 10.0) as usize).min(9);
        bins[b].0 += 1.0;
        bins[b].1 += p;
        bins[b].2 += if y { 1.0 } else { 0.0 };
    }
    let calibration = bins
        .iter()
        .filter(|b| b.0 > 0.0)
        .map(|b| (b.1 / b.0, b.2 / b.0))
        .collect();
    // Score distributions: 20 bins, shares of each class.
    let mut dist = [[0.0; 20]; 2];
    for &(p, y) in scored {
        dist[usize::from(y)][((p * 20.0) as usize).min(19)] += 1.0;
    }
    let share = |c: usize, n: f64| -> Vec<(f64, f64)> {
        dist[c]
            .iter()
            .enumerate()
            .map(|(i, v)| ((i as f64 + 0.5) / 20.0, v / n))
            .collect()
    };
    Curves {
        roc,
        ks_payers,
        ks_defaulters,
        calibration,
        payer_dist: share(1, payers),
        defaulter_dist: share(0, defaulters),
    }
}

/// The six charts, every model of `views` drawn on each (the second one dashed or orange).
fn charts(views: &[View<'_>]) -> String {
    let all: Vec<Curves> = views.iter().map(|v| curves(&v.scored)).collect();
    let many = views.len() > 1;
    let named = |v: &View<'_>, what: &str| {
        if many {
            format!("{} {what}", v.label)
        } else {
            what.to_owned()
        }
    };
    let line = |name: String, color: &'static str, points: Vec<(f64, f64)>, k: usize| Series {
        name,
        color,
        points,
        bars: false,
        dashed: k > 0,
    };
    let model_color = |k: usize| MODEL_COLORS[k.min(MODEL_COLORS.len() - 1)];
    // A payers line and a defaulters line per model, the second model's dashed.
    type Pair<'c> = (&'c Vec<(f64, f64)>, &'c Vec<(f64, f64)>);
    let by_class = |pick: fn(&Curves) -> Pair<'_>| -> Vec<Series> {
        views
            .iter()
            .zip(&all)
            .enumerate()
            .flat_map(|(k, (v, c))| {
                let (payers, defaulters) = pick(c);
                [
                    line(named(v, "payers"), PAYER, payers.clone(), k),
                    line(named(v, "defaulters"), DEFAULTER, defaulters.clone(), k),
                ]
            })
            .collect()
    };
    let figures = |f: fn(&Metrics) -> f64| -> String {
        views
            .iter()
            .map(|v| format!("{:.4}", f(v.metrics)))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let unit = |x_label, y_label| Frame {
        x_label,
        y_label,
        x_max: 1.0,
        y_max: 1.0,
    };
    let mut html = String::new();
    html.push_str(&chart(
        "roc",
        &format!("ROC curve (AUC {})", figures(|m| m.auc)),
        unit("share of defaulters approved", "share of payers approved"),
        &views
            .iter()
            .zip(&all)
            .enumerate()
            .map(|(k, (v, c))| Series {
                dashed: false,
                ..line(named(v, "model"), model_color(k), c.roc.clone(), k)
            })
            .collect::<Vec<_>>(),
        true,
    ));
    html.push_str(&chart(
        "ks",
        &format!("KS curve (KS {})", figures(|m| m.ks)),
        unit("1 - predicted repayment", "cumulative share"),
        &by_class(|c| (&c.ks_payers, &c.ks_defaulters)),
        false,
    ));
    html.push_str(&chart(
        "calibration",
        &format!("Calibration (ECE {})", figures(|m| m.ece)),
        unit("mean predicted repayment", "observed repayment"),
        &views
            .iter()
            .zip(&all)
            .enumerate()
            .map(|(k, (v, c))| Series {
                dashed: false,
                ..line(
                    named(v, "per tenth of probability"),
                    model_color(k),
                    c.calibration.clone(),
                    k,
                )
            })
            .collect::<Vec<_>>(),
        true,
    ));
    let dist_max = all
        .iter()
        .flat_map(|c| c.payer_dist.iter().chain(&c.defaulter_dist))
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1e-9);
    html.push_str(&chart(
        "distributions",
        "Predicted repayment: payers and defaulters",
        Frame {
            x_label: "predicted repayment",
            y_label: "share of class",
            x_max: 1.0,
            y_max: dist_max,
        },
        &by_class(|c| (&c.payer_dist, &c.defaulter_dist)),
        false,
    ));
    let lift: Vec<Vec<(f64, f64)>> = views
        .iter()
        .map(|v| {
            v.deciles
                .iter()
                .map(|d| (f64::from(d.decile), d.lift))
                .collect()
        })
        .collect();
    let lift_max = lift.iter().flatten().map(|l| l.1).fold(1.0, f64::max);
    html.push_str(&chart(
        "lift",
        "Decile lift (riskiest tenth first)",
        Frame {
            x_label: "decile",
            y_label: "default-rate lift",
            x_max: 10.0,
            y_max: lift_max,
        },
        &views
            .iter()
            .zip(lift)
            .enumerate()
            .map(|(k, (v, points))| Series {
                name: named(v, "lift"),
                color: if many { model_color(k) } else { DEFAULTER },
                points,
                bars: true,
                dashed: false,
            })
            .collect::<Vec<_>>(),
        false,
    ));
    // Importance: the first model's top 12 features, every model's share of each.
    let top: Vec<&str> = views
        .first()
        .map(|v| v.importance.iter().take(12).map(|t| t.0.as_str()).collect())
        .unwrap_or_default();
    let bars: Vec<Vec<(f64, f64)>> = views
        .iter()
        .map(|v| {
            top.iter()
                .enumerate()
                .map(|(i, name)| {
                    let share = v
                        .importance
                        .iter()
                        .find(|t| t.0 == *name)
                        .map_or(0.0, |t| t.1);
                    (i as f64, share)
                })
                .collect()
        })
        .collect();
    let importance_max = bars
        .iter()
        .flatten()
        .map(|b| b.1)
        .fold(0.0, f64::max)
        .max(1e-9);
    html.push_str(&chart(
        "importance",
        "Feature importance (top 12, in the table below)",
        Frame {
            x_label: "feature rank",
            y_label: "share",
            x_max: top.len().max(1) as f64,
            y_max: importance_max,
        },
        &views
            .iter()
            .zip(bars)
            .enumerate()
            .map(|(k, (v, points))| Series {
                name: named(v, "importance"),
                color: model_color(k),
                points,
                bars: true,
                dashed: false,
            })
            .collect::<Vec<_>>(),
        false,
    ));
    html
}

/// The page's head and title.
fn open(title: &str, intro: &str) -> String {
    let mut html = String::new();
    let _ = write!(html, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:sans-serif;margin:2em;max-width:1000px}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#eee}}figure{{display:inline-block;margin:0.5em}}figcaption{{text-align:center;font-size:0.9em}}</style></head><body>", escape(title));
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
    html.push_str("<h2>Data summary (training rows)</h2><table id=\"features\"><tr><th>feature</th><th>mean</th><th>std</th><th>missing</th></tr>");
    for f in &a.features {
        let _ = write!(html, "<tr><td style=\"text-align:left\">{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.1} %</td></tr>", escape(&f.name), f.mean, f.std, 100.0 * f.missing_rate);
    }
    html.push_str("</table></body></html>\n");
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
