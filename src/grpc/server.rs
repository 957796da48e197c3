//! Server wiring, in one place: configuration, loading, the scoring and admin services with
//! their message limits, gRPC health, server reflection (v1 and v1alpha), request tracing, hot
//! reload triggers (SIGHUP and a file poll, beside the `AdminService.Reload` RPC) and graceful
//! shutdown.
//!
//! Shutdown path: when the `shutdown` future passed to [`run`] completes (the binary wires it to
//! SIGINT and SIGTERM), health turns `NOT_SERVING`, the listener stops accepting, calls in flight
//! finish, and [`run`] returns; if they take longer than `shutdown_grace`, it returns anyway.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;

use crate::error::LoadError;
use crate::grpc::admin::AdminApi;
use crate::grpc::layers::auth::{Access, AuthLayer, Tokens};
use crate::grpc::layers::call::CallLayer;
use crate::grpc::layers::connection::Connection;
use crate::grpc::layers::deadline::DeadlineLayer;
use crate::grpc::layers::intake::IntakeLayer;
use crate::grpc::layers::overload::ShedLayer;
use crate::grpc::layers::tls::TlsConfig;
use crate::grpc::metrics::{Metrics, MetricsLayer};
use crate::grpc::proto::server::admin_service_server::AdminServiceServer;
use crate::grpc::proto::server::scoring_service_server::ScoringServiceServer;
use crate::grpc::scoring::ScoringApi;
use crate::serve::audit::{AuditConfig, AuditError, AuditLog};
use crate::serve::drift::DriftSettings;
use crate::serve::live::Live;
use crate::serve::repository::ModelSource;
use crate::serve::{DEFAULT_MODEL_REPOSITORY, DEFAULT_POLICY};

/// Default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:50051";
/// Default metrics port (on 127.0.0.1).
pub const DEFAULT_METRICS_PORT: u16 = 9464;
/// Default cap on a request or response message: room for 10,000 accounts with 12 cycles each.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;
/// HTTP/2's largest flow-control window.
const LARGEST_WINDOW: u32 = (1 << 31) - 1;
/// Default HTTP/2 window of a stream.
pub const DEFAULT_STREAM_WINDOW_BYTES: u32 = 256 * 1024;
/// Default bound on request bytes in flight: two messages of the largest size, or about nine
/// 10,000-account batches of 12 cycles.
pub const DEFAULT_MAX_REQUEST_BYTES_IN_FLIGHT: usize = 64 * 1024 * 1024;

