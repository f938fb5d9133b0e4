//! Summary files, given one by one or found in folders.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use super::HistoryError;
use crate::summary::Summary;

/// A summary is a few kilobytes; anything this large is something else, and is not read into memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One night's summary and where it came from.
#[derive(Debug, Clone)]
pub struct Night {
    pub path: PathBuf,
    pub date: DateTime<FixedOffset>,
    pub summary: Summary,
}

/// Every summary among `inputs`. Folders are searched recursively for `*.json` files that are summaries, other
/// JSON there (reports, say) skipped; a file named explicitly must be a summary. A file reached twice counts once.
///
/// # Errors
/// The first input that cannot be read, a named file that is not a summary, a summary whose date is not RFC 3339,
/// or no summary at all.
pub fn read_summaries(inputs: &[PathBuf]) -> Result<Vec<Night>, HistoryError> {
    let mut nights: Vec<Night> = Vec::new();
    for input in inputs {
        if input.is_dir() {
            for path in json_files(input)? {
                match read_summary(&path) {
                    Ok(night) => nights.push(night),
                    Err(HistoryError::NotSummary { .. } | HistoryError::TooLarge { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        } else if input.exists() {
            nights.push(read_summary(input)?);
        } else {
            return Err(HistoryError::UnknownInput(input.clone()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    nights.retain(|n| seen.insert(std::fs::canonicalize(&n.path).unwrap_or_else(|_| n.path.clone())));
    if nights.is_empty() {
        return Err(HistoryError::Empty(inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")));
    }
    Ok(nights)
}

/// The `*.json` files under `folder`, in path order so what is read does not depend on the file system's order.
fn json_files(folder: &Path) -> Result<Vec<PathBuf>, HistoryError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(folder).sort_by_file_name() {
        let entry = entry.map_err(|e| HistoryError::Read {
            path: e.path().unwrap_or(folder).to_path_buf(),
            source: e.into_io_error().unwrap_or_else(|| std::io::Error::other("file system loop")),
        })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "json") {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// One summary file, read only up to [`MAX_FILE_BYTES`].
pub fn read_summary(path: &Path) -> Result<Night, HistoryError> {
    let read_error = |source| HistoryError::Read { path: path.into(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let too_large = |size| HistoryError::TooLarge { path: path.into(), size, max: MAX_FILE_BYTES };
    let size = file.metadata().map_err(read_error)?.len();
    if size > MAX_FILE_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // The file may grow after its size was read: never take more than the bound.
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let summary: Summary = serde_json::from_slice(&bytes)
        .map_err(|e| HistoryError::NotSummary { path: path.into(), message: e.to_string() })?;
    let date = DateTime::parse_from_rfc3339(&summary.date).map_err(|e| HistoryError::BadDate {
        path: path.into(),
        date: summary.date.clone(),
        message: e.to_string(),
    })?;
    Ok(Night { path: path.into(), date, summary })
}
