//! Open runs at equal offered load: at each rate that steps of several runs of a variant were offered, the
//! transfers' p50 and p99 and the probe's, each the mean ± SE over runs. Capacity says what a setting costs at the
//! edge; this says what it costs below it, where a system usually runs (TLS against plaintext at 500 tx/s).
//!
//! Runs are the samples: each run gives one value per rate, from its first step at that rate (a confirming repeat
//! is not a second sample). A p99 that fell on timeouts has no value (a timeout is slower than any answer): such
//! runs are counted as beyond the timeout, never averaged in.

use std::collections::BTreeMap;

use serde::Serialize;

use super::estimate::Estimate;
use super::rows::RunRows;
use bench_results::Step;

/// Rates offered by fewer runs than this are left out: one run has no spread.
pub const MIN_RUNS: usize = 2;

/// One variant at one offered rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AtRate {
    pub variant: String,
    /// Transfers offered per second.
    pub rate: f64,
    /// Runs with a step at this rate, and how many of those steps met their SLO.
    pub runs: usize,
    pub passed: usize,
    pub p50_ms: Estimate,
    pub p99_ms: Estimate,
    /// Runs whose p99 at this rate fell on timeouts (beyond `timeout_ms`).
    pub p99_beyond: usize,
    pub probe_p50_ms: Estimate,
    pub probe_p99_ms: Estimate,
    pub probe_p99_beyond: usize,
}

/// Rates as keys: offered rates are set by the search, so equal rates are equal to the millisecond of a second.
fn key(rate: f64) -> i64 {
    (rate * 1000.0).round() as i64
}

/// Every rate at least [`MIN_RUNS`] complete open runs of `variant` were offered, lowest first.
pub fn at_rates(variant: &str, runs: &[&RunRows]) -> Vec<AtRate> {
    let mut by_rate: BTreeMap<i64, Vec<&Step>> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.counts() && r.search.is_some()) {
        let mut firsts: BTreeMap<i64, &Step> = BTreeMap::new();
        for step in run.steps.iter().filter(|s| !s.confirming) {
            firsts.entry(key(step.rate)).or_insert(step);
        }
        for (rate, step) in firsts {
            by_rate.entry(rate).or_default().push(step);
        }
    }
    by_rate.into_values().filter(|steps| steps.len() >= MIN_RUNS).map(|steps| of(variant, &steps)).collect()
}

fn of(variant: &str, steps: &[&Step]) -> AtRate {
    let figure = |value: &dyn Fn(&Step) -> Option<f64>| {
        let values: Vec<f64> = steps.iter().filter_map(|s| value(s)).collect();
        let beyond = steps.len() - values.len();
        (Estimate::over(values), beyond)
    };
    let (p50_ms, _) = figure(&|s| s.p50_ms);
    let (p99_ms, p99_beyond) = figure(&|s| s.p99_ms);
    let probed: Vec<&&Step> = steps.iter().filter(|s| s.probe.as_ref().is_some_and(|p| p.loops > 0)).collect();
    let probe = |value: &dyn Fn(&bench_results::ProbeFigures) -> Option<f64>| {
        let values: Vec<f64> = probed.iter().filter_map(|s| s.probe.as_ref().and_then(value)).collect();
        let beyond = probed.len() - values.len();
        (Estimate::over(values), beyond)
    };
    let (probe_p50_ms, _) = probe(&|p| p.p50_ms);
    let (probe_p99_ms, probe_p99_beyond) = probe(&|p| p.p99_ms);
    AtRate {
        variant: variant.to_string(),
        rate: steps[0].rate,
        runs: steps.len(),
        passed: steps.iter().filter(|s| s.passed).count(),
        p50_ms,
        p99_ms,
        p99_beyond,
        probe_p50_ms,
        probe_p99_ms,
        probe_p99_beyond,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_results::ProbeFigures;

    fn step(rate: f64, p50: f64, p99: Option<f64>, probe_p99: Option<f64>, confirming: bool) -> Step {
        Step {
            step: 1,
            rate,
            achieved: rate,
            sent: 0,
            answered: 0,
            errors: 0,
            timeouts: 0,
            p50_ms: Some(p50),
            p90_ms: None,
            p99_ms: p99,
            p999_ms: None,
            max_ms: None,
            passed: p99.is_some_and(|p| p <= 500.0),
            confirming,
            lag_p99_ms: 0.0,
            lag_max_ms: 0.0,
            dwell_s: 10.0,
            drain_s: None,
            t_ms: 0,
            probe: Some(ProbeFigures { loops: 10, timeouts: 0, p50_ms: Some(p50 * 2.0), p99_ms: probe_p99 }),
            resources: Default::default(),
            machine_cpu_pct: None,
            drained: None,
            left_out: false,
            stored: None,
        }
    }

    #[test]
    fn each_run_gives_one_value_per_rate_and_a_p99_on_timeouts_is_counted_beyond_not_averaged() {
        let runs = [
            vec![
                step(250.0, 10.0, Some(40.0), Some(60.0), false),
                step(500.0, 20.0, Some(100.0), Some(120.0), false),
                step(500.0, 99.0, Some(999.0), None, true),
            ],
            vec![
                step(250.0, 14.0, Some(50.0), Some(70.0), false),
                step(500.0, 30.0, None, None, false),
                step(750.0, 1.0, Some(1.0), None, false),
            ],
        ];
        let rows: Vec<RunRows> = runs
            .into_iter()
            .map(|steps| RunRows {
                complete: true,
                search: Some(crate::experiment::Search::default()),
                steps,
                ..RunRows::default()
            })
            .collect();
        let at = at_rates("v", &rows.iter().collect::<Vec<_>>());
        assert_eq!(
            at.iter().map(|a| a.rate).collect::<Vec<_>>(),
            [250.0, 500.0],
            "750 tx/s was offered in one run only"
        );
        let (low, high) = (&at[0], &at[1]);
        // By hand: 250 tx/s, p50 (10 + 14) / 2 = 12, SE = sd / sqrt(2) = 2.828 / 1.414 = 2; p99 (40 + 50) / 2 = 45.
        assert_eq!(
            (low.runs, low.passed, low.p50_ms.mean, low.p99_ms.mean, low.p99_beyond),
            (2, 2, Some(12.0), Some(45.0), 0)
        );
        assert!((low.p50_ms.se.unwrap() - 2.0).abs() < 1e-9);
        assert_eq!((low.probe_p50_ms.mean, low.probe_p99_ms.mean), (Some(24.0), Some(65.0)));
        // 500 tx/s: the confirming repeat (p50 99) is not a sample; the second run's p99 fell on timeouts.
        assert_eq!((high.runs, high.passed, high.p50_ms.mean, high.p50_ms.n), (2, 1, Some(25.0), 2));
        assert_eq!((high.p99_ms.mean, high.p99_ms.n, high.p99_beyond), (Some(100.0), 1, 1));
        assert_eq!((high.probe_p99_ms.mean, high.probe_p99_beyond), (Some(120.0), 1));
    }
}
