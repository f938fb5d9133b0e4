//! One run as the report reads it ([`RunRows`]): its rows at the report's grain ([`LevelRow`]), from a results
//! file or a 2019 EDN run, and what the report needs of its header, steps and end.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::experiment::Search;
use bench_results::{Audit, BenchPeak, Edge, EndedBy, Header, Run, Step};

/// One probe loop as the report needs it, from either era.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LevelRow {
    pub generators: u32,
    /// Open model: the rate offered while the loop ran (0 while draining).
    pub rate: Option<f64>,
    /// Unix ms when the loop ended (absent for 2019 timeouts, which wrote no row).
    pub t_ms: Option<i64>,
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
    /// Open model: the run's own 95 % interval for its capacity (the knee search's bootstrap), tx/s.
    pub capacity_ci95: Option<(f64, f64)>,
    /// Open model: the search ended in an error before it converged. Its capacity is a censored interval, listed
    /// and never averaged.
    pub unconverged: Option<Unconverged>,
    /// Open model: the first warm-up's latencies never settled, so no step was measured (listed, never averaged).
    pub unsettled: bool,
    /// What the probe drove: `graphql`, `browser`, or `browser (2019)`; latencies of different kinds are never
    /// compared.
    pub probe_kind: String,
    /// A probe loop slower than this was a timeout (ms).
    pub timeout_ms: f64,
    /// Mean share of the machine's CPU used by neither the stack nor bench (%), when it was recorded.
    pub interference_pct: Option<f64>,
    /// Left out of the figures by `--exclude-disturbed` (still listed).
    pub excluded: bool,
    /// What the run is paired within: its block (its nightly job, or the host), or, when its invocation
    /// shuffled its rounds, its round within that block (see [`pairing_unit`]).
    pub block: Option<String>,
    /// Faults' windows in unix ms, for the run-over-time view.
    pub fault_windows: Vec<FaultWindow>,
    /// Parts that stopped, were restarted or killed for memory during the run, in words (`End::part_notes`).
    pub part_notes: Vec<String>,
}

/// A search that ended before it converged, with the estimate it had by then (the knee search keeps one).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Unconverged {
    pub estimate: Option<f64>,
}

/// When one fault began and ended (unix ms); `end_ms` absent when it never ended.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    pub label: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
}

fn fault_windows(rows: &[bench_results::Row]) -> Vec<FaultWindow> {
    let mut windows: Vec<FaultWindow> = Vec::new();
    for row in rows {
        for mark in &row.faults {
            let label = format!("{} {}", mark.action, mark.target);
            match mark.edge {
                Edge::Start => windows.push(FaultWindow { label, start_ms: row.t_ms, end_ms: None }),
                Edge::End => {
                    if let Some(open) = windows.iter_mut().rev().find(|w| w.label == label && w.end_ms.is_none()) {
                        open.end_ms = Some(row.t_ms);
                    }
                }
            }
        }
    }
    windows
}

/// Above this interference (% of the machine), a run is flagged as disturbed.
pub const DISTURBED_PCT: f64 = 5.0;

impl RunRows {
    /// In the figures: complete, and not left out.
    pub fn counts(&self) -> bool {
        self.complete && !self.excluded
    }

    /// Another program used more than [`DISTURBED_PCT`] of the machine during the run.
    pub fn disturbed(&self) -> bool {
        self.interference_pct.is_some_and(|p| p > DISTURBED_PCT)
    }

    /// A results file as the report reads it.
    pub fn from_run(run: Run) -> RunRows {
        let interval = run.header.parameters.load.probe_interval();
        let faults = run
            .rows
            .iter()
            .flat_map(|r| r.faults.iter().filter(|m| m.edge == Edge::Start).map(move |m| (r.generators, m)))
            .map(|(generators, m)| (generators, format!("{} {}", m.action, m.target)))
            .collect();
        let fault_windows = fault_windows(&run.rows);
        let rows = run
            .rows
            .into_iter()
            .map(|r| LevelRow {
                generators: r.generators,
                rate: r.rate,
                t_ms: Some(r.t_ms),
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
            capacity_ci95: run.end.as_ref().and_then(|e| e.capacity_ci95_tps),
            unconverged: run
                .end
                .as_ref()
                .filter(|e| e.ended_by == EndedBy::Error && run.header.parameters.search.is_some())
                .map(|e| Unconverged { estimate: e.capacity_tps }),
            unsettled: run.end.as_ref().is_some_and(|e| e.ended_by == EndedBy::Unsettled),
            search: run.header.parameters.search.clone(),
            probe_kind: probe_kind(run.header.parameters.load.probe).into(),
            timeout_ms: run.header.parameters.load.probe_timeout_ms as f64,
            interference_pct: run.end.as_ref().and_then(|e| e.interference).map(|i| i.mean_pct),
            part_notes: run.end.as_ref().map(bench_results::End::part_notes).unwrap_or_default(),
            excluded: false,
            block: pairing_unit(&run.header),
            fault_windows,
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

fn probe_kind(kind: crate::experiment::ProbeKind) -> &'static str {
    match kind {
        crate::experiment::ProbeKind::Graphql => "graphql",
        crate::experiment::ProbeKind::Browser => "browser",
    }
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
    pub(super) fn order_key(&self) -> (&str, &str, String) {
        (&self.variant, self.header.as_ref().map_or("", |h| h.started_at.as_str()), self.name())
    }
}

/// A shuffled round ran every variant once, minutes apart on one machine: the finest unit runs can be paired
/// within. The seed tells apart two invocations' rounds of the same number on one block.
pub fn pairing_unit(header: &bench_results::Header) -> Option<String> {
    let block = header.block.clone()?;
    Some(match header.order {
        Some(order) => format!("{block} round {} of seed {}", header.repeat, order.seed),
        None => block,
    })
}
