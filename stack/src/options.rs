//! How to bring a stack up: who owns it, which bank services start, what the UI serves.

use std::path::PathBuf;

use crate::plan::Owner;

/// Which bank services to start after the infrastructure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Services {
    /// All of them; a missing image is an error (a run needs them all).
    Require,
    /// Those whose image exists (`bench up` while the bank is being built).
    IfPresent,
    /// Only the synchronizer, so tests can run a service in-process against a ready cluster.
    SynchronizerOnly,
    /// Brokers, registry and databases only.
    None,
}

/// How to bring a stack up.
#[derive(Debug, Clone)]
pub struct Options {
    pub owner: Owner,
    pub services: Services,
    /// A folder of reports for the frontend to serve read-only (see [`StackPlan::serve_reports`]).
    pub reports: Option<PathBuf>,
}
