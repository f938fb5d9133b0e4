//! The knee search against a double of the bank whose truth is known (`harness::testing::queue`): a cold start,
//! capacity falling with stored transfers, a stall every minute, backlog carried between steps. The truth is what
//! a 5-minute run at a fixed rate holds at the SLO, worked out by the double alone. The answer must be the
//! system's, not the path's: the same from any start rate and unmoved by one bad step; the bisection as bench ran
//! it before (after a 30 s warm-up) is run beside it to show the double reproduces what went wrong on real stacks.

use std::sync::OnceLock;

use bench_results::EndedBy;
use harness::experiment::Search;
use harness::run::search::{steady, Crossing, Knee, Next, Point, Searcher};
use harness::testing::queue::{Queue, Shape};

const SLO_MS: f64 = 500.0;
const PRELOAD: u64 = 200_000;
const CAPACITY: f64 = 1000.0;

fn shape() -> Shape {
    Shape::hard(CAPACITY)
}

fn truth() -> f64 {
    static TRUTH: OnceLock<f64> = OnceLock::new();
    *TRUTH.get_or_init(|| Queue::truth(&shape(), SLO_MS, PRELOAD, 300.0, 3))
}

/// The knee search's settings: 30 s judged per step (15 s steps judge a rate the system holds for seconds).
fn cfg(start_rate: f64) -> Search {
    Search {
        start_rate,
        warmup_s: 5.0,
        dwell_s: 30.0,
        slo_p99_ms: SLO_MS,
        timeout_ms: 5000,
        max_steps: 24,
        precision: 0.03,
        drain_timeout_s: 5.0,
        // The double's cold start (90 s, quadratic) takes its latencies 100 to 220 s to settle at these rates.
        warmup_max_s: 300.0,
        ..Search::default()
    }
}

fn passed(cfg: &Search, rate: f64, p99_ms: Option<f64>, achieved: f64) -> bool {
    p99_ms.is_some_and(|p| p <= cfg.slo_p99_ms) && achieved >= cfg.min_achieved * rate
}

/// A fresh double after bench's first warm-up: `start_rate` until its per-second latencies settle, judged every
/// 5 s as bench judges them, at most `warmup_max_s`; `None` when they never do (the run ends unsettled).
fn warmed(cfg: &Search, seed: u64) -> Option<Queue> {
    let mut q = Queue::new(shape(), seed, PRELOAD);
    let mut series = Vec::new();
    while series.len() + steady::BATCH <= cfg.warmup_max_s as usize {
        series.extend(q.seconds(cfg.start_rate, steady::BATCH));
        let limits = steady::Limits { timeout_ms: cfg.timeout_ms as f64, band_ms: cfg.slo_p99_ms / 10.0 };
        if steady::settled_after(&series, limits).is_some() {
            return Some(q);
        }
    }
    None
}

/// A fresh double after the warm-up bench had before the steady-state rule: 30 s at `start_rate`, which never
/// settles a double this cold.
fn warmed_for_30_s(cfg: &Search, seed: u64) -> Queue {
    let mut q = Queue::new(shape(), seed, PRELOAD);
    q.step(cfg.start_rate, 0.0, 30.0);
    q
}

struct Found {
    capacity: Option<f64>,
    interval: Option<Crossing>,
    ended_by: EndedBy,
}

/// A knee search from `start` (a share of the truth); `fail` forces the step of that number (from 1) to fail.
fn knee(seed: u64, start: f64, fail: Option<usize>) -> Found {
    let cfg = cfg(start * truth());
    let Some(mut q) = warmed(&cfg, seed) else {
        return Found { capacity: None, interval: None, ended_by: EndedBy::Unsettled };
    };
    let mut k = Knee::new(cfg.clone(), seed);
    let (mut next, mut n) = (k.first(), 0);
    while let Next::Step { rate, .. } = next {
        n += 1;
        let m = q.step(rate, cfg.warmup_s, cfg.dwell_s);
        let point = if fail == Some(n) {
            Point { rate, p99_ms: None, passed: false }
        } else {
            Point { rate, p99_ms: m.p99_ms, passed: passed(&cfg, rate, m.p99_ms, m.achieved) }
        };
        next = k.next(point);
        q.drain(30.0);
    }
    let Next::Done { ended_by, capacity } = next else { unreachable!("the loop ends on Done") };
    Found { capacity, interval: k.estimate(), ended_by }
}

