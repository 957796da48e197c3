//! `report.html`, written beside every artifact `payrisk-train fit` makes: one self-contained
//! page (inline CSS and SVG drawn here, no scripts, no network) with the metrics, the decile
//! table, the data summary and six charts of the held-out rows: ROC curve, KS curve,
//! calibration diagram, score distributions of payers and defaulters, decile lift, and feature
//! importance. Every figure on the page comes from the artifact, the held-out predictions and
//! [`MetricsReport`], the same numbers as `metrics.json`.

use std::fmt::Write;

use super::fit::Fitted;
use super::report::MetricsReport;
use crate::model::ModelParams;

const WIDTH: f64 = 460.0;
const HEIGHT: f64 = 300.0;
const MARGIN: f64 = 46.0;
const PAYER: &str = "#1b7837";
const DEFAULTER: &str = "#b2182b";
const NEUTRAL: &str = "#2166ac";

/// One drawn series.
struct Series {
    name: String,
    color: &'static str,
    points: Vec<(f64, f64)>,
    bars: bool,
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
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure id="{id}"><svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">"#
    );
    let _ = write!(
        s,
        r##"<rect x="{MARGIN}" y="{MARGIN}" width="{w}" height="{h}" fill="#fafafa" stroke="#999"/>"##
    );
    for k in 0..=4 {
        let f = f64::from(k) / 4.0;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"##,
            x(f * x_max),
            HEIGHT - MARGIN + 14.0,
            tick(f * x_max),
            MARGIN - 4.0,
            y(f * y_max) + 3.0,
            tick(f * y_max)
        );
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
                r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
                series.color,
                path.join(" ")
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" fill="{}">{}</text>"#,
            MARGIN + 8.0,
            MARGIN + 14.0 + 13.0 * k as f64,
            series.color,
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

