//! The `/metrics` endpoint: OpenMetrics text over HTTP/1.1 on a port of its own, rendered from
//! the registry at each scrape.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::TcpListener;

use super::Metrics;
use crate::serve::audit::AuditLog;
use crate::serve::live::Live;

/// Serves `GET /metrics` on `listener` until the task is dropped or aborted.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    live: Arc<Live>,
    audit: Option<Arc<AuditLog>>,
) {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let addr = listener
        .local_addr()
        .map_or_else(|e| e.to_string(), |a: SocketAddr| a.to_string());
    tracing::info!(url = %format!("http://{addr}/metrics"), "metrics endpoint ready");
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: accept failed");
                continue;
            }
        };
        let (metrics, live, audit) = (metrics.clone(), live.clone(), audit.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let response = if request.method() == http::Method::GET
                    && request.uri().path() == "/metrics"
                {
                    http::Response::builder()
                        .header(
                            http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )
                        .body(http_body_util::Full::new(Bytes::from(
                            metrics.render(&live, audit.as_deref()),
                        )))
                } else {
                    http::Response::builder()
                        .status(http::StatusCode::NOT_FOUND)
                        .body(http_body_util::Full::new(Bytes::from_static(
                            b"not found: metrics are at /metrics\n",
                        )))
                };
                std::future::ready(response)
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "metrics connection ended");
            }
        });
    }
}
