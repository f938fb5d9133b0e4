//! Each run's own figures at each load level: the values the report's error bars, comparisons and baseline
//! checks are computed over (one per run, since rows of one run share one stack).

use std::collections::BTreeMap;

use serde::Serialize;

use super::rows::{LevelRow, RunRows};

/// A load level: the generator count of a closed run, or the offered rate of an open run (kept in thousandths of
/// a transfer per second so levels order and compare exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LevelKey {
    pub generators: u32,
    #[serde(skip)]
    rate_milli: Option<u64>,
}

impl LevelKey {
    pub fn of(row: &LevelRow) -> LevelKey {
        LevelKey { generators: row.generators, rate_milli: row.rate.map(|r| (r.max(0.0) * 1000.0).round() as u64) }
    }

    pub fn closed(generators: u32) -> LevelKey {
        LevelKey { generators, rate_milli: None }
    }

    /// The offered rate of an open run's level (transfers per second).
    pub fn rate(&self) -> Option<f64> {
        self.rate_milli.map(|m| m as f64 / 1000.0)
    }

    /// `10 generators`, or `500 tx/s`.
    pub fn label(&self) -> String {
        match self.rate() {
            Some(rate) => format!("{rate} tx/s"),
            None => format!("{} generators", self.generators),
        }
    }
}

/// One run at one level.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunLevel {
    /// Mean probe latency over the loops answered at this level; `None` when every loop timed out.
    pub probe_mean: Option<f64>,
    pub generator_mean: Option<f64>,
    pub answered: usize,
    pub timeouts: usize,
    pub generated: usize,
    /// Seconds the level's rows spanned (from their end times).
    pub seconds: f64,
    /// The run's block (its nightly job, or host).
    pub block: Option<String>,
    /// The run's own median and 99th percentile probe latency here, timeouts slower than any answer (`None` when
    /// the rank falls on a timeout).
    pub probe_p50: Option<f64>,
    pub probe_p99: Option<f64>,
}

/// The value at `percent` by rank (the k-th smallest, k = ⌈q·n⌉) of `sorted` answers and `timeouts` slower ones.
pub fn rank_quantile(sorted: &[f64], timeouts: usize, percent: f64) -> Option<f64> {
    let total = sorted.len() + timeouts;
    let rank = ((percent / 100.0 * total as f64).ceil() as usize).clamp(1, total.max(1));
    sorted.get(rank - 1).copied()
}

impl RunLevel {
    /// Probe answers plus generator answers per second of the level.
    pub fn tps(&self) -> Option<f64> {
        (self.seconds > 0.0).then(|| (self.answered + self.generated) as f64 / self.seconds)
    }
}

/// How long each row took: from the previous row's end to its own. A row without a time (a 2019 timeout) spans
/// nothing: the next timed row's span covers it; the first timed row spans one probe interval.
/// Rows read without times (none has one) each span one probe interval.
pub fn spans(run: &RunRows) -> Vec<f64> {
    if run.rows.iter().all(|r| r.t_ms.is_none()) {
        return vec![run.interval_s; run.rows.len()];
    }
    let mut previous: Option<i64> = None;
    run.rows
        .iter()
        .map(|row| match (row.t_ms, previous) {
            (Some(t), Some(p)) => {
                previous = Some(t);
                (t - p).max(0) as f64 / 1000.0
            }
            (Some(t), None) => {
                previous = Some(t);
                run.interval_s
            }
            (None, _) => 0.0,
        })
        .collect()
}

