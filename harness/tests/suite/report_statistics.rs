//! The report's statistics against values computed here, by hand or by textbook formulas: runs (not rows) are the
//! samples, timeouts sit in the tail, throughput comes from time, Holm adjusts the report's whole family, zero
//! variance is handled, and probes of different kinds are never compared.

use crate::support::{bench, Within, QUICK};

use std::path::PathBuf;

use harness::report::{self, LevelRow, RunRows};
use statrs::distribution::{ContinuousCDF, StudentsT};

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn var(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)
}

/// Welch's two-sided p, written out from the textbook formulas.
fn welch_p(a: &[f64], b: &[f64]) -> f64 {
    let (sa, sb) = (var(a) / a.len() as f64, var(b) / b.len() as f64);
    let t = (mean(a) - mean(b)) / (sa + sb).sqrt();
    let df = (sa + sb).powi(2) / (sa.powi(2) / (a.len() as f64 - 1.0) + sb.powi(2) / (b.len() as f64 - 1.0));
    2.0 * (1.0 - StudentsT::new(0.0, 1.0, df).unwrap().cdf(t.abs()))
}

/// A closed run at one generator level: `latencies` as probe loops one second apart (None: a timeout).
fn run(variant: &str, i: usize, generators: u32, latencies: &[Option<f64>]) -> RunRows {
    let rows = latencies
        .iter()
        .enumerate()
        .map(|(k, &probe_ms)| LevelRow {
            generators,
            probe_ms,
            t_ms: Some(1_000 * (k as i64 + 1)),
            ..LevelRow::default()
        })
        .collect();
    RunRows {
        variant: variant.into(),
        path: PathBuf::from(format!("{variant}/r{i}.jsonl")),
        rows,
        sustained: Some(generators),
        interval_s: 1.0,
        complete: true,
        probe_kind: "graphql".into(),
        timeout_ms: 5000.0,
        ..RunRows::default()
    }
}

#[test]
fn pooled_rows_would_call_a_difference_that_runs_do_not() {
    // Each run has its own level (its stack), rows vary little around it: 201 rows per run, −1, 0, +1 ms in turn.
    let rows = |centre: f64| -> Vec<Option<f64>> { (0..201).map(|k| Some(centre + f64::from(k % 3) - 1.0)).collect() };
    let (a_runs, b_runs) = ([40.0, 60.0, 50.0], [55.0, 45.0, 65.0]);
    let mut inputs: Vec<RunRows> = a_runs.iter().enumerate().map(|(i, &c)| run("A", i, 1, &rows(c))).collect();
    inputs.extend(b_runs.iter().enumerate().map(|(i, &c)| run("B", i, 1, &rows(c))));
    let pooled =
        |centres: &[f64]| -> Vec<f64> { centres.iter().flat_map(|&c| rows(c).into_iter().flatten()).collect() };
    let pooled_p = welch_p(&pooled(&a_runs), &pooled(&b_runs));
    assert!(pooled_p < 1e-9, "the pooled-row test calls it ({pooled_p})");

    let built = report::build("runs", &inputs, 0.05);
    let c = built.comparisons.iter().find(|c| c.metric == "probe latency").expect("a comparison at 1 generator");
    // Over runs: each run's mean is its centre (the ±1 ms average out), so the test is on 40, 60, 50 vs 55, 45, 65.
    let expected = welch_p(&a_runs, &b_runs);
    assert!((c.p.unwrap() - expected).abs() < 1e-9 && expected > 0.5, "{c:?} against {expected}");
    assert!(!c.significant && c.words.contains("no clear difference"), "{}", c.words);
    assert_eq!((c.n_a, c.n_b, c.level, c.level_unit), (3, 3, Some(1.0), Some("generators")));
    // The error bar is the CI over runs: 50 ± t(0.975, 2) × sd/√3, with sd = 10 and t = 4.3027 from a table.
    let level = built.levels.iter().find(|l| l.variant == "A").expect("A's level");
    let (lo, hi) = level.probe_runs.ci95.expect("a CI");
    let half = 4.3027 * 10.0 / 3f64.sqrt();
    assert!((lo - (50.0 - half)).abs() < 1e-3 && (hi - (50.0 + half)).abs() < 1e-3, "({lo}, {hi})");
}

#[test]
fn timeouts_move_the_p99_above_the_timeout() {
    // 98 answers (1..=98 ms) and 2 timeouts per run: the 99th percentile of 200 loops is a timeout.
    let with_timeouts: Vec<Option<f64>> = (1..=98).map(|ms| Some(f64::from(ms))).chain([None, None]).collect();
    let inputs = vec![run("v", 0, 3, &with_timeouts), run("v", 1, 3, &with_timeouts)];
    let built = report::build("tail", &inputs, 0.05);
    let level = &built.levels[0];
    assert_eq!((level.probe.p99, level.probe.p99_above_ms, level.timeouts), (None, Some(5000.0), 4));
    let json = serde_json::to_value(level).expect("json");
    assert!(json["probe"]["p99"].is_null() && json["probe"]["p99_above_ms"] == 5000.0, "{}", json["probe"]);
    assert!(report::html::render(&built).expect("page").contains("&gt; 5000 (timeout)"));
    // The same loops answered at 99 and 100 ms instead: the 99th of 200 sorted values (rank 198) is 99 ms.
    let answered: Vec<Option<f64>> = (1..=98).map(|ms| Some(f64::from(ms))).chain([Some(99.0), Some(100.0)]).collect();
    let built = report::build("tail", &[run("v", 0, 3, &answered), run("v", 1, 3, &answered)], 0.05);
    let p99 = built.levels[0].probe.p99.expect("a number");
    assert!((p99 - 99.0).abs() < 0.1 && p99 <= 100.0, "{p99}");
}

