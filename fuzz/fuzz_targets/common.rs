#![allow(dead_code)] // each target uses a part of it
//! What the targets share: the shipped model and policy, loaded once, and a valid account.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use payrisk::domain::Account;
use payrisk::grpc::proto::v1 as pb;
use payrisk::model::Model;
use payrisk::policy::Policy;
use payrisk::serve::deployment::Deployment;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// The default deployment (gradient-boosted trees and the shipped policy), as the server loads it.
pub static DEPLOYMENT: LazyLock<Deployment> = LazyLock::new(|| {
    Deployment::load(
        &repo(payrisk::serve::DEFAULT_MODEL),
        &repo(payrisk::serve::DEFAULT_POLICY),
    )
    .unwrap_or_else(|e| panic!("the shipped model and policy must load: {e}"))
});

/// The shipped logistic model (small and fast to pair with a fuzzed policy).
pub static LOGISTIC: LazyLock<Model> = LazyLock::new(|| {
    Model::load(&repo(payrisk::serve::LOGISTIC_MODEL))
        .unwrap_or_else(|e| panic!("the shipped logistic model must load: {e}"))
});

/// The shipped policy.
pub static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::load(&repo(payrisk::serve::DEFAULT_POLICY))
        .unwrap_or_else(|e| panic!("the shipped policy must load: {e}"))
});

/// The decision time of the targets' fixed accounts.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

/// Ordinary accounts: one paying, one in arrears, one with no history.
pub static ACCOUNTS: LazyLock<Vec<Account>> = LazyLock::new(|| {
    let cycle = |i: i32, paid: f64, dpd: u32| pb::PaymentCycle {
        statement_date: Some(pb::Date {
            year: 2025,
            month: i + 1,
            day: 28,
        }),
        amount_due: 2_000.0,
        minimum_due: 100.0,
        amount_paid: paid,
        days_past_due: dpd,
    };
    let account = |id: &str, history: Vec<pb::PaymentCycle>| pb::Account {
        account_id: id.to_owned(),
        as_of: Some(pb::Date {
            year: 2025,
            month: 12,
            day: 31,
        }),
        profile: Some(pb::CreditProfile {
            credit_limit: 10_000.0,
            current_balance: 4_000.0,
            months_on_book: 36,
            open_credit_lines: 3,
            prior_delinquencies: 1,
            bureau_score: Some(640.0),
            annual_income: Some(42_000.0),
            hardship: false,
            ..Default::default()
        }),
        history,
        ..Default::default()
    };
    [
        account("paying", (0..11).map(|i| cycle(i, 2_000.0, 0)).collect()),
        account(
            "arrears",
            (0..11).map(|i| cycle(i, 0.0, 30 * i as u32)).collect(),
        ),
        account("new", Vec::new()),
    ]
    .into_iter()
    .map(|m| {
        payrisk::grpc::convert::account(Some(m), payrisk::grpc::convert::AccountPath::Single)
            .unwrap_or_else(|v| panic!("the fixed accounts are valid: {v:?}"))
    })
    .collect()
});
