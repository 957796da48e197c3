//! Arrow record batches as the shared tables' [`Columns`]: the batches are imported from Python
//! without a copy (the Arrow C stream interface) and each column the schema asks for is read
//! as its kind, as `payrisk-train` reads a Parquet file:
//!
//! - a column already of a fitting type is taken as it is: any number type for a number, any
//!   integer type (or a float with no fraction) for a whole number, `date32`/`date64` and
//!   midnight timestamps for a date, any string type for text; an empty cell there is missing;
//! - any other column is read through its text (strings parsed; other types formatted first),
//!   so a bad cell becomes a row error quoting it: `cannot read `13.5` as a whole number`;
//! - texts are trimmed; an empty text or one of the null tokens is missing.
//!
//! Row numbers count from 1 over all the batches, in the order the stream gave them.

use std::borrow::Cow;
use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Date64Type, Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use payrisk::tables::{check_columns, Columns, Kind, ReadOptions, Schema, TableError};

/// A table read from Arrow batches: the columns its schema keeps, as their kinds.
pub struct ArrowColumns {
    file: String,
    names: Vec<String>,
    len: usize,
    columns: HashMap<String, Column>,
    nulls: Vec<String>,
}

/// One column: its batches' arrays as given (for messages), and the typed values.
struct Column {
    source: Vec<ArrayRef>,
    /// The first row of each array.
    starts: Vec<usize>,
    typed: Typed,
    /// Whether the column was read through its text (then a missing value may be a bad cell).
    through_text: bool,
}

enum Typed {
    Text(Vec<ArrayRef>),
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Date(Vec<Option<NaiveDate>>),
}

fn read_error(
    file: &str,
    column: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> TableError {
    TableError::Read {
        context: format!("reading {file}, column `{column}`"),
        source: Box::new(e),
    }
}

impl ArrowColumns {
    /// Reads `batches` (all of the stream's schema `arrow`) named `file` as a table of `schema`:
    /// its columns checked (missing, unknown with the nearest name), then each kept column read
    /// as its kind.
    pub fn read(
        file: &str,
        arrow: &SchemaRef,
        batches: &[RecordBatch],
        schema: &Schema,
        options: &ReadOptions,
    ) -> Result<ArrowColumns, TableError> {
        let names: Vec<String> = arrow.fields().iter().map(|f| f.name().clone()).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let keep = check_columns(
            file,
            &name_refs,
            schema.required,
            schema.optional,
            &schema.extra,
            options,
        )?;
        let len = batches.iter().map(RecordBatch::num_rows).sum();
        let mut columns = HashMap::with_capacity(keep.len());
        for (name, kind) in keep {
            let mut source = Vec::with_capacity(batches.len());
            let mut starts = Vec::with_capacity(batches.len());
            let mut start = 0;
            for b in batches {
                let array = b
                    .column_by_name(&name)
                    .ok_or_else(|| {
                        TableError::data(vec![payrisk::tables::RowError::new(
                            file,
                            0,
                            &name,
                            "required column is missing",
                        )])
                    })?
                    .clone();
                starts.push(start);
                start += array.len();
                source.push(array);
            }
            let column = Column::read(file, &name, kind, source, starts, &options.null_values)?;
            columns.insert(name, column);
        }
        Ok(ArrowColumns {
            file: file.to_owned(),
            names,
            len,
            columns,
            nulls: options.null_values.clone(),
        })
    }

    fn column(&self, name: &str) -> Result<&Column, TableError> {
        self.columns.get(name).ok_or_else(|| TableError::Read {
            context: format!("reading {}", self.file),
            source: format!("column `{name}` was not read").into(),
        })
    }
}

/// Whether `t` is read as `kind` without going through text.
fn native(kind: Kind, t: &DataType) -> bool {
    match kind {
        Kind::Float => t.is_numeric(),
        Kind::Int => t.is_integer() || t.is_floating(),
        Kind::Date => matches!(
            t,
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
        ),
        Kind::Text => matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
    }
}

/// The text of row `i` of a string array.
fn string_at(a: &dyn Array, i: usize) -> Option<&str> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Utf8 => Some(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i)),
        DataType::Utf8View => Some(a.as_string_view().value(i)),
        _ => None,
    }
}

