//! `readout.html`: the readout of what decisions led to, drawn from the [`Readout`] that is
//! also written as `readout.json`. Every drawn figure and every number in its tables carries
//! the JSON pointer of its value (`data-json`) and the value itself (`data-value`), so that
//! `tests/it/readout.rs` checks the page against the JSON figure by figure.

use std::fmt::Write;

use super::svg::{self, escape, Frame, Series};
use crate::train::readout::stats::Estimate;
use crate::train::readout::{Breakdown, Readout};

/// A number cell: shown rounded, carrying its pointer and exact value.
pub(super) fn cell(pointer: &str, value: Option<f64>, digits: usize) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) => format!(
            r#"<td data-json="{}" data-value="{v}">{v:.digits$}</td>"#,
            escape(pointer)
        ),
        None => "<td>-</td>".into(),
    }
}

/// A count cell.
pub(super) fn count(pointer: &str, value: u64) -> String {
    format!(
        r#"<td data-json="{}" data-value="{value}">{value}</td>"#,
        escape(pointer)
    )
}

const BAR_WIDTH: f64 = 460.0;
const LABEL_WIDTH: f64 = 150.0;
const BAR_HEIGHT: f64 = 18.0;

/// Horizontal bars, one per `(label, value, pointer)`, labelled by name.
fn bars(id: &str, title: &str, items: &[(String, f64, String)], percent: bool) -> String {
    let max = items
        .iter()
        .map(|i| i.1)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let height = 16.0 + BAR_HEIGHT * items.len() as f64;
    let span = BAR_WIDTH - LABEL_WIDTH - 70.0;
    let mut s = format!(
        r#"<figure id="{id}"><svg xmlns="http://www.w3.org/2000/svg" width="{BAR_WIDTH}" height="{height}" viewBox="0 0 {BAR_WIDTH} {height}" role="img" aria-label="{}">"#,
        escape(title)
    );
    for (k, (label, value, pointer)) in items.iter().enumerate() {
        let y = 8.0 + BAR_HEIGHT * k as f64;
        let v = if value.is_finite() { *value } else { 0.0 };
        let shown = if percent {
            format!("{:.1} %", 100.0 * v)
        } else {
            format!("{v:.2}")
        };
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text><rect x="{LABEL_WIDTH}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.8" data-json="{}" data-value="{value}"/><text x="{:.1}" y="{:.1}" font-size="11">{shown}</text>"##,
            LABEL_WIDTH - 6.0,
            y + 12.0,
            escape(label),
            (v / max * span).max(0.0),
            BAR_HEIGHT - 4.0,
            svg::NEUTRAL,
            escape(pointer),
            LABEL_WIDTH + (v / max * span).max(0.0) + 4.0,
            y + 12.0,
        );
    }
    let _ = write!(
        s,
        "</svg><figcaption>{}</figcaption></figure>",
        escape(title)
    );
    s
}

