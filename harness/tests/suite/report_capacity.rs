//! Open-model runs in a report: capacity per variant over runs (censored runs shown as bounds, left out of the mean
//! and the tests), capacity at other SLOs, Welch's test on capacity per run, and the page's capacity and
//! latency–throughput charts drawn in headless Chromium. Expected values are computed here, from the inputs.

use crate::support;

use std::path::PathBuf;

use bench_results::Step;
use harness::experiment::Search;
use harness::report::{self, RunRows};

fn step(n: u32, rate: f64, p99: Option<f64>) -> Step {
    Step {
        step: n,
        rate,
        achieved: rate,
        sent: (rate * 10.0) as u64,
        answered: (rate * 10.0) as u64,
        errors: 0,
        timeouts: 0,
        p50_ms: p99.map(|p| p / 5.0),
        p90_ms: p99,
        p99_ms: p99,
        p999_ms: p99,
        max_ms: p99,
        passed: p99.is_some_and(|p| p <= 500.0),
        confirming: false,
        lag_p99_ms: 0.2,
        lag_max_ms: 0.5,
        dwell_s: 10.0,
        drain_s: None,
        t_ms: 0,
        probe: None,
        resources: Default::default(),
        machine_cpu_pct: None,
        drained: None,
        left_out: false,
        stored: None,
    }
}

/// A converged run: steps up to `capacity` meet 500 ms (p99 growing with the rate), the next rate misses it.
fn open_run(variant: &str, i: usize, capacity: f64, censored: bool) -> RunRows {
    let rates = [capacity / 4.0, capacity / 2.0, capacity, capacity * 1.5];
    let steps = rates
        .iter()
        .enumerate()
        .map(|(k, &r)| step(k as u32 + 1, r, if r <= capacity { Some(400.0 * r / capacity) } else { Some(2000.0) }))
        .collect();
    RunRows {
        variant: variant.into(),
        path: PathBuf::from(format!("{variant}/r{i}.jsonl")),
        complete: true,
        censored,
        search: Some(Search::default()),
        steps,
        capacity: Some(capacity),
        interval_s: 1.0,
        ..RunRows::default()
    }
}

fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[test]
fn a_search_that_did_not_converge_is_an_interval_listed_beside_the_mean_and_never_in_it() {
    let converged = [(1000.0, (960.0, 1040.0)), (1040.0, (990.0, 1100.0))];
    let mut runs: Vec<RunRows> = converged
        .iter()
        .enumerate()
        .map(|(i, &(c, ci))| RunRows { capacity_ci95: Some(ci), ..open_run("D", i, c, false) })
        .collect();
    // A knee search out of steps: its estimate (far above the others) and its wide interval.
    runs.push(RunRows {
        capacity: None,
        capacity_ci95: Some((900.0, 2100.0)),
        unconverged: Some(report::Unconverged { estimate: Some(1500.0) }),
        ..open_run("D", 2, 1500.0, false)
    });
    // A bisection that ended in an error: steps at 250, 500, 1000 (missed) and 750; by hand, the capacity lies
    // between 750 (every step up to it met the SLO) and 1000 (the lowest rate that missed it).
    let mut steps = vec![step(1, 250.0, Some(50.0)), step(2, 500.0, Some(100.0)), step(3, 1000.0, Some(900.0))];
    steps.push(step(4, 750.0, Some(300.0)));
    runs.push(RunRows {
        capacity: None,
        unconverged: Some(report::Unconverged { estimate: None }),
        steps,
        ..open_run("D", 3, 0.0, false)
    });
    // A run whose warm-up never settled: no step, nothing measured.
    runs.push(RunRows { capacity: None, unsettled: true, steps: Vec::new(), ..open_run("D", 4, 0.0, false) });
    runs.extend([900.0, 950.0].iter().enumerate().map(|(i, &c)| open_run("E", i, c, false)));
    let built = report::build("capacity", &runs, report::ALPHA);

    let d = built.capacity.iter().find(|c| c.variant == "D").expect("D");
    assert_eq!((d.figures.n, d.figures.mean), (2, Some(1020.0)), "only the converged runs are averaged");
    assert!(d.figures.censored && d.figures.censored_runs == 2, "{:?}", d.figures);
    assert_eq!(d.figures.within, vec![(900.0, Some(2100.0)), (750.0, Some(1000.0))]);
    let within: Vec<_> = d.runs.iter().filter(|r| r.bound == report::capacity::Bound::Within).collect();
    assert_eq!(within.len(), 2, "both are listed: {:?}", d.runs);
    assert!(within.iter().all(|r| r.censored));
    // The within-run spread: the converged runs' mean half-width, (40 + 55) / 2.
    assert_eq!(d.within_run_half_width, Some(47.5));
    let text = d.figures.describe(" tx/s");
    assert!(text.contains("2 run(s) did not converge, within 900 to 2100, 750 to 1000 tx/s"), "{text}");
    assert!(text.contains("1 run(s) never settled"), "{text}");
    assert!(d.runs.iter().any(|r| r.bound == report::capacity::Bound::Unsettled && r.capacity.is_none()));
    assert!(!built.comparisons.iter().any(|c| c.metric == "capacity"), "D's capacity is not a sample of exact values");
    assert!(
        built.not_compared.iter().any(|n| n.starts_with("capacity, D against E") && n.contains("did not converge")),
        "{:?}",
        built.not_compared
    );
}

