//! The tests' own deadline: a command still running past it is interrupted and fails its test with what it
//! printed, instead of holding CI until the job's limit.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::Within;

#[test]
fn a_command_within_its_deadline_gives_its_output() {
    let out = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]).output_within(Duration::from_secs(30));
    assert_eq!(
        (out.status.code(), out.stdout.as_slice(), out.stderr.as_slice()),
        (Some(3), &b"out\n"[..], &b"err\n"[..])
    );
}

#[test]
fn a_command_past_its_deadline_is_interrupted_and_fails_the_test_with_what_it_printed() {
    let started = Instant::now();
    let failed = std::panic::catch_unwind(|| {
        Command::new("sh").args(["-c", "echo said-so-far; exec sleep 60"]).output_within(Duration::from_millis(300))
    });
    let message = failed.expect_err("past the deadline the test fails");
    let message = message.downcast_ref::<String>().expect("a panic message");
    assert!(message.contains("did not finish within 300ms") && message.contains("said-so-far"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10), "SIGINT ended it at once: {:?}", started.elapsed());
}
