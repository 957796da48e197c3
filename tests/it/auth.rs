//! Token authentication: scoring and admin calls without a valid bearer token are refused with
//! UNAUTHENTICATED; health stays open.

use crate::common;

use common::{default_config, good_account, TestServer};
use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::proto::v1::admin_service_client::AdminServiceClient;
use payrisk::grpc::proto::v1::scoring_service_client::ScoringServiceClient;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const TOKEN: &str = "worklist-builder-7f3a9c2e41d8";

fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(t) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("ascii"),
        );
    }
    request
}

#[tokio::test]
async fn calls_without_a_valid_token_are_refused_and_health_stays_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("# clients\n{TOKEN}\n")).expect("write");
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        auth_tokens_file: Some(tokens),
        ..default_config()
    })
    .await;
    let channel = server.channel().await;
    let mut client = ScoringServiceClient::new(channel.clone());
    let score = |token| {
        with_token(
            pb::ScoreRequest {
                account: Some(good_account("auth")),
                ..Default::default()
            },
            token,
        )
    };
    for token in [None, Some("worklist-builder-7f3a9c2e41d9"), Some("")] {
        let status = client.score(score(token)).await.expect_err("refused");
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{token:?}: {status:?}"
        );
        assert!(!status.message().contains(TOKEN));
    }
    client
        .score(score(Some(TOKEN)))
        .await
        .expect("the right token");

    let mut admin = AdminServiceClient::new(channel.clone());
    let status = admin
        .reload(with_token(pb::ReloadRequest {}, None))
        .await
        .expect_err("admin needs a token too");
    assert_eq!(status.code(), Code::Unauthenticated);
    admin
        .get_drift(with_token(pb::GetDriftRequest {}, Some(TOKEN)))
        .await
        .expect("admin with the token");

    let health = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health needs no token")
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);
    server.stop().await;
}

#[tokio::test]
async fn admin_tokens_are_separate_from_scoring_tokens() {
    const ADMIN: &str = "operator-reload-9b8c7d6e5f4a";
    let dir = tempfile::tempdir().expect("tempdir");
    let (tokens, admin_tokens) = (dir.path().join("tokens"), dir.path().join("admin"));
    std::fs::write(&tokens, format!("{TOKEN}\n")).expect("write");
    std::fs::write(&admin_tokens, format!("# operators\n{ADMIN}\n")).expect("write");
    let server = TestServer::start_with(payrisk::grpc::server::ServerConfig {
        auth_tokens_file: Some(tokens),
        admin_tokens_file: Some(admin_tokens),
        ..default_config()
    })
    .await;
    let channel = server.channel().await;
    let mut admin = AdminServiceClient::new(channel.clone());
    let status = admin
        .reload(with_token(pb::ReloadRequest {}, Some(TOKEN)))
        .await
        .expect_err("a scoring token may not reload");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = admin
        .get_drift(with_token(pb::GetDriftRequest {}, None))
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    admin
        .reload(with_token(pb::ReloadRequest {}, Some(ADMIN)))
        .await
        .expect("the admin token reloads");

    let mut client = ScoringServiceClient::new(channel);
    let request = |token| {
        with_token(
            pb::ScoreRequest {
                account: Some(good_account("admin")),
                ..Default::default()
            },
            token,
        )
    };
    let status = client
        .score(request(Some(ADMIN)))
        .await
        .expect_err("an admin token does not score");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    client
        .score(request(Some(TOKEN)))
        .await
        .expect("the scoring token scores");
    server.stop().await;
}

#[tokio::test]
async fn an_admin_token_file_without_tokens_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin_tokens = dir.path().join("admin");
    std::fs::write(&admin_tokens, "# nobody yet\n").expect("write");
    let config = payrisk::grpc::server::ServerConfig {
        admin_tokens_file: Some(admin_tokens),
        ..default_config()
    };
    let live = config.load().expect("model loads");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = payrisk::grpc::server::run(listener, live, &config, std::future::pending())
        .await
        .expect_err("an empty admin token list would leave admin open");
    assert!(err.to_string().contains("admin"), "{err}");
}
