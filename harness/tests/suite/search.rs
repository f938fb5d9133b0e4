//! The open model and its capacity search on a paused clock, against endpoint doubles whose capacity and stalls are
//! known: the search converges on the capacity within its precision and confirms it, never passes a rate above it,
//! and a stall counts against every transfer scheduled during it (no coordinated omission).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bench_results::EndedBy;
use harness::experiment::{Arrivals, Search};
use harness::load::bank::{Account, Answer, Bank, Transfer};
use harness::load::client::ClientError;
use harness::load::open::{Done, Fate, Offerer, Ring, Schedule, Tag};
use harness::run::search::{self, NothingElse, Progress, Searcher};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The bank's rule for the ring's transfers: a wrong token fails, everything else succeeds.
fn answer(t: &Transfer) -> Answer {
    if t.token == "bogus-token" {
        Answer { success: false, reason: Some("invalid token".into()) }
    } else {
        Answer { success: true, reason: None }
    }
}

/// Answers in 5 ms while at most `capacity` transfers arrived in the last second, else after 2 s: a system that
/// keeps up below its capacity and falls over above it.
#[derive(Clone)]
struct Capacity {
    capacity: usize,
    arrivals: Arc<Mutex<VecDeque<Instant>>>,
}

impl Bank for Capacity {
    async fn transfer(&self, _id: Uuid, t: &Transfer) -> Result<Answer, ClientError> {
        let now = Instant::now();
        let over = {
            let mut window = self.arrivals.lock().unwrap();
            window.push_back(now);
            while window.front().is_some_and(|t| now - *t >= Duration::from_secs(1)) {
                window.pop_front();
            }
            window.len() > self.capacity
        };
        tokio::time::sleep(if over { Duration::from_secs(2) } else { Duration::from_millis(5) }).await;
        Ok(answer(t))
    }
}

/// Answers in 1 ms, except that nothing is answered from `from` until `until` (a stall of the endpoint).
#[derive(Clone)]
struct Stall {
    from: Instant,
    until: Instant,
}

impl Bank for Stall {
    async fn transfer(&self, _id: Uuid, t: &Transfer) -> Result<Answer, ClientError> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let now = Instant::now();
        if now >= self.from && now < self.until {
            tokio::time::sleep_until(self.until).await;
        }
        Ok(answer(t))
    }
}

fn ring(n: usize) -> Ring {
    Ring::new(
        (0..n).map(|i| Account { username: format!("u{i}"), iban: format!("NL{i}"), token: format!("t{i}") }).collect(),
    )
}

fn cfg() -> Search {
    Search {
        start_rate: 25.0,
        max_rate: 100_000.0,
        warmup_s: 1.0,
        dwell_s: 4.0,
        slo_p99_ms: 50.0,
        timeout_ms: 1000,
        drain_timeout_s: 10.0,
        max_error_rate: 0.0,
        ..Search::default()
    }
}

#[tokio::test(start_paused = true)]
async fn the_search_converges_on_a_known_capacity_and_confirms_it() {
    let capacity = 330;
    let double = Capacity { capacity, arrivals: Arc::default() };
    let offerer = Offerer::new(vec![double.clone(), double.clone(), double], ring(16));
    let (steps_tx, mut steps) = mpsc::unbounded_channel();
    let (rate, _) = watch::channel(0.0);
    let progress = Progress { steps: steps_tx, rate, answered: Default::default() };
    let cfg = cfg();
    let searched =
        search::search(offerer, &cfg, Arrivals::Uniform, 1, &NothingElse, &progress, &CancellationToken::new()).await;
    drop(progress);
    let mut all = Vec::new();
    while let Some(done) = steps.recv().await {
        all.push(done.step);
    }
    let found = searched.capacity.expect("a capacity");
    assert_eq!(searched.ended_by, Some(EndedBy::Converged), "{all:#?}");
    let c = capacity as f64;
    assert!(found <= c && found >= c * (1.0 - cfg.precision), "found {found} for a capacity of {c}");
    for step in &all {
        if step.rate > c {
            assert!(!step.passed, "step {} passed at {} tx/s, above the capacity", step.step, step.rate);
        }
        if step.passed {
            assert!(step.rate <= c && step.p99_ms.is_some_and(|p| p <= cfg.slo_p99_ms));
        }
    }
    let (last, before) = (&all[all.len() - 1], &all[all.len() - 2]);
    assert!(last.confirming && last.passed && last.rate == found, "the last step confirms the capacity: {last:?}");
    assert!(all.iter().filter(|s| s.rate == found && s.passed).count() >= 2, "{before:?} {last:?}");
    assert!(all.iter().any(|s| !s.passed && s.drain_s.is_some()), "failed steps drain");
    assert!(searched.errors == 0 && searched.answered > 0, "every answer is the expected one");
}

