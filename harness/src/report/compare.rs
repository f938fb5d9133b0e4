//! Welch's t-test between variants (unequal variances), with the p-value said in plain words.

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::statistics::Statistics;

use super::aggregate::VariantSummary;
use super::capacity::Capacity;
use super::RunRows;

/// Below this p-value a difference is called clear.
const ALPHA: f64 = 0.05;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// `sustained generators`, or `probe latency at N generators`.
    pub metric: String,
    pub a: String,
    pub b: String,
    pub mean_a: f64,
    pub mean_b: f64,
    /// mean_a − mean_b, and its 95 % confidence interval (Welch).
    pub diff: f64,
    pub ci95: (f64, f64),
    pub t: f64,
    pub df: f64,
    pub p: f64,
    pub words: String,
}

/// Welch's t statistic, degrees of freedom and two-sided p-value; `None` with fewer than 2 values a side or
/// no variance at all.
pub fn welch(a: &[f64], b: &[f64]) -> Option<(f64, f64, f64)> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (a.variance() / na, b.variance() / nb);
    if va + vb <= 0.0 {
        return None;
    }
    let t = (a.mean() - b.mean()) / (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va.powi(2) / (na - 1.0) + vb.powi(2) / (nb - 1.0));
    let p = 2.0 * (1.0 - StudentsT::new(0.0, 1.0, df).ok()?.cdf(t.abs()));
    Some((t, df, p))
}

fn compare(metric: String, (a, xs): (&str, &[f64]), (b, ys): (&str, &[f64]), unit: &str) -> Option<Comparison> {
    let (t, df, p) = welch(xs, ys)?;
    let (mean_a, mean_b) = (xs.mean(), ys.mean());
    let diff = mean_a - mean_b;
    // t is diff / se, so the standard error of the difference is diff / t (t is never 0 with a difference).
    let se = if t == 0.0 { 0.0 } else { diff / t };
    let half = StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(0.975) * se.abs();
    let ci95 = (diff - half, diff + half);
    let p_text = if p < 0.001 { "p < 0.001".to_string() } else { format!("p = {p:.3}") };
    let words = if p < ALPHA {
        let direction = if mean_a > mean_b { "higher" } else { "lower" };
        format!(
            "{metric}: {a} is {direction} than {b} ({mean_a:.1}{unit} vs {mean_b:.1}{unit}, difference {diff:.1}{unit}, 95 % CI {:.1} to {:.1}); {p_text}, so a difference this large would come from chance alone less than 1 time in 20",
            ci95.0, ci95.1
        )
    } else {
        format!(
            "{metric}: no clear difference between {a} and {b} ({mean_a:.1}{unit} vs {mean_b:.1}{unit}, difference {diff:.1}{unit}, 95 % CI {:.1} to {:.1}); {p_text}, chance alone gives differences like this often",
            ci95.0, ci95.1
        )
    };
    Some(Comparison { metric, a: a.into(), b: b.into(), mean_a, mean_b, diff, ci95, t, df, p, words })
}

