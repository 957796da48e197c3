//! The decisions table: the server's audit log (JSON Lines, `serve::audit`) read back into one
//! typed table, the left side of every readout of what decisions led to.
//!
//! Rules, in order:
//! 1. The files are the directory's `decisions-*.jsonl`, in name order (their names sort by the
//!    server's start time), or one file given by name.
//! 2. Every line must be a whole record with a `decision_id`; a line that is not (corrupt, or
//!    cut short by a crash in the middle of a write) is an error with its file and line, never
//!    skipped silently.
//! 3. A decision id must be 32 hexadecimal digits, as the server writes them; one seen before (a
//!    replayed call) is an error on its later line.
//! 4. Strict by default; `lenient` keeps the good lines and returns every refused one with its
//!    reason, for `rejects.csv`.
//! 5. Times are typed (UTC, milliseconds), amounts are numbers, the reason codes a `;`-joined
//!    text, and a shadow decision its own columns.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::Deserialize;

use super::{RowError, TrainError};

/// One audit record, as read back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DecisionRecord {
    /// The decision's id.
    pub decision_id: String,
    /// The call's request id.
    pub request_id: String,
    /// The RPC.
    pub rpc: String,
    /// The stream message's batch id.
    #[serde(default)]
    pub batch_id: Option<u64>,
    /// Position in the request.
    pub index: u32,
    /// When the server decided.
    pub time: DateTime<Utc>,
    /// The decision time.
    pub decision_time: DateTime<Utc>,
    /// The account.
    pub account_id: String,
    /// Its balance at the decision.
    #[serde(default)]
    pub balance: Option<f64>,
    /// Its days past due at the decision.
    pub days_past_due: u32,
    /// The experiment, if one ran.
    #[serde(default)]
    pub experiment: Option<String>,
    /// The deciding model.
    pub model: String,
    /// Its version.
    pub model_version: String,
    /// The policy's version.
    pub policy_version: String,
    /// The arm.
    pub arm: String,
    /// Repayment probability.
    pub probability: f64,
    /// Score points.
    pub score: f64,
    /// Risk band.
    pub band: String,
    /// Treatment.
    pub treatment: String,
    /// Action.
    pub action: String,
    /// Channel.
    pub channel: String,
    /// Ladder stage.
    pub stage: String,
    /// Worklist priority.
    pub priority: f64,
    /// Reason codes, strongest first.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The guard's rule.
    #[serde(default)]
    pub guard: Option<String>,
    /// The shadow decision.
    #[serde(default)]
    pub shadow: Option<ShadowRecord>,
}

/// A shadow decision, as read back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShadowRecord {
    /// Its model version.
    pub model_version: String,
    /// Its probability.
    pub probability: f64,
    /// Its treatment.
    pub treatment: String,
    /// Its action.
    pub action: String,
}

/// The decisions read, and the lines refused (lenient reads only).
#[derive(Debug)]
pub struct Decisions {
    /// The records, in file and line order.
    pub records: Vec<DecisionRecord>,
    /// Refused lines, with file and line.
    pub rejects: Vec<RowError>,
}

/// A decision id (32 hexadecimal digits) as a number.
pub fn parse_id(id: &str) -> Option<u128> {
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u128::from_str_radix(id, 16).ok())
        .flatten()
}

/// The decisions an events table is checked against: each id with its decision date, 40 bytes
/// a decision (ten million in 400 MB, a third of a hash map's): the ids in decision order, the
/// ids sorted with their decision numbers, and where each 20-bit prefix starts among the sorted
/// ones, so that a lookup reads a few neighbouring ids (ids are hashes: about ten decisions
/// share a prefix at ten million).
#[derive(Debug, Default)]
pub struct DecisionIndex {
    ids: Vec<u128>,
    dates: Vec<NaiveDate>,
    sorted_ids: Vec<u128>,
    positions: Vec<u32>,
    prefixes: Vec<u32>,
}

/// Bits of an id's prefix table.
const PREFIX_BITS: u32 = 20;

