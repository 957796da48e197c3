//! Conversion between the gRPC messages and the domain, with field-level validation.
//!
//! Every rule the domain relies on (finite, non-negative amounts, bounded history, ordered dates)
//! is checked here, and every failure is reported with the path of the field that broke it.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{
    rules, Account, Compliance, ContactAttempt, ContactOutcome, CreditProfile, PaymentCycle,
    PromiseStatus, PromiseToPay, Violation, MAX_CONTACTS, MAX_PROMISES,
};
use crate::grpc::proto::v1 as pb;
use crate::policy::{Arm, ExperimentMode, Treatment};
use crate::scoring::Engine;
use crate::serve::decisions::{Batch, ScoredAccount, ShadowScore};
use crate::serve::deployment::Deployment;
use crate::serve::live::ReloadStatus;

/// Where an account sits in a request: its field path, written only when a violation needs it
/// (no allocation per valid account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountPath {
    /// `account` of a `ScoreRequest`.
    Single,
    /// `accounts[i]` of a batch.
    Batch(usize),
}

impl std::fmt::Display for AccountPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountPath::Single => f.write_str("account"),
            AccountPath::Batch(i) => write!(f, "accounts[{i}]"),
        }
    }
}

/// Collects violations under a path prefix.
struct Checker {
    prefix: AccountPath,
    violations: Vec<Violation>,
    /// Every violation found, reported or not.
    total: usize,
}

/// Most violations reported for one account; the rest are counted in one more. So a batch's
/// reply stays bounded whatever its accounts hold (10,000 accounts of 60 cycles that each break
/// every rule reply in about 22 MB, under the 32 MiB message cap).
pub const MAX_VIOLATIONS_PER_ACCOUNT: usize = 20;

impl Checker {
    fn new(prefix: AccountPath) -> Checker {
        Checker {
            prefix,
            violations: Vec::new(),
            total: 0,
        }
    }

    fn push(&mut self, field: impl std::fmt::Display, description: impl Into<String>) {
        self.total += 1;
        if self.violations.len() < MAX_VIOLATIONS_PER_ACCOUNT {
            self.violations.push(Violation {
                field: format!("{}.{field}", self.prefix),
                description: description.into(),
            });
        }
    }

    /// The reported violations, with one more counting those left out.
    fn finish(mut self) -> Vec<Violation> {
        let more = self.total - self.violations.len();
        if more > 0 {
            self.violations.push(Violation {
                field: self.prefix.to_string(),
                description: format!(
                    "and {more} more violation(s) not listed (the first {MAX_VIOLATIONS_PER_ACCOUNT} are)"
                ),
            });
        }
        self.violations
    }

    /// Reports `rule`'s failure at `field`.
    fn rule<T>(&mut self, field: impl std::fmt::Display, rule: Result<T, String>) {
        if let Err(description) = rule {
            self.push(field, description);
        }
    }

    /// A finite, non-negative amount. (Checked first, then worded: about 40 per account.)
    fn amount(&mut self, field: impl std::fmt::Display, v: f64) {
        if !rules::is_amount(v) {
            self.rule(field, rules::amount(v));
        }
    }

    fn date(&mut self, field: std::fmt::Arguments<'_>, d: Option<&pb::Date>) -> Option<NaiveDate> {
        match d {
            None => {
                self.push(field, "is required");
                None
            }
            Some(d) => {
                let date = u32::try_from(d.month)
                    .ok()
                    .zip(u32::try_from(d.day).ok())
                    .and_then(|(m, day)| NaiveDate::from_ymd_opt(d.year, m, day));
                if date.is_none() {
                    self.push(
                        field,
                        format!(
                            "is not a valid calendar date: {}-{}-{}",
                            d.year, d.month, d.day
                        ),
                    );
                }
                date
            }
        }
    }
}

/// A protobuf timestamp as UTC time, or `None` when it is out of range.
pub fn timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    u32::try_from(t.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
}

