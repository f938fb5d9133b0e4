//! `bench report --baseline ... --fail-on-regression`: a variant that sustains less than in the baseline fails
//! the command; the same results against themselves do not.

use crate::support::bench_in;

use std::path::Path;

use harness::testing::synthetic::Synthetic;

fn write(results: &Path, loops: [u32; 3], base_ms: f64, seed: u64) {
    for (i, loops) in loops.into_iter().enumerate() {
        Synthetic {
            experiment: "ci",
            variant: "linger.ms=0",
            repeat: i as u32 + 1,
            hostname: "runner",
            loops,
            loops_per_generator: 30,
            containers: &["kgb-kafka-1"],
            base_ms,
            seed: seed + i as u64,
        }
        .write(results)
        .expect("synthetic run");
    }
}

#[test]
fn a_regression_against_the_baseline_fails_only_when_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(&d.join("before"), [340, 390, 420], 10.0, 1);
    write(&d.join("after"), [200, 220, 250], 30.0, 11);

    let (code, out, err) =
        bench_in(d, &["report", "after", "--baseline", "before", "--fail-on-regression", "--out", "r.html"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("linger.ms=0 sustained generators: REGRESSED"), "{out}");
    assert!(err.contains("significant regression"), "{err}");
    let page = std::fs::read_to_string(d.join("r.html")).expect("page written even when failing");
    assert!(page.contains("Against the baseline") && page.contains("significant regression(s)"));

    let (code, out, _) = bench_in(d, &["report", "after", "--baseline", "before", "--out", "r.html"]);
    assert_eq!(code, Some(0), "without --fail-on-regression a regression is reported, not fatal: {out}");

    let (code, out, err) =
        bench_in(d, &["report", "before", "--baseline", "before", "--fail-on-regression", "--out", "r.html"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("no significant change") && !out.contains("REGRESSED"), "{out}");

    let (code, out, _) =
        bench_in(d, &["report", "before", "--baseline", "after", "--fail-on-regression", "--out", "r.html"]);
    assert_eq!(code, Some(0), "an improvement is not a regression");
    assert!(out.contains("sustained generators: improved"), "{out}");
}

#[test]
fn bad_baseline_flags_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(&dir.path().join("r"), [100, 120, 140], 10.0, 1);
    let (code, _, err) = bench_in(dir.path(), &["report", "r", "--fail-on-regression"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--baseline"), "{err}");
    let (code, _, err) = bench_in(dir.path(), &["report", "r", "--baseline", "r", "--alpha", "1.5"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("1.5"), "{err}");
    let (code, _, err) = bench_in(dir.path(), &["report", "r", "--baseline", "missing"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing"), "{err}");
}
