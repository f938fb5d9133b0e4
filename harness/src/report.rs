//! Reports (DESIGN.md §8): runs grouped per variant and generator level into means, standard errors, p99s,
//! transactions and resources; sustained generators per variant; Welch's t-tests between variants; written as
//! JSON and as one self-contained HTML file.
//!
//! - [`edn`]: the 2019 mapping file and EDN runs, read into the same [`RunRows`] as new results files.
//! - [`aggregate`]: the figures of one variant.
//! - [`compare`]: Welch's t-test between variants, in plain words.
//! - [`baseline`]: each variant against earlier results of the same variant, for CI.
//! - [`html`]: the page, a tera template with Vega inlined.

pub mod aggregate;
pub mod baseline;
pub mod capacity;
pub mod compare;
pub mod edn;
pub mod html;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::experiment::{ExperimentFile, Search};
use crate::results::{Audit, BenchPeak, Edge, EndedBy, Header, Run, Step};

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
    Results(#[from] crate::results::ResultsError),
    #[error(transparent)]
    Experiment(#[from] crate::experiment::ExperimentError),
    #[error("{0}: not an experiment file (.toml), a results folder, a results file (.jsonl) or a 2019 mapping file (.edn)")]
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
            ReportError::Read { .. } | ReportError::Corrupt { .. } | ReportError::UnknownInput(_) | ReportError::Empty(_) => true,
            ReportError::Results(e) => e.is_bad_input(),
            ReportError::Experiment(e) => e.is_bad_input(),
            ReportError::Write { .. } => false,
        }
    }
}

/// One probe loop as the report needs it, from either era.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelRow {
    pub generators: u32,
    /// `None`: a timeout.
    pub probe_ms: Option<f64>,
    pub generator_ms: Vec<f64>,
    /// Container -> (cpu %, memory MiB), on sampled rows.
    pub resources: Option<BTreeMap<String, (f64, f64)>>,
}

/// One run as the report reads it: its rows at the report's grain, from a results file ([`Run`]) or a 2019 EDN file.
#[derive(Debug, Clone, Default)]
pub struct RunRows {
    pub variant: String,
    pub path: PathBuf,
    pub rows: Vec<LevelRow>,
    /// Generators reached when the run ended by its own rule (timeouts or max_loops): the load it sustained.
    /// `None` for a run cut short by an interrupt or an error, whose rows still count.
    pub sustained: Option<u32>,
    /// Seconds between probe loops.
    pub interval_s: f64,
    /// 2019 runs use the 2019 formulas for transactions per second.
    pub era_2019: bool,
    /// Incomplete runs are listed but left out of the figures.
    pub complete: bool,
    pub header: Option<Header>,
    pub audit: Option<Audit>,
    /// bench's own CPU in the run's busiest window (results files since it was recorded).
    pub bench_peak: Option<BenchPeak>,
    /// Faults that began during the run: (generators at that loop, `kill kafka-2`).
    pub faults: Vec<(u32, String)>,
    /// Its headline (sustained generators, capacity) is a lower bound: the run stopped at a cap, not by the system.
    pub censored: bool,
    /// Open model: the search's settings, its steps, and the capacity it found.
    pub search: Option<Search>,
    pub steps: Vec<Step>,
    pub capacity: Option<f64>,
}

impl RunRows {
    fn from_run(run: Run) -> RunRows {
        let interval = run.header.parameters.load.probe_interval();
        let faults = run
            .rows
            .iter()
            .flat_map(|r| r.faults.iter().filter(|m| m.edge == Edge::Start).map(move |m| (r.generators, m)))
            .map(|(generators, m)| (generators, format!("{} {}", m.action, m.target)))
            .collect();
        let rows = run
            .rows
            .into_iter()
            .map(|r| LevelRow {
                generators: r.generators,
                probe_ms: r.probe_ms.filter(|_| !r.timeout),
                generator_ms: r.generator_ms,
                resources: r.resources.map(|m| m.into_iter().map(|(k, s)| (k, (s.cpu_pct, s.mem_mib))).collect()),
            })
            .collect();
        RunRows {
            variant: run.header.variant.clone(),
            path: run.path,
            rows,
            sustained: run
                .end
                .as_ref()
                .filter(|e| matches!(e.ended_by, EndedBy::Timeouts | EndedBy::MaxLoops))
                .map(|e| e.counts.generators),
            censored: run.end.as_ref().is_some_and(|e| e.ended_by.censored()),
            capacity: run.end.as_ref().filter(|e| e.ended_by.by_its_rule()).and_then(|e| e.capacity_tps),
            search: run.header.parameters.search.clone(),
            steps: run.steps,
            interval_s: interval.as_secs_f64(),
            era_2019: false,
            complete: run.end.is_some(),
            bench_peak: run.end.as_ref().and_then(|e| e.bench_peak),
            audit: run.end.map(|e| e.audit),
            header: Some(run.header),
            faults,
        }
    }
}

