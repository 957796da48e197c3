//! Properties over arbitrary requests: no `Account` message, however malformed, makes the
//! request conversion or the scoring engine panic, and every account that passes validation gets
//! a finite probability in [0, 1] and a finite priority, on both shipped models, on the unary
//! path (with reason codes) and the batch path alike.
//! The server's hand-written `ScoreBatchRequest` decoder agrees with prost on valid, damaged and
//! arbitrary protobuf-shaped bytes.

use std::path::Path;

use payrisk::grpc::convert::{account, AccountPath};
use payrisk::grpc::proto::v1 as pb;
use payrisk::serve::deployment::Deployment;
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
        proptest::collection::vec(prop::bool::weighted(0.1), 4),
    );
    proptest::option::weighted(
        0.9,
        fields.prop_map(
            |(limit, balance, months, lines, prior, bureau, income, hardship, unknown)| {
                pb::CreditProfile {
                    credit_limit: limit,
                    current_balance: balance,
                    months_on_book: months,
                    open_credit_lines: lines,
                    prior_delinquencies: prior,
                    bureau_score: bureau,
                    annual_income: income,
                    hardship,
                    credit_limit_unknown: unknown[0],
                    current_balance_unknown: unknown[1],
                    months_on_book_unknown: unknown[2],
                    hardship_unknown: unknown[3],
                }
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

/// The compliance message of five flags (in the message's order), opt-outs and a time zone.
fn compliance_of(flags: &[bool], opted_out: &[&str], zone: &str) -> pb::Compliance {
    pb::Compliance {
        cease_communication: flags[0],
        dispute_pending: flags[1],
        bankruptcy: flags[2],
        attorney_represented: flags[3],
        deceased: flags[4],
        opted_out_channels: opted_out.iter().map(|c| (*c).to_owned()).collect(),
        time_zone: zone.to_owned(),
    }
}

/// Compliance flags, opt-outs and time zones, valid or not.
fn compliance() -> impl Strategy<Value = Option<pb::Compliance>> {
    proptest::option::of(
        (
            proptest::collection::vec(prop::bool::weighted(0.1), 5),
            proptest::collection::vec(
                prop_oneof![
                    Just("phone"),
                    Just("sms"),
                    Just("email"),
                    Just(""),
                    Just(" ")
                ],
                0..4,
            ),
            prop_oneof![
                Just(""),
                Just("America/Chicago"),
                Just("Asia/Tokyo"),
                Just("Europe/London"),
                Just("Mars/Olympus"),
            ],
        )
            .prop_map(|(flags, opted_out, zone)| compliance_of(&flags, &opted_out, zone)),
    )
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
        compliance(),
    )
        .prop_map(
            |(account_id, as_of, profile, history, attributes, contacts, promises, compliance)| {
                pb::Account {
                    account_id,
                    as_of,
                    profile,
                    history,
                    attributes,
                    contacts,
                    promises,
                    compliance,
                }
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
    // Holds on some accounts; opt-outs and time zones (each valid) on others, so that contact
    // hours both block and permit at the batches' decision time.
    let compliance = proptest::option::of((
        proptest::collection::vec(prop::bool::weighted(0.08), 5),
        proptest::collection::vec(prop_oneof![Just("phone"), Just("sms"), Just("email")], 0..3),
        prop_oneof![
            Just(""),
            Just("America/Los_Angeles"),
            Just("Europe/London"),
            Just("Australia/Sydney"),
        ],
    ));
    (
        "[a-z0-9-]{1,12}",
        cycles,
        profile,
        contacts,
        promises,
        compliance,
    )
        .prop_map(|(account_id, cycles, p, contacts, promises, compliance)| {
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
                // Some limits and balances unknown (sent as 0 with the flag), as analysts' data
                // often has them.
                profile: Some(pb::CreditProfile {
                    credit_limit: if p.2 % 7 == 0 { 0.0 } else { p.0 },
                    credit_limit_unknown: p.2 % 7 == 0,
                    current_balance: if p.2 % 11 == 0 { 0.0 } else { p.1 },
                    current_balance_unknown: p.2 % 11 == 0,
                    months_on_book: p.2,
                    open_credit_lines: p.3,
                    prior_delinquencies: p.4,
                    bureau_score: p.5,
                    annual_income: p.6,
                    hardship: p.7,
                    ..Default::default()
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
                compliance: compliance
                    .map(|(flags, opted_out, zone)| compliance_of(&flags, &opted_out, zone)),
            }
        })
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

/// The shipped deployments, loaded once (a load fills the model's TreeSHAP tables).
fn deployments() -> &'static [Deployment] {
    static DEPLOYMENTS: std::sync::OnceLock<Vec<Deployment>> = std::sync::OnceLock::new();
    DEPLOYMENTS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        [
            payrisk::serve::DEFAULT_MODEL,
            payrisk::serve::LOGISTIC_MODEL,
        ]
        .iter()
        .map(|m| {
            Deployment::load(&root.join(m), &root.join(payrisk::serve::DEFAULT_POLICY))
                .expect("shipped model and policy")
        })
        .collect()
    })
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

// The server's hand-written `ScoreBatchRequest` decoder (`payrisk::grpc::wire::decode`) must agree
// with prost on every input: the same message where prost decodes one, an error where prost
// fails.

/// A request in a comparable form: its encoding with the attribute maps taken out (their
/// iteration order is random), and the maps sorted, values by bits (NaN included).
type Canonical = (Vec<u8>, Vec<Vec<(String, u64)>>);

fn canonical(request: &pb::ScoreBatchRequest) -> Canonical {
    use prost::Message;
    let mut request = request.clone();
    let attributes = request
        .accounts
        .iter_mut()
        .map(|a| {
            let mut pairs: Vec<(String, u64)> = a
                .attributes
                .drain()
                .map(|(k, v)| (k, v.to_bits()))
                .collect();
            pairs.sort();
            pairs
        })
        .collect();
    (request.encode_to_vec(), attributes)
}

/// Both decoders on `bytes`: the canonical message each produced, or none on an error.
fn both_decoders(bytes: &[u8]) -> (Option<Canonical>, Option<Canonical>) {
    use prost::Message;
    let prost = pb::ScoreBatchRequest::decode(bytes).ok();
    let wire = payrisk::grpc::wire::decode::score_batch_request(bytes).ok();
    (prost.as_ref().map(canonical), wire.as_ref().map(canonical))
}

fn batch_request() -> impl Strategy<Value = pb::ScoreBatchRequest> {
    (
        proptest::collection::vec(account_message(), 0..4),
        proptest::option::of(any::<u32>()),
        any::<u64>(),
        proptest::option::of((any::<i64>(), any::<i32>())),
    )
        .prop_map(
            |(accounts, max_reasons, batch_id, decision_time)| pb::ScoreBatchRequest {
                accounts,
                max_reasons,
                batch_id,
                decision_time: decision_time
                    .map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
            },
        )
}

/// Protobuf-shaped bytes: fields with tags 1 to 9 (known and unknown to each message) and every
/// wire type, values of any length, nested length-delimited fields holding more of the same,
/// groups (balanced or not), and stray bytes.
fn field_soup() -> impl Strategy<Value = Vec<u8>> {
    fn key(tag: u32, wire: u32) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(u64::from(tag << 3 | wire), &mut out);
        out
    }
    let leaf = prop_oneof![
        (1..10u32, any::<u64>()).prop_map(|(tag, v)| {
            let mut out = key(tag, 0);
            prost::encoding::encode_varint(v, &mut out);
            out
        }),
        (1..10u32, any::<[u8; 8]>()).prop_map(|(tag, v)| [key(tag, 1), v.to_vec()].concat()),
        (1..10u32, any::<[u8; 4]>()).prop_map(|(tag, v)| [key(tag, 5), v.to_vec()].concat()),
        (1..10u32, proptest::collection::vec(any::<u8>(), 0..12)).prop_map(|(tag, v)| {
            let mut out = key(tag, 2);
            prost::encoding::encode_varint(v.len() as u64, &mut out);
            [out, v].concat()
        }),
        (1..10u32, 1..10u32).prop_map(|(open, close)| [key(open, 3), key(close, 4)].concat()),
        proptest::collection::vec(any::<u8>(), 0..4),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            (1..10u32, proptest::collection::vec(inner.clone(), 0..6)).prop_map(|(tag, parts)| {
                let body = parts.concat();
                let mut out = key(tag, 2);
                prost::encoding::encode_varint(body.len() as u64, &mut out);
                [out, body].concat()
            }),
            proptest::collection::vec(inner, 0..6).prop_map(|parts| parts.concat()),
        ]
    })
}

/// Request-shaped bytes from `seed`: each message a random sequence of its own fields (so
/// singular fields repeat, and their messages must merge), with now and then an unknown field, a
/// wrong wire type or an out-of-range value.
fn schema_soup(seed: u64) -> Vec<u8> {
    #[derive(Clone, Copy)]
    enum Value {
        Varint,
        Double,
        Text,
        Message(usize),
    }
    use Value::{Double, Message, Text, Varint};
    // Per message: its fields' tags and types. 0 ScoreBatchRequest, 1 Account, 2 Date,
    // 3 CreditProfile, 4 PaymentCycle, 5 attribute entry, 6 ContactAttempt, 7 PromiseToPay,
    // 8 Timestamp, 9 Compliance.
    const SCHEMA: [&[(u32, Value)]; 10] = [
        &[(1, Message(1)), (2, Varint), (3, Varint), (4, Message(8))],
        &[
            (1, Text),
            (2, Message(2)),
            (3, Message(3)),
            (4, Message(4)),
            (5, Message(5)),
            (6, Message(6)),
            (7, Message(7)),
            (8, Message(9)),
        ],
        &[(1, Varint), (2, Varint), (3, Varint)],
        &[
            (1, Double),
            (2, Double),
            (3, Varint),
            (4, Varint),
            (5, Varint),
            (6, Double),
            (7, Double),
            (8, Varint),
            (9, Varint),
            (12, Varint),
        ],
        &[
            (1, Message(2)),
            (2, Double),
            (3, Double),
            (4, Double),
            (5, Varint),
        ],
        &[(1, Text), (2, Double)],
        &[(1, Message(8)), (2, Text), (3, Varint)],
        &[(1, Message(2)), (2, Message(2)), (3, Double), (4, Varint)],
        &[(1, Varint), (2, Varint)],
        &[
            (1, Varint),
            (2, Varint),
            (3, Varint),
            (4, Varint),
            (5, Varint),
            (6, Text),
            (7, Text),
        ],
    ];
    use crate::common::Rng;
    fn message(kind: usize, depth: u32, rng: &mut Rng, out: &mut Vec<u8>) {
        let fields = SCHEMA[kind];
        for _ in 0..rng.below(if depth == 0 { 8 } else { 5 }) {
            let (mut tag, mut value) = fields[rng.below(fields.len() as u64) as usize];
            if rng.below(12) == 0 {
                tag = 10 + rng.below(3) as u32; // unknown
            }
            if rng.below(16) == 0 {
                value = [Varint, Double, Text][rng.below(3) as usize]; // maybe the wrong type
            }
            let wire = match value {
                Varint => 0,
                Double => 1,
                Text | Message(_) => 2,
            };
            prost::encoding::encode_varint(u64::from(tag << 3 | wire), out);
            match value {
                Varint => {
                    let v = match rng.below(4) {
                        0 => rng.next_u64(),
                        1 => rng.below(40),
                        2 => 2000 + rng.below(40),
                        _ => u64::from(u32::MAX) + rng.below(3),
                    };
                    prost::encoding::encode_varint(v, out);
                }
                Double => out.extend_from_slice(&(rng.below(10_000) as f64 / 7.0).to_le_bytes()),
                Text => {
                    let text: &[u8] = [&b"a-1"[..], b"", "d\u{e9}j\u{e0}".as_bytes(), b"\xff\xfe"]
                        [rng.below(4) as usize];
                    prost::encoding::encode_varint(text.len() as u64, out);
                    out.extend_from_slice(text);
                }
                Message(inner) => {
                    let mut body = Vec::new();
                    if depth < 4 {
                        message(inner, depth + 1, rng, &mut body);
                    }
                    prost::encoding::encode_varint(body.len() as u64, out);
                    out.extend_from_slice(&body);
                }
            }
        }
    }
    let mut rng = Rng(seed | 1);
    let mut out = Vec::new();
    message(0, 0, &mut rng, &mut out);
    out
}

/// The share of schema soups prost decodes is high enough for the agreement to mean something.
#[test]
fn schema_soup_is_mostly_decodable() {
    use prost::Message;
    let decoded = (1..=1000u64)
        .filter(|&seed| pb::ScoreBatchRequest::decode(&schema_soup(seed)[..]).is_ok())
        .count();
    assert!(decoded > 300, "{decoded} of 1000");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn wire_decoder_agrees_with_prost_on_valid_requests(request in batch_request()) {
        use prost::Message;
        let bytes = request.encode_to_vec();
        let (prost, wire) = both_decoders(&bytes);
        prop_assert!(prost.is_some());
        prop_assert_eq!(prost, wire);
    }

    #[test]
    fn wire_decoder_agrees_with_prost_on_damaged_requests(
        request in batch_request(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..4u8), 1..4),
        soup in field_soup(),
    ) {
        use prost::Message;
        let mut bytes = request.encode_to_vec();
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, byte),
                _ => bytes.splice(i..i, soup.iter().copied()).for_each(drop),
            }
        }
        let (prost, wire) = both_decoders(&bytes);
        prop_assert_eq!(prost, wire);
    }

    #[test]
    fn wire_decoder_agrees_with_prost_on_field_soup(soup in field_soup()) {
        let (prost, wire) = both_decoders(&soup);
        prop_assert_eq!(prost, wire);
    }

    #[test]
    fn wire_decoder_agrees_with_prost_on_schema_soup(seed in any::<u64>()) {
        let (prost, wire) = both_decoders(&schema_soup(seed));
        prop_assert_eq!(prost, wire);
    }
}

