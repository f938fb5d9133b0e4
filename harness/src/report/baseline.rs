//! `bench report --baseline`: each variant against the same variant in earlier results, for CI to catch
//! regressions. Runs are the samples (rows within a run share one stack's state, so pooling them would make small
//! drifts look significant): sustained generators and capacity over runs, and probe latency per load level over
//! the runs' mean latency there; every check's p-value Holm-adjusted over all the checks, at `alpha`. Censored
//! headlines (lower bounds) are not checked.

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::statistics::Statistics;

use super::aggregate::{self, Level, VariantSummary};
use super::compare::{holm, p_value, test, CAPACITY, PROBE_LATENCY, SUSTAINED};
use super::estimate::Estimate;
use super::rows::RunRows;

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly worse: fewer generators sustained, or higher latency.
    Regressed,
    Improved,
    Unchanged,
    /// Fewer than two runs on a side, or neither side varies (the difference is then stated, not tested).
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
    /// Two-sided Welch p-value over runs; `None` when untestable (neither side varies and the means differ).
    pub p: Option<f64>,
    /// Holm-adjusted over every check of the baseline.
    pub p_adjusted: Option<f64>,
    pub verdict: Verdict,
    #[serde(skip)]
    higher_is_worse: bool,
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

/// `higher_is_worse`: latency; otherwise (generators, capacity) lower is worse. The verdict waits for [`adjust`].
fn check(variant: &str, metric: String, baseline: &[f64], current: &[f64], higher_is_worse: bool) -> Check {
    let outcome = test(current, baseline);
    let (baseline_mean, current_mean) = (baseline.mean(), current.mean());
    Check {
        variant: variant.into(),
        metric,
        baseline_mean,
        current_mean,
        baseline_runs: baseline.len(),
        current_runs: current.len(),
        p: outcome.and_then(|o| o.p),
        p_adjusted: None,
        verdict: Verdict::Untestable,
        higher_is_worse,
        words: String::new(),
    }
}

/// Holm over all checks, then each verdict at `alpha`.
fn adjust(checks: &mut [Check], alpha: f64) {
    let adjusted = holm(&checks.iter().map(|c| c.p).collect::<Vec<_>>());
    for (c, p) in checks.iter_mut().zip(adjusted) {
        c.p_adjusted = p;
        let worse = if c.higher_is_worse { c.current_mean > c.baseline_mean } else { c.current_mean < c.baseline_mean };
        c.verdict = match p {
            None => Verdict::Untestable,
            Some(p) if p < alpha && worse => Verdict::Regressed,
            Some(p) if p < alpha => Verdict::Improved,
            Some(_) => Verdict::Unchanged,
        };
        c.words = c.describe(alpha);
    }
}

fn by_variant(inputs: &[RunRows]) -> BTreeMap<&str, Vec<&RunRows>> {
    let mut by: BTreeMap<&str, Vec<&RunRows>> = BTreeMap::new();
    for i in inputs.iter().filter(|i| i.counts()) {
        by.entry(i.variant.as_str()).or_default().push(i);
    }
    by
}

/// What one side of a check has: the headlines and the levels, over its runs.
struct Side {
    summary: VariantSummary,
    levels: Vec<Level>,
}

fn side(variant: &str, runs: &[&RunRows]) -> Side {
    let capacity = super::capacity::Capacity::of(variant, runs).map(|c| c.figures);
    Side { summary: VariantSummary::of(variant, runs, capacity), levels: aggregate::levels(variant, runs) }
}

/// Exact values of a headline both sides have (censored headlines are bounds: not checked).
fn headline<'a>(now: &'a Option<Estimate>, before: &'a Option<Estimate>) -> Option<(&'a [f64], &'a [f64])> {
    match (now, before) {
        (Some(a), Some(b)) if !a.censored && !b.censored => Some((&a.values, &b.values)),
        _ => None,
    }
}