/// Point estimates with their intervals, one row per `(label, estimate, pointer)`.
fn intervals(id: &str, title: &str, items: &[(String, Estimate, String)], zero: bool) -> String {
    let finite = |v: f64| v.is_finite().then_some(v);
    let values: Vec<f64> = items
        .iter()
        .flat_map(|(_, e, _)| [e.low, e.value, e.high])
        .filter_map(finite)
        .chain(zero.then_some(0.0))
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        let pad = 0.08 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        (lo.min(0.0) - 1.0, hi.max(0.0) + 1.0)
    };
    let span = BAR_WIDTH - LABEL_WIDTH - 20.0;
    let x = |v: f64| LABEL_WIDTH + (v - lo) / (hi - lo) * span;
    let height = 34.0 + BAR_HEIGHT * items.len() as f64;
    let mut s = format!(
        r#"<figure id="{id}"><svg xmlns="http://www.w3.org/2000/svg" width="{BAR_WIDTH}" height="{height}" viewBox="0 0 {BAR_WIDTH} {height}" role="img" aria-label="{}">"#,
        escape(title)
    );
    if zero && lo < 0.0 && hi > 0.0 {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" y1="4" x2="{0:.1}" y2="{1:.1}" stroke="#999" stroke-dasharray="4 3"/>"##,
            x(0.0),
            height - 26.0
        );
    }
    for (k, (label, e, pointer)) in items.iter().enumerate() {
        let y = 14.0 + BAR_HEIGHT * k as f64;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"#,
            LABEL_WIDTH - 6.0,
            y + 4.0,
            escape(label)
        );
        if let (Some(l), Some(h)) = (finite(e.low), finite(e.high)) {
            // The whisker, then its two ends, each carrying its bound.
            let _ = write!(
                s,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#444" stroke-width="1.5"/>"##,
                x(l),
                x(h),
            );
            for (bound, v) in [("low", l), ("high", h)] {
                let _ = write!(
                    s,
                    r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#444" data-json="{3}" data-value="{v}"/>"##,
                    x(v),
                    y - 4.0,
                    y + 4.0,
                    escape(&format!("{pointer}/{bound}")),
                );
            }
        }
        if let Some(v) = finite(e.value) {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{y:.1}" r="4" fill="{}" data-json="{}" data-value="{v}"/>"#,
                x(v),
                svg::NEUTRAL,
                escape(&format!("{pointer}/value"))
            );
        }
    }
    let axis_y = height - 20.0;
    for k in 0..=4 {
        let v = lo + (hi - lo) * f64::from(k) / 4.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{axis_y:.1}" font-size="10" text-anchor="middle">{}</text>"#,
            x(v),
            svg::tick(v)
        );
    }
    let _ = write!(
        s,
        "</svg><figcaption>{}</figcaption></figure>",
        escape(title)
    );
    s
}

/// One breakdown's table.
fn breakdown_table(b: &Breakdown, k: usize) -> String {
    let mut html = format!(
        "<h3>By {}</h3><table id=\"breakdown-{k}\"><tr><th></th><th>decisions</th><th>balance</th><th>recovered</th><th>recovery rate</th><th>cure rate</th><th>roll-forward rate</th><th>promise-kept rate</th><th>cost</th><th>net recovery per decision</th></tr>",
        escape(&b.by)
    );
    for (g, group) in b.groups.iter().enumerate() {
        let p = |field: &str| format!("/breakdowns/{k}/groups/{g}/{field}");
        let _ = write!(
            html,
            "<tr><th>{}</th>{}{}{}{}{}{}{}{}{}</tr>",
            escape(&group.key),
            count(&p("decisions"), group.decisions),
            cell(&p("balance"), Some(group.balance), 0),
            cell(&p("recovered"), Some(group.recovered), 0),
            cell(&p("recovery_rate"), group.recovery_rate, 4),
            cell(&p("cure_rate"), Some(group.cure_rate), 4),
            cell(&p("roll_forward_rate"), Some(group.roll_forward_rate), 4),
            cell(&p("promise_kept_rate"), group.promise_kept_rate, 4),
            cell(&p("cost"), Some(group.cost), 0),
            cell(
                &p("net_recovery_per_decision"),
                Some(group.net_recovery_per_decision),
                2
            ),
        );
    }
    html.push_str("</table>");
    html
}

