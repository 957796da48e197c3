//! What the module hands back: the worklist as an Arrow record batch (the columns and names of
//! `payrisk-train score`'s worklist, plus the reasons when asked), an evaluation and an
//! explanation as JSON.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder};
use arrow_array::{
    ArrayRef, Float64Array, ListArray, RecordBatch, StringArray, StructArray, UInt64Array,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{ArrowError, DataType, Field, Fields};
use chrono::{DateTime, Utc};
use payrisk::domain::Account;
use payrisk::evaluation;
use payrisk::model::Model;
use payrisk::serve::worklist::{self, Entry, Ranking};
use payrisk::serve::Deployment;
use payrisk::tables::TrainingSet;

fn text(entries: &[Entry], f: impl Fn(&Entry) -> &str) -> ArrayRef {
    Arc::new(entries.iter().map(|e| Some(f(e))).collect::<StringArray>())
}

fn number(entries: &[Entry], f: impl Fn(&Entry) -> f64) -> ArrayRef {
    Arc::new(entries.iter().map(|e| Some(f(e))).collect::<Float64Array>())
}

/// The worklist in its order: rank, account and decision columns, the shadow columns (null
/// outside a shadow experiment's challenger share), and with `reasons` a list of
/// `{code, contribution, value, text}` per account (value null when the input is missing).
pub fn worklist(entries: &[Entry], reasons: bool) -> Result<RecordBatch, ArrowError> {
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        (
            "rank",
            Arc::new(entries.iter().map(|e| e.rank).collect::<UInt64Array>()),
        ),
        ("account_id", text(entries, |e| &e.account_id)),
        ("arm", text(entries, |e| e.arm)),
        ("repayment_probability", number(entries, |e| e.probability)),
        ("score", number(entries, |e| e.score)),
        ("risk_band", text(entries, |e| &e.band)),
        ("treatment", text(entries, |e| e.treatment)),
        ("action", text(entries, |e| &e.action)),
        ("channel", text(entries, |e| &e.channel)),
        ("stage", text(entries, |e| &e.stage)),
        ("rationale", text(entries, |e| e.rationale)),
        ("priority", number(entries, |e| e.priority)),
        ("contact_guard", text(entries, |e| &e.guard)),
        ("guard_rule", text(entries, |e| e.guard_rule)),
        (
            "next_permitted_time",
            text(entries, |e| &e.next_permitted_time),
        ),
        ("model_version", text(entries, |e| &e.model_version)),
    ];
    let shadow = |f: &dyn Fn(&worklist::ShadowEntry) -> Option<&str>| -> ArrayRef {
        Arc::new(
            entries
                .iter()
                .map(|e| e.shadow.as_ref().and_then(f))
                .collect::<StringArray>(),
        )
    };
    columns.push((
        "shadow_probability",
        Arc::new(
            entries
                .iter()
                .map(|e| e.shadow.as_ref().map(|s| s.probability))
                .collect::<Float64Array>(),
        ),
    ));
    columns.push(("shadow_treatment", shadow(&|s| Some(s.treatment))));
    columns.push(("shadow_action", shadow(&|s| Some(s.action.as_str()))));
    columns.push((
        "shadow_model_version",
        shadow(&|s| Some(s.model_version.as_str())),
    ));
    if reasons {
        columns.push(("reasons", reason_lists(entries)?));
    }
    RecordBatch::try_from_iter(columns)
}

fn reason_lists(entries: &[Entry]) -> Result<ArrayRef, ArrowError> {
    let n: usize = entries.iter().map(|e| e.reasons.len()).sum();
    let (mut code, mut contribution, mut value, mut say) = (
        StringBuilder::with_capacity(n, n * 12),
        Float64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
        StringBuilder::with_capacity(n, n * 80),
    );
    for r in entries.iter().flat_map(|e| &e.reasons) {
        code.append_value(&r.code);
        contribution.append_value(r.contribution);
        value.append_option((!r.value.is_nan()).then_some(r.value));
        say.append_value(&r.text);
    }
    let fields = Fields::from(vec![
        Field::new("code", DataType::Utf8, false),
        Field::new("contribution", DataType::Float64, false),
        Field::new("value", DataType::Float64, true),
        Field::new("text", DataType::Utf8, false),
    ]);
    let items = StructArray::try_new(
        fields.clone(),
        vec![
            Arc::new(code.finish()),
            Arc::new(contribution.finish()),
            Arc::new(value.finish()),
            Arc::new(say.finish()),
        ],
        None,
    )?;
    let offsets = OffsetBuffer::from_lengths(entries.iter().map(|e| e.reasons.len()));
    let item = Arc::new(Field::new("item", DataType::Struct(fields), false));
    Ok(Arc::new(ListArray::try_new(
        item,
        offsets,
        Arc::new(items),
        None,
    )?))
}

/// The metrics `payrisk-train evaluate` reports (AUC, Gini, KS, Brier, log loss, ECE) and the
/// decile table of `model` on every labelled account of `set`, as JSON.
pub fn evaluation(model: &Model, set: &TrainingSet) -> Result<String, String> {
    let spec = model.spec();
    let mut row = vec![0.0; spec.len()];
    let mut labels = Vec::with_capacity(set.rows.len());
    let mut scores = Vec::with_capacity(set.rows.len());
    for labeled in &set.rows {
        spec.derive(&labeled.account, &mut row);
        scores.push(model.probability(&row));
        labels.push(labeled.repaid);
    }
    let metrics = evaluation::evaluate(&labels, &scores).map_err(|e| e.to_string())?;
    let deciles = evaluation::deciles(&labels, &scores).map_err(|e| e.to_string())?;
    let a = model.artifact();
    serde_json::to_string(&serde_json::json!({
        "model": {"name": a.name, "version": a.version, "kind": a.model.kind()},
        "metrics": metrics,
        "deciles": deciles,
    }))
    .map_err(|e| e.to_string())
}

/// One account's decision at `now` with every reason code, and the model's inputs, as JSON.
pub fn explanation(deployment: &Deployment, account: &Account, now: DateTime<Utc>) -> String {
    let engine = deployment.champion();
    let spec = engine.model().spec();
    let how = Ranking {
        reasons: spec.reasons().len(),
        threads: 1,
        call: None,
    };
    let (entries, _) = worklist::rank_with(deployment, std::slice::from_ref(account), now, &how);
    let mut inputs = vec![0.0; spec.len()];
    spec.derive(account, &mut inputs);
    let finite = |v: f64| (!v.is_nan()).then_some(v);
    let inputs: serde_json::Map<String, serde_json::Value> = spec
        .names()
        .into_iter()
        .zip(inputs)
        .map(|(name, v)| (name, serde_json::json!(finite(v))))
        .collect();
    let e = &entries[0];
    serde_json::json!({
        "account_id": e.account_id,
        "arm": e.arm,
        "repayment_probability": e.probability,
        "score": e.score,
        "risk_band": e.band,
        "treatment": e.treatment,
        "action": e.action,
        "channel": e.channel,
        "stage": e.stage,
        "rationale": e.rationale,
        "priority": e.priority,
        "contact_guard": e.guard,
        "guard_rule": e.guard_rule,
        "next_permitted_time": e.next_permitted_time,
        "model_version": e.model_version,
        "reasons": e.reasons.iter().map(|r| serde_json::json!({
            "code": r.code,
            "contribution": r.contribution,
            "value": finite(r.value),
            "text": r.text,
        })).collect::<Vec<_>>(),
        "inputs": inputs,
    })
    .to_string()
}
