//! A portfolio's worklist: every account through the one decision path
//! ([`Deployment::decide_many`]: the server's feature engine, model, policy and experiment arms),
//! ranked in the collectors' order. `payrisk-train score` writes it; the Python package returns
//! it as a table.
//!
//! In a shadow experiment the challenger also scores the accounts of its share, without acting
//! on them: their entries carry the challenger's probability, treatment and action beside the
//! champion's decision, as `Score` reports them in `ScoreResponse.shadow`.
//!
//! The accounts are decided in chunks of [`CHUNK`] taken in turn by [`Ranking::threads`]
//! threads; entries keep the accounts' order until the one sort at the end, so the worklist does
//! not depend on the number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::audit::{self, CallContext};
use super::decisions::ScoredAccount;
use super::deployment::Deployment;
use crate::domain::Account;

/// Accounts decided together per task.
pub const CHUNK: usize = 4096;

/// One chunk's entries and audit lines.
type Decided = (Vec<Entry>, Vec<u8>);

/// How to rank a portfolio.
#[derive(Debug, Clone, Copy)]
pub struct Ranking<'a> {
    /// Reason codes per entry (0: none, and the batch path).
    pub reasons: usize,
    /// Threads deciding accounts (at least one).
    pub threads: usize,
    /// With a call context, every decision's audit record (the server's format, one JSON line
    /// each, `index` the account's position), so an offline run feeds the outcomes loop as the
    /// server's audit log does.
    pub call: Option<&'a CallContext>,
}

impl Default for Ranking<'_> {
    /// No reasons, one thread per core, no audit records.
    fn default() -> Self {
        Ranking {
            reasons: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            call: None,
        }
    }
}

/// One account's decision on the worklist.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// 1 = work first.
    pub rank: u64,
    /// The account.
    pub account_id: String,
    /// `champion`, `challenger` or `control`.
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
    /// Reason codes, strongest first (as many as [`Ranking::reasons`] asked for).
    pub reasons: Vec<EntryReason>,
}

/// One reason code of an entry, as a reply carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryReason {
    /// The reason's code (`delinquency`, `payments`, ...).
    pub code: String,
    /// Its contribution to the log-odds of repayment.
    pub contribution: f64,
    /// The value of its primary input (NaN when missing).
    pub value: f64,
    /// Its text.
    pub text: String,
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

/// Scores every account at `now` through the deployment's decision path and ranks them in the
/// collectors' order (rank 1 first).
pub fn rank(deployment: &Deployment, accounts: &[Account], now: DateTime<Utc>) -> Vec<Entry> {
    rank_with(deployment, accounts, now, &Ranking::default()).0
}

/// As [`rank`], as `how` asks: reasons, threads, and audit records (returned beside the
/// entries, in the accounts' order).
pub fn rank_with(
    deployment: &Deployment,
    accounts: &[Account],
    now: DateTime<Utc>,
    how: &Ranking<'_>,
) -> (Vec<Entry>, Vec<u8>) {
    let chunks = accounts.len().div_ceil(CHUNK);
    let done: Mutex<Vec<Option<Decided>>> = Mutex::new(vec![None; chunks]);
    let next = AtomicUsize::new(0);
    let work = || loop {
        let c = next.fetch_add(1, Ordering::Relaxed);
        if c >= chunks {
            break;
        }
        let chunk = &accounts[c * CHUNK..accounts.len().min((c + 1) * CHUNK)];
        let refs: Vec<&Account> = chunk.iter().collect();
        let mut entries = Vec::with_capacity(chunk.len());
        let mut lines = Vec::new();
        deployment.decide_many(&refs, how.reasons, now, |i, d| {
            let id = chunk[i].account_id.as_str();
            if let Some(call) = how.call {
                let index = (c * CHUNK + i) as u32;
                audit::format(call, None, [(index, id, &d)], &mut lines);
            }
            entries.push(entry(id, &d));
        });
        if let Ok(mut done) = done.lock() {
            done[c] = Some((entries, lines));
        }
    };
    let threads = how.threads.clamp(1, chunks.max(1));
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    let mut lines = Vec::new();
    let mut entries = Vec::with_capacity(accounts.len());
    let done = done
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (e, l) in done.into_iter().flatten() {
        entries.extend(e);
        lines.extend(l);
    }
    entries.sort_unstable_by(collectors_order);
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
pub fn natural(a: &str, b: &str) -> std::cmp::Ordering {
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
        reasons: decided
            .reasons
            .iter()
            .map(|r| EntryReason {
                code: decided.engine.reason_code(r).to_owned(),
                contribution: r.contribution,
                value: r.value,
                text: decided.engine.reason_text(r),
            })
            .collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An entry with plain values, for tests of what is done with entries.
    pub(crate) fn entry(account_id: &str) -> Entry {
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
            reasons: Vec::new(),
        }
    }

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
}
