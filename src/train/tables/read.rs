//! Reading a table with Polars (CSV or Parquet): typed columns, the raw text of every cell for
//! error messages, and each row's number in the file.

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use super::{RAW, ROW};
use crate::train::{RowError, TrainError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::train) enum Kind {
    Text,
    Float,
    Int,
    Date,
}

impl Kind {
    pub(in crate::train) fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Float => "a number",
            Kind::Int => "a whole number",
            Kind::Date => "a YYYY-MM-DD date",
        }
    }
}

/// How the tables are read, beyond their schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Skip columns no table defines, instead of refusing them (a misspelt column would
    /// otherwise vanish without a word).
    pub ignore_unknown_columns: bool,
    /// Cell texts that mean "missing", besides the empty cell (for example `NA` as R writes it,
    /// or `nan`).
    pub null_values: Vec<String>,
    /// Attribute columns refused or allowed beyond the built-in protected characteristics (the
    /// training config's `[protected]`).
    pub protected: crate::domain::ProtectedList,
}

/// A table read with Polars: typed columns plus the raw text of each, for error messages.
pub(in crate::train) struct Table {
    pub(in crate::train) file: String,
    pub(in crate::train) df: DataFrame,
    pub(in crate::train) rows: Vec<u64>,
}

/// Whether `path` names a Parquet file (else a table is CSV).
pub(in crate::train) fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

