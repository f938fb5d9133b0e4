//! Ctrl-C and SIGTERM in each phase of a run (bring-up, load, audit, teardown), and SIGKILL followed by
//! `bench down --stack`: the results file gets its end line, nothing is left running, the exit code is 128 + signal,
//! and bench exits within [`EXIT_AFTER_SIGNAL`] of the signal. (Before the load, while the probe waits for a silent
//! endpoint: `silent_endpoint.rs`.) Every wait on bench has a deadline: a bench that hangs is killed, its stack
//! removed, and the test fails.

use crate::support;

use crate::support::{bench, serial, stderr_lines, Down, Within, QUICK, STACK};

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bench_results::{EndedBy, Run};

const EXPERIMENT: &str = r#"name = "interrupt"
[load]
probe_interval_ms = 250
probe_timeout_ms = 3000
max_loops = 60
loops_per_generator = 10
generators_per_step = 2
transfer_pause_ms = 100
resources_every_loops = 20
[stack]
brokers = 1
kafka_jvm_opts = "-Xms512m -Xmx512m"
[stack.topics]
partitions = 3
"#;

/// From a signal to bench's exit, the stack's removal included.
const EXIT_AFTER_SIGNAL: Duration = Duration::from_secs(30);

/// From start to exit of a run that was not signalled (a bring-up, 60 loops of 250 ms, the audit, the teardown).
const WHOLE_RUN: Duration = Duration::from_secs(300);

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    results: tempfile::TempDir,
    /// When the last signal was sent.
    signalled: Option<Instant>,
}

