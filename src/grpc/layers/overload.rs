//! Load shedding: at most `max_in_flight` scoring calls at once across all connections; a call
//! beyond that fails at once with `RESOURCE_EXHAUSTED` instead of waiting in a queue, so the
//! calls admitted keep their latency and clients can back off or go to another replica.
//!
//! Only `payrisk.v1.ScoringService` calls count and are shed: health checks, reflection and the
//! admin service always answer. A stream holds its place until it ends.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::grpc::layers::body::{watched, Rider};
use crate::grpc::layers::call::{CallFuture, GrpcResponse, OnCall};

const SCORING: &str = "/payrisk.v1.ScoringService/";

/// Sheds scoring calls over the limit; a tower layer as
/// [`CallLayer`](crate::grpc::layers::call::CallLayer)`(ShedLayer)`.
#[derive(Debug, Clone)]
pub struct ShedLayer {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl ShedLayer {
    /// Admits at most `limit` scoring calls at once (at least one).
    pub fn new(limit: usize) -> ShedLayer {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        ShedLayer {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }
}

impl OnCall for ShedLayer {
    fn on_call<S, B>(&self, inner: &mut S, request: http::Request<B>) -> CallFuture<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = GrpcResponse>,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        if !request.uri().path().starts_with(SCORING) {
            return Box::pin(inner.call(request));
        }
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            let limit = self.limit;
            tracing::debug!(limit, "shedding a scoring call");
            let status = tonic::Status::resource_exhausted(format!(
                "overloaded: {limit} scoring calls in flight; retry with backoff"
            ));
            return Box::pin(std::future::ready(Ok(status.into_http())));
        };
        let future = inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|inner| watched(inner, permit)))
        })
    }
}

/// A call's place in the limit, held until its response body is done.
impl Rider for OwnedSemaphorePermit {}
