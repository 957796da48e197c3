//! End-to-end tests of the gRPC API: a real server on 127.0.0.1 with an ephemeral port, the
//! shipped default model and policy, and the generated client.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{account, good_account, risky_account, TestServer};
use payrisk::grpc::proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

/// A request decided at 2025-07-15 16:00 UTC (noon in New York, within the shipped policy's
/// contact hours), so that the actions do not depend on the hour the tests run.
fn score_request(a: pb::Account) -> pb::ScoreRequest {
    pb::ScoreRequest {
        account: Some(a),
        max_reasons: None,
        decision_time: Some(prost_types::Timestamp {
            seconds: 1_752_595_200,
            nanos: 0,
        }),
    }
}

/// The field names of an INVALID_ARGUMENT status's BadRequest detail.
fn violated_fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("a google.rpc.BadRequest detail")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

#[tokio::test]
async fn score_returns_a_complete_consistent_decision() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let info = client
        .get_model_info(pb::GetModelInfoRequest {})
        .await
        .expect("model info")
        .into_inner();
    // Without an experiment the champion is the only arm, and it has no mode.
    assert_eq!(info.arms.len(), 1, "{:?}", info.arms);
    assert_eq!(
        (info.arms[0].arm.as_str(), info.arms[0].mode.as_str()),
        ("champion", "")
    );

    let good = client
        .score(score_request(good_account("good-1")))
        .await
        .expect("score")
        .into_inner();
    let risky = client
        .score(score_request(risky_account("risky-1")))
        .await
        .expect("score")
        .into_inner();

    for r in [&good, &risky] {
        assert!((0.0..=1.0).contains(&r.repayment_probability));
        assert_eq!(r.model_name, info.name);
        assert_eq!(r.model_version, info.version);
        assert_eq!(r.policy_version, info.policy_version);
        assert!(!r.risk_band.is_empty());
        // Default scale: 600 points at 50:1, 20 points to double the odds.
        let p = r.repayment_probability;
        let points = 600.0 + 20.0 * ((p / (1.0 - p)) / 50.0).log2();
        assert!((r.score - points).abs() < 1e-6, "{} vs {points}", r.score);
        assert_eq!(r.reasons.len(), 4, "default number of reason codes");
        for w in r.reasons.windows(2) {
            assert!(w[0].contribution.abs() >= w[1].contribution.abs());
        }
        assert!(r.reasons.iter().all(|c| !c.text.is_empty()));
        let action = r.next_action.as_ref().expect("next action");
        assert!(!action.action.is_empty() && !action.channel.is_empty());
    }
    assert_eq!(good.account_id, "good-1");
    assert!(
        good.repayment_probability > risky.repayment_probability + 0.2,
        "good {} risky {}",
        good.repayment_probability,
        risky.repayment_probability
    );
    assert_eq!(good.treatment(), pb::Treatment::Soft);
    assert_eq!(risky.treatment(), pb::Treatment::Firm);
    assert_eq!(
        risky.next_action.as_ref().map(|a| a.stage.as_str()),
        Some("90+")
    );
    // The risky account's strongest reasons push toward default.
    assert!(risky.reasons[0].contribution < 0.0);
    // Priority is the expected loss.
    let balance = 2_000.0 + 100.0 * 12.0;
    assert!((risky.priority - (1.0 - risky.repayment_probability) * balance).abs() < 1e-6);
    assert!(risky.priority > good.priority);
    server.stop().await;
}

