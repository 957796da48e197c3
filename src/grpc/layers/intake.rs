//! Request bytes in flight, bounded across all calls, and the size cap enforced as each message
//! begins.
//!
//! Every request body passes through [`Metered`], which reads the gRPC framing (a flag byte and a
//! four-byte length before each message) as the bytes go by. Rules, in order:
//! 1. A message whose declared length is over `max_message_bytes` ends its call at once with
//!    `RESOURCE_EXHAUSTED`, before any of it is buffered (tonic's own check would answer
//!    `OUT_OF_RANGE`, after buffering nothing either, but that is not the code gRPC clients treat
//!    as "too large").
//! 2. Before a message's first byte is handed on, its declared length is reserved from one budget
//!    of `max_request_bytes_in_flight` shared by every call; the reservation is held until the
//!    call's next message begins or its request body is dropped (for a unary call, once the
//!    message is decoded). A message that does not fit waits, unread: its client is held back by
//!    HTTP/2 flow control, and the call's deadline still runs. Reservations are whole messages
//!    taken in one step, so waiting calls hold nothing and cannot deadlock each other.
//! 3. A body that fails (the client reset the stream or the connection dropped) marks its call
//!    [`Abandoned`], so the metrics count it `CANCELLED`, the code the client saw; a body that
//!    ends inside a message answers `INVALID_ARGUMENT`.
//!
//! Memory that remains outside the budget: what HTTP/2 has received but nobody has read yet,
//! at most one connection window per connection (`grpc::server` sets the windows).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;
use tonic::Status;

/// Bounds request bytes in flight (see the module docs); a tower layer.
#[derive(Debug, Clone)]
pub struct IntakeLayer {
    budget: Arc<Budget>,
}

#[derive(Debug)]
struct Budget {
    permits: Arc<Semaphore>,
    max_message: u32,
    total: usize,
}

impl IntakeLayer {
    /// Admits messages of at most `max_message` bytes, and at most `total` bytes of request
    /// messages at once (raised to `max_message` if lower, so that every admissible message
    /// fits).
    pub fn new(max_message: usize, total: usize) -> IntakeLayer {
        let max_message = u32::try_from(max_message).unwrap_or(u32::MAX);
        let total = total.clamp(max_message as usize, Semaphore::MAX_PERMITS);
        IntakeLayer {
            budget: Arc::new(Budget {
                permits: Arc::new(Semaphore::new(total)),
                max_message,
                total,
            }),
        }
    }
}

impl<S> tower_layer::Layer<S> for IntakeLayer {
    type Service = Intake<S>;

    fn layer(&self, inner: S) -> Intake<S> {
        Intake {
            inner,
            budget: self.budget.clone(),
        }
    }
}

/// The service an [`IntakeLayer`] wraps around the gRPC routes.
#[derive(Debug, Clone)]
pub struct Intake<S> {
    inner: S,
    budget: Arc<Budget>,
}

impl<S> tower_service::Service<http::Request<Body>> for Intake<S>
where
    S: tower_service::Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> S::Future {
        let abandoned = request.extensions().get::<Abandoned>().cloned();
        let budget = self.budget.clone();
        self.inner
            .call(request.map(|inner| Body::new(Metered::new(inner, budget, abandoned))))
    }
}

/// Set when a call's client went away before its request arrived; put in the request's
/// extensions by the metrics layer, set by [`Metered`].
#[derive(Debug, Clone, Default)]
pub struct Abandoned(Arc<AtomicBool>);

impl Abandoned {
    /// Whether the call's request body failed.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

type Acquiring = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// A request body whose messages are checked and reserved as they begin.
struct Metered {
    inner: Body,
    budget: Arc<Budget>,
    abandoned: Option<Abandoned>,
    /// The frame header being read, and how much of it has arrived.
    header: [u8; 5],
    have: usize,
    /// Bytes of the current message still to come.
    left: usize,
    /// The current message's reservation.
    held: Option<OwnedSemaphorePermit>,
    /// A reservation being waited for.
    waiting: Option<Acquiring>,
    /// Data received and not yet handed on, with how much of it the framing has read.
    stash: Option<(Bytes, usize)>,
    done: bool,
}

/// What reading a chunk's framing came to.
enum Scan {
    /// Hand on the chunk up to here (the rest, if any, starts a message).
    Pass(usize),
    /// A message begins here and must wait for its reservation of this many bytes.
    Wait(usize, u32),
    /// The call ends with this status.
    Refuse(Status),
}

impl Metered {
    fn new(inner: Body, budget: Arc<Budget>, abandoned: Option<Abandoned>) -> Metered {
        Metered {
            inner,
            budget,
            abandoned,
            header: [0; 5],
            have: 0,
            left: 0,
            held: None,
            waiting: None,
            stash: None,
            done: false,
        }
    }