#[test]
fn capacity_is_the_mean_over_runs_and_censored_runs_are_bounds() {
    let (a, b) = ([1000.0, 1100.0, 1050.0], [700.0, 760.0, 720.0]);
    let mut runs: Vec<RunRows> = a.iter().enumerate().map(|(i, &c)| open_run("A", i, c, false)).collect();
    runs.extend(b.iter().enumerate().map(|(i, &c)| open_run("B", i, c, false)));
    runs.push(open_run("C", 0, 900.0, false));
    runs.push(open_run("C", 1, 16000.0, true));
    let built = report::build("capacity", &runs, report::ALPHA);

    let by = |v: &str| built.capacity.iter().find(|c| c.variant == v).expect("variant");
    let (mean, se) = mean_se(&a);
    let ca = by("A");
    assert!((ca.figures.mean.unwrap() - mean).abs() < 1e-9 && (ca.figures.se.unwrap() - se).abs() < 1e-9);
    assert_eq!((ca.figures.n, ca.figures.censored_runs, ca.slo_p99_ms), (3, 0, Some(500.0)));
    let cc = by("C");
    assert_eq!(
        (cc.figures.n, cc.figures.censored_runs, cc.figures.mean),
        (1, 1, Some(900.0)),
        "the bound is left out of the mean"
    );
    assert!(cc.runs.iter().any(|r| r.censored && r.capacity == Some(16000.0)), "but shown");

    // At 250 ms: steps meet it while 400 × rate / capacity ≤ 250, i.e. at capacity / 4 and / 2 only.
    let at_250 = ca.at_slos.iter().find(|s| s.slo_p99_ms == 250.0).expect("250 ms");
    let halves: Vec<f64> = a.iter().map(|c| c / 2.0).collect();
    assert!((at_250.figures.mean.unwrap() - mean_se(&halves).0).abs() < 1e-9);
    // At 1,000 ms every measured step up to the capacity meets it and the next misses it by far: same as at 500.
    let at_1000 = ca.at_slos.iter().find(|s| s.slo_p99_ms == 1000.0).expect("1000 ms");
    assert!((at_1000.figures.mean.unwrap() - mean).abs() < 1e-9 && at_1000.bounded_below == 0);

    // Welch's difference and its 95 % CI between A and B over runs, computed here (Welch–Satterthwaite df).
    let (ma, sa) = mean_se(&a);
    let (mb, sb) = mean_se(&b);
    let se = (sa * sa + sb * sb).sqrt();
    let df = (sa * sa + sb * sb).powi(2) / (sa.powi(4) / 2.0 + sb.powi(4) / 2.0);
    let half = statrs::distribution::ContinuousCDF::inverse_cdf(
        &statrs::distribution::StudentsT::new(0.0, 1.0, df).unwrap(),
        0.975,
    ) * se;
    let ab =
        built.comparisons.iter().find(|c| c.metric == "capacity" && c.a == "A" && c.b == "B").expect("A against B");
    let ci = ab.ci95.expect("a CI");
    assert!(
        (ab.diff - (ma - mb)).abs() < 1e-9
            && (ci.0 - (ma - mb - half)).abs() < 1e-6
            && (ci.1 - (ma - mb + half)).abs() < 1e-6,
        "{ab:?}"
    );
    assert!(ab.p.unwrap() < 0.01 && ab.significant && ab.words.contains("A is higher than B"), "{}", ab.words);
    assert!(!built.comparisons.iter().any(|c| c.metric == "capacity" && (c.a == "C" || c.b == "C")), "C has a bound");
    assert!(
        built.not_compared.iter().any(|n| n.starts_with("capacity, A against C") && n.contains("lower bound")),
        "{:?}",
        built.not_compared
    );
    assert_eq!(built.curve.len(), 4 * runs.len(), "every step is a point of the curve");
}