#[tokio::test]
async fn hardship_gets_a_soft_payment_plan_whatever_the_risk() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut a = risky_account("hardship-1");
    if let Some(p) = a.profile.as_mut() {
        p.hardship = true;
    }
    let r = client
        .score(score_request(a))
        .await
        .expect("score")
        .into_inner();
    assert_eq!(r.treatment(), pb::Treatment::Soft);
    assert_eq!(
        r.next_action.map(|a| a.action),
        Some("payment_plan_offer".to_owned())
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let server = TestServer::start().await;
    let mut client = server.client().await;

    let mut cases: Vec<(pb::Account, &str)> = Vec::new();
    let mut a = good_account("");
    a.account_id.clear();
    cases.push((a, "account.account_id"));
    let mut a = good_account("nan");
    a.history[3].amount_paid = f64::NAN;
    cases.push((a, "account.history[3].amount_paid"));
    let mut a = good_account("inf");
    if let Some(p) = a.profile.as_mut() {
        p.credit_limit = f64::INFINITY;
    }
    cases.push((a, "account.profile.credit_limit"));
    let mut a = good_account("neg");
    if let Some(p) = a.profile.as_mut() {
        p.current_balance = -5.0;
    }
    cases.push((a, "account.profile.current_balance"));
    let mut a = good_account("dpd");
    a.history[11].days_past_due = 4_000;
    cases.push((a, "account.history[11].days_past_due"));
    let a = account("long", 61, 1.0, 0);
    cases.push((a, "account.history"));
    let mut a = good_account("order");
    a.history.swap(2, 3);
    cases.push((a, "account.history[3].statement_date"));
    let mut a = good_account("attr");
    a.attributes.insert("region".into(), f64::NEG_INFINITY);
    cases.push((a, "account.attributes[region]"));

    for (account, field) in cases {
        let status = client.score(score_request(account)).await.expect_err(field);
        assert_eq!(violated_fields(&status), vec![field.to_owned()]);
        assert!(status.message().contains(field), "{}", status.message());
    }

    let status = client
        .score(pb::ScoreRequest {
            account: None,
            max_reasons: None,
            ..Default::default()
        })
        .await
        .expect_err("missing account");
    assert_eq!(violated_fields(&status), vec!["account"]);

    let status = client
        .score(pb::ScoreRequest {
            account: Some(good_account("k")),
            max_reasons: Some(33),
            ..Default::default()
        })
        .await
        .expect_err("too many reasons");
    assert_eq!(violated_fields(&status), vec!["max_reasons"]);

    // The server is still healthy after all that.
    client
        .score(score_request(good_account("after")))
        .await
        .expect("still serving");
    server.stop().await;
}

#[tokio::test]
async fn batch_keeps_order_and_isolates_bad_accounts() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut bad = good_account("bad");
    bad.history[0].amount_due = -1.0;
    let accounts = vec![good_account("a"), bad, risky_account("c")];
    let at = score_request(good_account("x")).decision_time;
    let response = client
        .score_batch(pb::ScoreBatchRequest {
            accounts: accounts.clone(),
            max_reasons: Some(2),
            batch_id: 7,
            decision_time: at,
        })
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(response.batch_id, 7);
    assert_eq!(response.results.len(), 3);
    let ids: Vec<&str> = response
        .results
        .iter()
        .map(|r| r.account_id.as_str())
        .collect();
    assert_eq!(ids, ["a", "bad", "c"]);
    for (i, r) in response.results.iter().enumerate() {
        assert_eq!(r.index as usize, i);
    }
    match &response.results[1].outcome {
        Some(pb::score_result::Outcome::Error(e)) => {
            let fields: Vec<&str> = e.violations.iter().map(|v| v.field.as_str()).collect();
            assert!(
                fields.contains(&"accounts[1].history[0].amount_due"),
                "{fields:?}"
            );
        }
        other => panic!("expected an error entry, got {other:?}"),
    }
    // Batch results equal unary results at the same decision time, decision ids included.
    for i in [0, 2] {
        let Some(pb::score_result::Outcome::Score(s)) = &response.results[i].outcome else {
            panic!("expected a score for {i}");
        };
        assert_eq!(s.reasons.len(), 2);
        assert_eq!(s.decision_id.len(), 32);
        let unary = client
            .score(pb::ScoreRequest {
                account: Some(accounts[i].clone()),
                max_reasons: Some(2),
                decision_time: at,
            })
            .await
            .expect("score")
            .into_inner();
        assert_eq!(&unary, s);
    }
    server.stop().await;
}

