//! Against a real Docker engine (`scripts/setup` starts one, with the base image): `bench images` removes the
//! images its rebuilds superseded, but not one a container still uses, nor the current one.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{Within, QUICK};

const TAG: &str = "kgb-test/prune:current";

fn docker(args: &[&str]) -> bool {
    Command::new("docker").args(args).output_within(QUICK).status.success()
}

/// Builds a one-label image on bench's base (which carries bench's label) under [`TAG`]; its id.
fn build(label: &str) -> String {
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", TAG, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker build starts");
    let dockerfile = format!("FROM kgb/base:bookworm\nLABEL kgb.test={label}\n");
    child.stdin.take().expect("stdin").write_all(dockerfile.as_bytes()).expect("dockerfile written");
    let out = child.wait_with_output().expect("docker build ends");
    assert!(out.status.success(), "docker build failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn present(id: &str) -> bool {
    docker(&["image", "inspect", id])
}

/// Removes the test's container and images however the test ends.
struct Cleanup {
    holder: String,
    first: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        docker(&["rm", "-f", &self.holder]);
        docker(&["rmi", TAG]);
        if let Some(first) = &self.first {
            docker(&["rmi", first]);
        }
    }
}

#[tokio::test]
async fn superseded_images_go_unless_a_container_uses_them() {
    let _serial = crate::support::serial_async().await;
    let engine = stack::docker::connect().await.expect("a Docker engine (scripts/setup starts one)");
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    let mut cleanup = Cleanup { holder: format!("kgb-test-prune-{run}"), first: None };
    let first = build(&format!("{run}-1"));
    cleanup.first = Some(first.clone());
    assert!(docker(&["create", "--network", "none", "--name", &cleanup.holder, &first, "true"]));
    let second = build(&format!("{run}-2"));
    assert_ne!(first, second);

    stack::images::prune_superseded(&engine).await.expect("prune");
    assert!(present(&first), "a superseded image a container uses stays");
    assert!(present(&second) && present(TAG));

    assert!(docker(&["rm", &cleanup.holder]));
    stack::images::prune_superseded(&engine).await.expect("prune");
    assert!(!present(&first), "the superseded image is gone once nothing uses it");
    assert!(present(&second) && present(TAG), "the current image stays");
    assert!(present("kgb/base:bookworm"));
}
