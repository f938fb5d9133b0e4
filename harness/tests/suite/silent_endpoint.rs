//! An endpoint that accepts connections and then says nothing, at each step before the load (the websocket
//! handshake, the `connection_ack`, the probe's account, the open model's accounts): Ctrl-C ends `bench run` at
//! once with 130 and an end line, and without Ctrl-C the step's deadline ends the run with an error naming the
//! step and the endpoint. Measured as an external deployment (`--platform external`), so the endpoint can be a
//! double on a port of the test's choosing and no stack is needed; bench starts no container either way.

use crate::support;

use crate::support::{bench, stderr_lines};

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bench_results::{EndedBy, Run};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Where the double stops answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Silence {
    /// Accepts TCP and never speaks.
    Handshake,
    /// Completes the websocket handshake, never acks `connection_init`.
    Ack,
    /// Acks, never answers `get_account`.
    Account,
    /// Serves the probe's connection (its account and its stream), acks the open model's connections and never
    /// answers their accounts.
    PoolAccounts,
}

/// A double on 127.0.0.1; `stuck` counts the connections that reached the silent step.
struct Double {
    url: String,
    stuck: Arc<AtomicU32>,
}

fn double(silence: Silence) -> Double {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("ws://{}/graphql", listener.local_addr().expect("address"));
    let stuck = Arc::new(AtomicU32::new(0));
    let counter = stuck.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let mut n = 0;
            while let Ok((stream, _)) = listener.accept().await {
                n += 1;
                tokio::spawn(serve(stream, silence, n, counter.clone()));
            }
        });
    });
    Double { url, stuck }
}

