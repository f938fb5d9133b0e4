//! A figure over runs, the report's sample unit: rows of one run share one stack, so they are not independent;
//! runs are. Each run contributes one value; the estimate is their mean, the standard error over runs, n = runs,
//! and a 95 % confidence interval from Student's t with n − 1 degrees of freedom.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::statistics::Statistics;

/// Mean, SE, n and 95 % CI over one value per run; `censored` when some run's value is only a lower bound (those
/// are left out of the mean and named by `at_least`) or an interval (named by `within`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Estimate {
    pub mean: Option<f64>,
    pub se: Option<f64>,
    /// Runs whose values are in the mean.
    pub n: usize,
    pub ci95: Option<(f64, f64)>,
    /// One value per run, in the report's run order (the dots beside each mean).
    pub values: Vec<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub censored: bool,
    /// The lowest lower bound among censored runs: each of them reached at least this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub censored_runs: usize,
    /// Runs known only to lie in an interval (a search that did not converge): listed, never averaged. An upper
    /// end of `None` is unbounded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub within: Vec<(f64, Option<f64>)>,
    /// Runs that measured nothing because the system never settled: listed, never averaged, not a bound.
    #[serde(skip_serializing_if = "is_zero")]
    pub unsettled: usize,
    /// The block of each value (a nightly job, or the host), when every run has one: what a paired comparison
    /// between variants pairs on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The two-sided 95 % quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: f64) -> Option<f64> {
    Some(StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(0.975))
}

impl Estimate {
    /// Over exact values only.
    pub fn over(values: Vec<f64>) -> Estimate {
        let n = values.len();
        let mean = (n > 0).then(|| values.iter().mean()).filter(|m| m.is_finite());
        let se = (n > 1).then(|| values.iter().std_dev() / (n as f64).sqrt()).filter(|s| s.is_finite());
        let ci95 = match (mean, se) {
            (Some(m), Some(s)) => t975((n - 1) as f64).map(|t| (m - t * s, m + t * s)),
            _ => None,
        };
        Estimate { mean, se, n, ci95, values, ..Estimate::default() }
    }

    /// Over exact values, each with the block of its run (kept only when every run has one).
    pub fn over_blocks(values: Vec<(f64, Option<String>)>) -> Estimate {
        let blocks: Option<Vec<String>> = values.iter().map(|(_, b)| b.clone()).collect();
        Estimate { blocks: blocks.unwrap_or_default(), ..Estimate::over(values.into_iter().map(|(v, _)| v).collect()) }
    }

    /// The mean of this estimate's values in each block.
    pub fn block_means(&self) -> std::collections::BTreeMap<&str, f64> {
        let mut sums: std::collections::BTreeMap<&str, (f64, usize)> = std::collections::BTreeMap::new();
        for (value, block) in self.values.iter().zip(&self.blocks) {
            let s = sums.entry(block.as_str()).or_default();
            *s = (s.0 + value, s.1 + 1);
        }
        sums.into_iter().map(|(b, (sum, n))| (b, sum / n as f64)).collect()
    }

    /// Over exact values, with lower bounds from censored runs named beside them.
    pub fn with_bounds(values: Vec<(f64, Option<String>)>, bounds: &[f64]) -> Estimate {
        Estimate {
            censored: !bounds.is_empty(),
            at_least: bounds.iter().copied().reduce(f64::min),
            censored_runs: bounds.len(),
            ..Estimate::over_blocks(values)
        }
    }
}

impl Estimate {
    /// With the intervals of runs that did not converge: censored like bounds, never in the mean.
    pub fn with_intervals(self, within: Vec<(f64, Option<f64>)>) -> Estimate {
        Estimate {
            censored: self.censored || !within.is_empty(),
            censored_runs: self.censored_runs + within.len(),
            within,
            ..self
        }
    }

    /// `21.3 ± 1.2 tx/s (n = 5, 95 % CI 18.0 to 24.6)`, with `≥ 90 in 2 run(s) stopped by a cap` for bounds; `–`
    /// when there is nothing.
    pub fn describe(&self, unit: &str) -> String {
        let mut text = match (self.mean, self.se, self.ci95) {
            (Some(m), Some(se), Some((lo, hi))) => {
                format!("{m:.1} ± {se:.1}{unit} (n = {}, 95 % CI {lo:.1} to {hi:.1})", self.n)
            }
            (Some(m), _, _) => format!("{m:.1}{unit} (n = {})", self.n),
            _ => String::new(),
        };
        if let Some(bound) = self.at_least {
            let sep = if text.is_empty() { "" } else { "; " };
            text.push_str(&format!(
                "{sep}≥ {bound:.0}{unit} in {} run(s) stopped by a cap (a lower bound)",
                self.censored_runs - self.within.len()
            ));
        }
        if !self.within.is_empty() {
            let sep = if text.is_empty() { "" } else { "; " };
            let intervals: Vec<String> = self
                .within
                .iter()
                .map(|(lo, hi)| match hi {
                    Some(hi) => format!("{lo:.0} to {hi:.0}"),
                    None => format!("≥ {lo:.0}"),
                })
                .collect();
            text.push_str(&format!(
                "{sep}{} run(s) did not converge, within {}{unit} (not averaged)",
                self.within.len(),
                intervals.join(", ")
            ));
        }
        if self.unsettled > 0 {
            let sep = if text.is_empty() { "" } else { "; " };
            text.push_str(&format!("{sep}{} run(s) never settled (nothing measured)", self.unsettled));
        }
        if text.is_empty() {
            "–".into()
        } else {
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_uses_students_t_over_runs() {
        // Five runs: mean 13, squared deviations 9 + 4 + 0 + 1 + 16 = 30, variance 7.5, se sqrt(7.5 / 5) = 1.22474;
        // t(0.975, 4) = 2.7764 from a printed table.
        let e = Estimate::over(vec![10.0, 11.0, 13.0, 14.0, 17.0]);
        assert_eq!((e.mean, e.n), (Some(13.0), 5));
        assert!((e.se.unwrap() - 1.22474).abs() < 1e-5);
        let (lo, hi) = e.ci95.unwrap();
        assert!(
            (lo - (13.0 - 2.7764 * 1.22474)).abs() < 1e-3 && (hi - (13.0 + 2.7764 * 1.22474)).abs() < 1e-3,
            "{lo} {hi}"
        );
    }

    #[test]
    fn one_run_has_a_mean_but_no_spread() {
        let e = Estimate::over(vec![7.0]);
        assert_eq!((e.mean, e.se, e.ci95, e.n), (Some(7.0), None, None, 1));
        assert_eq!(Estimate::over(Vec::new()).mean, None);
    }

    #[test]
    fn blocks_are_kept_only_when_every_run_has_one_and_average_per_block() {
        let e = Estimate::over_blocks(vec![(1.0, Some("a".into())), (3.0, Some("a".into())), (10.0, Some("b".into()))]);
        assert_eq!(e.block_means().into_iter().collect::<Vec<_>>(), [("a", 2.0), ("b", 10.0)]);
        assert!(Estimate::over_blocks(vec![(1.0, Some("a".into())), (2.0, None)]).blocks.is_empty());
    }

    #[test]
    fn bounds_are_named_not_averaged() {
        let e = Estimate::with_bounds(vec![(20.0, None), (22.0, None)], &[90.0, 80.0]);
        assert_eq!((e.mean, e.censored, e.at_least, e.censored_runs, e.n), (Some(21.0), true, Some(80.0), 2, 2));
    }
}
