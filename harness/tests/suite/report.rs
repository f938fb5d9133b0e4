//! Reports: figures against independently computed values (including the 2019 aggregation of the published
//! seed runs), a property test, a JSON snapshot, and the page drawn by headless Chromium without console errors.

use crate::support;

use crate::support::{bench, Within, QUICK};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use harness::report::{self, LevelRow, RunRows};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The 2019 project's published runs, kept with the tests (fixtures/2019/README.md).
fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/2019")
}

/// Mean and sample-sd standard error, the plain two-pass way.
fn naive(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

#[test]
fn the_2019_aggregation_is_reproduced_from_the_seed_runs() {
    let inputs = report::read_inputs(&[seed().join("linger-ms-config.edn")], Path::new("results"))
        .expect("2019 results read")
        .runs;
    let built = report::build("2019", &inputs, report::ALPHA);
    // Independently: split each EDN line on whitespace, as the 2019 rows are one per line.
    for (category, file) in [("0", "linger-ms-0-2019-09-21-05-28.edn"), ("100", "linger-ms-100-2019-09-27-00-39.edn")] {
        let text = std::fs::read_to_string(seed().join(file)).expect("seed file");
        let mut probe: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
        let mut generated: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
        for line in
            text.lines().map(|l| l.trim().trim_start_matches('[').trim_end_matches(']')).filter(|l| !l.is_empty())
        {
            let (head, rest) = line.split_once('[').unwrap_or((line, ""));
            let fields: Vec<f64> = head.split_whitespace().map(|f| f.parse().expect("number")).collect();
            let level = fields[3] as u32;
            probe.entry(level).or_default().push(fields[2]);
            let latencies = rest.split(']').next().unwrap_or("");
            generated
                .entry(level)
                .or_default()
                .extend(latencies.split_whitespace().map(|f| f.parse::<f64>().expect("number")));
        }
        let variant = format!("2019 {category}");
        let levels: Vec<_> = built.levels.iter().filter(|l| l.variant == variant).collect();
        assert_eq!(levels.len(), probe.len(), "{variant}: one level per generator count");
        for level in levels {
            let values = &probe[&level.generators];
            let (mean, se) = naive(values);
            assert_eq!(level.data_points, values.len(), "{variant} at {}", level.generators);
            assert!(
                close(level.probe.mean.unwrap(), mean),
                "{variant} at {}: {:?} vs {mean}",
                level.generators,
                level.probe.mean
            );
            assert!(
                close(level.probe.se.unwrap(), se),
                "{variant} at {}: {:?} vs {se}",
                level.generators,
                level.probe.se
            );
            let gen = &generated[&level.generators];
            assert_eq!(level.generator.n, gen.len());
            assert_eq!(level.transactions as usize, values.len() + gen.len(), "the 2019 formula");
            assert!(close(level.tps.unwrap(), 1.0 + gen.len() as f64 / values.len() as f64), "the 2019 formula");
            if gen.len() > 1 {
                let (gmean, gse) = naive(gen);
                assert!(close(level.generator.mean.unwrap(), gmean) && close(level.generator.se.unwrap(), gse));
            }
        }
    }
    let sustained: Vec<(String, f64)> = built
        .variants
        .iter()
        .map(|v| (v.variant.clone(), v.sustained.as_ref().and_then(|s| s.mean).unwrap_or_default()))
        .collect();
    assert_eq!(sustained, [("2019 0".to_string(), 50.0), ("2019 100".to_string(), 25.0)]);
}

fn synthetic(variant: &str, seed: u64, runs: usize, loops: usize) -> Vec<RunRows> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..runs)
        .map(|r| {
            let rows: Vec<LevelRow> = (0..loops)
                .map(|k| {
                    let generators = (k / 10) as u32;
                    let timeout = rng.gen::<f64>() < 0.05;
                    LevelRow {
                        generators,
                        rate: None,
                        t_ms: None,
                        probe_ms: (!timeout).then(|| 5.0 + 100.0 * rng.gen::<f64>() + f64::from(generators)),
                        generator_ms: (0..generators).map(|_| 1.0 + 50.0 * rng.gen::<f64>()).collect(),
                        resources: (k % 5 == 0).then(|| {
                            BTreeMap::from([(
                                "kgb-kafka-1".to_string(),
                                (100.0 * rng.gen::<f64>(), 500.0 + rng.gen::<f64>()),
                            )])
                        }),
                    }
                })
                .collect();
            RunRows {
                variant: variant.into(),
                path: PathBuf::from(format!("{variant}/r{r}.jsonl")),
                sustained: rows.last().map(|r| r.generators),
                rows,
                interval_s: 0.5,
                timeout_ms: 5000.0,
                era_2019: false,
                complete: true,
                header: None,
                ..RunRows::default()
            }
        })
        .collect()
}