/// A read side that has not caught up by the end of its `fail_at`-th drain (from 1), and has at every other.
struct LagsOnce {
    calls: std::sync::atomic::AtomicU32,
    fail_at: u32,
}

impl search::Drain for LagsOnce {
    async fn caught_up(&self, until: Instant) -> bool {
        let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if call == self.fail_at {
            tokio::time::sleep_until(until).await;
        }
        call != self.fail_at
    }
}

#[tokio::test(start_paused = true)]
async fn the_knee_method_finds_a_known_capacity_with_an_interval_and_drains_before_every_step() {
    let capacity = 330;
    let double = Capacity { capacity, arrivals: Arc::default() };
    let offerer = Offerer::new(vec![double.clone(), double.clone(), double], ring(16));
    let (steps_tx, mut steps) = mpsc::unbounded_channel();
    let (rate, _) = watch::channel(0.0);
    let progress = Progress { steps: steps_tx, rate, answered: Default::default() };
    let cfg = Search { method: harness::experiment::Method::Knee, ..cfg() };
    let lags = LagsOnce { calls: Default::default(), fail_at: 3 };
    let searched =
        search::search(offerer, &cfg, Arrivals::Uniform, 1, &lags, &progress, &CancellationToken::new()).await;
    drop(progress);
    let mut all = Vec::new();
    while let Some(done) = steps.recv().await {
        all.push(done.step);
    }
    assert_eq!(searched.ended_by, Some(EndedBy::Converged), "{all:#?}");
    let (found, c) = (searched.capacity.expect("a capacity"), capacity as f64);
    // Every rate up to 330 answers in 5 ms, every rate above in 2 s: the crossing of 50 ms lies between the
    // highest pass and the lowest fail, which the search brings within its precision of each other.
    assert!((found - c).abs() / c <= cfg.precision * 2.0, "found {found} for a capacity of {c}: {all:#?}");
    let (low, high) = searched.capacity_ci95.expect("a knee search reports its interval");
    assert!(
        low <= found && found <= high && (high - low) / 2.0 / found <= cfg.precision,
        "{low}–{high} around {found}"
    );
    // A step well past the capacity stops once its slow answers alone are more than its p99 allows (here as soon
    // as they come, 2 s after the first was sent into the 4 s dwell), instead of offering its rate for the whole
    // dwell; a passing step runs its dwell out.
    assert!(all.iter().any(|s| s.rate > 1.2 * c), "the search went past the capacity: {all:#?}");
    for s in &all {
        if s.rate > 1.2 * c {
            assert!(!s.passed && s.dwell_s < 0.75 * cfg.dwell_s, "not stopped early: {s:#?}");
        }
        if s.passed {
            assert_eq!(s.dwell_s, cfg.dwell_s, "{s:#?}");
        }
    }
    let (last, before) = all.split_last().expect("steps");
    assert!(before.iter().all(|s| s.drain_s.is_some()), "a drain before every step after the first: {all:#?}");
    assert!(last.drain_s.is_none() && !all.iter().any(|s| s.confirming));
    // The third drain was not verified: the fourth step is left out of the fit and its rate measured again.
    let unverified: Vec<usize> =
        all.iter().enumerate().filter(|(_, s)| s.drained == Some(false)).map(|(i, _)| i).collect();
    assert_eq!(unverified, [2], "{all:#?}");
    assert!(all[2].drain_s.is_some_and(|d| d >= cfg.drain_timeout_s), "it waited its drain_timeout_s out");
    assert!(all[3].left_out && all[4].rate == all[3].rate && !all[4].left_out, "{all:#?}");
    assert_eq!(all.iter().filter(|s| s.left_out).count(), 1);
    // Every step records the state it ran on: what was answered before it, growing step by step.
    let stored: Vec<u64> = all.iter().map(|s| s.stored.expect("recorded")).collect();
    assert!(stored[0] > 0 && stored.windows(2).all(|w| w[0] < w[1]), "{stored:?}");
}

