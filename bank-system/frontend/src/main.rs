//! `frontend`: the bank UI (DESIGN.md §3), every asset embedded in the binary, on port 8181. The page finds the
//! GraphQL endpoint in `/config.js`, made from `GRAPHQL_WS_URL` (default `ws://127.0.0.1:8888/graphql`) and
//! `RESULTS_URL` (where the Results page links to; default `/results/`). SIGTERM stops it gracefully.
//!
//! - [`settings`]: those and `HTTP_PORT`/`BIND_ADDRESS`, read with clap from the environment (or arguments),
//!   and the page's `/config.js`.
//! - [`site`]: the embedded pages and the router.

mod settings;
mod site;

use anyhow::Context;
use settings::Settings;
use topology::service;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service::init_logging();
    let settings = Settings::from_env();
    let address = settings.http.address();
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
    tracing::info!(%address, "frontend running");
    let router = site::router(settings::config_js(&settings));
    axum::serve(listener, router).with_graceful_shutdown(service::shutdown_signal()).await.context("serving")?;
    tracing::info!("stopped");
    Ok(())
}
