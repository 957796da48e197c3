//! Deadlines: a call that outlives its deadline ends with `DEADLINE_EXCEEDED`, the code gRPC
//! clients' retry and alerting rules expect, and is counted by the metrics layer like any other.
//!
//! Rules, in order:
//! 1. A call's deadline is the server's `request_timeout_secs`, or the client's `grpc-timeout`
//!    when that is sooner.
//! 2. A client's deadline is taken [`MARGIN`] early. tonic enforces `grpc-timeout` itself, outside
//!    every layer of ours, and answers `CANCELLED "Timeout expired"` where no layer (the metrics
//!    included) sees the call end; ending the call first leaves tonic's timer nothing to do.
//!    The server's own limit is not given to tonic at all.
//! 3. The deadline covers the call until its response starts (as tonic's did): a stream's
//!    messages are paced by flow control, not by the deadline.

use std::time::Duration;

use crate::grpc::layers::call::{CallFuture, GrpcResponse, OnCall};

/// How much earlier than the client's deadline the server ends a call.
pub const MARGIN: Duration = Duration::from_millis(2);

/// Ends calls at their deadline; a tower layer as `CallLayer(DeadlineLayer)`.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    max: Duration,
}

impl DeadlineLayer {
    /// No call runs longer than `max`.
    pub fn new(max: Duration) -> DeadlineLayer {
        DeadlineLayer { max }
    }

    /// The deadline of a call with these headers (rules 1 and 2).
    fn deadline(&self, headers: &http::HeaderMap) -> Duration {
        headers
            .get("grpc-timeout")
            .and_then(|v| grpc_timeout(v.as_bytes()))
            .map_or(self.max, |client| {
                client.saturating_sub(MARGIN).min(self.max)
            })
    }
}

/// A `grpc-timeout` value: up to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
fn grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

impl OnCall for DeadlineLayer {
    fn on_call<S, B>(&self, inner: &mut S, request: http::Request<B>) -> CallFuture<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = GrpcResponse>,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        let deadline = self.deadline(request.headers());
        let future = inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(deadline, future).await {
                Ok(response) => response,
                Err(_) => {
                    let status = tonic::Status::deadline_exceeded(format!(
                        "the call's deadline ({} ms) passed before it finished",
                        deadline.as_millis()
                    ));
                    Ok(status.into_http())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A service that answers OK after `delay`.
    #[derive(Clone)]
    struct Slow(Duration);

    impl tower_service::Service<http::Request<()>> for Slow {
        type Response = GrpcResponse;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<GrpcResponse, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            let delay = self.0;
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                Ok(tonic::Status::ok("").into_http())
            })
        }
    }

    fn call(timeout: Option<&str>) -> http::Request<()> {
        let mut request = http::Request::new(());
        if let Some(t) = timeout {
            request
                .headers_mut()
                .insert("grpc-timeout", t.parse().expect("header"));
        }
        request
    }

    fn code(response: &GrpcResponse) -> Option<&str> {
        response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_deadline_ends_with_deadline_exceeded() {
        let layer = DeadlineLayer::new(Duration::from_secs(30));
        let mut slow = Slow(Duration::from_secs(1));
        // The client's 100 ms: answered DEADLINE_EXCEEDED (4), the margin early.
        let started = tokio::time::Instant::now();
        let response = layer
            .on_call(&mut slow, call(Some("100m")))
            .await
            .expect("a response");
        assert_eq!(code(&response), Some("4"));
        assert_eq!(started.elapsed(), Duration::from_millis(100) - MARGIN);
        // The server's own limit, without a client deadline.
        let strict = DeadlineLayer::new(Duration::from_millis(300));
        let started = tokio::time::Instant::now();
        let response = strict
            .on_call(&mut slow, call(None))
            .await
            .expect("a response");
        assert_eq!(code(&response), Some("4"));
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        // A call within its deadline is the inner service's answer.
        let response = layer
            .on_call(&mut slow, call(Some("5S")))
            .await
            .expect("a response");
        assert_eq!(code(&response), Some("0"));
    }

    #[test]
    fn grpc_timeout_values_parse_by_the_spec() {
        assert_eq!(grpc_timeout(b"100m"), Some(Duration::from_millis(100)));
        assert_eq!(grpc_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(
            grpc_timeout(b"99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in [&b""[..], b"m", b"123456789S", b"10x", b"-1S", b"1.5S"] {
            assert_eq!(grpc_timeout(bad), None, "{bad:?}");
        }
        // A garbled header leaves the server's own limit.
        let layer = DeadlineLayer::new(Duration::from_secs(30));
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", "soon".parse().expect("header"));
        assert_eq!(layer.deadline(&headers), Duration::from_secs(30));
    }
}