/// The decision time of a request: its `decision_time`, else the server's clock.
pub fn decision_time(
    t: Option<&prost_types::Timestamp>,
    field: &str,
) -> Result<DateTime<Utc>, Vec<Violation>> {
    match t {
        None => Ok(Utc::now()),
        Some(t) => timestamp(t).ok_or_else(|| {
            vec![Violation {
                field: field.to_owned(),
                description: format!("is not a valid time: {}s {}ns", t.seconds, t.nanos),
            }]
        }),
    }
}

fn contacts(c: &mut Checker, messages: Vec<pb::ContactAttempt>) -> Vec<ContactAttempt> {
    if messages.len() > MAX_CONTACTS {
        c.push(
            "contacts",
            format!(
                "has {} attempts; at most {MAX_CONTACTS} are accepted",
                messages.len()
            ),
        );
        return Vec::new();
    }
    let mut out = Vec::with_capacity(messages.len());
    for (i, m) in messages.into_iter().enumerate() {
        let at = match &m.at {
            None => {
                c.push(format_args!("contacts[{i}].at"), "is required");
                None
            }
            Some(t) => {
                let at = timestamp(t);
                if at.is_none() {
                    c.push(format_args!("contacts[{i}].at"), "is not a valid time");
                }
                at
            }
        };
        let channel = rules::channel(&m.channel);
        let channel_ok = channel.is_ok();
        c.rule(format_args!("contacts[{i}].channel"), channel);
        let outcome = match pb::ContactOutcome::try_from(m.outcome) {
            Ok(pb::ContactOutcome::NoAnswer) => Some(ContactOutcome::NoAnswer),
            Ok(pb::ContactOutcome::LeftMessage) => Some(ContactOutcome::LeftMessage),
            Ok(pb::ContactOutcome::Conversation) => Some(ContactOutcome::Conversation),
            Ok(pb::ContactOutcome::WrongParty) => Some(ContactOutcome::WrongParty),
            Ok(pb::ContactOutcome::Delivered) => Some(ContactOutcome::Delivered),
            Ok(pb::ContactOutcome::Failed) => Some(ContactOutcome::Failed),
            Ok(pb::ContactOutcome::Unspecified) | Err(_) => {
                c.push(
                    format_args!("contacts[{i}].outcome"),
                    format!("must be a known outcome, got {}", m.outcome),
                );
                None
            }
        };
        if let (Some(at), Some(outcome), true) = (at, outcome, channel_ok) {
            out.push(ContactAttempt {
                at,
                channel: m.channel,
                outcome,
            });
        }
    }
    out
}

fn compliance(c: &mut Checker, m: pb::Compliance) -> Compliance {
    let field = "compliance.opted_out_channels";
    c.rule(field, rules::opt_out_count(m.opted_out_channels.len()));
    for (i, channel) in m.opted_out_channels.iter().enumerate() {
        c.rule(format_args!("{field}[{i}]"), rules::channel(channel));
    }
    let time_zone = match rules::time_zone(&m.time_zone) {
        Ok(zone) => zone,
        Err(description) => {
            c.push("compliance.time_zone", description);
            None
        }
    };
    Compliance {
        cease_communication: m.cease_communication,
        dispute_pending: m.dispute_pending,
        bankruptcy: m.bankruptcy,
        attorney_represented: m.attorney_represented,
        deceased: m.deceased,
        opted_out: m.opted_out_channels,
        time_zone,
    }
}

