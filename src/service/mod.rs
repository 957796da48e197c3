//! The gRPC transport: a thin layer that converts requests into the domain, calls the scoring
//! engine and converts back. No scoring logic lives here.
//!
//! - [`convert`]: proto ↔ domain, with field-level validation.
//! - [`status`]: validation failures as `INVALID_ARGUMENT` with `google.rpc.BadRequest`.

pub mod convert;
pub mod status;

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::domain::Account;
use crate::proto::v1 as pb;
use crate::proto::v1::scoring_service_server::ScoringService;
use crate::scoring::{Engine, Scratch, DEFAULT_REASONS, MAX_REASONS};
use convert::Violation;

/// Most accounts in one `ScoreBatch` request or one `ScoreStream` message.
pub const MAX_BATCH_ACCOUNTS: usize = 10_000;
/// Response messages a stream may have waiting for a slow client before the server stops reading
/// its requests (back-pressure).
const STREAM_BUFFER: usize = 2;

/// The `payrisk.v1.ScoringService` implementation.
#[derive(Debug, Clone)]
pub struct ScoringApi {
    engine: Arc<Engine>,
}

impl ScoringApi {
    /// Serves `engine`.
    pub fn new(engine: Arc<Engine>) -> ScoringApi {
        ScoringApi { engine }
    }
}

fn max_reasons(requested: u32, field: &str) -> Result<usize, Status> {
    match usize::try_from(requested) {
        Ok(0) => Ok(DEFAULT_REASONS),
        Ok(n) if n <= MAX_REASONS => Ok(n),
        _ => Err(status::invalid_argument(vec![Violation {
            field: field.to_owned(),
            description: format!("must be at most {MAX_REASONS}"),
        }])),
    }
}

/// Scores a whole batch; bad accounts get error entries.
fn score_batch(
    engine: &Engine,
    request: pb::ScoreBatchRequest,
) -> Result<pb::ScoreBatchResponse, Status> {
    if request.accounts.len() > MAX_BATCH_ACCOUNTS {
        return Err(status::invalid_argument(vec![Violation {
            field: "accounts".into(),
            description: format!(
                "has {} accounts; at most {MAX_BATCH_ACCOUNTS} are accepted per message",
                request.accounts.len()
            ),
        }]));
    }
    let k = max_reasons(request.max_reasons, "max_reasons")?;
    let mut scratch: Scratch = engine.scratch();
    let converted: Vec<(String, Result<Account, Vec<Violation>>)> = request
        .accounts
        .into_iter()
        .enumerate()
        .map(|(index, message)| {
            let id = message.account_id.clone();
            (
                id,
                convert::account(Some(message), &format!("accounts[{index}]")),
            )
        })
        .collect();
    // Without reason codes, score the valid accounts together on the batch path.
    let mut batch_scores = Vec::new();
    if k == 0 {
        let valid: Vec<&Account> = converted
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .collect();
        engine.score_many(&valid, &mut scratch, &mut batch_scores);
    }
    let mut batch_scores = batch_scores.into_iter();
    let mut results = Vec::with_capacity(converted.len());
    for (index, (account_id, outcome)) in converted.into_iter().enumerate() {
        let outcome = match outcome {
            Ok(account) => {
                let scored = match batch_scores.next() {
                    Some(scored) if k == 0 => scored,
                    _ => engine.score(&account, k, &mut scratch),
                };
                pb::score_result::Outcome::Score(convert::response(
                    engine,
                    account.account_id,
                    &scored,
                    &scratch,
                ))
            }
            Err(violations) => pb::score_result::Outcome::Error(pb::AccountError {
                violations: violations
                    .into_iter()
                    .map(|v| pb::FieldViolation {
                        field: v.field,
                        description: v.description,
                    })
                    .collect(),
            }),
        };
        results.push(pb::ScoreResult {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            account_id,
            outcome: Some(outcome),
        });
    }
    Ok(pb::ScoreBatchResponse {
        results,
        batch_id: request.batch_id,
    })
}

/// Runs CPU-bound batch scoring off the async workers.
async fn score_batch_blocking(
    engine: Arc<Engine>,
    request: pb::ScoreBatchRequest,
) -> Result<pb::ScoreBatchResponse, Status> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(|| score_batch(&engine, request)))
        .await
        .map_err(|e| Status::internal(format!("scoring task failed: {e}")))?
}

type ScoreStreamOut = Pin<Box<dyn Stream<Item = Result<pb::ScoreBatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ScoringService for ScoringApi {
    #[tracing::instrument(name = "Score", skip_all)]
    async fn score(
        &self,
        request: Request<pb::ScoreRequest>,
    ) -> Result<Response<pb::ScoreResponse>, Status> {
        let request = request.into_inner();
        let k = max_reasons(request.max_reasons, "max_reasons")?;
        let account = convert::account(request.account, "account").map_err(|v| {
            tracing::debug!(violations = v.len(), "invalid account");
            status::invalid_argument(v)
        })?;
        let mut scratch = self.engine.scratch();
        let scored = self.engine.score(&account, k, &mut scratch);
        tracing::debug!(
            probability = scored.probability,
            band = scored.decision.band,
            "scored"
        );
        Ok(Response::new(convert::response(
            &self.engine,
            account.account_id,
            &scored,
            &scratch,
        )))
    }

    #[tracing::instrument(name = "ScoreBatch", skip_all, fields(accounts))]
    async fn score_batch(
        &self,
        request: Request<pb::ScoreBatchRequest>,
    ) -> Result<Response<pb::ScoreBatchResponse>, Status> {
        let request = request.into_inner();
        tracing::Span::current().record("accounts", request.accounts.len());
        score_batch_blocking(self.engine.clone(), request)
            .await
            .map(Response::new)
    }

    type ScoreStreamStream = ScoreStreamOut;

    #[tracing::instrument(name = "ScoreStream", skip_all)]
    async fn score_stream(
        &self,
        request: Request<Streaming<pb::ScoreBatchRequest>>,
    ) -> Result<Response<Self::ScoreStreamStream>, Status> {
        let mut incoming = request.into_inner();
        let engine = self.engine.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
        tokio::spawn(
            async move {
                let mut chunks = 0u64;
                while let Some(message) = incoming.next().await {
                    let reply = match message {
                        Ok(chunk) => score_batch_blocking(engine.clone(), chunk).await,
                        Err(status) => Err(status),
                    };
                    let failed = reply.is_err();
                    // A closed channel means the client went away: stop reading.
                    if tx.send(reply).await.is_err() || failed {
                        break;
                    }
                    chunks += 1;
                }
                tracing::debug!(chunks, "stream finished");
            }
            .in_current_span(),
        );
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    #[tracing::instrument(name = "GetModelInfo", skip_all)]
    async fn get_model_info(
        &self,
        _request: Request<pb::GetModelInfoRequest>,
    ) -> Result<Response<pb::ModelInfo>, Status> {
        Ok(Response::new(convert::model_info(&self.engine)))
    }
}