#[test]
fn pooled_figures_match_a_naive_computation_for_random_runs() {
    for seed in 1..=25u64 {
        let inputs = synthetic("v", seed, 1 + (seed as usize % 4), 20 + (seed as usize * 7) % 60);
        let built = report::build("p", &inputs, report::ALPHA);
        for level in &built.levels {
            let rows: Vec<&LevelRow> =
                inputs.iter().flat_map(|i| &i.rows).filter(|r| r.generators == level.generators).collect();
            let probe: Vec<f64> = rows.iter().filter_map(|r| r.probe_ms).collect();
            let gen: Vec<f64> = rows.iter().flat_map(|r| r.generator_ms.iter().copied()).collect();
            assert_eq!(level.timeouts, rows.len() - probe.len());
            assert_eq!(level.data_points, probe.len());
            if probe.len() > 1 {
                let (mean, se) = naive(&probe);
                assert!(close(level.probe.mean.unwrap(), mean) && close(level.probe.se.unwrap(), se), "seed {seed}");
                let max = probe.iter().copied().fold(f64::MIN, f64::max);
                let min = probe.iter().copied().fold(f64::MAX, f64::min);
                assert_eq!((level.probe.min.unwrap(), level.probe.max.unwrap()), (min, max));
                // A timeout is slower than any answer: the 99th percentile by rank over answers and timeouts.
                let mut sorted = probe.clone();
                sorted.sort_by(f64::total_cmp);
                let total = rows.len();
                let rank = ((0.99 * total as f64).ceil() as usize).clamp(1, total);
                if rank > sorted.len() {
                    assert_eq!((level.probe.p99, level.probe.p99_above_ms), (None, Some(5000.0)), "seed {seed}");
                } else {
                    let p99 = level.probe.p99.unwrap();
                    let want = sorted[rank - 1];
                    assert!(
                        (p99 - want).abs() <= want * 0.002 + 0.002 && p99 <= max,
                        "seed {seed}: p99 {p99} vs {want}"
                    );
                }
            }
            let seconds = rows.len() as f64 * 0.5;
            assert!(close(level.tps.unwrap(), (probe.len() + gen.len()) as f64 / seconds));
        }
    }
}

#[test]
fn the_json_matches_its_snapshot() {
    let mut inputs = synthetic("linger.ms=0", 7, 2, 30);
    inputs.extend(synthetic("linger.ms=25", 8, 3, 25));
    let built = report::build("snapshot", &inputs, report::ALPHA);
    // A change shows as a diff to review (`cargo insta review`), never silently re-recorded.
    insta::assert_json_snapshot!("report_json", built);
    let json = serde_json::to_value(&built).expect("json");
    for key in ["variants", "levels", "comparisons", "families", "not_compared", "runs", "sources"] {
        assert!(json.get(key).is_some(), "{key} missing");
    }
    let level = &json["levels"][0];
    for key in [
        "variant",
        "generators",
        "probe",
        "generator",
        "transactions",
        "tps",
        "resources",
        "probe_runs",
        "generator_runs",
    ] {
        assert!(level.get(key).is_some(), "levels: {key} missing");
    }
    for key in ["mean", "se", "n", "ci95"] {
        assert!(level["probe_runs"].get(key).is_some(), "probe_runs: {key} missing");
    }
}

