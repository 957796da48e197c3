//! What the server puts on the wire, seen from a real TCP connection to a real server.

use crate::common;

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use common::{good_account, TestServer};
use hyper_util::rt::TokioIo;
use payrisk::grpc::proto::v1 as pb;
use payrisk::grpc::proto::v1::scoring_service_client::ScoringServiceClient;
use tonic::transport::Endpoint;

/// Connects to one address and keeps a second handle on the socket, to read its `TCP_INFO`.
#[derive(Clone)]
struct Connector {
    addr: SocketAddr,
    socket: Arc<Mutex<Option<std::net::TcpStream>>>,
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = TokioIo<tokio::net::TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let (addr, socket) = (self.addr, self.socket.clone());
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let stream = stream.into_std()?;
            *socket.lock().expect("lock") = Some(stream.try_clone()?);
            Ok(TokioIo::new(tokio::net::TcpStream::from_std(stream)?))
        })
    }
}

/// Data-bearing TCP segments this socket has received so far (not counting bare
/// acknowledgements).
fn data_segments_in(socket: &std::net::TcpStream) -> u32 {
    // SAFETY: `tcp_info` is plain data, and `getsockopt` writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(
        rc,
        0,
        "getsockopt(TCP_INFO): {}",
        std::io::Error::last_os_error()
    );
    info.tcpi_data_segs_in
}

/// A `Score` reply (headers, a message of about 400 bytes with its reason codes, and the
/// `grpc-status` trailers) leaves the server in one write, so it reaches the client as one TCP
/// segment rather than two: one wake-up of the caller per call, not two.
#[tokio::test]
async fn a_score_reply_arrives_in_one_segment() {
    let server = TestServer::start().await;
    let connector = Connector {
        addr: server.addr,
        socket: Arc::default(),
    };
    let channel = Endpoint::from_static("http://payrisk.test")
        .connect_with_connector(connector.clone())
        .await
        .expect("connect");
    let client = ScoringServiceClient::new(channel);
    let request = pb::ScoreRequest {
        account: Some(good_account("acct-1")),
        ..Default::default()
    };
    let call = || {
        let mut client = client.clone();
        let request = request.clone();
        async move {
            let reply = client.score(request).await.expect("scored").into_inner();
            assert!(!reply.reasons.is_empty(), "the reply carries reason codes");
        }
    };
    for _ in 0..20 {
        call().await;
    }
    let socket = connector
        .socket
        .lock()
        .expect("lock")
        .take()
        .expect("connected");
    let before = data_segments_in(&socket);
    const CALLS: u32 = 100;
    for _ in 0..CALLS {
        call().await;
    }
    let segments = data_segments_in(&socket) - before;
    // Two writes per reply are 2 segments per call; one write is 1, plus the odd window update.
    assert!(
        segments < CALLS * 3 / 2,
        "{segments} segments for {CALLS} calls"
    );
    server.stop().await;
}
