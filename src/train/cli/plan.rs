//! `plan`: one action per account within the day's capacities per channel.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::progress::stage;
use super::TableArgs;
use crate::model::Model;
use crate::policy::Policy;
use crate::scoring::Engine;
use crate::serve::DEFAULT_POLICY;
use crate::train::plan::{self, Capacities, Options, Plan};
use crate::train::report::write_json;
use crate::train::tables;
use crate::train::{html, TrainError};

/// Options of `plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tables: TableArgs,
    /// The treatment-effect (uplift) model.
    #[arg(long)]
    pub model: PathBuf,
    /// The policy: its candidates, ladder, caps and holds (and, in threshold mode, today's
    /// rules the plan is compared with).
    #[arg(long, default_value = DEFAULT_POLICY)]
    pub policy: PathBuf,
    /// Capacities per channel for the day, for example `phone=2000,letter=500,agency=100`;
    /// channels not named have none.
    #[arg(long)]
    pub capacity: Capacities,
    /// The decision time for contact caps, holds and promises (RFC 3339) [default: now].
    #[arg(long)]
    pub decision_time: Option<DateTime<Utc>>,
    /// Where to write the worklist (Parquet for .parquet, else CSV).
    #[arg(long, default_value = "plan.parquet")]
    pub output: PathBuf,
    /// Directory for plan.json and plan.html.
    #[arg(long, default_value = "plan")]
    pub out: PathBuf,
}

/// Plans the portfolio and writes the worklist and its report.
pub fn plan(args: &PlanArgs) -> Result<String, TrainError> {
    let model = Model::load(&args.model)?;
    let policy = Policy::load(&args.policy)?;
    let engine = Engine::new(model, policy);
    let paths = args.tables.paths();
    let accounts = stage("reading and validating the portfolio", || {
        tables::load_portfolio(&paths.accounts, &paths.history, &paths.read)
    })?;
    let now = args.decision_time.unwrap_or_else(Utc::now);
    let started = Instant::now();
    let options = stage("scoring every candidate of every account", || {
        plan::options(&engine, &accounts, now)
    })?;
    let scored = started.elapsed().as_secs_f64();
    let planned = stage("planning within the capacities", || {
        plan::plan(&options, &args.capacity)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    stage("writing the worklist", || {
        write_worklist(&options, &planned, &args.output)
    })?;
    std::fs::create_dir_all(&args.out).map_err(|source| TrainError::Io {
        path: args.out.clone(),
        source,
    })?;
    let r = &planned.report;
    write_json(r, &args.out.join("plan.json"))?;
    let page = args.out.join("plan.html");
    std::fs::write(&page, html::render_plan(r)).map_err(|source| TrainError::Io {
        path: page.clone(),
        source,
    })?;
    let bound = match (r.bound, r.relative_gap) {
        (Some(b), Some(g)) => format!("bound {b:.0}, gap {:.4} %", 100.0 * g),
        _ => "a capacity below the accounts that must use it: no bound".into(),
    };
    let mut out = format!(
        "planned {} accounts in {seconds:.2} s (scoring {scored:.2} s): {}\n  expected net \
         recovery {:.0} ({bound}); today's threshold policy {:.0}; everyone the reference \
         {:.0}; without capacities {:.0}\n",
        r.accounts,
        r.method,
        r.plan_value,
        r.threshold_value,
        r.reference_value,
        r.unconstrained_value
    );
    for c in &r.channels {
        let _ = writeln!(
            out,
            "  {:<10} capacity {:>9}  plan {:>8}  threshold {:>8}{}",
            c.channel,
            c.capacity.map_or("-".into(), |n| n.to_string()),
            c.plan,
            c.threshold,
            if c.infeasible {
                "  (accounts that cannot go elsewhere exceed it)"
            } else {
                ""
            }
        );
    }
    let _ = write!(
        out,
        "wrote {}, {} and {}",
        args.output.display(),
        args.out.join("plan.json").display(),
        page.display()
    );
    Ok(out)
}

/// The worklist: one row per account, the largest expected gain over the reference first.
fn write_worklist(o: &Options, p: &Plan, path: &Path) -> Result<(), TrainError> {
    let n = o.accounts.len();
    let value = |i: usize, j: usize| {
        let v = o.values[i * o.k + j];
        if v.is_nan() {
            o.values[i * o.k]
        } else {
            v
        }
    };
    let chosen = |i: usize| usize::from(p.choice[i]);
    let gain = |i: usize| value(i, chosen(i)) - value(i, 0);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| gain(b).total_cmp(&gain(a)).then(a.cmp(&b)));
    let ids =
        crate::train::worklist::id_column(path, order.iter().map(|&i| o.accounts[i].as_str()));
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("rank".into(), (1..=n as u64).collect::<Vec<_>>()),
        Column::new(
            "account_id".into(),
            ids.iter().map(|id| id.as_ref()).collect::<Vec<&str>>(),
        ),
        Column::new(
            "treatment".into(),
            order
                .iter()
                .map(|&i| match o.fixed[i] {
                    true => "",
                    false => o.names[chosen(i)].as_str(),
                })
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "action".into(),
            order
                .iter()
                .map(|&i| o.action_names[usize::from(o.actions[i * o.k + chosen(i)])].as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "channel".into(),
            order
                .iter()
                .map(|&i| o.channels[usize::from(o.channel_of[i * o.k + chosen(i)])].as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "expected_net_recovery".into(),
            order
                .iter()
                .map(|&i| value(i, chosen(i)))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "gain_over_reference".into(),
            order.iter().map(|&i| gain(i)).collect::<Vec<_>>(),
        ),
        Column::new(
            "fixed".into(),
            order.iter().map(|&i| o.fixed[i]).collect::<Vec<_>>(),
        ),
        Column::new(
            "threshold_treatment".into(),
            order
                .iter()
                .map(|&i| o.names[usize::from(o.threshold[i])].as_str())
                .collect::<Vec<_>>(),
        ),
    ])
    .map_err(|source| TrainError::Polars {
        context: format!("writing {}", path.display()),
        source,
    })?;
    crate::train::worklist::save(&mut df, path)
}
