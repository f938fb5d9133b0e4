//! The figures of one variant per load level (docs/reports.md): over runs (each run's own figure, then mean, SE and
//! a 95 % CI over runs: the error bars and tests), and the 2019 method (rows of every run pooled) under its 2019
//! names, so the 2019 aggregation is still reproduced exactly. Means and standard deviations come from statrs,
//! quantiles from an hdrhistogram of the pooled values with timeouts counted ([`Tail`]).

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::statistics::Statistics;

use super::estimate::Estimate;
use super::per_run::{self, LevelKey, RunLevel};
use super::rows::RunRows;
use super::tail::{Quantile, Tail};

/// Mean, standard error (sample sd / √n), min, max and p99 of pooled latencies, the 2019 method (rows of every run
/// as one sample); `None` where undefined (no values, or one value for the standard error). The p99 counts
/// timeouts as slower than any answer: when it falls on them it is `None` and `p99_above_ms` is the timeout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub mean: Option<f64>,
    pub se: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub p99: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_above_ms: Option<f64>,
    pub n: usize,
}

fn defined(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Figures {
    /// All figures, p99 included, from the answers and the pool's [`Tail`] (answers and timeouts).
    pub fn of(values: &[f64], tail: &Tail, timeout_ms: f64) -> Figures {
        let mut figures = Figures::moments(values);
        figures.p99 = tail.at(99.0);
        figures.p99_above_ms = tail.above_timeout(99.0).then_some(timeout_ms);
        figures
    }

    /// Everything but the p99 (resources, counts).
    pub fn moments(values: &[f64]) -> Figures {
        let n = values.len();
        let se = if n > 1 { defined(values.std_dev() / (n as f64).sqrt()) } else { None };
        Figures {
            mean: defined(values.mean()),
            se,
            min: defined(values.min()),
            max: defined(values.max()),
            p99: None,
            p99_above_ms: None,
            n,
        }
    }
}

/// Mean ± standard error of one container's samples at a level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceFigures {
    pub cpu_mean: Option<f64>,
    pub cpu_se: Option<f64>,
    pub mem_mean: Option<f64>,
    pub mem_se: Option<f64>,
    pub n: usize,
}

/// One variant at one load level (generator count, or offered rate for open runs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    pub variant: String,
    pub generators: u32,
    /// Open runs: the offered rate (transfers per second); `None` for closed runs.
    pub rate: Option<f64>,
    /// The 2019 method: every run's rows pooled.
    pub probe: Figures,
    pub generator: Figures,
    /// Probe answers plus generator answers.
    pub transactions: u64,
    /// Transactions over the seconds the level's rows spanned (2019 runs: the 2019 formula).
    pub tps: Option<f64>,
    /// Timed-out probe loops at this level (kept as data, not averaged in).
    pub timeouts: usize,
    /// Probe loops with a latency.
    pub data_points: usize,
    pub resources: BTreeMap<String, ResourceFigures>,
    /// Over runs (the sample unit): each run's mean probe latency, mean generator latency and throughput here.
    pub probe_runs: Estimate,
    pub generator_runs: Estimate,
    pub tps_runs: Estimate,
    /// Over runs: each run's own median and p99 probe latency here (runs whose p99 fell on timeouts left out).
    pub probe_p50_runs: Estimate,
    pub probe_p99_runs: Estimate,
    /// Pooled latency quantiles for the distribution view (timeouts slower than any answer).
    pub probe_quantiles: Vec<Quantile>,
    pub generator_quantiles: Vec<Quantile>,
    /// The probe timeout of the level's runs (ms).
    pub timeout_ms: f64,
}

/// The rows of every run at one level, pooled (the 2019 method), and each run's own figures.
#[derive(Default)]
struct Pool {
    probe: Vec<f64>,
    generator: Vec<f64>,
    timeouts: usize,
    seconds: f64,
    era_2019: bool,
    timeout_ms: f64,
    resources: BTreeMap<String, (Vec<f64>, Vec<f64>)>,
    runs: Vec<RunLevel>,
}

/// Pools sized up front: pooled generator latencies run to hundreds of MB, and growing them copies it all again.
fn sized_pools(runs: &[&RunRows]) -> BTreeMap<LevelKey, Pool> {
    let mut sizes: BTreeMap<LevelKey, (usize, usize)> = BTreeMap::new();
    // Open runs' draining rows (rate 0) are no load level: they get no pool.
    for row in runs.iter().flat_map(|r| &r.rows).filter(|r| r.rate.is_none_or(|rate| rate > 0.0)) {
        let size = sizes.entry(LevelKey::of(row)).or_default();
        size.0 += 1;
        size.1 += row.generator_ms.len();
    }
    sizes
        .into_iter()
        .map(|(key, (rows, generated))| {
            (key, Pool { probe: Vec::with_capacity(rows), generator: Vec::with_capacity(generated), ..Pool::default() })
        })
        .collect()
}

fn pool_rows(pools: &mut BTreeMap<LevelKey, Pool>, run: &RunRows) {
    for (row, span) in run.rows.iter().zip(per_run::spans(run)) {
        let Some(pool) = pools.get_mut(&LevelKey::of(row)) else { continue };
        pool.era_2019 |= run.era_2019;
        pool.timeout_ms = pool.timeout_ms.max(run.timeout_ms);
        pool.seconds += span;
        match row.probe_ms {
            Some(ms) => pool.probe.push(ms),
            None => pool.timeouts += 1,
        }
        pool.generator.extend(&row.generator_ms);
        for (container, (cpu, mem)) in row.resources.iter().flatten() {
            let (cpus, mems) = pool.resources.entry(container.clone()).or_default();
            cpus.push(*cpu);
            mems.push(*mem);
        }
    }
    for (key, level) in per_run::levels(run) {
        if let Some(pool) = pools.get_mut(&key) {
            pool.runs.push(level);
        }
    }
}