#[test]
fn the_searcher_brackets_then_confirms() {
    let cfg = Search { start_rate: 100.0, growth: 2.0, precision: 0.05, max_rate: 1e6, ..Search::default() };
    let truth = 730.0;
    let mut s = Searcher::new(cfg);
    let mut next = s.first();
    let mut rates = Vec::new();
    while let search::Next::Step { rate, confirming } = next {
        rates.push((rate, confirming));
        next = s.next(rate, rate <= truth, confirming);
    }
    let search::Next::Done { ended_by, capacity } = next else { unreachable!() };
    assert_eq!(ended_by, EndedBy::Converged);
    let capacity = capacity.unwrap();
    assert!(capacity <= truth && capacity >= truth * 0.95, "{capacity} {rates:?}");
    assert_eq!(&rates[..4], &[(100.0, false), (200.0, false), (400.0, false), (800.0, false)]);
    assert_eq!(rates.last(), Some(&(capacity, true)));
}

#[test]
fn a_failed_confirmation_reopens_the_bracket_below() {
    let cfg = Search { start_rate: 100.0, precision: 0.05, ..Search::default() };
    let mut s = Searcher::new(cfg);
    // 100 and 200 pass, 400 fails; bisect 300 (pass), 350 (pass), 375 (fail), 362.5 (pass), 368.75 (fail): within 5 %.
    for (rate, passed) in [(100.0, true), (200.0, true), (400.0, false), (300.0, true), (350.0, true), (375.0, false)] {
        s.next(rate, passed, false);
    }
    let next = s.next(362.5, true, false);
    assert_eq!(next, search::Next::Step { rate: 362.5, confirming: true });
    // The confirmation fails: 362.5 is a fail now, the bracket is 350..362.5, within precision: confirm 350.
    assert_eq!(s.next(362.5, false, true), search::Next::Step { rate: 350.0, confirming: true });
    assert_eq!(s.next(350.0, true, true), search::Next::Done { ended_by: EndedBy::Converged, capacity: Some(350.0) });
}

#[test]
fn passing_the_maximum_rate_ends_with_a_lower_bound() {
    let cfg = Search { start_rate: 100.0, max_rate: 300.0, ..Search::default() };
    let mut s = Searcher::new(cfg);
    assert_eq!(s.next(100.0, true, false), search::Next::Step { rate: 200.0, confirming: false });
    assert_eq!(s.next(200.0, true, false), search::Next::Step { rate: 300.0, confirming: false });
    assert_eq!(s.next(300.0, true, false), search::Next::Done { ended_by: EndedBy::MaxRate, capacity: Some(300.0) });
}

#[test]
fn one_fixed_rate_is_held_or_not_in_one_step() {
    // A soak: start_rate = max_rate, one step. Held: a lower bound at that rate; not held: no capacity, no more steps.
    let cfg = Search { start_rate: 750.0, max_rate: 750.0, max_steps: 1, ..Search::default() };
    assert_eq!(Searcher::new(cfg.clone()).first(), search::Next::Step { rate: 750.0, confirming: false });
    let held = Searcher::new(cfg.clone()).next(750.0, true, false);
    assert_eq!(held, search::Next::Done { ended_by: EndedBy::MaxRate, capacity: Some(750.0) });
    let failed = Searcher::new(cfg).next(750.0, false, false);
    assert_eq!(failed, search::Next::Done { ended_by: EndedBy::Error, capacity: None });
}

