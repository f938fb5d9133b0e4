//! A real capacity search through the `bench` binary on a one-broker stack: coarse settings so it converges in a
//! minute whatever this machine sustains. Its results file holds one step line per step, the steps follow the search's
//! rules, the capacity is the confirmed highest pass, failed steps drained, the audit passed, and nothing is left.

use crate::support::{bench, Within};

use bench_results::{EndedBy, Run};

const SEARCH: &str = r#"
name = "search-test"
[load]
model = "open"
connections = 4
accounts = 12
probe_interval_ms = 250
resources_every_loops = 4

[search]
start_rate = 200
growth = 4
max_rate = 12800
precision = 0.5
warmup_s = 1
dwell_s = 3
slo_p99_ms = 50
timeout_ms = 500
drain_timeout_s = 10
max_steps = 10

[stack]
brokers = 1
kafka_jvm_opts = "-Xms512m -Xmx512m"

[stack.topics]
partitions = 6
"#;

#[tokio::test]
async fn a_search_run_converges_and_its_steps_follow_the_rules() {
    let _serial = crate::support::serial_async().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let experiment = dir.path().join("search.toml");
    std::fs::write(&experiment, SEARCH).expect("experiment written");
    let out = bench()
        .args(["run", experiment.to_str().expect("utf-8"), "--results"])
        .arg(dir.path().join("results"))
        .output_within(std::time::Duration::from_secs(900));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "bench run failed\nstdout:\n{stdout}\nstderr:\n{stderr}");

    let files = bench_results::files(&dir.path().join("results")).expect("results listed");
    assert_eq!(files.len(), 1, "{files:?}");
    let run = Run::read(&files[0]).expect("results file reads back");
    let end = run.end.as_ref().expect("end line");
    assert!(end.audit.passed, "{:?}", end.audit);
    assert!(matches!(end.ended_by, EndedBy::Converged | EndedBy::MaxRate), "{:?}\n{stderr}", end.ended_by);
    // The SLO is written once, in the header's parameters; the end line no longer copies it.
    assert_eq!(run.header.parameters.search.as_ref().map(|s| s.slo_p99_ms), Some(50.0));
    assert_eq!(end.slo_p99_ms, None);
    let capacity = end.capacity_tps.expect("a capacity");
    let steps = &run.steps;
    assert!(!steps.is_empty() && steps.len() <= 10);
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s.step as usize, i + 1);
        // Uniform arrivals: the dwell offers exactly rate × dwell transfers (within one for rounding); a step
        // stopped because it had failed already offered only for the part it ran.
        if s.dwell_s < 3.0 {
            assert!(!s.passed && s.sent as f64 <= s.rate * s.dwell_s * 1.02 + 1.0, "stopped early: {s:?}");
        } else {
            assert!((s.sent as f64 - s.rate * 3.0).abs() <= 1.0, "step {}: {} sent at {} tx/s", s.step, s.sent, s.rate);
        }
        assert!(s.answered + s.timeouts + s.errors >= s.sent && s.answered <= s.sent, "{s:?}");
        assert_eq!(
            s.passed,
            s.p99_ms.is_some_and(|p| p <= 50.0) && s.errors == 0 && s.achieved >= 0.95 * s.rate,
            "{s:?}"
        );
        // A step stopped early may have ended before the probe's next loop or the next resource sample.
        if s.dwell_s >= 3.0 {
            assert!(s.probe.is_some_and(|p| p.loops > 0), "the probe ran beside step {}", s.step);
            assert!(
                s.resources.contains_key("bench") && s.resources.contains_key("kgb-graphql-endpoint"),
                "{:?}",
                s.resources
            );
        }
        if !s.passed && i + 1 < steps.len() {
            assert!(s.drain_s.is_some(), "a failed step drains before the next: {s:?}");
        }
        // A pass above the capacity only stands when a step at or below its rate failed later (a failed
        // confirmation counts as a fail there and the bisection goes on below it).
        if s.passed && s.rate > capacity && end.ended_by != EndedBy::MaxRate {
            assert!(
                steps[i + 1..].iter().any(|f| !f.passed && f.rate <= s.rate),
                "a pass above the capacity stands: {s:?}\n{steps:#?}"
            );
        }
    }
    if end.ended_by == EndedBy::Converged {
        let last = steps.last().expect("steps");
        assert!(last.confirming && last.passed && last.rate == capacity, "{last:?}");
        assert!(steps.iter().any(|s| !s.passed), "converging needs a failed step");
    }
    assert!(
        run.rows.iter().all(|r| r.rate.is_some() && r.generators == 0),
        "open-model rows carry the rate, no generators"
    );
    assert!(end.counts.transfers > steps.iter().map(|s| s.answered).sum::<u64>(), "warm-ups and the probe count too");

    let docker = stack::docker::connect().await.expect("engine");
    let left = stack::docker::container::list_labelled(&docker, "kgb.owner=run").await.expect("list");
    assert!(left.is_empty(), "containers left behind: {left:?}");
}
