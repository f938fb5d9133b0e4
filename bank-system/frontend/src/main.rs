//! `frontend`: the bank UI (DESIGN.md §3), every asset embedded in the binary, on port 8181. The page finds the
//! GraphQL endpoint in `/config.js`, made from `GRAPHQL_WS_URL` (default `ws://127.0.0.1:8888/graphql`) and
//! `RESULTS_URL` (where the Results page links to; default `/results/`). SIGTERM stops it gracefully.

use anyhow::Context;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use topology::service;

const DEFAULT_PORT: u16 = 8181;
const INDEX: &str = include_str!("assets/index.html");
const APP: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

fn asset(kind: &'static str, body: String) -> impl IntoResponse {
    ([(CONTENT_TYPE, kind)], body)
}

/// The page's settings, as a script that runs before the app.
fn config_js(vars: &dyn Fn(&str) -> Option<String>) -> String {
    let config = serde_json::json!({
        "graphql": vars("GRAPHQL_WS_URL").unwrap_or_else(|| "ws://127.0.0.1:8888/graphql".into()),
        "results": vars("RESULTS_URL").unwrap_or_else(|| "/results/".into()),
    });
    format!("window.KGB_CONFIG = {config};\n")
}

fn router(config: String) -> Router {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX.to_string()) }))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP.to_string()) }))
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE.to_string()) }))
        .route("/config.js", get(move || async move { asset("text/javascript; charset=utf-8", config) }))
        .merge(service::health_router())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service::init_logging();
    let config = config_js(&|name| std::env::var(name).ok());
    let address = service::listen_address(DEFAULT_PORT).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
    tracing::info!(%address, "frontend running");
    axum::serve(listener, router(config)).with_graceful_shutdown(service::shutdown_signal()).await.context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_comes_from_configuration() {
        let js = config_js(&|name| (name == "GRAPHQL_WS_URL").then(|| "ws://127.0.0.1:9999/graphql".to_string()));
        assert!(js.contains("ws://127.0.0.1:9999/graphql") && js.contains("/results/"), "{js}");
        assert!(config_js(&|_| None).contains("ws://127.0.0.1:8888/graphql"));
    }

    #[test]
    fn the_page_loads_nothing_from_the_network() {
        for text in [INDEX, APP, STYLE] {
            assert!(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"), "an external asset");
        }
        assert!(INDEX.contains("config.js") && INDEX.contains("app.js"));
    }
}