fn start() -> Running {
    let results = tempfile::tempdir().expect("temp dir");
    let experiment = results.path().join("interrupt.toml");
    std::fs::write(&experiment, EXPERIMENT).expect("experiment");
    let mut child = bench()
        .arg("run")
        .arg(&experiment)
        .arg("--results")
        .arg(results.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bench starts");
    let lines = stderr_lines(&mut child);
    Running { child, lines, seen: Vec::new(), results, signalled: None }
}

impl Running {
    /// Waits for a progress line containing `marker`.
    fn wait_for(&mut self, marker: &str) {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(180)) {
                Ok(line) => {
                    let hit = line.contains(marker);
                    self.seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(e) => panic!("no line with {marker:?} ({e}); stderr so far:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn signal(&mut self, name: &str) {
        let out = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).output_within(QUICK);
        assert!(out.status.success(), "kill -{name}: {}", support::text(&out));
        self.signalled = Some(Instant::now());
    }

    /// Exit code and the one results file; bench must exit within [`EXIT_AFTER_SIGNAL`] of the last signal.
    fn finish(mut self) -> (Option<i32>, Run, String) {
        let limit = if self.signalled.is_some() { EXIT_AFTER_SIGNAL } else { WHOLE_RUN };
        let from = self.signalled.unwrap_or_else(Instant::now);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("bench waited for") {
                break status;
            }
            if from.elapsed() > limit {
                self.seen.extend(self.lines.try_iter());
                panic!(
                    "bench did not exit within {limit:?} (killed, its stack removed); stderr:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(at) = self.signalled {
            eprintln!("bench exited {:.2} s after the signal", at.elapsed().as_secs_f64());
        }
        // Its stderr ends with its exit; bounded all the same.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let files = bench_results::files(self.results.path()).expect("listed");
        assert_eq!(files.len(), 1, "one results file: {files:?}\n{}", self.seen.join("\n"));
        let run = Run::read(&files[0]).expect("results file reads");
        (status.code(), run, self.seen.join("\n"))
    }
}

impl Drop for Running {
    /// A test that failed while bench runs kills it and removes the stack it started, so nothing outlives the test.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let id = stack::testing::leftover_containers()
                .iter()
                .find(|c| c.as_str() == "kgb-kafka-1")
                .map(|c| stack::testing::stack_of(c));
            if let Some(id) = id {
                drop(Down::stack(&id));
            }
        }
    }
}

/// Docker's `pause` or `unpause` of one container.
fn docker(verb: &str, container: &str) {
    let out = Command::new("docker").args([verb, container]).output_within(QUICK);
    assert!(out.status.success(), "docker {verb} {container}: {}", support::text(&out));
}

#[test]
fn ctrl_c_during_bring_up_writes_an_end_line_and_removes_what_was_started() {
    let _serial = serial();
    let mut bench = start();
    bench.wait_for("waiting for");
    bench.signal("INT");
    let (code, run, log) = bench.finish();
    assert_eq!(code, Some(130), "{log}");
    let end = run.end.expect("end line");
    assert_eq!((end.ended_by, end.counts.loops), (EndedBy::Interrupt, 0), "{log}");
    assert!(run.rows.is_empty() && run.header.stack_ready_s.is_none());
    assert_eq!(end.audit.error.as_deref(), Some("interrupted during bring-up"));
    assert!(stack::testing::leftover_containers().is_empty(), "{log}");
}

#[test]
fn sigterm_during_the_load_stops_it_audits_and_removes_the_stack() {
    let _serial = serial();
    let mut bench = start();
    bench.wait_for("loop 20");
    bench.signal("TERM");
    let (code, run, log) = bench.finish();
    assert_eq!(code, Some(143), "{log}");
    let end = run.end.expect("end line");
    assert_eq!(end.ended_by, EndedBy::Interrupt, "{log}");
    assert!(end.counts.loops >= 20 && end.counts.loops < 60 && run.rows.len() == end.counts.loops as usize, "{log}");
    assert!(end.audit.passed, "an interrupted load's books are still audited: {:?}", end.audit);
    assert!(stack::testing::leftover_containers().is_empty(), "{log}");
}

#[test]
fn ctrl_c_during_the_audit_ends_the_run_as_interrupted() {
    let _serial = serial();
    let mut bench = start();
    bench.wait_for("loop 40");
    // The audit alone takes well under a second; a frozen db-ge holds it open (its session waits up to 10 s for
    // an answer), so the signal lands in the audit, never after it. The probe may time out meanwhile (db-ge
    // stores its transactions), which may end the load by its timeouts before loop 60: it reaches the audit
    // either way.
    docker("pause", "kgb-db-ge");
    bench.wait_for("] audit");
    std::thread::sleep(Duration::from_secs(1));
    bench.signal("INT");
    let (code, run, log) = bench.finish();
    assert_eq!(code, Some(130), "{log}");
    let end = run.end.expect("end line");
    assert_eq!(end.ended_by, EndedBy::Interrupt, "{log}");
    assert_eq!(end.audit.error.as_deref(), Some("interrupted during the audit"), "{log}");
    assert!(end.counts.loops >= 40 && run.rows.len() == end.counts.loops as usize, "{log}");
    assert!(stack::testing::leftover_containers().is_empty(), "the paused db-ge is removed too: {log}");
}

#[test]
fn ctrl_c_during_teardown_still_removes_everything() {
    let _serial = serial();
    let mut bench = start();
    bench.wait_for("removing the stack");
    bench.signal("INT");
    let (code, run, log) = bench.finish();
    assert_eq!(code, Some(130), "{log}");
    let end = run.end.expect("end line written before teardown");
    assert_eq!(end.ended_by, EndedBy::MaxLoops, "{log}");
    assert!(end.audit.passed);
    assert!(stack::testing::leftover_containers().is_empty(), "{log}");
}

#[test]
fn after_sigkill_down_stack_removes_every_leftover_of_the_run() {
    let _serial = serial();
    let mut bench = start();
    bench.wait_for("loop 20");
    bench.signal("KILL");
    let (code, run, log) = bench.finish();
    assert_eq!(code, None, "killed by a signal");
    assert!(run.end.is_none() && !run.rows.is_empty(), "a killed run leaves a readable, incomplete file");
    assert!(!stack::testing::leftover_containers().is_empty(), "SIGKILL leaves the stack running: {log}");
    // Names are unique, so the broker this run started says which stack is the test's; `--all` would take a
    // developer's own stacks too.
    let id = stack::testing::stack_of("kgb-kafka-1");
    let developers = stack::testing::DevelopersContainer::start();
    let down = support::bench().args(["down", "--stack", &id]).output_within(STACK);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(stack::testing::containers_of(&id).is_empty());
    assert!(developers.exists(), "a developer's own stack survives the test's cleanup");
}
