//! The one tower layer shape the server's call-level concerns share (metrics, authentication,
//! load shedding): a [`CallLayer`] wraps the gRPC routes in a [`CallService`] that hands every
//! call to an [`OnCall`], which decides whether and how the inner service sees it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A gRPC HTTP response.
pub type GrpcResponse = http::Response<tonic::body::Body>;

/// What an [`OnCall`] returns for a call.
pub type CallFuture<E> = Pin<Box<dyn Future<Output = Result<GrpcResponse, E>> + Send>>;

/// What a layer does with each call: pass it to `inner` (possibly watching its response), or
/// answer it itself.
pub trait OnCall: Clone {
    /// Handles one call.
    fn on_call<S, B>(&self, inner: &mut S, request: http::Request<B>) -> CallFuture<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = GrpcResponse>,
        S::Future: Send + 'static,
        S::Error: Send + 'static;
}

/// A tower layer running `H` on every call.
#[derive(Debug, Clone)]
pub struct CallLayer<H>(pub H);

impl<S, H: Clone> tower_layer::Layer<S> for CallLayer<H> {
    type Service = CallService<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        CallService {
            inner,
            handler: self.0.clone(),
        }
    }
}

/// The service a [`CallLayer`] wraps around the gRPC routes.
#[derive(Debug, Clone)]
pub struct CallService<S, H> {
    inner: S,
    handler: H,
}

impl<S, B, H> tower_service::Service<http::Request<B>> for CallService<S, H>
where
    S: tower_service::Service<http::Request<B>, Response = GrpcResponse>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    H: OnCall,
{
    type Response = GrpcResponse;
    type Error = S::Error;
    type Future = CallFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        self.handler.on_call(&mut self.inner, request)
    }
}
