//! The nightly workflow: actionlint passes, and every `matrix.<key>` it uses is a key `bench matrix` prints.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn workflow() -> PathBuf {
    root().join(".github/workflows/nightly.yml")
}

#[test]
fn actionlint_accepts_the_nightly_workflow() {
    let cache = std::env::var("KGB_CACHE").unwrap_or_else(|_| "/var/cache/kgb".into());
    let actionlint = Path::new(&cache).join("bin/actionlint");
    let out = Command::new(&actionlint)
        .arg("-no-color")
        .arg(workflow())
        .output()
        .unwrap_or_else(|e| panic!("{} runs (scripts/setup installs it): {e}", actionlint.display()));
    assert!(
        out.status.success(),
        "actionlint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let shellcheck = Command::new("shellcheck").arg("--version").output();
    assert!(shellcheck.is_ok_and(|o| o.status.success()), "shellcheck is missing, so actionlint skipped the scripts");
}

#[test]
fn the_workflow_uses_only_keys_bench_matrix_prints() {
    let text = std::fs::read_to_string(workflow()).expect("workflow");
    let out = assert_cmd::Command::cargo_bin("bench")
        .expect("bench")
        .current_dir(root())
        .args(["matrix", "experiments/linger.toml", "experiments/batching.toml", "--repeat", "2"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let matrix: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let include = matrix["include"].as_array().expect("include");
    assert_eq!(include.len(), 4 + 8, "one entry per variant");
    let first = include[0].as_object().expect("entry");
    let used: Vec<&str> = text
        .split("{{ matrix.")
        .skip(1)
        .map(|rest| rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or(""))
        .filter(|key| !key.is_empty())
        .collect();
    assert!(used.len() >= 5, "the workflow names its matrix keys: {used:?}");
    for key in used {
        assert!(first.contains_key(key), "the workflow uses matrix.{key}, which bench matrix does not print");
    }
    let command = first["command"].as_str().expect("command");
    assert_eq!(command, "scripts/bench run experiments/linger.toml --variant linger.ms=0 --repeat 2");
    let slugs: std::collections::BTreeSet<&str> = include.iter().filter_map(|e| e["slug"].as_str()).collect();
    assert_eq!(slugs.len(), include.len(), "artifact names are unique");
}

#[test]
fn matrix_of_a_bad_file_exits_2() {
    let out = assert_cmd::Command::cargo_bin("bench").expect("bench").args(["matrix", "/nonexistent/x.toml"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