/// Server settings; every field can come from a TOML file or from flags.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Model: an artifact file, or a model repository directory
    /// (`<dir>/<version>/model.json`) whose latest valid version serves.
    pub model: PathBuf,
    /// Policy file.
    pub policy: PathBuf,
    /// Largest request or response message, in bytes; a larger request message is refused with
    /// `RESOURCE_EXHAUSTED` as soon as its length arrives.
    pub max_message_bytes: usize,
    /// Most bytes of request messages held at once across all calls (at least
    /// `max_message_bytes`); a message that does not fit waits, unread, for room.
    pub max_request_bytes_in_flight: usize,
    /// How long shutdown waits for calls in flight, in seconds.
    pub shutdown_grace_secs: u64,
    /// Async runtime worker threads; 0 (the default) means one per core.
    pub worker_threads: usize,
    /// How often to check the model and policy files for changes and reload, in seconds; 0
    /// turns the poll off (SIGHUP and `AdminService.Reload` still reload).
    pub reload_poll_secs: u64,
    /// Where to serve Prometheus metrics (`GET /metrics`); none turns them off.
    pub metrics_addr: Option<SocketAddr>,
    /// Accounts in the drift window (`AdminService.GetDrift`, `payrisk_drift_psi`); 0 turns
    /// drift monitoring off.
    pub drift_window: usize,
    /// Accounts the drift window must hold before PSI is reported (before that the status is
    /// `insufficient` and `payrisk_drift_psi` has no value).
    pub drift_min_accounts: usize,
    /// Most scoring calls in flight across all connections; more are refused at once with
    /// `RESOURCE_EXHAUSTED` (load shedding).
    pub max_in_flight: usize,
    /// Most concurrent HTTP/2 streams (calls) per connection.
    pub max_concurrent_streams: u32,
    /// HTTP/2 flow-control window of each stream (call), in bytes. A connection's window is
    /// this times `max_concurrent_streams` (at most 2 GiB), so that streams whose handlers have
    /// stopped reading (a `ScoreStream` whose client does not read its replies) can never use up
    /// the window the connection's other calls need; it is also the most a connection can hold
    /// received and unread.
    pub stream_window_bytes: u32,
    /// Longest a call may run, in seconds (a client's shorter `grpc-timeout` wins); then
    /// `DEADLINE_EXCEEDED`.
    pub request_timeout_secs: u64,
    /// HTTP/2 keepalive: ping an idle connection this often, in seconds (0: never), and close it
    /// when the ping is not answered within `keepalive_timeout_secs`.
    pub keepalive_interval_secs: u64,
    /// See `keepalive_interval_secs`.
    pub keepalive_timeout_secs: u64,
    /// Bearer tokens that may call the scoring and admin services, one per line (with
    /// `PAYRISK_AUTH_TOKENS`, comma-separated); with neither, calls need no token.
    pub auth_tokens_file: Option<PathBuf>,
    /// Tokens for the admin service alone (reload, drift), one per line (with
    /// `PAYRISK_ADMIN_TOKENS`, comma-separated); with neither, admin calls take the scoring
    /// tokens.
    pub admin_tokens_file: Option<PathBuf>,
    /// The decision audit log (`[audit]` in the file: `dir`, `mode`, `max_file_bytes`); none
    /// records nothing.
    pub audit: Option<AuditConfig>,
    /// TLS, and mutual TLS with `client_ca` (`[tls]` in the file: `cert`, `key`,
    /// `client_ca`); none serves plaintext HTTP/2.
    pub tls: Option<TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: DEFAULT_ADDR
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 50051))),
            model: PathBuf::from(DEFAULT_MODEL_REPOSITORY),
            policy: PathBuf::from(DEFAULT_POLICY),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_request_bytes_in_flight: DEFAULT_MAX_REQUEST_BYTES_IN_FLIGHT,
            shutdown_grace_secs: 10,
            worker_threads: 0,
            reload_poll_secs: 5,
            metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], DEFAULT_METRICS_PORT))),
            audit: None,
            tls: None,
            auth_tokens_file: None,
            admin_tokens_file: None,
            drift_window: crate::serve::drift::DEFAULT_DRIFT_WINDOW,
            drift_min_accounts: crate::serve::drift::DEFAULT_MIN_DRIFT_ACCOUNTS,
            max_in_flight: 128,
            max_concurrent_streams: 128,
            stream_window_bytes: DEFAULT_STREAM_WINDOW_BYTES,
            request_timeout_secs: 30,
            keepalive_interval_secs: 30,
            keepalive_timeout_secs: 10,
        }
    }
}

