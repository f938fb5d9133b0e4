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

/// Stacks share fixed ports with the other integration tests of this binary.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn up_prints_endpoints_and_down_removes_the_stack() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let file = write("name = \"cli\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms256m -Xmx512m\"\n");
    let out = bench().arg("up").arg(file.path()).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("ready in") && text.contains("127.0.0.1:19092"), "{text}");
    let databases: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("db-")).collect();
    assert!(databases.len() == 2 && databases.iter().all(|l| l.contains(":***@")), "the generated password stays hidden: {text}");
    assert!(!stack::testing::leftover_containers().is_empty(), "bench up leaves the stack running");
    let out = bench().arg("down").output().expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("kgb-kafka-1"));
    assert!(stack::testing::leftover_containers().is_empty());
}

#[test]
fn down_all_removes_what_a_crashed_bench_left() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let docker = stack::docker::connect().await.expect("a Docker engine");
        let text = "name = \"crash\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms256m -Xmx512m\"\n";
        let e = harness::experiment::ExperimentFile::parse(std::path::Path::new("crash.toml"), text).expect("parses");
        let options = stack::Options { owner: stack::Owner::Run, services: stack::Services::None, reports: None };
        let stack = stack::Stack::up(&docker, &e.experiment.stack, options, &|_| {}).await.expect("up");
        // A crash: the process dies without running Drop.
        std::mem::forget(stack);
    });
    assert_eq!(stack::testing::leftover_containers().len(), 4);
    let out = bench().arg("down").output().expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to remove"), "plain down keeps other stacks");
    let out = bench().args(["down", "--all"]).output().expect("runs");
    assert!(out.status.success());
    assert!(stack::testing::leftover_containers().is_empty());
}

#[test]
fn run_rejects_a_repeat_of_zero_with_exit_2() {
    let out = bench().args(["run", "experiments/smoke.toml", "--repeat", "0"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--repeat"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn external_platform_without_a_deployment_exits_2_naming_the_table() {
    let file = write("name = \"t\"\n");
    let out = bench().args(["run", "--platform", "external"]).arg(file.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[external]") && err.contains(&*file.path().to_string_lossy()), "{err}");
}
