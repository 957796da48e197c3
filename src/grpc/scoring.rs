//! The `payrisk.v1.ScoringService` handlers: each validates and converts its request, calls the
//! deployment's one decision path ([`Deployment::decide`], [`Deployment::decide_many`]) once,
//! records the decisions in the audit log and the metrics, and converts back. No scoring logic
//! lives here.
//!
//! Every call takes the serving deployment once, when it starts, and finishes on it (a stream:
//! for all of its messages), whatever reloads happen meanwhile.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use chrono::Utc;

use super::metrics::{Metrics, Tally};
use super::proto::server::scoring_service_server::ScoringService;
use super::proto::v1 as pb;
use super::wire::encode::BatchReply;
use super::{convert, status};
use crate::domain::{Account, Violation};
use crate::scoring::{DEFAULT_REASONS, MAX_REASONS};
use crate::serve::audit::{self, AuditLog, CallContext};
use crate::serve::decisions::{Batch, Outcome, ScoredAccount};
use crate::serve::deployment::Deployment;
use crate::serve::live::Live;

pub use crate::grpc::wire::limits::MAX_BATCH_ACCOUNTS;
/// Response messages a stream may have waiting for a slow client before the server stops reading
/// its requests (back-pressure).
const STREAM_BUFFER: usize = 2;
/// Messages of one stream scored at once.
const STREAM_PIPELINE: usize = 2;

/// Longest `x-request-id` kept from a caller.
const MAX_REQUEST_ID: usize = 128;

/// The `payrisk.v1.ScoringService` implementation.
#[derive(Debug, Clone)]
pub struct ScoringApi {
    live: Arc<Live>,
    metrics: Arc<Metrics>,
    audit: Option<Arc<AuditLog>>,
}

impl ScoringApi {
    /// Serves whatever `live` holds at the start of each call, counting decisions in `metrics`
    /// and recording them in `audit`.
    pub fn new(live: Arc<Live>, metrics: Arc<Metrics>, audit: Option<Arc<AuditLog>>) -> ScoringApi {
        ScoringApi {
            live,
            metrics,
            audit,
        }
    }

    /// The call's audit context: the caller's `x-request-id` (printable ASCII, at most 128
    /// characters) or a new one. `None` without an audit log.
    fn call(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        rpc: &'static str,
        decision_time: Option<&prost_types::Timestamp>,
    ) -> Option<CallContext> {
        let audit = self.audit.as_ref()?;
        let request_id = metadata
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID)
            .map_or_else(|| audit.new_request_id(), str::to_owned);
        let time = Utc::now();
        let decision_time = decision_time.and_then(convert::timestamp).unwrap_or(time);
        Some(CallContext {
            request_id,
            rpc,
            time: time.to_rfc3339(),
            decision_time: decision_time.to_rfc3339(),
        })
    }

    /// Records a call's formatted decisions; fails the call when they cannot be recorded.
    async fn record(&self, lines: Vec<u8>) -> Result<(), Status> {
        match &self.audit {
            Some(audit) => audit.append(lines).await.map_err(|e| {
                tracing::error!(error = %e, "decisions not recorded; the call fails");
                Status::unavailable(format!("the decision could not be recorded: {e}"))
            }),
            None => Ok(()),
        }
    }
}

/// `response` with the call's request id in its metadata.
fn with_request_id<T>(response: T, call: Option<&CallContext>) -> Response<T> {
    let mut response = Response::new(response);
    if let Some(id) = call.and_then(|c| c.request_id.parse().ok()) {
        response.metadata_mut().insert("x-request-id", id);
    }
    response
}

fn max_reasons(requested: Option<u32>, field: &str) -> Result<usize, Status> {
    match requested.map(usize::try_from) {
        None => Ok(DEFAULT_REASONS),
        Some(Ok(n)) if n <= MAX_REASONS => Ok(n),
        _ => Err(status::invalid_argument(vec![Violation {
            field: field.to_owned(),
            description: format!("must be at most {MAX_REASONS}"),
        }])),
    }
}

/// What `Score` does with a decoded request, without the transport: validates it (field
/// violations become `INVALID_ARGUMENT`) and scores it on `deployment`. The handler adds the
/// audit record, metrics and the request id; the fuzz target `score_request` calls this.
pub fn score_request(
    deployment: &Deployment,
    request: pb::ScoreRequest,
) -> Result<pb::ScoreResponse, Status> {
    let (account_id, decided) = decide_request(deployment, request)?;
    Ok(convert::response(account_id, &decided))
}