#[test]
fn slow_loops_lower_the_throughput() {
    // Ten loops ending at 1..=10 s, each with 4 generator answers: 10 + 40 transactions over 10 s = 5 tx/s.
    let mut steady = run("v", 0, 2, &[Some(10.0); 10]);
    for row in &mut steady.rows {
        row.generator_ms = vec![5.0; 4];
    }
    // The same loops, but the fifth took 6 s instead of 1 (a slow answer): 50 transactions over 15 s.
    let mut slow = steady.clone();
    slow.path = PathBuf::from("v/r1.jsonl");
    for row in slow.rows.iter_mut().skip(4) {
        row.t_ms = row.t_ms.map(|t| t + 5_000);
    }
    let tps = |r: &RunRows| report::build("tps", std::slice::from_ref(r), 0.05).levels[0].tps.expect("tps");
    assert!((tps(&steady) - 5.0).abs() < 1e-9, "{}", tps(&steady));
    assert!((tps(&slow) - 50.0 / 15.0).abs() < 1e-9, "{}", tps(&slow));
    let both = report::build("tps", &[steady, slow], 0.05);
    let runs = &both.levels[0].tps_runs;
    assert_eq!(runs.n, 2);
    assert!((runs.mean.unwrap() - (5.0 + 50.0 / 15.0) / 2.0).abs() < 1e-9, "{runs:?}");
}

/// Holm by the textbook: sort ascending, multiply the i-th (from 0) by m − i, carry the maximum, cap at 1.
fn holm_by_hand(ps: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..ps.len()).collect();
    order.sort_by(|&x, &y| ps[x].total_cmp(&ps[y]));
    let mut expected = vec![0.0; ps.len()];
    let mut carried: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        carried = carried.max((ps[i] * (ps.len() - rank) as f64).min(1.0));
        expected[i] = carried;
    }
    expected
}

#[test]
fn holm_adjusts_the_headline_and_the_latencies_each_in_their_own_family() {
    // Three variants, five levels each: 3 pairs × 5 levels of latency, plus 3 of sustained generators.
    let mut inputs = Vec::new();
    for (v, offset) in [("A", 0.0), ("B", 3.0), ("C", 9.0)] {
        for i in 0..3 {
            for level in 1..=5u32 {
                let jitter = [0.0, 2.5, -1.5][i] * f64::from(level);
                let mut r =
                    run(v, i * 10 + level as usize, level, &[Some(20.0 + offset + jitter + f64::from(level)); 5]);
                r.sustained = Some(10 + i as u32 + (offset as u32));
                inputs.push(r);
            }
        }
    }
    let built = report::build("family", &inputs, 0.05);
    for (family, metrics, size) in
        [("headline", vec!["sustained generators"], 3), ("latency", vec!["probe latency"], 15)]
    {
        let members: Vec<_> = built.comparisons.iter().filter(|c| metrics.contains(&c.metric.as_str())).collect();
        assert!(members.iter().all(|c| c.family == family), "{family}");
        let ps: Vec<f64> = members.iter().filter_map(|c| c.p).collect();
        assert_eq!(ps.len(), size, "{family}");
        let declared = built.families.iter().find(|f| f.name == family).expect("the family is listed");
        assert_eq!(declared.size, size, "{family}");
        let adjusted: Vec<f64> = members.iter().filter_map(|c| c.p_adjusted).collect();
        for (got, want) in adjusted.iter().zip(&holm_by_hand(&ps)) {
            assert!((got - want).abs() < 1e-12, "{family}: {got} vs {want}");
        }
    }
    for c in &built.comparisons {
        assert_eq!(c.significant, c.p_adjusted.is_some_and(|p| p < 0.05), "{}", c.words);
    }
}

#[test]
fn zero_variance_is_no_difference_or_stated() {
    let same = |v: &str, g: u32| (0..3).map(|i| run(v, i, g, &[Some(10.0); 4])).collect::<Vec<_>>();
    let mut inputs = same("A", 30);
    inputs.extend(same("B", 30));
    inputs.extend(same("C", 36));
    let built = report::build("flat", &inputs, 0.05);
    let sustained = |a: &str, b: &str| {
        built
            .comparisons
            .iter()
            .find(|c| c.metric == "sustained generators" && c.a == a && c.b == b)
            .cloned()
            .expect("compared")
    };
    let ab = sustained("A", "B");
    assert_eq!((ab.diff, ab.p, ab.significant), (0.0, Some(1.0), false), "{}", ab.words);
    let ac = sustained("A", "C");
    assert_eq!((ac.diff, ac.p, ac.ci95, ac.significant), (-6.0, None, None, false));
    assert!(ac.words.contains("differ in every run") && ac.words.contains("neither varies"), "{}", ac.words);
}

