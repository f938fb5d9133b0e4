//! Results files (docs/results-format.md), the contract between a run and everything that reads it afterwards: reports, the
//! nightly merge, and anyone else's tools. This module owns every record type a results file holds and imports
//! nothing from what produces them (run, load, audit, stack), so readers depend on it alone.
//!
//! - [`records`]: the lines of a file (`header`, `row`, `end`) and the values inside them, typed.
//! - [`file`]: writing a file line by line as a run goes, and reading it back (a cut last line is an
//!   incomplete run, not a corrupt one).

pub mod file;
mod lines;
pub mod records;

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
        source: stack::names::NameError,
    },
}


impl ResultsError {
    /// A file that cannot be read or is not a results file is bad input; failing to write is the system's fault.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ResultsError::Read { .. } | ResultsError::Corrupt { .. } | ResultsError::NoRun { .. } | ResultsError::BadName { .. })
    }
}
