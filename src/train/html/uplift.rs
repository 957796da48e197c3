//! The report of a treatment-effect (`uplift`) fit: `report.html` beside its artifact, drawn
//! from the report also written as `metrics.json`. Every number in its tables and every point
//! of its Qini charts carries its JSON pointer and exact value (`data-json`, `data-value`).

use std::fmt::Write;

use super::readout::{cell, count};
use super::svg::{self, escape, Frame, Series, NEUTRAL};
use crate::model::Artifact;
use crate::train::uplift::evaluate::UpliftReport;

/// Renders the uplift report page.
pub fn render_uplift(a: &Artifact, r: &UpliftReport) -> String {
    let mut html = super::open(
        &format!("{} {}: treatment effects", a.name, a.version),
        &format!(
            "{}-learner on {} accounts; outcome: {}. Evaluated on the held-out randomised \
             accounts only.",
            r.learner,
            r.rows.accounts,
            escape(&r.outcome)
        ),
    );
    if let Some(warning) = r.confounded {
        let _ = write!(
            html,
            "<p class=\"warning\" id=\"confounded\">{}</p>",
            escape(warning)
        );
    }
    html.push_str("<h2>Treatments</h2><table id=\"treatments\"><tr><th>treatment</th><th>cost</th><th>training accounts</th><th>held out</th><th>repaid</th><th>predicted</th><th>paid per account</th></tr>");
    for (i, t) in r.treatments.iter().enumerate() {
        let p = |f: &str| format!("/treatments/{i}/{f}");
        let _ = write!(
            html,
            "<tr><th>{}</th>{}{}{}{}{}{}</tr>",
            escape(&t.name),
            cell(&p("cost"), Some(t.cost), 2),
            count(&p("train_accounts"), t.train_accounts),
            count(&p("test_accounts"), t.test_accounts),
            cell(&p("test_repayment_rate"), Some(t.test_repayment_rate), 4),
            cell(&p("test_predicted_rate"), Some(t.test_predicted_rate), 4),
            cell(
                &p("test_recovered_per_account"),
                Some(t.test_recovered_per_account),
                2
            ),
        );
    }
    html.push_str("</table>");
    html.push_str("<h2>Effects against the reference</h2><p>Qini coefficient and AUUC: the area between the model's curve and the straight line, over the perfect ranking's (1 is perfect, 0 no better than random).</p><table id=\"effects\"><tr><th>treatment</th><th>against</th><th>learner</th><th>accounts</th><th>Qini</th><th>AUUC</th></tr>");
    for (i, e) in r.effects.iter().enumerate() {
        let p = |f: &str| format!("/effects/{i}/{f}");
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{}</td><td>{}</td>{}{}{}</tr>",
            escape(&e.treatment),
            escape(&e.against),
            e.learner,
            count(&p("accounts"), e.accounts),
            cell(&p("qini"), Some(e.qini), 4),
            cell(&p("auuc"), Some(e.auuc), 4),
        );
    }
    html.push_str("</table>");
    for (i, e) in r.effects.iter().enumerate() {
        let y_max = e
            .perfect_curve
            .iter()
            .chain(&e.qini_curve)
            .map(|p| p[1])
            .fold(1e-9, f64::max);
        let series =
            |name: &str, color: &'static str, curve: &[[f64; 2]], field: &str, dashed| Series {
                name: name.to_owned(),
                color,
                points: curve.iter().map(|p| (p[0], p[1].max(0.0))).collect(),
                bars: false,
                dashed,
                keys: (0..curve.len())
                    .map(|k| format!("/effects/{i}/{field}/{k}/1"))
                    .collect(),
            };
        html.push_str(&svg::chart(
            &format!("qini-{i}"),
            &format!(
                "Qini: {} vs {} ({}-learner)",
                e.treatment, e.against, e.learner
            ),
            Frame {
                x_label: "share of accounts, highest predicted uplift first",
                y_label: "incremental repayments per account",
                x_max: 1.0,
                y_max,
            },
            &[
                series("model", NEUTRAL, &e.qini_curve, "qini_curve", false),
                series(
                    "perfect",
                    "#999999",
                    &e.perfect_curve,
                    "perfect_curve",
                    true,
                ),
            ],
            false,
        ));
    }
    for (i, e) in r.effects.iter().enumerate() {
        let _ = write!(html, "<h3>Uplift by decile: {} vs {} ({}-learner)</h3><table id=\"deciles-{i}\"><tr><th>decile</th><th>treated</th><th>reference</th><th>predicted</th><th>observed</th><th>standard error</th></tr>", escape(&e.treatment), escape(&e.against), e.learner);
        for (d, row) in e.deciles.iter().enumerate() {
            let p = |f: &str| format!("/effects/{i}/deciles/{d}/{f}");
            let _ = write!(
                html,
                "<tr><th>{}</th>{}{}{}{}{}</tr>",
                row.decile,
                count(&p("treated"), row.treated),
                count(&p("reference"), row.reference),
                cell(&p("predicted"), Some(row.predicted), 4),
                cell(&p("observed"), row.observed, 4),
                cell(&p("standard_error"), row.standard_error, 4),
            );
        }
        html.push_str("</table>");
    }
    html.push_str("<h2>Balance of the treatment groups</h2><p>Each group against the reference's, before treatment: mean balance and serving probability, with standardised mean differences (flagged at 0.1). Random assignment keeps them small.</p><table id=\"balance\"><tr><th>stage</th><th>treatment</th><th>accounts</th><th>mean balance</th><th>mean probability</th><th>balance SMD</th><th>probability SMD</th><th>flag</th></tr>");
    for (i, b) in r.balance.iter().enumerate() {
        let p = |f: &str| format!("/balance/{i}/{f}");
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{}</td>{}{}{}{}{}<td>{}</td></tr>",
            escape(&b.segment),
            escape(&b.treatment),
            count(&p("accounts"), b.accounts),
            cell(&p("mean_balance"), Some(b.mean_balance), 1),
            cell(&p("mean_probability"), Some(b.mean_probability), 4),
            cell(&p("balance_smd"), b.balance_smd, 3),
            cell(&p("probability_smd"), b.probability_smd, 3),
            if b.flagged { "unlike" } else { "" }
        );
    }
    html.push_str("</table>");
    if let Some(v) = &r.policy_values {
        let _ = write!(html, "<h2>Policies on the simulator's truth</h2><p>Expected net recovery per held-out account (the simulator's expected recovery under the chosen treatment minus its cost), for {} accounts.</p><table id=\"policies\"><tr><th>policy</th><th>net recovery per account</th><th>share of the oracle's gain over the reference</th></tr>", v.accounts);
        for (name, field, share) in [
            ("everyone the reference", "reference", None),
            ("random", "random", None),
            (
                "threshold (today)",
                "threshold",
                Some(("threshold_share_of_oracle", v.threshold_share_of_oracle)),
            ),
            (
                "uplift",
                "uplift",
                Some(("uplift_share_of_oracle", v.uplift_share_of_oracle)),
            ),
            ("oracle", "oracle", None),
        ] {
            let value = match field {
                "reference" => v.reference,
                "random" => v.random,
                "threshold" => v.threshold,
                "uplift" => v.uplift,
                _ => v.oracle,
            };
            let _ = write!(
                html,
                "<tr><th>{name}</th>{}{}</tr>",
                cell(&format!("/policy_values/{field}"), Some(value), 2),
                share.map_or("<td></td>".to_owned(), |(f, s)| cell(
                    &format!("/policy_values/{f}"),
                    Some(s),
                    4
                )),
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>");
    html
}
