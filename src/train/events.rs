//! What happened after each decision: the events table, joined to the decisions table by
//! decision id.
//!
//! The table (CSV or Parquet), one row per event: `decision_id, date (YYYY-MM-DD), event,
//! amount?, stage?`. Events:
//! - `payment`: money received; `amount` > 0 required.
//! - `cured`: the account returned to current; `rolled`: it moved to a later aging bucket
//!   (`stage` names it, as the policy's ladder does); `settled`; `charged_off`.
//! - `promise_kept`, `promise_broken`.
//! - `cost`: what the action taken cost; `amount` ≥ 0 required.
//!
//! Rules, in order, each failure a row error with file, row and column:
//! 1. `decision_id` must name a decision of the decisions table.
//! 2. `date` must not be before the decision's date (its decision time, UTC).
//! 3. `event` must be one of the above; `amount` as each event requires (finite, and > 0 for a
//!    payment, ≥ 0 for a cost; absent for the others).
//! 4. A row repeating an earlier one (same decision, date, event and amount) is a duplicate
//!    (the later rows are refused).
//! 5. Strict by default; lenient keeps the good rows and returns the refused ones.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;

use super::decisions::DecisionIndex;
use super::tables::{slices, Errors, Kind, ReadOptions, Table};
use super::{RowError, TrainError};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    /// Money received.
    Payment,
    /// Back to current.
    Cured,
    /// Moved to a later aging bucket.
    Rolled,
    /// Settled.
    Settled,
    /// Charged off.
    ChargedOff,
    /// A promise to pay kept.
    PromiseKept,
    /// A promise to pay broken.
    PromiseBroken,
    /// The cost of the action taken.
    Cost,
}

impl EventKind {
    const ALL: [(&'static str, EventKind); 8] = [
        ("payment", EventKind::Payment),
        ("cured", EventKind::Cured),
        ("rolled", EventKind::Rolled),
        ("settled", EventKind::Settled),
        ("charged_off", EventKind::ChargedOff),
        ("promise_kept", EventKind::PromiseKept),
        ("promise_broken", EventKind::PromiseBroken),
        ("cost", EventKind::Cost),
    ];

    fn parse(text: &str) -> Option<EventKind> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, k)| *k)
    }
}

/// One event, joined to its decision: 24 bytes, so that tens of millions fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Index of its decision in the [`DecisionIndex`] given.
    pub decision: u32,
    /// When.
    pub date: NaiveDate,
    /// What.
    pub kind: EventKind,
    /// How much (payments and costs; NaN for the other events).
    pub amount: f64,
    /// The bucket rolled to (`rolled`): an index into [`Events::stages`].
    pub stage: Option<u16>,
}

/// The events read, and the rows refused (lenient reads only), with how many decisions have
/// any event.
#[derive(Debug)]
pub struct Events {
    /// Events in table order.
    pub events: Vec<Event>,
    /// The buckets named by `rolled` events.
    pub stages: Vec<String>,
    /// Refused rows.
    pub rejects: Vec<RowError>,
    /// Decisions with at least one event.
    pub decisions_with_events: usize,
}

/// Reads the events table at `path` against `decisions` (rules 1-5). A Parquet table is read
/// a slice of rows at a time, and duplicates are found by sorting, so tens of millions of
/// events are read in well under a gigabyte beside the events kept (24 bytes each).
pub fn read(
    path: &Path,
    decisions: &DecisionIndex,
    options: &ReadOptions,
    lenient: bool,
) -> Result<Events, TrainError> {
    let mut state = State::default();
    let slices = slices(path)?;
    // Sized once: at tens of millions of events a doubling's slack is gigabytes.
    let total = slices
        .iter()
        .map(|s| s.map_or(0, |r| r.1) as usize)
        .sum::<usize>();
    state.events.reserve_exact(total);
    state.rows.reserve_exact(total);
    for rows in slices {
        read_slice(path, rows, decisions, options, &mut state)?;
    }
    let State {
        mut events,
        rows,
        stages,
        mut errors,
        file,
        ..
    } = state;
    // Rule 4: equal rows sort next to each other; each after the first is a duplicate.
    let key = |e: &Event| (e.decision, e.date, e.kind as u8, e.amount.to_bits());
    let mut order: Vec<u32> = (0..events.len() as u32).collect();
    order.sort_unstable_by_key(|&k| (key(&events[k as usize]), rows[k as usize]));
    let mut duplicate = vec![false; events.len()];
    for pair in order.windows(2) {
        let (first, next) = (pair[0] as usize, pair[1] as usize);
        if key(&events[first]) == key(&events[next]) {
            duplicate[next] = true;
        }
    }
    drop(order);
    for (k, _) in duplicate.iter().enumerate().filter(|(_, d)| **d) {
        errors.push(RowError::new(
            &file,
            u64::from(rows[k]),
            "decision_id",
            "repeats an earlier row (same decision, date, event and amount)",
        ));
    }
    let mut k = 0;
    events.retain(|_| {
        k += 1;
        !duplicate[k - 1]
    });
    errors.0.sort_by_key(|e| e.row);
    if !errors.0.is_empty() && !lenient {
        return Err(TrainError::data(errors.0));
    }
    let mut with_events = vec![false; decisions.len()];
    for e in &events {
        with_events[e.decision as usize] = true;
    }
    Ok(Events {
        events,
        stages,
        rejects: errors.0,
        decisions_with_events: with_events.iter().filter(|&&w| w).count(),
    })
}

