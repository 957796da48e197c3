//! An accepted TCP connection as the HTTP/2 server sees it: the same socket, presented as
//! one that does not take vectored writes, so that a small reply leaves in one write.
//!
//! Why: h2 (0.4) keeps a DATA frame's payload out of its write buffer when the payload is over
//! 256 bytes and the socket takes vectored writes, and it buffers no further frame until that
//! payload is written. A unary `Score` reply is a 370–420-byte message followed by the trailers
//! (`grpc-status`), so every call took two or three writes, as many TCP segments, and as many
//! wake-ups of the caller's connection task. Over a socket without vectored writes, h2 copies
//! payloads of up to 1 KiB into its buffer instead, and the headers, the message and the
//! trailers go out in one `write` (`tests/it/transport.rs` counts the segments). Larger payloads
//! (batch and stream replies) are still sent from their own buffer, in two plain writes instead
//! of one `writev`: a few more system calls per hundred kilobytes.
//!
//! With TLS, tonic wraps this connection in its TLS stream, which h2 sees instead: replies
//! there still take two writes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// An accepted TCP connection that reports no vectored-write support (see the module docs).
#[derive(Debug)]
pub struct Connection(pub TcpStream);

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

impl Connected for Connection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.0.connect_info()
    }
}
