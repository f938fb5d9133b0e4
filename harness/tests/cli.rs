//! The `bench` binary's contract: exit codes and messages for bad input, up/down through a real engine.

use assert_cmd::Command;

fn bench() -> Command {
    Command::cargo_bin("bench").expect("bench is built")
}

fn write(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp file");
    std::fs::write(file.path(), text).expect("write");
    file
}

#[test]
fn unknown_key_exits_2_naming_file_line_and_key() {
    let file = write("name = \"x\"\n\n[stack]\nbrokerz = 3\n");
    let out = bench().arg("up").arg(file.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&file.path().display().to_string()), "{err}");
    assert!(err.contains("line 4") && err.contains("brokerz"), "{err}");
}

#[test]
fn missing_experiment_file_exits_2() {
    let out = bench().args(["up", "/nonexistent/exp.toml"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/exp.toml"));
}

#[test]
fn unknown_variant_exits_2_listing_variants() {
    let file = write("name = \"x\"\n[matrix]\n\"stack.brokers\" = [1, 3]\n");
    let out = bench().arg("up").arg(file.path()).args(["--variant", "brokers=2"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("brokers=1, brokers=3"));
}

#[test]
fn no_engine_is_one_clear_line_and_exit_1() {
    let out = bench()
        .args(["down", "--all"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Docker engine answers at unix:///nonexistent/docker.sock"), "{err}");
    assert!(err.contains("scripts/setup"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn help_lists_the_commands() {
    let out = bench().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["images", "up", "down"] {
        assert!(text.contains(command), "{text}");
    }
}
