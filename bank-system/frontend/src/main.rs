//! `frontend`: the bank UI (docs/bank.md), every asset embedded in the binary, on port 8181. The page finds the
//! GraphQL endpoint in `/config.js`, made from `GRAPHQL_WS_URL` (default `ws://127.0.0.1:8888/graphql`) and
//! `RESULTS_URL` (when set, the Results page links there). It serves the reports of `REPORTS_DIR` (default
//! `reports`) read-only at `/reports/`, which the Results page lists otherwise. SIGTERM stops it gracefully.
//!
//! - [`settings`]: those and `HTTP_PORT`/`BIND_ADDRESS`, read with clap from the environment (or arguments),
//!   and the page's `/config.js`.
//! - [`site`]: the embedded pages and the router.
//! - [`reports`]: the reports folder, its index and its files.

mod reports;
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
    tracing::info!(%address, reports = %settings.reports_dir.display(), "frontend running");
    let router = site::router(settings::config_js(&settings), settings.reports_dir.clone());
    topology::https::serve(listener, router, &settings.https, &settings.limits, service::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