impl DecisionIndex {
    /// Indexes decisions given as ids and dates, numbered in order.
    pub fn new(ids: Vec<u128>, dates: Vec<NaiveDate>) -> DecisionIndex {
        DecisionIndex::with_repeats(ids, dates).0
    }

    /// As [`DecisionIndex::new`], with the numbers of the decisions whose id was given before
    /// (an id names its first decision).
    pub fn with_repeats(ids: Vec<u128>, dates: Vec<NaiveDate>) -> (DecisionIndex, Vec<usize>) {
        let mut positions: Vec<u32> = (0..ids.len() as u32).collect();
        positions.sort_unstable_by_key(|&k| (ids[k as usize], k));
        let repeats = positions
            .windows(2)
            .filter(|w| ids[w[0] as usize] == ids[w[1] as usize])
            .map(|w| w[1] as usize)
            .collect();
        let sorted_ids: Vec<u128> = positions.iter().map(|&k| ids[k as usize]).collect();
        let mut prefixes = vec![0u32; (1 << PREFIX_BITS) + 1];
        for id in &sorted_ids {
            prefixes[(id >> (128 - PREFIX_BITS)) as usize + 1] += 1;
        }
        for p in 1..prefixes.len() {
            prefixes[p] += prefixes[p - 1];
        }
        let index = DecisionIndex {
            ids,
            dates,
            sorted_ids,
            positions,
            prefixes,
        };
        (index, repeats)
    }

    /// Indexes audit records (ids that do not parse are left out: `read` refuses them).
    pub fn of_records(records: &[DecisionRecord]) -> DecisionIndex {
        let (ids, dates) = records
            .iter()
            .filter_map(|r| parse_id(&r.decision_id).map(|id| (id, r.decision_time.date_naive())))
            .unzip();
        DecisionIndex::new(ids, dates)
    }

    /// The number of the decision `id` names (its first, should it repeat).
    pub fn find(&self, id: &str) -> Option<u32> {
        let id = parse_id(id)?;
        let prefix = (id >> (128 - PREFIX_BITS)) as usize;
        let (from, to) = (
            *self.prefixes.get(prefix)? as usize,
            *self.prefixes.get(prefix + 1)? as usize,
        );
        let within = &self.sorted_ids[from..to];
        let at = within.partition_point(|&x| x < id);
        (within.get(at) == Some(&id)).then(|| self.positions[from + at])
    }

    /// The id of decision `i`.
    pub fn id(&self, i: u32) -> u128 {
        self.ids[i as usize]
    }

    /// The date of decision `i` (UTC).
    pub fn date(&self, i: u32) -> NaiveDate {
        self.dates[i as usize]
    }

    /// Decisions indexed.
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }
}

/// The audit files of `path`: the file itself, or a directory's `decisions-*.jsonl` (rule 1).
fn files(path: &Path) -> Result<Vec<PathBuf>, TrainError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let io = |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("decisions-") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads the audit log at `path` (rules 1-4).
pub fn read(path: &Path, lenient: bool) -> Result<Decisions, TrainError> {
    let mut records = Vec::new();
    let mut rejects = Vec::new();
    let mut seen = HashSet::new();
    for file in files(path)? {
        let name = file.display().to_string();
        let bytes = std::fs::read(&file).map_err(|source| TrainError::Io {
            path: file.clone(),
            source,
        })?;
        let complete = bytes.last().is_none_or(|&b| b == b'\n');
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            // The empty piece after the final newline is not a line.
            if i == last && complete {
                break;
            }
            let row = i as u64 + 1;
            let refuse = |message: String| RowError::new(&name, row, "", message);
            let record = if i == last {
                Err(refuse(
                    "the line is cut short (no newline at the end of the file: a write was interrupted)"
                        .into(),
                ))
            } else {
                serde_json::from_slice::<DecisionRecord>(line)
                    .map_err(|e| refuse(format!("not a decision record: {e}")))
            };
            match record {
                Ok(r) if parse_id(&r.decision_id).is_none() => rejects.push(refuse(format!(
                    "decision id `{}` is not 32 hexadecimal digits",
                    r.decision_id
                ))),
                Ok(r) if !seen.insert(r.decision_id.clone()) => rejects.push(refuse(format!(
                    "decision `{}` was recorded before (a replayed call)",
                    r.decision_id
                ))),
                Ok(r) => records.push(r),
                Err(e) => rejects.push(e),
            }
        }
    }
    if !rejects.is_empty() && !lenient {
        return Err(TrainError::data(rejects));
    }
    Ok(Decisions { records, rejects })
}

