//! Results files (DESIGN.md §7): one JSON line per event of a run, written as the run goes and flushed line by
//! line, so a killed run leaves a readable file; a run without its `end` line is incomplete.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::docker::stats::Sample;

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
}

/// One line of a results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Line {
    Header(Box<Header>),
    Row(Row),
    End(Box<End>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub experiment: String,
    pub variant: String,
    /// The variant's complete settings.
    pub parameters: serde_json::Value,
    /// 1-based index of this run among the variant's repeats.
    pub repeat: u32,
    pub harness_version: String,
    pub git_commit: String,
    /// Image reference -> image id.
    pub images: BTreeMap<String, String>,
    pub host: Host,
    /// RFC 3339.
    pub started_at: String,
    /// Seconds the stack took to come up; absent when bring-up was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_ready_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub hostname: String,
    pub cpus: usize,
    pub mem_mib: u64,
}

/// One probe loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub r#loop: u32,
    /// Unix time in ms when the loop ended.
    pub t_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_ms: Option<f64>,
    pub timeout: bool,
    pub generators: u32,
    /// Generator latencies answered since the previous row.
    #[serde(default)]
    pub generator_ms: Vec<f64>,
    /// Generator errors since the previous row.
    #[serde(default)]
    pub errors: u32,
    /// Container (and `bench`) -> resource use, on sampled rows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<BTreeMap<String, Sample>>,
    /// Faults that began or ended during this loop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::run::faults::Mark>,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    Timeouts,
    MaxLoops,
    Interrupt,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct End {
    pub ended_by: EndedBy,
    pub loops: u32,
    pub timeouts: u32,
    /// Of those, timeouts inside a fault's window (not counted towards `max_timeouts`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fault_timeouts: u32,
    /// Generators running at the end: the load the run sustained.
    pub generators: u32,
    /// Transfers answered (probe and generators).
    pub transfers: u64,
    pub errors: u64,
    /// What went wrong when `ended_by` is `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub audit: crate::audit::Audit,
    /// Containers that were no longer running when the load ended, with their last log lines.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stopped: BTreeMap<String, String>,
    /// CPU time bench itself used during the load, and per 1,000 transfers driven.
    pub bench_cpu_ms: f64,
    pub bench_cpu_ms_per_1000_transfers: f64,
    /// bench's CPU in the sampled window with the most transfers per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench_peak: Option<BenchPeak>,
    pub duration_s: f64,
    /// RFC 3339.
    pub ended_at: String,
}

/// bench's own CPU in one window between resource samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BenchPeak {
    pub transfers_per_s: f64,
    /// A share of the whole machine, as container samples are.
    pub cpu_pct: f64,
    pub cpu_ms_per_1000_transfers: f64,
}

