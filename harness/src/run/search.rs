//! The capacity search of an open-model run: which rate to offer next ([`Searcher`], pure), how one step is judged
//! ([`Tally`]), and the search itself ([`search`]) driving an [`Offerer`] step by step, draining the system after
//! every failed step so one step's backlog never counts against the next.

mod fit;
mod knee;
mod searcher;
mod tally;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use fit::{Crossing, Point};
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
/// (ended by `interrupt`), or `max_steps` pass (ended by `error`).
pub async fn search<B: Bank + 'static>(
    offerer: Offerer<B>,
    cfg: &Search,
    arrivals: Arrivals,
    drain: &impl Drain,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Searched {
    let mut campaign = Campaign {
        offerer,
        schedule: Schedule::new(arrivals, u64::from(std::process::id())),
        cfg,
        drain,
        progress,
        searched: Searched { live: progress.answered.clone(), ..Searched::default() },
    };
    let mut strategy = Strategy::new(cfg);
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
    fn new(cfg: &Search) -> Strategy {
        match cfg.method {
            Method::Bisection => Strategy::Bisection(Searcher::new(cfg.clone())),
            // The order of the rates around the knee: any seed does; the process id differs between runs.
            Method::Knee => Strategy::Knee(Box::new(Knee::new(cfg.clone(), u64::from(std::process::id())))),
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

/// The windows the first warm-up is judged in, and how many in a row must meet the SLO.
const WARM_WINDOW: Duration = Duration::from_secs(2);
const WARM_PASSES: u32 = 3;

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
        self.searched.warmup = Some(self.warm_up().await);
        let mut next = strategy.first();
        let mut number = 0;
        while let Next::Step { rate, confirming } = next {
            number += 1;
            let (tally, dwell) = self.measure(number, rate, self.cfg.warmup(), self.cfg.dwell()).await;
            let mut step = tally.judge(self.cfg, number, rate, confirming, self.cfg.dwell());
            next = strategy.next(&step);
            if step.answered == 0 && step.errors * 2 > step.sent {
                // No answer in time and most transfers lost: the deployment stopped answering (a part died), which
                // every later step would only measure again. (A slow system times out; it does not lose them.)
                self.searched.error = Some(format!(
                    "no transfer of step {number} ({rate:.0} tx/s) was answered: the endpoint stopped answering"
                ));
                next = Next::Done { ended_by: EndedBy::Error, capacity: None };
            }
            if strategy.drains_after(&step) && matches!(next, Next::Step { .. }) {
                step.drain_s = Some(self.drain().await.as_secs_f64());
            }
            let _ = self.progress.steps.send(StepDone { step, dwell });
        }
        next
    }

    /// The first warm-up, while the brokers' JIT compiles under load: `start_rate` for `warmup_s`, then until
    /// [`WARM_PASSES`] windows of it in a row meet the SLO, at most `warmup_max_s` in all; a cold first step would
    /// fail for the JIT, not for the rate. (One window in a judging that could not pass: see [`Tally::judge`].)
    async fn warm_up(&mut self) -> bench_results::Warmup {
        let (start, rate) = (Instant::now(), self.cfg.start_rate);
        self.offerer.set_cap(in_flight_cap(rate, self.cfg));
        self.schedule.set_rate(rate, start);
        let _ = self.progress.rate.send(rate);
        let searched = &mut self.searched;
        let until = start + self.cfg.warmup();
        self.offerer
            .offer(&mut self.schedule, until, Tag { step: 0, judged: false }, &mut |d| {
                searched.book(&d);
                false
            })
            .await;
        let mut in_a_row = 0;
        while start.elapsed() + WARM_WINDOW < self.cfg.warmup_max() {
            let (tally, _) = self.measure(0, rate, Duration::ZERO, WARM_WINDOW).await;
            in_a_row = if tally.judge(self.cfg, 0, rate, false, WARM_WINDOW).passed { in_a_row + 1 } else { 0 };
            if in_a_row == WARM_PASSES {
                return bench_results::Warmup { seconds: start.elapsed().as_secs_f64(), settled: true };
            }
        }
        bench_results::Warmup { seconds: start.elapsed().as_secs_f64(), settled: false }
    }

    /// Offers `rate` for `warmup`, then for `dwell` (the transfers judged), then (still offering) until every
    /// transfer of the dwell has its answer or its timeout; the dwell's tally and when it ran.
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
        let mut tally = Tally::new(self.cfg.timeout());
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
        let sent = offerer
            .offer(schedule, dwell_end, judged, &mut |d| {
                record(d, &mut tally);
                false
            })
            .await;
        tally.set_sent(sent);
        if tally.pending() > 0 {
            offerer.offer(schedule, dwell_end + self.cfg.timeout(), unjudged, &mut |d| record(d, &mut tally)).await;
        }
        (tally, (warm_end, dwell_end))
    }

    /// After a failed step: nothing of bench's in flight, one answered transfer per account (each key's queue
    /// worked off), and the read side caught up; bounded by `drain_timeout_s`. Returns how long it took.
    async fn drain(&mut self) -> Duration {
        let _ = self.progress.rate.send(0.0);
        let start = Instant::now();
        let until = start + self.cfg.drain_timeout();
        let searched = &mut self.searched;
        let mut book = |d: Done| {
            searched.book(&d);
            false
        };
        if self.offerer.empty(until, &mut book).await {
            self.offerer.canaries(&mut book);
            self.offerer.empty(until, &mut book).await;
        }
        self.drain.caught_up(until).await;
        start.elapsed()
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
