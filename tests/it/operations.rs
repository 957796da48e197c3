//! Operations: health checking, server reflection (v1 and v1alpha), graceful shutdown on
//! SIGTERM, and refusing to start on a bad model or policy.

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{good_account, repo, Binary, TestServer};
use payrisk::grpc::proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const SCORING_SERVICE: &str = "payrisk.v1.ScoringService";

#[tokio::test]
async fn health_reports_serving() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", SCORING_SERVICE] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "service `{service}`");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "nope.Service".into(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn reflection_v1_lists_scoring_and_health() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let server = TestServer::start().await;
    let mut client = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses.next().await.expect("a response").expect("ok");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.iter().any(|n| n == SCORING_SERVICE), "{names:?}");
    assert!(
        names.iter().any(|n| n == "grpc.health.v1.Health"),
        "{names:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn reflection_v1alpha_describes_the_scoring_service() {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;

    let server = TestServer::start().await;
    let mut client = ServerReflectionClient::new(server.channel().await);
    let requests = vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(SCORING_SERVICE.into())),
        },
    ];
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("reflection")
        .into_inner();
    let first = responses.next().await.expect("list").expect("ok");
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("expected a service list");
    };
    assert!(list
        .service
        .iter()
        .any(|s| s.name == "grpc.health.v1.Health"));
    let second = responses.next().await.expect("file").expect("ok");
    let Some(MessageResponse::FileDescriptorResponse(files)) = second.message_response else {
        panic!("expected file descriptors");
    };
    assert!(!files.file_descriptor_proto.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_calls_in_flight() {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::ScoreBatchRequest>(4);
    let mut responses = client
        .score_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("stream")
        .into_inner();
    let chunk = |id| pb::ScoreBatchRequest {
        accounts: vec![good_account("s"); 10],
        max_reasons: None,
        batch_id: id,
        ..Default::default()
    };
    tx.send(chunk(1)).await.expect("send");
    assert_eq!(responses.next().await.expect("r1").expect("ok").batch_id, 1);

    server.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The call that was in flight keeps working until the client ends it.
    tx.send(chunk(2)).await.expect("send");
    assert_eq!(responses.next().await.expect("r2").expect("ok").batch_id, 2);
    drop(tx);
    assert!(responses.next().await.is_none());
    // New connections are refused once the listener has stopped.
    server.stop().await;
}

#[tokio::test]
async fn the_binary_serves_and_exits_cleanly_on_sigterm() {
    let Binary {
        mut child, channel, ..
    } = Binary::start(&[], Stdio::piped()).await;
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: SCORING_SERVICE.into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status();
    assert_eq!(status, ServingStatus::Serving);
    // The admin service answers health checks by name too.
    let admin = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "payrisk.v1.AdminService".into(),
        })
        .await
        .expect("admin health")
        .into_inner()
        .status();
    assert_eq!(admin, ServingStatus::Serving);
    let mut client =
        payrisk::grpc::proto::v1::scoring_service_client::ScoringServiceClient::new(channel);
    client
        .score(pb::ScoreRequest {
            account: Some(good_account("bin")),
            max_reasons: None,
            ..Default::default()
        })
        .await
        .expect("score through the binary");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(exit.success(), "exit {exit:?}\n{stderr}");
    assert!(stderr.contains("payrisk-server ready"), "{stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(stderr.contains("shutdown complete"), "{stderr}");
    // Logs into a pipe carry no terminal colour codes.
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes in piped logs:\n{stderr:?}"
    );
}

#[test]
fn the_binary_refuses_a_corrupt_model_or_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = std::fs::read_to_string(repo(payrisk::serve::DEFAULT_MODEL)).expect("model");
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &model[..model.len() / 2]).expect("write");
    let bad_policy = dir.path().join("policy.toml");
    std::fs::write(&bad_policy, "name = \"x\"\n").expect("write");

    for (flag, path, expected) in [
        ("--model", &truncated, "cannot parse"),
        ("--model", &dir.path().join("absent.json"), "cannot read"),
        ("--policy", &bad_policy, "cannot parse"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_payrisk-server"))
            .current_dir(repo(""))
            .args(["--addr", "127.0.0.1:0", flag])
            .arg(path)
            .output()
            .expect("run payrisk-server");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{flag} {}: {stderr}",
            path.display()
        );
        assert!(stderr.contains(expected), "{stderr}");
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    }
}
