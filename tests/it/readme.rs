//! The README's example call and its answer are the shipped model's: the request block is this
//! account, and the answer block is what the shipped model and policy answer for it, printed as
//! grpcurl prints it. A change to the model, the policy or the contract that moves the answer
//! fails this test with the block to paste (or run it with `PAYRISK_BLESS_README=1` to rewrite
//! the README).

use std::fmt::Write as _;
use std::path::PathBuf;

use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::scoring::score_request;
use payrisk::serve::{Deployment, DEFAULT_MODEL, DEFAULT_POLICY};

const REQUEST_START: &str = "<!-- example request: tests/it/readme.rs -->";
const ANSWER_START: &str = "<!-- example answer: tests/it/readme.rs -->";

fn date(year: i32, month: i32, day: i32) -> Option<pb::Date> {
    Some(pb::Date { year, month, day })
}

fn cycle(month: i32, day: i32, due: f64, paid: f64, dpd: u32) -> pb::PaymentCycle {
    pb::PaymentCycle {
        statement_date: date(2025, month, day),
        amount_due: due,
        minimum_due: (due * 0.05).round(),
        amount_paid: paid,
        days_past_due: dpd,
    }
}

/// The README's account: 60 days past due, nothing paid for two cycles.
fn account() -> pb::Account {
    pb::Account {
        account_id: "A-1001".into(),
        as_of: date(2025, 6, 30),
        profile: Some(pb::CreditProfile {
            credit_limit: 5000.0,
            current_balance: 4200.0,
            months_on_book: 30,
            open_credit_lines: 2,
            ..Default::default()
        }),
        history: vec![
            cycle(4, 30, 3900.0, 400.0, 0),
            cycle(5, 31, 4100.0, 0.0, 30),
            cycle(6, 30, 4200.0, 0.0, 60),
        ],
        ..Default::default()
    }
}

/// The grpcurl command of the README, with the account as JSON.
fn request_block(a: &pb::Account) -> String {
    let p = a.profile.as_ref().expect("profile");
    let d = |d: &Option<pb::Date>| {
        let d = d.as_ref().expect("date");
        format!(
            "{{\"year\": {}, \"month\": {}, \"day\": {}}}",
            d.year, d.month, d.day
        )
    };
    let mut s = String::from("```sh\ngrpcurl -plaintext -d '{\n  \"account\": {\n");
    let _ = writeln!(s, "    \"account_id\": \"{}\",", a.account_id);
    let _ = writeln!(s, "    \"as_of\": {},", d(&a.as_of));
    let _ = writeln!(
        s,
        "    \"profile\": {{\"credit_limit\": {}, \"current_balance\": {}, \"months_on_book\": {}, \"open_credit_lines\": {}}},",
        p.credit_limit, p.current_balance, p.months_on_book, p.open_credit_lines
    );
    s.push_str("    \"history\": [\n");
    for (i, c) in a.history.iter().enumerate() {
        let comma = if i + 1 < a.history.len() { "," } else { "" };
        let _ = writeln!(
            s,
            "      {{\"statement_date\": {}, \"amount_due\": {}, \"minimum_due\": {}, \"amount_paid\": {}, \"days_past_due\": {}}}{comma}",
            d(&c.statement_date),
            c.amount_due,
            c.minimum_due,
            c.amount_paid,
            c.days_past_due
        );
    }
    s.push_str("    ]\n  }\n}' 127.0.0.1:50051 payrisk.v1.ScoringService/Score\n```\n");
    s
}

/// A JSON string literal.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The answer as grpcurl prints it (proto3 JSON names, defaults left out, fields in tag order).
fn answer_block(r: &pb::ScoreResponse) -> String {
    let mut s = String::from("```json\n{\n");
    let mut fields: Vec<String> = vec![
        format!("\"accountId\": {}", quoted(&r.account_id)),
        format!("\"repaymentProbability\": {}", r.repayment_probability),
        format!("\"score\": {}", r.score),
        format!("\"riskBand\": {}", quoted(&r.risk_band)),
        format!(
            "\"treatment\": {}",
            quoted(
                pb::Treatment::try_from(r.treatment)
                    .expect("a known treatment")
                    .as_str_name()
            )
        ),
    ];
    if let Some(n) = &r.next_action {
        fields.push(format!(
            "\"nextAction\": {{\n    \"action\": {},\n    \"channel\": {},\n    \"stage\": {},\n    \"rationale\": {}\n  }}",
            quoted(&n.action),
            quoted(&n.channel),
            quoted(&n.stage),
            quoted(&n.rationale)
        ));
    }
    fields.push(format!("\"priority\": {}", r.priority));
    let reasons: Vec<String> = r
        .reasons
        .iter()
        .map(|c| {
            let value = if c.value == 0.0 {
                String::new()
            } else {
                format!("\n      \"value\": {},", c.value)
            };
            format!(
                "    {{\n      \"code\": {},\n      \"contribution\": {},{value}\n      \"text\": {}\n    }}",
                quoted(&c.code),
                c.contribution,
                quoted(&c.text)
            )
        })
        .collect();
    fields.push(format!("\"reasons\": [\n{}\n  ]", reasons.join(",\n")));
    fields.push(format!("\"modelName\": {}", quoted(&r.model_name)));
    fields.push(format!("\"modelVersion\": {}", quoted(&r.model_version)));
    fields.push(format!("\"policyVersion\": {}", quoted(&r.policy_version)));
    if !r.arm.is_empty() {
        fields.push(format!("\"arm\": {}", quoted(&r.arm)));
    }
    s.push_str(
        &fields
            .iter()
            .map(|f| format!("  {f}"))
            .collect::<Vec<_>>()
            .join(",\n"),
    );
    s.push_str("\n}\n```\n");
    s
}

/// The fenced block that follows `marker` in `text`, and where it sits.
fn block_after(text: &str, marker: &str) -> Option<(usize, usize)> {
    let at = text.find(marker)? + marker.len();
    let start = at + text[at..].find("```")?;
    let body = start + 3;
    let end = body + text[body..].find("\n```\n")? + "\n```\n".len();
    Some((start, end))
}

#[test]
fn the_readme_example_is_what_the_shipped_model_answers() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let deployment =
        Deployment::load(&root.join(DEFAULT_MODEL), &root.join(DEFAULT_POLICY)).expect("shipped");
    let request = pb::ScoreRequest {
        account: Some(account()),
        ..Default::default()
    };
    let answer = score_request(&deployment, request).expect("the example is valid");
    let path = root.join("README.md");
    let mut readme = std::fs::read_to_string(&path).expect("README.md");
    let expected = [
        (REQUEST_START, request_block(&account())),
        (ANSWER_START, answer_block(&answer)),
    ];
    let bless = std::env::var_os("PAYRISK_BLESS_README").is_some();
    for (marker, block) in &expected {
        let (start, end) = block_after(&readme, marker)
            .unwrap_or_else(|| panic!("README.md has no fenced block after `{marker}`"));
        if bless {
            readme.replace_range(start..end, block);
        } else {
            assert_eq!(
                &readme[start..end],
                block.as_str(),
                "README.md's block after `{marker}` is stale; it should read:\n{block}\n(or run with PAYRISK_BLESS_README=1)"
            );
        }
    }
    if bless {
        std::fs::write(&path, readme).expect("README.md written");
    }
}
