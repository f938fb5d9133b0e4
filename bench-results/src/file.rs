//! Writing a results file as the run goes, flushed line by line so a killed run leaves a readable file, and
//! reading files back.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::lines::Next;
use super::records::{End, Header, Line, Row, Step};
use super::ResultsError;

/// Where a run's results file goes: `<results>/<experiment>/<variant>/<start time>-r<repeat>.jsonl`.
/// `block`, when given (a nightly job's), is part of the name: jobs of one night start their runs in the same
/// second, and their results are merged into one folder.
pub fn path_for(
    results: &Path,
    experiment: &str,
    variant: &str,
    started: &chrono::DateTime<chrono::Utc>,
    repeat: u32,
    block: Option<&str>,
) -> PathBuf {
    let block = block.map(|b| format!("-b{b}")).unwrap_or_default();
    results.join(experiment).join(variant).join(format!("{}{block}-r{repeat}.jsonl", started.format("%Y%m%dT%H%M%SZ")))
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
        let mut text = serde_json::to_string(line)
            .map_err(|e| ResultsError::Write { path: self.path.clone(), source: e.into() })?;
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
    /// The steps of an open-model run's search (none for a closed run).
    pub steps: Vec<Step>,
    /// `None`: the run did not finish (killed or still going).
    pub end: Option<End>,
    /// The number of the last line when it was cut short (the run killed while writing it) and so left out.
    pub cut_line: Option<usize>,
}

impl Run {
    /// Reads a results file. Only its last line may be cut short: that is how a run killed mid-write ends, so the
    /// run reads as incomplete ([`Run::cut_line`] says so). A cut or wrong line with more lines after it is
    /// damage, and an error: reading on past it, or stopping there, would both misstate the run.
    ///
    /// # Errors
    /// [`ResultsError::Corrupt`] naming the file and line, [`ResultsError::NoRun`] for a file cut short (or left
    /// empty) before its header was whole, [`ResultsError::Read`] when it cannot be read.
    pub fn read(path: &Path) -> Result<Run, ResultsError> {
        let file = File::open(path).map_err(|source| ResultsError::Read { path: path.into(), source })?;
        Run::parse(path, BufReader::new(file))
    }

    /// Like [`Run::read`], from lines already open; `path` names the file in errors.
    ///
    /// # Errors
    /// [`ResultsError`] naming the file and line.
    pub fn parse(path: &Path, mut lines: impl BufRead) -> Result<Run, ResultsError> {
        let corrupt = |line: usize, message: String| ResultsError::Corrupt { path: path.into(), line, message };
        let read_error = |source| ResultsError::Read { path: path.into(), source };
        let (mut header, mut rows, mut steps, mut end, mut cut_line) = (None, Vec::new(), Vec::new(), None, None);
        let mut number = 0;
        loop {
            number += 1;
            let bytes = match super::lines::next(&mut lines).map_err(read_error)? {
                Next::Done => break,
                Next::TooLong => return Err(corrupt(number, super::lines::too_long())),
                Next::Line(bytes) => bytes,
            };
            if bytes.trim_ascii().is_empty() {
                continue;
            }
            if end.is_some() {
                return Err(corrupt(number, "a line after the end line".into()));
            }
            let line = match parse(&bytes) {
                Ok(line) => line,
                Err(Parse::Cut(what)) => {
                    if let Some(later) = next_written(&mut lines, number).map_err(read_error)? {
                        let message = format!("{what}, yet line {later} follows: the file is damaged (a killed run can only cut its last line)");
                        return Err(corrupt(number, message));
                    }
                    cut_line = Some(number);
                    break;
                }
                Err(Parse::Wrong(message)) => return Err(corrupt(number, message)),
            };
            match (line, header.is_some()) {
                (Line::Header(h), false) => header = Some(*h),
                (Line::Header(_), true) => return Err(corrupt(number, "a second header line".into())),
                (_, false) => return Err(corrupt(number, "the first line must be the header".into())),
                (Line::Row(r), true) => rows.push(r),
                (Line::Step(s), true) => steps.push(*s),
                (Line::End(e), true) => end = Some(*e),
            }
        }
        let Some(header) = header else {
            let what = if cut_line.is_some() { "its header line is cut short" } else { "it is empty" };
            return Err(ResultsError::NoRun { path: path.into(), what: what.into() });
        };
        check_names(path, &header)?;
        Ok(Run { path: path.into(), header, rows, steps, end, cut_line })
    }
}

/// The number of the first line after line `after` that is not blank, if any.
fn next_written(lines: &mut impl BufRead, after: usize) -> std::io::Result<Option<usize>> {
    let mut number = after;
    loop {
        number += 1;
        match super::lines::next(lines)? {
            Next::Done => return Ok(None),
            Next::Line(bytes) if bytes.trim_ascii().is_empty() => {}
            Next::Line(_) | Next::TooLong => return Ok(Some(number)),
        }
    }
}

/// The header's names that become folder and file names (the report's, a results tree's), checked as they are
/// read: whoever wrote the file, nothing past this names a path outside its folder. (The block names a file
/// only as a run writes it, from `--block`, checked there; read back it may be any host's name.)
fn check_names(path: &Path, header: &Header) -> Result<(), ResultsError> {
    use crate::names::Kind;
    for (field, kind, value) in
        [("experiment", Kind::Experiment, &header.experiment), ("variant", Kind::Variant, &header.variant)]
    {
        crate::names::check(kind, value).map_err(|source| ResultsError::BadName {
            path: path.into(),
            field,
            source,
        })?;
    }
    Ok(())
}