/// Groups nested around prost's recursion limit, in an unknown field of an account: both
/// decoders accept or refuse at the same depth.
#[test]
fn wire_decoder_counts_the_recursion_limit_as_prost_does() {
    let mut agreed = (0, 0);
    for depth in 90..=105 {
        let mut group = Vec::new();
        for _ in 0..depth {
            group.push(9 << 3 | 3);
        }
        for _ in 0..depth {
            group.push(9 << 3 | 4);
        }
        // An account (field 1) holding only the groups.
        let mut bytes = vec![1 << 3 | 2];
        prost::encoding::encode_varint(group.len() as u64, &mut bytes);
        bytes.extend_from_slice(&group);
        let (prost, wire) = both_decoders(&bytes);
        assert_eq!(prost, wire, "groups nested {depth} deep");
        if prost.is_some() {
            agreed.0 += 1;
        } else {
            agreed.1 += 1;
        }
    }
    // The range straddles the limit: some depths decode, some do not.
    assert!(agreed.0 > 0 && agreed.1 > 0, "{agreed:?}");
}

// The server encodes `ScoreBatch` and `ScoreStream` replies by hand (`payrisk::grpc::wire::encode`):
// the bytes must be prost's encoding of the same decisions, for every kind of outcome.

/// The shipped policy with a champion/challenger experiment in `mode` (`split` or `shadow`),
/// the logistic model on both arms (quick to load; the encoding does not depend on the model).
fn experiment(mode: &str) -> Deployment {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped =
        std::fs::read_to_string(root.join(payrisk::serve::DEFAULT_POLICY)).expect("policy");
    let model = root.join(payrisk::serve::LOGISTIC_MODEL);
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "{shipped}\n[experiment]\nname = \"trial\"\nshare = 0.5\nmode = \"{mode}\"\nchallenger_model = \"{}\"\n",
            model.display()
        ),
    )
    .expect("write policy");
    Deployment::load(&model, &policy).expect("experiment deployment")
}

