//! The transport floor: a tonic server that answers `Score` with a fixed reply (four reason
//! codes, as the load generator asks for), on payrisk's own generated service and codec, with
//! the health service, and nothing else: no scoring, policy, metrics, limits or audit. What
//! `benches/loadgen.rs` measures of it is what HTTP/2, gRPC framing and the codec cost on this
//! machine, the floor under payrisk-server's CPU per call (BENCHMARKS.md, "Serving against the
//! transport floor"):
//!
//! ```sh
//! cargo build --release --example transport_floor --bin payrisk-server
//! cargo bench --bench loadgen -- --spawn target/release/examples/transport_floor --phases unary --rate 5000
//! ```
//!
//! Takes the flags the load generator passes: `--addr` and `--worker-threads` (others ignored).

use std::net::SocketAddr;

use payrisk::grpc::proto::server::scoring_service_server::{ScoringService, ScoringServiceServer};
use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::wire::encode::BatchReply;
use tonic::{Request, Response, Status, Streaming};

/// Answers every `Score` with the same decision, the account's id put in.
struct Floor {
    reply: pb::ScoreResponse,
}

#[tonic::async_trait]
impl ScoringService for Floor {
    async fn score(
        &self,
        request: Request<pb::ScoreRequest>,
    ) -> Result<Response<pb::ScoreResponse>, Status> {
        let mut reply = self.reply.clone();
        reply.account_id = request
            .into_inner()
            .account
            .map(|a| a.account_id)
            .unwrap_or_default();
        Ok(Response::new(reply))
    }

    async fn score_batch(
        &self,
        _: Request<pb::ScoreBatchRequest>,
    ) -> Result<Response<BatchReply>, Status> {
        Err(Status::unimplemented("the floor answers Score only"))
    }

    type ScoreStreamStream = tokio_stream::Empty<Result<BatchReply, Status>>;

    async fn score_stream(
        &self,
        _: Request<Streaming<pb::ScoreBatchRequest>>,
    ) -> Result<Response<Self::ScoreStreamStream>, Status> {
        Err(Status::unimplemented("the floor answers Score only"))
    }

    async fn get_model_info(
        &self,
        _: Request<pb::GetModelInfoRequest>,
    ) -> Result<Response<pb::ModelInfo>, Status> {
        Err(Status::unimplemented("the floor answers Score only"))
    }
}

/// A decision of the size payrisk-server sends with four reasons.
fn reply() -> pb::ScoreResponse {
    let reason = |code: &str, contribution: f64| pb::ReasonCode {
        code: code.into(),
        contribution,
        value: 30.0,
        text: format!("{code}: a fixed reason of the transport floor"),
    };
    pb::ScoreResponse {
        repayment_probability: 0.42,
        score: 571.3,
        risk_band: "E".into(),
        treatment: pb::Treatment::Firm as i32,
        next_action: Some(pb::NextAction {
            action: "call".into(),
            channel: "phone".into(),
            rationale: "repayment probability below the soft threshold: firm treatment".into(),
            ..Default::default()
        }),
        priority: 1234.5,
        reasons: vec![
            reason("delinquency", -0.8),
            reason("payments", -0.3),
            reason("utilisation", 0.2),
            reason("credit_limit", -0.1),
        ],
        model_name: "uci-credit".into(),
        model_version: "2".into(),
        policy_version: "2026-11-26.1".into(),
        arm: "champion".into(),
        decision_id: "0123456789abcdef0123456789abcdef".into(),
        ..Default::default()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr: SocketAddr = "127.0.0.1:50051".parse()?;
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value.parse()?,
            "--worker-threads" => threads = value.parse()?,
            _ => {}
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?
        .block_on(async move {
            let (_reporter, health) = tonic_health::server::health_reporter();
            tonic::transport::Server::builder()
                .add_service(health)
                .add_service(ScoringServiceServer::new(Floor { reply: reply() }))
                .serve(addr)
                .await
        })?;
    Ok(())
}