/// The run's figures at every level it reached. Open runs' draining rows (rate 0) are no load level.
pub fn levels(run: &RunRows) -> BTreeMap<LevelKey, RunLevel> {
    #[derive(Default)]
    struct Sums {
        probe: f64,
        generator: f64,
        answers: Vec<f64>,
        level: RunLevel,
    }
    let mut sums: BTreeMap<LevelKey, Sums> = BTreeMap::new();
    for (row, span) in run.rows.iter().zip(spans(run)) {
        if row.rate.is_some_and(|r| r <= 0.0) {
            continue;
        }
        let s = sums.entry(LevelKey::of(row)).or_default();
        s.level.seconds += span;
        match row.probe_ms {
            Some(ms) => {
                s.probe += ms;
                s.answers.push(ms);
                s.level.answered += 1;
            }
            None => s.level.timeouts += 1,
        }
        s.generator += row.generator_ms.iter().sum::<f64>();
        s.level.generated += row.generator_ms.len();
    }
    sums.into_iter()
        .map(|(key, mut s)| {
            s.answers.sort_by(f64::total_cmp);
            let mut level = s.level;
            level.probe_p50 = rank_quantile(&s.answers, level.timeouts, 50.0);
            level.probe_p99 = rank_quantile(&s.answers, level.timeouts, 99.0);
            level.block = run.block.clone();
            level.probe_mean = (level.answered > 0).then(|| s.probe / level.answered as f64);
            level.generator_mean = (level.generated > 0).then(|| s.generator / level.generated as f64);
            (key, level)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(generators: u32, t_ms: Option<i64>, probe_ms: Option<f64>, generator_ms: Vec<f64>) -> LevelRow {
        LevelRow { generators, t_ms, probe_ms, generator_ms, ..LevelRow::default() }
    }

    #[test]
    fn a_slow_loop_spans_the_time_it_took() {
        // Interval 1 s; the third loop took 4 s (a timeout): level 1 spans 1 + 4 s, level 2 spans 1 s.
        let run = RunRows {
            interval_s: 1.0,
            rows: vec![
                row(1, Some(10_000), Some(5.0), vec![1.0, 3.0]),
                row(1, Some(14_000), None, vec![]),
                row(2, Some(15_000), Some(7.0), vec![2.0]),
            ],
            ..RunRows::default()
        };
        let levels = levels(&run);
        let one = &levels[&LevelKey::closed(1)];
        assert_eq!((one.seconds, one.answered, one.timeouts, one.generated), (5.0, 1, 1, 2));
        assert_eq!((one.probe_mean, one.generator_mean), (Some(5.0), Some(2.0)));
        assert_eq!(one.tps(), Some(3.0 / 5.0));
        assert_eq!(levels[&LevelKey::closed(2)].tps(), Some(2.0));
    }

    #[test]
    fn a_runs_quantiles_count_its_timeouts() {
        let sorted: Vec<f64> = (1..=98).map(f64::from).collect();
        assert_eq!(rank_quantile(&sorted, 2, 99.0), None, "rank 99 of 100 is a timeout");
        assert_eq!(rank_quantile(&sorted, 2, 50.0), Some(50.0));
        assert_eq!(rank_quantile(&sorted, 0, 99.0), Some(98.0), "rank ⌈97.02⌉ = 98");
        assert_eq!(rank_quantile(&[], 0, 50.0), None);
    }

    #[test]
    fn untimed_2019_timeouts_are_covered_by_the_next_row() {
        let run = RunRows {
            interval_s: 1.0,
            rows: vec![
                row(0, Some(0), Some(1.0), vec![]),
                row(0, None, None, vec![]),
                row(0, Some(3000), Some(1.0), vec![]),
            ],
            ..RunRows::default()
        };
        assert_eq!(spans(&run), vec![1.0, 0.0, 3.0]);
    }

    #[test]
    fn open_levels_are_rates_and_draining_is_none() {
        let mut a = row(0, Some(1000), Some(3.0), vec![]);
        a.rate = Some(500.0);
        let mut drain = row(0, Some(2000), Some(3.0), vec![]);
        drain.rate = Some(0.0);
        let run = RunRows { interval_s: 1.0, rows: vec![a, drain], ..RunRows::default() };
        let levels = levels(&run);
        assert_eq!(
            levels.keys().map(|k| (k.rate(), k.label())).collect::<Vec<_>>(),
            [(Some(500.0), "500 tx/s".to_string())]
        );
    }
}