/// Writes the records as a typed table (rule 5): Parquet for `.parquet`, else CSV.
pub fn write(records: &[DecisionRecord], path: &Path) -> Result<(), TrainError> {
    let polars = |source| TrainError::Polars {
        context: format!("writing {}", path.display()),
        source,
    };
    let text = |f: fn(&DecisionRecord) -> &str| -> Vec<&str> { records.iter().map(f).collect() };
    let number = |f: fn(&DecisionRecord) -> f64| -> Vec<f64> { records.iter().map(f).collect() };
    let time = |name: &str, f: fn(&DecisionRecord) -> DateTime<Utc>| -> PolarsResult<Column> {
        Series::new(
            name.into(),
            records
                .iter()
                .map(|r| f(r).timestamp_millis())
                .collect::<Vec<i64>>(),
        )
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
        .map(Column::from)
    };
    let shadow = |f: fn(&ShadowRecord) -> String| -> Vec<Option<String>> {
        records.iter().map(|r| r.shadow.as_ref().map(f)).collect()
    };
    // CSV escapes control characters in account ids, as the worklist does; Parquet keeps them.
    let accounts = super::worklist::id_column(path, records.iter().map(|r| r.account_id.as_str()));
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("decision_id".into(), text(|r| &r.decision_id)),
        Column::new("request_id".into(), text(|r| &r.request_id)),
        Column::new("rpc".into(), text(|r| &r.rpc)),
        Column::new(
            "batch_id".into(),
            records.iter().map(|r| r.batch_id).collect::<Vec<_>>(),
        ),
        Column::new(
            "index".into(),
            records.iter().map(|r| r.index).collect::<Vec<_>>(),
        ),
        time("time", |r| r.time).map_err(polars)?,
        time("decision_time", |r| r.decision_time).map_err(polars)?,
        Column::new("account_id".into(), accounts),
        Column::new(
            "balance".into(),
            records.iter().map(|r| r.balance).collect::<Vec<_>>(),
        ),
        Column::new(
            "days_past_due".into(),
            records.iter().map(|r| r.days_past_due).collect::<Vec<_>>(),
        ),
        Column::new(
            "experiment".into(),
            records
                .iter()
                .map(|r| r.experiment.as_deref())
                .collect::<Vec<_>>(),
        ),
        Column::new("model".into(), text(|r| &r.model)),
        Column::new("model_version".into(), text(|r| &r.model_version)),
        Column::new("policy_version".into(), text(|r| &r.policy_version)),
        Column::new("arm".into(), text(|r| &r.arm)),
        Column::new("probability".into(), number(|r| r.probability)),
        Column::new("score".into(), number(|r| r.score)),
        Column::new("band".into(), text(|r| &r.band)),
        Column::new("treatment".into(), text(|r| &r.treatment)),
        Column::new("action".into(), text(|r| &r.action)),
        Column::new("channel".into(), text(|r| &r.channel)),
        Column::new("stage".into(), text(|r| &r.stage)),
        Column::new("priority".into(), number(|r| r.priority)),
        Column::new(
            "reasons".into(),
            records
                .iter()
                .map(|r| r.reasons.join(";"))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "guard".into(),
            records
                .iter()
                .map(|r| r.guard.as_deref())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "shadow_model_version".into(),
            shadow(|s| s.model_version.clone()),
        ),
        Column::new(
            "shadow_probability".into(),
            records
                .iter()
                .map(|r| r.shadow.as_ref().map(|s| s.probability))
                .collect::<Vec<_>>(),
        ),
        Column::new("shadow_treatment".into(), shadow(|s| s.treatment.clone())),
        Column::new("shadow_action".into(), shadow(|s| s.action.clone())),
    ])
    .map_err(polars)?;
    super::worklist::save(&mut df, path)
}
