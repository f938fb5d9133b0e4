//! When a warm-up's latencies have settled: MSER-5 (White 1997; Franklin & White 2008). The per-second mean
//! latencies are averaged in batches of 5; for every truncation `d` (in batches) the marginal standard error of
//! the rest, MSER(d) = Σ_{i ≥ d} (Y_i − Ȳ_d)² / (n − d)², is worked out, and the `d` that minimizes it is where
//! the transient ends. The series has settled when that `d` lies strictly in its first half: more steady data
//! follow the transient than the transient itself took. A series still falling (a cold JIT) or still rising (a system
//! falling behind) keeps its best truncation late and has not settled. A timeout counts as the timeout, so a
//! system pinned at it looks flat: what is kept must also average below half the timeout, or it is a system that
//! cannot answer the rate, not a steady one.

/// Seconds averaged into one batch.
pub const BATCH: usize = 5;
/// The fewest batches judged (the warm-up lasts at least this many times [`BATCH`] seconds): with fewer, a
/// transient as long as what follows it can still look like noise around one mean.
pub const MIN_BATCHES: usize = 6;
/// Batches always kept after a truncation: MSER over the last one or two batches is small by chance, not
/// because they are steady.
const MIN_TAIL: usize = 2;

/// What a warm-up's latencies are judged against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// What a transfer without an answer counts as (ms): what is kept must average below half of it.
    pub timeout_ms: f64,
    /// A drift that no longer matters (ms): a real stack keeps getting a little faster for minutes (its JIT), and
    /// one whose later half moves less than this is judged the same by steps held against the SLO.
    pub band_ms: f64,
}

/// Seconds to drop from the front of `series` (per-second mean latencies, ms, a timeout counted as the timeout)
/// before it is steady, or `None` while it has not settled: too short; its best truncation in its second half
/// while its later half still moves by more than the band; or what follows the truncation near the timeout.
pub fn settled_after(series: &[f64], limits: Limits) -> Option<usize> {
    let batches: Vec<f64> = series.chunks_exact(BATCH).map(|c| c.iter().sum::<f64>() / BATCH as f64).collect();
    let n = batches.len();
    if n < MIN_BATCHES {
        return None;
    }
    let best = (0..=n - MIN_TAIL).min_by(|&a, &b| mser(&batches[a..]).total_cmp(&mser(&batches[b..])))?;
    let cut = if 2 * best < n { best } else { within_band(&batches, limits.band_ms)? };
    batches[cut..].iter().all(|b| *b < limits.timeout_ms / 2.0).then_some(cut * BATCH)
}

/// The first half's batches, when the later half's batch means lie less than `band_ms` apart (never, for a band of 0).
fn within_band(batches: &[f64], band_ms: f64) -> Option<usize> {
    let half = batches.len() / 2;
    let later = &batches[half..];
    let (low, high) = later.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), b| (l.min(*b), h.max(*b)));
    (high - low < band_ms).then_some(half)
}

