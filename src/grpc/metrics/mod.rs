//! Prometheus metrics, served as OpenMetrics text on a port of their own (`GET /metrics`).
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `payrisk_rpc_requests_total` | `method`, `code` | finished gRPC calls, by final status |
//! | `payrisk_rpc_duration_seconds` | `method`, `code` | call duration to the last byte (streams: the whole stream) |
//! | `payrisk_decisions_total` | `band`, `treatment`, `arm`, `model_version` | accounts decided (shadow scores count under `arm="shadow"`) |
//! | `payrisk_model_info` | `model`, `version`, `policy_version` | 1 for the serving version |
//! | `payrisk_model_loaded_timestamp_seconds` | | when the serving version was loaded |
//! | `payrisk_model_reloads_total` | `result` (`ok`, `failed`) | reload attempts since start |
//! | `payrisk_drift_psi` | `feature` (an input, or `score`) | PSI over the drift window ([`crate::serve::drift`]); absent until the window holds `drift_min_accounts` accounts |
//! | `payrisk_drift_window_accounts` | | accounts in the drift window |
//! | `payrisk_audit_records_total` | `result` (`written`, `failed`) | decision records the audit log wrote or failed to write |
//!
//! Call metrics come from a tower layer ([`MetricsLayer`]) around every gRPC service, so calls
//! refused before a handler runs (undecodable or oversized messages, unknown methods) count
//! too. The final status is read from the response headers (errors) or trailers (everything
//! else); a call whose client went away before the end counts as `Cancelled`. Unknown method
//! paths share `method="other"`, so clients cannot grow the label set. Model and reload metrics
//! are read from [`Live`] when scraped.

mod endpoint;
mod layer;

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::serve::audit::AuditLog;
use crate::serve::decisions::Counted;
use crate::serve::live::Live;
pub use endpoint::serve;
pub use layer::MetricsLayer;

/// The gRPC methods that get a label of their own.
const METHODS: [&str; 11] = [
    "/payrisk.v1.ScoringService/Score",
    "/payrisk.v1.ScoringService/ScoreBatch",
    "/payrisk.v1.ScoringService/ScoreStream",
    "/payrisk.v1.ScoringService/GetModelInfo",
    "/payrisk.v1.AdminService/Reload",
    "/payrisk.v1.AdminService/GetDrift",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.health.v1.Health/List",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    method: &'static str,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    band: String,
    treatment: &'static str,
    arm: &'static str,
    model_version: String,
}

/// Decisions counted by label set, owning their labels: a batch is tallied where it is scored
/// and counted once its reply is sure to go out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(Vec<(DecisionLabels, u64)>);

