//! Latency quantiles that count timeouts: a timeout is slower than any answer, so a quantile whose rank falls
//! among the timeouts is not a number but "above the timeout". Answers are held in an hdrhistogram (3 significant
//! figures, microseconds), and a quantile never exceeds the largest answer (the histogram's bucket top can).

use hdrhistogram::Histogram;
use serde::Serialize;

/// The quantiles the distribution view draws (percent).
pub const DISTRIBUTION: [f64; 7] = [50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99];

/// One quantile: `ms` is `None` when it falls on timeouts (then it is above `timeout_ms`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantile {
    pub percent: f64,
    pub ms: Option<f64>,
}

/// Answers and timeouts of one pool.
pub struct Tail {
    answers: Option<Histogram<u64>>,
    min: f64,
    max: f64,
    timeouts: u64,
}

impl Tail {
    /// `values`: answered latencies (ms); `timeouts`: how many got no answer.
    pub fn of(values: &[f64], timeouts: u64) -> Tail {
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let highest = ((max.max(0.0) * 1000.0).round() as u64).max(2);
        let answers = Histogram::<u64>::new_with_bounds(1, highest, 3).ok().map(|mut h| {
            for v in values {
                h.saturating_record((v * 1000.0).round().max(1.0) as u64);
            }
            h
        });
        Tail { answers: answers.filter(|h| !h.is_empty()), min, max, timeouts }
    }

    fn answered(&self) -> u64 {
        self.answers.as_ref().map_or(0, |h| h.len())
    }

    /// The value at `percent` over answers and timeouts together, by rank (the k-th smallest, k = ⌈q·n⌉);
    /// `None` when that rank is a timeout or nothing was measured.
    pub fn at(&self, percent: f64) -> Option<f64> {
        let answered = self.answered();
        let total = answered + self.timeouts;
        let rank = ((percent / 100.0 * total as f64).ceil() as u64).clamp(1, total.max(1));
        if rank > answered {
            return None;
        }
        let h = self.answers.as_ref()?;
        // The quantile within the answers alone that has the same rank.
        let within = h.value_at_quantile(rank as f64 / answered as f64) as f64 / 1000.0;
        Some(within.clamp(self.min, self.max))
    }

    /// Whether `percent` falls on timeouts (there were answers or timeouts, and the rank is a timeout).
    pub fn above_timeout(&self, percent: f64) -> bool {
        self.timeouts > 0 && self.at(percent).is_none()
    }

    pub fn distribution(&self) -> Vec<Quantile> {
        DISTRIBUTION.iter().map(|&percent| Quantile { percent, ms: self.at(percent) }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_slower_than_any_answer() {
        // 98 answers of 1..=98 ms and 2 timeouts: the 99th of 100 is a timeout, the 98th is 98 ms.
        let values: Vec<f64> = (1..=98).map(f64::from).collect();
        let tail = Tail::of(&values, 2);
        assert_eq!(tail.at(99.0), None);
        assert!(tail.above_timeout(99.0));
        assert!((tail.at(98.0).unwrap() - 98.0).abs() < 0.1);
        // Without the timeouts the 99th of 98 answers is the 98th value (rank ⌈0.99 × 98⌉ = 98).
        assert!((Tail::of(&values, 0).at(99.0).unwrap() - 98.0).abs() < 0.1);
        assert!((tail.at(50.0).unwrap() - 50.0).abs() < 0.1, "rank 50 of 100");
    }

    #[test]
    fn a_quantile_never_exceeds_the_largest_answer() {
        // 1234.567 ms sits in a bucket whose top is above it.
        let tail = Tail::of(&[1.0, 1234.567], 0);
        assert!(tail.at(100.0).unwrap() <= 1234.567);
        assert!(tail.at(99.0).unwrap() <= 1234.567);
    }

    #[test]
    fn nothing_measured_has_no_quantile() {
        assert_eq!(Tail::of(&[], 0).at(50.0), None);
        assert!(!Tail::of(&[], 0).above_timeout(50.0));
        assert!(Tail::of(&[], 3).above_timeout(50.0));
    }
}