/// Validates a `Score` request and decides its account: the account's id and its decision.
fn decide_request(
    deployment: &Deployment,
    request: pb::ScoreRequest,
) -> Result<(String, ScoredAccount<'_>), Status> {
    let k = max_reasons(request.max_reasons, "max_reasons")?;
    let now = convert::decision_time(request.decision_time.as_ref(), "decision_time")
        .map_err(status::invalid_argument)?;
    let mut account =
        convert::account(request.account, convert::AccountPath::Single).map_err(|v| {
            tracing::debug!(violations = v.len(), "invalid account");
            status::invalid_argument(v)
        })?;
    let decided = deployment.decide(&account, k, now);
    Ok((std::mem::take(&mut account.account_id), decided))
}

/// What `ScoreBatch` (and each `ScoreStream` message) does with a decoded request, without the
/// transport: bad accounts get error outcomes, a bad request as a whole `INVALID_ARGUMENT`.
/// Each arm's accounts are scored together on the batch path when no reason codes are asked
/// for. The reply is [`BatchReply::encode`] of the result ([`convert::batch_response`] as a
/// prost message).
pub fn score_batch(
    deployment: &Deployment,
    request: pb::ScoreBatchRequest,
) -> Result<Batch<'_>, Status> {
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
    let now = convert::decision_time(request.decision_time.as_ref(), "decision_time")
        .map_err(status::invalid_argument)?;
    // Each account's outcome is filled in place, where it stays.
    let mut outcomes: Vec<Outcome<'_>> = Vec::with_capacity(request.accounts.len());
    let converted: Vec<Result<Account, Vec<Violation>>> = request
        .accounts
        .into_iter()
        .enumerate()
        .map(|(index, message)| {
            outcomes.push(Outcome {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                account_id: message.account_id.clone(),
                // Set below: the decision, or the violations.
                result: Err(Vec::new()),
            });
            convert::account(Some(message), convert::AccountPath::Batch(index))
        })
        .collect();
    let (positions, accounts): (Vec<usize>, Vec<&Account>) = converted
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().ok().map(|a| (i, a)))
        .unzip();
    deployment.decide_many(&accounts, k, now, |j, decided| {
        if let Some(outcome) = positions.get(j).and_then(|&i| outcomes.get_mut(i)) {
            outcome.result = Ok(decided);
        }
    });
    for (outcome, converted) in outcomes.iter_mut().zip(converted) {
        match (converted, &mut outcome.result) {
            (Err(violations), result) => *result = Err(violations),
            (Ok(_), Ok(_)) => {}
            // `decide_many` decides every account it is given exactly once.
            (Ok(_), result) => {
                *result = Err(vec![Violation {
                    field: format!("accounts[{}]", outcome.index),
                    description: "was not scored (internal error)".into(),
                }]);
            }
        }
    }
    Ok(Batch {
        batch_id: request.batch_id,
        outcomes,
    })
}

/// Runs CPU-bound batch scoring off the async workers, encoding the reply, formatting the audit
/// records of `call` and tallying the decisions there too.
async fn score_batch_blocking(
    deployment: Arc<Deployment>,
    request: pb::ScoreBatchRequest,
    call: Option<CallContext>,
) -> Result<(BatchReply, Vec<u8>, Tally), Status> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            let batch = score_batch(&deployment, request)?;
            let mut lines = Vec::new();
            if let Some(call) = &call {
                lines.reserve(batch.outcomes.len() * 600);
                let batch_id = (call.rpc == "ScoreStream").then_some(batch.batch_id);
                audit::format(call, batch_id, batch.scored(), &mut lines);
            }
            let tally = Tally::new(batch.scored().flat_map(|(_, _, s)| s.counted()));
            Ok((BatchReply::encode(&batch), lines, tally))
        })
    })
    .await
    .map_err(|e| Status::internal(format!("scoring task failed: {e}")))?
}

/// The oldest pending stream message's reply, once it is ready (none while nothing is pending).
async fn oldest(
    pending: &mut VecDeque<JoinHandle<Result<BatchReply, Status>>>,
) -> Option<Result<BatchReply, Status>> {
    let reply = pending.front_mut()?.await;
    pending.pop_front();
    Some(reply.unwrap_or_else(|e| Err(Status::internal(format!("scoring task failed: {e}")))))
}

type ScoreStreamOut = Pin<Box<dyn Stream<Item = Result<BatchReply, Status>> + Send>>;

