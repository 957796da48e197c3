//! Reading a table with Polars (CSV or Parquet): typed columns, the raw text of every cell for
//! error messages, and each row's number in the file.

use std::borrow::Cow;
use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use super::{RAW, ROW};
use crate::tables::{check_columns, Columns, Kind, ReadOptions, TableError};
use crate::train::TrainError;

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
        let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
        let columns = check_columns(&file, &names, required, optional, &extra, options)?;
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

    pub(in crate::train) fn column(&self, name: &str) -> Result<&Column, TrainError> {
        self.df.column(name).map_err(self.polars())
    }

    pub(in crate::train) fn polars(&self) -> impl Fn(PolarsError) -> TrainError + '_ {
        move |source| TrainError::Polars {
            context: format!("reading {}", self.file),
            source,
        }
    }
}

impl Table {
    /// A column of this table, Polars' errors as the shared tables' own.
    fn typed(&self, name: &str) -> Result<&Column, TableError> {
        self.df
            .column(name)
            .map_err(|source| self.read_error(source))
    }

    fn read_error(&self, source: PolarsError) -> TableError {
        TableError::Read {
            context: format!("reading {}", self.file),
            source: Box::new(source),
        }
    }
}

impl Columns for Table {
    fn file(&self) -> &str {
        &self.file
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn row(&self, i: usize) -> u64 {
        self.rows[i]
    }

    fn names(&self) -> Vec<&str> {
        self.df
            .get_column_names()
            .into_iter()
            .map(|n| n.as_str())
            .filter(|n| *n != ROW && !n.starts_with(RAW))
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.df.column(name).is_ok()
    }

    fn texts(&self, name: &str) -> Result<Vec<Option<&str>>, TableError> {
        let texts = self.typed(name)?.str().map_err(|e| self.read_error(e))?;
        Ok(texts
            .iter()
            .map(|s| s.map(str::trim).filter(|s| !s.is_empty()))
            .collect())
    }

    fn floats(&self, name: &str) -> Result<Cow<'_, [Option<f64>]>, TableError> {
        let values = self.typed(name)?.f64().map_err(|e| self.read_error(e))?;
        Ok(Cow::Owned(values.iter().collect()))
    }

    fn ints(&self, name: &str) -> Result<Cow<'_, [Option<i64>]>, TableError> {
        let values = self.typed(name)?.i64().map_err(|e| self.read_error(e))?;
        Ok(Cow::Owned(values.iter().collect()))
    }

    fn dates(&self, name: &str) -> Result<Cow<'_, [Option<NaiveDate>]>, TableError> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let days = self.typed(name)?.i32().map_err(|e| self.read_error(e))?;
        Ok(Cow::Owned(
            days.iter()
                .map(|d| d.and_then(|d| epoch.checked_add_signed(chrono::Duration::days(d.into()))))
                .collect(),
        ))
    }

    fn raw(&self, name: &str, i: usize) -> Option<String> {
        let column = self.df.column(&format!("{RAW}{name}")).ok()?;
        let s = column.str().ok()?.get(i)?.trim().to_owned();
        (!s.is_empty()).then_some(s)
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
