//! A gRPC response body with something riding along until it is done: the tower layers use it
//! to record a call when its trailers pass ([`crate::grpc::metrics`]) or to hold its place in the
//! in-flight limit ([`crate::grpc::layers::overload`]). The rider is dropped with the body.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;

/// The result of polling a response body for its next frame.
pub type Polled = Poll<Option<Result<Frame<Bytes>, tonic::Status>>>;

/// What rides along with a response body.
pub trait Rider: Send + Unpin + 'static {
    /// Sees each poll's result (default: nothing).
    fn polled(&mut self, _polled: &Polled) {}
}

/// `inner`, with `rider` along until the body is dropped.
pub fn watched(inner: tonic::body::Body, rider: impl Rider) -> tonic::body::Body {
    tonic::body::Body::new(Watched { inner, rider })
}

struct Watched<R> {
    inner: tonic::body::Body,
    rider: R,
}

impl<R: Rider> http_body::Body for Watched<R> {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        self.rider.polled(&polled);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