#[tokio::test]
async fn zero_reasons_scores_a_batch_together_with_the_same_decisions() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let accounts: Vec<pb::Account> = (0..300)
        .map(|i| {
            if i % 3 == 0 {
                risky_account(&format!("r{i}"))
            } else {
                account(
                    &format!("a{i}"),
                    1 + i % 12,
                    0.1 * (i % 10) as f64,
                    30 * (i % 5) as u32,
                )
            }
        })
        .collect();
    let batch = |max_reasons| pb::ScoreBatchRequest {
        accounts: accounts.clone(),
        max_reasons,
        ..Default::default()
    };
    let fast = client
        .score_batch(batch(Some(0)))
        .await
        .expect("batch")
        .into_inner();
    let full = client
        .score_batch(batch(None))
        .await
        .expect("batch")
        .into_inner();
    for (a, b) in fast.results.iter().zip(&full.results) {
        let (Some(pb::score_result::Outcome::Score(a)), Some(pb::score_result::Outcome::Score(b))) =
            (&a.outcome, &b.outcome)
        else {
            panic!("both scored");
        };
        assert!(a.reasons.is_empty());
        assert_eq!(b.reasons.len(), 4);
        assert!((a.repayment_probability - b.repayment_probability).abs() < 1e-12);
        assert_eq!(a.next_action, b.next_action);
        assert_eq!(a.risk_band, b.risk_band);
    }
    server.stop().await;
}

#[tokio::test]
async fn batch_over_ten_thousand_accounts_is_refused() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let accounts = vec![good_account("x"); 10_001];
    let status = client
        .score_batch(pb::ScoreBatchRequest {
            accounts,
            max_reasons: None,
            batch_id: 0,
            ..Default::default()
        })
        .await
        .expect_err("too many");
    assert_eq!(violated_fields(&status), vec!["accounts"]);

    let ok = client
        .score_batch(pb::ScoreBatchRequest {
            accounts: vec![good_account("x"); 10_000],
            max_reasons: None,
            batch_id: 0,
            ..Default::default()
        })
        .await
        .expect("10,000 is allowed")
        .into_inner();
    assert_eq!(ok.results.len(), 10_000);
    server.stop().await;
}

#[tokio::test]
async fn stream_answers_each_chunk_in_order() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // Sizes that make later messages finish first if the server let them overtake (it scores
    // two messages of a stream at once).
    let sizes = [2_000, 10, 100, 1_500, 5];
    let chunks: Vec<pb::ScoreBatchRequest> = (0..5u64)
        .map(|b| pb::ScoreBatchRequest {
            accounts: (0..sizes[b as usize])
                .map(|i| {
                    if i % 2 == 0 {
                        good_account(&format!("{b}-{i}"))
                    } else {
                        risky_account(&format!("{b}-{i}"))
                    }
                })
                .collect(),
            max_reasons: Some(1),
            batch_id: b,
            ..Default::default()
        })
        .collect();
    let mut responses = client
        .score_stream(tokio_stream::iter(chunks))
        .await
        .expect("stream")
        .into_inner();
    let mut seen = 0u64;
    while let Some(r) = responses.next().await {
        let r = r.expect("chunk");
        assert_eq!(r.batch_id, seen);
        assert_eq!(r.results.len(), sizes[seen as usize]);
        assert_eq!(r.results[3].account_id, format!("{seen}-3"));
        assert!(r
            .results
            .iter()
            .all(|x| matches!(x.outcome, Some(pb::score_result::Outcome::Score(_)))));
        seen += 1;
    }
    assert_eq!(seen, 5);
    server.stop().await;
}

