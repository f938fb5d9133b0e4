//! The files of bench's contract with everyone else (docs/results-format.md, docs/experiment-file.md): the
//! experiment file a run is given, and the results file it writes for the report, the nightly merge and anyone
//! else's tools. This crate owns every record a results file holds, the settings its header carries, and the rule
//! a capacity step passes by; it depends on serde and little else, so a reader of results files needs nothing of
//! what produces them (no Docker or Kubernetes client).
//!
//! - [`records`]: the lines of a file (`header`, `row`, `step`, `end`) and the values inside them, typed.
//! - [`file`]: writing a file line by line as a run goes, and reading it back (a cut last line is an
//!   incomplete run, not a corrupt one).
//! - [`experiment`]: the experiment file's sections, which every header holds as the variant's parameters.
//! - [`names`]: the one rule for names that become file and folder names.
//! - [`ending`]: how a part of the stack ended, in the same words on every platform.
//! - [`schema`]: JSON Schemas of both files, generated from these types.

pub mod ending;
pub mod experiment;
pub mod file;
mod lines;
pub mod names;
pub mod records;
pub mod schema;

use std::path::PathBuf;

pub use file::{files, outline, path_for, Run, Writer};
pub use records::*;

/// Problems reading or writing results, each naming the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot write results file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read results file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Corrupt { path: PathBuf, line: usize, message: String },
    /// A run killed before its header line was whole: nothing in it says which run it was.
    #[error("{path}: holds no run: {what} (a run killed as it started)")]
    NoRun { path: PathBuf, what: String },
    /// A header whose experiment, variant or block would name a folder or file elsewhere: results files come
    /// from other machines (a nightly job's), so what they say is checked like any input.
    #[error("{path}:1: the header's {field} cannot be used")]
    BadName {
        path: PathBuf,
        field: &'static str,
        #[source]
        source: names::NameError,
    },
}

impl ResultsError {
    /// A file that cannot be read or is not a results file is bad input; failing to write is the system's fault.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ResultsError::Read { .. }
                | ResultsError::Corrupt { .. }
                | ResultsError::NoRun { .. }
                | ResultsError::BadName { .. }
        )
    }
}
