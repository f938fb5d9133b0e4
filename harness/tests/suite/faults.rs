//! Faults as part of experiments, through the `bench` binary against the real stack: a broker of three killed
//! (acks=all, min.insync.replicas=2); the command handler restarted, the GraphQL endpoint restarted and the
//! handler paused, in turn in one run. Each run goes on, marks its fault windows, recovers, and passes its audit.

use crate::support::{bench, serial, text, Within, QUICK};

use bench_results::Edge;
use bench_results::{EndedBy, Run};

/// A fault of an experiment: when it begins, what it hits, how, and for how many seconds.
struct Fault {
    at_loop: u32,
    target: &'static str,
    action: &'static str,
    duration_s: u32,
}

/// Loops from a fault's end mark after which the probe must answer again.
const RECOVERY_LOOPS: u32 = 40;

fn experiment(brokers: u32, max_loops: u32, faults: &[Fault]) -> String {
    let mut text = format!(
        r#"name = "faults"
[load]
probe_interval_ms = 250
probe_timeout_ms = 3000
max_timeouts = 5
max_loops = {max_loops}
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
"#
    );
    for f in faults {
        let Fault { at_loop, target, action, duration_s } = f;
        text += &format!(
            "[[faults]]\nat_loop = {at_loop}\ntarget = \"{target}\"\naction = \"{action}\"\nduration_s = {duration_s}\n"
        );
    }
    text
}

/// Runs the experiment and checks what every fault run must show: each fault begins on its loop, ends without
/// error, and the probe and the generators recover before the next one. Returns the run and, per fault, the
/// probe timeouts from its start to the next fault's (or the run's end).
fn run_with_faults(brokers: u32, max_loops: u32, faults: &[Fault]) -> (Run, Vec<usize>) {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("faults.toml");
    std::fs::write(&file, experiment(brokers, max_loops, faults)).expect("experiment");
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
    assert_eq!(end.ended_by, EndedBy::MaxLoops, "the run goes on through the faults: {log}");
    assert!(end.audit.passed, "no money lost or created, each confirmed transfer stored once: {:?}", end.audit);

    let marks: Vec<(u32, Edge, Option<String>)> =
        run.rows.iter().flat_map(|r| r.faults.iter().map(move |m| (r.r#loop, m.edge, m.error.clone()))).collect();
    assert_eq!(marks.len(), 2 * faults.len(), "one start and one end mark per fault: {marks:?}");
    let mut timeouts = Vec::new();
    for (i, (fault, pair)) in faults.iter().zip(marks.chunks(2)).enumerate() {
        assert_eq!((pair[0].0, pair[0].1, &pair[0].2), (fault.at_loop, Edge::Start, &None), "{marks:?}");
        assert_eq!((pair[1].1, &pair[1].2), (Edge::End, &None), "{marks:?}");
        let next = faults.get(i + 1).map_or(u32::MAX, |f| f.at_loop);
        let recovered_from = pair[1].0 + RECOVERY_LOOPS;
        assert!(recovered_from < next.min(max_loops), "the experiment leaves room to recover from {}", fault.target);
        let after: Vec<_> = run.rows.iter().filter(|r| r.r#loop > recovered_from && r.r#loop < next).collect();
        let answered = after.iter().filter(|r| r.probe_ms.is_some()).count();
        assert!(
            answered * 10 >= after.len() * 9,
            "the probe recovered from {}: {answered}/{}",
            fault.target,
            after.len()
        );
        assert!(after.iter().map(|r| r.generator_ms.len()).sum::<usize>() > 0, "the generators recovered");
        let window = run.rows.iter().filter(|r| r.r#loop >= fault.at_loop && r.r#loop < next);
        timeouts.push(window.filter(|r| r.timeout).count());
    }
    assert_eq!(end.counts.timeouts, run.rows.iter().filter(|r| r.timeout).count() as u32);
    assert!(end.counts.timeouts - end.counts.fault_timeouts <= 5);

    let report = bench().arg("report").arg(dir.path()).arg("--out").arg(dir.path().join("r.html")).output_within(QUICK);
    assert!(report.status.success());
    let page = std::fs::read_to_string(dir.path().join("r.html")).expect("page");
    assert!(page.contains("\"faults\":[{"), "the faults are drawn on the charts");
    let left = stack::testing::leftover_containers();
    assert!(left.is_empty(), "{left:?}");
    (run, timeouts)
}

#[test]
fn one_broker_of_three_killed() {
    let kill = Fault { at_loop: 30, target: "kafka-2", action: "kill", duration_s: 10 };
    let (run, _) = run_with_faults(3, 160, &[kill]);
    assert!(run.end.is_some_and(|e| e.counts.transfers > 0));
}

/// The services in turn on one stack (a stack each would triple the bring-ups): each fault's recovery is
/// checked before the next begins.
#[test]
fn services_restarted_and_paused_in_turn_are_survived() {
    let faults = [
        Fault { at_loop: 30, target: "command-handler", action: "restart", duration_s: 5 },
        // While the endpoint is down the probe cannot even connect: those loops are timeouts.
        Fault { at_loop: 130, target: "graphql-endpoint", action: "restart", duration_s: 5 },
        // Frozen, the handler answers nothing: probe loops time out, and none of it ends the run.
        Fault { at_loop: 230, target: "command-handler", action: "pause", duration_s: 5 },
    ];
    let (run, timeouts) = run_with_faults(1, 330, &faults);
    let end = run.end.expect("end line");
    assert!(end.audit.confirmed_transfers > 0);
    assert!(timeouts[1] > 0 && timeouts[2] > 0, "the endpoint's restart and the pause cost probes: {timeouts:?}");
}