/// Why a line is not a results line: cut short (its text ends too early), or wrong (the message says how).
enum Parse {
    Cut(&'static str),
    Wrong(String),
}

fn parse(bytes: &[u8]) -> Result<Line, Parse> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        // No `error_len`: the text ends inside a character, as a write cut short leaves it.
        Err(e) if e.error_len().is_none() => return Err(Parse::Cut("the line ends inside a character")),
        Err(e) => return Err(Parse::Wrong(format!("not UTF-8 text: {e}"))),
    };
    // Rows are nearly every line: read them straight into `Row` (10x faster than the tagged enum, which
    // buffers each line), falling back to the enum for anything else or other key orders.
    let parsed = if text.starts_with(ROW_PREFIX) {
        serde_json::from_str::<Row>(text).map(Line::Row)
    } else {
        serde_json::from_str::<Line>(text)
    };
    parsed.map_err(|e| if e.is_eof() { Parse::Cut("the line is cut short") } else { Parse::Wrong(e.to_string()) })
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
    let first = match super::lines::next(&mut BufReader::new(&mut file)).map_err(read_error)? {
        Next::Line(bytes) => bytes,
        Next::TooLong => {
            return Err(ResultsError::Corrupt { path: path.into(), line: 1, message: super::lines::too_long() })
        }
        Next::Done => Vec::new(),
    };
    let header = match serde_json::from_slice::<Line>(&first) {
        Ok(Line::Header(h)) => *h,
        _ => {
            return Err(ResultsError::Corrupt {
                path: path.into(),
                line: 1,
                message: "the first line must be the header".into(),
            })
        }
    };
    check_names(path, &header)?;
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
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            ResultsError::Read { path, source: e.into() }
        })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "jsonl") {
            found.push(entry.into_path());
        }
    }
    // Already in this order; sorted again so the order never depends on how the walk visits folders.
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::Host;

    pub(crate) fn header() -> Header {
        Header {
            experiment: "e".into(),
            variant: "default".into(),
            parameters: toml::from_str("name = \"e\"").unwrap(),
            repeat: 1,
            harness_version: "0".into(),
            git_commit: "abc".into(),
            images: BTreeMap::new(),
            host: Host {
                hostname: "h".into(),
                cpus: 2,
                mem_mib: 1024,
                cpu_model: None,
                kernel: None,
                calibration: None,
            },
            started_at: "2026-01-01T00:00:00Z".into(),
            stack_ready_s: Some(1.0),
            scheduling: None,
            block: None,
            platform: None,
            resources_unavailable: None,
            order: None,
        }
    }

    fn row(n: u32) -> Row {
        Row {
            r#loop: n,
            t_ms: 1000 + i64::from(n),
            probe_ms: Some(5.0),
            timeout: false,
            generators: 0,
            generator_ms: vec![1.5],
            errors: 0,
            resources: None,
            faults: Vec::new(),
            rate: None,
            machine_cpu_pct: None,
        }
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
        // Cut inside a two-byte character (é is 0xC3 0xA9): still just a cut last line; a stray byte mid-file is not.
        let mut bytes = format!("{head}\n{full}\n{{\"kind\":\"end\",\"x\":\"").into_bytes();
        bytes.push(0xC3);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(Run::read(&path).unwrap().cut_line, Some(3));
        bytes.extend(format!("\"}}\n{full}\n").as_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = Run::read(&path).unwrap_err().to_string();
        assert!(err.contains("run.jsonl:3: not UTF-8"), "{err}");
        std::fs::write(&path, "").unwrap();
        assert!(Run::read(&path).unwrap_err().to_string().contains("holds no run: it is empty"));
    }

    #[test]
    fn a_line_past_the_bound_is_named_without_reading_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let head = serde_json::to_string(&Line::Header(Box::new(header()))).unwrap();
        let endless = "x".repeat(super::super::lines::MAX_LINE + 1);
        for (text, line) in [
            (format!("{head}\n{endless}"), 2),
            (endless.clone(), 1),
            (format!("{head}\n{{\"kind\":\"row\"\n{endless}\n"), 2),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Run::read(&path).unwrap_err().to_string();
            assert!(
                err.contains(&format!("run.jsonl:{line}:"))
                    && (err.contains("longer than 16 MiB") || err.contains("yet line 3 follows")),
                "{err}"
            );
        }
        std::fs::write(&path, &endless).unwrap();
        assert!(outline(&path).unwrap_err().to_string().contains("run.jsonl:1: a line longer than 16 MiB"));
    }

    #[test]
    fn results_paths_follow_the_design() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-26T17:05:09Z").unwrap().with_timezone(&chrono::Utc);
        let p = path_for(Path::new("results"), "linger", "linger.ms=25", &t, 3, None);
        assert_eq!(p, Path::new("results/linger/linger.ms=25/20261126T170509Z-r3.jsonl"));
        let p = path_for(Path::new("results"), "linger", "linger.ms=25", &t, 3, Some("2"));
        assert_eq!(p, Path::new("results/linger/linger.ms=25/20261126T170509Z-b2-r3.jsonl"), "a nightly job's block");
    }
}