/// The readout page.
pub fn render_readout(r: &Readout) -> String {
    let j = &r.join;
    let mut html = super::open(
        "payrisk readout: what decisions led to",
        &format!(
            "Observation window {} days; outcomes known to {}. {} decisions read: {} mature (window closed) and read out, {} still inside their window and left out. Of the mature ones, {} have events in their window and {} none. {} event rows joined ({} inside their window, {} after it and not summed); {} refused.",
            r.window_days, r.as_of, j.decisions, j.mature_decisions, j.immature_decisions,
            j.mature_with_events, j.mature_without_events, j.events_joined, j.events_in_window,
            j.events_after_window, j.events_refused
        ),
    );
    html.push_str("<table id=\"join\"><tr><th>decisions</th><th>mature</th><th>immature</th><th>mature with events</th><th>mature without</th><th>events joined</th><th>in window</th><th>after window</th><th>refused</th></tr><tr>");
    for (field, v) in [
        ("decisions", j.decisions),
        ("mature_decisions", j.mature_decisions),
        ("immature_decisions", j.immature_decisions),
        ("mature_with_events", j.mature_with_events),
        ("mature_without_events", j.mature_without_events),
        ("events_joined", j.events_joined),
        ("events_in_window", j.events_in_window),
        ("events_after_window", j.events_after_window),
        ("events_refused", j.events_refused),
    ] {
        html.push_str(&count(&format!("/join/{field}"), v));
    }
    html.push_str("</tr></table>");
    if let Some(e) = &r.experiment {
        html.push_str(&experiment_section(e));
    }
    html.push_str("<h2>Recovery by dimension</h2><p>Recovery rate = recovered / balance at the decision; net recovery = (recovered - cost) per decision.</p>");
    for (k, b) in r.breakdowns.iter().enumerate() {
        let items: Vec<(String, f64, String)> = b
            .groups
            .iter()
            .enumerate()
            .filter_map(|(g, group)| {
                Some((
                    group.key.clone(),
                    group.recovery_rate?,
                    format!("/breakdowns/{k}/groups/{g}/recovery_rate"),
                ))
            })
            .collect();
        if !items.is_empty() {
            html.push_str(&bars(
                &format!("recovery-by-{k}"),
                &format!("Recovery rate by {}", b.by),
                &items,
                true,
            ));
        }
        html.push_str(&breakdown_table(b, k));
    }
    html.push_str(&performance_section(r));
    if let Some(rolls) = &r.roll_rates {
        html.push_str(&rolls_section(rolls));
    }
    html.push_str("</body></html>\n");
    html
}

