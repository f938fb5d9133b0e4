//! `[search]`: how an open-model run looks for the highest rate that meets its SLO.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::records::Step;

/// The shortest warm-up the steady-state rule judges, s: six batches of 5 seconds.
pub const WARMUP_JUDGED_S: f64 = 30.0;

/// Rates grow by `growth` from `start_rate` until a step fails, then bisect between the highest pass and the lowest
/// fail until they are within `precision`; the highest pass is confirmed by a second step at that rate.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Search {
    /// How the rates are chosen and the capacity found: `bisection` (the default; the capacity is the highest rate
    /// that passed twice) or `knee` (every step near the knee counts: the capacity is where their latency crosses
    /// the SLO, with a 95 % interval; `precision` is then the interval's half-width relative to the capacity).
    pub method: Method,
    /// The first rate offered, in transfers per second.
    pub start_rate: f64,
    /// No rate above this is offered; passing it ends the run by `max_rate` (the capacity is then a lower bound).
    pub max_rate: f64,
    /// Factor between rates while no step has failed.
    pub growth: f64,
    /// Bisection stops when (lowest fail − highest pass) / highest pass is at most this.
    pub precision: f64,
    /// Seconds each step offers its rate before its dwell is measured.
    pub warmup_s: f64,
    /// The rate of the first warm-up, tx/s (`start_rate` when absent): a fixed-rate run above what the system
    /// answers (`start_rate = max_rate`, one step) warms up at a rate it does answer, or it never settles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_rate: Option<f64>,
    /// The first warm-up goes on at `start_rate` (while the brokers' JIT compiles under load) until its per-second
    /// latencies have settled (MSER-5, judged every 5 s from [`WARMUP_JUDGED_S`] s), at most this long in all; a
    /// warm-up that never settles ends the run `unsettled`.
    pub warmup_max_s: f64,
    /// Seconds of each step that are judged.
    pub dwell_s: f64,
    /// A step passes only when the p99 latency of the transfers offered in its dwell, timeouts counted as slower
    /// than any answer, is at most this.
    pub slo_p99_ms: f64,
    /// A step passes only when at most this share of its transfers got a wrong answer or none.
    pub max_error_rate: f64,
    /// A step passes only when transfers were answered at least at this share of the rate offered.
    pub min_achieved: f64,
    /// A transfer without an answer after this long is a timeout.
    pub timeout_ms: u64,
    /// After a failed step, at most this long for the system to drain before the next step starts.
    pub drain_timeout_s: f64,
    /// A search ends by `error` after this many steps without converging.
    pub max_steps: u32,
}

/// How a search chooses its rates and finds the capacity.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    #[default]
    Bisection,
    Knee,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            method: Method::Bisection,
            start_rate: 100.0,
            max_rate: 20_000.0,
            growth: 2.0,
            precision: 0.05,
            warmup_s: 5.0,
            warmup_rate: None,
            warmup_max_s: 120.0,
            dwell_s: 15.0,
            slo_p99_ms: 500.0,
            max_error_rate: 0.001,
            min_achieved: 0.95,
            timeout_ms: 5000,
            drain_timeout_s: 30.0,
            max_steps: 20,
        }
    }
}