/// What [`read_inputs`] found: the runs, and the results files it skipped because they are corrupt.
#[derive(Debug, Default)]
pub struct Inputs {
    pub runs: Vec<RunRows>,
    /// `path:line: what is wrong`, one per skipped file.
    pub skipped: Vec<String>,
}

/// Reads every input named on the command line: experiment files (their results folder under `results`),
/// results folders (searched recursively), results files, and 2019 mapping files. A results file that cannot be
/// read or is corrupt is skipped and named in [`Inputs::skipped`]: one bad file must not hide a night of runs.
///
/// # Errors
/// [`ReportError`] naming the path that is wrong (a missing path, an unknown kind of file, a bad 2019 file);
/// no readable run at all is an error too, naming what was skipped.
pub fn read_inputs(paths: &[PathBuf], results: &Path) -> Result<Inputs, ReportError> {
    let mut found = Inputs::default();
    let mut add = |(runs, skipped): (Vec<RunRows>, Vec<String>)| {
        found.runs.extend(runs);
        found.skipped.extend(skipped);
    };
    for path in paths {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if path.is_dir() {
            add(read_runs(&crate::results::files(path)?));
        } else if extension == "toml" {
            let file = ExperimentFile::load(path)?;
            let folder = results.join(&file.experiment.name);
            if folder.is_dir() {
                add(read_runs(&crate::results::files(&folder)?));
            }
        } else if extension == "jsonl" && path.is_file() {
            add(read_runs(std::slice::from_ref(path)));
        } else if extension == "edn" {
            add((edn::read_mapping(path)?, Vec::new()));
        } else if !path.exists() {
            return Err(ReportError::Read { path: path.clone(), source: std::io::ErrorKind::NotFound.into() });
        } else {
            return Err(ReportError::UnknownInput(path.clone()));
        }
    }
    if found.runs.is_empty() {
        let mut names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        if !found.skipped.is_empty() {
            names.push(format!("skipped: {}", found.skipped.join("; ")));
        }
        return Err(ReportError::Empty(names.join(", ")));
    }
    Ok(found)
}

/// Reads results files on every core (parsing dominates: a 2019-sized run is tens of MB of JSON).
fn read_runs(files: &[PathBuf]) -> (Vec<RunRows>, Vec<String>) {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = files.chunks(chunk).map(|part| scope.spawn(move || part.iter().map(|f| Run::read(f)).collect::<Vec<_>>())).collect();
        let (mut inputs, mut skipped) = (Vec::with_capacity(files.len()), Vec::new());
        for worker in workers {
            // A reader thread only panics on a bug; surface it as such rather than hide it.
            for read in worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)) {
                match read {
                    Ok(run) => inputs.push(RunRows::from_run(run)),
                    Err(e) => skipped.push(error_chain(&e)),
                }
            }
        }
        (inputs, skipped)
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// A run listed in the report.
#[derive(Debug, Clone, Serialize)]
pub struct RunEntry {
    pub variant: String,
    pub path: String,
    pub complete: bool,
    pub sustained: Option<u32>,
    /// The headline is a lower bound (ended by `max_loops` or `max_rate`).
    pub censored: bool,
    pub capacity: Option<f64>,
    pub steps: usize,
    pub loops: usize,
    pub audit: Option<Audit>,
    pub bench_peak: Option<BenchPeak>,
    pub commit: Option<String>,
    pub started_at: Option<String>,
}

/// A fault drawn on the charts: a rule at the generator count of the loop it began in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FaultSpot {
    pub variant: String,
    pub generators: u32,
    pub label: String,
}

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub title: String,
    pub levels: Vec<aggregate::Level>,
    pub variants: Vec<aggregate::VariantSummary>,
    pub comparisons: Vec<compare::Comparison>,
    /// Comparisons that were not made, and why (censored values are bounds, not measurements).
    pub not_compared: Vec<String>,
    /// Open-model runs: capacity per variant, and every step as a point of the latency–throughput curve.
    pub capacity: Vec<capacity::Capacity>,
    pub curve: Vec<capacity::CurvePoint>,
    pub runs: Vec<RunEntry>,
    /// Image ids, hosts and commits seen in the headers.
    pub images: BTreeMap<String, Vec<String>>,
    pub hosts: Vec<String>,
    /// Where faults began, per variant, for the charts.
    pub faults: Vec<FaultSpot>,
    /// Results files left out because they are corrupt, each with what is wrong.
    pub skipped: Vec<String>,
    /// Set by `--baseline`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<baseline::Baseline>,
}

