//! The commit bench is built from, as `KGB_GIT_COMMIT`: a results header names the code that produced it, not
//! whichever checkout (if any) holds the experiment file.

use std::path::Path;
use std::process::Command;

/// Sources compiled into bench (relative to the harness crate): a change to any of them makes the build `-dirty`.
const SOURCES: [&str; 6] = [".", "../stack", "../bank-system/topology", "../compose", "../Cargo.toml", "../Cargo.lock"];

/// Where those sources' tracked files live: a change there makes cargo run this again, so the suffix follows the
/// working tree. Not the crate folders themselves: cargo watches a folder's every file, and a test that brought up
/// a stack from a crate's folder left a `reports/` there (the frontend's bind mount), which made the next
/// `cargo test` compile the harness again.
const WATCHED: [&str; 14] = [
    "src",
    "build",
    "build.rs",
    "benches",
    "tests",
    "Cargo.toml",
    "../stack/src",
    "../stack/Cargo.toml",
    "../bank-system/topology/src",
    "../bank-system/topology/sql",
    "../bank-system/topology/Cargo.toml",
    "../compose",
    "../Cargo.toml",
    "../Cargo.lock",
];

/// Emits `cargo:rustc-env=KGB_GIT_COMMIT=<sha>[-dirty]` ("unknown" without git or outside a checkout) and what
/// must make cargo compute it again: a new commit, a checkout, a change to the sources.
pub fn emit(manifest_dir: &Path) {
    let git = |args: &[&str]| git(manifest_dir, args);
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(sha) if !sha.is_empty() => {
            let status = [&["status", "--porcelain", "--untracked-files=no", "--"][..], &SOURCES[..]].concat();
            let dirty = git(&status).is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{sha}-dirty")
            } else {
                sha
            }
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=KGB_GIT_COMMIT={commit}");
    // A worktree's .git is a file: ask git where its HEAD and reflog (per worktree) and its refs (shared) live.
    let mut watched = Vec::new();
    if let Some(dir) = git(&["rev-parse", "--path-format=absolute", "--git-dir"]) {
        watched.extend([format!("{dir}/HEAD"), format!("{dir}/logs/HEAD")]);
    }
    if let (Some(common), Some(branch)) =
        (git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]), git(&["symbolic-ref", "-q", "HEAD"]))
    {
        watched.extend([format!("{common}/{branch}"), format!("{common}/packed-refs")]);
    }
    // cargo runs a build script every time when a watched path is missing (a packed ref, no packed-refs yet).
    for path in watched.iter().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    for source in WATCHED {
        println!("cargo:rerun-if-changed={}", manifest_dir.join(source).display());
    }
}

/// git's trimmed output, `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}
