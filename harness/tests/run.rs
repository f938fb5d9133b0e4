//! A real smoke run of the whole stack through the `bench` binary: the results file is complete and its rows
//! hold the invariants of DESIGN.md §6–7, the audit passed, and nothing is left running.

use std::path::Path;

use assert_cmd::Command;
use harness::results::{EndedBy, Run};

#[tokio::test]
async fn a_smoke_run_writes_a_complete_results_file_that_holds_the_invariants() {
    let results = tempfile::tempdir().expect("temp dir");
    let experiment = Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/smoke.toml");
    let out = Command::cargo_bin("bench")
        .expect("bench is built")
        .arg("run")
        .arg(&experiment)
        .arg("--results")
        .arg(results.path())
        .output()
        .expect("bench runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "bench run failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("passed"), "{stdout}");

    let files = harness::results::files(results.path()).expect("results listed");
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with(results.path().join("smoke/default")), "{files:?}");
    let run = Run::read(&files[0]).expect("results file reads back");
    let text = std::fs::read_to_string(&files[0]).expect("results text");
    for secret in ["\"token\"", "password", "postgres://"] {
        assert!(!text.contains(secret), "results files carry no credentials, but {secret} is in {}", files[0].display());
    }
    let end = run.end.as_ref().expect("the run has its end line");

    assert_eq!(run.header.experiment, "smoke");
    assert!(!run.header.images.is_empty() && run.header.host.cpus > 0);
    assert!(end.audit.passed, "{:?}", end.audit);
    assert!(end.audit.confirmed_transfers > 0 && end.audit.answers_checked > 0);
    assert!(matches!(end.ended_by, EndedBy::MaxLoops | EndedBy::Timeouts), "{:?}", end.ended_by);
    assert_eq!(end.counts.loops as usize, run.rows.len());
    assert!(end.counts.generators > 0 && end.counts.transfers > 0);
    assert!(end.bench_cpu_ms > 0.0);
    let peak = end.bench_peak.expect("bench's busiest window is recorded");
    assert!(peak.cpu_pct > 0.0 && peak.cpu_ms_per_1000_transfers > 0.0, "{peak:?}");
    // The load ramps up, so its busiest window drives more than the run's average.
    assert!(peak.transfers_per_s > end.counts.transfers as f64 / end.duration_s, "{peak:?} against {end:?}");

    for pair in run.rows.windows(2) {
        assert_eq!(pair[1].r#loop, pair[0].r#loop + 1, "loops increase one by one");
        assert!(pair[1].generators >= pair[0].generators, "generators never decrease");
        assert!(pair[1].t_ms >= pair[0].t_ms);
    }
    for row in &run.rows {
        assert_eq!(row.timeout, row.probe_ms.is_none(), "loop {}", row.r#loop);
        assert!(row.probe_ms.is_none_or(|ms| ms > 0.0), "loop {}", row.r#loop);
        assert!(row.generator_ms.iter().all(|ms| *ms > 0.0), "loop {}", row.r#loop);
    }
    let timeouts = run.rows.iter().filter(|r| r.timeout).count();
    assert_eq!(timeouts, end.counts.timeouts as usize);
    let sampled: Vec<_> = run.rows.iter().filter_map(|r| r.resources.as_ref()).collect();
    assert!(!sampled.is_empty());
    for resources in sampled {
        for name in ["bench", "kgb-command-handler", "kgb-graphql-endpoint", "kgb-kafka-1"] {
            let sample = resources.get(name).unwrap_or_else(|| panic!("{name} sampled: {resources:?}"));
            assert!(sample.mem_mib > 0.0 && sample.cpu_pct >= 0.0, "{name}: {sample:?}");
        }
    }

    let docker = stack::docker::connect().await.expect("engine");
    let left = stack::docker::container::list_labelled(&docker, "kgb.owner=run").await.expect("list");
    assert!(left.is_empty(), "containers left behind: {left:?}");
}