#[tokio::test(start_paused = true)]
async fn a_stall_counts_against_every_transfer_scheduled_in_it() {
    let start = Instant::now();
    let (stall_from, stall_until) = (start + Duration::from_secs(1), start + Duration::from_secs(3));
    let mut offerer = Offerer::new(vec![Stall { from: stall_from, until: stall_until }], ring(4));
    let mut schedule = Schedule::new(Arrivals::Uniform, 1);
    schedule.set_rate(100.0, start);
    let mut done: Vec<Done> = Vec::new();
    let tag = Tag { step: 1, judged: true };
    let sent = offerer
        .offer(&mut schedule, start + Duration::from_secs(5), tag, &mut |d| {
            done.push(d);
            false
        })
        .await;
    offerer
        .empty(start + Duration::from_secs(60), &mut |d| {
            done.push(d);
            false
        })
        .await;
    assert_eq!(sent, 500);
    assert_eq!(done.len(), 500);
    let in_stall: Vec<&Done> = done.iter().filter(|d| d.intended >= stall_from && d.intended < stall_until).collect();
    assert_eq!(in_stall.len(), 200, "two seconds at 100/s");
    for d in in_stall {
        let Fate::Answered { latency, .. } = d.fate else { panic!("no answer: {:?}", d.fate) };
        let wait = stall_until - d.intended;
        assert!(
            latency >= wait,
            "scheduled {:?} into the stall, waited {wait:?}, recorded {latency:?}",
            d.intended - start
        );
    }
    assert!(done.iter().all(|d| d.lag == Duration::ZERO), "bench itself kept its schedule on a paused clock");
}

/// Loses every transfer, as a deployment whose endpoint died does.
#[derive(Clone)]
struct Dead;

impl Bank for Dead {
    async fn transfer(&self, _id: Uuid, _t: &Transfer) -> Result<Answer, ClientError> {
        Err(ClientError::Closed)
    }
}

#[tokio::test(start_paused = true)]
async fn a_deployment_that_stopped_answering_ends_the_search_at_once() {
    let (steps_tx, mut steps) = mpsc::unbounded_channel();
    let (rate, _) = watch::channel(0.0);
    let progress = Progress { steps: steps_tx, rate, answered: Default::default() };
    let cfg = cfg();
    let searched = search::search(
        Offerer::new(vec![Dead], ring(4)),
        &cfg,
        Arrivals::Uniform,
        1,
        &NothingElse,
        &progress,
        &CancellationToken::new(),
    )
    .await;
    drop(progress);
    let mut all = Vec::new();
    while let Some(done) = steps.recv().await {
        all.push(done.step);
    }
    assert_eq!(searched.ended_by, Some(EndedBy::Error));
    assert!(all.is_empty(), "the warm-up shows it; {all:?}");
    let warmup = searched.warmup.expect("the warm-up is recorded");
    assert!(!warmup.settled && warmup.seconds <= 5.0, "its first 5 s show it: {warmup:?}");
    assert!(searched.error.as_deref().is_some_and(|e| e.contains("stopped answering")), "{:?}", searched.error);
}

/// Slow (200 ms, beyond the 50 ms SLO) until `warm_at`, except in one fast stretch `lucky`: a fresh stack whose
/// JIT and caches are still warming, where a short window can look warm by chance.
#[derive(Clone)]
struct Cold {
    start: Instant,
    lucky: (Duration, Duration),
    warm_at: Duration,
}

impl Bank for Cold {
    async fn transfer(&self, _id: Uuid, t: &Transfer) -> Result<Answer, ClientError> {
        let since = Instant::now() - self.start;
        let fast = since >= self.warm_at || (since >= self.lucky.0 && since < self.lucky.1);
        tokio::time::sleep(if fast { Duration::from_millis(5) } else { Duration::from_millis(200) }).await;
        Ok(answer(t))
    }
}

