//! Blocks: `bench matrix --blocks` gives each job every variant, and a night merged from several runners' results
//! reports as one machine would, comparing variants paired over blocks.

use crate::support::{bench, bench_in, Within, QUICK};

use std::path::{Path, PathBuf};

use harness::testing::synthetic::Synthetic;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn each_block_job_runs_every_variant() {
    let (code, out, err) = bench_in(
        &root(),
        &["matrix", "experiments/linger.toml", "experiments/brokers.toml", "--repeat", "2", "--blocks", "3"],
    );
    assert_eq!(code, Some(0), "{err}");
    let matrix: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let include = matrix["include"].as_array().expect("include");
    assert_eq!(include.len(), 2 * 3, "three jobs per experiment, not one per variant");
    let first = &include[0];
    assert_eq!((first["block"].as_u64(), first["variant"].as_str()), (Some(1), Some("all")));
    assert_eq!(first["command"], "scripts/bench run experiments/linger.toml --block 1 --repeat 2");
    let slugs: std::collections::BTreeSet<&str> = include.iter().filter_map(|e| e["slug"].as_str()).collect();
    assert_eq!(slugs.len(), 6, "artifact names are unique: {slugs:?}");
    assert!(slugs.contains("linger-block-3"), "{slugs:?}");
    let (code, _, err) = bench_in(&root(), &["matrix", "experiments/linger.toml", "--blocks", "0"]);
    assert_eq!(code, Some(2), "{err}");
}

/// One runner's artifact: `runs` repeats of variants A and B in block `block`, whose machine is `offset` ms slow;
/// B's probe is 2 ms slower than A's on every machine.
fn runner(results: &Path, block: &str, offset: f64) {
    for (variant, extra) in [("A", 0.0), ("B", 2.0)] {
        for repeat in 1..=2 {
            let run = Synthetic {
                experiment: "night",
                variant,
                repeat,
                hostname: block,
                loops: 200,
                loops_per_generator: 100,
                containers: &[],
                base_ms: 20.0 + offset + extra,
                seed: u64::from(repeat) * 7 + offset as u64,
            };
            run.write(results).expect("synthetic run");
        }
    }
}

#[test]
fn a_night_merged_from_runners_reports_as_one_machine_would() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (merged, apart) = (dir.path().join("merged"), dir.path().join("apart"));
    for (block, offset) in [("1", 0.0), ("2", 40.0), ("3", 90.0)] {
        runner(&merged, block, offset);
        runner(&apart.join(block), block, offset);
    }
    let report = |inputs: &[&Path], out: &str| {
        let mut args = vec!["report".to_string()];
        args.extend(inputs.iter().map(|p| p.display().to_string()));
        args.extend(["--out".into(), dir.path().join(out).display().to_string()]);
        let run = bench().args(&args).output_within(QUICK);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let text = std::fs::read_to_string(dir.path().join(out).with_extension("json")).expect("json");
        let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
        json.as_object_mut().expect("object").remove("sources");
        json
    };
    let one = report(&[&merged], "merged.html");
    let three: Vec<PathBuf> = ["1", "2", "3"].iter().map(|b| apart.join(b)).collect();
    let many = report(&three.iter().map(PathBuf::as_path).collect::<Vec<_>>(), "apart.html");
    assert_eq!(one, many, "the same runs, merged or not, give the same report");
    assert_eq!(one["pairing"]["paired"], true, "{}", one["pairing"]);
    assert_eq!(one["pairing"]["blocks"], 3);
    let at_one = one["comparisons"]
        .as_array()
        .expect("comparisons")
        .iter()
        .find(|c| c["metric"] == "probe latency" && c["level"] == 1.0)
        .expect("level 1");
    assert_eq!(
        (at_one["method"].as_str(), at_one["blocks"].as_u64()),
        (Some("paired over blocks"), Some(3)),
        "{at_one}"
    );
}

