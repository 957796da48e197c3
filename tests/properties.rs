//! Properties over arbitrary requests: no `Account` message, however malformed, makes the
//! request conversion or the scoring engine panic, and every account that passes validation gets
//! a finite probability in [0, 1] and a finite priority, on both shipped models, on the unary
//! path (with reason codes) and the batch path alike.

use std::path::Path;

use payrisk::deployment::Deployment;
use payrisk::proto::v1 as pb;
use payrisk::service::convert::{account, AccountPath};
use proptest::prelude::*;

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        -1e7..1e7f64,
        0.0..50_000.0f64,
        Just(0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
    ]
}

fn date() -> impl Strategy<Value = Option<pb::Date>> {
    prop_oneof![
        1 => Just(None),
        6 => (2020..2027i32, 1..13i32, 1..29i32)
            .prop_map(|(year, month, day)| Some(pb::Date { year, month, day })),
        1 => (any::<i32>(), any::<i32>(), any::<i32>())
            .prop_map(|(year, month, day)| Some(pb::Date { year, month, day })),
    ]
}

fn cycle() -> impl Strategy<Value = pb::PaymentCycle> {
    (
        date(),
        number(),
        number(),
        number(),
        prop_oneof![0..200u32, any::<u32>()],
    )
        .prop_map(
            |(statement_date, amount_due, minimum_due, amount_paid, days_past_due)| {
                pb::PaymentCycle {
                    statement_date,
                    amount_due,
                    minimum_due,
                    amount_paid,
                    days_past_due,
                }
            },
        )
}

