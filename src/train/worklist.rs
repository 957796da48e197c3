//! Offline scoring of a whole portfolio (`payrisk-train score`): the serving deployment's one
//! decision path ([`Deployment::decide_many`]: the same feature engine, model, policy and
//! experiment arms as `payrisk-server`) over every account, ranked into a worklist by priority (expected loss), written as Parquet or CSV.
//!
//! In a shadow experiment the challenger also scores the accounts of its share, without acting
//! on them: their entries carry the challenger's probability, treatment and action beside the
//! champion's decision (the `shadow_*` columns, empty for other accounts), as `Score` reports
//! them in `ScoreResponse.shadow`.

use std::path::Path;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use rayon::prelude::*;

use super::tables::is_parquet;
use super::TrainError;
use crate::domain::{printable, Account};
use crate::model::Model;
use crate::serve::audit::{self, CallContext};
use crate::serve::decisions::ScoredAccount;
use crate::serve::deployment::Deployment;

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
    /// Why a contact cap or a compliance hold changed the action (empty when none did).
    pub guard: String,
    /// The rule that changed it (`max_attempts`, `bankruptcy`, `contact_hours`, ...; empty when
    /// none did).
    pub guard_rule: &'static str,
    /// For contact hours: when the blocked action is permitted, RFC 3339 UTC (else empty).
    pub next_permitted_time: String,
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

/// Scores every account at `now` through the deployment's decision path and ranks them:
/// highest priority first, ties by account id.
pub fn rank(deployment: &Deployment, accounts: &[Account], now: DateTime<Utc>) -> Vec<Entry> {
    rank_recorded(deployment, accounts, now, None).0
}

/// As [`rank`], and with `call`, every decision's audit record (the server's format, one JSON
/// line each, `index` the account's position in `accounts`), so an offline run feeds the
/// outcomes loop as the server's audit log does.
pub fn rank_recorded(
    deployment: &Deployment,
    accounts: &[Account],
    now: DateTime<Utc>,
    call: Option<&CallContext>,
) -> (Vec<Entry>, Vec<u8>) {
    let chunks: Vec<(Vec<Entry>, Vec<u8>)> = accounts
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let refs: Vec<&Account> = chunk.iter().collect();
            let mut entries = Vec::with_capacity(chunk.len());
            let mut lines = Vec::new();
            deployment.decide_many(&refs, 0, now, |i, d| {
                let id = chunk[i].account_id.as_str();
                if let Some(call) = call {
                    let index = (c * CHUNK + i) as u32;
                    audit::format(call, None, [(index, id, &d)], &mut lines);
                }
                entries.push(entry(id, &d));
            });
            (entries, lines)
        })
        .collect();
    let mut lines = Vec::new();
    let mut entries = Vec::with_capacity(accounts.len());
    for (e, l) in chunks {
        entries.extend(e);
        lines.extend(l);
    }
    entries.par_sort_by(collectors_order);
    for (k, e) in entries.iter_mut().enumerate() {
        e.rank = k as u64 + 1;
    }
    (entries, lines)
}

/// The collectors' order: priority first (highest), then the riskier account (the lower
/// repayment probability), then the account id with its digits compared as numbers ("2" before
/// "10"), so that a portfolio without balances (all priority 0) is still ranked by risk.
fn collectors_order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    b.priority
        .total_cmp(&a.priority)
        .then_with(|| a.probability.total_cmp(&b.probability))
        .then_with(|| natural(&a.account_id, &b.account_id))
}

/// Text order with runs of digits compared by their value (`A-2` before `A-10`).
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (run(a), run(b));
                let (da, db) = (&a[..na], &b[..nb]);
                // Compare values: strip leading zeros, then longer is larger, then digit by digit.
                let trim = |d: &[u8]| {
                    let z = d.iter().take_while(|c| **c == b'0').count();
                    d[z..].to_vec()
                };
                let (ta, tb) = (trim(da), trim(db));
                let order = ta
                    .len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(&tb))
                    .then(na.cmp(&nb));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

/// The worklist entry of one decided account (ranked later).
fn entry(account_id: &str, decided: &ScoredAccount<'_>) -> Entry {
    let d = &decided.decision;
    Entry {
        rank: 0,
        account_id: account_id.to_owned(),
        arm: decided.arm.as_str(),
        probability: decided.probability,
        score: d.score,
        band: d.band.to_owned(),
        treatment: d.treatment.as_str(),
        action: d.action.action.clone(),
        channel: d.action.channel.clone(),
        stage: d.stage.to_owned(),
        rationale: d.rationale.text(),
        priority: d.priority,
        guard: d.guard.map(|g| g.reason()).unwrap_or_default(),
        guard_rule: d.guard.map_or("", |g| g.rule.code()),
        next_permitted_time: d
            .guard
            .and_then(|g| g.next_permitted())
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
        model_version: decided.engine.model().artifact().version.clone(),
        shadow: decided.shadow.as_ref().map(|s| ShadowEntry {
            probability: s.probability,
            treatment: s.decision.treatment.as_str(),
            action: s.decision.action.action.clone(),
            model_version: s.engine.model().artifact().version.clone(),
        }),
    }
}