/// What reading the slices of a table has gathered.
#[derive(Default)]
struct State {
    events: Vec<Event>,
    /// Each event's row in the file (a table of over 4,294,967,295 rows is refused).
    rows: Vec<u32>,
    stages: Vec<String>,
    stage_codes: HashMap<String, u16>,
    errors: Errors,
    file: String,
}

/// Rules 1-3 on the rows `rows` of the table at `path`.
fn read_slice(
    path: &Path,
    rows: Option<(u64, u64)>,
    decisions: &DecisionIndex,
    options: &ReadOptions,
    state: &mut State,
) -> Result<(), TrainError> {
    use Kind::*;
    let t = Table::read_rows(
        path,
        &[("decision_id", Text), ("date", Date), ("event", Text)],
        &[("amount", Float), ("stage", Text)],
        |_| None,
        options,
        rows,
    )?;
    state.file.clone_from(&t.file);
    // The columns are walked, not copied.
    let ids = t.column("decision_id")?.str().map_err(t.polars())?;
    let dates = t.column("date")?.i32().map_err(t.polars())?;
    let kinds = t.column("event")?.str().map_err(t.polars())?;
    let amounts = match t.df.column("amount") {
        Ok(c) => Some(c.f64().map_err(t.polars())?),
        Err(_) => None,
    };
    let stage_texts = match t.df.column("stage") {
        Ok(c) => Some(c.str().map_err(t.polars())?),
        Err(_) => None,
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let errors = &mut state.errors;
    let rows = ids
        .iter()
        .zip(dates.iter())
        .zip(kinds.iter())
        .zip(
            amounts
                .into_iter()
                .flat_map(|a| a.iter().map(Some))
                .chain(std::iter::repeat(None)),
        )
        .zip(
            stage_texts
                .into_iter()
                .flat_map(|s| s.iter())
                .chain(std::iter::repeat(None)),
        );
    fn text(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    for (i, ((((id, date), kind), amount), stage)) in rows.enumerate() {
        let (id, kind, stage) = (text(id), text(kind), text(stage));
        let date = date.and_then(|d| epoch.checked_add_signed(chrono::Duration::days(d.into())));
        let amount = amount.flatten();
        let row = t.rows[i];
        let refuse = |column: &str, message: String| RowError::new(&t.file, row, column, message);
        let before = errors.0.len();
        let id = errors.need(&t, "decision_id", Text, i, id);
        let date = errors.need(&t, "date", Date, i, date);
        let kind = errors.need(&t, "event", Text, i, kind);
        let decision = id.and_then(|id| match decisions.find(id) {
            Some(d) => Some(d),
            None => {
                errors.push(refuse(
                    "decision_id",
                    format!("decision `{id}` is not in the decisions table"),
                ));
                None
            }
        });
        let kind = kind.and_then(|k| match EventKind::parse(k) {
            Some(kind) => Some(kind),
            None => {
                let known: Vec<&str> = EventKind::ALL.iter().map(|(n, _)| *n).collect();
                errors.push(refuse(
                    "event",
                    format!("unknown event `{k}`; events are {}", known.join(", ")),
                ));
                None
            }
        });
        let amount = errors.optional(&t, "amount", Float, i, amount);
        if let (Some(d), Some(date)) = (decision, date) {
            let decided = decisions.date(d);
            if date < decided {
                errors.push(refuse(
                    "date",
                    format!("{date} is before its decision, made on {decided}"),
                ));
            }
        }
        if let Some(kind) = kind {
            let wrong = match (kind, amount) {
                (EventKind::Payment, Some(a)) if !(a.is_finite() && a > 0.0) => {
                    Some("a payment's amount must be more than 0")
                }
                (EventKind::Cost, Some(a)) if !(a.is_finite() && a >= 0.0) => {
                    Some("a cost must be 0 or more")
                }
                (EventKind::Payment | EventKind::Cost, None) => Some("the amount is required"),
                (EventKind::Payment | EventKind::Cost, Some(_)) => None,
                (_, Some(_)) => Some("only payments and costs have an amount"),
                (_, None) => None,
            };
            if let Some(message) = wrong {
                errors.push(refuse("amount", message.into()));
            }
        }
        if errors.0.len() > before {
            continue;
        }
        let (Some(decision), Some(date), Some(kind)) = (decision, date, kind) else {
            continue;
        };
        let stage = match stage.map(|s| (s, state.stage_codes.get(s).copied())) {
            None => None,
            Some((_, Some(code))) => Some(code),
            Some((s, None)) if state.stages.len() < usize::from(u16::MAX) => {
                let code = state.stages.len() as u16;
                state.stage_codes.insert(s.to_owned(), code);
                state.stages.push(s.to_owned());
                Some(code)
            }
            Some(_) => {
                errors.push(refuse(
                    "stage",
                    "more distinct buckets than any ladder has (65,535)".into(),
                ));
                continue;
            }
        };
        state.events.push(Event {
            decision,
            date,
            kind,
            amount: amount.unwrap_or(f64::NAN),
            stage,
        });
        let Ok(row) = u32::try_from(row) else {
            errors.push(refuse(
                "decision_id",
                "the events table is longer than 4,294,967,295 rows".into(),
            ));
            break;
        };
        state.rows.push(row);
    }
    Ok(())
}
