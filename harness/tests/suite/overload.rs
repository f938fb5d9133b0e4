//! Overload is refused, not fatal: a one-broker stack is offered transfers at a fixed rate about three times
//! what it sustains (a search on the same stack found 2,125 tx/s on this 2-core machine). Every part is still
//! running at the end, the endpoint's memory stays far from its limit, the excess is answered as errors (the
//! endpoint's "overloaded", or a client timeout), and the audit of the books passes.

use crate::support::{bench, Within};

use bench_results::Run;

/// Fixed-rate, one step: `start_rate = max_rate` with `max_steps = 1`.
const OVERLOAD: &str = r#"
name = "overload-test"
[load]
model = "open"
connections = 16
accounts = 48
probe_interval_ms = 500
resources_every_loops = 2

[search]
start_rate = 6000
max_rate = 6000
max_steps = 1
warmup_rate = 200
warmup_s = 2
dwell_s = 10
slo_p99_ms = 500
timeout_ms = 1000
drain_timeout_s = 30

[stack]
brokers = 1
kafka_jvm_opts = "-Xms512m -Xmx512m"

[stack.topics]
partitions = 6
"#;

#[tokio::test]
async fn three_times_the_capacity_is_answered_with_errors_and_every_part_lives() {
    let _serial = crate::support::serial_async().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let experiment = dir.path().join("overload.toml");
    std::fs::write(&experiment, OVERLOAD).expect("experiment written");
    let out = bench()
        .args(["run", experiment.to_str().expect("utf-8"), "--results"])
        .arg(dir.path().join("results"))
        .output_within(std::time::Duration::from_secs(900));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let files = bench_results::files(&dir.path().join("results")).expect("results listed");
    assert_eq!(files.len(), 1, "{files:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let run = Run::read(&files[0]).expect("results file reads back");
    let end = run.end.as_ref().expect("the run ended");
    assert!(end.stopped.is_empty(), "every part still running at the end: {:?}\n{stderr}", end.stopped);
    assert!(end.audit.passed, "the books balance: {:?}", end.audit);
    let step = run.steps.first().expect("one step");
    assert!(step.errors + step.timeouts > 0 && !step.passed, "the excess is answered as errors: {step:?}");
    let peak = run
        .rows
        .iter()
        .filter_map(|r| r.resources.as_ref()?.get("kgb-graphql-endpoint").map(|s| s.mem_mib))
        .fold(0.0_f64, f64::max);
    assert!(peak > 0.0, "the endpoint's memory was sampled");
    println!(
        "offered {} tx/s: {} sent, {} answered ({} of them errors), {} timeouts; endpoint peak {peak:.0} MiB; audit {:?}",
        step.rate, step.sent, step.answered, step.errors, step.timeouts, end.audit.passed
    );
    // The kernel kills the endpoint beyond its container's limit.
    let limit = bench_results::experiment::stack::Limits::default()
        .graphql_endpoint
        .memory_mib
        .expect("the endpoint has a memory limit") as f64;
    assert!(peak < 0.75 * limit, "the endpoint's memory stays well within its {limit} MiB limit: {peak:.0} MiB");
}
