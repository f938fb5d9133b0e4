//! Reports (docs/reports.md): runs grouped per variant and load level (generators, or an open run's offered rate).
//! Runs are the samples: each run's own figure per level, then mean, SE, n = runs and a 95 % CI over runs drive
//! the error bars, the comparisons between variants (Welch, Holm-adjusted over the report) and the baseline
//! checks; the 2019 pooled-row figures stay under their 2019 names. Written as one self-contained HTML page and
//! a JSON document holding the whole report.
//!
//! - [`inputs`] reads results files and, through [`edn`], the 2019 runs into [`RunRows`].
//! - [`per_run`] computes each run's figures per level; [`estimate`] the figures over runs; [`tail`] quantiles
//!   that count timeouts; [`aggregate`] a variant's levels and headline; [`capacity`] open runs' capacity.
//! - [`compare`] tests variants against each other; [`baseline`] against earlier results, for CI.
//! - [`memory`] each part's memory growth over a run (soaks);
//! - [`timeline`] each run over time; [`html`] the page, a tera template with Vega inlined.

pub mod aggregate;
pub mod at_rate;
pub mod baseline;
pub mod capacity;
pub mod compare;
pub mod edn;
pub mod error;
pub mod estimate;
pub mod html;
pub mod inputs;
pub mod machines;
pub mod memory;
pub mod nightly;
pub mod per_run;
pub mod rows;
pub mod tail;
pub mod timeline;

use std::collections::BTreeMap;

use serde::Serialize;

use bench_results::{Audit, BenchPeak};

pub use error::ReportError;
pub use inputs::{read_inputs, Inputs};
pub use rows::{FaultWindow, LevelRow, RunRows, Unconverged, DISTURBED_PCT};

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
    pub probe_kind: String,
    /// Mean share of the machine used by neither the stack nor bench (%), when recorded.
    pub interference_pct: Option<f64>,
    pub disturbed: bool,
    /// Left out of the figures by `--exclude-disturbed`.
    pub excluded: bool,
    /// Parts that stopped, were restarted or killed for memory during the run, in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub part_notes: Vec<String>,
}

impl RunEntry {
    fn of(i: &RunRows) -> RunEntry {
        RunEntry {
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
            probe_kind: i.probe_kind.clone(),
            interference_pct: i.interference_pct,
            disturbed: i.disturbed(),
            excluded: i.excluded,
            part_notes: i.part_notes.clone(),
        }
    }
}

/// A fault drawn on the charts: a rule at the generator count of the loop it began in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FaultSpot {
    pub variant: String,
    pub generators: u32,
    pub label: String,
}

/// Everything a report shows; its JSON is the whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub title: String,
    /// What the runs were read from (the command line's inputs).
    pub sources: Vec<String>,
    pub variants: Vec<aggregate::VariantSummary>,
    pub levels: Vec<aggregate::Level>,
    /// Between variants, over runs, Holm-adjusted within their family.
    pub comparisons: Vec<compare::Comparison>,
    /// The headline family (capacity, sustained generators) and the latency family.
    pub families: Vec<compare::Family>,
    /// Whether variants were compared within blocks (paired) or across runs (Welch), and why.
    pub pairing: Pairing,
    /// Comparisons that were not made, and why (censored values are bounds, probes of different kinds differ).
    pub not_compared: Vec<String>,
    /// Open-model runs: capacity per variant, and every step as a point of the latency–throughput curve.
    pub capacity: Vec<capacity::Capacity>,
    pub curve: Vec<capacity::CurvePoint>,
    /// Open-model runs at equal offered load: latency per variant at each rate several runs were offered.
    pub at_rates: Vec<at_rate::AtRate>,
    pub runs: Vec<RunEntry>,
    /// Each run over time, and its fault windows.
    pub timeline: Vec<timeline::Series>,
    pub fault_windows: Vec<timeline::Window>,
    /// Each part's memory growth after the first third of each run (MiB per 10 minutes), over runs.
    pub memory: Vec<memory::Trend>,
    /// Image ids, hosts and commits seen in the headers.
    pub images: BTreeMap<String, Vec<String>>,
    pub hosts: Vec<String>,
    /// The machines' fingerprints and calibrations.
    pub machines: machines::Machines,
    /// Where faults began, per variant, for the charts.
    pub faults: Vec<FaultSpot>,
    /// Results files left out because they are corrupt, each with what is wrong.
    pub skipped: Vec<String>,
    /// Set by `--baseline`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<baseline::Baseline>,
}

/// The experiments the runs belong to (`linger`, `linger + 2019`), for the report's title.
pub fn title(inputs: &[RunRows]) -> String {
    let mut names: Vec<&str> =
        inputs.iter().map(|i| i.header.as_ref().map_or("2019", |h| h.experiment.as_str())).collect();
    names.sort_unstable();
    names.dedup();
    names.join(" + ")
}

/// How the report compares variants: paired when at least two blocks, or two rounds, each ran every variant (then
/// every comparison is within a machine, or within minutes on one), else Welch over runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pairing {
    pub paired: bool,
    /// What runs were paired within, when paired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<compare::Unit>,
    /// How many blocks (or rounds) the runs came from.
    pub blocks: usize,
    pub words: String,
}

