//! The knee search: locate the knee roughly, then measure rates around it in a random order and fit where latency
//! crosses the SLO ([`fit::crossing`]), adding steps where the interval is still wider than asked. Pure, so its
//! rules are tested alone and against a double of the bank.
//!
//! Nothing one step shows is final: a rate that fails during the rough location is a suspect, not a verdict; the
//! search backs off to a rate between it and the last pass and grows again, never past the suspect until that
//! rate has been measured again. A second fail at or below it brackets the knee. The answer comes from a fit over
//! every step near the crossing, not from the last one passed.
//!
//! Locating the knee must not push the system past what it survives: growth slows once a passing step's latency is
//! near the SLO, no step goes above a rate that failed, and a step that has failed already is stopped early by the
//! driver.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::Next;
use crate::experiment::Search;
use crate::fit::{self, Crossing, Point};
use bench_results::EndedBy;

/// Rates measured between the last pass and the confirmed fail of the rough location.
const SPREAD: usize = 5;
/// Rates added around the estimate while its interval is too wide.
const BATCH: usize = 3;

#[derive(Debug, Clone)]
pub struct Knee {
    cfg: Search,
    seen: Vec<Point>,
    /// The lowest rate that failed and has not been measured again: growth stops there.
    suspect: Option<f64>,
    /// A failed rate that a second fail at or below it confirmed: the knee is below it.
    ceiling: Option<f64>,
    planned: Vec<f64>,
    /// Steps measured after a drain that was not verified: in the budget, not in the fit.
    left_out: u32,
    rng: StdRng,
}

