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

    // 128 callers at once, 3 calls each, on one connection.
    let mut tasks = Vec::new();
    for _ in 0..128 {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for _ in 0..3 {
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
    // A sanity bound on both: admitted calls wait for at most one other call and shed ones do
    // no work. (In a debug build one call is cheap next to the client's own overhead, so this
    // does not separate shedding from queueing; `benches/loadgen.rs` measures that.)
    let bound = unloaded_p90 * 6 + Duration::from_millis(50);
    let admitted_p90 = quantile(admitted, 0.9);
    let shed_p90 = quantile(shed.clone(), 0.9);
    assert!(
        admitted_p90 <= bound && shed_p90 <= bound,
        "admitted p90 {admitted_p90:?}, shed p90 {shed_p90:?} ({} shed), against unloaded p90 \
         {unloaded_p90:?}",
        shed.len()
    );
    server.stop().await;
}