/// The marginal standard error statistic of what is left after a truncation.
fn mser(rest: &[f64]) -> f64 {
    let k = rest.len() as f64;
    let mean = rest.iter().sum::<f64>() / k;
    rest.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / (k * k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The timeout of these series (5 s), and no band: MSER alone.
    const T: Limits = Limits { timeout_ms: 5000.0, band_ms: 0.0 };

    #[test]
    fn a_flat_series_settles_at_once_and_a_step_down_after_its_transient() {
        assert_eq!(settled_after(&[20.0; 30], T), Some(0));
        // 15 s at 200 ms, then 45 s at 20 ms: the best truncation drops exactly the slow batches.
        let mut series = vec![200.0; 15];
        series.extend([20.0; 45]);
        assert_eq!(settled_after(&series, T), Some(15));
        // The same transient with only 15 steady seconds after it has not settled yet.
        assert_eq!(settled_after(&series[..30], T), None);
    }

    #[test]
    fn a_series_that_keeps_falling_or_rising_never_settles() {
        let falling: Vec<f64> = (0..120).map(|t| 500.0 - 4.0 * f64::from(t)).collect();
        let rising: Vec<f64> = (0..120).map(|t| 20.0 + 3.0 * f64::from(t)).collect();
        assert_eq!(settled_after(&falling, T), None);
        assert_eq!(settled_after(&rising, T), None);
    }

    #[test]
    fn a_slow_drift_within_the_band_is_settled_and_beyond_it_is_not() {
        // 60 s getting faster by 0.1 ms a second: MSER keeps its best truncation late, but the later half moves
        // by 2.5 ms (its six batch means run from 16.8 ms down to 14.3).
        let drift: Vec<f64> = (0..60).map(|t| 20.0 - 0.1 * f64::from(t)).collect();
        assert_eq!(settled_after(&drift, T), None);
        assert_eq!(settled_after(&drift, Limits { band_ms: 5.0, ..T }), Some(30));
        assert_eq!(settled_after(&drift, Limits { band_ms: 2.0, ..T }), None);
    }

    #[test]
    fn a_system_pinned_at_the_timeout_is_flat_but_not_settled() {
        let mut series = vec![1000.0; 5];
        series.extend([T.timeout_ms; 55]);
        assert_eq!(settled_after(&series, T), None);
    }

    #[test]
    fn too_short_a_series_is_not_judged() {
        assert_eq!(settled_after(&[20.0; MIN_BATCHES * BATCH - 1], T), None);
        // Seconds beyond the last whole batch are left for the next judgement.
        assert_eq!(settled_after(&[20.0; MIN_BATCHES * BATCH + 4], T), Some(0));
    }
}

#[cfg(test)]
mod on_the_double {
    use super::*;
    use crate::testing::queue::{Queue, Shape};

    /// When bench's warm-up would call the double settled at `rate`, judging every [`BATCH`] s from the
    /// shortest judged series: (seconds run, seconds dropped).
    fn settles(shape: &Shape, seed: u64, rate: f64, max_s: usize) -> Option<(usize, usize)> {
        let series = Queue::new(shape.clone(), seed, 200_000).seconds(rate, max_s);
        let limits = Limits { timeout_ms: shape.timeout_s * 1000.0, band_ms: 50.0 };
        (MIN_BATCHES * BATCH..=max_s).step_by(BATCH).find_map(|s| settled_after(&series[..s], limits).map(|d| (s, d)))
    }

    #[test]
    fn a_warm_double_settles_soon() {
        let warm = Shape { cold_factor: 1.0, ..Shape::hard(1000.0) };
        let at: Vec<usize> =
            (0..200).map(|seed| settles(&warm, seed, 100.0, 240).map_or(usize::MAX, |(s, _)| s)).collect();
        // Noise (and a stall a minute) sometimes puts the best truncation late: the next judgements, 5 s apart,
        // settle those.
        let mut sorted = at.clone();
        sorted.sort_unstable();
        assert!(sorted[100] <= 35 && sorted[199] <= 90, "{at:?}");
    }

    #[test]
    fn a_cold_double_settles_only_once_its_backlog_is_gone_and_drops_it() {
        let hard = Shape::hard(1000.0);
        for (seed, rate) in (0..20).flat_map(|seed| [(seed, 100.0), (seed, 300.0)]) {
            let series = Queue::new(hard.clone(), seed, 200_000).seconds(rate, 240);
            let (at, dropped) = settles(&hard, seed, rate, 240).unwrap_or_else(|| panic!("seed {seed} at {rate}"));
            // The backlog of the cold start: the last second answered in a second or more on average.
            let backlog_ends = series.iter().rposition(|ms| *ms >= 1000.0).map_or(0, |i| i + 1);
            assert!(dropped >= backlog_ends && at >= 2 * backlog_ends, "seed {seed} at {rate}: {at} {dropped}");
        }
    }

    #[test]
    fn a_double_offered_more_than_it_can_answer_never_settles() {
        let warm = Shape { cold_factor: 1.0, ..Shape::hard(1000.0) };
        for seed in 0..20 {
            assert_eq!(settles(&warm, seed, 1100.0, 240), None, "seed {seed}");
        }
    }
}

#[cfg(test)]
mod bounds {
    #[test]
    fn the_experiment_file_checks_the_same_shortest_judged_warm_up() {
        let judged = (super::MIN_BATCHES * super::BATCH) as f64;
        assert_eq!(judged, bench_results::experiment::search::WARMUP_JUDGED_S);
    }
}
