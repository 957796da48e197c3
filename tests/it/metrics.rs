//! The Prometheus endpoint: calls by method and status with latency histograms, decisions by
//! band, treatment, arm and model version, the serving version and reload results, and live
//! drift (by RPC too).

use crate::common;

use std::net::SocketAddr;

use common::{default_config, get, good_account, samples, TestServer};
use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::proto::v1::admin_service_client::AdminServiceClient;

/// `Score` calls the metrics text counts under `code`.
fn score_calls(text: &str, code: &str) -> f64 {
    samples(text)
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("payrisk_rpc_requests_total")
                && k.contains("ScoringService/Score\"")
                && k.contains(&format!("code=\"{code}\""))
        })
        .map(|(_, v)| v)
        .sum()
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

#[tokio::test]
async fn calls_decisions_and_reloads_are_exposed() {
    let metrics = free_addr();
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        metrics_addr: Some(metrics),
        ..default_config()
    })
    .await;
    let mut client = server.client().await;
    client
        .score(pb::ScoreRequest {
            account: Some(good_account("a")),
            ..Default::default()
        })
        .await
        .expect("score");
    let bad = client
        .score(pb::ScoreRequest::default())
        .await
        .expect_err("no account");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let batch = client
        .score_batch(pb::ScoreBatchRequest {
            accounts: (0..5).map(|i| good_account(&format!("b{i}"))).collect(),
            max_reasons: Some(0),
            ..Default::default()
        })
        .await
        .expect("batch")
        .into_inner();
    let band = match &batch.results[0].outcome {
        Some(pb::score_result::Outcome::Score(s)) => s.risk_band.clone(),
        other => panic!("{other:?}"),
    };
    AdminServiceClient::new(server.channel().await)
        .reload(pb::ReloadRequest {})
        .await
        .expect("reload");

    let (status, body) = get(metrics, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    let s = samples(&body);
    let at = |key: &str| {
        s.get(key)
            .copied()
            .unwrap_or_else(|| panic!("no {key} in\n{body}"))
    };
    let score = "/payrisk.v1.ScoringService/Score";
    assert_eq!(
        at(&format!(
            "payrisk_rpc_requests_total{{method=\"{score}\",code=\"OK\"}}"
        )),
        1.0
    );
    assert_eq!(
        at(&format!(
            "payrisk_rpc_requests_total{{method=\"{score}\",code=\"InvalidArgument\"}}"
        )),
        1.0
    );
    assert_eq!(
        at(&format!(
            "payrisk_rpc_duration_seconds_count{{method=\"{score}\",code=\"OK\"}}"
        )),
        1.0
    );
    assert_eq!(
        at("payrisk_rpc_requests_total{method=\"/payrisk.v1.ScoringService/ScoreBatch\",code=\"OK\"}"),
        1.0
    );
    // Six accounts decided by the champion, model version 2.
    let decided: f64 = s
        .iter()
        .filter(|(k, _)| {
            k.starts_with("payrisk_decisions_total{")
                && k.contains("arm=\"champion\"")
                && k.contains("model_version=\"2\"")
        })
        .map(|(_, v)| v)
        .sum();
    assert_eq!(decided, 6.0, "{body}");
    assert!(
        s.keys().any(|k| k.starts_with("payrisk_decisions_total{")
            && k.contains(&format!("band=\"{band}\""))),
        "{body}"
    );
    assert!(
        s.keys()
            .any(|k| k.starts_with("payrisk_model_info{model=\"uci-credit\",version=\"2\"")),
        "{body}"
    );
    assert_eq!(at("payrisk_model_reloads_total{result=\"ok\"}"), 1.0);
    assert_eq!(at("payrisk_model_reloads_total{result=\"failed\"}"), 0.0);
    assert!(at("payrisk_model_loaded_timestamp_seconds") > 1.7e9);
    assert!(body.trim_end().ends_with("# EOF"), "{body}");

    let (status, _) = get(metrics, "/other").await;
    assert!(status.contains("404"), "{status}");
    server.stop().await;
}