impl BenchPeak {
    /// How busy bench's one thread was, in % of a core.
    pub fn core_pct(&self) -> f64 {
        self.transfers_per_s * self.cpu_ms_per_1000_transfers / 1e4
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl End {
    /// The end line of a run interrupted while its stack was coming up: nothing was measured or audited.
    pub fn interrupted_before_load() -> End {
        End {
            ended_by: EndedBy::Interrupt,
            loops: 0,
            timeouts: 0,
            fault_timeouts: 0,
            generators: 0,
            transfers: 0,
            errors: 0,
            error: None,
            audit: crate::audit::Audit::not_done("interrupted during bring-up"),
            stopped: BTreeMap::new(),
            bench_cpu_ms: 0.0,
            bench_cpu_ms_per_1000_transfers: 0.0,
            bench_peak: None,
            duration_s: 0.0,
            ended_at: chrono::Utc::now().to_rfc3339(),
        }
    }
}

/// How [`Writer`] starts every row line (serde writes an internally tagged enum's tag first).
const ROW_PREFIX: &str = "{\"kind\":\"row\",";

/// Writes one results file line by line.
pub struct Writer {
    path: PathBuf,
    file: File,
}

impl Writer {
    /// Creates the file (and its folders); an existing file is never overwritten.
    ///
    /// # Errors
    /// [`ResultsError::Write`] naming the path.
    pub fn create(path: &Path) -> Result<Writer, ResultsError> {
        let error = |source| ResultsError::Write { path: path.into(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(error)?;
        }
        let file = File::options().write(true).create_new(true).open(path).map_err(error)?;
        Ok(Writer { path: path.into(), file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and hands it to the OS at once.
    ///
    /// # Errors
    /// [`ResultsError::Write`] naming the path.
    pub fn write(&mut self, line: &Line) -> Result<(), ResultsError> {
        let mut text = serde_json::to_string(line).map_err(|e| ResultsError::Write { path: self.path.clone(), source: e.into() })?;
        text.push('\n');
        self.file.write_all(text.as_bytes()).map_err(|source| ResultsError::Write { path: self.path.clone(), source })
    }
}

/// A results file as read back.
#[derive(Debug, Clone)]
pub struct Run {
    pub path: PathBuf,
    pub header: Header,
    pub rows: Vec<Row>,
    /// `None`: the run did not finish (killed or still going).
    pub end: Option<End>,
}

impl Run {
    /// Reads a results file; a missing header or a line that is not a results line is an error naming the line.
    ///
    /// # Errors
    /// [`ResultsError`] naming the file and line.
    pub fn read(path: &Path) -> Result<Run, ResultsError> {
        let file = File::open(path).map_err(|source| ResultsError::Read { path: path.into(), source })?;
        let corrupt = |line: usize, message: String| ResultsError::Corrupt { path: path.into(), line, message };
        let (mut header, mut rows, mut end) = (None, Vec::new(), None);
        for (i, text) in BufReader::new(file).lines().enumerate() {
            let number = i + 1;
            let text = text.map_err(|source| ResultsError::Read { path: path.into(), source })?;
            if text.trim().is_empty() {
                continue;
            }
            if end.is_some() {
                return Err(corrupt(number, "a line after the end line".into()));
            }
            // Rows are nearly every line: read them straight into `Row` (10x faster than the tagged enum, which
            // buffers each line), falling back to the enum for anything else or other key orders.
            let parsed = if text.starts_with(ROW_PREFIX) {
                serde_json::from_str::<Row>(&text).map(Line::Row)
            } else {
                serde_json::from_str::<Line>(&text)
            };
            let line: Line = match parsed {
                Ok(line) => line,
                // A run killed mid-write leaves a partial last line: the run is incomplete, not corrupt.
                Err(e) if e.is_eof() => break,
                Err(e) => return Err(corrupt(number, e.to_string())),
            };
            match (line, header.is_some()) {
                (Line::Header(h), false) => header = Some(*h),
                (Line::Header(_), true) => return Err(corrupt(number, "a second header line".into())),
                (_, false) => return Err(corrupt(number, "the first line must be the header".into())),
                (Line::Row(r), true) => rows.push(r),
                (Line::End(e), true) => end = Some(*e),
            }
        }
        let header = header.ok_or_else(|| corrupt(1, "no header line (empty file)".into()))?;
        Ok(Run { path: path.into(), header, rows, end })
    }
}

/// The header and, when the run finished, the end line of a results file, without reading its rows
/// (for `--dry-run`, which only needs what earlier runs took).
///
/// # Errors
/// [`ResultsError`] naming the file when it cannot be read or its first line is not a header.
pub fn outline(path: &Path) -> Result<(Header, Option<End>), ResultsError> {
    use std::io::{Read, Seek, SeekFrom};
    // The end line holds at most a few containers' last 30 log lines: far less than this.
    const TAIL: u64 = 1 << 20;
    let read_error = |source| ResultsError::Read { path: path.into(), source };
    let mut file = File::open(path).map_err(read_error)?;
    let mut first = String::new();
    BufReader::new(&mut file).read_line(&mut first).map_err(read_error)?;
    let header = match serde_json::from_str::<Line>(&first) {
        Ok(Line::Header(h)) => *h,
        _ => return Err(ResultsError::Corrupt { path: path.into(), line: 1, message: "the first line must be the header".into() }),
    };
    let len = file.metadata().map_err(read_error)?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL))).map_err(read_error)?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(read_error)?;
    let last = String::from_utf8_lossy(&tail).lines().rev().find(|l| !l.trim().is_empty()).map(str::to_string);
    let end = match last.map(|l| serde_json::from_str::<Line>(&l)) {
        Some(Ok(Line::End(e))) => Some(*e),
        _ => None,
    };
    Ok((header, end))
}

/// The results files (`*.jsonl`) under `dir`, any depth, sorted.
///
/// # Errors
/// [`ResultsError::Read`] naming the folder that cannot be listed.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, ResultsError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| ResultsError::Read { path: d.clone(), source })?;
        for entry in entries {
            let path = entry.map_err(|source| ResultsError::Read { path: d.clone(), source })?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn header() -> Header {
        Header {
            experiment: "e".into(),
            variant: "default".into(),
            parameters: serde_json::json!({}),
            repeat: 1,
            harness_version: "0".into(),
            git_commit: "abc".into(),
            images: BTreeMap::new(),
            host: Host { hostname: "h".into(), cpus: 2, mem_mib: 1024 },
            started_at: "2026-01-01T00:00:00Z".into(),
            stack_ready_s: Some(1.0),
        }
    }

    fn row(n: u32) -> Row {
        Row { r#loop: n, t_ms: 1000 + i64::from(n), probe_ms: Some(5.0), timeout: false, generators: 0, generator_ms: vec![1.5], errors: 0, resources: None, faults: Vec::new() }
    }

    #[test]
    fn a_file_without_an_end_line_reads_as_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v/run.jsonl");
        let mut w = Writer::create(&path).unwrap();
        w.write(&Line::Header(Box::new(header()))).unwrap();
        w.write(&Line::Row(row(1))).unwrap();
        w.write(&Line::Row(row(2))).unwrap();
        let run = Run::read(&path).unwrap();
        assert_eq!(run.rows.len(), 2);
        assert!(run.end.is_none());
        assert!(Writer::create(&path).is_err(), "an existing results file is never overwritten");
        let (h, end) = outline(&path).unwrap();
        assert_eq!((h.variant.as_str(), end), ("default", None));
    }

    #[test]
    fn a_cut_last_line_is_an_incomplete_run_and_garbage_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let head = serde_json::to_string(&Line::Header(Box::new(header()))).unwrap();
        let full = serde_json::to_string(&Line::Row(row(1))).unwrap();
        std::fs::write(&path, format!("{head}\n{full}\n{}", &full[..10])).unwrap();
        assert_eq!(Run::read(&path).unwrap().rows.len(), 1);
        std::fs::write(&path, format!("{head}\n{{\"kind\": \"row\", \"loop\": \"x\"}}\n")).unwrap();
        let err = Run::read(&path).unwrap_err().to_string();
        assert!(err.contains("run.jsonl:2"), "{err}");
        std::fs::write(&path, "").unwrap();
        assert!(Run::read(&path).unwrap_err().to_string().contains("no header"));
    }
}