impl RunRows {
    /// Where the run sits in any results tree (`<experiment>/<variant>/<file>`), so the same run has the same
    /// name whichever machine or folder it is read from; 2019 runs keep the path they were read from.
    pub fn name(&self) -> String {
        match (&self.header, self.path.file_name()) {
            (Some(h), Some(file)) => format!("{}/{}/{}", h.experiment, h.variant, file.to_string_lossy()),
            _ => self.path.display().to_string(),
        }
    }

    /// Runs in a fixed order whatever order they were read in: floating-point sums depend on it.
    fn order_key(&self) -> (&str, &str, String) {
        (&self.variant, self.header.as_ref().map_or("", |h| h.started_at.as_str()), self.name())
    }
}

/// The experiments the runs belong to (`linger`, `linger + 2019`), for the report's title.
pub fn title(inputs: &[RunRows]) -> String {
    let mut names: Vec<&str> = inputs.iter().map(|i| i.header.as_ref().map_or("2019", |h| h.experiment.as_str())).collect();
    names.sort_unstable();
    names.dedup();
    names.join(" + ")
}

/// Aggregates inputs into a report. The result depends only on the set of runs, not on the order or the
/// folders they were read from, so results merged from several machines report exactly as on one.
pub fn build(title: &str, inputs: &[RunRows]) -> Report {
    let mut sorted: Vec<&RunRows> = inputs.iter().collect();
    sorted.sort_by_cached_key(|i| i.order_key());
    let mut by_variant: BTreeMap<&str, Vec<&RunRows>> = BTreeMap::new();
    for input in &sorted {
        by_variant.entry(input.variant.as_str()).or_default().push(input);
    }
    // Variants are independent: one thread each (pooling hundreds of MB of latencies is the report's main cost).
    let levels: Vec<aggregate::Level> = std::thread::scope(|scope| {
        let workers: Vec<_> = by_variant
            .iter()
            .map(|(variant, runs)| {
                scope.spawn(move || {
                    let complete: Vec<&RunRows> = runs.iter().copied().filter(|r| r.complete).collect();
                    aggregate::levels(variant, &complete)
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let variants: Vec<aggregate::VariantSummary> =
        by_variant.iter().map(|(variant, runs)| aggregate::VariantSummary::of(variant, runs)).collect();
    let capacity: Vec<capacity::Capacity> = by_variant.iter().filter_map(|(variant, runs)| capacity::Capacity::of(variant, runs)).collect();
    let curve = by_variant.iter().flat_map(|(variant, runs)| capacity::curve(variant, runs)).collect();
    let (comparisons, not_compared) = compare::all(&variants, &capacity, &by_variant);
    let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut hosts = Vec::new();
    for header in sorted.iter().filter_map(|i| i.header.as_ref()) {
        for (image, id) in &header.images {
            let ids = images.entry(image.clone()).or_default();
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        let host = format!("{} ({} CPUs, {} MiB)", header.host.hostname, header.host.cpus, header.host.mem_mib);
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    for ids in images.values_mut() {
        ids.sort();
    }
    hosts.sort();
    let mut faults: Vec<FaultSpot> = sorted
        .iter()
        .filter(|i| i.complete)
        .flat_map(|i| i.faults.iter().map(|(generators, label)| FaultSpot { variant: i.variant.clone(), generators: *generators, label: label.clone() }))
        .collect();
    faults.sort();
    faults.dedup();
    let runs = sorted
        .iter()
        .map(|i| RunEntry {
            variant: i.variant.clone(),
            path: i.name(),
            complete: i.complete,
            sustained: i.sustained,
            censored: i.censored,
            capacity: i.capacity,
            steps: i.steps.len(),
            loops: i.rows.len(),
            audit: i.audit.clone(),
            bench_peak: i.bench_peak,
            commit: i.header.as_ref().map(|h| h.git_commit.clone()),
            started_at: i.header.as_ref().map(|h| h.started_at.clone()),
        })
        .collect();
    Report {
        title: title.to_string(),
        levels,
        variants,
        comparisons,
        not_compared,
        capacity,
        curve,
        runs,
        images,
        hosts,
        faults,
        skipped: Vec::new(),
        baseline: None,
    }
}