/// A text cell, trimmed; empty and null tokens are missing.
fn cell<'a>(s: Option<&'a str>, nulls: &[String]) -> Option<&'a str> {
    s.map(str::trim)
        .filter(|s| !s.is_empty() && !nulls.iter().any(|n| n == s))
}

/// The texts of a string array (any of the three layouts).
fn strings(a: &dyn Array) -> Box<dyn Iterator<Item = Option<&str>> + '_> {
    match a.data_type() {
        DataType::Utf8 => Box::new(a.as_string::<i32>().iter()),
        DataType::LargeUtf8 => Box::new(a.as_string::<i64>().iter()),
        DataType::Utf8View => Box::new(a.as_string_view().iter()),
        _ => Box::new(std::iter::repeat_n(None, a.len())),
    }
}

fn whole(v: f64) -> Option<i64> {
    (v.is_finite() && v % 1.0 == 0.0 && v.abs() < 9.0e15).then_some(v as i64)
}

/// Every text cell of `arrays` (missing when empty or a null token) read by `parse`.
fn parsed<T>(
    arrays: &[ArrayRef],
    nulls: &[String],
    parse: impl Fn(&str) -> Option<T>,
) -> Vec<Option<T>> {
    let mut out = Vec::with_capacity(arrays.iter().map(|a| a.len()).sum());
    for a in arrays {
        out.extend(strings(a.as_ref()).map(|s| cell(s, nulls).and_then(&parse)));
    }
    out
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

impl Column {
    fn read(
        file: &str,
        name: &str,
        kind: Kind,
        source: Vec<ArrayRef>,
        starts: Vec<usize>,
        nulls: &[String],
    ) -> Result<Column, TableError> {
        let err = |e| read_error(file, name, e);
        let is_native = source.iter().all(|a| native(kind, a.data_type()));
        // Read through text: the column cast to strings (each cell as Arrow formats it).
        let text: Vec<ArrayRef> = if is_native {
            Vec::new()
        } else {
            source
                .iter()
                .map(|a| match a.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(a.clone()),
                    _ => arrow_cast::cast(a, &DataType::Utf8),
                })
                .collect::<Result<_, _>>()
                .map_err(err)?
        };
        let len: usize = source.iter().map(|a| a.len()).sum();
        let typed = match kind {
            Kind::Text => Typed::Text(if is_native {
                source.clone()
            } else {
                text.clone()
            }),
            Kind::Float if is_native => {
                let mut out = Vec::with_capacity(len);
                for a in &source {
                    let f = arrow_cast::cast(a, &DataType::Float64).map_err(err)?;
                    out.extend(f.as_primitive::<Float64Type>().iter());
                }
                Typed::Float(out)
            }
            Kind::Int if is_native => {
                let mut out = Vec::with_capacity(len);
                for a in &source {
                    if a.data_type().is_floating() {
                        let f = arrow_cast::cast(a, &DataType::Float64).map_err(err)?;
                        out.extend(
                            f.as_primitive::<Float64Type>()
                                .iter()
                                .map(|v| v.and_then(whole)),
                        );
                    } else {
                        // Unsigned values beyond i64 become missing, then a row error quoting them.
                        let options = arrow_cast::CastOptions {
                            safe: true,
                            ..Default::default()
                        };
                        let i = arrow_cast::cast_with_options(a, &DataType::Int64, &options)
                            .map_err(err)?;
                        out.extend(i.as_primitive::<Int64Type>().iter());
                    }
                }
                Typed::Int(out)
            }
            Kind::Date if is_native => {
                let mut out = Vec::with_capacity(len);
                for a in &source {
                    dates(a, &mut out);
                }
                Typed::Date(out)
            }
            Kind::Float => Typed::Float(parsed(&text, nulls, |s| s.parse().ok())),
            Kind::Int => Typed::Int(parsed(&text, nulls, |s| {
                s.parse::<f64>().ok().and_then(whole)
            })),
            Kind::Date => Typed::Date(parsed(&text, nulls, parse_date)),
        };
        Ok(Column {
            source: if is_native { source } else { text },
            starts,
            typed,
            through_text: !is_native,
        })
    }

    /// The array and offset of row `i`.
    fn locate(&self, i: usize) -> Option<(&ArrayRef, usize)> {
        let k = self.starts.partition_point(|&s| s <= i).checked_sub(1)?;
        let a = self.source.get(k)?;
        let offset = i - self.starts[k];
        (offset < a.len()).then_some((a, offset))
    }
}

