//! The capacity search of an open-model run: which rate to offer next ([`Searcher`], pure), how one step is judged
//! ([`Tally`]), and the search itself ([`search`]) driving an [`Offerer`] step by step, draining the system after
//! every failed step so one step's backlog never counts against the next.

mod knee;
mod searcher;
pub mod steady;
mod tally;
mod warm_up;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use crate::fit::{Crossing, Point};
pub use knee::Knee;
pub use searcher::{Next, Searcher};
pub use tally::Tally;

use crate::audit::AnswerLog;
use crate::experiment::{Arrivals, Method, Search};
use crate::load::bank::Bank;
use crate::load::open::{Done, Fate, Offerer, Schedule, Tag};
use bench_results::{EndedBy, Step};

/// Whatever else must have caught up before the next step after a failed one (the read side's database).
pub trait Drain {
    /// Waits until caught up, or `until`; whether it did.
    fn caught_up(&self, until: Instant) -> impl Future<Output = bool> + Send;
}

/// Nothing beyond the offerer's own transfers (tests, deployments whose databases bench cannot read).
pub struct NothingElse;

impl Drain for NothingElse {
    async fn caught_up(&self, _until: Instant) -> bool {
        true
    }
}

/// A finished step, and when its dwell ran (for the probe's figures and the resource samples over it).
#[derive(Debug, Clone)]
pub struct StepDone {
    pub step: Step,
    pub dwell: (Instant, Instant),
}

/// Where a search tells what it does: each step as it ends, the rate it offers now, and how many transfers have
/// been answered so far (for bench's own CPU per transfer).
///
/// `steps` is unbounded on purpose: a search sends one message per step and ends after `max_steps` of them (each
/// a dwell of seconds), and the driver takes them after every probe loop, so it never holds more than a few.
pub struct Progress {
    pub steps: mpsc::UnboundedSender<StepDone>,
    pub rate: watch::Sender<f64>,
    pub answered: Arc<AtomicU64>,
}

/// How a search ended, and everything the audit needs to know of its transfers.
#[derive(Debug, Default)]
pub struct Searched {
    pub ended_by: Option<EndedBy>,
    pub capacity: Option<f64>,
    /// `method = "knee"`: the capacity's 95 % interval.
    pub capacity_ci95: Option<(f64, f64)>,
    /// On disk, for the audit.
    pub answers: AnswerLog,
    /// Over every transfer offered, warm-ups and drains included.
    pub sent: u64,
    pub answered: u64,
    pub errors: u64,
    /// Why the search ended by `error`.
    pub error: Option<String>,
    /// How the first warm-up went.
    pub warmup: Option<bench_results::Warmup>,
    /// `answered`, as the search goes.
    live: Arc<AtomicU64>,
}

impl Searched {
    fn book(&mut self, done: &Done) {
        self.sent += u64::from(!matches!(done.fate, Fate::NotSent));
        match &done.fate {
            Fate::Answered { right, id, answer, .. } => {
                self.answered += 1;
                self.live.fetch_add(1, Ordering::Relaxed);
                self.errors += u64::from(!right);
                self.answers.push(*id, answer);
            }
            Fate::Lost => self.errors += 1,
            Fate::NoAnswer | Fate::NotSent => {}
        }
    }
}

/// One search: the initial warm-up, then steps chosen by [`Searcher`] until it is done, `cancel` is cancelled
/// (ended by `interrupt`), or `max_steps` pass (ended by `error`). `seed` draws the arrivals and the knee search's
/// order of rates, so a replayed run offers the same load in the same order.
pub async fn search<B: Bank + 'static>(
    offerer: Offerer<B>,
    cfg: &Search,
    arrivals: Arrivals,
    seed: u64,
    drain: &impl Drain,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Searched {
    let mut campaign = Campaign {
        offerer,
        schedule: Schedule::new(arrivals, seed),
        cfg,
        drain,
        progress,
        searched: Searched { live: progress.answered.clone(), ..Searched::default() },
    };
    let mut strategy = Strategy::new(cfg, seed);
    let next = tokio::select! {
        next = campaign.run(&mut strategy) => Some(next),
        () = cancel.cancelled() => None,
    };
    let mut searched = campaign.finish().await;
    match next {
        Some(Next::Done { ended_by, capacity }) => {
            searched.ended_by = Some(ended_by);
            searched.capacity = capacity;
            searched.capacity_ci95 = strategy.interval().filter(|_| capacity.is_some());
            if let (EndedBy::Error, Some((low, high)), None) = (ended_by, searched.capacity_ci95, &searched.error) {
                searched.error = Some(format!(
                    "after {} steps the capacity's 95 % interval ({low:.0}–{high:.0} tx/s) was still wider than ±{} %",
                    cfg.max_steps,
                    cfg.precision * 100.0
                ));
            }
        }
        _ => searched.ended_by = Some(EndedBy::Interrupt),
    }
    searched
}