fn promises(c: &mut Checker, messages: &[pb::PromiseToPay]) -> Vec<PromiseToPay> {
    if messages.len() > MAX_PROMISES {
        c.push(
            "promises",
            format!(
                "has {} promises; at most {MAX_PROMISES} are accepted",
                messages.len()
            ),
        );
        return Vec::new();
    }
    let mut out = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let before = c.total;
        let promised_on = c.date(
            format_args!("promises[{i}].promised_on"),
            m.promised_on.as_ref(),
        );
        let due = c.date(format_args!("promises[{i}].due"), m.due.as_ref());
        if let (Some(p), Some(d)) = (promised_on, due) {
            if d < p {
                c.push(
                    format_args!("promises[{i}].due"),
                    "must not be before promised_on",
                );
            }
        }
        c.amount(format_args!("promises[{i}].amount"), m.amount);
        let status = match pb::PromiseStatus::try_from(m.status) {
            Ok(pb::PromiseStatus::Pending) => Some(PromiseStatus::Pending),
            Ok(pb::PromiseStatus::Kept) => Some(PromiseStatus::Kept),
            Ok(pb::PromiseStatus::Broken) => Some(PromiseStatus::Broken),
            Ok(pb::PromiseStatus::Unspecified) | Err(_) => {
                c.push(
                    format_args!("promises[{i}].status"),
                    format!("must be a known status, got {}", m.status),
                );
                None
            }
        };
        if let (Some(promised_on), Some(due), Some(status), true) =
            (promised_on, due, status, c.total == before)
        {
            out.push(PromiseToPay {
                promised_on,
                due,
                amount: m.amount,
                status,
            });
        }
    }
    out
}

/// Converts and validates one account; `prefix` is its path (`account` or `accounts[7]`).
pub fn account(
    message: Option<pb::Account>,
    prefix: AccountPath,
) -> Result<Account, Vec<Violation>> {
    let mut c = Checker::new(prefix);
    let Some(a) = message else {
        return Err(vec![Violation {
            field: prefix.to_string(),
            description: "is required".into(),
        }]);
    };

    c.rule("account_id", rules::account_id(&a.account_id));
    let as_of = c.date(format_args!("as_of"), a.as_of.as_ref());

    let profile = match a.profile {
        None => {
            c.push("profile", "is required");
            CreditProfile::default()
        }
        Some(p) => {
            c.amount("profile.credit_limit", p.credit_limit);
            c.amount("profile.current_balance", p.current_balance);
            for (unknown, set, field) in [
                (
                    p.credit_limit_unknown,
                    p.credit_limit != 0.0,
                    "profile.credit_limit",
                ),
                (
                    p.current_balance_unknown,
                    p.current_balance != 0.0,
                    "profile.current_balance",
                ),
                (
                    p.months_on_book_unknown,
                    p.months_on_book != 0,
                    "profile.months_on_book",
                ),
                (p.hardship_unknown, p.hardship, "profile.hardship"),
            ] {
                if unknown && set {
                    c.push(
                        field,
                        "is set while marked unknown (`…_unknown`): send 0 or false",
                    );
                }
            }
            if let Some(s) = p.bureau_score {
                c.rule("profile.bureau_score", rules::bureau_score(s));
            }
            if let Some(i) = p.annual_income {
                c.amount("profile.annual_income", i);
            }
            let known = |unknown: bool| !unknown;
            CreditProfile {
                credit_limit: known(p.credit_limit_unknown).then_some(p.credit_limit),
                current_balance: known(p.current_balance_unknown).then_some(p.current_balance),
                months_on_book: known(p.months_on_book_unknown).then_some(p.months_on_book),
                open_credit_lines: p.open_credit_lines,
                prior_delinquencies: p.prior_delinquencies,
                bureau_score: p.bureau_score,
                annual_income: p.annual_income,
                hardship: known(p.hardship_unknown).then_some(p.hardship),
            }
        }
    };

    let history: Vec<PaymentCycle> = if let Err(e) = rules::history_cycles(a.history.len()) {
        c.push("history", e);
        Vec::new()
    } else {
        let mut previous: Option<NaiveDate> = None;
        // Collected from the message's own vector, which the standard library reuses in place
        // (a domain cycle is smaller than a message cycle): no second allocation per account.
        a.history
            .into_iter()
            .enumerate()
            .filter_map(|(i, cycle)| {
                let before = c.total;
                let date = c.date(
                    format_args!("history[{i}].statement_date"),
                    cycle.statement_date.as_ref(),
                );
                if let Some(d) = date {
                    if previous.is_some_and(|p| d <= p) {
                        c.push(
                            format_args!("history[{i}].statement_date"),
                            "must be later than the previous cycle's (history is oldest first)",
                        );
                    }
                    // Field paths are formatted only for a broken rule (per cycle, this is hot).
                    if let Some(as_of) = as_of.filter(|&a| !rules::is_statement_date(d, a)) {
                        c.rule(
                            format_args!("history[{i}].statement_date"),
                            rules::statement_date(d, as_of),
                        );
                    }
                    previous = Some(d);
                }
                c.amount(format_args!("history[{i}].amount_due"), cycle.amount_due);
                c.amount(format_args!("history[{i}].minimum_due"), cycle.minimum_due);
                c.amount(format_args!("history[{i}].amount_paid"), cycle.amount_paid);
                if !rules::is_minimum_due(cycle.minimum_due, cycle.amount_due) {
                    c.rule(
                        format_args!("history[{i}].minimum_due"),
                        rules::minimum_due(cycle.minimum_due, cycle.amount_due),
                    );
                }
                if !rules::is_days_past_due(cycle.days_past_due) {
                    c.rule(
                        format_args!("history[{i}].days_past_due"),
                        rules::days_past_due(cycle.days_past_due),
                    );
                }
                let valid = c.total == before;
                date.filter(|_| valid).map(|d| PaymentCycle {
                    statement_date: d,
                    amount_due: cycle.amount_due,
                    minimum_due: cycle.minimum_due,
                    amount_paid: cycle.amount_paid,
                    days_past_due: cycle.days_past_due,
                })
            })
            .collect()
    };

    c.rule("attributes", rules::attribute_count(a.attributes.len()));
    for (k, v) in &a.attributes {
        if k.trim().is_empty() {
            c.push("attributes", "attribute names must not be empty");
        } else {
            c.rule(format_args!("attributes[{k}]"), rules::attribute(*v));
        }
    }

    let promises = promises(&mut c, &a.promises);
    let contacts = contacts(&mut c, a.contacts);
    let compliance = a
        .compliance
        .map(|m| compliance(&mut c, m))
        .unwrap_or_default();

    match (as_of, c.total == 0) {
        (Some(as_of), true) => Ok(Account {
            account_id: a.account_id,
            as_of,
            profile,
            history,
            attributes: a.attributes,
            contacts,
            promises,
            compliance,
        }),
        _ => Err(c.finish()),
    }
}

