//! The tower layer that counts and times every gRPC call, including calls refused before a
//! handler runs, with the status code the client saw.

use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use super::{Metrics, METHODS};
use crate::grpc::layers::body::{watched, Polled, Rider};
use crate::grpc::layers::call::{CallFuture, GrpcResponse, OnCall};
use crate::grpc::layers::intake::Abandoned;

/// Counts and times every gRPC call (see the module docs); a tower layer as
/// `CallLayer(MetricsLayer)`.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    /// Records into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> MetricsLayer {
        MetricsLayer { metrics }
    }
}

impl OnCall for MetricsLayer {
    fn on_call<S, B>(&self, inner: &mut S, request: http::Request<B>) -> CallFuture<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = GrpcResponse>,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        let path = request.uri().path();
        let method = METHODS
            .iter()
            .find(|m| **m == path)
            .copied()
            .unwrap_or("other");
        let observer = Observer {
            metrics: self.metrics.clone(),
            method,
            started: Instant::now(),
        };
        let abandoned = Abandoned::default();
        let mut request = request;
        request.extensions_mut().insert(abandoned.clone());
        let future = inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            // A client that left before its request arrived saw its own cancellation, whatever
            // the handler answered to nobody.
            if abandoned.is_set() {
                observer.finish("Cancelled");
                return Ok(response);
            }
            // Errors come "trailers-only": the status is in the headers.
            if let Some(code) = response.headers().get("grpc-status") {
                observer.finish(code_name(code.as_bytes()));
                return Ok(response);
            }
            Ok(response.map(|inner| watched(inner, CallRider(Some(observer)))))
        })
    }
}

struct Observer {
    metrics: Arc<Metrics>,
    method: &'static str,
    started: Instant,
}

impl Observer {
    fn finish(self, code: &'static str) {
        self.metrics.call_finished(self.method, code, self.started);
    }
}

/// Records its call when the trailers pass, or as `Cancelled` when the body is dropped first.
struct CallRider(Option<Observer>);

impl Rider for CallRider {
    fn polled(&mut self, polled: &Polled) {
        let code = match polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|t| {
                t.get("grpc-status")
                    .map_or("Unknown", |c| code_name(c.as_bytes()))
            }),
            Poll::Ready(Some(Err(status))) => Some(code_str(status.code())),
            Poll::Ready(None) => Some("Unknown"),
            Poll::Pending => None,
        };
        if let Some(code) = code {
            if let Some(observer) = self.0.take() {
                observer.finish(code);
            }
        }
    }
}

impl Drop for CallRider {
    fn drop(&mut self) {
        if let Some(observer) = self.0.take() {
            observer.finish("Cancelled");
        }
    }
}

fn code_name(value: &[u8]) -> &'static str {
    code_str(tonic::Code::from_bytes(value))
}

/// The code's name as in `tonic::Code` (`OK` for success).
fn code_str(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Cancelled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}