/// The bisection as `bench run` drove it before the knee search and the steady-state warm-up (15 s steps, a drain
/// of at most 5 s after a failed one).
fn bisection(seed: u64, start: f64) -> Option<f64> {
    let cfg = Search { dwell_s: 15.0, ..cfg(start * truth()) };
    let mut q = warmed_for_30_s(&cfg, seed);
    let mut s = Searcher::new(cfg.clone());
    let mut next = s.first();
    while let Next::Step { rate, confirming } = next {
        let m = q.step(rate, cfg.warmup_s, cfg.dwell_s);
        let ok = passed(&cfg, rate, m.p99_ms, m.achieved);
        next = s.next(rate, ok, confirming);
        if !ok {
            q.drain(cfg.drain_timeout_s);
        }
    }
    let Next::Done { capacity, .. } = next else { unreachable!("the loop ends on Done") };
    capacity
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn capacities(seeds: std::ops::Range<u64>, start: f64, fail: Option<usize>) -> Vec<f64> {
    seeds
        .map(|seed| {
            let found = knee(seed, start, fail);
            assert_eq!(found.ended_by, EndedBy::Converged, "seed {seed} from {start}");
            found.capacity.expect("a converged search has a capacity")
        })
        .collect()
}

#[test]
fn from_any_start_rate_the_knee_search_finds_the_same_capacity_and_the_bisection_does_not() {
    let truth = truth();
    let mut medians = Vec::new();
    for start in [0.05, 0.1, 0.2, 0.3] {
        let found = capacities(0..20, start, None);
        let lowest = found.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(lowest >= 0.8 * truth, "from {start} of the truth ({truth:.0}) one run found {lowest:.0}");
        medians.push(median(found));
    }
    let (lo, hi) = medians.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), m| (lo.min(*m), hi.max(*m)));
    println!("truth {truth:.1} tx/s; knee medians from 5, 10, 20, 30 % of it: {medians:.1?}");
    assert!(hi / lo - 1.0 <= 0.02, "medians from the four start rates differ by more than 2 %: {medians:?}");
    // The double reproduces the real stacks' failure: a cold first step caps today's search near its start rate.
    let capped: Vec<f64> = [0.2, 0.3].iter().filter_map(|start| bisection(1, *start)).collect();
    println!("bisection from 20 and 30 %: {capped:.1?}");
    assert!(capped.iter().any(|c| *c < 0.8 * truth), "{capped:?}");
}

