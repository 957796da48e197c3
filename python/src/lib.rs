//! `payrisk._payrisk`: payrisk's engine in-process from Python, the native half of the `payrisk`
//! package (its Python half, `python/payrisk/`, takes pandas, Polars or Arrow and gives the
//! same kind back).
//!
//! One [`Scorer`] is one deployment, loaded and validated as the server loads it
//! ([`Deployment::load`]): the same model artifact, policy, feature engine, decision path and
//! experiment arms. Tables arrive as Arrow streams, imported without a copy; they become
//! accounts through the shared tables code ([`payrisk::tables`]) with its row errors; the
//! worklist is [`payrisk::serve::worklist`], decided on threads. The GIL is released from the
//! moment the batches are imported until the result is built.
//!
//! - `columns`: Arrow batches as the shared tables' columns.
//! - `output`: the worklist as an Arrow record batch.

mod columns;
mod output;

use std::path::PathBuf;

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_pyarrow::{FromPyArrow, PyArrowType};
use arrow_schema::SchemaRef;
use chrono::{DateTime, Utc};
use payrisk::domain::Account;
use payrisk::serve::drift::DriftSettings;
use payrisk::serve::worklist::{self, Ranking};
use payrisk::serve::Deployment;
use payrisk::tables::{self, ReadOptions, Schema, TableError};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use columns::ArrowColumns;

pyo3::create_exception!(
    _payrisk,
    DataError,
    PyValueError,
    "Input rows broke the tables' schema or rules: `errors` lists the first (file, row, column, account_id, message), `total` counts them all."
);
pyo3::create_exception!(
    _payrisk,
    LoadError,
    PyValueError,
    "A model artifact or policy could not be loaded, or they cannot serve together."
);

/// A model and a policy, loaded and checked as payrisk-server loads them.
#[pyclass(frozen, module = "payrisk._payrisk")]
struct Scorer {
    deployment: Deployment,
}

/// How the tables of one call are read.
#[derive(Clone)]
struct Reading {
    options: ReadOptions,
    names: [String; 3],
}

impl Reading {
    fn new(ignore_unknown_columns: bool, null_values: Vec<String>, names: [String; 3]) -> Self {
        Reading {
            options: ReadOptions {
                ignore_unknown_columns,
                null_values,
                ..ReadOptions::default()
            },
            names,
        }
    }

    fn table(
        &self,
        which: usize,
        stream: &Stream,
        schema: &Schema,
    ) -> Result<ArrowColumns, TableError> {
        ArrowColumns::read(
            &self.names[which],
            &stream.0,
            &stream.1,
            schema,
            &self.options,
        )
    }

    fn portfolio(&self, accounts: &Stream, history: &Stream) -> Result<Vec<Account>, TableError> {
        let a = self.table(0, accounts, &tables::ACCOUNTS)?;
        let h = self.table(1, history, &tables::HISTORY)?;
        tables::portfolio(&a, &h, &self.options.protected).map(|(accounts, _)| accounts)
    }
}

/// An Arrow stream's schema and every batch (anything with `__arrow_c_stream__`: pyarrow tables
/// and readers, Polars and pandas frames), imported without copying. The schema comes from the
/// stream, so a table without rows (and without batches) still has its columns.
type Stream = (SchemaRef, Vec<RecordBatch>);

