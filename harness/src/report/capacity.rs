//! Open-model runs in a report: each run's capacity (the highest confirmed rate that met its SLO), its capacity at
//! other SLOs as far as the measured steps tell, and every step as a point of the latency–throughput curve. Runs
//! are the samples: a variant's capacity is the mean ± SE over its runs, and a run that passed `max_rate` is a
//! lower bound, shown but left out of the mean and of every test.

use serde::Serialize;

use super::estimate::Estimate;
use super::rows::RunRows;
use crate::experiment::Search;
use bench_results::Step;

/// The p99 SLOs (ms) capacity is also read at, beside each run's own.
pub const OTHER_SLOS_MS: [f64; 4] = [100.0, 250.0, 500.0, 1000.0];

/// One run's capacity: `censored` when it is a lower bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunCapacity {
    pub run: String,
    pub capacity: f64,
    pub censored: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<String>,
}

/// Capacity at one SLO, over the runs whose steps tell it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AtSlo {
    pub slo_p99_ms: f64,
    /// Over the runs where some step failed this SLO (the others only bound it from below).
    pub figures: Estimate,
    /// Runs whose every step met this SLO: their highest step is only a lower bound.
    pub bounded_below: usize,
}

/// A variant's capacity over its complete open runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capacity {
    pub variant: String,
    /// The SLO the runs searched for (ms).
    pub slo_p99_ms: Option<f64>,
    pub runs: Vec<RunCapacity>,
    /// Over the runs that converged; runs that passed `max_rate` are lower bounds, left out of the mean.
    pub figures: Estimate,
    pub at_slos: Vec<AtSlo>,
}

/// One step of one run, as a point of the latency–throughput curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    pub variant: String,
    pub run: String,
    pub step: u32,
    pub rate: f64,
    pub achieved: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub passed: bool,
}

/// The highest rate below which every measured step met the SLO, and whether some step failed it (else the value
/// is only a lower bound); `None` when the lowest rate measured failed.
pub fn capacity_at(steps: &[Step], slo_ms: f64, search: &Search) -> Option<(f64, bool)> {
    let mut by_rate: Vec<&Step> = steps.iter().collect();
    by_rate.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let mut best = None;
    for step in by_rate {
        if !search.passes(step, slo_ms) {
            return best.map(|b| (b, true));
        }
        best = Some(step.rate);
    }
    best.map(|b| (b, false))
}

impl Capacity {
    /// `None` for a variant without complete open runs.
    pub fn of(variant: &str, runs: &[&RunRows]) -> Option<Capacity> {
        let open: Vec<&&RunRows> =
            runs.iter().filter(|r| r.counts() && r.search.is_some() && !r.steps.is_empty()).collect();
        if open.is_empty() {
            return None;
        }
        let per_run: Vec<RunCapacity> = open
            .iter()
            .filter_map(|r| {
                r.capacity.map(|capacity| RunCapacity {
                    run: r.name(),
                    capacity,
                    censored: r.censored,
                    block: r.block.clone(),
                })
            })
            .collect();
        let exact: Vec<(f64, Option<String>)> =
            per_run.iter().filter(|r| !r.censored).map(|r| (r.capacity, r.block.clone())).collect();
        let bounds: Vec<f64> = per_run.iter().filter(|r| r.censored).map(|r| r.capacity).collect();
        let at_slos = OTHER_SLOS_MS
            .iter()
            .map(|&slo| {
                let read: Vec<(f64, bool)> =
                    open.iter().filter_map(|r| r.search.as_ref().and_then(|s| capacity_at(&r.steps, slo, s))).collect();
                let told: Vec<f64> = read.iter().filter(|(_, failed)| *failed).map(|(c, _)| *c).collect();
                AtSlo { slo_p99_ms: slo, bounded_below: read.len() - told.len(), figures: Estimate::over(told) }
            })
            .collect();
        Some(Capacity {
            variant: variant.to_string(),
            slo_p99_ms: open.iter().find_map(|r| r.search.as_ref().map(|s| s.slo_p99_ms)),
            figures: Estimate::with_bounds(exact, &bounds),
            runs: per_run,
            at_slos,
        })
    }
}

/// Every step of every complete open run of a variant.
pub fn curve(variant: &str, runs: &[&RunRows]) -> Vec<CurvePoint> {
    runs.iter()
        .filter(|r| r.counts())
        .flat_map(|r| {
            r.steps.iter().map(|s| CurvePoint {
                variant: variant.to_string(),
                run: r.name(),
                step: s.step,
                rate: s.rate,
                achieved: s.achieved,
                p50_ms: s.p50_ms,
                p99_ms: s.p99_ms,
                passed: s.passed,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: f64, p99: Option<f64>) -> Step {
        Step {
            step: 1,
            rate,
            achieved: rate,
            sent: 1000,
            answered: 1000,
            errors: 0,
            timeouts: 0,
            p50_ms: p99.map(|p| p / 4.0),
            p90_ms: p99,
            p99_ms: p99,
            p999_ms: p99,
            max_ms: p99,
            passed: true,
            confirming: false,
            lag_p99_ms: 0.1,
            lag_max_ms: 0.2,
            dwell_s: 10.0,
            drain_s: None,
            t_ms: 0,
            probe: None,
            resources: Default::default(),
            machine_cpu_pct: None,
        }
    }

    #[test]
    fn capacity_at_an_slo_is_the_highest_rate_below_the_first_that_misses_it() {
        let s = Search::default();
        // Measured out of order, as a search runs: 250, 500, 1000, 2000 (missed), 1500, 1250.
        let steps = [
            step(250.0, Some(20.0)),
            step(500.0, Some(40.0)),
            step(1000.0, Some(120.0)),
            step(2000.0, None),
            step(1500.0, Some(900.0)),
            step(1250.0, Some(300.0)),
        ];
        assert_eq!(capacity_at(&steps, 500.0, &s), Some((1250.0, true)));
        assert_eq!(capacity_at(&steps, 100.0, &s), Some((500.0, true)));
        assert_eq!(capacity_at(&steps, 1000.0, &s), Some((1500.0, true)));
        assert_eq!(capacity_at(&steps, 10.0, &s), None, "the lowest rate already missed it");
        let all_met = [step(250.0, Some(20.0)), step(500.0, Some(30.0))];
        assert_eq!(capacity_at(&all_met, 100.0, &s), Some((500.0, false)), "a lower bound: nothing failed");
    }

    #[test]
    fn a_step_with_too_many_errors_or_too_little_throughput_misses_any_slo() {
        let s = Search::default();
        let mut errors = step(500.0, Some(10.0));
        errors.errors = 10;
        let mut slow = step(500.0, Some(10.0));
        slow.achieved = 400.0;
        assert!(!s.passes(&errors, 1000.0) && !s.passes(&slow, 1000.0));
    }
}
