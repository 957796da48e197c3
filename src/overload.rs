//! Load shedding: at most `max_in_flight` scoring calls at once across all connections; a call
//! beyond that fails at once with `RESOURCE_EXHAUSTED` instead of waiting in a queue, so the
//! calls admitted keep their latency and clients can back off or go to another replica.
//!
//! Only `payrisk.v1.ScoringService` calls count and are shed: health checks, reflection and the
//! admin service always answer. A stream holds its place until it ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::watched_body::{watched, Rider};

const SCORING: &str = "/payrisk.v1.ScoringService/";

/// A tower layer that sheds scoring calls over the limit.
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

impl<S> tower_layer::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`ShedLayer`] wraps around the gRPC routes.
#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    layer: ShedLayer,
}

impl<S, B> tower_service::Service<http::Request<B>> for Shed<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if !request.uri().path().starts_with(SCORING) {
            return Box::pin(self.inner.call(request));
        }
        let Ok(permit) = self.layer.permits.clone().try_acquire_owned() else {
            let limit = self.layer.limit;
            tracing::debug!(limit, "shedding a scoring call");
            let status = tonic::Status::resource_exhausted(format!(
                "overloaded: {limit} scoring calls in flight; retry with backoff"
            ));
            return Box::pin(std::future::ready(Ok(status.into_http())));
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|inner| watched(inner, permit)))
        })
    }
}

/// A call's place in the limit, held until its response body is done.
impl Rider for OwnedSemaphorePermit {}