async fn serve(stream: tokio::net::TcpStream, silence: Silence, n: u32, stuck: Arc<AtomicU32>) {
    let hold = || async {
        stuck.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
    };
    if silence == Silence::Handshake {
        let _open = stream;
        return hold().await;
    }
    let Some(mut socket) = harness::testing::accept_websocket(stream).await else { return };
    let serves_accounts = silence == Silence::PoolAccounts && n == 1;
    while let Some(Ok(Message::Text(text))) = socket.next().await {
        let message: Value = serde_json::from_str(&text).unwrap_or_default();
        let id = &message["id"];
        match message["type"].as_str() {
            Some("connection_init") if silence == Silence::Ack => return hold().await,
            Some("connection_init") => {
                let _ = socket.send(Message::text(json!({"type": "connection_ack"}).to_string())).await;
            }
            Some(kind @ ("subscribe" | "start")) => {
                let query = message["payload"]["query"].as_str().unwrap_or_default();
                if !query.contains("get_account") {
                    continue; // the probe's stream: open, quiet
                }
                if !serves_accounts {
                    stuck.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                let data = json!({"get_account": {"iban": "NL07OPEN0123456789", "token": "t0ken", "reason": null}});
                let next = if kind == "start" { "data" } else { "next" };
                let _ = socket
                    .send(Message::text(json!({"id": id, "type": next, "payload": {"data": data}}).to_string()))
                    .await;
                let _ = socket.send(Message::text(json!({"id": id, "type": "complete"}).to_string())).await;
            }
            _ => {}
        }
    }
}

/// An experiment measuring the double; the databases are never reached (a run that never loaded is not audited).
fn experiment(dir: &std::path::Path, url: &str, silence: Silence) -> std::path::PathBuf {
    let search = if silence == Silence::PoolAccounts {
        "[search]\nslo_p99_ms = 500\n[load]\nmodel = \"open\"\nconnections = 2\naccounts = 8\nprobe_interval_ms = 250\n"
    } else {
        "[load]\nprobe_interval_ms = 250\nmax_loops = 20\n"
    };
    let text = format!(
        "name = \"silent\"\n{search}[external]\ngraphql = \"{url}\"\ndb_ch = \"postgres://u@127.0.0.1:9/ch\"\ndb_ge = \"postgres://u@127.0.0.1:9/ge\"\n"
    );
    let path = dir.join("silent.toml");
    std::fs::write(&path, text).expect("experiment written");
    path
}

struct Bench {
    child: Child,
    stderr: mpsc::Receiver<String>,
    results: tempfile::TempDir,
}

fn start(silence: Silence) -> (Bench, Double) {
    let double = double(silence);
    let results = tempfile::tempdir().expect("temp dir");
    let experiment = experiment(results.path(), &double.url, silence);
    let mut child = bench()
        .args(["run", "--platform", "external", "--results"])
        .arg(results.path().join("results"))
        .arg(&experiment)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bench starts");
    let stderr = stderr_lines(&mut child);
    (Bench { child, stderr, results }, double)
}

impl Bench {
    /// The exit code within `limit`; a bench still running then is killed and the test fails.
    fn exit_within(&mut self, limit: Duration) -> Option<i32> {
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("bench waited for") {
                return status.code();
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("bench did not exit within {limit:?}; stderr:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    fn interrupt(&self) {
        support::interrupt(&self.child);
    }

    fn run(&self) -> Run {
        let files = bench_results::files(&self.results.path().join("results")).expect("results listed");
        assert_eq!(files.len(), 1, "{files:?}");
        Run::read(&files[0]).expect("results file reads")
    }
}

/// Waits until the double holds a connection at its silent step.
fn wait_until_stuck(double: &Double, bench: &mut Bench) {
    let until = Instant::now() + Duration::from_secs(20);
    while double.stuck.load(Ordering::SeqCst) == 0 {
        if let Ok(Some(status)) = bench.child.try_wait() {
            panic!("bench exited ({status}) before it reached the silent step:\n{}", bench.log());
        }
        assert!(Instant::now() < until, "bench never reached the silent step:\n{}", bench.log());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ctrl_c_while_the_endpoint_is_silent_ends_the_run_at_once() {
    let _serial = crate::support::serial();
    for silence in [Silence::Handshake, Silence::Ack, Silence::Account, Silence::PoolAccounts] {
        let (mut bench, double) = start(silence);
        wait_until_stuck(&double, &mut bench);
        // Well inside the step's deadline: the interrupt, not the deadline, must end it.
        std::thread::sleep(Duration::from_millis(500));
        let signalled = Instant::now();
        bench.interrupt();
        let code = bench.exit_within(Duration::from_secs(15));
        let took = signalled.elapsed();
        eprintln!("{silence:?}: bench exited {took:?} after SIGINT");
        let log = bench.log();
        assert_eq!(code, Some(130), "{silence:?}: {log}");
        assert!(took < Duration::from_secs(5), "{silence:?}: {took:?}");
        let end = bench.run().end.expect("end line");
        assert_eq!((end.ended_by, end.counts.loops), (EndedBy::Interrupt, 0), "{silence:?}: {log}");
        assert_eq!(end.audit.error.as_deref(), Some("interrupted before the load"), "{silence:?}");
    }
    assert!(stack::testing::leftover_containers().is_empty(), "bench started no container here, and left none");
}

#[test]
fn without_ctrl_c_the_deadline_ends_the_run_naming_what_did_not_answer() {
    // No lock: nothing here starts a container or takes a fixed port, so its 110 s of waiting overlap a stack test.
    // The connection's steps have 10 s; a first command (through Kafka and the handler) 45 s, above the
    // endpoint's own 30 s command timeout.
    for (silence, step, deadline) in [
        (Silence::Handshake, "the websocket handshake", 10),
        (Silence::Ack, "connection_init with a connection_ack", 10),
        (Silence::Account, "get_account(testuser) for the probe", 45),
        (Silence::PoolAccounts, "get_account for the open model's accounts (0 of 8 opened)", 45),
    ] {
        let started = Instant::now();
        let (mut bench, double) = start(silence);
        let code = bench.exit_within(Duration::from_secs(deadline + 20));
        let took = started.elapsed();
        eprintln!("{silence:?}: bench gave up after {took:?}");
        let log = bench.log();
        assert_eq!(code, Some(1), "{silence:?}: {log}");
        assert!(took >= Duration::from_secs(deadline), "{silence:?}: the deadline is {deadline} s, not {took:?}");
        let wanted = format!("{} did not answer {step} within {deadline} s", double.url);
        assert!(log.contains(&wanted), "{silence:?}: stderr names the step and the endpoint ({wanted}):\n{log}");
        let end = bench.run().end.expect("end line");
        assert_eq!(end.ended_by, EndedBy::Error, "{silence:?}");
        assert!(end.error.as_deref().is_some_and(|e| e.contains(&wanted)), "{silence:?}: {:?}", end.error);
        assert_eq!(end.audit.error.as_deref(), Some("the load did not start"), "{silence:?}");
    }
}
