//! What "ready" means for each part of a plan: the check bench polls, and how long it may take. The checks
//! are run by [`crate::readiness`].

use std::time::Duration;

use topology::tls::ClientTls;

/// What "ready" means for one container.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Kafka metadata from `bootstrap` lists `expected` brokers.
    KafkaBrokers { bootstrap: String, expected: usize, tls: Option<ClientTls> },
    /// An HTTP GET of `url` answers with a 2xx status.
    Http { url: String, tls: Option<ClientTls> },
    /// PostgreSQL at `url` answers `SELECT 1`.
    Postgres { url: String, tls: Option<ClientTls> },
    /// The container ran to completion with exit code 0.
    Exited,
}

/// One container to wait for.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitFor {
    pub container: String,
    pub check: Check,
    pub timeout: Duration,
    pub interval: Duration,
}

/// Why a container did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum ReadinessError {
    #[error("{container} was not ready after {waited:?} (last check: {last}); its last log lines:\n{logs}")]
    Timeout { container: String, waited: Duration, last: String, logs: String },
    #[error("{container} stopped before it was ready ({why}); its last log lines:\n{logs}")]
    Died { container: String, code: i64, why: String, logs: String },
}
