//! Hot reload: the model and policy change under a running server without a failed call; a bad
//! file leaves the previous version serving and says why; a model repository serves its latest
//! valid version; the file poll and SIGHUP trigger reloads.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{default_config, good_account, repo, Binary, TestServer};
use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::proto::v1::admin_service_client::AdminServiceClient;
use payrisk::grpc::proto::v1::scoring_service_client::ScoringServiceClient;
use payrisk::grpc::server::ServerConfig;
use payrisk::serve::{DEFAULT_MODEL, LOGISTIC_MODEL};
use tonic::transport::Channel;
use tonic::Code;

/// The shipped artifact at `model`, declaring `version`.
fn artifact(model: &str, version: &str) -> String {
    let text = std::fs::read_to_string(repo(model)).expect("shipped model");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
    json["version"] = version.into();
    serde_json::to_string(&json).expect("json")
}

/// Writes `text` to `path` as a deployment tool should: to a temporary name, then renamed.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn config(model: PathBuf, poll_secs: u64) -> ServerConfig {
    ServerConfig {
        model,
        reload_poll_secs: poll_secs,
        ..default_config()
    }
}

async fn info(channel: &Channel) -> pb::ModelInfo {
    ScoringServiceClient::new(channel.clone())
        .get_model_info(pb::GetModelInfoRequest {})
        .await
        .expect("model info")
        .into_inner()
}

async fn probability(channel: &Channel) -> f64 {
    ScoringServiceClient::new(channel.clone())
        .score(pb::ScoreRequest {
            account: Some(good_account("reload")),
            ..Default::default()
        })
        .await
        .expect("score")
        .into_inner()
        .repayment_probability
}

#[tokio::test]
async fn reload_swaps_the_model_and_a_bad_file_leaves_the_old_one_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("model.json");
    write_atomically(&model, &artifact(DEFAULT_MODEL, "2"));
    let server = TestServer::start_with(config(model.clone(), 0)).await;
    let channel = server.channel().await;
    let mut admin = AdminServiceClient::new(channel.clone());
    let before = probability(&channel).await;
    assert_eq!(info(&channel).await.kind, "gbdt");

    // A truncated file: refused, named, and the old version keeps serving.
    let good = artifact(DEFAULT_MODEL, "2");
    std::fs::write(&model, &good[..good.len() / 2]).expect("truncate");
    let status = admin
        .reload(pb::ReloadRequest {})
        .await
        .expect_err("a truncated model");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains(&model.display().to_string())
            && status.message().contains("keeps serving"),
        "{status:?}"
    );
    assert_eq!(probability(&channel).await, before);
    let i = info(&channel).await;
    let reload = i.reload.expect("reload status");
    assert_eq!(
        (i.kind.as_str(), reload.reloads, reload.failed_reloads),
        ("gbdt", 0, 1)
    );
    assert!(reload.last_error.contains("cannot parse"), "{reload:?}");
    assert!(reload.last_attempt_at.is_some());

    // A valid new model: swapped in, and the error cleared.
    write_atomically(&model, &artifact(LOGISTIC_MODEL, "3"));
    let i = admin
        .reload(pb::ReloadRequest {})
        .await
        .expect("a valid model")
        .into_inner();
    assert_eq!((i.kind.as_str(), i.version.as_str()), ("logistic", "3"));
    let reload = i.reload.expect("reload status");
    assert_eq!((reload.reloads, reload.failed_reloads), (1, 1));
    assert!(reload.last_error.is_empty(), "{reload:?}");
    assert_ne!(probability(&channel).await, before);
    server.stop().await;
}