/// The rule choosing the rates, as the experiment names it.
enum Strategy {
    Bisection(Searcher),
    Knee(Box<Knee>),
}

impl Strategy {
    fn new(cfg: &Search, seed: u64) -> Strategy {
        match cfg.method {
            Method::Bisection => Strategy::Bisection(Searcher::new(cfg.clone())),
            // A stream of its own, apart from the arrivals' (seeds one apart expand to unrelated streams).
            Method::Knee => Strategy::Knee(Box::new(Knee::new(cfg.clone(), seed.wrapping_add(1)))),
        }
    }

    fn first(&self) -> Next {
        match self {
            Strategy::Bisection(s) => s.first(),
            Strategy::Knee(k) => k.first(),
        }
    }

    fn next(&mut self, step: &Step) -> Next {
        match self {
            Strategy::Bisection(s) => s.next(step.rate, step.passed, step.confirming),
            Strategy::Knee(k) if step.left_out => k.left_out(step.rate),
            Strategy::Knee(k) => k.next(Point { rate: step.rate, p99_ms: step.p99_ms, passed: step.passed }),
        }
    }

    /// The knee search measures every step from a drained system, so no step's backlog counts against the next.
    fn drains_after(&self, step: &Step) -> bool {
        matches!(self, Strategy::Knee(_)) || !step.passed
    }

    fn interval(&self) -> Option<(f64, f64)> {
        match self {
            Strategy::Bisection(_) => None,
            Strategy::Knee(k) => k.estimate().map(|c| (c.low, c.high)),
        }
    }
}

/// Twice what Little's law allows within the timeout at `rate` (see `Offerer::set_cap`), and never below 64.
fn in_flight_cap(rate: f64, cfg: &Search) -> usize {
    (2.0 * rate * cfg.timeout().as_secs_f64()).ceil().max(64.0) as usize
}

/// A search under way: the offerer and its schedule, and the book of every transfer.
struct Campaign<'a, B, D> {
    offerer: Offerer<B>,
    schedule: Schedule,
    cfg: &'a Search,
    drain: &'a D,
    progress: &'a Progress,
    searched: Searched,
}

impl<B: Bank + 'static, D: Drain> Campaign<'_, B, D> {
    async fn run(&mut self, strategy: &mut Strategy) -> Next {
        let (warmup, dead) = self.warm_up().await;
        self.searched.warmup = Some(warmup);
        if dead.is_some() {
            self.searched.error = dead;
            return Next::Done { ended_by: EndedBy::Error, capacity: None };
        }
        if !warmup.settled {
            self.searched.error = Some(format!(
                "the latencies at {:.0} tx/s had not settled after warmup_max_s ({} s): a system still warming up, or \
                 one that cannot answer that rate (set search.warmup_rate lower)",
                self.cfg.warmup_rate(),
                self.cfg.warmup_max_s
            ));
            return Next::Done { ended_by: EndedBy::Unsettled, capacity: None };
        }
        let mut next = strategy.first();
        let (mut number, mut drained) = (0, true);
        while let Next::Step { rate, confirming } = next {
            number += 1;
            let stored = self.searched.answered;
            let (tally, dwell) = self.measure(number, rate, self.cfg.warmup(), self.cfg.dwell()).await;
            let mut step = tally.judge(self.cfg, number, rate, confirming, dwell.1 - dwell.0);
            (step.stored, step.left_out) = (Some(stored), !drained);
            next = strategy.next(&step);
            if step.answered == 0 && step.errors * 2 > step.sent {
                // No answer in time and most transfers lost: the deployment stopped answering (a part died), which
                // every later step would only measure again. (A slow system times out; it does not lose them.)
                self.searched.error = Some(format!(
                    "no transfer of step {number} ({rate:.0} tx/s) was answered: the endpoint stopped answering"
                ));
                next = Next::Done { ended_by: EndedBy::Error, capacity: None };
            }
            drained = true;
            if strategy.drains_after(&step) && matches!(next, Next::Step { .. }) {
                let (took, verified) = self.drain().await;
                (step.drain_s, step.drained, drained) = (Some(took.as_secs_f64()), Some(verified), verified);
            }
            let _ = self.progress.steps.send(StepDone { step, dwell });
        }
        next
    }

