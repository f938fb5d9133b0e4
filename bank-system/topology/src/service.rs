//! What every bank service process shares: logging, shutdown on SIGTERM/SIGINT, a health endpoint.

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;

use crate::env;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// Resolves when the process is asked to stop (SIGTERM from Docker, or Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The address a service listens on: `BIND_ADDRESS` (default 127.0.0.1) and `HTTP_PORT`.
///
/// # Errors
/// A message naming the variable that does not parse.
pub fn listen_address(default_port: u16) -> Result<SocketAddr, String> {
    let host = env::var_or(env::BIND_ADDRESS, "127.0.0.1");
    let port = env::var_or(env::HTTP_PORT, &default_port.to_string());
    format!("{host}:{port}").parse().map_err(|e| format!("{}={host} / {}={port}: {e}", env::BIND_ADDRESS, env::HTTP_PORT))
}

/// A router answering `GET /health` with 200 while the service runs.
pub fn health_router() -> Router {
    Router::new().route("/health", get(|| async { "ok" }))
}
