//! Differences between variants, over runs (the sample unit): Welch's t-test (unequal variances) on one value per
//! run, the difference with its 95 % CI, and the p-values adjusted by Holm's method within two families fixed
//! before any data is seen: the headline (capacity, or sustained generators), which an experiment is run to
//! answer, and latency at equal load. Dozens of levels × variant pairs tested at once do not find latency
//! differences by chance, and however many levels the searches happened to visit, the headline keeps its power. Variants whose probes drove
//! different things (GraphQL, a browser, the 2019 browser) are never compared, and censored headlines are not
//! compared at all: a lower bound is not a measurement.

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::statistics::Statistics;

use super::aggregate::{Level, VariantSummary};
use super::estimate::{t975, Estimate};

/// The metric names of comparisons.
pub const SUSTAINED: &str = "sustained generators";
pub const CAPACITY: &str = "capacity";
pub const PROBE_LATENCY: &str = "probe latency";

/// The outcome of a test between two sets of per-run values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// mean(a) − mean(b)
    pub diff: f64,
    pub ci95: Option<(f64, f64)>,
    /// `None` when neither side varies and the means differ: nothing to weigh the difference against.
    pub p: Option<f64>,
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

/// Tests `a` against `b`; `None` with fewer than two values a side. Without spread on either side, equal values
/// are no difference (p = 1) and unequal ones are stated without a p-value.
pub fn test(a: &[f64], b: &[f64]) -> Option<Outcome> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let diff = a.mean() - b.mean();
    if let Some((_, df, p)) = welch(a, b) {
        let se = (a.variance() / a.len() as f64 + b.variance() / b.len() as f64).sqrt();
        let half = t975(df)? * se;
        return Some(Outcome { diff, ci95: Some((diff - half, diff + half)), p: Some(p) });
    }
    if diff == 0.0 {
        Some(Outcome { diff, ci95: Some((0.0, 0.0)), p: Some(1.0) })
    } else {
        Some(Outcome { diff, ci95: None, p: None })
    }
}

/// Paired over blocks: each block's mean of `a`'s runs minus its mean of `b`'s, tested as one sample (Student's t,
/// blocks − 1 degrees of freedom), so what differs between machines cancels; `None` with fewer than two blocks both
/// ran. The second value is the number of blocks.
pub fn paired(a: &Estimate, b: &Estimate) -> Option<(Outcome, usize)> {
    let (ma, mb) = (a.block_means(), b.block_means());
    let d: Vec<f64> = ma.iter().filter_map(|(block, x)| mb.get(block).map(|y| x - y)).collect();
    let k = d.len();
    if k < 2 {
        return None;
    }
    let diff = d.iter().mean();
    let se = (d.iter().variance() / k as f64).sqrt();
    if se == 0.0 || !se.is_finite() {
        let equal = diff == 0.0;
        return Some((Outcome { diff, ci95: equal.then_some((0.0, 0.0)), p: equal.then_some(1.0) }, k));
    }
    let df = (k - 1) as f64;
    let p = 2.0 * (1.0 - StudentsT::new(0.0, 1.0, df).ok()?.cdf((diff / se).abs()));
    let half = t975(df)? * se;
    Some((Outcome { diff, ci95: Some((diff - half, diff + half)), p: Some(p) }, k))
}

/// Holm's step-down adjustment: the i-th smallest of m p-values times (m − i + 1), kept monotone, at most 1.
/// `None`s (no test) stay `None` and do not count towards m.
pub fn holm(ps: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut order: Vec<(usize, f64)> = ps.iter().enumerate().filter_map(|(i, p)| p.map(|p| (i, p))).collect();
    order.sort_by(|x, y| x.1.total_cmp(&y.1));
    let m = order.len();
    let mut adjusted = vec![None; ps.len()];
    let mut running: f64 = 0.0;
    for (rank, (i, p)) in order.into_iter().enumerate() {
        running = running.max(((m - rank) as f64 * p).min(1.0));
        adjusted[i] = Some(running);
    }
    adjusted
}

/// One comparison between two variants over their runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// [`SUSTAINED`], [`CAPACITY`] or [`PROBE_LATENCY`].
    pub metric: String,
    pub a: String,
    pub b: String,
    /// Per-level comparisons: the generator count (closed runs) or offered rate (open runs), in `level_unit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_unit: Option<&'static str>,
    pub mean_a: f64,
    pub mean_b: f64,
    /// Runs on each side.
    pub n_a: usize,
    pub n_b: usize,
    /// `paired over blocks` (each block ran both: the per-block difference of run means) or `Welch over runs`.
    pub method: &'static str,
    /// Blocks the paired test was over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<usize>,
    pub diff: f64,
    pub ci95: Option<(f64, f64)>,
    pub p: Option<f64>,
    /// The family it was Holm-adjusted in: [`HEADLINE`] or [`LATENCY`].
    pub family: &'static str,
    /// Holm-adjusted over the comparisons of its family.
    pub p_adjusted: Option<f64>,
    pub significant: bool,
    pub words: String,
}

