//! HTTP endpoints served beside the controllers on `--web-listen`: Flux webhook receivers at
//! `/hook/<digest>` and Prometheus metrics at `/metrics`.

use std::sync::Arc;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use kube::Client;

use crate::gitops::controller::receiver::KubeReceivers;

/// The router of every endpoint.
pub fn router(client: Client, metrics: Arc<crosstie_runtime::Metrics>) -> Router {
    let metrics = get(move || async move {
        (
            [(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            metrics.encode(),
        )
    });
    Router::new()
        .route("/metrics", metrics)
        .merge(crate::gitops::receiver::router(Arc::new(KubeReceivers::new(client))))
}

/// Serve `router` on `listen` until the process ends.
pub async fn serve(listen: std::net::SocketAddr, router: Router) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "web endpoints listening");
    axum::serve(listener, router).await
}
