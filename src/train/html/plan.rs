//! `plan.html`: a day's plan within capacities, beside today's threshold policy, drawn from the
//! report also written as `plan.json`; every number carries its JSON pointer and value.

use std::fmt::Write;

use super::readout::{cell, count};
use super::svg::{self, escape, Frame, Series, NEUTRAL};
use crate::train::plan::PlanReport;

/// Renders the plan page.
pub fn render_plan(r: &PlanReport) -> String {
    let mut html = super::open(
        "The day's plan within capacity",
        &format!(
            "{} accounts, one action each, chosen to maximise total expected net recovery \
             (probability × balance − cost under the treatment-effect model) within the \
             capacities: {}. {} of them are decided by a customer protection or a hold whatever \
             the plan.",
            r.accounts,
            escape(&r.method),
            r.fixed_accounts
        ),
    );
    html.push_str(
        "<h2>Expected net recovery</h2><table id=\"values\"><tr><th>policy</th><th>total</th></tr>",
    );
    for (name, field, value) in [
        ("the plan", "plan_value", Some(r.plan_value)),
        (
            "upper bound on any plan within the capacities",
            "bound",
            r.bound,
        ),
        (
            "today's threshold policy (ignores capacities)",
            "threshold_value",
            Some(r.threshold_value),
        ),
        (
            "everyone the reference treatment",
            "reference_value",
            Some(r.reference_value),
        ),
        (
            "every account's best, without capacities",
            "unconstrained_value",
            Some(r.unconstrained_value),
        ),
    ] {
        let _ = write!(
            html,
            "<tr><th>{name}</th>{}</tr>",
            cell(&format!("/{field}"), value, 0)
        );
    }
    let _ = write!(
        html,
        "<tr><th>optimality gap (share of the plan)</th>{}</tr></table>",
        cell("/relative_gap", r.relative_gap, 6)
    );
    for c in r.channels.iter().filter(|c| c.infeasible) {
        let _ = write!(
            html,
            "<p class=\"warning\">{}: accounts that must use it (hardship offers, holds) \
             already exceed its capacity; no plan keeps it.</p>",
            escape(&c.channel)
        );
    }
    html.push_str("<h2>Channels</h2><table id=\"channels\"><tr><th>channel</th><th>capacity</th><th>plan</th><th>threshold policy</th><th>price</th></tr>");
    for (i, c) in r.channels.iter().enumerate() {
        let p = |f: &str| format!("/channels/{i}/{f}");
        let _ = write!(
            html,
            "<tr><th>{}</th>{}{}{}{}</tr>",
            escape(&c.channel),
            c.capacity
                .map_or("<td>none</td>".into(), |n| count(&p("capacity"), n)),
            count(&p("plan"), c.plan),
            count(&p("threshold"), c.threshold),
            cell(&p("price"), Some(c.price), 2),
        );
    }
    html.push_str("</table>");
    for (i, curve) in r.curves.iter().enumerate() {
        // Drawn above the lowest figure, in thousands: the totals differ by far less than
        // their size. The table under the chart has the exact values.
        let base = curve
            .points
            .iter()
            .map(|p| p[1])
            .fold(r.threshold_value, f64::min);
        let x_max = curve.points.iter().map(|p| p[0]).fold(1.0, f64::max);
        let lift = |v: f64| (v - base) / 1e3;
        let y_max = curve
            .points
            .iter()
            .map(|p| lift(p[1]))
            .fold(lift(r.threshold_value), f64::max)
            .max(1e-9);
        let plan = Series {
            name: "the plan".into(),
            color: NEUTRAL,
            points: curve.points.iter().map(|p| (p[0], lift(p[1]))).collect(),
            bars: false,
            dashed: false,
            keys: Vec::new(),
        };
        let threshold = Series {
            name: "today's threshold policy (ignores capacity)".into(),
            color: "#e08214",
            points: vec![
                (0.0, lift(r.threshold_value)),
                (x_max, lift(r.threshold_value)),
            ],
            bars: false,
            dashed: true,
            keys: Vec::new(),
        };
        html.push_str(&svg::chart(
            &format!("curve-{i}"),
            &format!(
                "Expected net recovery against {} capacity, in thousands above {base:.0}",
                curve.channel
            ),
            Frame {
                x_label: "capacity (accounts)",
                y_label: "thousands above the lowest",
                x_max,
                y_max: y_max * 1.1,
            },
            &[plan, threshold],
            false,
        ));
        let _ = write!(
            html,
            "<table id=\"curve-table-{i}\"><tr><th>{} capacity</th><th>plan's expected net recovery</th><th>every capacity kept</th></tr>",
            escape(&curve.channel)
        );
        for (k, point) in curve.points.iter().enumerate() {
            let p = |j: usize| format!("/curves/{i}/points/{k}/{j}");
            let kept = curve.feasible.get(k).copied().unwrap_or(false);
            let _ = write!(
                html,
                "<tr>{}{}<td>{}</td></tr>",
                cell(&p(0), Some(point[0]), 0),
                cell(&p(1), Some(point[1]), 0),
                if kept {
                    "yes"
                } else {
                    "no: must-use accounts exceed one"
                }
            );
        }
        html.push_str("</table>");
    }
    html.push_str("<h2>Treatments chosen</h2><table id=\"chosen\"><tr><th>treatment</th><th>accounts</th></tr>");
    for (name, n) in &r.chosen {
        let _ = write!(
            html,
            "<tr><th>{}</th>{}</tr>",
            escape(name),
            count(
                &format!("/chosen/{}", name.replace('~', "~0").replace('/', "~1")),
                *n
            )
        );
    }
    html.push_str("</table></body></html>");
    html
}
