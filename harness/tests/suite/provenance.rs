//! bench names the commit it was built from (results headers record the same), not that of the folder it runs in.

use crate::support::{bench, Within, QUICK};

#[test]
fn bench_version_names_the_commit_it_was_built_from_outside_any_checkout() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let head = std::process::Command::new("git").args(["-C", manifest, "rev-parse", "HEAD"]).output_within(QUICK);
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let out = bench().current_dir(elsewhere.path()).arg("--version").output_within(QUICK);
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        version.contains(&format!("({head})")) || version.contains(&format!("({head}-dirty)")),
        "{version} lacks {head}"
    );
}