/// Writes the worklist to `path`: Parquet when it ends in `.parquet`, else CSV. Parquet keeps
/// account ids as they are; CSV escapes their control characters (`\u{1b}`), so that a line is
/// one entry and a viewer shows the id, not what a control character would do.
pub fn write(entries: &[Entry], path: &Path) -> Result<(), TrainError> {
    let polars = |source| TrainError::Polars {
        context: format!("writing {}", path.display()),
        source,
    };
    let ids = id_column(path, entries.iter().map(|e| e.account_id.as_str()));
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
        Column::new(
            "account_id".into(),
            ids.iter().map(|id| id.as_ref()).collect::<Vec<&str>>(),
        ),
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
        Column::new("guard_rule".into(), text(|e| e.guard_rule)),
        Column::new(
            "next_permitted_time".into(),
            text(|e| &e.next_permitted_time),
        ),
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
    save(&mut df, path)
}

/// Probabilities only, for portfolios without a collections policy: each account's repayment
/// probability from `model` (the serving feature engine and model), riskiest first, ties by id
/// read as a number. (rank, account id, probability.)
pub fn rank_probabilities(model: &Model, accounts: &[Account]) -> Vec<(u64, String, f64)> {
    let spec = model.spec();
    let mut rows: Vec<(u64, String, f64)> = accounts
        .par_iter()
        .map_init(
            || vec![0.0; spec.len()],
            |row, a| {
                spec.derive(a, row);
                (0, a.account_id.clone(), model.probability(row))
            },
        )
        .collect();
    rows.par_sort_by(|a, b| a.2.total_cmp(&b.2).then_with(|| natural(&a.1, &b.1)));
    for (k, r) in rows.iter_mut().enumerate() {
        r.0 = k as u64 + 1;
    }
    rows
}

/// Writes [`rank_probabilities`]' rows (with the model's version) as Parquet, or CSV for any
/// other extension (control characters in ids escaped).
pub fn write_probabilities(
    rows: &[(u64, String, f64)],
    model_version: &str,
    path: &Path,
) -> Result<(), TrainError> {
    let ids = id_column(path, rows.iter().map(|r| r.1.as_str()));
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("rank".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
        Column::new("account_id".into(), ids),
        Column::new(
            "repayment_probability".into(),
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        ),
        Column::new("model_version".into(), vec![model_version; rows.len()]),
    ])
    .map_err(|source| TrainError::Polars {
        context: format!("writing {}", path.display()),
        source,
    })?;
    save(&mut df, path)
}

/// Account ids as a table written to `path` holds them: as they are in Parquet, with control
/// characters escaped in CSV (a raw newline would split a row).
pub(crate) fn id_column<'a>(
    path: &Path,
    ids: impl Iterator<Item = &'a str>,
) -> Vec<std::borrow::Cow<'a, str>> {
    let parquet = is_parquet(path);
    ids.map(|id| match parquet {
        true => std::borrow::Cow::Borrowed(id),
        false => printable(id),
    })
    .collect()
}

/// Writes `df` to `path` (creating its directory): Parquet for `.parquet`, else CSV.
pub(crate) fn save(df: &mut DataFrame, path: &Path) -> Result<(), TrainError> {
    let polars = |source| TrainError::Polars {
        context: format!("writing {}", path.display()),
        source,
    };
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
    if is_parquet(path) {
        ParquetWriter::new(file).finish(df).map_err(polars)?;
    } else {
        CsvWriter::new(file).finish(df).map_err(polars)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(account_id: &str) -> Entry {
        Entry {
            rank: 1,
            account_id: account_id.to_owned(),
            arm: "champion",
            probability: 0.5,
            score: 600.0,
            band: "C".into(),
            treatment: "soft",
            action: "reminder_text".into(),
            channel: "sms".into(),
            stage: "current".into(),
            rationale: "likely to pay",
            priority: 10.0,
            guard: String::new(),
            guard_rule: "",
            next_permitted_time: String::new(),
            model_version: "2".into(),
            shadow: None,
        }
    }

    /// Control characters in an id cannot break a CSV line or reach a terminal raw; Parquet
    /// keeps the id as it is.
    #[test]
    fn ties_go_to_the_riskier_account_then_to_the_id_read_as_a_number() {
        // Pins the order of a portfolio without balances: all priority 0.
        let mut entries: Vec<Entry> = [
            ("10", 0.5),
            ("2", 0.5),
            ("1", 0.5),
            ("100", 0.2),
            ("A-9", 0.5),
            ("A-10", 0.5),
        ]
        .iter()
        .map(|(id, p)| Entry {
            account_id: (*id).into(),
            probability: *p,
            priority: 0.0,
            ..entry("x")
        })
        .collect();
        entries.sort_by(collectors_order);
        let ids: Vec<&str> = entries.iter().map(|e| e.account_id.as_str()).collect();
        assert_eq!(ids, ["100", "1", "2", "10", "A-9", "A-10"]);
        assert_eq!(natural("007", "7"), std::cmp::Ordering::Greater);
    }

    #[test]
    fn csv_worklists_escape_control_characters_in_ids() {
        let dir = tempfile::tempdir().expect("tempdir");
        let entries = [entry("A\u{1b}[2J\nB"), entry("plain")];
        let csv = dir.path().join("w.csv");
        write(&entries, &csv).expect("csv");
        let text = std::fs::read_to_string(&csv).expect("read");
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert_eq!(text.lines().count(), 3, "{text:?}");
        assert!(text.contains("A\\u{1b}[2J\\nB"), "{text:?}");
        let parquet = dir.path().join("w.parquet");
        write(&entries, &parquet).expect("parquet");
        let df = ParquetReader::new(std::fs::File::open(&parquet).expect("open"))
            .finish()
            .expect("read back");
        let ids = df.column("account_id").expect("ids");
        assert_eq!(ids.str().expect("text").get(0), Some("A\u{1b}[2J\nB"));
    }
}