#[tokio::test]
async fn drift_over_the_window_is_reported_by_rpc_and_metrics() {
    let metrics = free_addr();
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        metrics_addr: Some(metrics),
        drift_window: 250,
        drift_min_accounts: 100,
        ..default_config()
    })
    .await;
    let mut admin = AdminServiceClient::new(server.channel().await);
    let empty = admin
        .get_drift(pb::GetDriftRequest {})
        .await
        .expect("drift")
        .into_inner();
    assert_eq!((empty.window_accounts, empty.window_size), (0, 250));
    assert_eq!(empty.min_accounts, 100);
    assert_eq!((empty.watch_threshold, empty.act_threshold), (0.1, 0.25));
    assert_eq!(empty.model_version, "2");
    let inputs = empty.features.len();
    assert!(inputs > 20, "every model input: {inputs}");

    // One account is too few for PSI: no value over RPC or in the metrics.
    let mut client = server.client().await;
    client
        .score(pb::ScoreRequest {
            account: Some(good_account("first")),
            ..Default::default()
        })
        .await
        .expect("score");
    let one = admin
        .get_drift(pb::GetDriftRequest {})
        .await
        .expect("drift")
        .into_inner();
    assert_eq!(one.window_accounts, 1);
    assert!(
        one.features
            .iter()
            .chain(one.score.as_ref())
            .all(|d| d.psi.is_none() && d.status == "insufficient"),
        "{one:?}"
    );
    let (_, body) = get(metrics, "/metrics").await;
    assert!(
        !samples(&body)
            .keys()
            .any(|k| k.starts_with("payrisk_drift_psi")),
        "{body}"
    );

    // 300 copies of one account: nothing like the training population.
    client
        .score_batch(pb::ScoreBatchRequest {
            accounts: (0..300).map(|i| good_account(&format!("d{i}"))).collect(),
            max_reasons: Some(0),
            ..Default::default()
        })
        .await
        .expect("batch");
    client
        .score(pb::ScoreRequest {
            account: Some(good_account("one")),
            ..Default::default()
        })
        .await
        .expect("score");
    let report = admin
        .get_drift(pb::GetDriftRequest {})
        .await
        .expect("drift")
        .into_inner();
    // 301 scored; the window keeps the last 250.
    assert_eq!(report.window_accounts, 250);
    assert_eq!(report.features.len(), inputs);
    assert!(report.features.windows(2).all(|w| w[0].psi >= w[1].psi));
    assert_eq!(report.features[0].status, "act", "{report:?}");
    let score = report.score.expect("score drift");
    assert_eq!(score.status, "act", "{score:?}");

    let (_, body) = get(metrics, "/metrics").await;
    let s = samples(&body);
    assert_eq!(
        s.get("payrisk_drift_window_accounts"),
        Some(&250.0),
        "{body}"
    );
    let top = &report.features[0];
    assert_eq!(
        s.get(&format!("payrisk_drift_psi{{feature=\"{}\"}}", top.name)),
        top.psi.as_ref(),
        "{body}"
    );
    assert_eq!(
        s.get("payrisk_drift_psi{feature=\"score\"}"),
        score.psi.as_ref(),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn drift_monitoring_can_be_turned_off() {
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        drift_window: 0,
        ..default_config()
    })
    .await;
    let status = AdminServiceClient::new(server.channel().await)
        .get_drift(pb::GetDriftRequest {})
        .await
        .expect_err("no drift window");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(status.message().contains("drift_window"), "{status:?}");
    server.stop().await;
}

/// A call past its deadline ends with `DEADLINE_EXCEEDED`, not tonic's `CANCELLED "Timeout
/// expired"`, and the metrics count it with that code. The client (raw HTTP/2, so that no
/// client-side timer interferes) asks for 200 ms and then stalls its request body.
#[tokio::test]
async fn a_call_past_its_deadline_is_deadline_exceeded_and_counted() {
    let metrics = free_addr();
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        metrics_addr: Some(metrics),
        ..default_config()
    })
    .await;
    let mut h2 = common::raw_h2(server.addr).await;
    let request = common::grpc_head(
        server.addr,
        "/payrisk.v1.ScoringService/Score",
        &[("grpc-timeout", "200m")],
    );
    let started = std::time::Instant::now();
    let (response, mut body) = h2.send_request(request, false).expect("send");
    // A message announced as 100 bytes, of which 10 are sent; the rest never comes.
    let mut partial = vec![0u8, 0, 0, 0, 100];
    partial.extend([0u8; 10]);
    body.send_data(partial.into(), false).expect("data");
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), response)
        .await
        .expect("the server answers by the deadline")
        .expect("response");
    let elapsed = started.elapsed();
    let status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().expect("ascii").to_owned());
    assert_eq!(status.as_deref(), Some("4"), "{response:?}");
    assert!(
        elapsed >= std::time::Duration::from_millis(190),
        "{elapsed:?}"
    );

    let (_, text) = get(metrics, "/metrics").await;
    assert_eq!(score_calls(&text, "DeadlineExceeded"), 1.0, "{text}");
    server.stop().await;
}

/// A call whose client leaves before sending its request (HTTP/2 `RST_STREAM` after the
/// headers) is counted `Cancelled`, the code its client saw, not `Internal` for the missing
/// message nobody received.
#[tokio::test]
async fn a_call_abandoned_before_its_request_is_counted_cancelled() {
    let metrics = free_addr();
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        metrics_addr: Some(metrics),
        ..default_config()
    })
    .await;
    let mut h2 = common::raw_h2(server.addr).await;
    let request = common::grpc_head(server.addr, "/payrisk.v1.ScoringService/Score", &[]);
    let (_response, mut body) = h2.send_request(request, false).expect("send");
    // The handler is waiting for the message when the client gives up.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    body.send_reset(h2::Reason::CANCEL);

    let count = score_calls;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        let (_, text) = get(metrics, "/metrics").await;
        if count(&text, "Cancelled") + count(&text, "Internal") > 0.0
            || std::time::Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(count(&text, "Cancelled"), 1.0, "{text}");
    assert_eq!(count(&text, "Internal"), 0.0, "{text}");
    server.stop().await;
}