impl ServerConfig {
    /// Reads a TOML config file; absent keys keep their defaults.
    pub fn from_file(path: &Path) -> Result<ServerConfig, LoadError> {
        let text = LoadError::read(path)?;
        toml::from_str(&text).map_err(|e| LoadError::Parse {
            origin: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The HTTP/2 window of a connection: room for every stream it may carry to fill its own
    /// window (see [`Self::stream_window_bytes`]), within HTTP/2's largest window.
    pub fn connection_window_bytes(&self) -> u32 {
        self.stream_window()
            .saturating_mul(self.max_concurrent_streams.max(1))
            .min(LARGEST_WINDOW)
    }

    /// [`Self::stream_window_bytes`], within HTTP/2's smallest default and largest window.
    fn stream_window(&self) -> u32 {
        self.stream_window_bytes.clamp(65_535, LARGEST_WINDOW)
    }

    /// The async runtime the server runs on, with [`Self::worker_threads`] workers.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if self.worker_threads > 0 {
            builder.worker_threads(self.worker_threads);
        }
        builder.enable_all().build()
    }

    /// Loads and validates the model (from a repository: its latest valid version) and the
    /// policy, and the challenger's when the policy runs an experiment.
    pub fn load(&self) -> Result<Live, LoadError> {
        Live::start(
            ModelSource::from_path(&self.model),
            &self.policy,
            DriftSettings {
                window: self.drift_window,
                min_accounts: self.drift_min_accounts,
            },
        )
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The gRPC transport failed.
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
    /// The authentication tokens could not be loaded.
    #[error("authentication tokens: {0}")]
    Auth(LoadError),
    /// The TLS certificate, key or client CA could not be loaded.
    #[error("TLS: {0}")]
    Tls(LoadError),
    /// The audit log could not be opened.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The metrics port could not be opened.
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Serves `live` on `listener` (and metrics on `config.metrics_addr`) until `shutdown`
/// completes, then drains gracefully.
pub async fn run(
    listener: TcpListener,
    live: Live,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let live = Arc::new(live);
    let tokens = Tokens::load(
        config.auth_tokens_file.as_deref(),
        std::env::var("PAYRISK_AUTH_TOKENS").ok().as_deref(),
    )
    .map_err(ServeError::Auth)?;
    let admin_tokens = admin_tokens(config)?;
    let tls = match &config.tls {
        Some(t) => Some(t.server_config().map_err(ServeError::Tls)?),
        None => None,
    };
    let mutual_tls = config.tls.as_ref().is_some_and(TlsConfig::mutual);
    match &config.tls {
        Some(t) => tracing::info!(
            cert = %t.cert.display(),
            client_ca = t.client_ca.as_ref().map(|p| p.display().to_string()),
            "TLS on; scoring and admin calls {} a client certificate",
            if mutual_tls { "need" } else { "do not need" }
        ),
        None => tracing::warn!("no TLS: calls and decisions cross the network in plaintext"),
    }
    match (tokens.is_empty(), &admin_tokens) {
        (true, None) => tracing::warn!(
            "no authentication tokens: scoring and admin calls are open to anyone who can connect"
        ),
        (true, Some(_)) => {
            tracing::warn!("no scoring tokens: scoring calls are open to anyone who can connect")
        }
        (false, None) => tracing::info!(
            tokens = tokens.len(),
            "scoring and admin calls need a bearer token (the same ones)"
        ),
        (false, Some(_)) => {
            tracing::info!(tokens = tokens.len(), "scoring calls need a bearer token")
        }
    }
    if let Some(admin) = &admin_tokens {
        tracing::info!(tokens = admin.len(), "admin calls need an admin token");
    }
    let metrics = Arc::new(Metrics::new());
    let audit = match &config.audit {
        Some(c) => Some(Arc::new(AuditLog::open(c)?)),
        None => {
            tracing::warn!("no audit log: decisions are not recorded (set [audit] to record them)");
            None
        }
    };
    let metrics_task = match config.metrics_addr {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Metrics { addr, source })?;
            Some(tokio::spawn(crate::grpc::metrics::serve(
                listener,
                metrics.clone(),
                live.clone(),
                audit.clone(),
            )))
        }
        None => None,
    };
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // Both services answer health checks by name (and the empty name, the server as a whole).
    health_reporter
        .set_serving::<ScoringServiceServer<ScoringApi>>()
        .await;
    health_reporter
        .set_serving::<AdminServiceServer<AdminApi>>()
        .await;

    let reflection_v1 = reflection_builder().build_v1();
    let reflection_v1alpha = reflection_builder().build_v1alpha();

    let deployment = live.current();
    let engine = deployment.champion();
    let model = engine.model().artifact();
    tracing::info!(
        addr = %listener.local_addr().map_or_else(|e| e.to_string(), |a| a.to_string()),
        model = %model.name,
        model_version = %model.version,
        kind = model.model.kind(),
        policy_version = %engine.policy().version,
        experiment = deployment.experiment().map(|e| e.name.as_str()),
        challenger_share = deployment.experiment().map(|e| e.share),
        "payrisk-server ready"
    );

    let scoring = ScoringServiceServer::new(ScoringApi::new(
        live.clone(),
        metrics.clone(),
        audit.clone(),
    ))
    .max_decoding_message_size(config.max_message_bytes)
    .max_encoding_message_size(config.max_message_bytes);
    let admin = AdminServiceServer::new(AdminApi::new(live.clone()));
    let reloads = tokio::spawn(reload_triggers(
        live,
        Hangup::listen(),
        config.reload_poll_secs,
    ));

    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let mut router = builder
        .trace_fn(|request| tracing::info_span!("grpc", path = %request.uri().path()))
        .max_concurrent_streams(config.max_concurrent_streams)
        .initial_stream_window_size(config.stream_window())
        .initial_connection_window_size(config.connection_window_bytes())
        .http2_keepalive_interval(
            (config.keepalive_interval_secs > 0)
                .then(|| Duration::from_secs(config.keepalive_interval_secs)),
        )
        .http2_keepalive_timeout(Some(Duration::from_secs(
            config.keepalive_timeout_secs.max(1),
        )))
        // Outermost first: shed calls are counted and timed too.
        .layer(CallLayer(MetricsLayer::new(metrics)))
        // Inside the metrics layer, so that calls past their deadline are counted.
        .layer(CallLayer(DeadlineLayer::new(Duration::from_secs(
            config.request_timeout_secs.max(1),
        ))))
        .layer(CallLayer(AuthLayer::new(Access {
            scoring: tokens,
            admin: admin_tokens,
            client_certificate: mutual_tls,
        })))
        .layer(CallLayer(ShedLayer::new(config.max_in_flight)))
        // Innermost: only admitted calls reserve request bytes.
        .layer(IntakeLayer::new(
            config.max_message_bytes,
            config.max_request_bytes_in_flight,
        ))
        .add_service(health_service)
        .add_service(scoring)
        .add_service(admin);
    match (reflection_v1, reflection_v1alpha) {
        (Ok(v1), Ok(v1alpha)) => router = router.add_service(v1).add_service(v1alpha),
        (v1, v1alpha) => tracing::warn!(
            v1 = v1.err().map(|e| e.to_string()),
            v1alpha = v1alpha.err().map(|e| e.to_string()),
            "server reflection unavailable"
        ),
    }

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Small responses go out at once: without TCP_NODELAY, Nagle's algorithm holds a response
    // back until the client's delayed ACK (about 40 ms) whenever a connection has several calls
    // in flight.
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .map(|accepted| accepted.map(Connection));
    let server = router.serve_with_incoming_shutdown(incoming, async {
        let _ = stop_rx.await;
    });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => {
            reloads.abort();
            if let Some(task) = metrics_task {
                task.abort();
            }
            close_audit(audit, Duration::from_secs(config.shutdown_grace_secs)).await;
            return Ok(result?);
        }
        () = shutdown => {}
    }
    reloads.abort();
    tracing::info!("shutting down: draining calls in flight");
    health_reporter
        .set_not_serving::<ScoringServiceServer<ScoringApi>>()
        .await;
    health_reporter
        .set_not_serving::<AdminServiceServer<AdminApi>>()
        .await;
    let _ = stop_tx.send(());
    let drained =
        tokio::time::timeout(Duration::from_secs(config.shutdown_grace_secs), server).await;
    // Metrics stay up while calls drain.
    if let Some(task) = metrics_task {
        task.abort();
    }
    close_audit(audit, Duration::from_secs(config.shutdown_grace_secs)).await;
    match drained {
        Ok(result) => {
            tracing::info!("shutdown complete");
            Ok(result?)
        }
        Err(_) => {
            tracing::warn!(
                grace_secs = config.shutdown_grace_secs,
                "calls still in flight after the grace period; stopping anyway"
            );
            Ok(())
        }
    }
}