/// The next-action message of a decision.
fn next_action(d: &crate::policy::Decision<'_>) -> pb::NextAction {
    pb::NextAction {
        action: d.action.action.clone(),
        channel: d.action.channel.clone(),
        stage: d.stage.to_owned(),
        rationale: d.rationale.text().to_owned(),
        guard: d.guard.map(|g| pb::ContactGuard {
            blocked_action: g.blocked.action.clone(),
            blocked_channel: g.blocked.channel.clone(),
            rule: g.rule.code().to_owned(),
            reason: g.reason(),
            next_permitted_time: g.next_permitted().map(to_timestamp),
        }),
    }
}

/// The `payrisk.v1.Treatment` value of a treatment.
pub fn treatment(t: Treatment) -> i32 {
    let t = match t {
        Treatment::Soft => pb::Treatment::Soft,
        Treatment::Firm => pb::Treatment::Firm,
    };
    t as i32
}

/// The response message of a scored account.
pub fn response(account_id: String, s: &ScoredAccount<'_>) -> pb::ScoreResponse {
    let d = &s.decision;
    let model = s.engine.model().artifact();
    let decision_id = s.decision_id(&account_id);
    let uplift = s.engine.model().uplift();
    let reason = |r: &crate::scoring::Reason| pb::ReasonCode {
        code: s.engine.reason_code(r).to_owned(),
        contribution: r.contribution,
        value: r.value,
        text: s.engine.reason_text(r),
    };
    pb::ScoreResponse {
        account_id,
        repayment_probability: s.probability,
        score: d.score,
        risk_band: d.band.to_owned(),
        treatment: treatment(d.treatment),
        next_action: Some(next_action(d)),
        priority: d.priority,
        reasons: s.reasons.iter().map(reason).collect(),
        model_name: model.name.clone(),
        model_version: model.version.clone(),
        policy_version: s.engine.policy().version.clone(),
        arm: s.arm.as_str().to_owned(),
        shadow: s.shadow.as_deref().map(|x| Box::new(shadow(x))),
        decision_id,
        treatment_options: match (&s.options, uplift) {
            (Some(o), Some(m)) => (0..o.len())
                .map(|t| pb::TreatmentOption {
                    name: m.name(t).to_owned(),
                    repayment_probability: o.probability(t),
                    expected_net_recovery: o.expected_net_recovery(t),
                    cost: m.cost(t),
                })
                .collect(),
            _ => Vec::new(),
        },
        best_treatment: match (&s.options, uplift) {
            (Some(o), Some(m)) => m.name(o.best()).to_owned(),
            _ => String::new(),
        },
        uplift_reasons: s.uplift_reasons.iter().map(reason).collect(),
    }
}