/// The levels of `variant` from its complete runs.
pub fn levels(variant: &str, runs: &[&RunRows]) -> Vec<Level> {
    let mut pools = sized_pools(runs);
    for run in runs {
        pool_rows(&mut pools, run);
    }
    pools.into_iter().map(|(key, pool)| level(variant, key, pool)).collect()
}

fn level(variant: &str, key: LevelKey, pool: Pool) -> Level {
    let (rows, generated) = (pool.probe.len(), pool.generator.len());
    let tps = if pool.era_2019 {
        // The 2019 formula: one probe loop per second, plus the generators' transfers per loop.
        (rows > 0).then(|| 1.0 + generated as f64 / rows as f64)
    } else {
        (pool.seconds > 0.0).then(|| (rows + generated) as f64 / pool.seconds)
    };
    let resources = pool
        .resources
        .into_iter()
        .map(|(name, (cpu, mem))| {
            let (c, m) = (Figures::moments(&cpu), Figures::moments(&mem));
            (name, ResourceFigures { cpu_mean: c.mean, cpu_se: c.se, mem_mean: m.mean, mem_se: m.se, n: cpu.len() })
        })
        .collect();
    let (probe_tail, generator_tail) = (Tail::of(&pool.probe, pool.timeouts as u64), Tail::of(&pool.generator, 0));
    let over = |f: fn(&RunLevel) -> Option<f64>| {
        Estimate::over_blocks(pool.runs.iter().filter_map(|r| Some((f(r)?, r.block.clone()))).collect())
    };
    Level {
        variant: variant.to_string(),
        generators: key.generators,
        rate: key.rate(),
        probe: Figures::of(&pool.probe, &probe_tail, pool.timeout_ms),
        generator: Figures::of(&pool.generator, &generator_tail, pool.timeout_ms),
        transactions: (rows + generated) as u64,
        tps,
        timeouts: pool.timeouts,
        data_points: rows,
        resources,
        probe_runs: over(|r| r.probe_mean),
        generator_runs: over(|r| r.generator_mean),
        tps_runs: over(RunLevel::tps),
        probe_p50_runs: over(|r| r.probe_p50),
        probe_p99_runs: over(|r| r.probe_p99),
        probe_quantiles: probe_tail.distribution(),
        generator_quantiles: generator_tail.distribution(),
        timeout_ms: pool.timeout_ms,
    }
}

/// A variant's runs: how many, which are incomplete, the load sustained (closed runs) or capacity (open runs) over
/// runs, the audits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantSummary {
    pub variant: String,
    /// What its probe drove (`graphql`, `browser`, `browser (2019)`): variants of different kinds are not compared.
    pub probe_kind: String,
    pub runs: usize,
    /// Runs in the figures: complete, and not left out by `--exclude-disturbed`.
    pub complete: usize,
    /// Paths of runs without an end line: listed, left out of every figure.
    pub incomplete: Vec<String>,
    /// Generators sustained, over closed runs that ended by their own rule; runs that ended by `max_loops` are
    /// lower bounds (`censored`, `at_least`), left out of the mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sustained: Option<Estimate>,
    /// Capacity (tx/s) over open runs; runs that passed `max_rate` are lower bounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Estimate>,
    /// Seconds from the first container started to every part ready, over the runs whose stack bench brought up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_s: Option<Estimate>,
    pub audits: AuditCount,
    /// Runs where another program used more than 5 % of the machine, and how many of them were left out.
    pub disturbed: usize,
    pub excluded: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct AuditCount {
    pub passed: usize,
    pub failed: usize,
}

impl VariantSummary {
    pub fn of(variant: &str, runs: &[&RunRows], capacity: Option<Estimate>) -> VariantSummary {
        let counted: Vec<&&RunRows> = runs.iter().filter(|r| r.counts()).collect();
        let closed: Vec<&&&RunRows> = counted.iter().filter(|r| r.search.is_none() && r.sustained.is_some()).collect();
        let exact: Vec<(f64, Option<String>)> = closed
            .iter()
            .filter(|r| !r.censored)
            .filter_map(|r| Some((f64::from(r.sustained?), r.block.clone())))
            .collect();
        let bounds: Vec<f64> =
            closed.iter().filter(|r| r.censored).filter_map(|r| r.sustained.map(f64::from)).collect();
        let audits: Vec<bool> = counted.iter().filter_map(|r| r.audit.as_ref().map(|a| a.passed)).collect();
        let ready: Vec<f64> = counted.iter().filter_map(|r| r.header.as_ref()?.stack_ready_s).collect();
        let mut kinds: Vec<&str> = runs.iter().map(|r| r.probe_kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        VariantSummary {
            variant: variant.to_string(),
            probe_kind: kinds.join(" + "),
            runs: runs.len(),
            complete: counted.len(),
            incomplete: runs.iter().filter(|r| !r.complete).map(|r| r.name()).collect(),
            sustained: (!closed.is_empty()).then(|| Estimate::with_bounds(exact, &bounds)),
            capacity,
            ready_s: (!ready.is_empty()).then(|| Estimate::over(ready)),
            audits: AuditCount {
                passed: audits.iter().filter(|p| **p).count(),
                failed: audits.iter().filter(|p| !**p).count(),
            },
            disturbed: runs.iter().filter(|r| r.disturbed()).count(),
            excluded: runs.iter().filter(|r| r.excluded).count(),
        }
    }
}
