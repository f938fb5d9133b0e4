//! `graphql-endpoint`: settings from the environment (or arguments), HTTP + websockets on one port, the event
//! consumers.
//! SIGTERM completes open subscriptions, stops consuming and exits.

use anyhow::Context;
use graphql_endpoint::app::App;
use graphql_endpoint::settings::{Settings, WithKafkaProperties};
use topology::service;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service::init_logging();
    return_large_blocks_to_the_os();
    let settings = Settings::from_env();
    let app = App::connect(&settings).await?;
    let address = settings.service.http.address();
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
    tracing::info!(%address, instance = %settings.instance_id, "graphql endpoint running");

    let shutdown = app.shutdown.clone();
    let events = tokio::spawn(graphql_endpoint::events::run_all(app.events, shutdown.clone()));
    let stop = shutdown.clone();
    tokio::spawn(async move {
        service::shutdown_signal().await;
        stop.cancel();
    });
    topology::https::serve(listener, app.router, &settings.https, &settings.limits, shutdown.cancelled_owned()).await?;
    let _ = events.await;
    tracing::info!("stopped");
    Ok(())
}

/// Each password hash allocates 19 MiB. glibc raises its mmap threshold after the first such block is freed, so
/// later ones come from per-thread arenas that keep the memory: the endpoint grew ~19 MiB per new account until
/// its 400 MiB limit killed it. A fixed threshold keeps large blocks mmapped and returned on free.
fn return_large_blocks_to_the_os() {
    // SAFETY: mallopt only changes allocator tuning and takes glibc's arena locks itself; no hash has run yet.
    let fixed = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
    if fixed != 1 {
        tracing::warn!("could not fix the malloc mmap threshold; memory may grow with logins");
    }
}
