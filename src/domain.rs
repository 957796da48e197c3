//! Plain domain types: the account being scored, its credit profile and payment history.
//!
//! These know nothing of gRPC or Polars; the transport (`crate::grpc`) and the training
//! ingest (`crate::train`) convert into them at the edge, and check the bounds declared here.

mod protected;
pub mod rules;

pub use protected::{
    is_protected_attribute, AllowedAttribute, ProtectedList, PROTECTED_CHARACTERISTICS,
};

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

/// Longest payment history accepted, in cycles (five years of monthly statements).
pub const MAX_HISTORY_CYCLES: usize = 60;
/// Largest days-past-due value accepted (ten years).
pub const MAX_DAYS_PAST_DUE: u32 = 3650;
/// Longest account id accepted, in bytes.
pub const MAX_ACCOUNT_ID_BYTES: usize = 128;
/// Most contact attempts accepted on one account (the guard looks back weeks, not years).
pub const MAX_CONTACTS: usize = 512;
/// Most promises to pay accepted on one account.
pub const MAX_PROMISES: usize = 64;
/// Largest bureau score accepted.
pub const MAX_BUREAU_SCORE: f64 = 1000.0;
/// Most extra attributes accepted on one account.
pub const MAX_ATTRIBUTES: usize = 256;
/// Longest channel name accepted, in bytes.
pub const MAX_CHANNEL_BYTES: usize = 64;
/// Most channels one account may have opted out of.
pub const MAX_OPT_OUTS: usize = 16;

/// `text` with its control characters escaped (`\u{1b}`, `\n`), for every place caller-supplied
/// text (account ids above all) reaches a terminal, a text log or a CSV file, where a raw control
/// character could rewrite the screen or split a line. Text without control characters is
/// returned as it is.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A field that broke one of the domain's rules, as in `google.rpc.BadRequest.FieldViolation`.
/// The gRPC edge reports these as `INVALID_ARGUMENT`; the training tables as row errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the field, for example `account.history[2].amount_paid`.
    pub field: String,
    /// What is wrong.
    pub description: String,
}

/// An account to score, as of a date.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Caller's identifier.
    pub account_id: String,
    /// The date the account is scored at.
    pub as_of: NaiveDate,
    /// Credit profile at `as_of`.
    pub profile: CreditProfile,
    /// Statement cycles, oldest first, strictly increasing in date.
    pub history: Vec<PaymentCycle>,
    /// Extra numeric features by name (finite values).
    pub attributes: HashMap<String, f64>,
    /// Recent attempts to reach the customer, in any order: the policy's contact caps are
    /// enforced from them. Not a model input.
    pub contacts: Vec<ContactAttempt>,
    /// Promises to pay the customer made, in any order: a pending promise holds collection and
    /// broken ones mark a wilful defaulter. Not a model input.
    pub promises: Vec<PromiseToPay>,
    /// Legal and customer restrictions on collecting: the policy's compliance holds stop or
    /// redirect an action whatever the score says. Not a model input.
    pub compliance: Compliance,
}

/// What the law or the customer has said about collecting from an account. Every flag defaults
/// to "no restriction"; the policy (`[compliance]`) says what each one does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compliance {
    /// The customer asked in writing that collection communication stop.
    pub cease_communication: bool,
    /// The customer disputes the debt and the dispute is not yet resolved.
    pub dispute_pending: bool,
    /// The customer is in bankruptcy: the automatic stay forbids collection.
    pub bankruptcy: bool,
    /// The customer is represented by an attorney for this debt.
    pub attorney_represented: bool,
    /// The customer has died.
    pub deceased: bool,
    /// Channels the customer has opted out of, named as the policy names channels (`phone`,
    /// `sms`, `email`, ...).
    pub opted_out: Vec<String>,
    /// The customer's time zone, for contact hours; none: the policy's default.
    pub time_zone: Option<chrono_tz::Tz>,
}

/// One attempt to reach the customer.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactAttempt {
    /// When.
    pub at: DateTime<Utc>,
    /// Channel, named as the policy names channels (`phone`, `sms`, `email`, `letter`, ...).
    pub channel: String,
    /// What came of it.
    pub outcome: ContactOutcome,
}

/// What came of a contact attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactOutcome {
    /// Nobody answered.
    NoAnswer,
    /// A message was left.
    LeftMessage,
    /// A conversation with the customer (right-party contact).
    Conversation,
    /// Someone other than the customer.
    WrongParty,
    /// A message or letter was delivered.
    Delivered,
    /// Undeliverable, bounced or refused.
    Failed,
}

/// A promise to pay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PromiseToPay {
    /// The day the customer promised.
    pub promised_on: NaiveDate,
    /// The day the payment is due.
    pub due: NaiveDate,
    /// Amount promised, >= 0.
    pub amount: f64,
    /// Kept, broken, or not yet due.
    pub status: PromiseStatus,
}

/// The state of a promise to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseStatus {
    /// Not yet due, or due and not yet settled.
    Pending,
    /// Paid as promised.
    Kept,
    /// Not paid as promised.
    Broken,
}

/// The account's credit profile. `None` marks a value the caller does not know: the features
/// built from it are missing (`NaN`), never a made-up 0 or a cap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreditProfile {
    /// Credit limit, >= 0, if known.
    pub credit_limit: Option<f64>,
    /// Outstanding balance, >= 0, if known (unknown: worklist priority 0).
    pub current_balance: Option<f64>,
    /// Months since the account was opened, if known.
    pub months_on_book: Option<u32>,
    /// Open credit lines the customer holds.
    pub open_credit_lines: u32,
    /// Delinquency episodes before the supplied history.
    pub prior_delinquencies: u32,
    /// Credit bureau score, if known.
    pub bureau_score: Option<f64>,
    /// Annual income, if known.
    pub annual_income: Option<f64>,
    /// Declared temporary hardship, if known (unknown counts as not declared for the policy).
    pub hardship: Option<bool>,
}

impl CreditProfile {
    /// Whether the customer has declared hardship (an unknown declaration is no declaration).
    pub fn declared_hardship(&self) -> bool {
        self.hardship == Some(true)
    }
}

/// One monthly statement cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaymentCycle {
    /// Statement date.
    pub statement_date: NaiveDate,
    /// Statement balance due, >= 0.
    pub amount_due: f64,
    /// Minimum payment due, 0 <= minimum_due <= amount_due.
    pub minimum_due: f64,
    /// Payments received during this cycle (toward the previous statement), >= 0.
    pub amount_paid: f64,
    /// Days past due at the statement date.
    pub days_past_due: u32,
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped_for_text_and_nothing_else_changes() {
        assert!(matches!(
            printable("A-1001 é"),
            std::borrow::Cow::Borrowed("A-1001 é")
        ));
        assert_eq!(printable("A\u{1b}[2J\r\nB\t"), "A\\u{1b}[2J\\r\\nB\\t");
        assert!(!printable("\u{7f}\u{85}x").chars().any(char::is_control));
    }

    use super::*;
}