fn experiment_section(e: &crate::train::readout::ExperimentReadout) -> String {
    let mut html = format!(
        "<h2>Experiment <code>{}</code></h2><p>{} accounts, each read out once by its first mature decision ({} later decisions of the same accounts not counted again). Verdicts on <b>{}</b>. {}.</p>",
        escape(&e.name),
        e.accounts,
        e.repeat_decisions,
        match e.primary {
            crate::train::readout::Metric::Recovery => "recovery per account",
            crate::train::readout::Metric::Cure => "cure rate",
        },
        escape(&e.horizon.rule)
    );
    html.push_str("<ul id=\"verdicts\">");
    for c in &e.comparisons {
        let _ = write!(
            html,
            "<li data-outcome=\"{}\"><b>{}</b></li>",
            escape(&c.outcome),
            escape(&c.verdict)
        );
    }
    html.push_str("</ul><table id=\"arms\"><tr><th>arm</th><th>accounts</th><th>recovery per account</th><th>95 % interval</th><th>cure rate</th><th>95 % interval</th><th>recovery rate</th></tr>");
    for (a, arm) in e.arms.iter().enumerate() {
        let p = |field: &str| format!("/experiment/arms/{a}/{field}");
        let _ = write!(
            html,
            "<tr><th>{}</th>{}{}<td>{} to {}</td>{}<td>{} to {}</td>{}</tr>",
            escape(&arm.arm),
            count(&p("accounts"), arm.accounts),
            cell(
                &p("recovery_per_account/value"),
                Some(arm.recovery_per_account.value),
                2
            ),
            fmt(arm.recovery_per_account.low, 2),
            fmt(arm.recovery_per_account.high, 2),
            cell(&p("cure_rate/value"), Some(arm.cure_rate.value), 4),
            fmt(arm.cure_rate.low, 4),
            fmt(arm.cure_rate.high, 4),
            cell(&p("recovery_rate"), arm.recovery_rate, 4),
        );
    }
    html.push_str("</table><table id=\"comparisons\"><tr><th>arm - champion</th><th>metric</th><th>difference</th><th>95 % interval</th><th>p-value</th><th>minimum detectable</th><th>accounts needed</th></tr>");
    for (c, comparison) in e.comparisons.iter().enumerate() {
        for (metric, d, test) in [
            ("recovery", &comparison.recovery, "Welch t-test"),
            ("cure", &comparison.cure, "two-proportion z-test"),
        ] {
            let Some(d) = d else { continue };
            let p = |field: &str| format!("/experiment/comparisons/{c}/{metric}/{field}");
            let _ = write!(
                html,
                "<tr><th>{}</th><td>{metric} ({test})</td>{}<td>{} to {}</td>{}{}{}</tr>",
                escape(&comparison.arm),
                cell(&p("estimate/value"), Some(d.estimate.value), 4),
                fmt(d.estimate.low, 4),
                fmt(d.estimate.high, 4),
                cell(&p("p_value"), Some(d.p_value), 4),
                cell(&p("minimum_detectable"), Some(d.minimum_detectable), 4),
                d.accounts_needed
                    .map_or("<td>-</td>".into(), |n| count(&p("accounts_needed"), n)),
            );
        }
    }
    html.push_str("</table>");
    let per_arm = |field: &str| -> Vec<(String, Estimate, String)> {
        e.arms
            .iter()
            .enumerate()
            .map(|(a, arm)| {
                let estimate = if field == "cure_rate" {
                    arm.cure_rate
                } else {
                    arm.recovery_per_account
                };
                (
                    arm.arm.clone(),
                    estimate,
                    format!("/experiment/arms/{a}/{field}"),
                )
            })
            .collect()
    };
    html.push_str(&intervals(
        "arm-recovery",
        "Recovery per account by arm, with 95 % intervals",
        &per_arm("recovery_per_account"),
        false,
    ));
    html.push_str(&intervals(
        "arm-cure",
        "Cure rate by arm, with 95 % intervals",
        &per_arm("cure_rate"),
        false,
    ));
    let differences: Vec<(String, Estimate, String)> = e
        .comparisons
        .iter()
        .enumerate()
        .flat_map(|(c, comparison)| {
            [("recovery", comparison.recovery), ("cure", comparison.cure)]
                .into_iter()
                .filter_map(move |(metric, d)| {
                    Some((
                        format!("{} {metric}", comparison.arm),
                        d?.estimate,
                        format!("/experiment/comparisons/{c}/{metric}/estimate"),
                    ))
                })
        })
        .collect();
    html.push_str(&covariates_table(e));
    html.push_str(&effect_section(e));
    if !differences.is_empty() {
        // Recovery differences are amounts and cure differences shares: one chart each.
        for (metric, title) in [
            (
                "recovery",
                "Recovery per account, arm minus champion, with 95 % intervals",
            ),
            ("cure", "Cure rate, arm minus champion, with 95 % intervals"),
        ] {
            let items: Vec<_> = differences
                .iter()
                .filter(|d| d.0.ends_with(metric))
                .cloned()
                .collect();
            html.push_str(&intervals(
                &format!("difference-{metric}"),
                title,
                &items,
                true,
            ));
        }
    }
    html
}

/// The arms before treatment: means and standardised differences from the champion.
fn covariates_table(e: &crate::train::readout::ExperimentReadout) -> String {
    use crate::train::readout::SMD_FLAG;
    let mut html = format!("<h3>Are the arms alike?</h3><p>Before treatment, random arms differ only by chance: a standardised mean difference from the champion of {SMD_FLAG} or more is flagged.</p><table id=\"covariates\"><tr><th>arm</th><th>mean balance</th><th>SMD</th><th>mean days past due</th><th>SMD</th><th></th></tr>");
    for (a, c) in e.covariates.iter().enumerate() {
        let p = |field: &str| format!("/experiment/covariates/{a}/{field}");
        let flagged = [c.balance_smd, c.days_past_due_smd]
            .iter()
            .flatten()
            .any(|s| s.abs() >= SMD_FLAG);
        let _ = write!(
            html,
            "<tr><th>{}</th>{}{}{}{}<td class=\"{}\">{}</td></tr>",
            escape(&c.arm),
            cell(&p("mean_balance"), Some(c.mean_balance), 2),
            cell(&p("balance_smd"), c.balance_smd, 3),
            cell(&p("mean_days_past_due"), Some(c.mean_days_past_due), 2),
            cell(&p("days_past_due_smd"), c.days_past_due_smd, 3),
            if flagged { "warning" } else { "" },
            if flagged { "unlike the champion's" } else { "" }
        );
    }
    html.push_str("</table>");
    html
}

