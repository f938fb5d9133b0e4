//! One step's judgement: the transfers scheduled in its dwell as they finish, their latency quantiles with
//! timeouts counted as slower than any answer, and whether the step met its SLO.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::experiment::Search;
use crate::load::open::{Done, Fate};
use bench_results::Step;

fn histogram() -> Histogram<u64> {
    // 1 µs to 1 h at 3 significant figures: constant, valid bounds, so creation cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|e| unreachable!("constant histogram bounds: {e}"))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).clamp(1, 3_600_000_000)
}

/// The transfers scheduled in one step's dwell, as they finish.
#[derive(Debug)]
pub struct Tally {
    timeout: Duration,
    slo: Duration,
    sent: u64,
    finished: u64,
    /// Answered within the timeout (right or wrong).
    latencies: Histogram<u64>,
    wrong: u64,
    lost: u64,
    /// Slower than the SLO, timed out, lost or never sent: what counts against the p99.
    slow: u64,
    lag: Histogram<u64>,
}

impl Tally {
    pub fn new(timeout: Duration, slo: Duration) -> Tally {
        Tally {
            timeout,
            slo,
            sent: 0,
            finished: 0,
            latencies: histogram(),
            wrong: 0,
            lost: 0,
            slow: 0,
            lag: histogram(),
        }
    }

    /// Counts a transfer of the dwell that finished.
    pub(super) fn finished(&mut self, done: &Done) {
        self.finished += 1;
        let _ = self.lag.record(micros(done.lag));
        match &done.fate {
            Fate::Answered { latency, right, .. } => {
                if *latency <= self.timeout {
                    let _ = self.latencies.record(micros(*latency));
                }
                self.wrong += u64::from(!right);
                self.slow += u64::from(*latency > self.slo);
            }
            Fate::Lost => (self.lost, self.slow) = (self.lost + 1, self.slow + 1),
            Fate::NoAnswer | Fate::NotSent => self.slow += 1,
        }
    }

    /// Whether the dwell has failed its SLO already, whatever its other transfers do: more of them slower than
    /// the SLO (or unanswered) than its p99 allows, even were the dwell to hand out half again as many as the
    /// `expected` (Poisson arrivals vary). A step past the knee is stopped here rather than piling up work for its
    /// whole dwell: a search that doubled to 3,200 tx/s got the endpoint killed for memory.
    pub fn failed_already(&self, expected: f64) -> bool {
        self.slow as f64 > 0.01 * 1.5 * expected.max(1.0)
    }

    /// How many transfers the dwell handed out (known once the dwell is over).
    pub(super) fn set_sent(&mut self, sent: u64) {
        self.sent = sent;
    }

    /// Transfers of the dwell still waiting for their answer (once the dwell's count is known).
    pub fn pending(&self) -> u64 {
        self.sent.saturating_sub(self.finished)
    }

    /// Latency quantile `q` in ms, timeouts counted as slower than any answer; `None` when it falls on them.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let answered = self.latencies.len();
        let rank = ((q * self.sent as f64).ceil() as u64).max(1);
        if answered == 0 || rank > answered {
            return None;
        }
        let value = self.latencies.value_at_quantile(rank as f64 / answered as f64).min(self.latencies.max());
        Some(value as f64 / 1000.0)
    }

    /// The step's line: figures over its `dwell` (the step's, or a warm-up window's), and whether it met the SLO.
    pub fn judge(&self, cfg: &Search, step: u32, rate: f64, confirming: bool, dwell: Duration) -> Step {
        let answered = self.latencies.len();
        let errors = self.wrong + self.lost;
        // Over the window measured: dividing a 2 s warm-up window's answers by the step's 10 s dwell made every
        // warm-up window miss `min_achieved`, so the warm-up always ran to `warmup_max_s`.
        let dwell_s = dwell.as_secs_f64();
        let achieved = answered as f64 / dwell_s;
        let p99_ms = self.quantile_ms(0.99);
        let ms = |us: u64| us as f64 / 1000.0;
        let mut line = Step {
            step,
            rate,
            achieved,
            sent: self.sent,
            answered,
            errors,
            timeouts: self.sent - answered - self.lost,
            p50_ms: self.quantile_ms(0.5),
            p90_ms: self.quantile_ms(0.9),
            p99_ms,
            p999_ms: self.quantile_ms(0.999),
            max_ms: self.quantile_ms(1.0),
            passed: false,
            confirming,
            lag_p99_ms: ms(self.lag.value_at_quantile(0.99).min(self.lag.max())),
            lag_max_ms: ms(self.lag.max()),
            dwell_s,
            drain_s: None,
            t_ms: chrono::Utc::now().timestamp_millis(),
            probe: None,
            resources: Default::default(),
            machine_cpu_pct: None,
            drained: None,
            left_out: false,
            stored: None,
        };
        line.passed = cfg.passes(&line, cfg.slo_p99_ms);
        line
    }
}