/// Every comparison of a report, the families their p-values were adjusted in, and what was not compared and why.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Comparisons {
    pub comparisons: Vec<Comparison>,
    pub families: Vec<Family>,
    pub not_compared: Vec<String>,
}

/// The primary family: the headline an experiment answers (capacity of a search, sustained generators of a
/// closed run).
pub const HEADLINE: &str = "headline";
/// The secondary family: probe latency at each level two variants both reached.
pub const LATENCY: &str = "latency";

/// Comparisons whose p-values are adjusted together (Holm).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Family {
    /// [`HEADLINE`] or [`LATENCY`].
    pub name: &'static str,
    /// The metrics it holds.
    pub metrics: Vec<&'static str>,
    /// Tests with a p-value in it.
    pub size: usize,
    pub alpha: f64,
}

/// The family of a metric's comparisons.
pub fn family_of(metric: &str) -> &'static str {
    if metric == PROBE_LATENCY {
        LATENCY
    } else {
        HEADLINE
    }
}

struct Side<'a> {
    name: &'a str,
    values: &'a Estimate,
}

pub const PAIRED: &str = "paired over blocks";
pub const PAIRED_ROUNDS: &str = "paired over rounds";
pub const WELCH: &str = "Welch over runs";

/// What paired runs share: a block (a nightly job, or the host) that ran every variant, or a round of one
/// invocation that ran every variant once, in a shuffled order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Blocks,
    Rounds,
}

impl Unit {
    pub fn plural(self) -> &'static str {
        match self {
            Unit::Blocks => "blocks",
            Unit::Rounds => "rounds",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Unit::Blocks => PAIRED,
            Unit::Rounds => PAIRED_ROUNDS,
        }
    }
}

fn comparison(
    metric: &str,
    level: Option<(f64, &'static str)>,
    a: Side,
    b: Side,
    pairing: Option<Unit>,
) -> Option<Comparison> {
    let pairs = pairing.and_then(|unit| Some((paired(a.values, b.values)?, unit)));
    let (outcome, method, blocks) = match pairs {
        Some(((outcome, k), unit)) => (outcome, unit.method(), Some(k)),
        None => (test(&a.values.values, &b.values.values)?, WELCH, None),
    };
    let (a_values, b_values) = (&a.values.values, &b.values.values);
    let mut c = Comparison {
        metric: metric.into(),
        a: a.name.into(),
        b: b.name.into(),
        level: level.map(|l| l.0),
        level_unit: level.map(|l| l.1),
        mean_a: a_values.mean(),
        mean_b: b_values.mean(),
        n_a: a_values.len(),
        n_b: b_values.len(),
        method,
        blocks,
        diff: outcome.diff,
        ci95: outcome.ci95,
        p: outcome.p,
        family: family_of(metric),
        p_adjusted: None,
        significant: false,
        words: String::new(),
    };
    c.words = words(&c, unit_of(metric));
    Some(c)
}

impl Comparison {
    /// `capacity`, or `probe latency at 10 generators`.
    pub fn title(&self) -> String {
        match (self.level, self.level_unit) {
            (Some(level), Some(unit)) => format!("{} at {level} {unit}", self.metric),
            _ => self.metric.clone(),
        }
    }
}

fn unit_of(metric: &str) -> &'static str {
    match metric {
        CAPACITY => " tx/s",
        PROBE_LATENCY => " ms",
        _ => "",
    }
}

/// The finding in one line; `c.p_adjusted` and `c.significant` must be set.
fn words(c: &Comparison, unit: &str) -> String {
    let (a, b, title) = (&c.a, &c.b, c.title());
    let paired_over = if c.method == PAIRED_ROUNDS { Unit::Rounds } else { Unit::Blocks };
    let over = c.blocks.map_or(String::new(), |k| format!(", paired over {k} {}", paired_over.plural()));
    let means = format!("{:.1}{unit} vs {:.1}{unit} over {} and {} runs{over}", c.mean_a, c.mean_b, c.n_a, c.n_b);
    let Some(p) = c.p else {
        return format!(
            "{title}: {a} and {b} differ in every run ({means}), but neither varies, so no test can weigh it"
        );
    };
    let ci = c.ci95.map_or(String::new(), |(lo, hi)| format!(", 95 % CI {lo:.1} to {hi:.1}"));
    let adjusted = c.p_adjusted.unwrap_or(p);
    let p_text = format!("p = {}, Holm-adjusted {}", p_value(p), p_value(adjusted));
    if c.significant {
        let direction = if c.diff > 0.0 { "higher" } else { "lower" };
        format!("{title}: {a} is {direction} than {b} ({means}; difference {:.1}{unit}{ci}); {p_text}", c.diff)
    } else {
        format!(
            "{title}: no clear difference between {a} and {b} ({means}; difference {:.1}{unit}{ci}); {p_text}",
            c.diff
        )
    }
}

