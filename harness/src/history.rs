//! `bench history`: nights' summaries ([`crate::summary`]) as one series per experiment × variant × metric, and
//! where each series changed, by E-Divisive means with Welch's t-test ([`edivisive`]).
//!
//! - [`read`] finds and reads the summary files; [`series`] orders the nights and builds the series with their
//!   changes; [`page`] writes the self-contained HTML page and the JSON.

pub mod edivisive;
pub mod page;
pub mod read;
pub mod series;

use std::path::PathBuf;

use serde::Serialize;

pub use edivisive::Settings;
pub use read::{read_summaries, Night, MAX_FILE_BYTES};
pub use series::build;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {size} bytes, larger than a summary can be ({max} bytes at most)")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("{path}: not a night's summary (bench report --summary): {message}")]
    NotSummary { path: PathBuf, message: String },
    #[error("{path}: date {date:?} is not RFC 3339 (e.g. 2026-01-31T22:00:00Z): {message}")]
    BadDate { path: PathBuf, date: String, message: String },
    #[error("{0}: not a summary file (.json) or a folder")]
    UnknownInput(PathBuf),
    #[error("no summaries in {0}")]
    Empty(String),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl HistoryError {
    /// Inputs that cannot be read or hold no summary are the user's to fix; failing to write is the system's.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, HistoryError::Write { .. })
    }
}

/// One night of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub date: String,
    pub commit: String,
    pub mean: f64,
    pub se: Option<f64>,
}

/// Where a series changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Position in the series' points of the first night after the change.
    pub index: usize,
    /// That night's date and commit, and the commit of the night before it.
    pub date: String,
    pub commit: String,
    pub previous_commit: String,
    /// Means of the segments either side, up to the neighbouring changes.
    pub before: f64,
    pub after: f64,
    /// (after − before) / |before| × 100; `null` when `before` is 0.
    pub change_pct: Option<f64>,
    /// Welch's two-sided p between the two segments.
    pub p: f64,
    /// The metric got worse (by [`crate::summary::direction`]).
    pub regression: bool,
}

/// One experiment × variant × metric over the nights, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub experiment: String,
    pub variant: String,
    pub metric: String,
    pub points: Vec<Point>,
    pub changes: Vec<Change>,
}

impl Series {
    /// Regressions whose first night after the change is among the newest `recent` nights.
    pub fn recent_regressions(&self, recent: usize) -> impl Iterator<Item = &Change> {
        // A change is found only with MIN_SEGMENT nights from it on, so the newest `recent` nights revealed those
        // whose index lies within MIN_SEGMENT − 1 nights before them: without those nights they could not be seen.
        let revealed = (self.points.len() + 1).saturating_sub(recent + edivisive::MIN_SEGMENT);
        self.changes.iter().filter(move |c| c.regression && c.index >= revealed)
    }
}

/// Everything `bench history` found; its JSON is `{"series": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    pub series: Vec<Series>,
}
