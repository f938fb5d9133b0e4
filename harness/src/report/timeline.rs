//! Each run over time, for the page: probe latency and the load (generators, or the offered rate) against seconds
//! since the run's first loop, with its fault windows. Runs have thousands of loops, so each is cut into at most
//! [`BUCKETS`] equal spans of time (mean and worst probe latency, timeouts, the load at the span's end): the page
//! stays small whatever the runs' length.

use serde::Serialize;

use super::rows::RunRows;

pub const BUCKETS: usize = 150;

/// One run's spans, column by column (the page holds dozens of runs: keys and names once per run, not per span).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Series {
    pub run: String,
    pub variant: String,
    /// Seconds since the run's first loop, at each span's end.
    pub t_s: Vec<f64>,
    /// Mean and worst probe latency of the loops answered in the span; `None` when all timed out.
    pub probe_ms: Vec<Option<f64>>,
    pub probe_max_ms: Vec<Option<f64>>,
    pub timeouts: Vec<u32>,
    /// Generators (closed runs) or offered rate (open runs) at the span's end.
    pub load: Vec<f64>,
}

impl Series {
    pub fn len(&self) -> usize {
        self.t_s.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t_s.is_empty()
    }
}

/// A fault's window in one run (seconds since its first loop); `end_s` absent when it never ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub run: String,
    pub label: String,
    pub start_s: f64,
    pub end_s: Option<f64>,
}

#[derive(Default)]
struct Bucket {
    sum: f64,
    answered: u32,
    max: Option<f64>,
    timeouts: u32,
    t_s: f64,
    load: f64,
}

/// The run's spans; `None` for runs read without times (none of their rows has one).
pub fn series(run: &RunRows) -> Option<Series> {
    let times: Vec<(f64, &super::rows::LevelRow)> =
        run.rows.iter().filter_map(|r| r.t_ms.map(|t| (t as f64 / 1000.0, r))).collect();
    let (first, last) = (times.first()?.0, times.last()?.0);
    let width = ((last - first) / BUCKETS as f64).max(1e-3);
    let mut buckets: Vec<Bucket> = (0..BUCKETS).map(|_| Bucket::default()).collect();
    for (t, row) in &times {
        let b = &mut buckets[(((t - first) / width) as usize).min(BUCKETS - 1)];
        match row.probe_ms {
            Some(ms) => {
                b.sum += ms;
                b.answered += 1;
                b.max = Some(b.max.map_or(ms, |m: f64| m.max(ms)));
            }
            None => b.timeouts += 1,
        }
        b.t_s = t - first;
        b.load = row.rate.unwrap_or(f64::from(row.generators));
    }
    let mut series = Series { run: run.name(), variant: run.variant.clone(), ..Series::default() };
    for b in buckets.into_iter().filter(|b| b.answered + b.timeouts > 0) {
        series.t_s.push(b.t_s);
        series.probe_ms.push((b.answered > 0).then(|| b.sum / f64::from(b.answered)));
        series.probe_max_ms.push(b.max);
        series.timeouts.push(b.timeouts);
        series.load.push(b.load);
    }
    Some(series)
}

/// The run's fault windows, relative to its first timed loop.
pub fn windows(run: &RunRows) -> Vec<Window> {
    let Some(first) = run.rows.iter().find_map(|r| r.t_ms) else { return Vec::new() };
    run.fault_windows
        .iter()
        .map(|w| Window {
            run: run.name(),
            label: w.label.clone(),
            start_s: (w.start_ms - first) as f64 / 1000.0,
            end_s: w.end_ms.map(|e| (e - first) as f64 / 1000.0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::rows::LevelRow;

    #[test]
    fn a_long_run_is_cut_into_at_most_the_buckets() {
        let rows = (0..10_000)
            .map(|i| LevelRow {
                generators: i / 100,
                t_ms: Some(i64::from(i) * 500),
                probe_ms: (i % 7 != 0).then_some(10.0),
                ..LevelRow::default()
            })
            .collect();
        let run = RunRows { rows, ..RunRows::default() };
        let s = series(&run).expect("timed rows");
        assert_eq!(s.len(), BUCKETS);
        assert_eq!(s.timeouts.iter().sum::<u32>(), (0..10_000).filter(|i| i % 7 == 0).count() as u32);
        assert_eq!((s.t_s.last(), s.load.last()), (Some(&4999.5), Some(&99.0)));
        assert!(series(&RunRows::default()).is_none());
    }
}
