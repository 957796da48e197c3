//! `payrisk.v1.AdminService`: operations on a running server.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert;
use crate::live::Live;
use crate::proto::v1 as pb;
use crate::proto::v1::admin_service_server::AdminService;

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

#[tonic::async_trait]
impl AdminService for AdminApi {
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