    /// Reads the framing of `chunk` from `at`: passes whole messages' bytes, and stops where a
    /// message begins that is refused or must wait.
    fn scan(&mut self, chunk: &[u8], mut at: usize) -> Scan {
        let start = at;
        while at < chunk.len() {
            if self.left > 0 {
                let n = self.left.min(chunk.len() - at);
                self.left -= n;
                at += n;
                continue;
            }
            // The next message's header begins here: what came before goes on first, so that
            // a message never waits behind the end of the previous one.
            if self.have == 0 && at > start {
                return Scan::Pass(at);
            }
            let n = (5 - self.have).min(chunk.len() - at);
            self.header[self.have..self.have + n].copy_from_slice(&chunk[at..at + n]);
            self.have += n;
            at += n;
            if self.have < 5 {
                break;
            }
            self.have = 0;
            let len = u32::from_be_bytes([
                self.header[1],
                self.header[2],
                self.header[3],
                self.header[4],
            ]);
            if len > self.budget.max_message {
                return Scan::Refuse(Status::resource_exhausted(format!(
                    "the request message is {len} bytes; at most {} are accepted",
                    self.budget.max_message
                )));
            }
            // The previous message is handed on whole: its reservation ends.
            self.held = None;
            self.left = len as usize;
            if len > 0 {
                match self.budget.permits.clone().try_acquire_many_owned(len) {
                    Ok(permit) => self.held = Some(permit),
                    Err(_) => return Scan::Wait(at, len),
                }
            }
        }
        Scan::Pass(at)
    }

    fn fail(&mut self, status: Status) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        self.done = true;
        self.stash = None;
        self.waiting = None;
        Poll::Ready(Some(Err(status)))
    }
}

impl http_body::Body for Metered {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            if let Some(waiting) = &mut this.waiting {
                let permit = ready!(waiting.as_mut().poll(cx));
                this.waiting = None;
                match permit {
                    Ok(permit) => this.held = Some(permit),
                    Err(_) => return this.fail(Status::unavailable("the server is stopping")),
                }
            }
            if let Some((mut chunk, at)) = this.stash.take() {
                match this.scan(&chunk, at) {
                    Scan::Pass(end) => {
                        let passed = chunk.split_to(end);
                        if !chunk.is_empty() {
                            this.stash = Some((chunk, 0));
                        }
                        if passed.is_empty() {
                            continue;
                        }
                        return Poll::Ready(Some(Ok(Frame::data(passed))));
                    }
                    Scan::Wait(at, len) => {
                        this.stash = Some((chunk, at));
                        let permits = this.budget.permits.clone();
                        tracing::debug!(
                            len,
                            total = this.budget.total,
                            "a request message waits for room among the bytes in flight"
                        );
                        this.waiting = Some(Box::pin(permits.acquire_many_owned(len)));
                        continue;
                    }
                    Scan::Refuse(status) => return this.fail(status),
                }
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.stash = Some((data, 0)),
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                Some(Err(status)) => {
                    if let Some(abandoned) = &this.abandoned {
                        abandoned.set();
                    }
                    return this.fail(status);
                }
                None => {
                    this.done = true;
                    if this.have > 0 || this.left > 0 {
                        return Poll::Ready(Some(Err(Status::invalid_argument(
                            "the request ended inside a message",
                        ))));
                    }
                    return Poll::Ready(None);
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.stash.is_none() && self.waiting.is_none() && self.inner.is_end_stream())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn framed(len: u32, fill: u8) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend(std::iter::repeat_n(fill, len as usize));
        v
    }

    fn metered(layer: &IntakeLayer, chunks: Vec<Vec<u8>>) -> Metered {
        let stream = tokio_stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, Status>(Frame::data(Bytes::from(c)))),
        );
        Metered::new(
            Body::new(http_body_util::StreamBody::new(stream)),
            layer.budget.clone(),
            None,
        )
    }

    #[tokio::test]
    async fn bytes_pass_unchanged_however_the_framing_is_cut() {
        // Pins that metering changes no byte: messages split across chunks and several messages
        // in one chunk come out as they went in.
        let layer = IntakeLayer::new(1000, 4000);
        let stream: Vec<u8> = [framed(3, 1), framed(0, 0), framed(700, 2), framed(9, 3)].concat();
        for cut in [1, 2, 5, 6, 7, 64, 1000] {
            let chunks = stream.chunks(cut).map(<[u8]>::to_vec).collect();
            let out = metered(&layer, chunks).collect().await.unwrap().to_bytes();
            assert_eq!(out.as_ref(), stream.as_slice(), "cut {cut}");
        }
        assert_eq!(layer.budget.permits.available_permits(), 4000);
    }

    #[tokio::test]
    async fn an_oversized_message_is_refused_before_its_bytes() {
        // Pins rule 1: RESOURCE_EXHAUSTED as soon as the header declares too much.
        let layer = IntakeLayer::new(100, 1000);
        let mut body = metered(&layer, vec![framed(101, 0)[..5].to_vec()]);
        let status = body.frame().await.unwrap().unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn a_message_waits_until_the_budget_has_room() {
        // Pins rule 2: the second body's message waits, unread, while the first holds the budget,
        // and goes on once the first body is dropped.
        let layer = IntakeLayer::new(600, 1000);
        let mut first = metered(&layer, vec![framed(600, 1)]);
        let head = first.frame().await.unwrap().unwrap();
        assert_eq!(head.data_ref().map(Bytes::len), Some(605));
        assert_eq!(layer.budget.permits.available_permits(), 400);
        let mut second = metered(&layer, vec![framed(500, 2)]);
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(50), second.frame()).await;
        assert!(early.is_err(), "the second message must wait");
        drop(first);
        let frame = second.frame().await.unwrap().unwrap();
        assert_eq!(frame.data_ref().map(Bytes::len), Some(505));
        assert_eq!(layer.budget.permits.available_permits(), 500);
    }

    #[tokio::test]
    async fn a_body_ending_inside_a_message_is_an_invalid_argument() {
        // Pins rule 3's second half.
        let layer = IntakeLayer::new(100, 1000);
        let mut body = metered(&layer, vec![framed(10, 0)[..8].to_vec()]);
        assert!(body.frame().await.unwrap().is_ok());
        let status = body.frame().await.unwrap().unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }
}