async fn search_cold(double: Cold, cfg: &Search) -> (search::Searched, Vec<bench_results::Step>) {
    let offerer = Offerer::new(vec![double.clone(), double], ring(16));
    let (steps_tx, mut steps) = mpsc::unbounded_channel();
    let (rate, _) = watch::channel(0.0);
    let progress = Progress { steps: steps_tx, rate, answered: Default::default() };
    let searched =
        search::search(offerer, cfg, Arrivals::Uniform, 1, &NothingElse, &progress, &CancellationToken::new()).await;
    drop(progress);
    let mut all = Vec::new();
    while let Some(done) = steps.recv().await {
        all.push(done.step);
    }
    (searched, all)
}

#[tokio::test(start_paused = true)]
async fn the_warm_up_ends_once_its_latencies_settle_and_a_search_whose_never_do_ends_unsettled() {
    // 200 ms a transfer until 15 s (but for a fast stretch from 3 to 5 s), then 5 ms. The warm-up judges the
    // seconds whose transfers have had their 1 s timeout, every 5 s. By hand: at 35 s, 34 s are judged, six
    // batches; the best truncation drops the three slow ones (15 s), not yet in the first half, but the later half
    // (5 ms each) lies within the band (5 ms, a tenth of the 50 ms SLO). At 30 s only five batches are judged.
    let cfg = Search { max_rate: 100.0, max_steps: 6, warmup_max_s: 120.0, ..cfg() };
    let start = Instant::now();
    let double = Cold {
        start,
        lucky: (Duration::from_millis(2_900), Duration::from_millis(5_100)),
        warm_at: Duration::from_secs(15),
    };
    let (searched, steps) = search_cold(double, &cfg).await;
    let warmup = searched.warmup.expect("the warm-up is recorded");
    assert!(warmup.settled && warmup.steady_from_s == Some(15.0), "{warmup:?}");
    assert!((34.5..=35.5).contains(&warmup.seconds), "{warmup:?}");
    assert!(steps[0].passed, "the first step measures a warm system: {:?}", steps[0]);

    // Slower by 8 ms every second, for ever: it never settles, and no step is measured.
    let rising = Rising { start: Instant::now() };
    let offerer = Offerer::new(vec![rising.clone(), rising], ring(16));
    let (steps_tx, mut steps) = mpsc::unbounded_channel();
    let (rate, _) = watch::channel(0.0);
    let progress = Progress { steps: steps_tx, rate, answered: Default::default() };
    let cfg = Search { warmup_max_s: 60.0, ..cfg };
    let searched =
        search::search(offerer, &cfg, Arrivals::Uniform, 1, &NothingElse, &progress, &CancellationToken::new()).await;
    drop(progress);
    assert!(steps.recv().await.is_none(), "no step after a warm-up that did not settle");
    let warmup = searched.warmup.expect("the warm-up is recorded");
    assert!(!warmup.settled && warmup.steady_from_s.is_none(), "{warmup:?}");
    assert!((59.0..=60.5).contains(&warmup.seconds), "it tried until warmup_max_s: {warmup:?}");
    assert_eq!(searched.ended_by, Some(EndedBy::Unsettled));
    assert!(searched.error.as_deref().is_some_and(|e| e.contains("had not settled after")), "{:?}", searched.error);
}

/// 5 ms at first, 8 ms slower for every second since `start`: a system falling further behind.
#[derive(Clone)]
struct Rising {
    start: Instant,
}

impl Bank for Rising {
    async fn transfer(&self, _id: Uuid, t: &Transfer) -> Result<Answer, ClientError> {
        let since = (Instant::now() - self.start).as_secs_f64();
        tokio::time::sleep(Duration::from_secs_f64(0.005 + 0.008 * since)).await;
        Ok(answer(t))
    }
}