#[test]
fn the_page_draws_its_charts_in_headless_chromium() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut inputs = synthetic("linger.ms=0", 3, 3, 40);
    inputs[0].faults.push((2, "kill kafka-2".into()));
    inputs
        .extend(report::read_inputs(&[seed().join("linger-ms-config.edn")], Path::new("results")).expect("2019").runs);
    let built = report::build("chromium", &inputs, report::ALPHA);
    let (html, json) = report::html::write(&built, &dir.path().join("report.html")).expect("written");
    assert!(json.exists());
    let size = std::fs::metadata(&html).expect("html").len();
    assert!(size < 3_000_000, "report is {size} bytes");
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("kill kafka-2"), "the fault is in the page's data");
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"), "the page must not load anything");

    let chromium = |extra: &[&str]| support::headless(&html, extra);
    let dom = chromium(&["--dump-dom"]);
    let (out, err) = (String::from_utf8_lossy(&dom.stdout), String::from_utf8_lossy(&dom.stderr));
    let drawn = out.split("data-drawn=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("");
    assert!(drawn.parse::<usize>().is_ok_and(|n| n > 0), "chart not drawn ({drawn:?}); console:\n{err}");
    assert!(out.contains("<svg"), "no chart in the page");
    // Every view drew marks: sustained load per run, the latency–throughput curve, the distribution at a level,
    // a run over time (the 2019 runs have times), resources against load.
    for view in [
        "data-headline-drawn",
        "data-curve-drawn",
        "data-distribution-drawn",
        "data-timeline-drawn",
        "data-resources-drawn",
    ] {
        let n = out.split(&format!("{view}=\"")).nth(1).and_then(|s| s.split('"').next()).unwrap_or("");
        assert!(n.parse::<usize>().is_ok_and(|n| n > 0), "{view}: {n:?}; console:\n{err}");
    }
    let console_errors: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("CONSOLE") && (l.contains("Error") || l.contains("error") || l.contains("Uncaught")))
        .collect();
    assert!(console_errors.is_empty(), "console errors: {console_errors:?}");

    // The screenshot is kept as a test artifact next to the build.
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts folder");
    let shot = artifacts.join("report.png");
    chromium(&["--window-size=1280,1400", &format!("--screenshot={}", shot.display())]);
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000), "screenshot at {}", shot.display());
}

#[test]
fn bad_inputs_name_what_is_wrong() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("broken.jsonl");
    std::fs::write(&bad, "{\"kind\": \"row\"}\n").expect("write");
    let err = report::read_inputs(std::slice::from_ref(&bad), Path::new("results")).unwrap_err().to_string();
    assert!(err.contains("broken.jsonl:1"), "{err}");
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "x").expect("write");
    let err = report::read_inputs(std::slice::from_ref(&other), Path::new("results")).unwrap_err().to_string();
    assert!(err.contains("notes.txt") && err.contains("not an experiment file"), "{err}");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let err = report::read_inputs(std::slice::from_ref(&empty), Path::new("results")).unwrap_err().to_string();
    assert!(err.contains("no readable results"), "{err}");
}

#[test]
fn an_interrupted_run_adds_its_rows_but_not_its_generator_count() {
    let mut inputs = synthetic("v", 11, 3, 40);
    inputs[2].sustained = None; // ended by an interrupt after 40 loops
    let built = report::build("interrupted", &inputs, report::ALPHA);
    let v = &built.variants[0];
    assert_eq!((v.complete, v.sustained.as_ref().map(|s| s.n)), (3, Some(2)));
    let level0 = built.levels.iter().find(|l| l.generators == 0).expect("level 0");
    assert_eq!(level0.data_points + level0.timeouts, 30, "rows of all three runs are pooled");
}

/// A finished run of 50 loops in `<dir>/e/v/`, as `bench run` writes it: header, 50 rows, end line.
fn good_run(dir: &Path) -> PathBuf {
    harness::testing::synthetic::Synthetic {
        experiment: "e",
        variant: "v",
        repeat: 1,
        hostname: "h",
        loops: 50,
        loops_per_generator: 10,
        containers: &[],
        base_ms: 10.0,
        seed: 1,
    }
    .write(dir)
    .expect("good run")
}