#[tonic::async_trait]
impl ScoringService for ScoringApi {
    #[tracing::instrument(name = "Score", skip_all)]
    async fn score(
        &self,
        request: Request<pb::ScoreRequest>,
    ) -> Result<Response<pb::ScoreResponse>, Status> {
        let (metadata, _, request) = request.into_parts();
        let decision_time = request.decision_time;
        let deployment = self.live.current();
        let call = self.call(&metadata, "Score", decision_time.as_ref());
        // The decision borrows the deployment: everything is written from it before waiting.
        let (response, lines, tally) = {
            let (account_id, decided) = decide_request(&deployment, request)?;
            let lines = call.as_ref().map(|call| {
                let mut lines = Vec::with_capacity(640);
                audit::format(call, None, [(0, account_id.as_str(), &decided)], &mut lines);
                lines
            });
            let tally = Tally::new(decided.counted());
            (convert::response(account_id, &decided), lines, tally)
        };
        if let Some(lines) = lines {
            self.record(lines).await?;
        }
        self.metrics.count(tally);
        Ok(with_request_id(response, call.as_ref()))
    }

    #[tracing::instrument(name = "ScoreBatch", skip_all, fields(accounts))]
    async fn score_batch(
        &self,
        request: Request<pb::ScoreBatchRequest>,
    ) -> Result<Response<BatchReply>, Status> {
        let (metadata, _, request) = request.into_parts();
        tracing::Span::current().record("accounts", request.accounts.len());
        let call = self.call(&metadata, "ScoreBatch", request.decision_time.as_ref());
        let (reply, lines, tally) =
            score_batch_blocking(self.live.current(), request, call.clone()).await?;
        self.record(lines).await?;
        self.metrics.count(tally);
        Ok(with_request_id(reply, call.as_ref()))
    }

    type ScoreStreamStream = ScoreStreamOut;

    #[tracing::instrument(name = "ScoreStream", skip_all)]
    async fn score_stream(
        &self,
        request: Request<Streaming<pb::ScoreBatchRequest>>,
    ) -> Result<Response<Self::ScoreStreamStream>, Status> {
        let (metadata, _, mut incoming) = request.into_parts();
        // One request id for the stream; each record carries its message's batch id.
        let call = self.call(&metadata, "ScoreStream", None);
        let response_call = call.clone();
        let deployment = self.live.current();
        let api = self.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
        // Scores one message (on the blocking pool), records it and counts it.
        let process = move |chunk: pb::ScoreBatchRequest| {
            let (api, deployment) = (api.clone(), deployment.clone());
            let call = call.as_ref().map(|c| CallContext {
                decision_time: chunk
                    .decision_time
                    .as_ref()
                    .and_then(convert::timestamp)
                    .map_or_else(|| c.time.clone(), |t| t.to_rfc3339()),
                ..c.clone()
            });
            async move {
                let (reply, lines, tally) = score_batch_blocking(deployment, chunk, call).await?;
                api.record(lines).await?;
                api.metrics.count(tally);
                Ok(reply)
            }
            .in_current_span()
        };
        tokio::spawn(
            async move {
                // Up to STREAM_PIPELINE messages are scored at once, so that one stream keeps
                // both the blocking pool and the transport busy; replies go out in order, and
                // reading stops while the client is slow to take them (bounded memory).
                let mut pending: VecDeque<JoinHandle<Result<BatchReply, Status>>> = VecDeque::new();
                let (mut open, mut chunks) = (true, 0u64);
                loop {
                    tokio::select! {
                        biased;
                        Some(reply) = oldest(&mut pending) => {
                            let failed = reply.is_err();
                            // A closed channel means the client went away: stop reading.
                            if tx.send(reply).await.is_err() || failed {
                                break;
                            }
                            chunks += 1;
                        }
                        message = incoming.next(), if open && pending.len() < STREAM_PIPELINE => {
                            match message {
                                Some(Ok(chunk)) => pending.push_back(tokio::spawn(process(chunk))),
                                Some(Err(status)) => {
                                    pending.push_back(tokio::spawn(std::future::ready(Err(status))))
                                }
                                None => open = false,
                            }
                        }
                        else => break,
                    }
                }
                for task in pending {
                    task.abort();
                }
                tracing::debug!(chunks, "stream finished");
            }
            .in_current_span(),
        );
        let stream: Self::ScoreStreamStream =
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx));
        Ok(with_request_id(stream, response_call.as_ref()))
    }

    #[tracing::instrument(name = "GetModelInfo", skip_all)]
    async fn get_model_info(
        &self,
        _request: Request<pb::GetModelInfoRequest>,
    ) -> Result<Response<pb::ModelInfo>, Status> {
        Ok(Response::new(convert::model_info(
            &self.live.current(),
            &self.live.status(),
        )))
    }
}
