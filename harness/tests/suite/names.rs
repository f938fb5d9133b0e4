//! Names that become paths (#32): a stack id, a `kgb.stack` label, a results header's experiment or variant that
//! would lead out of its folder is refused with exit code 2 naming the value, and nothing outside is touched.
//! Each attempt is made against a folder of its own holding a victim file.

use crate::support::{bench, Within, QUICK};

use std::path::{Path, PathBuf};

use harness::testing::synthetic::Synthetic;

/// A temporary folder standing for `$TMPDIR`, with victims where a traversal would land: in it, and in a
/// stack's TLS folder's parent's sibling.
struct Victims {
    dir: tempfile::TempDir,
}

impl Victims {
    fn new() -> Victims {
        let dir = tempfile::tempdir().expect("temp dir");
        for path in ["victim", "x/victim", "kgb-tls/victim"] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, "keep").expect("victim");
        }
        Victims { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn assert_untouched(&self, attempt: &str) {
        for path in ["victim", "x/victim", "kgb-tls/victim"] {
            let text = std::fs::read_to_string(self.path().join(path)).unwrap_or_default();
            assert_eq!(text, "keep", "{attempt}: {path} is gone");
        }
    }
}

fn assert_refused(out: &std::process::Output, value: &str, attempt: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{attempt}: {err}{}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains(&format!("{value:?}")), "{attempt}: the value is named: {err}");
}

/// Before #32 `..` passed (only emptiness and the characters were checked) and `bench down` removed
/// `$TMPDIR/kgb-tls/..`, that is all of `$TMPDIR`.
#[test]
fn down_refuses_a_stack_id_that_leaves_the_tls_folder_and_removes_nothing() {
    for id in ["..", "../x", ".", "x/..", "/tmp", ".hidden"] {
        let victims = Victims::new();
        let out = bench().args(["down", "--stack", id]).env("TMPDIR", victims.path()).output_within(QUICK);
        assert_refused(&out, id, &format!("--stack {id}"));
        assert!(String::from_utf8_lossy(&out.stderr).contains("stack id"), "{}", String::from_utf8_lossy(&out.stderr));
        victims.assert_untouched(&format!("--stack {id}"));
    }
}

/// A results file as bench writes it (run "t", variant "v") with its header's `field` set to `value`, in a folder
/// of `root` that is not under `reports/`.
fn tampered_results(root: &Path, field: &str, value: &str) -> PathBuf {
    let results = root.join("from-a-nightly-job");
    let run = Synthetic {
        experiment: "t",
        variant: "v",
        repeat: 1,
        hostname: "h",
        loops: 20,
        loops_per_generator: 10,
        containers: &[],
        base_ms: 20.0,
        seed: 1,
    };
    let path = run.write(&results).expect("synthetic run");
    let text = std::fs::read_to_string(&path).expect("read");
    let (header, rest) = text.split_once('\n').expect("a header line");
    let mut header: serde_json::Value = serde_json::from_str(header).expect("a JSON header");
    header[field] = serde_json::Value::String(value.to_string());
    std::fs::write(&path, format!("{header}\n{rest}")).expect("write");
    results
}

/// Before #32 a header whose experiment was `../../../tmp/x` made `bench report` write `x.html` and `x.json`
/// outside `reports/`; variant names reach paths the same way (`<experiment>/<variant>/` in run names).
#[test]
fn report_refuses_a_results_header_whose_names_lead_out_of_their_folder() {
    for (field, value) in
        [("experiment", "../x"), ("experiment", "../../escaped"), ("variant", "a/../../b"), ("variant", "..")]
    {
        let victims = Victims::new();
        let work = victims.path().join("checkout");
        std::fs::create_dir_all(work.join("reports")).expect("mkdir");
        let results = tampered_results(victims.path(), field, value);
        let out = bench().current_dir(&work).arg("report").arg(&results).output_within(QUICK);
        let attempt = format!("header {field} = {value:?}");
        assert_refused(&out, value, &attempt);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("the header's {field}")),
            "{attempt}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        victims.assert_untouched(&attempt);
        let written: Vec<_> = walk(victims.path())
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "html" || e == "json"))
            .collect();
        assert!(written.is_empty(), "{attempt}: no report anywhere: {written:?}");
    }
}

/// The same files with their names as bench writes them make a report in `reports/`: the check refuses only
/// what leads out.
#[test]
fn report_of_untampered_results_is_written_under_reports() {
    let victims = Victims::new();
    let work = victims.path().join("checkout");
    std::fs::create_dir_all(work.join("reports")).expect("mkdir");
    let results = tampered_results(victims.path(), "variant", "batch.size=16384,compression.type=none");
    let out = bench().current_dir(&work).arg("report").arg(&results).output_within(QUICK);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(work.join("reports/t.html").is_file() && work.join("reports/t.json").is_file());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// A `kgb.stack` label is whatever whoever started the container wrote. Before #32 plain `bench down` joined it
/// into the TLS folder's path as it was: `../x` removed `$TMPDIR/x`. Needs a Docker engine and the base image
/// (run it inside `flock /tmp/kgb-stack.lock`); the container is a stand-in that only sleeps.
#[test]
fn down_refuses_a_label_that_leads_out_of_the_tls_folder_and_removes_nothing() {
    let _serial = crate::support::serial();
    use stack::docker::container::{ContainerSpec, LABEL_OWNER, LABEL_STACK};
    let victims = Victims::new();
    let name = format!("kgb-hostile-label-{}", std::process::id());
    let spec = ContainerSpec {
        name: name.clone(),
        image: stack::images::catalog::BASE.to_string(),
        env: Vec::new(),
        args: vec!["sleep".into(), "600".into()],
        labels: std::collections::HashMap::from([
            (LABEL_STACK.to_string(), "../x".to_string()),
            (LABEL_OWNER.to_string(), "up".to_string()),
        ]),
        memory_mib: Some(16),
        cpus: None,
        read_only: Vec::new(),
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let docker = runtime.block_on(stack::docker::connect()).expect("a Docker engine");
    runtime.block_on(stack::docker::container::start(&docker, &spec)).expect("the stand-in starts");
    let _removed = Removed(name.clone());
    let out = bench().arg("down").env("TMPDIR", victims.path()).output_within(QUICK);
    assert_refused(&out, "../x", "label kgb.stack=../x");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&name), "the container is named");
    victims.assert_untouched("label kgb.stack=../x");
    assert!(stack::testing::leftover_containers().contains(&name), "nothing was removed");
}

/// Removes the stand-in container even when an assertion fails first.
struct Removed(String);

impl Drop for Removed {
    fn drop(&mut self) {
        let name = self.0.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(async {
                if let Ok(docker) = stack::docker::connect().await {
                    let _ = stack::docker::container::remove(&docker, &name).await;
                }
            })
        })
        .join();
    }
}