#[tokio::test]
async fn a_stream_whose_client_does_not_read_stops_being_read() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let chunk = pb::ScoreBatchRequest {
        accounts: (0..200).map(|i| good_account(&format!("bp-{i}"))).collect(),
        max_reasons: Some(0),
        ..Default::default()
    };
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let requests = tokio_stream::iter(0..400u64).map(move |b| {
        counter.fetch_add(1, Ordering::Relaxed);
        pb::ScoreBatchRequest {
            batch_id: b,
            ..chunk.clone()
        }
    });
    let mut responses = client
        .score_stream(requests)
        .await
        .expect("stream")
        .into_inner();
    // The client reads nothing for a while: the server must stop reading too, instead of
    // scoring all 400 messages into memory. What it does take is bounded by the HTTP/2 flow
    // control windows (87 messages of 200 accounts here); with the server's reply buffer made
    // unbounded, it took 238 in the same time, limited only by the debug build's speed.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let taken = sent.load(Ordering::Relaxed);
    assert!(
        taken < 150,
        "{taken} of 400 messages taken from a client that reads nothing"
    );
    let mut seen = 0u64;
    while let Some(r) = responses.next().await {
        assert_eq!(r.expect("chunk").batch_id, seen);
        seen += 1;
    }
    assert_eq!(seen, 400);
    server.stop().await;
}

#[tokio::test]
async fn model_info_describes_the_shipped_model() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let info = client
        .get_model_info(pb::GetModelInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.name, "uci-credit");
    assert_eq!(info.kind, "gbdt");
    assert_eq!(info.version, "2");
    assert_eq!(info.artifact_schema_version, 1);
    assert!(info.features.iter().any(|f| f.name == "dpd_current"));
    assert!(info.features.iter().all(|f| !f.description.is_empty()));
    let test = info.test_metrics.expect("test metrics");
    assert!(test.auc >= 0.79, "held-out AUC {}", test.auc);
    assert_eq!(test.rows, 6_000);
    assert!(info.training_data_fingerprint.starts_with("sha256:"));
    assert_eq!(info.split, "test = account_id % 5 == 0");
    assert_eq!(info.policy_name, "default");
    server.stop().await;
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let config = payrisk::grpc::server::ServerConfig {
        max_message_bytes: 64 * 1024,
        ..common::default_config()
    };
    let server = TestServer::start_with(config).await;
    let mut client = server.client().await;
    let status = client
        .score_batch(pb::ScoreBatchRequest {
            accounts: vec![good_account("x"); 500],
            max_reasons: None,
            batch_id: 0,
            ..Default::default()
        })
        .await
        .expect_err("over the cap");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    client
        .score(score_request(good_account("small")))
        .await
        .expect("small requests still pass");
    server.stop().await;
}

/// The status of a unary call to `path` whose request message is `body`.
async fn raw_call(server: &TestServer, path: &'static str, body: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.expect("ready");
    grpc.unary::<Vec<u8>, Vec<u8>, common::RawCodec>(
        tonic::Request::new(body),
        http::uri::PathAndQuery::from_static(path),
        common::RawCodec,
    )
    .await
    .expect_err("an undecodable request is refused")
}

/// Undecodable requests (random bytes, a truncated message, an id that is not UTF-8) are the
/// caller's error: `INVALID_ARGUMENT` with a `BadRequest`, on the prost path (`Score`) and the
/// hand-written one (`ScoreBatch`) alike, never `INTERNAL`.
#[tokio::test]
async fn undecodable_requests_are_invalid_arguments() {
    let server = TestServer::start().await;
    let not_utf8 = vec![0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe];
    let truncated = vec![0x0a, 0x05, 0x0a];
    let random = vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x07, 0x13];
    for (path, body) in [
        ("/payrisk.v1.ScoringService/Score", not_utf8.clone()),
        ("/payrisk.v1.ScoringService/Score", truncated.clone()),
        ("/payrisk.v1.ScoringService/Score", random.clone()),
        ("/payrisk.v1.ScoringService/ScoreBatch", not_utf8),
        ("/payrisk.v1.ScoringService/ScoreBatch", truncated),
        ("/payrisk.v1.ScoringService/ScoreBatch", random),
    ] {
        let status = raw_call(&server, path, body.clone()).await;
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{path} {body:x?}: {status:?}"
        );
        let details = status.get_error_details();
        let bad = details.bad_request().expect("a BadRequest detail");
        assert_eq!(bad.field_violations.len(), 1, "{bad:?}");
        assert!(
            bad.field_violations[0]
                .description
                .starts_with("the message cannot be decoded"),
            "{bad:?}"
        );
    }
    server.stop().await;
}