impl Pairing {
    fn of(runs: &[&RunRows]) -> Pairing {
        let counted: Vec<&&RunRows> = runs.iter().filter(|r| r.counts()).collect();
        let variants: std::collections::BTreeSet<&str> = counted.iter().map(|r| r.variant.as_str()).collect();
        let mut blocks: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        let mut unblocked = 0;
        for r in &counted {
            match &r.block {
                Some(b) => {
                    blocks.entry(b.as_str()).or_default().insert(r.variant.as_str());
                }
                None => unblocked += 1,
            }
        }
        let full = blocks.values().filter(|v| **v == variants).count();
        let paired = unblocked == 0 && blocks.len() >= 2 && full == blocks.len() && variants.len() >= 2;
        let rounds = counted.iter().any(|r| r.header.as_ref().is_some_and(|h| h.order.is_some()));
        let unit = if rounds { compare::Unit::Rounds } else { compare::Unit::Blocks };
        let n = blocks.len();
        let words = match (paired, unit) {
            (true, compare::Unit::Rounds) => format!("Variants are compared paired over {n} rounds: every round ran every variant once, in a shuffled order, so each difference is taken between runs minutes apart on one machine (the per-round difference), then tested over rounds."),
            (true, compare::Unit::Blocks) => format!("Variants are compared paired over {n} blocks: every block ran every variant, so each difference is taken within one machine (the per-block difference of run means), then tested over blocks."),
            (false, _) if n >= 2 => format!("Variants are compared with Welch's test over runs: {full} of {n} {} ran every variant{}, so runs cannot all be paired.", unit.plural(), if unblocked > 0 { format!(" and {unblocked} run(s) have no block") } else { String::new() }),
            (false, _) => "Variants are compared with Welch's test over runs (the runs come from one block or machine).".to_string(),
        };
        Pairing { paired, unit: paired.then_some(unit), blocks: n, words }
    }
}

/// Significance level of a report's comparisons unless `--alpha` says otherwise.
pub const ALPHA: f64 = 0.05;

/// Aggregates inputs into a report, comparisons held to `alpha` (Holm within each family). The result depends only
/// on the set of runs, not on the order or the folders they were read from, so results merged from several
/// machines report exactly as on one.
pub fn build(title: &str, inputs: &[RunRows], alpha: f64) -> Report {
    let mut sorted: Vec<&RunRows> = inputs.iter().collect();
    sorted.sort_by_cached_key(|i| i.order_key());
    let mut by_variant: BTreeMap<&str, Vec<&RunRows>> = BTreeMap::new();
    for input in &sorted {
        by_variant.entry(input.variant.as_str()).or_default().push(input);
    }
    let levels = all_levels(&by_variant);
    let capacity: Vec<capacity::Capacity> =
        by_variant.iter().filter_map(|(variant, runs)| capacity::Capacity::of(variant, runs)).collect();
    let variants: Vec<aggregate::VariantSummary> = by_variant
        .iter()
        .map(|(variant, runs)| {
            let figures = capacity.iter().find(|c| c.variant == *variant).map(|c| c.figures.clone());
            aggregate::VariantSummary::of(variant, runs, figures)
        })
        .collect();
    let curve = by_variant.iter().flat_map(|(variant, runs)| capacity::curve(variant, runs)).collect();
    let mut at_rates: Vec<at_rate::AtRate> =
        by_variant.iter().flat_map(|(variant, runs)| at_rate::at_rates(variant, runs)).collect();
    // Variants side by side at each rate.
    at_rates.sort_by(|a, b| a.rate.total_cmp(&b.rate).then_with(|| a.variant.cmp(&b.variant)));
    let pairing = Pairing::of(&sorted);
    let compare::Comparisons { comparisons, families, not_compared } =
        compare::all(&variants, &levels, alpha, pairing.unit);
    let (images, hosts) = provenance(&sorted);
    let machines = machines::of(&sorted);
    let counted: Vec<&&RunRows> = sorted.iter().filter(|i| i.counts()).collect();
    let mut faults: Vec<FaultSpot> = counted
        .iter()
        .flat_map(|i| {
            i.faults.iter().map(|(generators, label)| FaultSpot {
                variant: i.variant.clone(),
                generators: *generators,
                label: label.clone(),
            })
        })
        .collect();
    faults.sort();
    faults.dedup();
    Report {
        title: title.to_string(),
        sources: Vec::new(),
        levels,
        variants,
        comparisons,
        families,
        pairing,
        not_compared,
        capacity,
        curve,
        at_rates,
        runs: sorted.iter().map(|i| RunEntry::of(i)).collect(),
        timeline: counted.iter().filter_map(|i| timeline::series(i)).collect(),
        fault_windows: counted.iter().flat_map(|i| timeline::windows(i)).collect(),
        memory: by_variant.iter().flat_map(|(variant, runs)| memory::trends(variant, runs)).collect(),
        images,
        hosts,
        machines,
        faults,
        skipped: Vec::new(),
        baseline: None,
    }
}

/// Every variant's levels over its counted runs. Variants are independent: one thread each (pooling hundreds of MB
/// of latencies is the report's main cost).
fn all_levels(by_variant: &BTreeMap<&str, Vec<&RunRows>>) -> Vec<aggregate::Level> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = by_variant
            .iter()
            .map(|(variant, runs)| {
                scope.spawn(move || {
                    let counted: Vec<&RunRows> = runs.iter().copied().filter(|r| r.counts()).collect();
                    aggregate::levels(variant, &counted)
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// Image ids and hosts seen in the headers, sorted.
fn provenance(runs: &[&RunRows]) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut hosts = Vec::new();
    for header in runs.iter().filter_map(|i| i.header.as_ref()) {
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
    (images, hosts)
}
