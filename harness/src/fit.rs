//! Where the latency of a run's steps crosses the SLO, from every step rather than the last one: the closest
//! non-decreasing curve of log p99 against the rate (isotonic regression: latency does not fall as load rises, so
//! a step that disagrees with its neighbours is pooled with them) and where it crosses the SLO, with a 95 %
//! interval from resampling the steps (percentile bootstrap). One cold or noisy step is averaged with its
//! neighbours; it cannot cap the answer.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One measured step, as the fit reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub rate: f64,
    /// p99 in ms, timeouts slower than any answer; `None` when it fell on timeouts.
    pub p99_ms: Option<f64>,
    /// Whether the step met every rule (a step failed by errors or too few answers counts as slow as a timeout).
    pub passed: bool,
}

/// A capacity and its 95 % interval, in tx/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    pub capacity: f64,
    pub low: f64,
    pub high: f64,
    /// Steps the line was fitted to.
    pub steps: usize,
}

impl Crossing {
    /// Half the interval's width, relative to the capacity.
    pub fn relative_half_width(&self) -> f64 {
        (self.high - self.low) / 2.0 / self.capacity
    }
}

const RESAMPLES: usize = 400;

/// log p99 of a point; a step that failed other than by latency counts as the timeout.
fn level(p: &Point, timeout_ms: f64, slo_ms: f64) -> f64 {
    match p.p99_ms {
        Some(ms) if p.passed || ms > slo_ms => ms.max(1e-3).ln(),
        _ => timeout_ms.ln(),
    }
}

/// The crossing of `slo_ms` with its interval (percentiles of the crossing over resamples of the steps);
/// `None` while the steps do not bracket it (all faster or all slower).
pub fn crossing(points: &[Point], slo_ms: f64, timeout_ms: f64, seed: u64) -> Option<Crossing> {
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.rate, level(p, timeout_ms, slo_ms))).collect();
    let target = slo_ms.ln();
    let capacity = monotone_crossing(&xy, target)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut resampled: Vec<f64> = (0..RESAMPLES)
        .filter_map(|_| {
            let sample: Vec<(f64, f64)> = (0..xy.len()).map(|_| xy[rng.gen_range(0..xy.len())]).collect();
            monotone_crossing(&sample, target)
        })
        .collect();
    if resampled.len() < RESAMPLES / 2 {
        return None;
    }
    resampled.sort_by(f64::total_cmp);
    let at = |q: f64| resampled[((q * resampled.len() as f64) as usize).min(resampled.len() - 1)];
    Some(Crossing { capacity, low: at(0.025).min(capacity), high: at(0.975).max(capacity), steps: xy.len() })
}

/// The fitted curve itself, for drawing: the p99 (ms) the closest non-decreasing curve gives each of `points`,
/// in their order (a step that fell on timeouts or failed otherwise counts at `timeout_ms`).
pub fn curve(points: &[Point], slo_ms: f64, timeout_ms: f64) -> Vec<f64> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|a, b| points[*a].rate.total_cmp(&points[*b].rate));
    let levels: Vec<f64> = order.iter().map(|i| level(&points[*i], timeout_ms, slo_ms)).collect();
    let mut fitted = vec![f64::NAN; points.len()];
    for (i, y) in order.into_iter().zip(isotonic(&levels)) {
        fitted[i] = y.exp();
    }
    fitted
}

/// Where the closest non-decreasing curve through the steps' log p99 (pooled where neighbours disagree, so noise
/// in one step is averaged with the steps beside it) first rises above the target, interpolated between the two
/// rates around it; `None` when it never does or starts above it.
fn monotone_crossing(xy: &[(f64, f64)], target: f64) -> Option<f64> {
    let mut sorted = xy.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let smooth = isotonic(&sorted.iter().map(|p| p.1).collect::<Vec<_>>());
    let above = smooth.iter().position(|y| *y > target)?;
    if above == 0 {
        return None;
    }
    let ((x0, y0), (x1, y1)) = ((sorted[above - 1].0, smooth[above - 1]), (sorted[above].0, smooth[above]));
    Some(if y1 > y0 { x0 + (x1 - x0) * (target - y0) / (y1 - y0) } else { (x0 + x1) / 2.0 })
}