/// `0.021`, or `< 0.001`.
pub(super) fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// Every pair of variants of one probe kind: sustained generators, capacity, and probe latency at each level both
/// reached, each over runs; Holm-adjusted within each family at `alpha`.
/// With a `pairing` (every block, or every round, ran every variant) each comparison is paired over those units
/// where both sides' runs carry them.
pub fn all(variants: &[VariantSummary], levels: &[Level], alpha: f64, pairing: Option<Unit>) -> Comparisons {
    let mut by_variant: BTreeMap<&str, Vec<&Level>> = BTreeMap::new();
    for level in levels {
        by_variant.entry(level.variant.as_str()).or_default().push(level);
    }
    let mut out = Comparisons::default();
    for (i, va) in variants.iter().enumerate() {
        for vb in &variants[i + 1..] {
            if va.probe_kind != vb.probe_kind {
                out.not_compared.push(format!(
                    "{} ({} probe) against {} ({} probe): their probes measure different things, so latencies and the load they sustain are not comparable",
                    va.variant, va.probe_kind, vb.variant, vb.probe_kind
                ));
                continue;
            }
            pair(va, vb, &by_variant, pairing, &mut out);
        }
    }
    out.families = [(HEADLINE, vec![CAPACITY, SUSTAINED]), (LATENCY, vec![PROBE_LATENCY])]
        .into_iter()
        .map(|(name, metrics)| {
            let size = out.comparisons.iter().filter(|c| c.family == name && c.p.is_some()).count();
            Family { name, metrics, size, alpha }
        })
        .collect();
    for family in [HEADLINE, LATENCY] {
        let mut members: Vec<&mut Comparison> = out.comparisons.iter_mut().filter(|c| c.family == family).collect();
        adjust_refs(&mut members, alpha);
    }
    out
}

fn pair(
    va: &VariantSummary,
    vb: &VariantSummary,
    levels: &BTreeMap<&str, Vec<&Level>>,
    pairing: Option<Unit>,
    out: &mut Comparisons,
) {
    let (a, b) = (va.variant.as_str(), vb.variant.as_str());
    for (metric, x, y) in [(SUSTAINED, &va.sustained, &vb.sustained), (CAPACITY, &va.capacity, &vb.capacity)] {
        let (Some(x), Some(y)) = (x, y) else { continue };
        headline(metric, (a, x), (b, y), pairing, out);
    }
    let theirs: BTreeMap<(u32, Option<u64>), &Level> =
        levels.get(b).into_iter().flatten().map(|l| ((l.generators, l.rate.map(f64::to_bits)), *l)).collect();
    for la in levels.get(a).into_iter().flatten() {
        let Some(lb) = theirs.get(&(la.generators, la.rate.map(f64::to_bits))) else { continue };
        let level = match la.rate {
            Some(rate) => (rate, "tx/s"),
            None => (f64::from(la.generators), "generators"),
        };
        let (x, y) = (&la.probe_runs, &lb.probe_runs);
        out.comparisons.extend(comparison(
            PROBE_LATENCY,
            Some(level),
            Side { name: a, values: x },
            Side { name: b, values: y },
            pairing,
        ));
    }
}

fn headline(
    metric: &str,
    (a, x): (&str, &Estimate),
    (b, y): (&str, &Estimate),
    pairing: Option<Unit>,
    out: &mut Comparisons,
) {
    if x.censored || y.censored {
        let unconverged = x.within.len() + y.within.len();
        let bounds = x.censored_runs + y.censored_runs - unconverged;
        let mut why = Vec::new();
        if bounds > 0 && metric == CAPACITY {
            why.push(format!("{bounds} run(s) passed max_rate, so their capacity is a lower bound, not a measurement"));
        } else if bounds > 0 {
            why.push(format!(
                "{bounds} run(s) ended by max_loops, so their generator counts are lower bounds, not measurements"
            ));
        }
        if unconverged > 0 {
            why.push(format!("{unconverged} run(s) did not converge, so their capacity is only an interval"));
        }
        out.not_compared.push(format!("{metric}, {a} against {b}: {}", why.join("; ")));
    } else if x.n < 2 || y.n < 2 {
        out.not_compared
            .push(format!("{metric}, {a} against {b}: a test needs at least 2 runs a side ({} and {})", x.n, y.n));
    } else {
        out.comparisons.extend(comparison(
            metric,
            None,
            Side { name: a, values: x },
            Side { name: b, values: y },
            pairing,
        ));
    }
}