impl Tally {
    /// Tallies `decisions`.
    pub fn new<'a>(decisions: impl IntoIterator<Item = Counted<'a>>) -> Tally {
        // A handful of label sets per batch: one lookup per set, not per account, and two
        // owned strings per set.
        let mut tally: Vec<(Counted<'a>, u64)> = Vec::new();
        for d in decisions {
            match tally.iter_mut().find(|(t, _)| *t == d) {
                Some((_, n)) => *n += 1,
                None => tally.push((d, 1)),
            }
        }
        Tally(
            tally
                .into_iter()
                .map(|(d, n)| {
                    let labels = DecisionLabels {
                        band: d.band.to_owned(),
                        treatment: d.treatment,
                        arm: d.arm,
                        model_version: d.model_version.to_owned(),
                    };
                    (labels, n)
                })
                .collect(),
        )
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
    version: String,
    policy_version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeatureLabels {
    feature: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

type HistogramMaker = fn() -> Histogram;

/// The server's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_duration: Family<RpcLabels, Histogram, HistogramMaker>,
    decisions: Family<DecisionLabels, Counter>,
    model: Family<ModelLabels, Gauge>,
    loaded_at: Gauge,
    reloads: Family<ReloadLabels, Counter>,
    drift: Family<FeatureLabels, Gauge<f64, AtomicU64>>,
    drift_window: Gauge,
    audit: Family<ReloadLabels, Counter>,
    /// Serializes scrapes, which bring the reload counters up to [`Live`]'s counts.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every payrisk metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("payrisk");
        let rpc_requests = Family::<RpcLabels, Counter>::default();
        // 100 µs to about 26 s.
        let rpc_duration: Family<RpcLabels, Histogram, HistogramMaker> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(1e-4, 2.0, 19)));
        let decisions = Family::<DecisionLabels, Counter>::default();
        let model = Family::<ModelLabels, Gauge>::default();
        let loaded_at = Gauge::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        let drift = Family::<FeatureLabels, Gauge<f64, AtomicU64>>::default();
        let drift_window = Gauge::default();
        let audit = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "audit_records",
            "Decision records the audit log wrote or failed to write",
            audit.clone(),
        );
        registry.register(
            "drift_psi",
            "Population stability index against the training baseline, per input and score (0.1 watch, 0.25 act)",
            drift.clone(),
        );
        registry.register(
            "drift_window_accounts",
            "Accounts in the drift window",
            drift_window.clone(),
        );
        registry.register(
            "rpc_requests",
            "Finished gRPC calls by method and final status code",
            rpc_requests.clone(),
        );
        registry.register(
            "rpc_duration_seconds",
            "gRPC call duration to the last byte, by method and final status code",
            rpc_duration.clone(),
        );
        registry.register(
            "decisions",
            "Accounts decided, by risk band, treatment, experiment arm and model version",
            decisions.clone(),
        );
        registry.register(
            "model_info",
            "The serving model and policy versions (value 1)",
            model.clone(),
        );
        registry.register(
            "model_loaded_timestamp_seconds",
            "When the serving model version was loaded (Unix time)",
            loaded_at.clone(),
        );
        registry.register(
            "model_reloads",
            "Model and policy reload attempts by result",
            reloads.clone(),
        );
        Metrics {
            registry,
            rpc_requests,
            rpc_duration,
            decisions,
            model,
            loaded_at,
            reloads,
            drift,
            drift_window,
            audit,
            scrape: Mutex::new(()),
        }
    }

    pub(super) fn call_finished(&self, method: &'static str, code: &'static str, started: Instant) {
        let labels = RpcLabels { method, code };
        self.rpc_requests.get_or_create(&labels).inc();
        self.rpc_duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }

    /// Counts decisions tallied earlier (see [`Tally::new`]).
    pub fn count(&self, tally: Tally) {
        for (labels, n) in tally.0 {
            self.decisions.get_or_create(&labels).inc_by(n);
        }
    }

    /// The metrics as OpenMetrics text, with the model and reload metrics as `live` has them
    /// and the audit log's counts.
    pub fn render(&self, live: &Live, audit: Option<&AuditLog>) -> String {
        let _scrape = self
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let status = live.status();
        let deployment = live.current();
        let engine = deployment.champion();
        let a = engine.model().artifact();
        self.model.clear();
        self.model
            .get_or_create(&ModelLabels {
                model: a.name.clone(),
                version: a.version.clone(),
                policy_version: engine.policy().version.clone(),
            })
            .set(1);
        self.loaded_at.set(status.loaded_at.timestamp());
        let catch_up = |family: &Family<ReloadLabels, Counter>, result, count: u64| {
            let counter = family.get_or_create(&ReloadLabels { result });
            counter.inc_by(count.saturating_sub(counter.get()));
        };
        catch_up(&self.reloads, "ok", status.reloads);
        catch_up(&self.reloads, "failed", status.failed_reloads);
        if let Some(audit) = audit {
            let (written, failed) = audit.counts();
            catch_up(&self.audit, "written", written);
            catch_up(&self.audit, "failed", failed);
        }
        self.drift.clear();
        if let Some(monitor) = deployment.drift() {
            let report = monitor.report();
            self.drift_window
                .set(i64::try_from(report.window_accounts).unwrap_or(i64::MAX));
            // No value while the window holds too few accounts (`serve::drift`, rule 1).
            for d in report.features.iter().chain([&report.score]) {
                if let Some(psi) = d.psi {
                    self.drift
                        .get_or_create(&FeatureLabels {
                            feature: d.name.clone(),
                        })
                        .set(psi);
                }
            }
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
