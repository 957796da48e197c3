//! Authentication of calls ([`Access`]): when tokens are configured, every call to the scoring
//! and admin services must carry `authorization: Bearer <token>` with one of them, and under
//! mutual TLS ([`crate::grpc::layers::tls`]) it must come over a connection whose client presented a verified
//! certificate; otherwise it fails with `UNAUTHENTICATED`. With admin tokens configured, the
//! admin service (reload, drift) takes only those: a scoring token there gets
//! `PERMISSION_DENIED`, and an admin token cannot score. Health checks and reflection stay open,
//! so that load balancers and tools can reach them.
//!
//! Tokens come from a file (one per line; blank lines and `#` comments skipped) and/or the
//! `PAYRISK_AUTH_TOKENS` environment variable (comma-separated). A presented token is compared
//! with every configured one in constant time (only lengths can leak), and tokens are never
//! logged.

use std::path::Path;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::error::LoadError;
use crate::grpc::layers::call::{CallFuture, GrpcResponse, OnCall};

/// Paths that need no token.
const OPEN: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The admin service's path prefix.
const ADMIN: &str = "/payrisk.v1.AdminService/";

/// Shortest token accepted in configuration.
pub const MIN_TOKEN_LEN: usize = 16;

/// The accepted tokens.
#[derive(Clone, Default)]
pub struct Tokens(Arc<Vec<Vec<u8>>>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.0.len())
    }
}

impl Tokens {
    /// Tokens from `file` (if any) and `env` (comma-separated, if any). Tokens shorter than
    /// [`MIN_TOKEN_LEN`] are refused.
    pub fn load(file: Option<&Path>, env: Option<&str>) -> Result<Tokens, LoadError> {
        let mut tokens = Vec::new();
        let mut add = |origin: &str, token: &str| -> Result<(), LoadError> {
            let token = token.trim();
            if token.is_empty() || token.starts_with('#') {
                return Ok(());
            }
            if token.len() < MIN_TOKEN_LEN || token.chars().any(|c| c.is_whitespace()) {
                return Err(LoadError::Invalid {
                    origin: origin.to_owned(),
                    message: format!(
                        "a token must be at least {MIN_TOKEN_LEN} characters without spaces"
                    ),
                });
            }
            tokens.push(token.as_bytes().to_vec());
            Ok(())
        };
        if let Some(path) = file {
            let text = LoadError::read(path)?;
            for line in text.lines() {
                add(&path.display().to_string(), line)?;
            }
        }
        if let Some(list) = env {
            for token in list.split(',') {
                add("PAYRISK_AUTH_TOKENS", token)?;
            }
        }
        Ok(Tokens(Arc::new(tokens)))
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none are (then nothing is checked).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` is one of the tokens, compared with all of them in constant time.
    fn accepts(&self, presented: &[u8]) -> bool {
        let mut found = subtle::Choice::from(0);
        for token in self.0.iter() {
            found |= token.as_slice().ct_eq(presented);
        }
        found.into()
    }

    fn authorized(&self, request: &http::Request<impl Sized>) -> bool {
        request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .is_some_and(|t| self.accepts(t))
    }
}

/// Who may call what (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Tokens for the scoring service, and for the admin service when `admin` is none; none
    /// configured: no token is needed.
    pub scoring: Tokens,
    /// Tokens for the admin service alone; none: the scoring tokens serve for both.
    pub admin: Option<Tokens>,
    /// Whether calls need a verified TLS client certificate (mutual TLS).
    pub client_certificate: bool,
}

impl Access {
    /// Why `request` may not go through, if it may not.
    fn refusal<B>(&self, request: &http::Request<B>) -> Option<tonic::Status> {
        let path = request.uri().path();
        if OPEN.iter().any(|p| path.starts_with(p)) {
            return None;
        }
        if self.client_certificate && !has_client_certificate(request) {
            return Some(tonic::Status::unauthenticated(
                "a client certificate is required",
            ));
        }
        let tokens = match &self.admin {
            Some(admin) if path.starts_with(ADMIN) => admin,
            _ => &self.scoring,
        };
        if tokens.is_empty() || tokens.authorized(request) {
            return None;
        }
        if path.starts_with(ADMIN) && self.scoring.authorized(request) {
            return Some(tonic::Status::permission_denied(
                "this token may not call the admin service",
            ));
        }
        Some(tonic::Status::unauthenticated(
            "a valid bearer token is required",
        ))
    }
}

/// Refuses unauthenticated calls (see the module docs); a tower layer as
/// `CallLayer(AuthLayer)`.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    access: Arc<Access>,
}

impl AuthLayer {
    /// Checks calls against `access`.
    pub fn new(access: Access) -> AuthLayer {
        AuthLayer {
            access: Arc::new(access),
        }
    }
}

impl OnCall for AuthLayer {
    fn on_call<S, B>(&self, inner: &mut S, request: http::Request<B>) -> CallFuture<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = GrpcResponse>,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        let Some(status) = self.access.refusal(&request) else {
            return Box::pin(inner.call(request));
        };
        tracing::info!(
            path = %request.uri().path(),
            peer = ?peer(&request),
            code = ?status.code(),
            reason = status.message(),
            "call refused"
        );
        Box::pin(std::future::ready(Ok(status.into_http())))
    }
}

type TlsInfo = TlsConnectInfo<TcpConnectInfo>;

/// Whether the call came over TLS from a client that presented a certificate (rustls has
/// verified any certificate presented against the client CA during the handshake).
fn has_client_certificate<B>(request: &http::Request<B>) -> bool {
    request
        .extensions()
        .get::<TlsInfo>()
        .and_then(TlsInfo::peer_certs)
        .is_some_and(|certs| !certs.is_empty())
}

/// The caller's address, for the log.
fn peer<B>(request: &http::Request<B>) -> Option<std::net::SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<TlsInfo>()
        .and_then(|i| i.get_ref().remote_addr())
        .or_else(|| {
            extensions
                .get::<TcpConnectInfo>()
                .and_then(TcpConnectInfo::remote_addr)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_load_from_a_file_and_the_environment_and_short_ones_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# scoring clients\nworklist-builder-0123456789\n\n").expect("write");
        let t = Tokens::load(Some(&file), Some("other-client-abcdefghij, ")).expect("valid tokens");
        assert_eq!(t.len(), 2);
        assert!(t.accepts(b"worklist-builder-0123456789"));
        assert!(t.accepts(b"other-client-abcdefghij"));
        assert!(!t.accepts(b"worklist-builder-012345678"));
        assert!(!t.accepts(b""));
        assert!(!format!("{t:?}").contains("worklist"), "never printed");

        let err = Tokens::load(None, Some("short")).expect_err("too short");
        assert!(err.to_string().contains("PAYRISK_AUTH_TOKENS"), "{err}");
    }
}
