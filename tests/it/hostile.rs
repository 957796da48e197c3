//! Traffic meant to hurt or unlucky enough to: messages that decode into far more than they
//! weigh, many large messages at once, streams whose clients stop reading, clients that leave
//! before their request arrives.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{good_account, Binary, TestServer};
use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::proto::v1::scoring_service_client::ScoringServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

/// A unary call of `path` with `body` as its request message, on `channel`.
async fn raw_call(
    channel: tonic::transport::Channel,
    path: &'static str,
    body: Arc<Vec<u8>>,
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(usize::MAX);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary::<Vec<u8>, Vec<u8>, common::RawCodec>(
        tonic::Request::new(body.as_ref().clone()),
        http::uri::PathAndQuery::from_static(path),
        common::RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// A process's peak resident memory (`VmHWM`), in bytes.
fn peak_resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// Eight messages just under the 32 MiB cap that would decode into gigabytes (16 million empty
/// accounts; one account of 16 million empty cycles, through `ScoreBatch` and through `Score`,
/// prost's path) are refused with `INVALID_ARGUMENT` naming the field, all at once, while the
/// server stays under 256 MiB resident. Before the counts were checked ahead of decoding, one
/// such batch took the server to 3.6 GiB.
#[tokio::test]
async fn messages_that_decode_into_gigabytes_are_refused_in_bounded_memory() {
    let server = Binary::start(&[], std::process::Stdio::null()).await;
    let pid = server.child.id();
    let size = 31 * 1024 * 1024;
    let empty_accounts = Arc::new([0x0a, 0x00].repeat(size / 2));
    let one_account_of_empty_cycles = |size: usize| {
        let cycles = [0x22, 0x00].repeat((size - 8) / 2);
        let mut message = vec![0x0a];
        prost::encoding::encode_varint(cycles.len() as u64, &mut message);
        message.extend_from_slice(&cycles);
        Arc::new(message)
    };
    let cycles = one_account_of_empty_cycles(size);
    let calls = [
        (
            "/payrisk.v1.ScoringService/ScoreBatch",
            &empty_accounts,
            "accounts",
        ),
        (
            "/payrisk.v1.ScoringService/ScoreBatch",
            &empty_accounts,
            "accounts",
        ),
        (
            "/payrisk.v1.ScoringService/ScoreBatch",
            &empty_accounts,
            "accounts",
        ),
        (
            "/payrisk.v1.ScoringService/ScoreBatch",
            &empty_accounts,
            "accounts",
        ),
        (
            "/payrisk.v1.ScoringService/ScoreBatch",
            &empty_accounts,
            "accounts",
        ),
        (
            "/payrisk.v1.ScoringService/ScoreBatch",
            &cycles,
            "accounts[0].history",
        ),
        (
            "/payrisk.v1.ScoringService/Score",
            &cycles,
            "account.history",
        ),
        (
            "/payrisk.v1.ScoringService/Score",
            &cycles,
            "account.history",
        ),
    ];
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (path, body, field) in calls {
        // Each call on its own connection, as eight clients would send them.
        let channel = tonic::transport::Channel::builder(
            format!("http://{}", server.addr).parse().expect("uri"),
        )
        .connect()
        .await
        .expect("connect");
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            (field, raw_call(channel, path, body).await)
        }));
    }
    for task in tasks {
        let (field, result) = task.await.expect("call");
        let status = result.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let details = status.get_error_details();
        let bad = details.bad_request().expect("a BadRequest");
        assert_eq!(bad.field_violations[0].field, field, "{bad:?}");
    }
    let elapsed = started.elapsed();
    let peak = peak_resident(pid);
    eprintln!(
        "eight amplification calls answered in {elapsed:?}; server peak resident {} MiB",
        peak >> 20
    );
    assert!(peak < 256 << 20, "peak resident {} MiB", peak >> 20);
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    // The server still scores.
    let mut client = ScoringServiceClient::new(server.channel.clone());
    client
        .score(pb::ScoreRequest {
            account: Some(good_account("after")),
            ..Default::default()
        })
        .await
        .expect("a normal call after the attack");
}

