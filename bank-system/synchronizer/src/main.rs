//! `synchronizer`: one pass of [`synchronizer::synchronize`]; exit code 0 only when all is in sync.

use std::process::ExitCode;

use synchronizer::{synchronize, Settings};

#[tokio::main]
async fn main() -> ExitCode {
    topology::service::init_logging();
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let settings = match Settings::from_vars(&vars) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("bad settings: {e}");
            return ExitCode::from(2);
        }
    };
    match synchronize(&settings).await {
        Ok(report) => {
            tracing::info!(created = ?report.created, deleted = ?report.deleted, schemas = report.registered.len(), "synchronized");
            for line in &report.drift {
                tracing::warn!("out of sync: {line}");
            }
            if report.in_sync() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}