/// Dates of a native date or timestamp array; a timestamp with a time of day is not a date.
fn dates(a: &ArrayRef, out: &mut Vec<Option<NaiveDate>>) {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let from_days = |d: i64| epoch.checked_add_signed(chrono::Duration::days(d));
    match a.data_type() {
        DataType::Date32 => out.extend(
            a.as_primitive::<Date32Type>()
                .iter()
                .map(|d| d.and_then(|d| from_days(d.into()))),
        ),
        DataType::Date64 => out.extend(a.as_primitive::<Date64Type>().iter().map(|ms| {
            ms.filter(|ms| ms.rem_euclid(86_400_000) == 0)
                .and_then(|ms| from_days(ms.div_euclid(86_400_000)))
        })),
        DataType::Timestamp(unit, _) => {
            let per_day: i64 = match unit {
                TimeUnit::Second => 86_400,
                TimeUnit::Millisecond => 86_400_000,
                TimeUnit::Microsecond => 86_400_000_000,
                TimeUnit::Nanosecond => 86_400_000_000_000,
            };
            let values = arrow_cast::cast(a, &DataType::Int64).ok();
            match values {
                Some(v) => out.extend(v.as_primitive::<Int64Type>().iter().map(|t| {
                    t.filter(|t| t.rem_euclid(per_day) == 0)
                        .and_then(|t| from_days(t.div_euclid(per_day)))
                })),
                None => out.extend(std::iter::repeat_n(None, a.len())),
            }
        }
        _ => out.extend(std::iter::repeat_n(None, a.len())),
    }
}

impl Columns for ArrowColumns {
    fn file(&self) -> &str {
        &self.file
    }

    fn len(&self) -> usize {
        self.len
    }

    fn row(&self, i: usize) -> u64 {
        i as u64 + 1
    }

    fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    fn has(&self, name: &str) -> bool {
        self.columns.contains_key(name)
    }

    fn texts(&self, name: &str) -> Result<Vec<Option<&str>>, TableError> {
        let Typed::Text(arrays) = &self.column(name)?.typed else {
            return Err(self.kind_error(name, Kind::Text));
        };
        // Null tokens are missing in text columns too, as `payrisk-train` reads them.
        let mut out = Vec::with_capacity(self.len);
        for a in arrays {
            out.extend(strings(a.as_ref()).map(|s| cell(s, &self.nulls)));
        }
        Ok(out)
    }

    fn floats(&self, name: &str) -> Result<Cow<'_, [Option<f64>]>, TableError> {
        match &self.column(name)?.typed {
            Typed::Float(v) => Ok(Cow::Borrowed(v)),
            _ => Err(self.kind_error(name, Kind::Float)),
        }
    }

    fn ints(&self, name: &str) -> Result<Cow<'_, [Option<i64>]>, TableError> {
        match &self.column(name)?.typed {
            Typed::Int(v) => Ok(Cow::Borrowed(v)),
            _ => Err(self.kind_error(name, Kind::Int)),
        }
    }

    fn dates(&self, name: &str) -> Result<Cow<'_, [Option<NaiveDate>]>, TableError> {
        match &self.column(name)?.typed {
            Typed::Date(v) => Ok(Cow::Borrowed(v)),
            _ => Err(self.kind_error(name, Kind::Date)),
        }
    }

    fn raw(&self, name: &str, i: usize) -> Option<String> {
        let column = self.columns.get(name)?;
        let (array, offset) = column.locate(i)?;
        if array.is_null(offset) {
            return None;
        }
        let text = if column.through_text {
            cell(string_at(array.as_ref(), offset), &self.nulls)?.to_owned()
        } else {
            // A native cell that is present but was not read (a fraction in a whole number, a
            // time of day in a date): as Arrow formats it.
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(array.as_ref(), &options).ok()?;
            formatter.value(offset).to_string()
        };
        (!text.is_empty()).then_some(text)
    }
}

impl ArrowColumns {
    fn kind_error(&self, name: &str, kind: Kind) -> TableError {
        TableError::Read {
            context: format!("reading {}", self.file),
            source: format!("column `{name}` was not read as {}", kind.describe()).into(),
        }
    }
}