/// The admin service's own tokens, when a file or `PAYRISK_ADMIN_TOKENS` names any; configured
/// but empty is an error (it would leave the admin service open).
fn admin_tokens(config: &ServerConfig) -> Result<Option<Tokens>, ServeError> {
    let env = std::env::var("PAYRISK_ADMIN_TOKENS").ok();
    if config.admin_tokens_file.is_none() && env.is_none() {
        return Ok(None);
    }
    let tokens = Tokens::load(config.admin_tokens_file.as_deref(), env.as_deref())
        .map_err(ServeError::Auth)?;
    if tokens.is_empty() {
        return Err(ServeError::Auth(LoadError::Invalid {
            origin: config.admin_tokens_file.as_ref().map_or_else(
                || "PAYRISK_ADMIN_TOKENS".to_owned(),
                |p| p.display().to_string(),
            ),
            message: "admin tokens are configured but there are none".into(),
        }));
    }
    Ok(Some(tokens))
}

/// Writes and syncs what the audit log has queued once no call holds it (waiting up to `grace`
/// for streams still finishing).
async fn close_audit(audit: Option<Arc<AuditLog>>, grace: Duration) {
    let Some(mut audit) = audit else { return };
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        match Arc::try_unwrap(audit) {
            Ok(log) => {
                let _ = tokio::task::spawn_blocking(move || log.close()).await;
                tracing::info!("audit log closed");
                return;
            }
            Err(shared) if tokio::time::Instant::now() < deadline => {
                audit = shared;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => {
                tracing::warn!("calls still hold the audit log; its writer finishes on its own");
                return;
            }
        }
    }
}