/// Batches of valid and invalid accounts, with and without reason codes, decided at the time
/// the plausible accounts' contacts and promises are dated against (so contact caps apply).
fn reply_request() -> impl Strategy<Value = pb::ScoreBatchRequest> {
    (
        proptest::collection::vec(
            prop_oneof![4 => plausible_account(), 1 => account_message()],
            0..6,
        ),
        prop_oneof![Just(None), Just(Some(0)), (1..=8u32).prop_map(Some)],
        prop_oneof![Just(0u64), any::<u64>()],
    )
        .prop_map(|(accounts, max_reasons, batch_id)| pb::ScoreBatchRequest {
            accounts,
            max_reasons,
            batch_id,
            decision_time: Some(prost_types::Timestamp {
                seconds: 1_767_225_600,
                nanos: 0,
            }),
        })
}

#[test]
fn batch_replies_are_prosts_encoding_of_the_same_decisions() {
    use payrisk::grpc::convert::batch_response;
    use payrisk::grpc::wire::encode::BatchReply;
    use proptest::strategy::ValueTree;
    use prost::Message;

    let mut deployments: Vec<&Deployment> = deployments().iter().collect();
    let experiments = [experiment("split"), experiment("shadow")];
    deployments.extend(&experiments);
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = reply_request();
    // What the samples covered, so that the comparison is known to have seen each kind.
    let (mut errors, mut reasons, mut guards, mut shadows, mut long) = (0, 0, 0, 0, 0);
    let (mut holds, mut hours) = (0, 0);
    for _ in 0..300 {
        let request = strategy.new_tree(&mut runner).expect("sample").current();
        for deployment in &deployments {
            let Ok(batch) = payrisk::grpc::scoring::score_batch(deployment, request.clone()) else {
                continue;
            };
            let expected = batch_response(&batch);
            assert_eq!(
                BatchReply::encode(&batch).as_bytes(),
                expected.encode_to_vec(),
                "{expected:?}"
            );
            for r in &expected.results {
                match &r.outcome {
                    Some(pb::score_result::Outcome::Score(s)) => {
                        reasons += usize::from(!s.reasons.is_empty());
                        let guard = |a: &Option<pb::NextAction>| {
                            a.as_ref().is_some_and(|a| a.guard.is_some())
                        };
                        guards += usize::from(guard(&s.next_action));
                        let rule = s
                            .next_action
                            .as_ref()
                            .and_then(|a| a.guard.as_ref())
                            .map(|g| (g.rule.as_str(), g.next_permitted_time.is_some()));
                        holds += usize::from(matches!(
                            rule,
                            Some(("bankruptcy" | "deceased" | "dispute_pending", _))
                        ));
                        hours += usize::from(rule == Some(("contact_hours", true)));
                        shadows += usize::from(s.shadow.is_some());
                        long += usize::from(s.encoded_len() >= 16_384 / 64);
                    }
                    _ => errors += 1,
                }
            }
        }
    }
    for (what, n) in [
        ("error outcomes", errors),
        ("reason codes", reasons),
        ("contact guards", guards),
        ("shadow decisions", shadows),
        ("responses of 256 bytes or more", long),
        ("compliance holds", holds),
        ("contact-hours guards with a next permitted time", hours),
    ] {
        assert!(n >= 20, "only {n} {what}");
    }
}
