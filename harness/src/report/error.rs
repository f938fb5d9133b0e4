//! What keeps a report from being made: inputs that cannot be read or make none, or a page that cannot be written.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error(transparent)]
    Results(#[from] bench_results::ResultsError),
    #[error(transparent)]
    Experiment(#[from] crate::experiment::ExperimentError),
    #[error(
        "{0}: not an experiment file (.toml), a results folder, a results file (.jsonl) or a 2019 mapping file (.edn)"
    )]
    UnknownInput(PathBuf),
    #[error("no readable results in {0}")]
    Empty(String),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ReportError {
    /// Inputs that cannot be read or make no report are the user's to fix; failing to write is the system's fault.
    pub fn is_bad_input(&self) -> bool {
        match self {
            ReportError::Read { .. }
            | ReportError::Corrupt { .. }
            | ReportError::UnknownInput(_)
            | ReportError::Empty(_) => true,
            ReportError::Results(e) => e.is_bad_input(),
            ReportError::Experiment(e) => e.is_bad_input(),
            ReportError::Write { .. } => false,
        }
    }
}