#[test]
fn the_page_draws_capacity_and_the_latency_throughput_curve() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut runs: Vec<RunRows> = [1000.0, 1100.0]
        .iter()
        .enumerate()
        .map(|(i, &c)| RunRows { capacity_ci95: Some((c - 50.0, c + 50.0)), ..open_run("linger.ms=0", i, c, false) })
        .collect();
    runs.push(RunRows {
        capacity: None,
        unconverged: Some(report::Unconverged { estimate: None }),
        ..open_run("linger.ms=0", 2, 900.0, false)
    });
    let built = report::build("curve", &runs, report::ALPHA);
    let (html, _) = report::html::write(&built, &dir.path().join("report.html")).expect("written");
    let dom = support::headless(&html, &["--dump-dom"]);
    let (out, err) = (String::from_utf8_lossy(&dom.stdout), String::from_utf8_lossy(&dom.stderr));
    let attribute = |name: &str| {
        out.split(&format!("{name}=\"")).nth(1).and_then(|s| s.split('"').next()).unwrap_or("").to_string()
    };
    assert_eq!(attribute("data-capacity-drawn"), "3", "one mark per run, the unconverged one too; console:\n{err}");
    assert!(out.contains("± 50 tx/s") && out.contains("[900, 1350]"), "within-run spread and the unconverged interval");
    assert_eq!(attribute("data-curve-drawn"), "24", "p50 and p99 of 12 steps, 4 per run; console:\n{err}");
    assert_eq!(attribute("data-fit-drawn"), "12", "every step beside its run's fitted curve; console:\n{err}");
    assert!(
        out.contains("Capacity per variant") && out.contains("1050.0 ± 50.0 tx/s (n = 2"),
        "the table shows mean ± SE over runs"
    );
}

#[test]
fn each_step_carries_its_runs_fitted_p99_and_a_stall_is_pooled_with_its_neighbour() {
    let mut run = open_run("linger.ms=0", 0, 1000.0, false);
    // 250, 500, 1000, 1500 tx/s at 100, 200, 400, 2000 ms; a stall makes the 500 tx/s step 600 ms.
    run.steps[1].p99_ms = Some(600.0);
    run.steps[3].left_out = true;
    let built = report::build("fit", &[run], report::ALPHA);
    let fitted: Vec<Option<f64>> = built.curve.iter().map(|p| p.fitted_p99_ms).collect();
    // 600 then 400 ms break the order: pooled, both take the median of their logs, √(600 × 400) ms; the step left
    // out after an unverified drain is not fitted.
    let pooled = (600.0_f64 * 400.0).sqrt();
    let expected = [Some(100.0), Some(pooled), Some(pooled), None];
    for (got, want) in fitted.iter().zip(expected) {
        assert!(
            got.zip(want).is_none_or(|(g, w)| (g - w).abs() < 1e-6) && got.is_some() == want.is_some(),
            "{fitted:?}"
        );
    }
}

#[test]
fn closed_runs_ended_by_max_loops_are_bounds_not_compared() {
    let closed = |variant: &str, i: usize, generators: u32, censored: bool| RunRows {
        variant: variant.into(),
        path: PathBuf::from(format!("{variant}/c{i}.jsonl")),
        complete: true,
        sustained: Some(generators),
        censored,
        interval_s: 1.0,
        ..RunRows::default()
    };
    // linger.ms=0 and 100 both stopped by max_loops at 90 generators, as the fast ramp did here: "90 ± 0" before.
    let runs = vec![
        closed("0", 0, 90, true),
        closed("0", 1, 90, true),
        closed("100", 0, 90, true),
        closed("100", 1, 90, true),
    ];
    let built = report::build("censored", &runs, report::ALPHA);
    for v in &built.variants {
        let s = v.sustained.as_ref().expect("closed runs have a sustained load");
        assert_eq!((s.n, s.censored, s.censored_runs, s.at_least, s.mean), (0, true, 2, Some(90.0), None), "{v:?}");
    }
    assert!(!built.comparisons.iter().any(|c| c.metric == "sustained generators"), "bounds are not tested as if exact");
    assert!(built
        .not_compared
        .iter()
        .any(|n| n.contains("sustained generators, 0 against 100") && n.contains("lower bounds")));
    let page = harness::report::html::render(&built).expect("page");
    assert!(page.contains("≥ 90 in 2 run(s) stopped by a cap"), "the page shows the bound");
}
