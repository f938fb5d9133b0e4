//! Made-up nights for `bench history`'s tests and benchmark: noisy series with a planted step, and summary files.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};

use crate::summary::{Figure, Summary};

/// A standard normal draw (Box–Muller): rand 0.8 alone has no normal distribution.
pub fn normal(rng: &mut impl Rng) -> f64 {
    // 1 − u is in (0, 1], so the logarithm is finite.
    let (u, v): (f64, f64) = (1.0 - rng.gen::<f64>(), rng.gen());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `nights` values around 100 with coefficient of variation `cv` (0.03 is 3 %), and from night `step.0` on a mean
/// `step.1` percent higher (negative: lower).
pub fn noisy(nights: usize, cv: f64, step: Option<(usize, f64)>, seed: u64) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..nights)
        .map(|i| {
            let mean = match step {
                Some((at, pct)) if i >= at => 100.0 * (1.0 + pct / 100.0),
                _ => 100.0,
            };
            mean * (1.0 + cv * normal(&mut rng))
        })
        .collect()
}

/// The date of night `i`: one a day from 2026-01-01, 22:00 UTC.
pub fn date(i: usize) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T22:00:00Z").unwrap_or_default();
    (start + chrono::Duration::days(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Writes one summary per night under `dir` (`<experiment>-<night>.json`), commit `c<night>`: each variant and
/// metric gets `values(variant, metric)` (one value per night), SE 1 % of the value, n = 3.
pub fn write_summaries(
    dir: &Path,
    experiment: &str,
    variants: &[&str],
    metrics: &[&str],
    nights: usize,
    values: impl Fn(&str, &str) -> Vec<f64>,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let series: Vec<(&str, &str, Vec<f64>)> =
        variants.iter().flat_map(|v| metrics.iter().map(|m| (*v, *m, values(v, m)))).collect();
    (0..nights)
        .map(|i| {
            let mut summary = Summary {
                experiment: experiment.into(),
                commit: format!("c{i:04}"),
                date: date(i),
                variants: Default::default(),
            };
            for (variant, metric, values) in &series {
                let figure = Figure { mean: values[i], se: Some(values[i].abs() * 0.01), n: 3 };
                summary.variants.entry(variant.to_string()).or_default().insert(metric.to_string(), figure);
            }
            let path = dir.join(format!("{experiment}-{i:04}.json"));
            std::fs::write(&path, serde_json::to_vec(&summary)?)?;
            Ok(path)
        })
        .collect()
}