/// Pool-adjacent-violators with medians: the closest non-decreasing sequence in absolute deviation (isotonic
/// median regression). Medians, not means, so one wild step pooled with its neighbours takes their level instead
/// of lifting the whole block.
fn isotonic(y: &[f64]) -> Vec<f64> {
    let mut blocks: Vec<Vec<f64>> = Vec::new();
    for &v in y {
        blocks.push(vec![v]);
        while blocks.len() >= 2 && median(&blocks[blocks.len() - 2]) > median(&blocks[blocks.len() - 1]) {
            let last = blocks.pop().unwrap_or_default();
            if let Some(before) = blocks.last_mut() {
                before.extend(last);
            }
        }
    }
    blocks.into_iter().flat_map(|b| std::iter::repeat_n(median(&b), b.len())).collect()
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rate: f64, p99_ms: f64) -> Point {
        Point { rate, p99_ms: Some(p99_ms), passed: p99_ms <= 500.0 }
    }

    /// ln p99 = 0.01 × rate − 1.5 + ln 500: it crosses ln 500 at 150 tx/s.
    fn on_a_line() -> Vec<Point> {
        (100..=200).step_by(10).map(|r| point(f64::from(r), 500.0 * (0.01 * f64::from(r) - 1.5).exp())).collect()
    }

    #[test]
    fn on_a_rising_curve_the_crossing_is_where_it_meets_the_slo() {
        let c = crossing(&on_a_line(), 500.0, 5000.0, 1).expect("a crossing");
        assert!((c.capacity - 150.0).abs() < 1e-6, "{c:?}");
        assert!(c.low <= 150.0 && c.high >= 150.0, "{c:?}");
    }

    #[test]
    fn one_wild_step_below_the_crossing_is_pooled_not_believed() {
        // A stall makes the step at 110 tx/s slow (4 s): ln 8 = 2.08 above ln 500 where the line is 0.4 below.
        // Pooled by hand: {2.08, −0.3} breaks the order, {2.08, −0.3, −0.2} has the median −0.2, above −0.5 at
        // 100; from there the line is in order and meets ln 500 at 150, as without the stall.
        let mut points = on_a_line();
        points[1] = point(110.0, 4000.0);
        let c = crossing(&points, 500.0, 5000.0, 1).expect("a crossing");
        assert!((c.capacity - 150.0).abs() < 1e-6, "{c:?}");
    }

    #[test]
    fn the_drawn_curve_is_the_pooled_one_at_each_step() {
        // 300 ms at 100, a stall's 900 ms at 110, 400 ms at 120: 110 and 120 are pooled and take the median of
        // their logs, the log of √(900 × 400) = 600 ms.
        let points = [point(120.0, 400.0), point(100.0, 300.0), point(110.0, 900.0)];
        let drawn = curve(&points, 500.0, 5000.0);
        for (ms, want) in drawn.iter().zip([600.0, 300.0, 600.0]) {
            assert!((ms - want).abs() < 1e-6, "{drawn:?}");
        }
    }

    #[test]
    fn without_a_bracket_there_is_no_crossing() {
        let fast: Vec<Point> = [100.0, 200.0, 400.0].iter().map(|r| point(*r, 20.0)).collect();
        assert_eq!(crossing(&fast, 500.0, 5000.0, 1), None);
        let slow: Vec<Point> = [100.0, 200.0].iter().map(|r| point(*r, 900.0)).collect();
        assert_eq!(crossing(&slow, 500.0, 5000.0, 1), None);
    }

    #[test]
    fn pooling_makes_a_sequence_monotone_with_medians() {
        assert_eq!(isotonic(&[1.0, 3.0, 2.0, 4.0]), [1.0, 2.5, 2.5, 4.0]);
        assert_eq!(isotonic(&[3.0, 2.0, 1.0]), [2.0, 2.0, 2.0]);
        assert_eq!(isotonic(&[1.0, 9.0, 2.0, 3.0]), [1.0, 3.0, 3.0, 3.0]);
    }
}
