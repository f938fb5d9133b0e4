//! `command-handler`: settings from the environment (or arguments), the consume loop, and `/health` + `/stats`
//! over HTTP.

use anyhow::Context;
use axum::routing::get;
use command_handler::app::App;
use command_handler::settings::{Settings, WithKafkaProperties};
use topology::service;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service::init_logging();
    let settings = Settings::from_env();
    let app = App::connect(&settings).await?;

    let address = settings.service.http.address();
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
    let stats = app.handler.stats.clone();
    let routes = service::health_router().route("/stats", get(move || async move { axum::Json(stats.snapshot()) }));
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(async move {
        axum::serve(listener, routes)
            .with_graceful_shutdown(async {
                let _ = http_stopped.await;
            })
            .await
    });
    tracing::info!(%address, workers = settings.workers, "command handler running");

    let consumed = app.run(service::shutdown_signal()).await;
    tracing::info!("stopped");
    let _ = stop_http.send(());
    let _ = http.await;
    consumed.context("the command handler stopped")
}