/// The challenger's decision in shadow mode.
pub fn shadow(s: &ShadowScore<'_>) -> pb::ShadowDecision {
    let d = &s.decision;
    pb::ShadowDecision {
        repayment_probability: s.probability,
        risk_band: d.band.to_owned(),
        treatment: treatment(d.treatment),
        next_action: Some(next_action(d)),
        priority: d.priority,
        model_version: s.engine.model().artifact().version.clone(),
        policy_version: s.engine.policy().version.clone(),
    }
}

/// The response message of a decided batch. The server encodes batch replies itself
/// ([`crate::grpc::wire::encode`]), byte for byte as prost encodes this message; tests and benchmarks compare
/// the two.
pub fn batch_response(batch: &Batch<'_>) -> pb::ScoreBatchResponse {
    pb::ScoreBatchResponse {
        results: batch
            .outcomes
            .iter()
            .map(|o| pb::ScoreResult {
                index: o.index,
                account_id: o.account_id.clone(),
                outcome: Some(match &o.result {
                    Ok(s) => pb::score_result::Outcome::Score(response(o.account_id.clone(), s)),
                    Err(violations) => pb::score_result::Outcome::Error(pb::AccountError {
                        violations: violations
                            .iter()
                            .map(|v| pb::FieldViolation {
                                field: v.field.clone(),
                                description: v.description.clone(),
                            })
                            .collect(),
                    }),
                }),
            })
            .collect(),
        batch_id: batch.batch_id,
    }
}

/// Converts evaluation metrics.
pub fn metrics(m: &crate::evaluation::Metrics) -> pb::EvaluationMetrics {
    pb::EvaluationMetrics {
        rows: m.rows,
        repayment_rate: m.repayment_rate,
        auc: m.auc,
        gini: m.gini,
        ks: m.ks,
        brier: m.brier,
        log_loss: m.log_loss,
        ece: m.ece,
    }
}

