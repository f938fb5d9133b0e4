//! Open-model runs in a report: each run's capacity (the highest confirmed rate that met its SLO), its capacity at
//! other SLOs as far as the measured steps tell, and every step as a point of the latency–throughput curve. Runs
//! are the samples: a variant's capacity is the mean ± SE over its runs, and a run that passed `max_rate` is a
//! lower bound, shown but left out of the mean and of every test.

use serde::Serialize;

use super::estimate::Estimate;
use super::rows::RunRows;
use crate::experiment::Search;
use crate::fit::{self, Point};
use bench_results::Step;

/// The p99 SLOs (ms) capacity is also read at, beside each run's own.
pub const OTHER_SLOS_MS: [f64; 4] = [100.0, 250.0, 500.0, 1000.0];

/// What a run's capacity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The search converged: a value, with the run's own 95 % interval when its method gives one.
    Measured,
    /// The search passed `max_rate`: the capacity is at least this.
    AtLeast,
    /// The search ended before it converged: the capacity lies in `interval`, as far as its steps tell.
    Within,
    /// The first warm-up never settled: nothing was measured.
    Unsettled,
}

/// One run's capacity: `censored` (a bound or an interval, never averaged) unless it was measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunCapacity {
    pub run: String,
    /// The run's estimate; absent for an unconverged run that had none.
    pub capacity: Option<f64>,
    pub bound: Bound,
    /// Measured: the run's own 95 % interval (knee search). Within: where the capacity lies; an upper end of
    /// `None` is unbounded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, Option<f64>)>,
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
    /// Over the runs that converged; runs that passed `max_rate` are lower bounds and unconverged runs intervals,
    /// both listed beside the mean and left out of it.
    pub figures: Estimate,
    /// The mean half-width of the converged runs' own 95 % intervals (tx/s): the spread within a run, beside
    /// the between-run SE of `figures`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_run_half_width: Option<f64>,
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
    /// The p99 the run's fitted curve gives this step's rate (the closest non-decreasing curve through its steps,
    /// [`crate::fit::curve`]); absent for a step the search left out.
    pub fitted_p99_ms: Option<f64>,
}

/// The highest rate below which every measured step met the SLO, and whether some step failed it (else the value
/// is only a lower bound); `None` when the lowest rate measured failed. A rate measured twice counts as met only
/// when both steps met it: at equal rates the failures sort first.
pub fn capacity_at(steps: &[Step], slo_ms: f64, search: &Search) -> Option<(f64, bool)> {
    let mut by_rate: Vec<(&Step, bool)> = steps.iter().map(|s| (s, search.passes(s, slo_ms))).collect();
    by_rate.sort_by(|(a, a_met), (b, b_met)| a.rate.total_cmp(&b.rate).then(a_met.cmp(b_met)));
    let mut best = None;
    for (step, met) in by_rate {
        if !met {
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
            runs.iter().filter(|r| r.counts() && r.search.is_some() && (!r.steps.is_empty() || r.unsettled)).collect();
        if open.is_empty() {
            return None;
        }
        let per_run: Vec<RunCapacity> = open.iter().filter_map(|r| RunCapacity::of(r)).collect();
        let exact: Vec<(f64, Option<String>)> = per_run
            .iter()
            .filter(|r| r.bound == Bound::Measured)
            .filter_map(|r| Some((r.capacity?, r.block.clone())))
            .collect();
        let bounds: Vec<f64> =
            per_run.iter().filter(|r| r.bound == Bound::AtLeast).filter_map(|r| r.capacity).collect();
        let within: Vec<(f64, Option<f64>)> =
            per_run.iter().filter(|r| r.bound == Bound::Within).filter_map(|r| r.interval).collect();
        let half_widths: Vec<f64> = per_run
            .iter()
            .filter(|r| r.bound == Bound::Measured)
            .filter_map(|r| match r.interval {
                Some((lo, Some(hi))) => Some((hi - lo) / 2.0),
                _ => None,
            })
            .collect();
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
            figures: Estimate {
                unsettled: per_run.iter().filter(|r| r.bound == Bound::Unsettled).count(),
                ..Estimate::with_bounds(exact, &bounds).with_intervals(within)
            },
            within_run_half_width: (!half_widths.is_empty())
                .then(|| half_widths.iter().sum::<f64>() / half_widths.len() as f64),
            runs: per_run,
            at_slos,
        })
    }
}

