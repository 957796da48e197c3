//! What the reports draw from scored rows: ROC, KS, calibration, score distributions, lift and
//! feature importance, per model.

use super::svg::{chart, Frame, Series, DEFAULTER, MODEL_COLORS, PAYER};
use crate::evaluation::{Decile, Metrics};
use crate::model::{Artifact, ModelParams};

/// Feature importance of an artifact: logistic, |coefficient| on standardised inputs;
/// gradient-boosted trees, the share of training cover (hessian) split on each feature (for
/// the uplift kind, over every treatment's trees);
/// scorecard, each input's information value times its |coefficient|. Shares add up to one,
/// largest first.
pub fn importance(a: &Artifact) -> Vec<(String, f64)> {
    let mut scores = vec![0.0; a.features.len()];
    match &a.model {
        ModelParams::Logistic { coefficients, .. } => {
            for (s, c) in scores.iter_mut().zip(coefficients) {
                *s = c.abs();
            }
        }
        ModelParams::Scorecard {
            characteristics, ..
        } => {
            for (s, c) in scores.iter_mut().zip(characteristics) {
                *s = c.information_value * c.coefficient.abs();
            }
        }
        ModelParams::Gbdt { trees, .. } => split_cover(trees, &mut scores),
        ModelParams::Uplift { treatments, .. } => {
            for t in treatments {
                split_cover(&t.outcome.trees, &mut scores);
                if let Some(e) = &t.effect {
                    split_cover(&e.trees, &mut scores);
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

/// Adds each feature's split cover in `trees` to its score.
fn split_cover(trees: &[crate::model::gbdt::Tree], scores: &mut [f64]) {
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

/// One model's scored rows, as a page draws them.
pub(super) struct View<'a> {
    /// Legend label.
    pub(super) label: String,
    /// Suffix of the model's table ids (`deciles-<id>`), empty on a one-model page.
    pub(super) id: &'static str,
    /// `(predicted repayment, repaid)`, highest prediction first.
    pub(super) scored: Vec<(f64, bool)>,
    pub(super) metrics: &'a Metrics,
    pub(super) deciles: &'a [Decile],
    pub(super) importance: Vec<(String, f64)>,
}

impl<'a> View<'a> {
    pub(super) fn new(
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
pub(super) struct Curves {
    pub(super) roc: Vec<(f64, f64)>,
    pub(super) ks_payers: Vec<(f64, f64)>,
    pub(super) ks_defaulters: Vec<(f64, f64)>,
    pub(super) calibration: Vec<(f64, f64)>,
    pub(super) payer_dist: Vec<(f64, f64)>,
    pub(super) defaulter_dist: Vec<(f64, f64)>,
}

pub(super) fn curves(scored: &[(f64, bool)]) -> Curves {
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
pub(super) fn charts(views: &[View<'_>]) -> String {
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
        keys: Vec::new(),
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
                keys: Vec::new(),
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
                keys: Vec::new(),
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
                keys: Vec::new(),
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
                keys: Vec::new(),
            })
            .collect::<Vec<_>>(),
        false,
    ));
    html
}
