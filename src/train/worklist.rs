//! Offline scoring of a whole portfolio (`payrisk-train score`): the serving deployment (the
//! same feature engine, model, policy and experiment arms as `payrisk-server`) over every
//! account, ranked into a worklist by priority (expected loss), written as Parquet or CSV.
//!
//! In a shadow experiment the challenger also scores the accounts of its share, without acting
//! on them: their entries carry the challenger's probability, treatment and action beside the
//! champion's decision (the `shadow_*` columns, empty for other accounts), as `Score` reports
//! them in `ScoreResponse.shadow`.

use std::path::Path;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use rayon::prelude::*;

use super::TrainError;
use crate::deployment::Deployment;
use crate::domain::Account;
use crate::policy::Arm;
use crate::policy::Treatment;
use crate::scoring::Engine as ScoringEngine;

/// Accounts scored together per task.
const CHUNK: usize = 4096;

/// One account's decision on the worklist.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// 1 = work first.
    pub rank: u64,
    /// The account.
    pub account_id: String,
    /// `champion` or `challenger`.
    pub arm: &'static str,
    /// Repayment probability.
    pub probability: f64,
    /// Score points.
    pub score: f64,
    /// Risk band.
    pub band: String,
    /// `soft` or `firm`.
    pub treatment: &'static str,
    /// Next action.
    pub action: String,
    /// Its channel.
    pub channel: String,
    /// Ladder stage.
    pub stage: String,
    /// Why.
    pub rationale: &'static str,
    /// Worklist priority (expected loss, adjusted by the policy).
    pub priority: f64,
    /// Why a contact cap changed the action (empty when none did).
    pub guard: String,
    /// Model version of the deciding arm.
    pub model_version: String,
    /// The challenger's decision in a shadow experiment, not acted on.
    pub shadow: Option<ShadowEntry>,
}

/// What the challenger would have decided for an account in a shadow experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowEntry {
    /// Its repayment probability.
    pub probability: f64,
    /// `soft` or `firm`.
    pub treatment: &'static str,
    /// Its next action.
    pub action: String,
    /// Its model version.
    pub model_version: String,
}

fn treatment_name(t: Treatment) -> &'static str {
    match t {
        Treatment::Soft => "soft",
        Treatment::Firm => "firm",
    }
}

/// Scores every account at `now` and ranks them: highest priority first, ties by account id.
pub fn rank(deployment: &Deployment, accounts: &[Account], now: DateTime<Utc>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = accounts
        .par_chunks(CHUNK)
        .flat_map_iter(|chunk| {
            let arms: Vec<_> = chunk
                .iter()
                .map(|a| deployment.decider(deployment.arm(&a.account_id)))
                .collect();
            let mut out = Vec::with_capacity(chunk.len());
            let mut scored = Vec::with_capacity(chunk.len());
            for engine in [deployment.champion()]
                .into_iter()
                .chain(deployment.challenger())
            {
                let members: Vec<(usize, &Account)> = chunk
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| std::ptr::eq(arms[*i].1, engine))
                    .collect();
                if members.is_empty() {
                    continue;
                }
                let refs: Vec<&Account> = members.iter().map(|(_, a)| *a).collect();
                let mut scratch = engine.scratch();
                scored.clear();
                engine.score_many(&refs, now, &mut scratch, &mut scored);
                deployment.record(arms[members[0].0].0, members.len() as u64);
                let model_version = &engine.model().artifact().version;
                for ((i, a), s) in members.iter().zip(&scored) {
                    let d = &s.decision;
                    out.push((
                        *i,
                        Entry {
                            rank: 0,
                            account_id: a.account_id.clone(),
                            arm: arms[*i].0.as_str(),
                            probability: s.probability,
                            score: d.score,
                            band: d.band.to_owned(),
                            treatment: treatment_name(d.treatment),
                            action: d.action.action.clone(),
                            channel: d.action.channel.clone(),
                            stage: d.stage.to_owned(),
                            rationale: d.rationale.text(),
                            priority: d.priority,
                            guard: d.guard.map(|g| g.reason()).unwrap_or_default(),
                            model_version: model_version.clone(),
                            shadow: None,
                        },
                    ));
                }
            }
            out.sort_by_key(|(i, _)| *i);
            if let Some(challenger) = deployment.shadow(Arm::Challenger) {
                shadow_scores(deployment, challenger, chunk, now, &mut out);
            }
            out.into_iter().map(|(_, e)| e)
        })
        .collect();
    entries.par_sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    for (k, e) in entries.iter_mut().enumerate() {
        e.rank = k as u64 + 1;
    }
    entries
}