impl Search {
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_s)
    }

    /// The rate of the first warm-up.
    pub fn warmup_rate(&self) -> f64 {
        self.warmup_rate.unwrap_or(self.start_rate)
    }

    pub fn warmup_max(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_max_s)
    }

    pub fn dwell(&self) -> Duration {
        Duration::from_secs_f64(self.dwell_s)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.drain_timeout_s)
    }

    /// One step at one rate (a soak, an overload): held for its whole dwell whatever it shows, where a search
    /// stops a step that has failed already.
    pub fn is_fixed_rate(&self) -> bool {
        self.max_steps == 1
    }

    pub fn slo(&self) -> Duration {
        Duration::from_secs_f64(self.slo_p99_ms / 1000.0)
    }

    /// Whether a step met a p99 SLO of `slo_p99_ms` and this search's other rules: some transfers were sent,
    /// at most `max_error_rate` of them went wrong or unanswered by error, and answers came at `min_achieved` of
    /// the rate. The search judges its steps by its own SLO; a report may ask the same of other SLOs.
    pub fn passes(&self, step: &Step, slo_p99_ms: f64) -> bool {
        step.sent > 0
            && step.p99_ms.is_some_and(|p| p <= slo_p99_ms)
            && step.errors as f64 <= self.max_error_rate * step.sent as f64
            && step.achieved >= self.min_achieved * step.rate
    }

    /// The most steps a search can take: growing from the start to the maximum, bisecting a growth factor down to
    /// the precision, a confirmation, and every confirmation that fails reopening one bisection step; capped at
    /// `max_steps`.
    pub fn steps_bound(&self) -> u32 {
        // The knee search adds steps while its interval is wider than asked: its budget is its bound.
        if self.method == Method::Knee {
            return self.max_steps;
        }
        // Saturating: a growth just above 1 between far-apart rates counts more steps than a u32 holds (the cast
        // saturates, then `+ 1` overflowed), and any such count is capped at `max_steps` anyway.
        let grow =
            (((self.max_rate / self.start_rate).ln() / self.growth.ln()).ceil().max(0.0) as u32).saturating_add(1);
        let bisect = ((self.growth - 1.0) / self.precision).log2().ceil().max(0.0) as u32;
        grow.saturating_add(bisect.saturating_add(1).saturating_mul(2)).min(self.max_steps)
    }

    /// Checks every value; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("search.start_rate", self.start_rate),
            ("search.max_rate", self.max_rate),
            ("search.dwell_s", self.dwell_s),
            ("search.slo_p99_ms", self.slo_p99_ms),
        ];
        if let Some((key, value)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(format!("{key} = {value} must be a positive number"));
        }
        let checks = [
            (self.start_rate <= self.max_rate, "search.start_rate must not be above search.max_rate"),
            (
                self.warmup_rate.is_none_or(|r| r.is_finite() && r > 0.0 && r <= self.max_rate),
                "search.warmup_rate must be above 0 and at most search.max_rate",
            ),
            (self.growth.is_finite() && self.growth > 1.0 && self.growth <= 10.0, "search.growth must be above 1 and at most 10"),
            (self.precision > 0.0 && self.precision < 1.0, "search.precision must be between 0 and 1 (exclusive), e.g. 0.05"),
            (self.warmup_s.is_finite() && self.warmup_s >= 0.0 && self.warmup_s <= 600.0, "search.warmup_s must be 0 to 600"),
            (
                self.warmup_max_s.is_finite() && self.warmup_max_s >= WARMUP_JUDGED_S && self.warmup_max_s <= 1200.0,
                "search.warmup_max_s must be 30 to 1200 (the warm-up's steady-state rule judges 30 s at least)",
            ),
            (self.dwell_s <= 3600.0, "search.dwell_s must be at most 3600"),
            ((0.0..1.0).contains(&self.max_error_rate), "search.max_error_rate must be at least 0 and below 1"),
            (self.min_achieved > 0.0 && self.min_achieved <= 1.0, "search.min_achieved must be above 0 and at most 1"),
            ((1..=600_000).contains(&self.timeout_ms), "search.timeout_ms must be 1 to 600000"),
            (self.drain_timeout_s.is_finite() && (0.0..=600.0).contains(&self.drain_timeout_s), "search.drain_timeout_s must be 0 to 600"),
            (
                (2..=100).contains(&self.max_steps) || (self.max_steps == 1 && self.start_rate == self.max_rate),
                "search.max_steps must be 2 to 100 (or 1 for one fixed rate, a soak: search.start_rate = search.max_rate)",
            ),
            (self.slo_p99_ms < self.timeout_ms as f64, "search.slo_p99_ms must be below search.timeout_ms"),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err(message.to_string()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_bound_counts_growth_bisection_and_confirmations() {
        // 100 -> 200 -> ... -> 25,600 > 20,000: 9 rates; bisecting a factor of 2 to 5 %: log2(20) -> 5 steps, each
        // with a confirmation that may fail: 9 + 12 = 21, capped at max_steps.
        let s = Search::default();
        assert_eq!(s.steps_bound(), s.max_steps);
        assert_eq!(Search { max_steps: 100, ..Search::default() }.steps_bound(), 9 + 2 * (5 + 1));
        let small = Search { start_rate: 100.0, max_rate: 1000.0, max_steps: 100, ..Search::default() };
        assert_eq!(small.steps_bound(), 5 + 2 * 6);
    }

    #[test]
    fn more_steps_than_a_u32_holds_are_capped_not_an_overflow() {
        let s = Search { start_rate: 1e-300, max_rate: 1e300, growth: 1.000_000_000_1, ..Search::default() };
        assert!(s.validate().is_ok(), "valid settings, only far apart");
        assert_eq!(s.steps_bound(), s.max_steps);
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = Search { growth: 1.0, ..Search::default() };
        assert!(bad.validate().unwrap_err().contains("search.growth"));
        let bad = Search { start_rate: f64::NAN, ..Search::default() };
        assert!(bad.validate().unwrap_err().contains("search.start_rate"));
        assert!(Search::default().validate().is_ok());
    }

    #[test]
    fn one_step_is_only_for_one_fixed_rate() {
        let soak = Search { start_rate: 750.0, max_rate: 750.0, max_steps: 1, ..Search::default() };
        assert!(soak.validate().is_ok());
        assert_eq!(soak.steps_bound(), 1);
        let search = Search { max_steps: 1, ..soak.clone() };
        assert!(Search { max_rate: 751.0, ..search }.validate().unwrap_err().contains("search.max_steps"));
    }
}
