//! HTTP endpoints served beside the controllers on `--web-listen`: the dashboard and portal,
//! Flux webhook receivers at `/hook/<digest>`, and Prometheus metrics at `/metrics`.

use std::sync::Arc;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use kube::Client;

use crate::gitops::controller::receiver::KubeReceivers;
use crate::web::{Caches, WebState};

/// The webhook and metrics routes (the dashboard is merged in by [`serve`]).
pub fn router(client: Client, metrics: Arc<crosstie_runtime::Metrics>) -> Router {
    let metrics = get(move || async move {
        let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        ([(CONTENT_TYPE, content_type)], metrics.encode())
    });
    Router::new()
        .route("/metrics", metrics)
        .merge(crate::gitops::receiver::router(Arc::new(KubeReceivers::new(client))))
}

/// Serve every endpoint on `listen` until the process ends; the dashboard watches what it shows
/// from its first page on.
pub async fn serve(
    listen: std::net::SocketAddr,
    client: Client,
    metrics: Arc<crosstie_runtime::Metrics>,
    web: crate::web::Config,
) -> std::io::Result<()> {
    let (caches, writers) = Caches::new();
    caches.watch_on_first_use(client.clone(), writers);
    let app = router(client.clone(), metrics).merge(crate::web::router(WebState::new(
        Arc::new(caches),
        client,
        web,
    )));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "dashboard, webhooks and metrics listening");
    axum::serve(listener, app).await
}
