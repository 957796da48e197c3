//! Offline scoring of a whole portfolio (`payrisk-train score`): the worklist of
//! [`crate::serve::worklist`] (the server's one decision path over every account, ranked in the
//! collectors' order) written as Parquet or CSV, or probabilities only, without a policy.

use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

use super::tables::is_parquet;
use super::TrainError;
use crate::domain::{printable, Account};
use crate::model::Model;
pub use crate::serve::worklist::{natural, rank, rank_with, Entry, Ranking, ShadowEntry};

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
    use crate::serve::worklist::tests::entry;

    /// Control characters in an id cannot break a CSV line or reach a terminal raw; Parquet
    /// keeps the id as it is.
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