fn profile() -> impl Strategy<Value = Option<pb::CreditProfile>> {
    let fields = (
        number(),
        number(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        proptest::option::of(number()),
        proptest::option::of(number()),
        any::<bool>(),
    );
    proptest::option::weighted(
        0.9,
        fields.prop_map(
            |(limit, balance, months, lines, prior, bureau, income, hardship)| pb::CreditProfile {
                credit_limit: limit,
                current_balance: balance,
                months_on_book: months,
                open_credit_lines: lines,
                prior_delinquencies: prior,
                bureau_score: bureau,
                annual_income: income,
                hardship,
            },
        ),
    )
}

fn contact() -> impl Strategy<Value = pb::ContactAttempt> {
    (
        proptest::option::of((any::<i64>(), any::<i32>())),
        prop_oneof![Just("phone".to_owned()), Just("sms".to_owned()), ".{0,12}"],
        any::<i32>(),
    )
        .prop_map(|(at, channel, outcome)| pb::ContactAttempt {
            at: at.map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
            channel,
            outcome,
        })
}

fn promise() -> impl Strategy<Value = pb::PromiseToPay> {
    (date(), date(), number(), any::<i32>()).prop_map(|(promised_on, due, amount, status)| {
        pb::PromiseToPay {
            promised_on,
            due,
            amount,
            status,
        }
    })
}

fn account_message() -> impl Strategy<Value = pb::Account> {
    (
        ".{0,20}",
        date(),
        profile(),
        proptest::collection::vec(cycle(), 0..30),
        proptest::collection::hash_map(".{0,10}", number(), 0..3),
        proptest::collection::vec(contact(), 0..8),
        proptest::collection::vec(promise(), 0..4),
    )
        .prop_map(
            |(account_id, as_of, profile, history, attributes, contacts, promises)| pb::Account {
                account_id,
                as_of,
                profile,
                history,
                attributes,
                contacts,
                promises,
            },
        )
}

/// Accounts that mostly pass validation, with values from ordinary to extreme.
fn plausible_account() -> impl Strategy<Value = pb::Account> {
    let cycles = proptest::collection::vec(
        (
            prop_oneof![0.0..20_000.0f64, 0.0..1e12f64, Just(0.0)],
            0.0..1.0f64,
            prop_oneof![0.0..2.0f64, Just(0.0), Just(1.0)],
            prop_oneof![0..120u32, Just(0u32), Just(30), Just(90)],
        ),
        0..25,
    );
    let profile = (
        prop_oneof![0.0..50_000.0f64, Just(0.0), 0.0..1e12f64],
        prop_oneof![0.0..50_000.0f64, Just(0.0), 0.0..1e12f64],
        prop_oneof![0..600u32, any::<u32>()],
        prop_oneof![0..20u32, any::<u32>()],
        prop_oneof![0..10u32, any::<u32>()],
        proptest::option::of(300.0..850.0f64),
        proptest::option::of(prop_oneof![0.0..200_000.0f64, Just(0.0)]),
        any::<bool>(),
    );
    let contacts = proptest::collection::vec(
        (
            0..90 * 86_400i64,
            prop_oneof![Just("phone"), Just("sms"), Just("email"), Just("letter")],
            1..6i32,
        ),
        0..12,
    );
    let promises = proptest::collection::vec((0..60i64, 0..60i64, 0.0..5_000.0f64, 1..4i32), 0..4);
    ("[a-z0-9-]{1,12}", cycles, profile, contacts, promises).prop_map(
        |(account_id, cycles, p, contacts, promises)| {
            let n = cycles.len();
            let month = |i: usize| pb::Date {
                year: 2024 + (i / 12) as i32,
                month: (i % 12) as i32 + 1,
                day: 28,
            };
            let day = |days_before: i64| {
                let d = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
                    - chrono::Duration::days(days_before);
                use chrono::Datelike;
                Some(pb::Date {
                    year: d.year(),
                    month: d.month() as i32,
                    day: d.day() as i32,
                })
            };
            pb::Account {
                account_id,
                as_of: Some(month(n + 1)),
                profile: Some(pb::CreditProfile {
                    credit_limit: p.0,
                    current_balance: p.1,
                    months_on_book: p.2,
                    open_credit_lines: p.3,
                    prior_delinquencies: p.4,
                    bureau_score: p.5,
                    annual_income: p.6,
                    hardship: p.7,
                }),
                history: cycles
                    .into_iter()
                    .enumerate()
                    .map(|(i, (due, min, paid, dpd))| pb::PaymentCycle {
                        statement_date: Some(month(i)),
                        amount_due: due,
                        minimum_due: due * min,
                        amount_paid: due * paid,
                        days_past_due: dpd,
                    })
                    .collect(),
                attributes: Default::default(),
                contacts: contacts
                    .into_iter()
                    .map(|(ago, channel, outcome)| pb::ContactAttempt {
                        at: Some(prost_types::Timestamp {
                            seconds: 1_767_225_600 - ago,
                            nanos: 0,
                        }),
                        channel: channel.to_owned(),
                        outcome,
                    })
                    .collect(),
                promises: promises
                    .into_iter()
                    .map(|(made, due, amount, status)| pb::PromiseToPay {
                        promised_on: day(made + due),
                        due: day(due),
                        amount,
                        status,
                    })
                    .collect(),
            }
        },
    )
}

#[test]
fn most_plausible_accounts_pass_validation() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = plausible_account();
    let valid = (0..200)
        .filter(|_| {
            let message = strategy.new_tree(&mut runner).expect("sample").current();
            account(Some(message), AccountPath::Single).is_ok()
        })
        .count();
    // Otherwise the property below would say little.
    assert!(valid >= 180, "{valid} of 200 valid");
}

fn deployments() -> Vec<Deployment> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        payrisk::server::DEFAULT_MODEL,
        payrisk::server::LOGISTIC_MODEL,
    ]
    .iter()
    .map(|m| {
        Deployment::load(&root.join(m), &root.join(payrisk::server::DEFAULT_POLICY))
            .expect("shipped model and policy")
    })
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_account_panics_and_every_probability_is_a_probability(
        message in prop_oneof![4 => plausible_account(), 1 => account_message()]
    ) {
        let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("time");
        let Ok(valid) = account(Some(message), AccountPath::Single) else {
            return Ok(()); // refused with field violations: that is the other outcome allowed
        };
        for deployment in deployments() {
            let engine = deployment.champion();
            let mut scratch = engine.scratch();
            let one = engine.score(&valid, 4, now, &mut scratch);
            prop_assert!((0.0..=1.0).contains(&one.probability), "{}", one.probability);
            prop_assert!(one.decision.priority.is_finite());
            let mut many = Vec::new();
            engine.score_many(&[&valid], now, &mut scratch, &mut many);
            prop_assert_eq!(many[0].probability, one.probability);
        }
    }
}