#[test]
fn the_knee_search_is_accurate_and_reproducible_over_seeds() {
    let truth = truth();
    let found = capacities(0..50, 0.1, None);
    let errors: Vec<f64> = found.iter().map(|c| (c - truth).abs() / truth).collect();
    let median_error = median(errors);
    let n = found.len() as f64;
    let mean = found.iter().sum::<f64>() / n;
    let sd = (found.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    println!(
        "truth {truth:.1}: 50 seeds, mean {mean:.1} ± {:.1} SE, median |error| {:.2} %, CV {:.2} %",
        sd / n.sqrt(),
        median_error * 100.0,
        sd / mean * 100.0
    );
    assert!(median_error <= 0.03, "median |estimate − truth| / truth = {median_error:.4}");
    assert!(sd / mean <= 0.05, "CV {:.4}", sd / mean);
}

#[test]
fn one_failed_step_among_the_first_four_moves_the_estimate_little() {
    let undisturbed = median(capacities(0..20, 0.1, None));
    for step in 1..=4 {
        let disturbed = median(capacities(0..20, 0.1, Some(step)));
        println!("step {step} forced to fail: median {disturbed:.1} against {undisturbed:.1}");
        assert!(
            (disturbed / undisturbed - 1.0).abs() <= 0.02,
            "a failed step {step} moved the median from {undisturbed:.1} to {disturbed:.1}"
        );
    }
}

/// The steps a knee search from `start` offered, in order, and whether each passed.
fn knee_steps(seed: u64, start: f64) -> Vec<(f64, bool)> {
    let cfg = cfg(start * truth());
    let mut q = warmed(&cfg, seed).expect("settled");
    let mut k = Knee::new(cfg.clone(), seed);
    let (mut next, mut steps) = (k.first(), Vec::new());
    while let Next::Step { rate, .. } = next {
        let m = q.step(rate, cfg.warmup_s, cfg.dwell_s);
        let ok = passed(&cfg, rate, m.p99_ms, m.achieved);
        steps.push((rate, ok));
        next = k.next(Point { rate, p99_ms: m.p99_ms, passed: ok });
        q.drain(30.0);
    }
    steps
}

#[test]
fn locating_the_knee_never_goes_above_a_failed_rate_nor_far_past_the_truth() {
    let truth = truth();
    let growth = cfg(truth).growth;
    for start in [0.05, 0.3] {
        for seed in 0..20 {
            let steps = knee_steps(seed, start);
            let highest = steps.iter().map(|s| s.0).fold(0.0, f64::max);
            assert!(highest <= growth * truth, "seed {seed} from {start}: offered {highest:.0}: {steps:?}");
            // Above the first failed rate only once a step at or above it has passed (the fail was noise).
            let Some(first_fail) = steps.iter().position(|s| !s.1) else { continue };
            let failed = steps[first_fail].0;
            let mut cleared = false;
            for (rate, ok) in &steps[first_fail + 1..] {
                assert!(cleared || *rate <= failed, "seed {seed} from {start}: {rate:.0} after {failed:.0} failed");
                cleared |= *ok && *rate >= failed;
            }
        }
    }
}

/// Calibration: a search's 95 % interval must cover the truth in at least 90 % of 200 searches.
#[test]
fn the_interval_of_a_converged_search_covers_the_truth_in_nine_searches_of_ten() {
    let truth = truth();
    let found: Vec<Found> = (0..200).map(|seed| knee(seed, 0.1, None)).collect();
    let mut covered = 0;
    for f in &found {
        let c = f.interval.expect("an interval");
        let capacity = f.capacity.expect("a capacity");
        assert!(c.low <= capacity && capacity <= c.high && c.relative_half_width() < 0.1, "{c:?}");
        covered += usize::from(c.low <= truth && truth <= c.high);
    }
    println!("the 95 % interval covered the truth ({truth:.1}) in {covered} of {} searches", found.len());
    assert!(covered * 10 >= found.len() * 9, "covered in {covered} of {}", found.len());
}

/// Power and false positives of the report's capacity comparison, paired over rounds. Each simulated experiment
/// runs variants A and B once in each of 5 rounds; a round's machine makes both faster or slower together (a
/// factor of SD 30 %), and each run misses its variant's capacity by one of the knee search's own errors on the
/// double (its estimates over 40 seeds against the truth). Capacity is the headline family, so its comparison is
/// adjusted with nothing else: however many latency levels a report compares, this is its test. A 10 % difference
/// must be found (p < 0.05) in at least 80 % of 200 experiments; with none, at most 5 % of 2,000 experiments may
/// find one, give or take that rate's own sampling error (one-sided 95 %: 5 % + 1.645 SE).
#[test]
fn five_paired_rounds_find_a_ten_percent_difference_and_seldom_one_that_is_not_there() {
    use harness::report::{compare, estimate::Estimate};
    use rand::distributions::Distribution;
    use rand::{Rng, SeedableRng};

    let errors: Vec<f64> = capacities(100..140, 0.1, None).iter().map(|c| c / truth()).collect();
    let found = |difference: f64, experiments: u32| -> f64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let normal = statrs::distribution::Normal::new(0.0, 1.0).expect("a standard normal");
        let mut significant = 0;
        for _ in 0..experiments {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for round in 0..5 {
                let machine = (1.0 + 0.3 * normal.sample(&mut rng)).max(0.1);
                let (error_a, error_b) =
                    (errors[rng.gen_range(0..errors.len())], errors[rng.gen_range(0..errors.len())]);
                a.push((CAPACITY * (1.0 + difference) * machine * error_a, Some(round.to_string())));
                b.push((CAPACITY * machine * error_b, Some(round.to_string())));
            }
            let (outcome, rounds) =
                compare::paired(&Estimate::over_blocks(a), &Estimate::over_blocks(b)).expect("every round ran both");
            assert_eq!(rounds, 5);
            significant += u32::from(outcome.p.is_some_and(|p| p < 0.05));
        }
        f64::from(significant) / f64::from(experiments)
    };
    let power = found(0.10, 200);
    let false_positives = found(0.0, 2000);
    eprintln!("power {:.1} %, false positives {:.2} %", 100.0 * power, 100.0 * false_positives);
    assert!(power >= 0.8, "a 10 % difference found in {:.1} % of experiments", 100.0 * power);
    let bound = 0.05 + 1.645 * (0.05 * 0.95 / 2000.0_f64).sqrt();
    assert!(false_positives <= bound, "{:.2} % false positives", 100.0 * false_positives);
}
