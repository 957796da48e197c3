//! `payrisk-server`: serves the scoring gRPC API on a trained model and a treatment policy.
//!
//! Settings come from `--config FILE` (TOML, see `ServerConfig`) and flags; flags win. Logs go to
//! stderr (`RUST_LOG` filters, `--log-format json` for structured logs). SIGINT or SIGTERM drains
//! calls in flight and exits 0; a bad model or policy exits 1 with the reason. SIGHUP (or the
//! `AdminService.Reload` RPC, or a change to the files) reloads the model and policy without a
//! restart; a bad file leaves the previous version serving.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use payrisk::grpc::layers::tls::TlsConfig;
use payrisk::grpc::server::{self, ServerConfig};
use payrisk::serve::audit::{AuditConfig, AuditMode};

/// Payment-risk scoring gRPC server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TOML config file (keys: addr, model, policy, max_message_bytes,
    /// max_request_bytes_in_flight, shutdown_grace_secs, worker_threads, reload_poll_secs,
    /// metrics_addr, max_in_flight, max_concurrent_streams, stream_window_bytes,
    /// request_timeout_secs, keepalive_interval_secs, keepalive_timeout_secs, auth_tokens_file,
    /// admin_tokens_file, drift_window, drift_min_accounts; an `[audit]` table: dir, mode,
    /// max_file_bytes; a `[tls]` table: cert, key, client_ca).
    #[arg(long, env = "PAYRISK_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "PAYRISK_ADDR")]
    addr: Option<SocketAddr>,
    /// Model artifact, or model repository directory (`<dir>/<version>/model.json`) whose latest
    /// valid version serves [default: models/uci-credit].
    #[arg(long, env = "PAYRISK_MODEL")]
    model: Option<PathBuf>,
    /// Treatment policy [default: models/policy.toml].
    #[arg(long, env = "PAYRISK_POLICY")]
    policy: Option<PathBuf>,
    /// Largest request or response message in bytes [default: 33554432].
    #[arg(long)]
    max_message_bytes: Option<usize>,
    /// Most bytes of request messages held at once across all calls; a message that does not
    /// fit waits for room [default: 67108864].
    #[arg(long)]
    max_request_bytes_in_flight: Option<usize>,
    /// HTTP/2 flow-control window of each call, in bytes; a connection's window is this times
    /// the streams it may carry, so stalled calls never block the others [default: 262144].
    #[arg(long)]
    stream_window_bytes: Option<u32>,
    /// Seconds to wait for calls in flight at shutdown [default: 10].
    #[arg(long)]
    shutdown_grace_secs: Option<u64>,
    /// Async runtime worker threads [default: 0, one per core].
    #[arg(long)]
    worker_threads: Option<usize>,
    /// Seconds between checks of the model and policy files for changes (0: off) [default: 5].
    #[arg(long)]
    reload_poll_secs: Option<u64>,
    /// Where to serve Prometheus metrics (GET /metrics) [default: 127.0.0.1:9464].
    #[arg(long, env = "PAYRISK_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// Serve no metrics.
    #[arg(long, conflicts_with = "metrics_addr")]
    no_metrics: bool,
    /// Bearer tokens for the scoring and admin services, one per line (also
    /// PAYRISK_AUTH_TOKENS, comma-separated) [default: none: open].
    #[arg(long)]
    auth_tokens_file: Option<PathBuf>,
    /// Tokens for the admin service alone, one per line (also PAYRISK_ADMIN_TOKENS)
    /// [default: none: admin calls take the scoring tokens].
    #[arg(long)]
    admin_tokens_file: Option<PathBuf>,
    /// Accounts in the drift window (0: no drift monitoring) [default: 10000].
    #[arg(long)]
    drift_window: Option<usize>,
    /// Accounts the drift window must hold before PSI is reported [default: 1000].
    #[arg(long)]
    drift_min_accounts: Option<usize>,
    /// Most scoring calls in flight; more are refused with RESOURCE_EXHAUSTED [default: 128].
    #[arg(long)]
    max_in_flight: Option<usize>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "PAYRISK_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, env = "PAYRISK_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: scoring and admin calls need a client certificate signed by these CAs (PEM).
    #[arg(long, env = "PAYRISK_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// Record every decision in a JSON Lines audit log in this directory [default: none].
    #[arg(long, env = "PAYRISK_AUDIT_DIR")]
    audit_dir: Option<PathBuf>,
    /// What a response waits for: `durable` (its records synced to disk) or `async` (queued).
    #[arg(long, value_enum, requires = "audit_dir")]
    audit_mode: Option<AuditModeArg>,
    /// Start a new audit file once the current one reaches this size [default: 67108864].
    #[arg(long, requires = "audit_dir")]
    audit_max_file_bytes: Option<u64>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuditModeArg {
    Durable,
    Async,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_tracing(args.log_format);

    let mut config = match &args.config {
        Some(path) => ServerConfig::from_file(path)?,
        None => ServerConfig::default(),
    };
    if let Some(v) = args.addr {
        config.addr = v;
    }
    if let Some(v) = args.model {
        config.model = v;
    }
    if let Some(v) = args.policy {
        config.policy = v;
    }
    if let Some(v) = args.max_message_bytes {
        config.max_message_bytes = v;
    }
    if let Some(v) = args.max_request_bytes_in_flight {
        config.max_request_bytes_in_flight = v;
    }
    if let Some(v) = args.stream_window_bytes {
        config.stream_window_bytes = v;
    }
    if let Some(v) = args.shutdown_grace_secs {
        config.shutdown_grace_secs = v;
    }
    if let Some(v) = args.worker_threads {
        config.worker_threads = v;
    }
    if let Some(v) = args.reload_poll_secs {
        config.reload_poll_secs = v;
    }
    if let Some(v) = args.metrics_addr {
        config.metrics_addr = Some(v);
    }
    if let Some(v) = args.auth_tokens_file {
        config.auth_tokens_file = Some(v);
    }
    if let Some(v) = args.admin_tokens_file {
        config.admin_tokens_file = Some(v);
    }
    if let Some(v) = args.drift_window {
        config.drift_window = v;
    }
    if let Some(v) = args.drift_min_accounts {
        config.drift_min_accounts = v;
    }
    if let Some(v) = args.max_in_flight {
        config.max_in_flight = v;
    }
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        let client_ca = config.tls.take().and_then(|t| t.client_ca);
        config.tls = Some(TlsConfig {
            cert,
            key,
            client_ca,
        });
    }
    if let Some(ca) = args.tls_client_ca {
        match config.tls.as_mut() {
            Some(tls) => tls.client_ca = Some(ca),
            None => anyhow::bail!("--tls-client-ca needs TLS: give --tls-cert and --tls-key"),
        }
    }
    if args.no_metrics {
        config.metrics_addr = None;
    }
    if let Some(dir) = args.audit_dir {
        let mut audit = config
            .audit
            .take()
            .unwrap_or_else(|| AuditConfig::new(dir.clone()));
        audit.dir = dir;
        if let Some(mode) = args.audit_mode {
            audit.mode = match mode {
                AuditModeArg::Durable => AuditMode::Durable,
                AuditModeArg::Async => AuditMode::Async,
            };
        }
        if let Some(bytes) = args.audit_max_file_bytes {
            audit.max_file_bytes = bytes;
        }
        config.audit = Some(audit);
    }

    let live = config.load().context("cannot start")?;
    let runtime = config.runtime().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        server::run(listener, live, &config, server::shutdown_signal())
            .await
            .context("server failed")
    })
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into a file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