/// Every pair of variants: sustained generators and capacity over runs, and probe latency at each level both
/// reached; with what was not compared and why (a censored value is a bound, not a measurement).
pub fn all(variants: &[VariantSummary], capacity: &[Capacity], runs: &BTreeMap<&str, Vec<&RunRows>>) -> (Vec<Comparison>, Vec<String>) {
    struct Samples {
        sustained: Vec<f64>,
        latencies: BTreeMap<u32, Vec<f64>>,
    }
    let samples: Vec<Samples> = variants
        .iter()
        .map(|v| {
            let complete: Vec<&&RunRows> = runs.get(v.variant.as_str()).into_iter().flatten().filter(|r| r.complete).collect();
            let mut latencies: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
            for row in complete.iter().flat_map(|r| &r.rows) {
                if let Some(ms) = row.probe_ms {
                    latencies.entry(row.generators).or_default().push(ms);
                }
            }
            Samples { sustained: complete.iter().filter(|r| !r.censored).filter_map(|r| r.sustained.map(f64::from)).collect(), latencies }
        })
        .collect();
    let mut out = Vec::new();
    let mut not_compared = Vec::new();
    for (i, (va, sa)) in variants.iter().zip(&samples).enumerate() {
        for (vb, sb) in variants[i + 1..].iter().zip(&samples[i + 1..]) {
            let (a, b) = (va.variant.as_str(), vb.variant.as_str());
            if va.censored + vb.censored > 0 {
                not_compared.push(format!(
                    "sustained generators, {a} against {b}: {} run(s) ended by max_loops, so their generator counts are lower bounds, not measurements",
                    va.censored + vb.censored
                ));
            } else {
                out.extend(compare("sustained generators".into(), (a, &sa.sustained), (b, &sb.sustained), ""));
            }
            for (level, xs) in &sa.latencies {
                if let Some(ys) = sb.latencies.get(level) {
                    out.extend(compare(format!("probe latency at {level} generators"), (a, xs), (b, ys), " ms"));
                }
            }
        }
    }
    compare_capacity(capacity, &mut out, &mut not_compared);
    (out, not_compared)
}

/// Capacity between every pair of variants, over their runs; runs that passed `max_rate` make it a bound.
fn compare_capacity(capacity: &[Capacity], out: &mut Vec<Comparison>, not_compared: &mut Vec<String>) {
    for (i, ca) in capacity.iter().enumerate() {
        for cb in &capacity[i + 1..] {
            let (a, b) = (ca.variant.as_str(), cb.variant.as_str());
            if ca.censored + cb.censored > 0 {
                not_compared.push(format!(
                    "capacity, {a} against {b}: {} run(s) passed max_rate, so their capacity is a lower bound, not a measurement",
                    ca.censored + cb.censored
                ));
                continue;
            }
            let values = |c: &Capacity| c.runs.iter().map(|r| r.capacity).collect::<Vec<f64>>();
            out.extend(compare(CAPACITY.into(), (a, &values(ca)), (b, &values(cb)), " tx/s"));
        }
    }
}

/// The metric name of capacity comparisons.
pub const CAPACITY: &str = "capacity";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_matches_a_textbook_example() {
        // Two samples with unequal variances; t, df and p computed by hand (and by R's t.test) for this data.
        let a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
        let b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
        let (t, df, p) = welch(&a, &b).unwrap();
        assert!((t - -2.46).abs() < 0.01, "{t}");
        assert!((df - 24.99).abs() < 0.05, "{df}");
        assert!((p - 0.021).abs() < 0.001, "{p}");
        // The difference's 95 % CI: -2.1667 ± t(0.975, 25 df) × se, with t = 2.0595 from a printed t table and
        // se = sqrt(var(a)/15 + var(b)/15) = 0.88242 by hand.
        let c = compare("x".into(), ("A", &a), ("B", &b), "").unwrap();
        let (lo, hi) = (-2.16667 - 2.0595 * 0.88242, -2.16667 + 2.0595 * 0.88242);
        assert!((c.ci95.0 - lo).abs() < 0.005 && (c.ci95.1 - hi).abs() < 0.005, "{:?} against ({lo}, {hi})", c.ci95);
    }

    #[test]
    fn too_few_values_or_no_variance_give_no_test() {
        assert!(welch(&[1.0], &[1.0, 2.0]).is_none());
        assert!(welch(&[3.0, 3.0], &[3.0, 3.0]).is_none());
    }

    #[test]
    fn words_say_whether_the_difference_is_clear() {
        let clear = compare("x".into(), ("A", &[10.0, 11.0, 10.5, 10.2]), ("B", &[5.0, 5.5, 5.2, 4.9]), "").unwrap();
        assert!(clear.words.contains("A is higher than B"), "{}", clear.words);
        let unclear = compare("x".into(), ("A", &[10.0, 12.0, 8.0]), ("B", &[11.0, 9.0, 10.5]), "").unwrap();
        assert!(unclear.words.contains("no clear difference"), "{}", unclear.words);
    }
}