#[test]
fn a_nights_summary_holds_each_variants_headlines_over_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let results = dir.path().join("results");
    for (block, offset) in [("1", 0.0), ("2", 40.0)] {
        runner(&results, block, offset);
    }
    let summary = dir.path().join("summaries/night.json");
    let (code, out, err) =
        bench_in(dir.path(), &["report", "results", "--out", "r.html", "--summary", summary.to_str().expect("path")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("summary: ") && out.contains("2 variant(s)"), "{out}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!((s["experiment"].as_str(), s["commit"].as_str()), (Some("night"), Some("0000000")));
    // Synthetic runs start on days after 2026-09-21 (1,790,000,000 s) by repeat and seed: the night is the first.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).expect("json")).expect("json");
    let first = report["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["started_at"].as_str())
        .min()
        .expect("a start");
    assert_eq!(s["date"].as_str(), Some(first));
    // Every run ends at 200 loops / 100 per generator = 2 generators: mean 2, no spread, n = 4 runs a variant.
    assert_eq!(s["variants"]["A"]["sustained_generators"], serde_json::json!({ "mean": 2.0, "se": 0.0, "n": 4 }));
    for metric in ["probe_mean_ms", "tps", "probe_p50_ms"] {
        assert!(s["variants"]["B"][metric]["mean"].is_number(), "{metric}: {}", s["variants"]["B"]);
    }
    let (code, _, err) =
        bench_in(dir.path(), &["report", "results", "--out", "r.html", "--summary", "/proc/no/such/dir/s.json"]);
    assert_eq!(code, Some(1), "an unwritable summary is the system's failure: {err}");
    assert!(err.contains("s.json"), "{err}");
}

/// One invocation's rounds on one machine that drifts a lot between rounds (`drift` ms each); B's probe is 10 ms
/// slower than A's in every round. Each round ran both, in the order `b_first` says; `shuffled: false` writes the
/// same runs as files from before rounds were recorded. `rounds_of_b` < the rounds leaves the last rounds without
/// B (an invocation cut short).
fn rounds(results: &Path, drift: &[f64], b_first: &[bool], rounds_of_b: usize, shuffled: bool) {
    let seed = 99;
    for (i, (offset, b_first)) in drift.iter().zip(b_first).enumerate() {
        let round = u32::try_from(i + 1).expect("few rounds");
        for (variant, extra) in [("A", 0.0), ("B", 10.0)] {
            if variant == "B" && i >= rounds_of_b {
                continue;
            }
            let slot = if (variant == "B") == *b_first { 1 } else { 2 };
            let run = Synthetic {
                experiment: "rounds",
                variant,
                repeat: round,
                hostname: "one-machine",
                loops: 200,
                loops_per_generator: 100,
                containers: &[],
                base_ms: 20.0 + offset + extra,
                seed: u64::from(round) * 13 + u64::from(variant == "B"),
            };
            let order = shuffled.then_some(bench_results::RoundOrder { seed, slot, of: 2 });
            run.write_in_round(results, order).expect("synthetic run");
        }
    }
}

fn report_of(dir: &Path, results: &Path) -> serde_json::Value {
    let out = dir.join("r.html");
    let run = bench().arg("report").arg(results).arg("--out").arg(&out).output_within(QUICK);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).expect("json")).expect("json")
}

fn latency_at_one(report: &serde_json::Value) -> serde_json::Value {
    let comparisons = report["comparisons"].as_array().expect("comparisons");
    comparisons.iter().find(|c| c["metric"] == "probe latency" && c["level"] == 1.0).expect("level 1").clone()
}

#[test]
fn complete_shuffled_rounds_pair_their_runs_and_cancel_the_drift_between_rounds() {
    let drift = [0.0, 80.0, 10.0, 150.0, 40.0, 110.0];
    let b_first = [true, false, false, true, true, false];
    let dir = tempfile::tempdir().expect("temp dir");
    let complete = dir.path().join("complete");
    rounds(&complete, &drift, &b_first, drift.len(), true);
    let report = report_of(dir.path(), &complete);
    assert_eq!(report["pairing"]["paired"], true, "{}", report["pairing"]);
    assert_eq!((report["pairing"]["unit"].as_str(), report["pairing"]["blocks"].as_u64()), (Some("rounds"), Some(6)));
    let c = latency_at_one(&report);
    assert_eq!((c["method"].as_str(), c["blocks"].as_u64()), (Some("paired over rounds"), Some(6)), "{c}");
    assert_eq!(c["significant"], true, "the 10 ms within every round is found: {c}");
    let diff = c["diff"].as_f64().expect("diff");
    assert!((-13.0..-7.0).contains(&diff), "A − B is about −10 ms: {c}");
    // The same runs without their rounds: Welch over runs, and the drift between rounds (SD ~57 ms) drowns it.
    let unpaired = dir.path().join("unpaired");
    rounds(&unpaired, &drift, &b_first, drift.len(), false);
    let report = report_of(dir.path(), &unpaired);
    let c = latency_at_one(&report);
    assert_eq!((report["pairing"]["paired"].as_bool(), c["method"].as_str()), (Some(false), Some("Welch over runs")));
    assert_eq!(c["significant"], false, "{c}");

    // Cut short: the last two rounds lack B, so rounds cannot all be paired, and the report says so.
    let cut = dir.path().join("cut");
    rounds(&cut, &drift, &b_first, 4, true);
    let report = report_of(dir.path(), &cut);
    assert_eq!(report["pairing"]["paired"], false, "{}", report["pairing"]);
    let words = report["pairing"]["words"].as_str().expect("words");
    assert!(words.contains("4 of 6 rounds ran every variant"), "{words}");
    assert_eq!(latency_at_one(&report)["method"], "Welch over runs");
}
