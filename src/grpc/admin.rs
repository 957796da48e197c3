//! `payrisk.v1.AdminService`: operations on a running server (hot reload, live drift).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert;
use crate::grpc::proto::server::admin_service_server::AdminService;
use crate::grpc::proto::v1 as pb;
use crate::serve::drift::Drift;
use crate::serve::live::Live;
use crate::stability::{PSI_ACT, PSI_WATCH};

/// The `payrisk.v1.AdminService` implementation.
#[derive(Debug, Clone)]
pub struct AdminApi {
    live: Arc<Live>,
}

impl AdminApi {
    /// Administers `live`.
    pub fn new(live: Arc<Live>) -> AdminApi {
        AdminApi { live }
    }
}

fn drift(d: &Drift) -> pb::FeatureDrift {
    pb::FeatureDrift {
        name: d.name.clone(),
        psi: d.psi,
        status: d.status.as_str().to_owned(),
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    #[tracing::instrument(name = "GetDrift", skip_all)]
    async fn get_drift(
        &self,
        _request: Request<pb::GetDriftRequest>,
    ) -> Result<Response<pb::DriftReport>, Status> {
        let deployment = self.live.current();
        let a = deployment.champion().model().artifact();
        let Some(monitor) = deployment.drift() else {
            return Err(Status::failed_precondition(if a.baseline.is_none() {
                format!(
                    "{} version {} has no training baseline to measure drift against",
                    a.name, a.version
                )
            } else {
                "drift monitoring is off (drift_window = 0)".to_owned()
            }));
        };
        let report = monitor.report();
        let mut features: Vec<pb::FeatureDrift> = report.features.iter().map(drift).collect();
        features.sort_by(|x, y| {
            let psi = |d: &pb::FeatureDrift| d.psi.unwrap_or(f64::NEG_INFINITY);
            psi(y).total_cmp(&psi(x)).then_with(|| x.name.cmp(&y.name))
        });
        Ok(Response::new(pb::DriftReport {
            model_name: a.name.clone(),
            model_version: a.version.clone(),
            window_accounts: report.window_accounts as u64,
            window_size: report.window_size as u64,
            baseline_rows: report.baseline_rows,
            min_accounts: report.min_accounts as u64,
            watch_threshold: PSI_WATCH,
            act_threshold: PSI_ACT,
            score: Some(drift(&report.score)),
            features,
        }))
    }

    #[tracing::instrument(name = "Reload", skip_all)]
    async fn reload(
        &self,
        _request: Request<pb::ReloadRequest>,
    ) -> Result<Response<pb::ModelInfo>, Status> {
        let live = self.live.clone();
        // Loading reads files and builds tables: off the async workers.
        let result = tokio::task::spawn_blocking(move || live.reload())
            .await
            .map_err(|e| Status::internal(format!("reload task failed: {e}")))?;
        match result {
            Ok(deployment) => Ok(Response::new(convert::model_info(
                &deployment,
                &self.live.status(),
            ))),
            Err(e) => {
                let serving = self.live.current();
                let a = serving.champion().model().artifact();
                Err(Status::failed_precondition(format!(
                    "reload failed, {} version {} keeps serving: {e}",
                    a.name, a.version
                )))
            }
        }
    }
}
