//! The figures of one variant per generator level (DESIGN.md §8), rows pooled across its complete runs.
//! Means and sample standard deviations come from statrs, p99 from an hdrhistogram of the pooled values.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;
use statrs::statistics::Statistics;

use super::RunRows;

/// Mean, standard error (sample sd / √n), min, max and p99 of some latencies; `None` where undefined
/// (no values, or one value for the standard error).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub mean: Option<f64>,
    pub se: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub p99: Option<f64>,
    pub n: usize,
}

fn defined(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Figures {
    /// All figures, p99 included (latencies).
    pub fn of(values: &[f64]) -> Figures {
        let mut figures = Figures::moments(values);
        figures.p99 = figures.max.and_then(|max| p99(values, max));
        figures
    }

    /// Everything but the p99 (resources, counts).
    pub fn moments(values: &[f64]) -> Figures {
        let n = values.len();
        let se = if n > 1 { defined(values.std_dev() / (n as f64).sqrt()) } else { None };
        Figures { mean: defined(values.mean()), se, min: defined(values.min()), max: defined(values.max()), p99: None, n }
    }
}

/// The 99th percentile at 3 significant figures (hdrhistogram over microseconds, sized to the largest value).
fn p99(values: &[f64], max: f64) -> Option<f64> {
    let highest = ((max * 1000.0).round() as u64).max(2);
    let mut h: Histogram<u64> = Histogram::new_with_bounds(1, highest, 3).ok()?;
    for v in values {
        h.saturating_record((v * 1000.0).round().max(1.0) as u64);
    }
    (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1000.0)
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

/// One variant at one generator count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    pub variant: String,
    pub generators: u32,
    pub probe: Figures,
    pub generator: Figures,
    /// Probe answers plus generator answers.
    pub transactions: u64,
    pub tps: Option<f64>,
    /// Timed-out probe loops at this level (kept as data, not averaged in).
    pub timeouts: usize,
    /// Probe loops with a latency.
    pub data_points: usize,
    pub resources: BTreeMap<String, ResourceFigures>,
}

/// The levels of `variant` from its complete runs, by generator count.
pub fn levels(variant: &str, runs: &[&RunRows]) -> Vec<Level> {
    #[derive(Default)]
    struct Pool {
        probe: Vec<f64>,
        generator: Vec<f64>,
        timeouts: usize,
        seconds: f64,
        era_2019: bool,
        resources: BTreeMap<String, (Vec<f64>, Vec<f64>)>,
    }
    let mut pools: BTreeMap<u32, Pool> = BTreeMap::new();
    // Sized up front: pooled generator latencies run to hundreds of MB, and growing them copies it all again.
    let mut sizes: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for row in runs.iter().flat_map(|r| &r.rows) {
        let size = sizes.entry(row.generators).or_default();
        size.0 += 1;
        size.1 += row.generator_ms.len();
    }
    for (level, (rows, generated)) in sizes {
        let pool = pools.entry(level).or_default();
        pool.probe.reserve_exact(rows);
        pool.generator.reserve_exact(generated);
    }
    for run in runs {
        for row in &run.rows {
            let pool = pools.entry(row.generators).or_default();
            pool.era_2019 |= run.era_2019;
            pool.seconds += run.interval_s;
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
    }
    pools
        .into_iter()
        .map(|(generators, pool)| {
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
            Level {
                variant: variant.to_string(),
                generators,
                probe: Figures::of(&pool.probe),
                generator: Figures::of(&pool.generator),
                transactions: (rows + generated) as u64,
                tps,
                timeouts: pool.timeouts,
                data_points: rows,
                resources,
            }
        })
        .collect()
}

/// A variant's runs: how many, which are incomplete, the load sustained, the audits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantSummary {
    pub variant: String,
    pub runs: usize,
    pub complete: usize,
    /// Paths of runs without an end line: listed, left out of every figure.
    pub incomplete: Vec<String>,
    /// Generators reached, over complete runs that ended by their timeouts (runs that ended by `max_loops` are
    /// left out: their generator count is only a lower bound).
    pub sustained: Figures,
    /// Runs that ended by `max_loops` (or `max_rate`), and the lowest count they reached: the variant sustained
    /// at least that much in each of them.
    pub censored: usize,
    pub sustained_at_least: Option<u32>,
    pub audits_passed: usize,
    pub audits_failed: usize,
}

impl VariantSummary {
    pub fn of(variant: &str, runs: &[&RunRows]) -> VariantSummary {
        let complete: Vec<&&RunRows> = runs.iter().filter(|r| r.complete).collect();
        let sustained: Vec<f64> = complete.iter().filter(|r| !r.censored).filter_map(|r| r.sustained.map(f64::from)).collect();
        let censored: Vec<&&&RunRows> = complete.iter().filter(|r| r.censored).collect();
        let audits: Vec<bool> = complete.iter().filter_map(|r| r.audit.as_ref().map(|a| a.passed)).collect();
        VariantSummary {
            variant: variant.to_string(),
            runs: runs.len(),
            complete: complete.len(),
            incomplete: runs.iter().filter(|r| !r.complete).map(|r| r.name()).collect(),
            sustained: Figures::moments(&sustained),
            censored: censored.len(),
            sustained_at_least: censored.iter().filter_map(|r| r.sustained).min(),
            audits_passed: audits.iter().filter(|p| **p).count(),
            audits_failed: audits.iter().filter(|p| !**p).count(),
        }
    }
}