pub(super) fn scan(path: &Path) -> Result<LazyFrame, TrainError> {
    let name = path.to_string_lossy().to_string();
    let polars = |source| TrainError::Polars {
        context: format!("reading {name}"),
        source,
    };
    if !path.exists() {
        return Err(TrainError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    if is_parquet(path) {
        LazyFrame::scan_parquet(PlRefPath::new(name.as_str()), ScanArgsParquet::default())
            .map_err(polars)
    } else {
        // Every CSV column is read as text and cast below, so that a bad cell becomes a row
        // error instead of a failed or silently re-typed column.
        LazyCsvReader::new(PlRefPath::new(name.as_str()))
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish()
            .map_err(polars)
    }
}

/// Rows read at a time from a large Parquet table ([`slices`]).
pub(in crate::train) const SLICE_ROWS: u64 = 2_000_000;

/// The row ranges to read `path` in: slices of [`SLICE_ROWS`] for Parquet (whose row groups are
/// read without the rest, so a table of any length is read in bounded memory), one whole
/// range (`None`) for CSV.
pub(in crate::train) fn slices(path: &Path) -> Result<Vec<Option<(u64, u64)>>, TrainError> {
    if !is_parquet(path) {
        return Ok(vec![None]);
    }
    let name = path.display().to_string();
    let rows = scan(path)?
        .select([len().alias("rows")])
        .collect()
        .map_err(|source| TrainError::Polars {
            context: format!("counting the rows of {name}"),
            source,
        })?;
    let total = u64_column(&rows, "rows")?.first().copied().unwrap_or(0);
    Ok((0..total.div_ceil(SLICE_ROWS).max(1))
        .map(|k| Some((k * SLICE_ROWS, SLICE_ROWS.min(total - k * SLICE_ROWS))))
        .collect())
}

impl Table {
    /// Reads `path`, checks that `required` columns exist and that every column is known
    /// (required, optional or matched by `extra`) unless `options` ignores unknown ones, and casts
    /// every listed column.
    pub(in crate::train) fn read(
        path: &Path,
        required: &[(&str, Kind)],
        optional: &[(&str, Kind)],
        extra: impl Fn(&str) -> Option<Kind>,
        options: &ReadOptions,
    ) -> Result<Table, TrainError> {
        Table::read_rows(path, required, optional, extra, options, None)
    }

    /// As [`Table::read`], for the rows `(offset, count)` only (row numbers stay the file's).
    pub(in crate::train) fn read_rows(
        path: &Path,
        required: &[(&str, Kind)],
        optional: &[(&str, Kind)],
        extra: impl Fn(&str) -> Option<Kind>,
        options: &ReadOptions,
        rows: Option<(u64, u64)>,
    ) -> Result<Table, TrainError> {
        let file = path.display().to_string();
        let mut lf = scan(path)?;
        let schema = lf.collect_schema().map_err(|source| TrainError::Polars {
            context: format!("reading the header of {file}"),
            source,
        })?;
        let missing: Vec<RowError> = required
            .iter()
            .filter(|(c, _)| !schema.contains(c))
            .map(|(c, _)| RowError::new(&file, 0, c, "required column is missing"))
            .collect();
        if !missing.is_empty() {
            return Err(TrainError::data(missing));
        }
        let mut columns: Vec<(String, Kind)> = required
            .iter()
            .chain(optional.iter().filter(|(c, _)| schema.contains(c)))
            .map(|(c, k)| ((*c).to_owned(), *k))
            .collect();
        let mut unknown = Vec::new();
        for name in schema.iter_names() {
            if let Some(kind) = extra(name.as_str()) {
                columns.push((name.to_string(), kind));
            } else if !required
                .iter()
                .chain(optional)
                .any(|(c, _)| *c == name.as_str())
            {
                unknown.push(name.to_string());
            }
        }
        if !unknown.is_empty() && !options.ignore_unknown_columns {
            let known: Vec<&str> = required.iter().chain(optional).map(|(c, _)| *c).collect();
            let errors = unknown
                .iter()
                .map(|name| RowError::new(&file, 0, name, unknown_column(name, &known)))
                .collect();
            return Err(TrainError::data(errors));
        }
        let mut exprs = vec![col(ROW)];
        for (name, kind) in &columns {
            // A column already stored with a fitting type (Parquet) is cast losslessly and
            // needs no text: an empty cell there is a missing value, never an unreadable one.
            let source = schema.get(name.as_str());
            let native = match (kind, source) {
                (Kind::Float, Some(t)) => t.is_primitive_numeric(),
                (Kind::Int, Some(t)) => t.is_integer(),
                (Kind::Date, Some(t)) => *t == DataType::Date,
                (Kind::Text, Some(t)) => t.is_string(),
                (_, None) => false,
            };
            if native && *kind != Kind::Text {
                let target = match kind {
                    Kind::Float => DataType::Float64,
                    Kind::Int => DataType::Int64,
                    _ => DataType::Int32,
                };
                exprs.push(col(name.as_str()).cast(target).alias(name.as_str()));
                continue;
            }
            let mut raw = col(name.as_str()).cast(DataType::String);
            for token in &options.null_values {
                raw = when(
                    raw.clone()
                        .str()
                        .strip_chars(lit(NULL))
                        .eq(lit(token.as_str())),
                )
                .then(lit(NULL).cast(DataType::String))
                .otherwise(raw);
            }
            let typed = match kind {
                Kind::Text => raw.clone(),
                Kind::Float => raw.clone().cast(DataType::Float64),
                // Whole numbers stored as floats (data that went through a NaN-aware tool)
                // are fine; fractions are not.
                Kind::Int if source.is_some_and(DataType::is_float) => {
                    let c = col(name.as_str());
                    when((c.clone() % lit(1.0)).eq(lit(0.0)))
                        .then(c.cast(DataType::Int64))
                        .otherwise(lit(NULL).cast(DataType::Int64))
                }
                // Whole numbers written with a fraction (`13.0`, as pandas writes an integer
                // column with a gap) are whole numbers; `13.5` is not.
                Kind::Int => {
                    let f = raw.clone().cast(DataType::Float64);
                    when((f.clone() % lit(1.0)).eq(lit(0.0)))
                        .then(f.cast(DataType::Int64))
                        .otherwise(lit(NULL).cast(DataType::Int64))
                }
                Kind::Date => raw
                    .clone()
                    .str()
                    .to_date(StrptimeOptions {
                        format: Some("%Y-%m-%d".into()),
                        strict: false,
                        exact: true,
                        cache: true,
                    })
                    .cast(DataType::Int32),
            };
            exprs.push(typed.alias(name.as_str()));
            exprs.push(raw.alias(format!("{RAW}{name}")));
        }
        // The slice first, so that it reaches the Parquet scan and only its row groups are read;
        // then the rows are numbered from the slice's first.
        let mut lf = lf;
        if let Some((offset, count)) = rows {
            lf = lf.slice(offset as i64, count as IdxSize);
        }
        let first = rows.map_or(0, |(offset, _)| offset);
        let lf = lf.with_row_index(ROW, Some((first + 1) as IdxSize));
        let df = lf
            .select(exprs)
            .collect()
            .map_err(|source| TrainError::Polars {
                context: format!("reading {file}"),
                source,
            })?;
        let rows = u64_column(&df, ROW)?;
        Ok(Table { file, df, rows })
    }

    pub(in crate::train) fn raw(&self, name: &str, i: usize) -> Option<String> {
        let column = self.df.column(&format!("{RAW}{name}")).ok()?;
        let s = column.str().ok()?.get(i)?.trim().to_owned();
        (!s.is_empty()).then_some(s)
    }

    /// The error for an unparseable or missing cell, or `None` when the cell is empty and
    /// allowed to be.
    pub(in crate::train) fn cell_error(
        &self,
        name: &str,
        kind: Kind,
        i: usize,
        required: bool,
    ) -> Option<RowError> {
        match self.raw(name, i) {
            Some(raw) if required => Some(RowError::new(
                &self.file,
                self.rows[i],
                name,
                format!("cannot read `{raw}` as {}", kind.describe()),
            )),
            Some(raw) => Some(RowError::new(
                &self.file,
                self.rows[i],
                name,
                format!(
                    "cannot read `{raw}` as {} (an empty cell means missing; \
                     `--null-values {raw}` reads this text as missing too)",
                    kind.describe()
                ),
            )),
            None if required => Some(RowError::new(
                &self.file,
                self.rows[i],
                name,
                "value is missing",
            )),
            None => None,
        }
    }

    pub(in crate::train) fn floats(&self, name: &str) -> Result<Vec<Option<f64>>, TrainError> {
        Ok(self
            .column(name)?
            .f64()
            .map_err(self.polars())?
            .iter()
            .collect())
    }

    pub(in crate::train) fn ints(&self, name: &str) -> Result<Vec<Option<i64>>, TrainError> {
        Ok(self
            .column(name)?
            .i64()
            .map_err(self.polars())?
            .iter()
            .collect())
    }

    pub(in crate::train) fn dates(&self, name: &str) -> Result<Vec<Option<NaiveDate>>, TrainError> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        Ok(self
            .column(name)?
            .i32()
            .map_err(self.polars())?
            .iter()
            .map(|d| d.and_then(|d| epoch.checked_add_signed(chrono::Duration::days(d.into()))))
            .collect())
    }

    /// The column's text cells, trimmed; empty cells are `None`. Borrowed from the table: no
    /// allocation per row.
    pub(in crate::train) fn texts(&self, name: &str) -> Result<Vec<Option<&str>>, TrainError> {
        Ok(self
            .column(name)?
            .str()
            .map_err(self.polars())?
            .iter()
            .map(|s| s.map(str::trim).filter(|s| !s.is_empty()))
            .collect())
    }

    pub(in crate::train) fn column(&self, name: &str) -> Result<&Column, TrainError> {
        self.df.column(name).map_err(self.polars())
    }

    pub(in crate::train) fn polars(&self) -> impl Fn(PolarsError) -> TrainError + '_ {
        move |source| TrainError::Polars {
            context: format!("reading {}", self.file),
            source,
        }
    }

    pub(in crate::train) fn len(&self) -> usize {
        self.rows.len()
    }
}

