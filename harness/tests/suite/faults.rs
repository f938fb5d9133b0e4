//! Faults as part of experiments, through the `bench` binary against the real stack: a broker of three killed
//! (acks=all, min.insync.replicas=2), the command handler restarted, the GraphQL endpoint restarted. Each run
//! goes on, marks its fault window, recovers, and passes its audit.

use crate::support::{bench, serial, text, Within, QUICK};

use bench_results::Edge;
use bench_results::{EndedBy, Run};

fn experiment(brokers: u32, fault: &str) -> String {
    format!(
        r#"name = "faults"
[load]
probe_interval_ms = 250
probe_timeout_ms = 3000
max_timeouts = 5
max_loops = 160
loops_per_generator = 10
generators_per_step = 2
transfer_pause_ms = 100
resources_every_loops = 20
[stack]
brokers = {brokers}
kafka_jvm_opts = "-Xms384m -Xmx384m"
[stack.topics]
partitions = 3
[stack.services.producer]
"acks" = "all"
[[faults]]
at_loop = 30
{fault}
"#
    )
}

/// Runs the experiment and checks what every fault run must show; returns the run for more checks.
fn run_with_fault(brokers: u32, fault: &str) -> Run {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("faults.toml");
    std::fs::write(&file, experiment(brokers, fault)).expect("experiment");
    let out = bench()
        .arg("run")
        .arg(&file)
        .arg("--results")
        .arg(dir.path())
        .output_within(std::time::Duration::from_secs(900));
    let log = text(&out);
    let files = bench_results::files(dir.path()).expect("listed");
    let run = Run::read(&files[0]).expect("results file");
    let end = run.end.clone().expect("end line");
    assert!(out.status.success(), "{log}");
    assert_eq!(end.ended_by, EndedBy::MaxLoops, "the run goes on through the fault: {log}");
    assert!(end.audit.passed, "no money lost or created, each confirmed transfer stored once: {:?}", end.audit);

    let marks: Vec<(u32, Edge, Option<String>)> =
        run.rows.iter().flat_map(|r| r.faults.iter().map(move |m| (r.r#loop, m.edge, m.error.clone()))).collect();
    assert_eq!(marks.len(), 2, "one start and one end mark: {marks:?}");
    assert_eq!((marks[0].0, marks[0].1, &marks[0].2), (30, Edge::Start, &None), "{marks:?}");
    assert_eq!((marks[1].1, &marks[1].2), (Edge::End, &None), "{marks:?}");
    let recovered_from = marks[1].0 + 40;
    let after: Vec<_> = run.rows.iter().filter(|r| r.r#loop > recovered_from).collect();
    assert!(!after.is_empty(), "the run lasts past the fault");
    assert!(after.iter().filter(|r| r.probe_ms.is_some()).count() * 10 >= after.len() * 9, "the probe recovered");
    assert!(after.iter().map(|r| r.generator_ms.len()).sum::<usize>() > 0, "the generators recovered");
    assert_eq!(end.counts.timeouts, run.rows.iter().filter(|r| r.timeout).count() as u32);
    assert!(end.counts.timeouts - end.counts.fault_timeouts <= 5);

    let report = bench().arg("report").arg(dir.path()).arg("--out").arg(dir.path().join("r.html")).output_within(QUICK);
    assert!(report.status.success());
    let page = std::fs::read_to_string(dir.path().join("r.html")).expect("page");
    assert!(page.contains("\"faults\":[{"), "the fault is drawn on the charts");
    let left = stack::testing::leftover_containers();
    assert!(left.is_empty(), "{left:?}");
    run
}

#[test]
fn one_broker_of_three_killed() {
    let run = run_with_fault(3, "target = \"kafka-2\"\naction = \"kill\"\nduration_s = 10\n");
    assert!(run.end.is_some_and(|e| e.counts.transfers > 0));
}

#[test]
fn command_handler_restarted_mid_load() {
    let run = run_with_fault(1, "target = \"command-handler\"\naction = \"restart\"\nduration_s = 5\n");
    assert!(run.end.is_some_and(|e| e.audit.confirmed_transfers > 0));
}

#[test]
fn graphql_endpoint_restarted_and_clients_reconnect() {
    let run = run_with_fault(1, "target = \"graphql-endpoint\"\naction = \"restart\"\nduration_s = 5\n");
    // While the endpoint is down the probe cannot even connect: those loops are timeouts inside the window.
    assert!(run.end.is_some_and(|e| e.counts.fault_timeouts > 0));
}

#[test]
fn command_handler_paused_then_thawed() {
    let run = run_with_fault(1, "target = \"command-handler\"\naction = \"pause\"\nduration_s = 5\n");
    // Frozen, the handler answers nothing: probe loops in the window time out, and none of it ends the run.
    assert!(run.end.is_some_and(|e| e.counts.fault_timeouts > 0 && e.audit.confirmed_transfers > 0));
}