/// A message over `max_message_bytes` is `RESOURCE_EXHAUSTED` (the code gRPC clients read as
/// "too large"), refused as soon as its length arrives.
#[tokio::test]
async fn an_oversized_message_is_resource_exhausted() {
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        max_message_bytes: 64 * 1024,
        ..common::default_config()
    })
    .await;
    let status = raw_call(
        server.channel().await,
        "/payrisk.v1.ScoringService/ScoreBatch",
        Arc::new(vec![0; 64 * 1024 + 1]),
    )
    .await
    .expect_err("over the cap");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("65537 bytes"), "{status:?}");
    server.stop().await;
}

/// One `ScoreStream` whose client stops reading its replies does not hold up the other calls on
/// the same HTTP/2 connection: health checks and `Score` calls sent on it while the stream is
/// stalled answer at once (median under 100 ms). With the connection's window equal to one
/// stream's, as before, they never answered at all.
#[tokio::test]
async fn a_stalled_stream_does_not_block_its_connection() {
    let server = TestServer::start().await;
    let channel = server.channel().await;
    let mut stream_client = ScoringServiceClient::new(channel.clone());
    let chunk = pb::ScoreBatchRequest {
        accounts: (0..200).map(|i| good_account(&format!("s{i}"))).collect(),
        ..Default::default()
    };
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let requests = tokio_stream::iter(0..1_000_000u64).map(move |b| {
        counter.fetch_add(1, Ordering::Relaxed);
        pb::ScoreBatchRequest {
            batch_id: b,
            ..chunk.clone()
        }
    });
    // The replies are never read.
    let _replies = stream_client
        .score_stream(requests)
        .await
        .expect("stream")
        .into_inner();
    // Wait until the client can send no more: the stream is stalled end to end.
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = sent.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    let mut health = HealthClient::new(channel.clone());
    let mut scoring = ScoringServiceClient::new(channel);
    let mut latencies = Vec::new();
    for round in 0..5 {
        let started = Instant::now();
        tokio::time::timeout(
            Duration::from_secs(5),
            health.check(tonic_health::pb::HealthCheckRequest::default()),
        )
        .await
        .expect("the health check answers")
        .expect("serving");
        latencies.push(started.elapsed());
        let started = Instant::now();
        tokio::time::timeout(
            Duration::from_secs(5),
            scoring.score(pb::ScoreRequest {
                account: Some(good_account(&format!("u{round}"))),
                ..Default::default()
            }),
        )
        .await
        .expect("Score answers")
        .expect("scored");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    assert!(median < Duration::from_millis(100), "{latencies:?}");
    server.stop().await;
}

/// A compressed request (`grpc-encoding: gzip`) is answered `UNIMPLEMENTED` with
/// `grpc-accept-encoding: identity`, as the contract says: the server inflates nothing, so a
/// message's decoded size is never beyond the limits its wire size was checked against.
#[tokio::test]
async fn compressed_requests_are_unimplemented_and_identity_is_advertised() {
    let server = TestServer::start().await;
    let mut h2 = common::raw_h2(server.addr).await;
    let request = common::grpc_head(
        server.addr,
        "/payrisk.v1.ScoringService/Score",
        &[("grpc-encoding", "gzip")],
    );
    let (response, mut body) = h2.send_request(request, false).expect("send");
    // A frame flagged as compressed.
    body.send_data(vec![1u8, 0, 0, 0, 2, 0x1f, 0x8b].into(), true)
        .expect("data");
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("an answer")
        .expect("response");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
    };
    assert_eq!(header("grpc-status").as_deref(), Some("12"), "{response:?}");
    assert_eq!(
        header("grpc-accept-encoding").as_deref(),
        Some("identity"),
        "{response:?}"
    );
    server.stop().await;
}