/// Champion minus control by decile of probability: a table and the cure differences drawn.
fn effect_section(e: &crate::train::readout::ExperimentReadout) -> String {
    if e.control_effect.is_empty() {
        return String::new();
    }
    let mut html = String::from("<h3>Where the champion's treatment changes the outcome</h3><p>Champion minus control by tenth of the probability at the decision (least likely to repay first). Both arms are assigned at random, so each difference is what the champion's treatment causes there against the control's alternative.</p><table id=\"control-effect\"><tr><th>decile</th><th>probability</th><th>champion</th><th>control</th><th>cure difference</th><th>95 % interval</th><th>recovery difference</th><th>95 % interval</th></tr>");
    for (k, d) in e.control_effect.iter().enumerate() {
        let p = |field: &str| format!("/experiment/control_effect/{k}/{field}");
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{:.3} to {:.3}</td>{}{}",
            d.decile,
            d.min_probability,
            d.max_probability,
            count(&p("champion_accounts"), d.champion_accounts),
            count(&p("control_accounts"), d.control_accounts),
        );
        for (metric, diff, digits) in [("cure", d.cure, 4), ("recovery", d.recovery, 2)] {
            match diff {
                Some(x) => {
                    let _ = write!(
                        html,
                        "{}<td>{} to {}</td>",
                        cell(
                            &p(&format!("{metric}/estimate/value")),
                            Some(x.estimate.value),
                            digits
                        ),
                        fmt(x.estimate.low, digits),
                        fmt(x.estimate.high, digits)
                    );
                }
                None => html.push_str("<td>-</td><td>-</td>"),
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    let items: Vec<(String, Estimate, String)> = e
        .control_effect
        .iter()
        .enumerate()
        .filter_map(|(k, d)| {
            Some((
                format!("decile {}", d.decile),
                d.cure?.estimate,
                format!("/experiment/control_effect/{k}/cure/estimate"),
            ))
        })
        .collect();
    html.push_str(&intervals(
        "control-effect-cure",
        "Cure rate, champion minus control, by decile of probability, with 95 % intervals",
        &items,
        true,
    ));
    html
}

fn fmt(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "-".into()
    }
}

fn performance_section(r: &Readout) -> String {
    let mut html = String::from("<h2>The serving model's live performance</h2><p>By decision month, the probability at the decision against realised repayment (a payment in the window, and neither a roll forward nor a charge-off); PSI against the first month's probabilities.</p><table id=\"performance\"><tr><th>month</th><th>decisions</th><th>repaid</th><th>AUC</th><th>ECE</th><th>PSI</th></tr>");
    for (m, month) in r.performance.iter().enumerate() {
        let p = |field: &str| format!("/performance/{m}/{field}");
        let _ = write!(
            html,
            "<tr><th>{}</th>{}{}{}{}{}</tr>",
            escape(&month.month),
            count(&p("decisions"), month.decisions),
            cell(&p("repaid_rate"), Some(month.repaid_rate), 4),
            cell(&p("auc"), month.auc, 4),
            cell(&p("ece"), month.ece, 4),
            cell(&p("psi"), Some(month.psi), 4),
        );
    }
    html.push_str("</table>");
    if r.performance.is_empty() {
        return html;
    }
    let line = |name: &str, field: &str, color: &'static str| {
        let points: Vec<(usize, f64)> = r
            .performance
            .iter()
            .enumerate()
            .filter_map(|(m, month)| {
                let v = match field {
                    "auc" => month.auc,
                    "ece" => month.ece,
                    _ => Some(month.psi),
                }?;
                Some((m, v))
            })
            .collect();
        Series {
            name: name.into(),
            color,
            points: points.iter().map(|&(m, v)| (m as f64 + 1.0, v)).collect(),
            bars: false,
            dashed: false,
            keys: points
                .iter()
                .map(|&(m, _)| format!("/performance/{m}/{field}"))
                .collect(),
        }
    };
    let months = r.performance.len() as f64 + 1.0;
    html.push_str(&svg::chart(
        "live-auc",
        "AUC and ECE by decision month (month 1 = the first in the table)",
        Frame {
            x_label: "decision month",
            y_label: "AUC, ECE",
            x_max: months,
            y_max: 1.0,
        },
        &[
            line("AUC", "auc", svg::NEUTRAL),
            line("ECE", "ece", svg::DEFAULTER),
        ],
        false,
    ));
    let psi_max = r.performance.iter().map(|m| m.psi).fold(0.3f64, f64::max);
    html.push_str(&svg::chart(
        "live-psi",
        "PSI of the probabilities by decision month, against the first",
        Frame {
            x_label: "decision month",
            y_label: "PSI",
            x_max: months,
            y_max: psi_max,
        },
        &[line("PSI", "psi", svg::NEUTRAL)],
        false,
    ));
    // The reliability chart of the latest month.
    let m = r.performance.len() - 1;
    let latest = &r.performance[m];
    let bins: Vec<(usize, f64, f64)> = latest
        .reliability
        .iter()
        .enumerate()
        .filter(|(_, b)| b.decisions > 0)
        .map(|(k, b)| (k, b.mean_predicted, b.observed))
        .collect();
    html.push_str(&svg::chart(
        "reliability",
        &format!(
            "Reliability in {}: observed repayment against the mean probability of each tenth of the probability range",
            latest.month
        ),
        Frame {
            x_label: "mean probability",
            y_label: "observed repayment",
            x_max: 1.0,
            y_max: 1.0,
        },
        &[Series {
            name: latest.month.clone(),
            color: svg::NEUTRAL,
            points: bins.iter().map(|&(_, x, y)| (x, y)).collect(),
            bars: false,
            dashed: false,
            keys: bins
                .iter()
                .map(|&(k, _, _)| format!("/performance/{m}/reliability/{k}/observed"))
                .collect(),
        }],
        true,
    ));
    html
}

