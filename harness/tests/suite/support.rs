//! What the harness's integration tests share, defined once: `bench` run to a deadline, one stack at a time, a
//! stack removed however a test ends, and a child's output as text.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// A command that starts no stack (parsing, reports, `down` of nothing) answers within this, even on a busy CI
/// machine; one that runs an experiment passes its own deadline.
pub const QUICK: Duration = Duration::from_secs(120);

/// `bench up` of a small stack, or `bench down` of one, with room for a cold and busy machine.
pub const STACK: Duration = Duration::from_secs(600);

/// After the deadline bench gets SIGINT and this long to clean up what it started before it is killed.
const CLEANUP: Duration = Duration::from_secs(60);

/// The `bench` binary of this build.
pub fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bench"))
}

/// `bench ARGS` in `dir` (a command that starts no stack): its exit code, stdout and stderr.
pub fn bench_in(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = bench().current_dir(dir).args(args).output_within(QUICK);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The shipped `experiments/smoke.toml`, its load cut to `loops` (its 360 loops are 90 s; a test needs less), written
/// into `dir` under the same name.
pub fn shortened_smoke(dir: &std::path::Path, loops: u32) -> std::path::PathBuf {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/smoke.toml");
    let text = std::fs::read_to_string(&shipped).expect("experiments/smoke.toml");
    assert!(text.contains("max_loops = 360"), "smoke.toml's load changed; shorten it here anew");
    let path = dir.join("smoke.toml");
    std::fs::write(&path, text.replace("max_loops = 360", &format!("max_loops = {loops}"))).expect("written");
    path
}

/// Runs a command to completion within a deadline, as `Command::output` does without one.
pub trait Within {
    /// The command's output; past `deadline` it is interrupted (then killed) and the test fails with what it
    /// printed, so a hung `bench` fails its test instead of holding CI until the job's own limit.
    fn output_within(&mut self, deadline: Duration) -> Output;
}

impl Within for Command {
    fn output_within(&mut self, deadline: Duration) -> Output {
        let what = format!("{self:?}");
        // SAFETY: signal(2) is async-signal-safe, and the closure touches nothing of the parent's.
        // A test run in the background of a shell without job control inherits SIGINT ignored, and the child would
        // keep it ignored across exec: the interrupt below would then do nothing.
        unsafe {
            self.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} did not start: {e}"));
        let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
        let status = wait(&mut child, deadline);
        let output = |status| Output { status, stdout: joined(stdout), stderr: joined(stderr) };
        match status {
            Some(status) => output(status),
            None => {
                interrupt(&child);
                let status = wait(&mut child, CLEANUP).unwrap_or_else(|| {
                    let _ = child.kill();
                    child.wait().unwrap_or_else(|e| panic!("{what}: {e}"))
                });
                let out = output(status);
                panic!("{what} did not finish within {deadline:?}; interrupted.\n{}", text(&out));
            }
        }
    }
}

/// The child's status once it exits within `deadline`, else `None` with the child still running.
pub fn wait(child: &mut Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if start.elapsed() >= deadline => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting on child {}: {e}", child.id()),
        }
    }
}

/// SIGINT, as a user's Ctrl-C: bench removes what it started and exits 130.
pub fn interrupt(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    // SAFETY: kill(2) with a pid this test spawned and has not yet reaped, so it cannot name another process.
    unsafe { libc::kill(pid, libc::SIGINT) };
}

/// The lines of a child's stderr as they come, for a test that waits for a progress line (with `recv_timeout`).
pub fn stderr_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, lines) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().expect("the child's stderr is piped");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Reads a pipe to its end on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Receiver<Vec<u8>> {
    let (tx, bytes) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut read = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut read);
        }
        let _ = tx.send(read);
    });
    bytes
}

/// What a pipe gave once the child has ended: a process that outlived the child and holds the pipe open must
/// not hold the test past its deadline.
fn joined(bytes: Receiver<Vec<u8>>) -> Vec<u8> {
    bytes
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| b"(the pipe stayed open after the command ended)".to_vec())
}

/// Stdout then stderr, for assertion messages.
/// A page of ours in headless Chromium (the browser bench itself uses), with `extra` flags (`--dump-dom`,
/// `--screenshot=…`): its output within [`QUICK`], the console on stderr.
pub fn headless(page: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(harness::browser::command())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
        .arg("--virtual-time-budget=10000")
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output_within(QUICK)
}

pub fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// One stack at a time, for a synchronous test: the lock `stack::testing::stack` takes too, so a test that brings
/// a stack up (or starts a container another test's leftover check would see) never overlaps another.
pub fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    stack::testing::serial_blocking()
}

/// One stack at a time, for a `#[tokio::test]`.
pub async fn serial_async() -> tokio::sync::MutexGuard<'static, ()> {
    stack::testing::serial().await
}

/// Removes what a test brought up when dropped, so a failing assertion leaves nothing for the next test:
/// `bench down --stack ID`, or with `Down::all_on_kubernetes` every bench namespace of the cluster.
pub struct Down(Vec<String>);

impl Down {
    pub fn stack(id: &str) -> Self {
        Down(vec!["down".into(), "--stack".into(), id.into()])
    }

    pub fn all_on_kubernetes() -> Self {
        Down(vec!["down".into(), "--all".into(), "--platform".into(), "kubernetes".into()])
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        let mut down = bench();
        down.args(&self.0).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if let Ok(mut child) = down.spawn() {
            if wait(&mut child, STACK).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
