//! The audit trail: every decision returned is in the log, with its request id, model, policy,
//! arm and outcome; the log rotates without losing a record; and a server killed with SIGKILL
//! under load has every acknowledged decision on disk, in a readable log.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{default_config, get, good_account, samples, Binary, TestServer};
use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::proto::v1::scoring_service_client::ScoringServiceClient;
use payrisk::serve::audit::{AuditConfig, AuditMode};

/// Every complete record in the log directory, and how many lines were cut short (a crash in the
/// middle of a write can leave one at the end of a file).
fn read_log(dir: &Path) -> (Vec<serde_json::Value>, usize) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("log dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let (mut records, mut torn) = (Vec::new(), 0);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("utf-8 log");
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            torn += 1;
        }
        for line in text[..complete].lines() {
            records.push(serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")));
        }
    }
    (records, torn)
}

fn audit_config(
    dir: &Path,
    mode: AuditMode,
    max_file_bytes: u64,
) -> payrisk::grpc::server::ServerConfig {
    payrisk::grpc::server::ServerConfig {
        audit: Some(AuditConfig {
            mode,
            max_file_bytes,
            ..AuditConfig::new(dir.to_path_buf())
        }),
        ..default_config()
    }
}

#[tokio::test]
async fn every_decision_is_recorded_with_its_request_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server =
        TestServer::start_with(audit_config(dir.path(), AuditMode::Durable, 64 << 20)).await;
    let mut client = server.client().await;

    let mut request = tonic::Request::new(pb::ScoreRequest {
        account: Some(good_account("one")),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-request-id", "req-1".parse().expect("ascii"));
    let response = client.score(request).await.expect("score");
    assert_eq!(
        response
            .metadata()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-1")
    );
    let one = response.into_inner();

    // A batch with a bad account in the middle: the two decisions are recorded, the error not.
    let batch = client
        .score_batch(pb::ScoreBatchRequest {
            accounts: vec![
                good_account("b0"),
                pb::Account::default(),
                good_account("b2"),
            ],
            max_reasons: Some(0),
            ..Default::default()
        })
        .await
        .expect("batch");
    let batch_id = batch
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a generated request id")
        .to_owned();

    let chunks = (7..9).map(|b| pb::ScoreBatchRequest {
        accounts: vec![good_account(&format!("s{b}"))],
        max_reasons: Some(0),
        batch_id: b,
        ..Default::default()
    });
    let mut stream = client
        .score_stream(tokio_stream::iter(chunks))
        .await
        .expect("stream")
        .into_inner();
    while stream.message().await.expect("chunk").is_some() {}
    server.stop().await;

    let (records, torn) = read_log(dir.path());
    assert_eq!(torn, 0);
    assert_eq!(records.len(), 5, "{records:?}");
    let by_account: HashMap<&str, &serde_json::Value> = records
        .iter()
        .map(|r| (r["account_id"].as_str().expect("id"), r))
        .collect();
    let r = by_account["one"];
    assert_eq!(r["request_id"], "req-1");
    assert_eq!(r["rpc"], "Score");
    assert_eq!(r["probability"].as_f64(), Some(one.repayment_probability));
    assert_eq!(r["model"], "uci-credit");
    assert_eq!(r["model_version"], "2");
    assert_eq!(r["policy_version"], one.policy_version.as_str());
    assert_eq!(r["arm"], "champion");
    // The record is found by the response's decision id, and carries the account's state.
    assert_eq!(r["decision_id"], one.decision_id.as_str());
    assert!(r["balance"].as_f64().is_some(), "{r}");
    assert!(r["days_past_due"].as_u64().is_some(), "{r}");
    assert!(r.get("experiment").is_none(), "no experiment runs");
    assert_eq!(r["band"], one.risk_band.as_str());
    let action = one.next_action.expect("action");
    assert_eq!(r["action"], action.action.as_str());
    assert_eq!(r["channel"], action.channel.as_str());
    let reasons: Vec<&str> = one.reasons.iter().map(|x| x.code.as_str()).collect();
    assert_eq!(r["reasons"], serde_json::json!(reasons));
    assert!(r["time"].as_str().is_some_and(|t| t.len() > 19));

    assert_eq!(by_account["b0"]["request_id"], batch_id.as_str());
    assert_eq!(by_account["b2"]["index"], 2);
    assert_eq!(by_account["s7"]["batch_id"], 7);
    assert_eq!(by_account["s8"]["batch_id"], 8);
    assert_eq!(by_account["s8"]["rpc"], "ScoreStream");
}

#[tokio::test]
async fn the_log_rotates_without_losing_a_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        metrics_addr: Some(metrics),
        ..audit_config(dir.path(), AuditMode::Async, 2_000)
    })
    .await;
    let mut client = server.client().await;
    for i in 0..30 {
        client
            .score(pb::ScoreRequest {
                account: Some(good_account(&format!("r{i}"))),
                ..Default::default()
            })
            .await
            .expect("score");
    }
    // The writer counts what it wrote (async mode: wait for the queue to drain).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = get(metrics, "/metrics").await;
        let s = samples(&body);
        let written = s.get("payrisk_audit_records_total{result=\"written\"}");
        if written == Some(&30.0) {
            assert_eq!(
                s.get("payrisk_audit_records_total{result=\"failed\"}"),
                Some(&0.0)
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{written:?}\n{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
    // However the writer grouped the calls, no file passes the limit and none is wasted.
    let sizes: Vec<u64> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .collect();
    let total: u64 = sizes.iter().sum();
    assert!(sizes.iter().all(|&s| s <= 2_000), "{sizes:?}");
    assert!(sizes.len() as u64 >= total.div_ceil(2_000), "{sizes:?}");
    assert!(sizes.len() >= 3, "30 records fill several files: {sizes:?}");
    let (records, torn) = read_log(dir.path());
    assert_eq!(torn, 0);
    let ids: HashSet<&str> = records
        .iter()
        .map(|r| r["account_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 30);
}

#[tokio::test]
async fn a_killed_server_has_every_acknowledged_decision_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit");
    let mut server = Binary::start(
        &[
            "--audit-mode".as_ref(),
            "durable".as_ref(),
            "--audit-max-file-bytes".as_ref(),
            "200000".as_ref(),
            "--audit-dir".as_ref(),
            log.as_os_str(),
        ],
        Stdio::null(),
    )
    .await;
    let channel = server.channel.clone();

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for c in 0..8 {
        let (channel, acknowledged) = (channel.clone(), acknowledged.clone());
        clients.push(tokio::spawn(async move {
            let mut client = ScoringServiceClient::new(channel);
            for i in 0.. {
                let id = format!("k{c}-{i}");
                let account = good_account(&id);
                let ok = if i % 4 == 0 {
                    client
                        .score_batch(pb::ScoreBatchRequest {
                            accounts: vec![account; 10],
                            max_reasons: Some(0),
                            ..Default::default()
                        })
                        .await
                        .is_ok()
                } else {
                    client
                        .score(pb::ScoreRequest {
                            account: Some(account),
                            ..Default::default()
                        })
                        .await
                        .is_ok()
                };
                if !ok {
                    break; // the server is gone
                }
                acknowledged.lock().expect("lock").push(id);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.signal("-KILL");
    let _ = server.child.wait();
    for c in clients {
        c.await.expect("client");
    }

    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > 50,
        "only {} calls before the kill",
        acknowledged.len()
    );
    let (records, torn) = read_log(&log);
    assert!(torn <= 1, "{torn} torn lines");
    let recorded: HashSet<&str> = records
        .iter()
        .map(|r| r["account_id"].as_str().expect("id"))
        .collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !recorded.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged but not recorded: {missing:?}",
        missing.len()
    );
}

/// The audit log becomes the typed decisions table, keyed by the responses' decision ids; a
/// corrupt line and a line cut short by a crash are errors with file and line, never skipped,
/// and `--lenient` keeps the good lines and returns the refused ones.
#[cfg(feature = "train")]
// Multi-threaded: Polars, which reads the events table, blocks in place on its own runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_becomes_the_decisions_table() {
    use payrisk::train::decisions;
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit");
    let server = TestServer::start_with(audit_config(&log, AuditMode::Durable, 64 << 20)).await;
    let mut client = server.client().await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let r = client
            .score(pb::ScoreRequest {
                account: Some(good_account(&format!("d{i}"))),
                ..Default::default()
            })
            .await
            .expect("score")
            .into_inner();
        ids.push(r.decision_id);
    }
    server.stop().await;

    let read = decisions::read(&log, false).expect("a clean log");
    let read_ids: Vec<&str> = read
        .records
        .iter()
        .map(|r| r.decision_id.as_str())
        .collect();
    assert_eq!(read_ids, ids);
    let out = dir.path().join("decisions.parquet");
    decisions::write(&read.records, &out).expect("write");
    let df = ParquetReader::new(std::fs::File::open(&out).expect("open"))
        .finish()
        .expect("read parquet");
    assert_eq!(df.height(), 4);
    assert!(matches!(
        df.column("decision_time").expect("column").dtype(),
        DataType::Datetime(TimeUnit::Milliseconds, _)
    ));
    assert_eq!(
        df.column("days_past_due").expect("column").dtype(),
        &DataType::UInt32
    );

    // Damage: a corrupt second line, and a last line cut short.
    let file = std::fs::read_dir(&log)
        .expect("log")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("a log file");
    let text = std::fs::read_to_string(&file).expect("log text");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(1, "{\"decision_id\": 7,");
    let damaged = format!("{}\n{{\"decision_id\":\"cut", lines.join("\n"));
    std::fs::write(&file, damaged).expect("damage");
    let err = decisions::read(&log, false)
        .expect_err("damage is an error")
        .to_string();
    assert!(err.starts_with("2 problem(s)"), "{err}");
    let name = file.display().to_string();
    assert!(
        err.contains(&format!("{name}: line 2: not a decision record")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}: line 6: the line is cut short")),
        "{err}"
    );
    assert!(err.contains("cut short"), "{err}");
    let lenient = decisions::read(&log, true).expect("lenient");
    assert_eq!(lenient.records.len(), 4);
    assert_eq!(lenient.rejects.len(), 2);

    // What happened after: events against the decisions, every kind of bad row named.
    let day = |r: &decisions::DecisionRecord, days: i64| {
        (r.decision_time.date_naive() + chrono::Duration::days(days)).to_string()
    };
    let (a, b) = (&read.records[0], &read.records[1]);
    let events = format!(
        "decision_id,date,event,amount,stage\n\
         {a_id},{a5},payment,120.5,\n\
         {a_id},{a9},cured,,\n\
         {b_id},{b1},cost,2.5,\n\
         unknown,{b1},payment,10,\n\
         {b_id},{b_before},payment,10,\n\
         {b_id},{b1},payment,-3,\n\
         {a_id},{a5},payment,120.5,\n\
         {b_id},{b1},refund,1,\n",
        a_id = a.decision_id,
        b_id = b.decision_id,
        a5 = day(a, 5),
        a9 = day(a, 9),
        b1 = day(b, 1),
        b_before = day(b, -1),
    );
    let path = dir.path().join("events.csv");
    std::fs::write(&path, events).expect("write events");
    let options = payrisk::train::tables::ReadOptions::default();
    let index = payrisk::train::decisions::DecisionIndex::of_records(&read.records);
    let err = payrisk::train::events::read(&path, &index, &options, false)
        .expect_err("bad rows")
        .to_string();
    assert!(err.starts_with("5 problem(s)"), "{err}");
    for (row, column, words) in [
        (4, "decision_id", "is not in the decisions table"),
        (5, "date", "is before its decision"),
        (6, "amount", "more than 0"),
        (7, "decision_id", "repeats an earlier row"),
        (8, "event", "unknown event `refund`"),
    ] {
        assert!(
            err.contains(&format!("row {row}, column `{column}`: ")) && err.contains(words),
            "row {row}: {err}"
        );
    }
    let joined =
        payrisk::train::events::read(&path, &index, &options, true).expect("lenient events");
    assert_eq!(
        (
            joined.events.len(),
            joined.rejects.len(),
            joined.decisions_with_events
        ),
        (3, 5, 2)
    );

    // The readout command: strict, the damaged log stops it with its file and line; lenient,
    // the bad lines and rows go to rejects.csv and the readout counts them.
    let args = |lenient: bool| payrisk::train::cli::ReadoutArgs {
        decisions: log.clone(),
        events: path.clone(),
        window: 30,
        as_of: None,
        planned_accounts: None,
        primary: payrisk::train::readout::Metric::Recovery,
        tables: None,
        segment: None,
        lenient,
        null_values: Vec::new(),
        out: dir.path().join("readout"),
    };
    let err = payrisk::train::cli::readout(&args(false))
        .expect_err("bad rows stop a strict readout")
        .to_string();
    assert!(err.contains(&format!("{name}: line 2: ")), "{err}");
    let said = payrisk::train::cli::readout(&args(true)).expect("a lenient readout");
    // The two damaged audit lines and the five bad event rows.
    assert!(said.contains("7 row(s) refused"), "{said}");
    let rejects = std::fs::read_to_string(dir.path().join("readout/rejects.csv")).expect("rejects");
    assert_eq!(rejects.lines().count(), 1 + 7, "{rejects}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("readout/readout.json")).expect("json"),
    )
    .expect("valid json");
    assert_eq!(json["join"]["decisions"], 4);
    assert_eq!(json["join"]["events_joined"], 3);
    assert_eq!(json["join"]["events_refused"], 5);
    // A CSV copy of the decisions table has lost its types: refused, saying what to give.
    let csv = payrisk::train::cli::readout(&payrisk::train::cli::ReadoutArgs {
        decisions: dir.path().join("decisions.csv"),
        ..args(true)
    })
    .expect_err("a CSV decisions table")
    .to_string();
    assert!(csv.contains("as Parquet"), "{csv}");
}
