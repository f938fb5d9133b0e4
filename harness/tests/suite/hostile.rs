//! Hostile inputs (#22): files built to crash or exhaust `bench` get a clear error naming the file and exit 2.

use crate::support::{bench, Within, QUICK};

use std::path::Path;

fn report(dir: &Path, input: &str) -> (Option<i32>, String) {
    let out = bench().current_dir(dir).args(["report", input, "--out", "r.html"]).output_within(QUICK);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn mapping(dir: &Path, run: &str) {
    std::fs::write(dir.join("m.edn"), "{:mapping {\"0\" \"run-*\"}}").expect("mapping");
    std::fs::write(dir.join("run-1.edn"), run).expect("run");
}

#[test]
fn a_2019_run_nesting_200000_brackets_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    mapping(dir.path(), &("[".repeat(200_000) + &"]".repeat(200_000)));
    let (code, err) = report(dir.path(), "m.edn");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("run-1.edn") && err.contains("nested deeper than 64 levels"), "{err}");
}

#[test]
fn a_2019_run_whose_loop_numbers_jump_to_four_billion_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    mapping(dir.path(), "[[1 1569043707000 120 0]\n[4000000000 1569043708000 130 0]]");
    let (code, err) = report(dir.path(), "m.edn");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("run-1.edn") && err.contains("row 2") && err.contains("4000000000"), "{err}");
}

fn run_dry(dir: &Path, text: &str) -> (Option<i32>, String) {
    std::fs::write(dir.join("e.toml"), text).expect("experiment");
    let out = bench().current_dir(dir).args(["run", "e.toml", "--dry-run"]).output_within(QUICK);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn experiment_files_that_would_overflow_or_collide_name_file_line_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("name = \"g\"\n[[faults]]\ntarget = \"db-ch\"\naction = \"kill\"\nat_loop = 10\nduration_s = 5\ngrace_s = 9223372036854775807\n", "line 7", "faults[0].grace_s"),
        ("name = \"p\"\n[stack]\nbrokers = 3\n[stack.ports]\nkafka = 65534\n", "line 5", "stack.ports.kafka = 65534"),
        ("name = \"c\"\n[stack.ports]\nregistry = 19093\n", "line 3", "stack.ports.kafka (19092..=19094) and stack.ports.registry"),
        ("name = \"r\"\n[stack.ports]\nregistry = 65535\n", "line 3", "stack.ports.registry = 65535: 2 port(s)"),
        ("name = \"n\"\n[stack.ports]\ndb_ch = 18082\n", "line 3", "stack.ports.registry (18081..=18082) and stack.ports.db_ch"),
        ("name = \"f\"\n[[faults]]\ntarget = \"kafka-01\"\naction = \"kill\"\nat_loop = 10\nduration_s = 5\n", "line 3", "faults[0].target = \"kafka-01\""),
        ("name = \"m\"\n[matrix]\n\"stack.services.producer.linger.ms\" = [1, \"1\"]\n", "line 2", "2 variants are named \"linger.ms=1\""),
    ];
    for (text, line, key) in cases {
        let (code, err) = run_dry(dir.path(), text);
        assert_eq!(code, Some(2), "{text}\n{err}");
        assert!(err.contains("e.toml") && err.contains(line) && err.contains(key), "{text}\n{err}");
    }
}

#[test]
fn a_dry_run_on_an_external_deployment_keeps_its_passwords_off_the_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = "name = \"x\"\n[external]\ngraphql = \"ws://127.0.0.1:8888/graphql\"\ndb_ch = \"postgres://bank:s3cret-ch@127.0.0.1:25432/ch\"\ndb_ge = \"postgres://bank:s3cret-ge@127.0.0.1:25431/ge\"\n";
    std::fs::write(dir.path().join("e.toml"), text).expect("experiment");
    let out = bench()
        .current_dir(dir.path())
        .args(["run", "e.toml", "--dry-run", "--platform", "external"])
        .output_within(QUICK);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("postgres://bank:***@127.0.0.1:25432/ch"), "{stdout}");
    assert!(!stdout.contains("s3cret") && !stderr.contains("s3cret"), "{stdout}{stderr}");
}

#[test]
fn an_endless_experiment_file_is_refused_after_a_megabyte() {
    let started = std::time::Instant::now();
    let out = bench().args(["run", "/dev/zero", "--dry-run"]).output_within(QUICK);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/dev/zero") && err.contains("larger than 1 MiB"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
}
