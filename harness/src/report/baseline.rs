//! `bench report --baseline`: each variant against the same variant in earlier results, for CI to catch
//! regressions. Runs are the independent units here: rows within a run share one stack's state, so pooling
//! them would make small drifts look significant. Sustained generators are compared over runs; probe latency
//! per generator level over the runs' mean latency at that level, with a Bonferroni correction for the
//! number of levels tested.

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::statistics::Statistics;

use super::compare::welch;
use super::RunRows;

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly worse: fewer generators sustained, or higher latency.
    Regressed,
    Improved,
    Unchanged,
    /// Fewer than two runs on a side.
    Untestable,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub variant: String,
    /// `sustained generators` or `probe latency at N generators`.
    pub metric: String,
    pub baseline_mean: f64,
    pub current_mean: f64,
    pub baseline_runs: usize,
    pub current_runs: usize,
    /// Two-sided Welch p-value; 0 when neither side varies and the means differ.
    pub p: Option<f64>,
    /// The significance level this check was held to (alpha, divided by the levels tested for latency).
    pub alpha: f64,
    pub verdict: Verdict,
    /// The finding in one line, for the terminal and the page.
    pub words: String,
}

/// Every variant present in both sets, checked against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// What the baseline was read from, for the page.
    pub source: String,
    pub alpha: f64,
    pub checks: Vec<Check>,
    /// Variants in the current results with no counterpart in the baseline.
    pub unmatched: Vec<String>,
}

impl Baseline {
    pub fn regressions(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.verdict == Verdict::Regressed)
    }
}

/// Per complete run: its sustained generators and its mean probe latency at each level.
struct PerRun {
    sustained: Vec<f64>,
    latency: BTreeMap<u32, Vec<f64>>,
}

fn per_run(runs: &[&RunRows]) -> PerRun {
    let mut latency: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.complete) {
        let mut levels: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
        for row in &run.rows {
            if let Some(ms) = row.probe_ms {
                levels.entry(row.generators).or_default().push(ms);
            }
        }
        for (level, values) in levels {
            latency.entry(level).or_default().push(values.mean());
        }
    }
    PerRun { sustained: runs.iter().filter(|r| r.complete).filter_map(|r| r.sustained.map(f64::from)).collect(), latency }
}

/// `higher_is_worse`: latency; otherwise (generators) lower is worse.
fn check(variant: &str, metric: String, baseline: &[f64], current: &[f64], alpha: f64, higher_is_worse: bool) -> Check {
    let (baseline_mean, current_mean) = (baseline.mean(), current.mean());
    let p = if baseline.len() < 2 || current.len() < 2 {
        None
    } else if let Some((_, _, p)) = welch(current, baseline) {
        Some(p)
    } else {
        // Neither side varies: the difference, if any, is in every run.
        Some(if (baseline_mean - current_mean).abs() > 0.0 { 0.0 } else { 1.0 })
    };
    let worse = if higher_is_worse { current_mean > baseline_mean } else { current_mean < baseline_mean };
    let verdict = match p {
        None => Verdict::Untestable,
        Some(p) if p < alpha && worse => Verdict::Regressed,
        Some(p) if p < alpha => Verdict::Improved,
        Some(_) => Verdict::Unchanged,
    };
    let mut c = Check {
        variant: variant.into(),
        metric,
        baseline_mean,
        current_mean,
        baseline_runs: baseline.len(),
        current_runs: current.len(),
        p,
        alpha,
        verdict,
        words: String::new(),
    };
    c.words = c.describe();
    c
}

fn by_variant(inputs: &[RunRows]) -> BTreeMap<&str, Vec<&RunRows>> {
    let mut by: BTreeMap<&str, Vec<&RunRows>> = BTreeMap::new();
    for i in inputs {
        by.entry(i.variant.as_str()).or_default().push(i);
    }
    by
}

/// Checks every variant of `current` that `baseline` also has.
pub fn compare(source: &str, current: &[RunRows], baseline: &[RunRows], alpha: f64) -> Baseline {
    let (now, before) = (by_variant(current), by_variant(baseline));
    let mut checks = Vec::new();
    let mut unmatched = Vec::new();
    for (variant, runs) in &now {
        let Some(old) = before.get(variant) else {
            unmatched.push((*variant).to_string());
            continue;
        };
        let (a, b) = (per_run(runs), per_run(old));
        checks.push(check(variant, "sustained generators".into(), &b.sustained, &a.sustained, alpha, false));
        let shared: Vec<(u32, &Vec<f64>, &Vec<f64>)> = a
            .latency
            .iter()
            .filter_map(|(level, xs)| b.latency.get(level).map(|ys| (*level, xs, ys)))
            .filter(|(_, xs, ys)| xs.len() >= 2 && ys.len() >= 2)
            .collect();
        let corrected = alpha / shared.len().max(1) as f64;
        for (level, xs, ys) in shared {
            checks.push(check(variant, format!("probe latency at {level} generators"), ys, xs, corrected, true));
        }
    }
    Baseline { source: source.into(), alpha, checks, unmatched }
}

impl Check {
    fn describe(&self) -> String {
        let p = match self.p {
            Some(p) if p < 0.001 => "p < 0.001".to_string(),
            Some(p) => format!("p = {p:.3}"),
            None => "fewer than 2 runs on a side".to_string(),
        };
        let what = match self.verdict {
            Verdict::Regressed => "REGRESSED",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "no significant change",
            Verdict::Untestable => "not testable",
        };
        format!(
            "{} {}: {what}: {:.1} now ({} runs) vs {:.1} in the baseline ({} runs); {p}, alpha {:.4}",
            self.variant, self.metric, self.current_mean, self.current_runs, self.baseline_mean, self.baseline_runs, self.alpha
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_generators_is_a_regression_more_is_an_improvement() {
        let worse = check("v", "sustained generators".into(), &[30.0, 31.0, 29.0, 30.0], &[20.0, 21.0, 19.0, 20.0], 0.05, false);
        assert_eq!(worse.verdict, Verdict::Regressed);
        let better = check("v", "sustained generators".into(), &[20.0, 21.0, 19.0], &[30.0, 31.0, 29.0], 0.05, false);
        assert_eq!(better.verdict, Verdict::Improved);
        let noise = check("v", "sustained generators".into(), &[20.0, 30.0, 25.0], &[22.0, 28.0, 26.0], 0.05, false);
        assert_eq!(noise.verdict, Verdict::Unchanged);
    }

    #[test]
    fn no_variance_on_either_side_still_decides() {
        let c = check("v", "sustained generators".into(), &[36.0, 36.0], &[30.0, 30.0], 0.05, false);
        assert_eq!((c.verdict, c.p), (Verdict::Regressed, Some(0.0)));
        let same = check("v", "sustained generators".into(), &[36.0, 36.0], &[36.0, 36.0], 0.05, false);
        assert_eq!(same.verdict, Verdict::Unchanged);
        assert_eq!(check("v", "x".into(), &[1.0], &[2.0, 3.0], 0.05, true).verdict, Verdict::Untestable);
    }

    #[test]
    fn higher_latency_is_worse() {
        let c = check("v", "probe latency at 3 generators".into(), &[10.0, 11.0, 10.5], &[20.0, 21.0, 19.5], 0.01, true);
        assert_eq!(c.verdict, Verdict::Regressed);
        assert!(c.words.contains("REGRESSED"), "{}", c.words);
    }
}
