//! The frontend's settings, read by clap from arguments or, in its container, from the environment, and the
//! script that hands the page its part of them.

use std::path::PathBuf;

use clap::Parser;
use topology::settings::HttpSettings;

use crate::reports;

/// The port of the pages and `/health` unless `HTTP_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8181;

/// The bank's web UI. Every setting is an argument or the environment variable named in its help.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    #[command(flatten)]
    pub http: HttpSettings<DEFAULT_PORT>,
    #[command(flatten)]
    pub https: topology::https::HttpsSettings,
    #[command(flatten)]
    pub limits: topology::server::Limits,
    /// The GraphQL endpoint's websocket, as the browser reaches it.
    #[arg(long, env = "GRAPHQL_WS_URL", default_value = "ws://127.0.0.1:8888/graphql")]
    pub graphql_ws_url: String,
    /// Where the Results page links to instead of listing the reports this frontend serves.
    #[arg(long, env = "RESULTS_URL")]
    pub results_url: Option<String>,
    /// The folder of `bench report`'s pages, served read-only at `/reports/` and listed on the Results page
    /// (relative to the working directory; absent: no reports yet).
    #[arg(long, env = "REPORTS_DIR", default_value = "reports")]
    pub reports_dir: PathBuf,
}

impl Settings {
    /// From the arguments and the environment. A bad value ends the process with clap's message, which names
    /// the variable, and exit status 2.
    pub fn from_env() -> Settings {
        Settings::parse()
    }
}

/// The page's settings, as a script that runs before the app.
pub fn config_js(settings: &Settings) -> String {
    let config = serde_json::json!({
        "graphql": settings.graphql_ws_url,
        "results": settings.results_url,
        "reports": reports::INDEX_PATH,
    });
    format!("window.KGB_CONFIG = {config};\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, clap::Error> {
        let vars: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        topology::settings::parse_vars(&vars)
    }

    #[test]
    fn the_endpoint_comes_from_configuration() {
        let js = config_js(&settings(&[("GRAPHQL_WS_URL", "ws://127.0.0.1:9999/graphql")]).unwrap());
        assert!(js.contains("ws://127.0.0.1:9999/graphql") && js.contains(r#""results":null"#), "{js}");
        let defaults = settings(&[]).unwrap();
        assert!(config_js(&defaults).contains("ws://127.0.0.1:8888/graphql"));
        assert_eq!(defaults.reports_dir, PathBuf::from("reports"));
        assert_eq!(defaults.http.address(), "127.0.0.1:8181".parse().unwrap());
    }

    #[test]
    fn results_elsewhere_replace_the_list() {
        let s = settings(&[("RESULTS_URL", "https://ci.example/reports/"), ("REPORTS_DIR", "/srv/reports")]).unwrap();
        assert!(config_js(&s).contains(r#""results":"https://ci.example/reports/""#), "{}", config_js(&s));
        assert_eq!(s.reports_dir, PathBuf::from("/srv/reports"));
    }

    #[test]
    fn a_bad_port_names_the_variable() {
        let err = settings(&[("HTTP_PORT", "web")]).unwrap_err().to_string();
        assert!(err.contains("HTTP_PORT") && err.contains("web"), "{err}");
    }
}
