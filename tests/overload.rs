//! Overload: scoring calls over the in-flight limit fail fast with RESOURCE_EXHAUSTED while the
//! admitted ones keep their latency, health keeps answering, and shed calls are counted.

mod common;

use std::time::{Duration, Instant};

use common::{default_config, good_account, TestServer};
use payrisk::proto::v1 as pb;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

fn request() -> pb::ScoreRequest {
    pb::ScoreRequest {
        account: Some(good_account("burst")),
        ..Default::default()
    }
}

fn quantile(mut v: Vec<Duration>, q: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_limit_is_shed_fast_and_admitted_calls_keep_their_latency() {
    let server = TestServer::start_with(payrisk::server::ServerConfig {
        max_in_flight: 2,
        ..default_config()
    })
    .await;
    let mut client = server.client().await;
    let mut unloaded = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        client.score(request()).await.expect("unloaded call");
        unloaded.push(t.elapsed());
    }
    let unloaded_p90 = quantile(unloaded, 0.9);

    // 64 callers at once, 5 calls each, on one connection.
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                let code = match client.score(request()).await {
                    Ok(_) => Code::Ok,
                    Err(status) => status.code(),
                };
                out.push((code, t.elapsed()));
            }
            out
        }));
    }
    // Health answers during the burst.
    let health = HealthClient::new(server.channel().await)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health under load")
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);

    let mut admitted = Vec::new();
    let mut shed = Vec::new();
    for t in tasks {
        for (code, latency) in t.await.expect("caller") {
            match code {
                Code::Ok => admitted.push(latency),
                Code::ResourceExhausted => shed.push(latency),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(
        !shed.is_empty() && !admitted.is_empty(),
        "{} shed, {} admitted",
        shed.len(),
        admitted.len()
    );
    let (admitted_p90, shed_p50) = (quantile(admitted.clone(), 0.9), quantile(shed.clone(), 0.5));
    // Shed calls are answered without doing the work.
    assert!(shed_p50 < quantile(admitted, 0.5), "shed p50 {shed_p50:?}");
    // Admitted calls wait behind at most one other call, not behind the whole burst (which
    // would take about 320 calls' time on 2 cores).
    let bound = unloaded_p90 * 6 + Duration::from_millis(50);
    assert!(
        admitted_p90 <= bound,
        "admitted p90 {admitted_p90:?} against unloaded p90 {unloaded_p90:?} ({} shed)",
        shed.len()
    );
    server.stop().await;
}