#[test]
fn probes_of_different_kinds_are_never_compared() {
    let mut inputs: Vec<RunRows> = (0..3).map(|i| run("graphql", i, 2, &[Some(10.0 + i as f64); 5])).collect();
    let mut browser: Vec<RunRows> = (0..3).map(|i| run("browser", i, 2, &[Some(300.0 + i as f64); 5])).collect();
    for r in &mut browser {
        r.probe_kind = "browser".into();
    }
    inputs.extend(browser);
    let built = report::build("kinds", &inputs, 0.05);
    assert!(built.comparisons.is_empty(), "{:?}", built.comparisons);
    assert!(
        built.not_compared.iter().any(|n| n.contains("browser (browser probe) against graphql (graphql probe)")),
        "{:?}",
        built.not_compared
    );
}

#[test]
fn disturbed_runs_are_flagged_and_left_out_when_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files: Vec<PathBuf> = (1..=3u32)
        .map(|repeat| {
            let run = harness::testing::synthetic::Synthetic {
                experiment: "noisy",
                variant: "v",
                repeat,
                hostname: "h",
                loops: 60,
                loops_per_generator: 10,
                containers: &[],
                base_ms: 10.0,
                seed: u64::from(repeat),
            };
            run.write(dir.path()).expect("synthetic run")
        })
        .collect();
    // The second run shared the machine with a compiler: 12 % of it went to neither the stack nor bench.
    let text = std::fs::read_to_string(&files[1]).expect("read");
    let mut lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let end = lines.last_mut().expect("end line");
    end["interference"] = serde_json::json!({ "mean_pct": 12.0, "max_pct": 30.0, "samples": 6 });
    std::fs::write(&files[1], lines.iter().map(|l| l.to_string() + "\n").collect::<String>()).expect("write");

    let report = |extra: &[&str]| {
        let out = bench()
            .current_dir(dir.path())
            .args(["report", "noisy", "--out", "r.html"])
            .args(extra)
            .output_within(QUICK);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).expect("json")).expect("json");
        (String::from_utf8_lossy(&out.stdout).into_owned(), json)
    };
    let (out, json) = report(&[]);
    assert!(out.contains("another program used 12.0 % of the machine") && out.contains("kept"), "{out}");
    assert_eq!(json["variants"][0]["complete"], 3);
    assert_eq!(json["runs"].as_array().expect("runs").iter().filter(|r| r["disturbed"] == true).count(), 1);
    let (out, json) = report(&["--exclude-disturbed"]);
    assert!(out.contains("left out"), "{out}");
    assert_eq!(
        (json["variants"][0]["complete"].as_u64(), json["variants"][0]["excluded"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(json["variants"][0]["sustained"]["n"], 2, "the disturbed run is not in the figures");
}

#[test]
fn memory_growth_is_a_slope_per_run_after_the_first_third() {
    // Three 30-minute runs sampled every 30 s. bench fills 400 MiB over the first 10 minutes, then grows 3, 6 and 9
    // MiB per 10 minutes (0.15, 0.3, 0.45 MiB per sample) with ±1 MiB alternating noise; kafka-1 stays at 700 MiB.
    let runs: Vec<RunRows> = [0.15, 0.3, 0.45]
        .iter()
        .enumerate()
        .map(|(i, per_sample)| {
            let mut r = run("soak", i, 0, &vec![Some(10.0); 61]);
            for (k, row) in r.rows.iter_mut().enumerate() {
                let warm = (k as f64 / 20.0).min(1.0) * 400.0;
                let bench = warm + per_sample * (k.saturating_sub(20)) as f64 + if k % 2 == 0 { 1.0 } else { -1.0 };
                row.t_ms = Some(30_000 * k as i64);
                row.resources =
                    Some([("bench".to_string(), (1.0, bench)), ("kafka-1".to_string(), (5.0, 700.0))].into());
            }
            r
        })
        .collect();
    let built = report::build("soak", &runs, 0.05);
    let part = |name: &str| {
        built.memory.iter().find(|m| m.part == name).unwrap_or_else(|| panic!("{name}: {:?}", built.memory))
    };
    let bench = &part("bench").slope_mib_per_10min;
    // The alternating noise shifts each fitted slope by the same tiny amount in every run, so the SE over runs is
    // that of 3, 6, 9: sd 3, SE 3/√3.
    assert_eq!(bench.n, 3);
    assert!((bench.mean.unwrap() - 6.0).abs() < 0.1, "{bench:?}");
    assert!((bench.se.unwrap() - 3.0 / 3f64.sqrt()).abs() < 1e-9, "{bench:?}");
    assert!(part("kafka-1").slope_mib_per_10min.mean.is_some_and(|m| m.abs() < 1e-9), "a flat part has no slope");
    let page = report::html::render(&built).expect("page");
    assert!(page.contains("Memory over the run") && page.contains("kafka-1"), "the page shows the trends");
}
