//! Request accounts shared by the benchmarks: deterministic, varied, 12 monthly cycles each.

use payrisk::grpc::proto::v1 as pb;

/// The decision time every benchmark decides at: 2026-01-05 17:00 UTC, noon in New York,
/// inside the shipped policy's contact hours. With the clock's time instead, figures would
/// depend on the hour they were taken at (outside the hours every call becomes a `wait` with
/// its next permitted time formatted).
pub const DECISION_SECONDS: i64 = 1_767_632_400;

/// [`DECISION_SECONDS`] as a request's `decision_time`.
#[allow(dead_code)]
pub fn decision_time() -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: DECISION_SECONDS,
        nanos: 0,
    })
}

/// Deterministic, varied accounts with 12 monthly cycles each.
pub fn accounts(n: usize) -> Vec<pb::Account> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let date = |m: i32| {
        Some(pb::Date {
            year: 2024 + m / 12,
            month: m % 12 + 1,
            day: 28,
        })
    };
    (0..n)
        .map(|i| {
            let limit = 1_000.0 + 9_000.0 * next();
            let history: Vec<pb::PaymentCycle> = (0..12)
                .map(|m| {
                    let due = limit * next();
                    pb::PaymentCycle {
                        statement_date: date(m),
                        amount_due: due,
                        minimum_due: due * 0.05,
                        amount_paid: due * next() * 1.1,
                        days_past_due: if next() < 0.2 {
                            30 * (1 + (next() * 4.0) as u32)
                        } else {
                            0
                        },
                    }
                })
                .collect();
            pb::Account {
                account_id: format!("load-{i}"),
                as_of: date(12),
                profile: Some(pb::CreditProfile {
                    credit_limit: limit,
                    current_balance: history[11].amount_due,
                    months_on_book: 12 + (next() * 100.0) as u32,
                    open_credit_lines: 1 + (next() * 5.0) as u32,
                    prior_delinquencies: (next() * 3.0) as u32,
                    bureau_score: (next() < 0.7).then(|| 500.0 + 300.0 * next()),
                    annual_income: (next() < 0.5).then(|| 20_000.0 + 80_000.0 * next()),
                    hardship: next() < 0.05,
                    ..Default::default()
                }),
                history,
                ..Default::default()
            }
        })
        .collect()
}