pub(super) fn u64_column(df: &DataFrame, name: &str) -> Result<Vec<u64>, TrainError> {
    let polars = |source| TrainError::Polars {
        context: format!("column {name}"),
        source,
    };
    let c = df
        .column(name)
        .map_err(polars)?
        .cast(&DataType::UInt64)
        .map_err(polars)?;
    Ok(c.u64()
        .map_err(polars)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

/// Why a column is unknown, with the nearest known name when there is one.
fn unknown_column(name: &str, known: &[&str]) -> String {
    const SKIP: &str = "(or pass --ignore-unknown-columns to skip unknown columns)";
    let normalised: String = name
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if let Some(rest) = normalised.strip_prefix("attr").filter(|r| r.len() > 1) {
        let rest = rest.trim_start_matches('_');
        return format!("unknown column; did you mean `attr_{rest}`? {SKIP}");
    }
    let nearest = known
        .iter()
        .map(|k| (edit_distance(&normalised, k), *k))
        .min()
        .filter(|(d, k)| *d <= (k.len() / 3).max(1));
    match nearest {
        Some((_, k)) => format!("unknown column; did you mean `{k}`? {SKIP}"),
        None => format!(
            "unknown column; an extra feature needs the `attr_` prefix (`attr_{normalised}`) {SKIP}"
        ),
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_columns_get_the_nearest_known_name() {
        let known = ["hardship", "credit_limit", "months_on_book"];
        let says = |name: &str| unknown_column(name, &known);
        assert!(says("hardhip").contains("did you mean `hardship`?"));
        assert!(says("Credit Limit").contains("did you mean `credit_limit`?"));
        assert!(says("attr-debt_ratio").contains("did you mean `attr_debt_ratio`?"));
        assert!(says("debt_ratio").contains("needs the `attr_` prefix (`attr_debt_ratio`)"));
        assert!(says("x").contains("--ignore-unknown-columns"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
