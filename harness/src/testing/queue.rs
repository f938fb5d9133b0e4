//! A double of the bank at the level of steps, fast enough to run a whole capacity search hundreds of times: a
//! queue of `servers` working off transfers in arrival order, each in a lognormal service time, with what makes a
//! real stack hard to measure: a cold start (capacity ramping up over its first minute or so), capacity falling
//! slowly with the transfers stored, a short stall every minute, and a backlog that carries from one step into
//! the next. Its truth, [`Queue::truth`], is what a long run at a fixed rate sustains at the SLO.

use rand::distributions::Distribution;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statrs::distribution::Normal;

/// The double's make-up.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Transfers per second the warm, empty bank works off (all servers together).
    pub capacity: f64,
    pub servers: usize,
    /// Lognormal sigma of a service time (its spread).
    pub service_sigma: f64,
    /// Added to every answer (network, the endpoint's own work), s.
    pub base_s: f64,
    /// Capacity starts at `cold_factor` of itself and ramps up over `cold_s`, slowly at first (a JIT that compiles
    /// the hot paths only after some work: quadratic in time).
    pub cold_factor: f64,
    pub cold_s: f64,
    /// Capacity falls by this share per million transfers stored.
    pub fall_per_million: f64,
    /// Nothing is served for `stall_s` every `stall_every_s` (a collection, a log roll), from a random phase.
    pub stall_every_s: f64,
    pub stall_s: f64,
    /// An answer later than this is a timeout, s.
    pub timeout_s: f64,
}

impl Shape {
    /// A bank of ~`capacity` tx/s with every difficulty the capacity issue names.
    pub fn hard(capacity: f64) -> Shape {
        Shape {
            capacity,
            servers: 4,
            service_sigma: 0.8,
            base_s: 0.015,
            cold_factor: 0.05,
            cold_s: 90.0,
            fall_per_million: 0.03,
            stall_every_s: 60.0,
            stall_s: 0.3,
            timeout_s: 5.0,
        }
    }
}

/// One step as the double answers it: what a [`crate::run::search::Tally`] would say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub rate: f64,
    /// p99 of the judged transfers in ms, timeouts slower than any answer; `None` when it falls on timeouts.
    pub p99_ms: Option<f64>,
    /// Answered within the timeout per second of dwell.
    pub achieved: f64,
    /// Transfers still queued when the dwell ended.
    pub backlog: u64,
}

/// The double's state: its clock, its servers, what it has stored.
#[derive(Debug, Clone)]
pub struct Queue {
    shape: Shape,
    rng: StdRng,
    /// Seconds since the stack came up.
    now: f64,
    /// When each server is next free.
    free_at: Vec<f64>,
    stored: u64,
    stall_phase: f64,
}

impl Queue {
    /// A stack just come up, cold, holding `preload` transfers.
    pub fn new(shape: Shape, seed: u64, preload: u64) -> Queue {
        let mut rng = StdRng::seed_from_u64(seed);
        let stall_phase = rng.gen::<f64>() * shape.stall_every_s;
        let free_at = vec![0.0; shape.servers];
        Queue { shape, rng, now: 0.0, free_at, stored: preload, stall_phase }
    }

    /// A stack warm from the start (no cold ramp), for the truth.
    fn warm(shape: Shape, seed: u64, preload: u64) -> Queue {
        let mut q = Queue::new(shape, seed, preload);
        q.now = q.shape.cold_s;
        q.free_at.fill(q.now);
        q
    }

    pub fn now(&self) -> f64 {
        self.now
    }

    /// Capacity (tx/s) at time `t`, with what is stored now.
    fn capacity_at(&self, t: f64) -> f64 {
        let s = &self.shape;
        let warm = if t >= s.cold_s { 1.0 } else { s.cold_factor + (1.0 - s.cold_factor) * (t / s.cold_s).powi(2) };
        s.capacity * warm * (1.0 - s.fall_per_million * self.stored as f64 / 1e6).max(0.1)
    }

    /// When a transfer that may start at `t` really starts: after the stall it falls in, if any.
    fn after_stall(&self, t: f64) -> f64 {
        let s = &self.shape;
        let into = (t - self.stall_phase).rem_euclid(s.stall_every_s);
        if into < s.stall_s {
            t + s.stall_s - into
        } else {
            t
        }
    }