fn rolls_section(rolls: &crate::train::readout::RollRates) -> String {
    let mut html = format!(
        "<h2>Roll rates</h2><p>Month-over-month moves between aging buckets in the payment history: each row is the bucket a month started in, its shares the bucket the next statement ended in. {} statement pairs further apart than a month are not counted.</p>",
        rolls.gaps
    );
    let matrices = std::iter::once(("/roll_rates/portfolio".to_owned(), &rolls.portfolio)).chain(
        rolls
            .segments
            .iter()
            .enumerate()
            .map(|(k, m)| (format!("/roll_rates/segments/{k}"), m)),
    );
    for (k, (pointer, m)) in matrices.enumerate() {
        let _ = write!(
            html,
            "<h3>{} ({} transitions)</h3><table id=\"rolls-{k}\"><tr><th>from \\ to</th>",
            escape(&m.name),
            m.transitions
        );
        for b in &rolls.buckets {
            let _ = write!(html, "<th>{}</th>", escape(b));
        }
        html.push_str("<th>roll forward</th><th>cure</th></tr>");
        for (from, row) in m.shares.iter().enumerate() {
            let _ = write!(html, "<tr><th>{}</th>", escape(&rolls.buckets[from]));
            for (to, share) in row.iter().enumerate() {
                match share {
                    Some(s) => {
                        // Shade by share: the diagonal (stayed) and the big moves stand out.
                        let shade = 255.0 - 150.0 * s.sqrt();
                        let _ = write!(
                            html,
                            r#"<td style="background:rgb({shade:.0},{shade:.0},255)" data-json="{pointer}/shares/{from}/{to}" data-value="{s}">{:.1} %</td>"#,
                            100.0 * s
                        );
                    }
                    None => html.push_str("<td>-</td>"),
                }
            }
            html.push_str(&cell(
                &format!("{pointer}/roll_forward/{from}"),
                m.roll_forward[from],
                4,
            ));
            html.push_str(&cell(&format!("{pointer}/cure/{from}"), m.cure[from], 4));
            html.push_str("</tr>");
        }
        html.push_str("</table>");
    }
    html
}