/// Describes the serving model and policy, and the experiment's arms.
pub fn model_info(deployment: &Deployment, reload: &ReloadStatus) -> pb::ModelInfo {
    let engine = deployment.champion();
    let a = engine.model().artifact();
    let p = engine.policy();
    let arm = |arm: Arm, e: &Engine, share: f64, mode: &str| pb::ArmInfo {
        arm: arm.as_str().to_owned(),
        share,
        mode: mode.to_owned(),
        model_name: e.model().artifact().name.clone(),
        model_version: e.model().artifact().version.clone(),
        policy_version: e.policy().version.clone(),
        decisions: deployment.decisions(arm),
    };
    let mut arms = Vec::with_capacity(3);
    match (deployment.experiment(), deployment.challenger()) {
        (Some(x), Some(challenger)) => {
            let split = x.mode == ExperimentMode::Split;
            let mode = x.mode.as_str();
            let control = x.control.as_ref().map_or(0.0, |c| c.share);
            arms.push(arm(
                Arm::Champion,
                engine,
                if split { 1.0 - x.share } else { 1.0 } - control,
                mode,
            ));
            arms.push(arm(
                Arm::Challenger,
                challenger,
                if split { x.share } else { 0.0 },
                mode,
            ));
            if let Some(held_out) = deployment.control() {
                arms.push(arm(Arm::Control, held_out, control, mode));
            }
        }
        // No experiment: one arm, and no mode to name.
        _ => arms.push(arm(Arm::Champion, engine, 1.0, "")),
    }
    pb::ModelInfo {
        name: a.name.clone(),
        version: a.version.clone(),
        kind: a.model.kind().to_owned(),
        features: engine
            .model()
            .spec()
            .sources()
            .iter()
            .map(|s| pb::Feature {
                name: s.name(),
                description: s.description(),
            })
            .collect(),
        train_metrics: Some(metrics(&a.metrics.train)),
        test_metrics: Some(metrics(&a.metrics.test)),
        created_at: a.created_at.to_rfc3339(),
        training_data_fingerprint: a.training.data_fingerprint.clone(),
        split: a.training.split.clone(),
        policy_name: p.name.clone(),
        policy_version: p.version.clone(),
        artifact_schema_version: a.schema_version,
        arms,
        reload: Some(reload_status(reload)),
    }
}

/// The reload history as the proto message.
pub fn reload_status(status: &ReloadStatus) -> pb::ReloadStatus {
    pb::ReloadStatus {
        model_path: status.model_path.display().to_string(),
        policy_path: status.policy_path.display().to_string(),
        loaded_at: Some(to_timestamp(status.loaded_at)),
        reloads: status.reloads,
        failed_reloads: status.failed_reloads,
        last_attempt_at: status.last_attempt_at.map(to_timestamp),
        last_error: status.last_error.clone().unwrap_or_default(),
    }
}