/// SIGHUP, listened for from the moment this is made: once the server has started, a SIGHUP
/// reloads instead of ending the process.
struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn listen() -> Hangup {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signal = signal(SignalKind::hangup())
                .inspect_err(|e| {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP; reload by RPC or file poll");
                })
                .ok();
            Hangup { signal }
        }
        #[cfg(not(unix))]
        Hangup {}
    }

    /// Completes at the next SIGHUP (never where there are none).
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut() {
            if signal.recv().await.is_some() {
                return;
            }
            self.signal = None;
        }
        std::future::pending::<()>().await
    }
}

/// Reloads on SIGHUP and, every `poll_secs` (0: never), when the files changed. Runs until
/// aborted; failures are logged and recorded by [`Live`], and the previous version serves on.
async fn reload_triggers(live: Arc<Live>, mut hangup: Hangup, poll_secs: u64) {
    let mut poll = (poll_secs > 0).then(|| {
        let start = tokio::time::Instant::now() + Duration::from_secs(poll_secs);
        let mut i = tokio::time::interval_at(start, Duration::from_secs(poll_secs));
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    loop {
        let tick = async {
            match poll.as_mut() {
                Some(i) => i.tick().await,
                None => std::future::pending().await,
            }
        };
        let live = live.clone();
        tokio::select! {
            () = hangup.recv() => {
                tracing::info!("SIGHUP received: reloading");
                let _ = tokio::task::spawn_blocking(move || live.reload()).await;
            }
            _ = tick => {
                let _ = tokio::task::spawn_blocking(move || live.reload_if_changed()).await;
            }
        }
    }
}

fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::grpc::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // google.rpc.BadRequest, so that clients such as grpcurl can decode error details.
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

/// Completes on SIGINT or SIGTERM (on non-Unix systems, Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => tracing::info!("SIGINT received"),
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_keys_override_defaults_and_unknown_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("payrisk-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("server.toml");
        std::fs::write(&path, "addr = \"0.0.0.0:6000\"\nshutdown_grace_secs = 3\n").expect("write");
        let config = ServerConfig::from_file(&path).expect("valid config");
        assert_eq!(config.addr, "0.0.0.0:6000".parse().expect("addr"));
        assert_eq!(config.shutdown_grace_secs, 3);
        assert_eq!(config.model, PathBuf::from(DEFAULT_MODEL_REPOSITORY));

        std::fs::write(&path, "adress = \"0.0.0.0:6000\"\n").expect("write");
        let err = ServerConfig::from_file(&path)
            .expect_err("typo")
            .to_string();
        assert!(
            err.contains("adress") && err.contains("server.toml"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
