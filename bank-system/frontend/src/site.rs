//! The pages: every asset embedded in the binary, `/config.js` made from the settings, and the reports folder.

use std::path::PathBuf;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use topology::service;

const INDEX: &str = include_str!("assets/index.html");
const APP: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

fn asset(kind: &'static str, body: String) -> impl IntoResponse {
    ([(CONTENT_TYPE, kind)], body)
}

/// The pages, `config` as `/config.js`, the reports of `reports_dir` under `/reports/`, and `/health`.
pub fn router(config: String, reports_dir: PathBuf) -> Router {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX.to_string()) }))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP.to_string()) }))
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE.to_string()) }))
        .route("/config.js", get(move || async move { asset("text/javascript; charset=utf-8", config) }))
        .merge(crate::reports::router(reports_dir))
        .merge(service::health_router())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_the_network() {
        for text in [INDEX, APP, STYLE] {
            assert!(
                !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
                "an external asset"
            );
        }
        assert!(INDEX.contains("config.js") && INDEX.contains("app.js"));
    }
}