#[tokio::test]
async fn a_model_repository_serves_its_latest_valid_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repository = dir.path().join("uci-credit");
    let add = |version: &str, text: &str| {
        let d = repository.join(version);
        std::fs::create_dir_all(&d).expect("dir");
        write_atomically(&d.join("model.json"), text);
    };
    add("1", &artifact(LOGISTIC_MODEL, "1"));
    add("2", &artifact(DEFAULT_MODEL, "2"));
    // A newer version that is not valid is skipped, and says why.
    add("10", "{\"schema_version\": 1");
    let server = TestServer::start_with(config(repository.clone(), 0)).await;
    let channel = server.channel().await;
    let i = info(&channel).await;
    assert_eq!((i.version.as_str(), i.kind.as_str()), ("2", "gbdt"));
    let reload = i.reload.expect("reload status");
    assert!(reload.model_path.ends_with("2/model.json"), "{reload:?}");
    assert!(reload.last_error.contains("10/model.json"), "{reload:?}");

    // A valid version 11 serves after a reload; one whose artifact declares another version
    // than its directory does not.
    add("12", &artifact(LOGISTIC_MODEL, "1"));
    add("11", &artifact(LOGISTIC_MODEL, "11"));
    let i = AdminServiceClient::new(channel.clone())
        .reload(pb::ReloadRequest {})
        .await
        .expect("reload")
        .into_inner();
    assert_eq!((i.version.as_str(), i.kind.as_str()), ("11", "logistic"));
    let reload = i.reload.expect("reload status");
    assert!(
        reload
            .last_error
            .contains("declares version \"1\" but sits in directory \"12\""),
        "{reload:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_hundred_swaps_while_clients_keep_calling_fail_no_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("model.json");
    let versions = [artifact(LOGISTIC_MODEL, "1"), artifact(DEFAULT_MODEL, "2")];
    write_atomically(&model, &versions[0]);
    let server = TestServer::start_with(config(model.clone(), 0)).await;
    let channel = server.channel().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (calls, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut clients = Vec::new();
    for c in 0..3 {
        let (channel, stop, calls, failures) = (
            channel.clone(),
            stop.clone(),
            calls.clone(),
            failures.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut client = ScoringServiceClient::new(channel);
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                let account = good_account(&format!("c{c}"));
                let ok = if c == 2 {
                    // Batches too: a whole batch is scored by one version.
                    client
                        .score_batch(pb::ScoreBatchRequest {
                            accounts: vec![account; 20],
                            max_reasons: Some(0),
                            ..Default::default()
                        })
                        .await
                        .is_ok_and(|r| {
                            let r = r.into_inner();
                            let models: std::collections::BTreeSet<String> = r
                                .results
                                .iter()
                                .filter_map(|x| match &x.outcome {
                                    Some(pb::score_result::Outcome::Score(s)) => {
                                        Some(s.model_version.clone())
                                    }
                                    _ => None,
                                })
                                .collect();
                            r.results.len() == 20 && models.len() == 1
                        })
                } else {
                    match client
                        .score(pb::ScoreRequest {
                            account: Some(account),
                            ..Default::default()
                        })
                        .await
                    {
                        Ok(r) => {
                            seen.insert(r.into_inner().model_version);
                            true
                        }
                        Err(_) => false,
                    }
                };
                calls.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            seen
        }));
    }
    let mut admin = AdminServiceClient::new(channel.clone());
    for swap in 0..100 {
        write_atomically(&model, &versions[(swap + 1) % 2]);
        let i = admin
            .reload(pb::ReloadRequest {})
            .await
            .expect("reload")
            .into_inner();
        assert_eq!(i.version, ["2", "1"][swap % 2]);
    }
    stop.store(true, Ordering::Relaxed);
    let mut seen = std::collections::BTreeSet::new();
    for c in clients {
        seen.extend(c.await.expect("client"));
    }
    let calls = calls.load(Ordering::Relaxed);
    assert_eq!(failures.load(Ordering::Relaxed), 0, "of {calls} calls");
    assert!(calls >= 100, "only {calls} calls during 100 swaps");
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["1", "2"]);
    let reload = info(&channel).await.reload.expect("reload status");
    assert_eq!((reload.reloads, reload.failed_reloads), (100, 0));
    server.stop().await;
}

#[tokio::test]
async fn the_file_poll_reloads_a_changed_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("model.json");
    write_atomically(&model, &artifact(LOGISTIC_MODEL, "1"));
    let server = TestServer::start_with(config(model.clone(), 1)).await;
    let channel = server.channel().await;
    assert_eq!(info(&channel).await.version, "1");
    write_atomically(&model, &artifact(LOGISTIC_MODEL, "7"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while info(&channel).await.version != "7" {
        assert!(Instant::now() < deadline, "the poll did not reload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A bad file is tried once, not on every poll, and the old version serves on.
    std::fs::write(&model, "not json").expect("write");
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let i = info(&channel).await;
    let reload = i.reload.expect("reload status");
    assert_eq!(i.version, "7");
    assert_eq!(
        (reload.reloads, reload.failed_reloads),
        (1, 1),
        "{reload:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_binary_reloads_on_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("model.json");
    write_atomically(&model, &artifact(LOGISTIC_MODEL, "1"));
    let server = Binary::start(
        &[
            "--reload-poll-secs".as_ref(),
            "0".as_ref(),
            "--model".as_ref(),
            model.as_os_str(),
        ],
        Stdio::null(),
    )
    .await;
    let channel = server.channel.clone();
    assert_eq!(info(&channel).await.version, "1");
    write_atomically(&model, &artifact(LOGISTIC_MODEL, "5"));
    server.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(15);
    while info(&channel).await.version != "5" {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut child = server.child;
    assert!(
        child.try_wait().expect("wait").is_none(),
        "SIGHUP ended the server"
    );
    let _ = child.kill();
    let _ = child.wait();
}
