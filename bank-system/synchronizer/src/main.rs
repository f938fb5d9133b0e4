//! `synchronizer`: one pass of [`synchronizer::synchronize`]; exit code 0 only when all is in sync.

use std::process::ExitCode;

use synchronizer::{synchronize, Settings};

#[tokio::main]
async fn main() -> ExitCode {
    topology::service::init_logging();
    let settings = Settings::from_env();
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
