//! Which rate to offer next: geometric growth, bisection, confirmation. Pure, so the rules are tested alone.

use crate::experiment::Search;
use bench_results::EndedBy;

/// What to do after a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    Step { rate: f64, confirming: bool },
    Done { ended_by: EndedBy, capacity: Option<f64> },
}

/// Chooses the rates: geometric growth until a step fails, then bisection between the highest pass and the lowest
/// fail until they are within `precision`, then the highest pass once more to confirm it. A confirmation that fails
/// counts as a fail at that rate and the bisection goes on below it.
#[derive(Debug, Clone)]
pub struct Searcher {
    cfg: Search,
    passes: Vec<f64>,
    fails: Vec<f64>,
    steps: u32,
}

impl Searcher {
    pub fn new(cfg: Search) -> Searcher {
        Searcher { cfg, passes: Vec::new(), fails: Vec::new(), steps: 0 }
    }

    pub fn first(&self) -> Next {
        Next::Step { rate: self.cfg.start_rate, confirming: false }
    }

    /// Records that a step at `rate` passed or not, and says what comes next.
    pub fn next(&mut self, rate: f64, passed: bool, confirming: bool) -> Next {
        self.steps += 1;
        if passed {
            self.passes.push(rate);
        } else {
            self.fails.push(rate);
        }
        if confirming && passed && self.bracket().is_some_and(|(lo, _)| lo == rate) {
            return Next::Done { ended_by: EndedBy::Converged, capacity: Some(rate) };
        }
        // Nothing failed up to the maximum: a lower bound, also when it took the last step (a soak's only one).
        if self.fails.is_empty() && rate >= self.cfg.max_rate {
            return Next::Done { ended_by: EndedBy::MaxRate, capacity: Some(rate) };
        }
        if self.steps >= self.cfg.max_steps {
            return Next::Done { ended_by: EndedBy::Error, capacity: None };
        }
        let Some(hi) = self.lowest_fail() else {
            return Next::Step { rate: (rate * self.cfg.growth).min(self.cfg.max_rate), confirming: false };
        };
        match self.bracket() {
            // Nothing passed below the lowest fail: shrink until something does, down to a floor.
            None => {
                let lower = hi / self.cfg.growth;
                if lower < self.cfg.start_rate / self.cfg.growth.powi(4) {
                    Next::Done { ended_by: EndedBy::Error, capacity: None }
                } else {
                    Next::Step { rate: lower, confirming: false }
                }
            }
            Some((lo, hi)) if (hi - lo) / lo <= self.cfg.precision => Next::Step { rate: lo, confirming: true },
            Some((lo, hi)) => Next::Step { rate: (lo + hi) / 2.0, confirming: false },
        }
    }

    fn lowest_fail(&self) -> Option<f64> {
        self.fails.iter().copied().reduce(f64::min)
    }

    /// (highest pass below the lowest fail, lowest fail).
    fn bracket(&self) -> Option<(f64, f64)> {
        let hi = self.lowest_fail()?;
        let lo = self.passes.iter().copied().filter(|p| *p < hi).reduce(f64::max)?;
        Some((lo, hi))
    }
}