fn checks_of(variant: &str, now: &Side, before: &Side) -> Vec<Check> {
    let mut checks = Vec::new();
    for (metric, a, b) in [
        (SUSTAINED, &now.summary.sustained, &before.summary.sustained),
        (CAPACITY, &now.summary.capacity, &before.summary.capacity),
    ] {
        if let Some((a, b)) = headline(a, b) {
            checks.push(check(variant, metric.into(), b, a, false));
        }
    }
    let earlier: BTreeMap<(u32, Option<u64>), &Level> =
        before.levels.iter().map(|l| ((l.generators, l.rate.map(f64::to_bits)), l)).collect();
    for level in &now.levels {
        let Some(old) = earlier.get(&(level.generators, level.rate.map(f64::to_bits))) else { continue };
        let (xs, ys) = (&level.probe_runs.values, &old.probe_runs.values);
        if xs.len() >= 2 && ys.len() >= 2 {
            let at = level.rate.map_or(format!("{} generators", level.generators), |r| format!("{r} tx/s"));
            checks.push(check(variant, format!("{PROBE_LATENCY} at {at}"), ys, xs, true));
        }
    }
    checks
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
        checks.extend(checks_of(variant, &side(variant, runs), &side(variant, old)));
    }
    adjust(&mut checks, alpha);
    Baseline { source: source.into(), alpha, checks, unmatched }
}

impl Check {
    fn describe(&self, alpha: f64) -> String {
        let p = match (self.p, self.p_adjusted) {
            (Some(p), Some(adjusted)) => format!("p = {}, Holm-adjusted {}", p_value(p), p_value(adjusted)),
            _ if self.baseline_runs < 2 || self.current_runs < 2 => "fewer than 2 runs on a side".to_string(),
            _ => "neither side varies, so no test can weigh the difference".to_string(),
        };
        let what = match self.verdict {
            Verdict::Regressed => "REGRESSED",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "no significant change",
            Verdict::Untestable => "not testable",
        };
        format!(
            "{} {}: {what}: {:.1} now ({} runs) vs {:.1} in the baseline ({} runs); {p}, alpha {alpha}",
            self.variant, self.metric, self.current_mean, self.current_runs, self.baseline_mean, self.baseline_runs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(baseline: &[f64], current: &[f64], higher_is_worse: bool) -> Check {
        let mut checks = [check("v", "m".into(), baseline, current, higher_is_worse)];
        adjust(&mut checks, 0.05);
        checks[0].clone()
    }

    #[test]
    fn fewer_generators_is_a_regression_more_is_an_improvement() {
        assert_eq!(judged(&[30.0, 31.0, 29.0, 30.0], &[20.0, 21.0, 19.0, 20.0], false).verdict, Verdict::Regressed);
        assert_eq!(judged(&[20.0, 21.0, 19.0], &[30.0, 31.0, 29.0], false).verdict, Verdict::Improved);
        assert_eq!(judged(&[20.0, 30.0, 25.0], &[22.0, 28.0, 26.0], false).verdict, Verdict::Unchanged);
    }

    #[test]
    fn no_variance_is_never_a_p_of_zero() {
        let apart = judged(&[36.0, 36.0], &[30.0, 30.0], false);
        assert_eq!((apart.verdict, apart.p), (Verdict::Untestable, None));
        assert!(apart.words.contains("neither side varies"), "{}", apart.words);
        let same = judged(&[36.0, 36.0], &[36.0, 36.0], false);
        assert_eq!((same.verdict, same.p), (Verdict::Unchanged, Some(1.0)));
        assert_eq!(judged(&[1.0], &[2.0, 3.0], true).verdict, Verdict::Untestable);
    }

    #[test]
    fn higher_latency_is_worse() {
        let c = judged(&[10.0, 11.0, 10.5], &[20.0, 21.0, 19.5], true);
        assert_eq!(c.verdict, Verdict::Regressed);
        assert!(c.words.contains("REGRESSED"), "{}", c.words);
    }

    #[test]
    fn holm_holds_many_checks_to_a_stricter_bar() {
        // Alone, p ≈ 0.03 regresses at 0.05; beside nine checks with p = 0.5 it is adjusted to ≈ 0.3.
        let mut checks = vec![check("v", "m".into(), &[10.0, 11.0, 10.5, 10.2], &[11.0, 12.0, 11.2, 11.9], true)];
        let alone = checks[0].p.unwrap();
        assert!(alone < 0.05, "{alone}");
        checks.extend((0..9).map(|i| check("v", format!("other {i}"), &[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], true)));
        adjust(&mut checks, 0.05);
        assert_eq!(checks[0].verdict, Verdict::Unchanged, "{}", checks[0].words);
        assert!((checks[0].p_adjusted.unwrap() - (alone * 10.0).min(1.0)).abs() < 1e-12);
    }
}