    /// Offers `rate` for `warmup`, then for `dwell` (the transfers judged), then (still offering) until every
    /// transfer of the dwell has its answer or its timeout; the dwell's tally and when it ran. A search's dwell
    /// that has failed already ([`Tally::failed_already`]) ends there, and its last answers are waited for without
    /// offering more.
    async fn measure(
        &mut self,
        number: u32,
        rate: f64,
        warmup: Duration,
        dwell: Duration,
    ) -> (Tally, (Instant, Instant)) {
        let start = Instant::now();
        self.offerer.set_cap(in_flight_cap(rate, self.cfg));
        self.schedule.set_rate(rate, start);
        let _ = self.progress.rate.send(rate);
        let (warm_end, dwell_end) = (start + warmup, start + warmup + dwell);
        let mut tally = Tally::new(self.cfg.timeout(), self.cfg.slo());
        // A fixed-rate run holds its rate to the end: what overload or a long soak does is what it measures.
        let (may_stop, expected) = (!self.cfg.is_fixed_rate(), rate * dwell.as_secs_f64());
        let (unjudged, judged) = (Tag { step: number, judged: false }, Tag { step: number, judged: true });
        let searched = &mut self.searched;
        let mut record = |d: Done, tally: &mut Tally| {
            searched.book(&d);
            if d.tag == judged {
                tally.finished(&d);
            }
            tally.pending() == 0
        };
        let offerer = &mut self.offerer;
        let schedule = &mut self.schedule;
        offerer
            .offer(schedule, warm_end, unjudged, &mut |d| {
                record(d, &mut tally);
                false
            })
            .await;
        let mut stopped = false;
        let sent = offerer
            .offer(schedule, dwell_end, judged, &mut |d| {
                record(d, &mut tally);
                stopped = may_stop && tally.failed_already(expected);
                stopped
            })
            .await;
        let dwell_end = if stopped { Instant::now() } else { dwell_end };
        tally.set_sent(sent);
        if stopped {
            let _ = self.progress.rate.send(0.0);
            offerer.empty(dwell_end + self.cfg.timeout(), &mut |d| record(d, &mut tally)).await;
        } else if tally.pending() > 0 {
            offerer.offer(schedule, dwell_end + self.cfg.timeout(), unjudged, &mut |d| record(d, &mut tally)).await;
        }
        (tally, (warm_end, dwell_end))
    }

    /// After a failed step: nothing of bench's in flight, one answered transfer per account (each key's queue
    /// worked off), and the read side caught up; bounded by `drain_timeout_s`. Returns how long it took, and
    /// whether all three were seen (else the next step may still carry this one's backlog).
    async fn drain(&mut self) -> (Duration, bool) {
        let _ = self.progress.rate.send(0.0);
        let start = Instant::now();
        let until = start + self.cfg.drain_timeout();
        let searched = &mut self.searched;
        let mut book = |d: Done| {
            searched.book(&d);
            false
        };
        let mut verified = self.offerer.empty(until, &mut book).await;
        if verified {
            self.offerer.canaries(&mut book);
            verified = self.offerer.empty(until, &mut book).await;
        }
        verified &= self.drain.caught_up(until).await;
        (start.elapsed(), verified)
    }

    /// What is still in flight gets the step timeout to answer, so the audit knows what the bank confirmed by then;
    /// transfers still unanswered are not checked against the books (the bank may still apply them).
    async fn finish(mut self) -> Searched {
        let _ = self.progress.rate.send(0.0);
        let searched = &mut self.searched;
        self.offerer
            .empty(Instant::now() + self.cfg.timeout(), &mut |d| {
                searched.book(&d);
                false
            })
            .await;
        self.searched
    }
}