fn batches(stream: &Bound<'_, PyAny>, what: &str) -> PyResult<Stream> {
    let reader = RecordBatchStreamReader::from_pyarrow_bound(stream)
        .map_err(|e| PyValueError::new_err(format!("{what}: not an Arrow table or stream: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))?;
    Ok((schema, batches))
}

fn decision_time(now: Option<&str>) -> PyResult<DateTime<Utc>> {
    match now {
        None => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                PyValueError::new_err(format!("now: `{text}` is not an RFC 3339 time: {e}"))
            }),
    }
}

fn table_error(py: Python<'_>, e: TableError) -> PyErr {
    let message = e.to_string();
    match e {
        TableError::Data { errors, total } => {
            let list = PyList::empty(py);
            for r in &errors {
                let d = PyDict::new(py);
                let set = || -> PyResult<()> {
                    d.set_item("file", &r.file)?;
                    d.set_item("row", r.row)?;
                    d.set_item("column", &r.column)?;
                    d.set_item("account_id", r.account_id.as_deref())?;
                    d.set_item("message", &r.message)?;
                    list.append(&d)
                };
                if let Err(e) = set() {
                    return e;
                }
            }
            let err = DataError::new_err(message);
            let value = err.value(py);
            if let Err(e) = value
                .setattr("errors", list)
                .and_then(|_| value.setattr("total", total))
            {
                return e;
            }
            err
        }
        TableError::Read { .. } => DataError::new_err(message),
    }
}

#[pymethods]
impl Scorer {
    /// Loads `model` (a model artifact, `model.json`) and `policy` (`policy.toml`) with the
    /// server's validation; raises `LoadError` with its message.
    #[new]
    fn new(py: Python<'_>, model: PathBuf, policy: PathBuf) -> PyResult<Self> {
        let deployment = py
            .detach(|| Deployment::load(&model, &policy))
            .map_err(|e| LoadError::new_err(e.to_string()))?;
        Ok(Scorer {
            deployment: deployment.with_drift(DriftSettings::OFF),
        })
    }

    /// The worklist of a portfolio as an Arrow record batch (see the Python `Scorer.score`).
    #[pyo3(signature = (accounts, history, *, now=None, reasons=0, threads=None, ignore_unknown_columns=false, null_values=Vec::new(), names=None))]
    #[allow(clippy::too_many_arguments)]
    fn score(
        &self,
        py: Python<'_>,
        accounts: &Bound<'_, PyAny>,
        history: &Bound<'_, PyAny>,
        now: Option<&str>,
        reasons: usize,
        threads: Option<usize>,
        ignore_unknown_columns: bool,
        null_values: Vec<String>,
        names: Option<(String, String)>,
    ) -> PyResult<PyArrowType<RecordBatch>> {
        let now = decision_time(now)?;
        let (a, h) = names.unwrap_or_else(|| ("accounts".into(), "history".into()));
        let reading = Reading::new(ignore_unknown_columns, null_values, [a, h, String::new()]);
        let accounts = batches(accounts, "accounts")?;
        let history = batches(history, "history")?;
        let deployment = &self.deployment;
        let result = py.detach(|| {
            let portfolio = reading.portfolio(&accounts, &history)?;
            drop((accounts, history));
            let how = Ranking {
                reasons,
                threads: threads.unwrap_or_else(|| Ranking::default().threads),
                call: None,
            };
            let (entries, _) = worklist::rank_with(deployment, &portfolio, now, &how);
            Ok(output::worklist(&entries, reasons > 0))
        });
        match result {
            Ok(batch) => Ok(PyArrowType(
                batch.map_err(|e| PyValueError::new_err(e.to_string()))?,
            )),
            Err(e) => Err(table_error(py, e)),
        }
    }

    /// Metrics of the champion model against outcomes, as JSON (see the Python
    /// `Scorer.evaluate`).
    #[pyo3(signature = (accounts, history, outcomes, *, ignore_unknown_columns=false, null_values=Vec::new(), names=None))]
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        py: Python<'_>,
        accounts: &Bound<'_, PyAny>,
        history: &Bound<'_, PyAny>,
        outcomes: &Bound<'_, PyAny>,
        ignore_unknown_columns: bool,
        null_values: Vec<String>,
        names: Option<(String, String, String)>,
    ) -> PyResult<String> {
        let (a, h, o) =
            names.unwrap_or_else(|| ("accounts".into(), "history".into(), "outcomes".into()));
        let reading = Reading::new(ignore_unknown_columns, null_values, [a, h, o]);
        let accounts = batches(accounts, "accounts")?;
        let history = batches(history, "history")?;
        let outcomes = batches(outcomes, "outcomes")?;
        let model = self.deployment.champion().model();
        let result = py.detach(|| {
            let a = reading.table(0, &accounts, &tables::ACCOUNTS)?;
            let h = reading.table(1, &history, &tables::HISTORY)?;
            let o = reading.table(2, &outcomes, &tables::OUTCOMES)?;
            let loaded = tables::labeled(&a, &h, &o, &reading.options.protected, false)?;
            Ok::<_, TableError>(output::evaluation(model, &loaded.set))
        });
        match result {
            Ok(json) => json.map_err(PyValueError::new_err),
            Err(e) => Err(table_error(py, e)),
        }
    }

    /// One account's decision with every reason code and the model's inputs, as JSON (see the
    /// Python `Scorer.explain`).
    #[pyo3(signature = (accounts, history, account_id, *, now=None, ignore_unknown_columns=false, null_values=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn explain(
        &self,
        py: Python<'_>,
        accounts: &Bound<'_, PyAny>,
        history: &Bound<'_, PyAny>,
        account_id: &str,
        now: Option<&str>,
        ignore_unknown_columns: bool,
        null_values: Vec<String>,
    ) -> PyResult<String> {
        let now = decision_time(now)?;
        let reading = Reading::new(
            ignore_unknown_columns,
            null_values,
            ["accounts".into(), "history".into(), String::new()],
        );
        let accounts = batches(accounts, "accounts")?;
        let history = batches(history, "history")?;
        let deployment = &self.deployment;
        let result = py.detach(|| {
            let portfolio = reading.portfolio(&accounts, &history)?;
            Ok::<_, TableError>(
                portfolio
                    .iter()
                    .find(|a| a.account_id == account_id)
                    .map(|a| output::explanation(deployment, a, now)),
            )
        });
        match result {
            Ok(Some(json)) => Ok(json),
            Ok(None) => Err(PyValueError::new_err(format!(
                "account `{}` is not in the accounts table",
                payrisk::domain::printable(account_id)
            ))),
            Err(e) => Err(table_error(py, e)),
        }
    }

    /// The champion model's name.
    #[getter]
    fn model_name(&self) -> String {
        self.deployment.champion().model().artifact().name.clone()
    }

    /// The champion model's version.
    #[getter]
    fn model_version(&self) -> String {
        self.deployment
            .champion()
            .model()
            .artifact()
            .version
            .clone()
    }

    /// The champion model's kind (`gbdt`, `logistic`, `scorecard`, `uplift`).
    #[getter]
    fn model_kind(&self) -> &'static str {
        self.deployment.champion().model().artifact().model.kind()
    }

    /// The champion policy's version.
    #[getter]
    fn policy_version(&self) -> String {
        self.deployment.champion().policy().version.clone()
    }

    /// The model's inputs, in its order.
    #[getter]
    fn features(&self) -> Vec<String> {
        self.deployment.champion().model().spec().names()
    }
}

/// The native module.
#[pymodule]
fn _payrisk(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scorer>()?;
    m.add("DataError", m.py().get_type::<DataError>())?;
    m.add("LoadError", m.py().get_type::<LoadError>())?;
    Ok(())
}
