//! Hostile inputs (#22): files built to crash or exhaust `bench` get a clear error naming the file and exit 2.

use std::path::Path;

fn report(dir: &Path, input: &str) -> (Option<i32>, String) {
    let out = assert_cmd::Command::cargo_bin("bench").expect("bench").current_dir(dir).args(["report", input, "--out", "r.html"]).output().expect("runs");
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