impl RunCapacity {
    /// `None` for a run that neither converged, passed `max_rate`, ended before converging nor never settled (an
    /// interrupted one).
    fn of(run: &RunRows) -> Option<RunCapacity> {
        let (capacity, bound, interval) = if run.unsettled {
            (None, Bound::Unsettled, None)
        } else if let Some(unconverged) = run.unconverged {
            let interval = run.capacity_ci95.map(|(lo, hi)| (lo, Some(hi))).or_else(|| bracket(run))?;
            (unconverged.estimate, Bound::Within, Some(interval))
        } else {
            let bound = if run.censored { Bound::AtLeast } else { Bound::Measured };
            (Some(run.capacity?), bound, run.capacity_ci95.map(|(lo, hi)| (lo, Some(hi))))
        };
        Some(RunCapacity {
            run: run.name(),
            capacity,
            bound,
            interval,
            censored: bound != Bound::Measured,
            block: run.block.clone(),
        })
    }
}

/// Where an unconverged search's steps put the capacity: above the highest rate below which every step met the
/// SLO (0 when the lowest failed), below the lowest rate that failed (unbounded when none did).
fn bracket(run: &RunRows) -> Option<(f64, Option<f64>)> {
    let search = run.search.as_ref()?;
    let slo = search.slo_p99_ms;
    let low = capacity_at(&run.steps, slo, search).map_or(0.0, |(rate, _)| rate);
    let high = run.steps.iter().filter(|s| !search.passes(s, slo)).map(|s| s.rate).reduce(f64::min);
    Some((low, high))
}

/// Every step of every complete open run of a variant, with the run's fitted curve at its rate.
pub fn curve(variant: &str, runs: &[&RunRows]) -> Vec<CurvePoint> {
    runs.iter().filter(|r| r.counts()).flat_map(|r| run_curve(variant, r)).collect()
}

fn run_curve(variant: &str, run: &RunRows) -> Vec<CurvePoint> {
    let fitted: Vec<&Step> = run.steps.iter().filter(|s| !s.left_out).collect();
    let drawn = run.search.as_ref().map(|search| {
        let points: Vec<Point> = fitted
            .iter()
            .map(|s| Point { rate: s.rate, p99_ms: s.p99_ms, passed: search.passes(s, search.slo_p99_ms) })
            .collect();
        fit::curve(&points, search.slo_p99_ms, search.timeout_ms as f64)
    });
    let mut drawn = drawn.unwrap_or_default().into_iter();
    run.steps
        .iter()
        .map(|s| CurvePoint {
            variant: variant.to_string(),
            run: run.name(),
            step: s.step,
            rate: s.rate,
            achieved: s.achieved,
            p50_ms: s.p50_ms,
            p99_ms: s.p99_ms,
            passed: s.passed,
            fitted_p99_ms: if s.left_out { None } else { drawn.next() },
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
            drained: None,
            left_out: false,
            stored: None,
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
    fn a_rate_whose_confirmation_failed_is_not_met_in_either_order() {
        let s = Search::default();
        for confirmation_last in [true, false] {
            let (pass, fail) = (step(1000.0, Some(300.0)), step(1000.0, Some(900.0)));
            let at_1000 = if confirmation_last { [pass, fail] } else { [fail, pass] };
            let steps = [step(500.0, Some(100.0)), at_1000[0].clone(), at_1000[1].clone()];
            assert_eq!(capacity_at(&steps, 500.0, &s), Some((500.0, true)), "confirmation last: {confirmation_last}");
        }
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