/// Scores the shadow arm's accounts of `chunk` (whose entries `out` holds in order) with the
/// challenger and attaches its decisions.
fn shadow_scores(
    deployment: &Deployment,
    challenger: &ScoringEngine,
    chunk: &[Account],
    now: DateTime<Utc>,
    out: &mut [(usize, Entry)],
) {
    let members: Vec<usize> = (0..chunk.len())
        .filter(|&i| deployment.arm(&chunk[i].account_id) == Arm::Challenger)
        .collect();
    if members.is_empty() {
        return;
    }
    let refs: Vec<&Account> = members.iter().map(|&i| &chunk[i]).collect();
    let mut scratch = challenger.scratch();
    let mut scored = Vec::with_capacity(refs.len());
    challenger.score_many(&refs, now, &mut scratch, &mut scored);
    deployment.record(Arm::Challenger, members.len() as u64);
    let model_version = &challenger.model().artifact().version;
    for (&i, s) in members.iter().zip(&scored) {
        if let Some((_, entry)) = out.get_mut(i) {
            entry.shadow = Some(ShadowEntry {
                probability: s.probability,
                treatment: treatment_name(s.decision.treatment),
                action: s.decision.action.action.clone(),
                model_version: model_version.clone(),
            });
        }
    }
}

/// Writes the worklist to `path`: Parquet when it ends in `.parquet`, else CSV.
pub fn write(entries: &[Entry], path: &Path) -> Result<(), TrainError> {
    let polars = |source| TrainError::Polars {
        context: format!("writing {}", path.display()),
        source,
    };
    let text = |f: fn(&Entry) -> &str| -> Vec<&str> { entries.iter().map(f).collect() };
    let number = |f: fn(&Entry) -> f64| -> Vec<f64> { entries.iter().map(f).collect() };
    fn shadow_column<'a, T: 'a>(
        entries: &'a [Entry],
        f: impl Fn(&'a ShadowEntry) -> T + 'a,
    ) -> impl Iterator<Item = Option<T>> + 'a {
        entries.iter().map(move |e| e.shadow.as_ref().map(&f))
    }
    let mut df = DataFrame::new_infer_height(vec![
        Column::new(
            "rank".into(),
            entries.iter().map(|e| e.rank).collect::<Vec<_>>(),
        ),
        Column::new("account_id".into(), text(|e| &e.account_id)),
        Column::new("arm".into(), text(|e| e.arm)),
        Column::new("repayment_probability".into(), number(|e| e.probability)),
        Column::new("score".into(), number(|e| e.score)),
        Column::new("risk_band".into(), text(|e| &e.band)),
        Column::new("treatment".into(), text(|e| e.treatment)),
        Column::new("action".into(), text(|e| &e.action)),
        Column::new("channel".into(), text(|e| &e.channel)),
        Column::new("stage".into(), text(|e| &e.stage)),
        Column::new("rationale".into(), text(|e| e.rationale)),
        Column::new("priority".into(), number(|e| e.priority)),
        Column::new("contact_guard".into(), text(|e| &e.guard)),
        Column::new("model_version".into(), text(|e| &e.model_version)),
        Column::new(
            "shadow_probability".into(),
            shadow_column(entries, |s: &ShadowEntry| s.probability).collect::<Vec<_>>(),
        ),
        Column::new(
            "shadow_treatment".into(),
            shadow_column(entries, |s| s.treatment).collect::<Vec<_>>(),
        ),
        Column::new(
            "shadow_action".into(),
            shadow_column(entries, |s| s.action.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "shadow_model_version".into(),
            shadow_column(entries, |s| s.model_version.as_str()).collect::<Vec<_>>(),
        ),
    ])
    .map_err(polars)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let file = std::fs::File::create(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if parquet {
        ParquetWriter::new(file).finish(&mut df).map_err(polars)?;
    } else {
        CsvWriter::new(file).finish(&mut df).map_err(polars)?;
    }
    Ok(())
}
