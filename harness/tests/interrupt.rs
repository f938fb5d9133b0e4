//! Ctrl-C and SIGTERM in each phase of a run (bring-up, load, audit, teardown), and SIGKILL followed by
//! `bench down --stack`: the results file gets its end line, nothing is left running, the exit code is 128 + signal.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use harness::results::{EndedBy, Run};

/// Stacks share fixed ports: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

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

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    results: tempfile::TempDir,
}

fn start() -> Running {
    let results = tempfile::tempdir().expect("temp dir");
    let experiment = results.path().join("interrupt.toml");
    std::fs::write(&experiment, EXPERIMENT).expect("experiment");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench"))
        .arg("run")
        .arg(&experiment)
        .arg("--results")
        .arg(results.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bench starts");
    let (tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Running { child, lines, seen: Vec::new(), results }
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

    fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().expect("kill runs");
        assert!(status.success());
    }

    /// Exit code and the one results file.
    fn finish(mut self) -> (Option<i32>, Run, String) {
        let status = self.child.wait().expect("bench exits");
        self.seen.extend(self.lines.iter());
        let files = harness::results::files(self.results.path()).expect("listed");
        assert_eq!(files.len(), 1, "one results file: {files:?}\n{}", self.seen.join("\n"));
        let run = Run::read(&files[0]).expect("results file reads");
        (status.code(), run, self.seen.join("\n"))
    }
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
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
    bench.wait_for("] audit");
    bench.signal("INT");
    let (code, run, log) = bench.finish();
    assert_eq!(code, Some(130), "{log}");
    let end = run.end.expect("end line");
    // The audit takes well under a second, so the signal may land just after it: then the run ended by its
    // own rule and its audit stands. Either way the end line is there and nothing is left.
    if end.ended_by == EndedBy::Interrupt {
        assert_eq!(end.audit.error.as_deref(), Some("interrupted during the audit"), "{log}");
    } else {
        assert!(end.audit.passed, "{log}");
    }
    assert_eq!(end.counts.loops, 60);
    assert!(stack::testing::leftover_containers().is_empty(), "{log}");
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
    let down = Command::new(env!("CARGO_BIN_EXE_bench")).args(["down", "--stack", &id]).output().expect("down runs");
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(stack::testing::containers_of(&id).is_empty());
    assert!(developers.exists(), "a developer's own stack survives the test's cleanup");
}