/// A time as a protobuf `Timestamp`.
pub fn to_timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: i32, d: i32) -> Option<pb::Date> {
        Some(pb::Date {
            year: y,
            month: m,
            day: d,
        })
    }

    fn valid() -> pb::Account {
        pb::Account {
            account_id: "A1".into(),
            as_of: date(2025, 6, 30),
            profile: Some(pb::CreditProfile {
                credit_limit: 1000.0,
                current_balance: 400.0,
                ..Default::default()
            }),
            history: vec![
                pb::PaymentCycle {
                    statement_date: date(2025, 5, 31),
                    amount_due: 300.0,
                    minimum_due: 30.0,
                    amount_paid: 0.0,
                    days_past_due: 0,
                },
                pb::PaymentCycle {
                    statement_date: date(2025, 6, 30),
                    amount_due: 400.0,
                    minimum_due: 40.0,
                    amount_paid: 300.0,
                    days_past_due: 0,
                },
            ],
            attributes: Default::default(),
            ..Default::default()
        }
    }

    fn fields(r: Result<Account, Vec<Violation>>) -> Vec<String> {
        r.err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn a_valid_account_converts() {
        let a = account(Some(valid()), AccountPath::Single).expect("valid");
        assert_eq!(a.history.len(), 2);
        assert_eq!(a.profile.credit_limit, Some(1000.0));
    }

    #[test]
    fn unknown_profile_values_convert_to_none_and_must_be_sent_empty() {
        // Pins the contract's `…_unknown` flags: unknown is `None` in the domain, and a value
        // sent beside its flag is a contradiction named by field.
        let mut a = valid();
        if let Some(p) = a.profile.as_mut() {
            p.credit_limit = 0.0;
            p.credit_limit_unknown = true;
            p.months_on_book_unknown = true;
            p.hardship_unknown = true;
        }
        let profile = account(Some(a.clone()), AccountPath::Single)
            .expect("valid")
            .profile;
        assert_eq!(profile.credit_limit, None);
        assert_eq!(profile.months_on_book, None);
        assert_eq!(profile.hardship, None);
        assert_eq!(profile.current_balance, Some(400.0));
        if let Some(p) = a.profile.as_mut() {
            p.current_balance_unknown = true;
            p.hardship = true;
        }
        assert_eq!(
            fields(account(Some(a), AccountPath::Single)),
            [
                "account.profile.current_balance",
                "account.profile.hardship"
            ]
        );
    }

    #[test]
    fn every_violation_names_its_field() {
        let mut a = valid();
        a.account_id.clear();
        a.history[0].amount_paid = f64::NAN;
        a.history[1].amount_due = -1.0;
        a.history[1].days_past_due = 99_999;
        a.attributes.insert("x".into(), f64::INFINITY);
        let got = fields(account(Some(a), AccountPath::Batch(3)));
        assert_eq!(
            got,
            vec![
                "accounts[3].account_id",
                "accounts[3].history[0].amount_paid",
                "accounts[3].history[1].amount_due",
                "accounts[3].history[1].minimum_due",
                "accounts[3].history[1].days_past_due",
                "accounts[3].attributes[x]",
            ]
        );
    }

    /// 60 cycles that each break five or six rules make hundreds of violations: the first 20
    /// are listed and one more counts the rest, so a reply stays bounded.
    #[test]
    fn violations_per_account_are_capped_and_counted() {
        let mut a = valid();
        let bad = pb::PaymentCycle {
            statement_date: date(2030, 1, 1),
            amount_due: -1.0,
            minimum_due: f64::NAN,
            amount_paid: -2.0,
            days_past_due: 9_999,
        };
        a.history = vec![bad; crate::domain::MAX_HISTORY_CYCLES];
        let v = account(Some(a), AccountPath::Batch(7)).expect_err("invalid");
        assert_eq!(v.len(), MAX_VIOLATIONS_PER_ACCOUNT + 1);
        let last = v.last().expect("the count");
        assert_eq!(last.field, "accounts[7]");
        let more: usize = last
            .description
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("a count");
        assert!(more >= 280, "{last:?}");
        assert!(v[..MAX_VIOLATIONS_PER_ACCOUNT]
            .iter()
            .all(|x| x.field.starts_with("accounts[7].history[")));
        // At or under the cap, nothing is added.
        let mut a = valid();
        a.history[0].amount_paid = -1.0;
        assert_eq!(
            account(Some(a), AccountPath::Single)
                .expect_err("bad")
                .len(),
            1
        );
    }

    #[test]
    fn dates_must_be_real_ordered_and_not_after_as_of() {
        let mut a = valid();
        a.history[1].statement_date = date(2025, 5, 1);
        assert_eq!(
            fields(account(Some(a), AccountPath::Single)),
            vec!["account.history[1].statement_date"]
        );
        let mut a = valid();
        a.history[1].statement_date = date(2025, 7, 31);
        assert_eq!(
            fields(account(Some(a), AccountPath::Single)),
            vec!["account.history[1].statement_date"]
        );
        let mut a = valid();
        a.as_of = date(2025, 2, 30);
        assert_eq!(
            fields(account(Some(a), AccountPath::Single)),
            vec!["account.as_of"]
        );
        let mut a = valid();
        a.as_of = None;
        assert_eq!(
            fields(account(Some(a), AccountPath::Single)),
            vec!["account.as_of"]
        );
    }

    #[test]
    fn history_is_bounded_and_missing_parts_are_required() {
        let mut a = valid();
        let c = a.history[0];
        a.history = vec![c; crate::domain::MAX_HISTORY_CYCLES + 1];
        assert_eq!(
            fields(account(Some(a), AccountPath::Single)),
            vec!["account.history"]
        );
        let mut a = valid();
        a.profile = None;
        assert_eq!(
            fields(account(Some(a), AccountPath::Single)),
            vec!["account.profile"]
        );
        assert_eq!(fields(account(None, AccountPath::Single)), vec!["account"]);
    }
}