    /// One transfer arriving at `at`: its latency in s.
    fn serve(&mut self, at: f64) -> f64 {
        let (k, free) = self.free_at.iter().copied().enumerate().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, at));
        let start = self.after_stall(free.max(at));
        // Mean service time of one server: servers / capacity; lognormal with that mean.
        let mean = self.shape.servers as f64 / self.capacity_at(start);
        let sigma = self.shape.service_sigma;
        let z = Normal::standard().sample(&mut self.rng);
        let service = (mean.ln() - sigma * sigma / 2.0 + sigma * z).exp();
        let done = start + service;
        if let Some(slot) = self.free_at.get_mut(k) {
            *slot = done;
        }
        self.stored += 1;
        done - at + self.shape.base_s
    }

    /// Offers `rate` (evenly spaced) for `warmup_s` unjudged, then `dwell_s` judged; time moves on by both.
    pub fn step(&mut self, rate: f64, warmup_s: f64, dwell_s: f64) -> Measured {
        let gap = 1.0 / rate;
        let (judged_from, end) = (self.now + warmup_s, self.now + warmup_s + dwell_s);
        let mut latencies = Vec::new();
        let mut t = self.now;
        while t < end {
            let latency = self.serve(t);
            if t >= judged_from {
                latencies.push(latency);
            }
            t += gap;
        }
        self.now = end;
        let backlog = self.free_at.iter().map(|f| ((f - end).max(0.0) * rate / self.shape.servers as f64) as u64).sum();
        self.measured(rate, latencies, dwell_s, backlog)
    }

    /// Offers `rate` for `seconds`: the mean latency (ms) of the transfers offered in each second, a timeout
    /// counted as the timeout (what bench's warm-up judges).
    pub fn seconds(&mut self, rate: f64, seconds: usize) -> Vec<f64> {
        let per_second = rate.round().max(1.0) as usize;
        let timeout = self.shape.timeout_s;
        (0..seconds)
            .map(|_| {
                let start = self.now;
                let total: f64 = (0..per_second).map(|i| self.serve(start + i as f64 / rate).min(timeout)).sum();
                self.now = start + 1.0;
                total / per_second as f64 * 1000.0
            })
            .collect()
    }

    fn measured(&self, rate: f64, mut latencies: Vec<f64>, dwell_s: f64, backlog: u64) -> Measured {
        latencies.sort_by(f64::total_cmp);
        let timeout = self.shape.timeout_s;
        let answered = latencies.iter().filter(|l| **l <= timeout).count();
        let rank = ((0.99 * latencies.len() as f64).ceil() as usize).max(1);
        let p99_ms = (rank <= answered).then(|| latencies[rank - 1] * 1000.0);
        Measured { rate, p99_ms, achieved: answered as f64 / dwell_s, backlog }
    }

    /// No load for up to `max_s`, until every server is free: a drain. Whether it emptied.
    pub fn drain(&mut self, max_s: f64) -> bool {
        let busy_until = self.free_at.iter().copied().fold(self.now, f64::max);
        let emptied = busy_until <= self.now + max_s;
        self.now = busy_until.min(self.now + max_s);
        emptied
    }

    /// The highest rate a run of `run_s` at a fixed rate, on a warm stack holding `preload`, holds at p99 ≤
    /// `slo_ms` (every seed of `seeds`), to within 0.2 %: what a search of the double should find.
    pub fn truth(shape: &Shape, slo_ms: f64, preload: u64, run_s: f64, seeds: u64) -> f64 {
        let holds = |rate: f64| {
            (0..seeds).all(|seed| {
                let mut q = Queue::warm(shape.clone(), 1_000 + seed, preload);
                q.step(rate, 0.0, run_s).p99_ms.is_some_and(|p| p <= slo_ms)
            })
        };
        let (mut lo, mut hi) = (shape.capacity * 0.2, shape.capacity * 1.2);
        while (hi - lo) / lo > 0.002 {
            let mid = (lo + hi) / 2.0;
            if holds(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_capacity_it_keeps_up_and_above_it_falls_behind() {
        let shape = Shape { cold_factor: 1.0, fall_per_million: 0.0, stall_s: 0.0, ..Shape::hard(1000.0) };
        let mut q = Queue::new(shape.clone(), 1, 0);
        let easy = q.step(500.0, 2.0, 20.0);
        assert!(easy.p99_ms.is_some_and(|p| p < 100.0) && easy.backlog < 10, "{easy:?}");
        assert!((easy.achieved - 500.0).abs() < 10.0, "{easy:?}");
        let mut q = Queue::new(shape, 1, 0);
        let over = q.step(1300.0, 2.0, 20.0);
        // 300 tx/s more than it works off for 22 s: thousands queued, answered at about the capacity.
        assert!(over.backlog > 3_000 && (over.achieved - 1000.0).abs() < 150.0, "{over:?}");
    }

    #[test]
    fn a_cold_stack_is_slower_and_a_full_one_too() {
        let shape = Shape { stall_s: 0.0, ..Shape::hard(1000.0) };
        let q = Queue::new(shape.clone(), 1, 0);
        // 5 % at first, then 0.05 + 0.95 × (45 / 90)² = 28.75 % half way.
        assert!((q.capacity_at(0.0) - 50.0).abs() < 1e-9 && (q.capacity_at(45.0) - 287.5).abs() < 1e-9);
        let full = Queue::new(shape, 1, 2_000_000);
        assert!((full.capacity_at(100.0) - 940.0).abs() < 1e-9);
    }

    #[test]
    fn the_truth_is_below_the_capacity_and_steps_near_it_pass_or_fail_by_luck() {
        let shape = Shape::hard(1000.0);
        let truth = Queue::truth(&shape, 500.0, 100_000, 300.0, 3);
        assert!(truth > 850.0 && truth < 1000.0, "{truth}");
    }
}