/// Feature importance from the artifact: logistic, |coefficient| on standardised inputs;
/// gradient-boosted trees, the share of training cover (hessian) split on each feature.
pub fn importance(fitted: &Fitted) -> Vec<(String, f64)> {
    let a = &fitted.artifact;
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

/// The page.
pub fn render(fitted: &Fitted, report: &MetricsReport) -> String {
    let a = &fitted.artifact;
    let mut scored: Vec<(f64, bool)> = fitted
        .test_predictions
        .iter()
        .map(|(_, y, p)| (*p, *y))
        .collect();
    scored.sort_by(|x, y| y.0.total_cmp(&x.0));
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
    for &(p, y) in &scored {
        let b = ((p * 10.0) as usize).min(9);
        bins[b].0 += 1.0;
        bins[b].1 += p;
        bins[b].2 += if y { 1.0 } else { 0.0 };
    }
    let calibration: Vec<(f64, f64)> = bins
        .iter()
        .filter(|b| b.0 > 0.0)
        .map(|b| (b.1 / b.0, b.2 / b.0))
        .collect();
    // Score distributions: 20 bins, shares of each class.
    let mut dist = [[0.0; 20]; 2];
    for &(p, y) in &scored {
        dist[usize::from(y)][((p * 20.0) as usize).min(19)] += 1.0;
    }
    let share = |c: usize, n: f64| -> Vec<(f64, f64)> {
        dist[c]
            .iter()
            .enumerate()
            .map(|(i, v)| ((i as f64 + 0.5) / 20.0, v / n))
            .collect()
    };
    let (payer_dist, defaulter_dist) = (share(1, payers), share(0, defaulters));
    let dist_max = payer_dist
        .iter()
        .chain(&defaulter_dist)
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1e-9);
    let lift: Vec<(f64, f64)> = report
        .test_deciles
        .iter()
        .map(|d| (f64::from(d.decile), d.lift))
        .collect();
    let lift_max = lift.iter().map(|l| l.1).fold(1.0, f64::max);
    let importance = importance(fitted);
    let top: Vec<&(String, f64)> = importance.iter().take(12).collect();
    let importance_max = top.first().map_or(1.0, |t| t.1).max(1e-9);

    let mut html = String::new();
    let title = format!(
        "payrisk model {}/{} ({})",
        a.name,
        a.version,
        a.model.kind()
    );
    let _ = write!(html, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:sans-serif;margin:2em;max-width:1000px}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#eee}}figure{{display:inline-block;margin:0.5em}}figcaption{{text-align:center;font-size:0.9em}}</style></head><body>", escape(&title));
    let _ = write!(html, "<h1>{}</h1><p>Trained {} on {} training and {} held-out accounts; split: {}; data fingerprint <code>{}</code>.</p>", escape(&title), a.created_at.format("%Y-%m-%d %H:%M UTC"), a.training.train_rows, a.training.test_rows, escape(&a.training.split), escape(&a.training.data_fingerprint));
    let _ = write!(html, "<h2>Metrics</h2><table id=\"metrics\"><tr><th></th><th>rows</th><th>repayment rate</th><th>AUC</th><th>Gini</th><th>KS</th><th>Brier</th><th>log loss</th><th>ECE</th></tr>");
    for (name, m) in [("train", &report.train), ("test", &report.test)] {
        let _ = write!(html, "<tr id=\"metrics-{name}\"><th>{name}</th><td>{}</td><td>{:.4}</td><td data-metric=\"auc\">{:.4}</td><td>{:.4}</td><td data-metric=\"ks\">{:.4}</td><td>{:.4}</td><td>{:.4}</td><td data-metric=\"ece\">{:.4}</td></tr>", m.rows, m.repayment_rate, m.auc, m.gini, m.ks, m.brier, m.log_loss, m.ece);
    }
    html.push_str("</table><h2>Held-out charts</h2>");
    html.push_str(&chart(
        "roc",
        &format!("ROC curve (AUC {:.4})", report.test.auc),
        Frame {
            x_label: "share of defaulters approved",
            y_label: "share of payers approved",
            x_max: 1.0,
            y_max: 1.0,
        },
        &[Series {
            name: "model".into(),
            color: NEUTRAL,
            points: roc,
            bars: false,
        }],
        true,
    ));
    html.push_str(&chart(
        "ks",
        &format!("KS curve (KS {:.4})", report.test.ks),
        Frame {
            x_label: "1 - predicted repayment",
            y_label: "cumulative share",
            x_max: 1.0,
            y_max: 1.0,
        },
        &[
            Series {
                name: "payers".into(),
                color: PAYER,
                points: ks_payers,
                bars: false,
            },
            Series {
                name: "defaulters".into(),
                color: DEFAULTER,
                points: ks_defaulters,
                bars: false,
            },
        ],
        false,
    ));
    html.push_str(&chart(
        "calibration",
        &format!("Calibration (ECE {:.4})", report.test.ece),
        Frame {
            x_label: "mean predicted repayment",
            y_label: "observed repayment",
            x_max: 1.0,
            y_max: 1.0,
        },
        &[Series {
            name: "per tenth of probability".into(),
            color: NEUTRAL,
            points: calibration,
            bars: false,
        }],
        true,
    ));
    html.push_str(&chart(
        "distributions",
        "Predicted repayment: payers and defaulters",
        Frame {
            x_label: "predicted repayment",
            y_label: "share of class",
            x_max: 1.0,
            y_max: dist_max,
        },
        &[
            Series {
                name: "payers".into(),
                color: PAYER,
                points: payer_dist,
                bars: false,
            },
            Series {
                name: "defaulters".into(),
                color: DEFAULTER,
                points: defaulter_dist,
                bars: false,
            },
        ],
        false,
    ));
    html.push_str(&chart(
        "lift",
        "Decile lift (riskiest tenth first)",
        Frame {
            x_label: "decile",
            y_label: "default-rate lift",
            x_max: 10.0,
            y_max: lift_max,
        },
        &[Series {
            name: "lift".into(),
            color: DEFAULTER,
            points: lift,
            bars: true,
        }],
        false,
    ));
    html.push_str(&chart(
        "importance",
        "Feature importance (top 12, in the table below)",
        Frame {
            x_label: "feature rank",
            y_label: "share",
            x_max: top.len().max(1) as f64,
            y_max: importance_max,
        },
        &[Series {
            name: "importance".into(),
            color: NEUTRAL,
            points: top
                .iter()
                .enumerate()
                .map(|(i, t)| (i as f64, t.1))
                .collect(),
            bars: true,
        }],
        false,
    ));
    html.push_str("<h2>Deciles (held out, riskiest first)</h2><table id=\"deciles\"><tr><th>decile</th><th>count</th><th>predicted</th><th>observed repayment</th><th>capture</th><th>lift</th></tr>");
    for d in &report.test_deciles {
        let _ = write!(html, "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.2}</td></tr>", d.decile, d.count, d.mean_predicted, d.observed_repayment, d.cumulative_capture, d.lift);
    }
    html.push_str("</table><h2>Feature importance</h2><table id=\"importance\"><tr><th>rank</th><th>feature</th><th>share</th></tr>");
    for (i, (name, v)) in importance.iter().enumerate() {
        let _ = write!(
            html,
            "<tr><td>{}</td><td style=\"text-align:left\">{}</td><td>{:.4}</td></tr>",
            i + 1,
            escape(name),
            v
        );
    }
    html.push_str("</table><h2>Data summary (training rows)</h2><table id=\"features\"><tr><th>feature</th><th>mean</th><th>std</th><th>missing</th></tr>");
    for f in &a.features {
        let _ = write!(html, "<tr><td style=\"text-align:left\">{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.1} %</td></tr>", escape(&f.name), f.mean, f.std, 100.0 * f.missing_rate);
    }
    html.push_str("</table></body></html>\n");
    html
}