impl Knee {
    pub fn new(cfg: Search, seed: u64) -> Knee {
        Knee {
            cfg,
            seen: Vec::new(),
            suspect: None,
            ceiling: None,
            planned: Vec::new(),
            left_out: 0,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn first(&self) -> Next {
        step(self.cfg.start_rate)
    }

    /// The estimate from every step so far.
    pub fn estimate(&self) -> Option<Crossing> {
        fit::crossing(&self.seen, self.cfg.slo_p99_ms, self.cfg.timeout_ms as f64, self.seen.len() as u64)
    }

    /// Records a step and says what comes next.
    pub fn next(&mut self, point: Point) -> Next {
        self.seen.push(point);
        if let Some(rate) = self.planned.pop() {
            return self.within_budget(step(rate));
        }
        if self.ceiling.is_some() {
            return self.refine();
        }
        let next = self.locate(point);
        self.within_budget(next)
    }

    /// A step at `rate` measured after a drain that was not verified: what it shows may be the last step's
    /// backlog, so it is left out of the fit and the rate is measured again.
    pub fn left_out(&mut self, rate: f64) -> Next {
        self.left_out += 1;
        self.within_budget(step(rate))
    }

    fn within_budget(&mut self, next: Next) -> Next {
        if self.seen.len() as u32 + self.left_out >= self.cfg.max_steps {
            return self.done();
        }
        next
    }

    /// At the step budget: converged only when the interval is as narrow as asked; otherwise the estimate and
    /// its (wide) interval are still recorded, but the run ends by `error`, not as a converged answer.
    fn done(&self) -> Next {
        match self.estimate() {
            Some(c) if c.relative_half_width() <= self.cfg.precision => {
                Next::Done { ended_by: EndedBy::Converged, capacity: Some(c.capacity) }
            }
            Some(c) => Next::Done { ended_by: EndedBy::Error, capacity: Some(c.capacity) },
            None => Next::Done { ended_by: EndedBy::Error, capacity: None },
        }
    }

    /// Growth while steps pass; a first fail makes its rate a suspect and backs off; a second fail at or below
    /// the suspect brackets the knee.
    fn locate(&mut self, point: Point) -> Next {
        if point.passed {
            return self.grow(point);
        }
        match self.suspect {
            Some(suspect) if point.rate <= suspect => match self.highest_pass_below(point.rate) {
                Some(low) => self.bracket(low, point.rate, suspect),
                None => self.back_off(point.rate),
            },
            _ => self.back_off(point.rate),
        }
    }

    /// A pass: the next rate up, slower when its latency was near the SLO, never past the suspect. A pass at or
    /// above the suspect clears it: that fail was noise or a cold system.
    fn grow(&mut self, point: Point) -> Next {
        let cfg = &self.cfg;
        if point.rate >= cfg.max_rate {
            return Next::Done { ended_by: EndedBy::MaxRate, capacity: Some(point.rate) };
        }
        if self.suspect.is_some_and(|s| point.rate >= s) {
            self.suspect = None;
        }
        let near = point.p99_ms.is_some_and(|p| p > cfg.slo_p99_ms / 2.0);
        let factor = if near { cfg.growth.sqrt() } else { cfg.growth };
        let next = (point.rate * factor).min(cfg.max_rate).min(self.suspect.unwrap_or(f64::INFINITY));
        step(next)
    }

    /// A fail not yet believed: its rate becomes the suspect, and the next step is halfway (geometrically) down to
    /// the highest pass below it, or a growth factor down when nothing below has passed.
    fn back_off(&mut self, rate: f64) -> Next {
        let cfg = &self.cfg;
        self.suspect = Some(rate);
        match self.highest_pass_below(rate) {
            Some(low) => step((low * rate).sqrt()),
            None if rate / cfg.growth < cfg.start_rate / cfg.growth.powi(4) => {
                Next::Done { ended_by: EndedBy::Error, capacity: None }
            }
            None => step(rate / cfg.growth),
        }
    }

    /// Two fails, at `failed` and at the suspect above or at it: the knee lies below the suspect. The rates
    /// between the last pass and `failed` are measured next, in a random order.
    fn bracket(&mut self, low: f64, failed: f64, suspect: f64) -> Next {
        self.suspect = None;
        self.ceiling = Some(suspect);
        self.plan_between(low, failed);
        match self.planned.pop() {
            Some(rate) => step(rate),
            None => self.refine(),
        }
    }

    fn highest_pass_below(&self, rate: f64) -> Option<f64> {
        self.seen.iter().filter(|p| p.passed && p.rate < rate).map(|p| p.rate).reduce(f64::max)
    }

    /// [`SPREAD`] rates evenly spaced (geometrically) strictly between `low` and `high`, in a random order.
    fn plan_between(&mut self, low: f64, high: f64) {
        let ratio = high / low;
        self.planned = (1..=SPREAD).map(|i| low * ratio.powf(i as f64 / (SPREAD + 1) as f64)).collect();
        self.planned.shuffle(&mut self.rng);
    }

    /// Done when the interval is within `precision` (half-width relative to the estimate); else [`BATCH`] more
    /// rates around the estimate, in a random order.
    fn refine(&mut self) -> Next {
        let Some(c) = self.estimate() else {
            // Still no bracket around the crossing: widen below the lowest rate measured near the ceiling.
            let low = self.seen.iter().map(|p| p.rate).fold(f64::INFINITY, f64::min);
            let high = self.ceiling.unwrap_or(low * self.cfg.growth);
            self.plan_between(low / self.cfg.growth.sqrt(), high);
            return match self.planned.pop() {
                Some(rate) => self.within_budget(step(rate)),
                None => self.done(),
            };
        };
        if c.relative_half_width() <= self.cfg.precision {
            return Next::Done { ended_by: EndedBy::Converged, capacity: Some(c.capacity) };
        }
        let w = c.relative_half_width().clamp(self.cfg.precision / 2.0, self.cfg.precision * 2.0);
        let ceiling = self.ceiling.unwrap_or(f64::INFINITY).min(self.cfg.max_rate);
        self.planned = [1.0 - w, 1.0, 1.0 + w].iter().map(|f| (c.capacity * f).min(ceiling)).collect();
        debug_assert_eq!(self.planned.len(), BATCH);
        self.planned.shuffle(&mut self.rng);
        let rate = self.planned.pop().unwrap_or(c.capacity);
        self.within_budget(step(rate))
    }
}

fn step(rate: f64) -> Next {
    Next::Step { rate, confirming: false }
}