/// `bench report <dir> --out <dir>/r.html`: exit code, stdout, stderr.
fn bench_report(dir: &Path) -> (Option<i32>, String, String) {
    let out = bench().arg("report").arg(dir).arg("--out").arg(dir.join("r.html")).output_within(QUICK);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_damaged_line_with_lines_after_it_fails_the_report_naming_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = good_run(dir.path());
    let text = std::fs::read_to_string(&good).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 52, "header, 50 rows, end");
    // Line 11 cut short (what a killed run leaves, but not at the end), and line 11 of the wrong type.
    let cases = [
        (&lines[10][..25], "cut short, yet line 12 follows"),
        ("{\"kind\": \"row\", \"loop\": \"eleven\"}", "invalid type"),
    ];
    for (damage, why) in cases {
        let mut damaged = lines.clone();
        damaged[10] = damage;
        std::fs::write(good.with_file_name("damaged.jsonl"), damaged.join("\n") + "\n").expect("write");
        let (code, _, err) = bench_report(dir.path());
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("damaged.jsonl:11: ") && err.contains(why), "{err}");
        assert!(!dir.path().join("r.html").exists() && !dir.path().join("r.json").exists(), "nothing half-written");
    }
}

#[test]
fn a_run_killed_mid_write_reads_as_incomplete_with_a_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = good_run(dir.path());
    let text = std::fs::read_to_string(&good).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    // Killed while writing row 31: 30 whole rows, then part of a line, no end line.
    let killed = format!("{}\n{}", lines[..31].join("\n"), &lines[31][..25]);
    std::fs::write(good.with_file_name("killed.jsonl"), killed).expect("write");
    // Killed while writing its header: no run at all.
    std::fs::write(good.with_file_name("unborn.jsonl"), &text[..40]).expect("write");

    let (code, out, err) = bench_report(dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("killed.jsonl:32: the last line is cut short") && err.contains("read as an incomplete run"),
        "{err}"
    );
    assert!(
        err.contains("warning: skipped") && err.contains("unborn.jsonl: holds no run: its header line is cut short"),
        "{err}"
    );
    assert!(out.contains("1 run(s) in the figures, 1 incomplete (left out)"), "{out}");
    let read = report::read_inputs(&[dir.path().to_path_buf()], Path::new("results")).expect("read");
    let killed = read.runs.iter().find(|r| r.path.ends_with("killed.jsonl")).expect("the killed run is listed");
    assert_eq!((killed.rows.len(), killed.complete), (30, false));
    let page = std::fs::read_to_string(dir.path().join("r.html")).expect("page");
    assert!(page.contains("Skipped results files (1)"));
}

#[test]
fn a_part_killed_for_memory_is_noted_on_its_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = good_run(dir.path());
    let text = std::fs::read_to_string(&good).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut end: serde_json::Value = serde_json::from_str(lines.last().expect("end line")).expect("json");
    end["stopped"] = serde_json::json!({ "kgb-graphql-endpoint": "allocating\n", "kgb-kafka-1": "bye\n" });
    // kafka-1 has no ending, as in a file written before endings were recorded.
    end["endings"] = serde_json::json!({ "kgb-graphql-endpoint": { "code": 137, "oom_killed": true, "restarts": 0, "running": false } });
    *lines.last_mut().expect("end line") = end.to_string();
    std::fs::write(&good, lines.join("\n") + "\n").expect("write");

    let run = bench_results::Run::read(&good).expect("reads");
    let notes = run.end.expect("ended").part_notes();
    let oom = "kgb-graphql-endpoint was killed for exceeding its memory limit (OOMKilled), exit code 137";
    assert_eq!(notes, [oom, "kgb-kafka-1 was no longer running at the end"]);
    let (code, _, err) = bench_report(dir.path());
    assert_eq!(code, Some(0), "{err}");
    let page = std::fs::read_to_string(dir.path().join("r.html")).expect("page");
    assert!(page.contains(&format!("<span class=\"bad\">⚠ {oom}</span>")), "the run's row carries the note");
    assert!(page.contains("kgb-kafka-1 was no longer running at the end"));
}