/// Holm over all of them (one family), then the verdict and the words.
pub fn adjust(comparisons: &mut [Comparison], alpha: f64) {
    let mut all: Vec<&mut Comparison> = comparisons.iter_mut().collect();
    adjust_refs(&mut all, alpha);
}

fn adjust_refs(comparisons: &mut [&mut Comparison], alpha: f64) {
    let adjusted = holm(&comparisons.iter().map(|c| c.p).collect::<Vec<_>>());
    for (c, p) in comparisons.iter_mut().zip(adjusted) {
        c.p_adjusted = p;
        c.significant = p.is_some_and(|p| p < alpha);
        c.words = words(c, unit_of(&c.metric));
    }
}

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
        let o = test(&a, &b).unwrap();
        let (lo, hi) = (-2.16667 - 2.0595 * 0.88242, -2.16667 + 2.0595 * 0.88242);
        let ci = o.ci95.unwrap();
        assert!((ci.0 - lo).abs() < 0.005 && (ci.1 - hi).abs() < 0.005, "{ci:?} against ({lo}, {hi})");
    }

    #[test]
    fn holm_matches_a_worked_example() {
        // p = 0.01, 0.04, 0.03, 0.005 (m = 4): sorted 0.005, 0.01, 0.03, 0.04 -> ×4, ×3, ×2, ×1 = 0.02, 0.03,
        // 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06 (by hand, as in Holm 1979's procedure).
        let adjusted = holm(&[Some(0.01), Some(0.04), None, Some(0.03), Some(0.005)]);
        let expected = [Some(0.03), Some(0.06), None, Some(0.06), Some(0.02)];
        for (got, want) in adjusted.iter().zip(expected) {
            assert_eq!(got.map(|p| (p * 1e9).round()), want.map(|p: f64| (p * 1e9).round()));
        }
        assert_eq!(holm(&[Some(0.6), Some(0.9)]), [Some(1.0), Some(1.0)], "never above 1");
    }

    #[test]
    fn paired_over_blocks_cancels_what_differs_between_machines() {
        // Three machines 20 apart; on each, a is 2 above b (±0.5): Welch over runs sees noise, the pairs do not.
        let blocked = |values: &[(f64, &str)]| {
            Estimate::over_blocks(values.iter().map(|(v, b)| (*v, Some(b.to_string()))).collect())
        };
        let a = blocked(&[(102.0, "1"), (122.5, "2"), (141.5, "3")]);
        let b = blocked(&[(100.0, "1"), (120.0, "2"), (140.0, "3")]);
        let (o, k) = paired(&a, &b).expect("three blocks");
        // Differences 2, 2.5, 1.5: mean 2, sd 0.5, se 0.5/√3 = 0.288675, t = 6.9282, df 2: p = 0.0202 (t table).
        assert_eq!(k, 3);
        assert!((o.diff - 2.0).abs() < 1e-12 && (o.p.unwrap() - 0.0202).abs() < 0.0005, "{o:?}");
        let half = 4.3027 * 0.288675;
        let ci = o.ci95.unwrap();
        assert!((ci.0 - (2.0 - half)).abs() < 1e-3 && (ci.1 - (2.0 + half)).abs() < 1e-3, "{ci:?}");
        assert!(test(&a.values, &b.values).unwrap().p.unwrap() > 0.5, "unpaired, machines drown it");
        assert!(paired(&a, &blocked(&[(1.0, "9"), (2.0, "8")])).is_none(), "no common blocks");
    }

    #[test]
    fn zero_variance_is_no_difference_or_stated_never_a_p_of_zero() {
        let same = test(&[36.0, 36.0], &[36.0, 36.0]).unwrap();
        assert_eq!((same.diff, same.p), (0.0, Some(1.0)));
        let apart = test(&[36.0, 36.0], &[30.0, 30.0]).unwrap();
        assert_eq!((apart.diff, apart.p, apart.ci95), (6.0, None, None));
        assert!(test(&[1.0], &[1.0, 2.0]).is_none());
    }
}
