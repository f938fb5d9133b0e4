//! Memory over a run, for soaks: per part (each container, and bench itself), how fast its memory grew, as the
//! least-squares slope of the sampled memory against time in MiB per 10 minutes. The first third of each run is
//! left out: heaps, caches and connection pools fill there, and that growth is not a leak. Runs are the samples:
//! each run gives one slope per part, and the estimate over runs is its mean, SE, n = runs and 95 % CI. Within one
//! run the samples are not independent (memory now is memory a second ago), so a run's own spread is shown as the
//! slopes of the two halves of its window rather than a regression SE that would pretend they were.

use std::collections::BTreeMap;

use serde::Serialize;

use super::estimate::Estimate;
use super::rows::RunRows;

/// Fewer samples than this in a run's window give no slope.
pub const MIN_SAMPLES: usize = 6;

const TEN_MINUTES_MS: f64 = 600_000.0;

/// A sampled row's parts: name -> (cpu %, MiB).
type Resources = BTreeMap<String, (f64, f64)>;

/// One part of one variant: its growth over runs, and each run's own figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    pub variant: String,
    /// A container's name, or `bench`.
    pub part: String,
    /// MiB per 10 minutes, one value per run.
    pub slope_mib_per_10min: Estimate,
    pub runs: Vec<RunTrend>,
}

/// One run's memory of one part over the window after its first third.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunTrend {
    pub run: String,
    pub slope_mib_per_10min: f64,
    /// The slopes of the window's first and second halves: how steady the growth was within the run.
    pub halves: (Option<f64>, Option<f64>),
    pub first_mib: f64,
    pub last_mib: f64,
    pub minutes: f64,
    pub samples: usize,
}

/// Least-squares slope of `points` (x, y); `None` for fewer than two distinct x.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let (mx, my) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (sxy, sxx) =
        points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + (x - mx) * (y - my), b + (x - mx) * (x - mx)));
    (points.len() >= 2 && sxx > 0.0).then(|| sxy / sxx)
}

/// Each part's (unix ms, MiB) samples in the run's window: after the first third of its sampled time.
fn windows(run: &RunRows) -> BTreeMap<String, Vec<(f64, f64)>> {
    let sampled: Vec<(i64, &Resources)> =
        run.rows.iter().filter_map(|r| Some((r.t_ms?, r.resources.as_ref()?))).collect();
    let (Some(first), Some(last)) = (sampled.first(), sampled.last()) else { return BTreeMap::new() };
    let from = first.0 + (last.0 - first.0) / 3;
    let mut parts: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (t, resources) in sampled.iter().filter(|(t, _)| *t >= from) {
        for (part, (_, mib)) in *resources {
            parts.entry(part.clone()).or_default().push((*t as f64, *mib));
        }
    }
    parts
}

fn run_trend(run: &RunRows, points: &[(f64, f64)]) -> Option<RunTrend> {
    if points.len() < MIN_SAMPLES {
        return None;
    }
    let per_10min = |s: f64| s * TEN_MINUTES_MS;
    let (a, b) = points.split_at(points.len() / 2);
    Some(RunTrend {
        run: run.name(),
        slope_mib_per_10min: per_10min(slope(points)?),
        halves: (slope(a).map(per_10min), slope(b).map(per_10min)),
        first_mib: points[0].1,
        last_mib: points[points.len() - 1].1,
        minutes: (points[points.len() - 1].0 - points[0].0) / 60_000.0,
        samples: points.len(),
    })
}

/// The memory trends of a variant's counted runs, one per part that any run sampled often enough.
pub fn trends(variant: &str, runs: &[&RunRows]) -> Vec<Trend> {
    let mut per_part: BTreeMap<String, Vec<RunTrend>> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.counts()) {
        for (part, points) in windows(run) {
            if let Some(t) = run_trend(run, &points) {
                per_part.entry(part).or_default().push(t);
            }
        }
    }
    per_part
        .into_iter()
        .map(|(part, runs)| Trend {
            variant: variant.to_string(),
            slope_mib_per_10min: Estimate::over(runs.iter().map(|r| r.slope_mib_per_10min).collect()),
            part,
            runs,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::rows::LevelRow;

    fn run(samples: &[(i64, f64)]) -> RunRows {
        let rows = samples
            .iter()
            .map(|(t, mib)| LevelRow {
                t_ms: Some(*t),
                resources: Some([("kafka-1".to_string(), (1.0, *mib))].into()),
                ..LevelRow::default()
            })
            .collect();
        RunRows { variant: "v".into(), rows, complete: true, ..RunRows::default() }
    }

    #[test]
    fn the_slope_leaves_out_the_first_third_and_is_per_ten_minutes() {
        // 30 minutes sampled each minute: memory climbs 100 MiB a minute for the first 10 minutes (warming up),
        // then 0.5 MiB a minute: 5 MiB per 10 minutes after the first third.
        let samples: Vec<(i64, f64)> = (0..=30)
            .map(|m| (m * 60_000, if m <= 10 { 100.0 * m as f64 } else { 1000.0 + 0.5 * (m - 10) as f64 }))
            .collect();
        let r = run(&samples);
        let t = trends("v", &[&r]);
        assert_eq!(t.len(), 1);
        let got = &t[0].runs[0];
        assert!((got.slope_mib_per_10min - 5.0).abs() < 1e-9, "{got:?}");
        assert_eq!((got.samples, got.first_mib, got.last_mib, got.minutes), (21, 1000.0, 1010.0, 20.0));
        let (a, b) = got.halves;
        assert!((a.unwrap() - 5.0).abs() < 1e-9 && (b.unwrap() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn runs_are_the_samples() {
        // Two runs growing 2 and 4 MiB per 10 minutes: mean 3, SE = |4 − 2| / 2 = 1.
        let a = run(&(0..=30).map(|m| (m * 60_000, 500.0 + 0.2 * m as f64)).collect::<Vec<_>>());
        let b = run(&(0..=30).map(|m| (m * 60_000, 500.0 + 0.4 * m as f64)).collect::<Vec<_>>());
        let t = trends("v", &[&a, &b]);
        let e = &t[0].slope_mib_per_10min;
        assert_eq!(e.n, 2);
        assert!((e.mean.unwrap() - 3.0).abs() < 1e-9 && (e.se.unwrap() - 1.0).abs() < 1e-9, "{e:?}");
    }

    #[test]
    fn too_few_samples_give_no_slope() {
        let r = run(&(0..6).map(|m| (m * 60_000, 1.0)).collect::<Vec<_>>());
        assert!(trends("v", &[&r]).is_empty());
    }
}
