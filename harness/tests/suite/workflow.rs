//! The nightly workflow: actionlint passes, every `matrix.<key>` it uses is a key `bench matrix` prints, and it
//! caches the folder scripts/setup builds into.

use crate::support::{bench, Within, QUICK};

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
    let out = Command::new(&actionlint).arg("-no-color").arg(workflow()).output_within(QUICK);
    assert!(
        out.status.success(),
        "actionlint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let shellcheck = Command::new("shellcheck").arg("--version").output_within(QUICK);
    assert!(shellcheck.status.success(), "shellcheck does not work, so actionlint skipped the scripts");
}

#[test]
fn the_workflow_uses_only_keys_bench_matrix_prints() {
    let text = std::fs::read_to_string(workflow()).expect("workflow");
    assert!(text.contains("--blocks \"$BLOCKS\""), "the workflow asks bench matrix for blocks");
    let out = bench()
        .current_dir(root())
        .args(["matrix", "experiments/linger.toml", "experiments/batching.toml", "--repeat", "2", "--blocks", "3"])
        .output_within(QUICK);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let matrix: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let include = matrix["include"].as_array().expect("include");
    assert_eq!(include.len(), 2 * 3, "one entry per block per experiment");
    let first = include[0].as_object().expect("entry");
    let used: Vec<&str> = text
        .split("{{ matrix.")
        .skip(1)
        .map(|rest| rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or(""))
        .filter(|key| !key.is_empty())
        .collect();
    assert!(used.len() >= 5, "the workflow names its matrix keys: {used:?}");
    assert!(used.contains(&"block"), "each job says which block it runs");
    for key in used {
        assert!(first.contains_key(key), "the workflow uses matrix.{key}, which bench matrix does not print");
    }
    // Every variant of the experiment runs in each block, so the command names no variant.
    let command = first["command"].as_str().expect("command");
    assert!(command.starts_with("scripts/bench run experiments/linger.toml "), "{command}");
    assert!(command.contains("--repeat 2") && !command.contains("--variant"), "{command}");
    assert!(command.contains(&format!("--block {}", first["block"])), "the command runs its own block: {command}");
    let slugs: std::collections::BTreeSet<&str> = include.iter().filter_map(|e| e["slug"].as_str()).collect();
    assert_eq!(slugs.len(), include.len(), "artifact names are unique");
}

/// scripts/setup runs under sudo and builds into $KGB_CACHE/target (scripts/env.sh): the workflow must hand
/// sudo that folder and cache it, or every job builds cold.
#[test]
fn the_workflow_caches_the_folder_setup_builds_into() {
    let text = std::fs::read_to_string(workflow()).expect("workflow");
    assert!(
        text.contains("  KGB_CACHE: ${{ github.workspace }}/"),
        "KGB_CACHE is set for every job, inside the workspace"
    );
    assert!(text.contains("${{ env.KGB_CACHE }}/target"), "the cache holds the target folder");
    assert!(text.contains("${{ env.KGB_CACHE }}/npm"), "the cache holds Vega (harness/build.rs)");
    let keep = text.lines().find_map(|l| l.trim().strip_prefix("KEEP: ")).expect("a KEEP list for sudo");
    for name in ["KGB_CACHE", "CARGO_TARGET_DIR", "KGB_DEBIAN_MIRROR", "CARGO_HOME", "RUSTUP_HOME"] {
        assert!(keep.split(',').any(|k| k == name), "sudo keeps {name}: {keep}");
    }
    let runs_sudo = |l: &&str| !l.trim_start().starts_with('#') && l.contains("sudo ") && !l.contains("chown");
    for line in text.lines().filter(runs_sudo) {
        assert!(line.contains("--preserve-env=\"$KEEP\""), "every sudo keeps the environment: {line}");
    }
    assert!(text.contains("KGB_DEBIAN_MIRROR: http://deb.debian.org/debian"), "the base image comes from Debian");
}

#[test]
fn matrix_of_a_bad_file_exits_2() {
    let out = bench().args(["matrix", "/nonexistent/x.toml"]).output_within(QUICK);
    assert_eq!(out.status.code(), Some(2));
}
