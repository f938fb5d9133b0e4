//! The `bench` binary's contract: exit codes and messages for bad input, up/down through a real engine.

use crate::support::{bench, serial, Down, Within, QUICK, STACK};

fn write(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp file");
    std::fs::write(file.path(), text).expect("write");
    file
}

#[test]
fn unknown_key_exits_2_naming_file_line_and_key() {
    let file = write("name = \"x\"\n\n[stack]\nbrokerz = 3\n");
    let out = bench().arg("up").arg(file.path()).output_within(QUICK);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&file.path().display().to_string()), "{err}");
    assert!(err.contains("line 4") && err.contains("brokerz"), "{err}");
}

#[test]
fn missing_experiment_file_exits_2() {
    let out = bench().args(["up", "/nonexistent/exp.toml"]).output_within(QUICK);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/exp.toml"));
}

#[test]
fn unknown_variant_exits_2_listing_variants() {
    let file = write("name = \"x\"\n[matrix]\n\"stack.brokers\" = [1, 3]\n");
    let out = bench().arg("up").arg(file.path()).args(["--variant", "brokers=2"]).output_within(QUICK);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("brokers=1, brokers=3"));
}

#[test]
fn no_engine_is_one_clear_line_and_exit_1() {
    let out =
        bench().args(["down", "--all"]).env("DOCKER_HOST", "unix:///nonexistent/docker.sock").output_within(QUICK);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Docker engine answers at unix:///nonexistent/docker.sock"), "{err}");
    assert!(err.contains("scripts/setup"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn help_lists_the_commands() {
    let out = bench().arg("--help").output_within(QUICK);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["images", "up", "down"] {
        assert!(text.contains(command), "{text}");
    }
}

#[test]
fn up_prints_endpoints_and_down_removes_the_stack() {
    let _serial = serial();
    let file = write("name = \"cli\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms256m -Xmx512m\"\n");
    let out = bench().arg("up").arg(file.path()).output_within(STACK);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("ready in") && text.contains("127.0.0.1:19092"), "{text}");
    let databases: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("db-")).collect();
    assert!(
        databases.len() == 2 && databases.iter().all(|l| l.contains(":***@")),
        "the generated password stays hidden: {text}"
    );
    // `stack <id> (cli, variant default) ready in ...`
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("stack ")?.split(' ').next())
        .expect("the stack's id is printed")
        .to_string();
    let _removed = Down::stack(&id);
    let running = stack::testing::containers_of(&id);
    assert!(running.contains(&"kgb-kafka-1".to_string()), "bench up leaves the stack running: {running:?}\n{text}");
    // Only this test's stack: plain `bench down` would take a developer's `bench up` stack with it.
    let out = bench().args(["down", "--stack", &id]).output_within(STACK);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(running.iter().all(|c| said.contains(c.as_str())), "{said}");
    assert!(stack::testing::containers_of(&id).is_empty());
}

#[test]
fn down_stack_removes_what_a_crashed_bench_left_and_nothing_else() {
    let _serial = serial();
    let developers = stack::testing::DevelopersContainer::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let id = runtime.block_on(async {
        let docker = stack::docker::connect().await.expect("a Docker engine");
        let text = "name = \"crash\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms256m -Xmx512m\"\n";
        let e = harness::experiment::ExperimentFile::parse(std::path::Path::new("crash.toml"), text).expect("parses");
        let options = stack::Options { owner: stack::Owner::Run, services: stack::Services::None, reports: None };
        let stack = stack::Stack::up(&docker, &e.experiment.stack, options, &|_| {}).await.expect("up");
        let id = stack.id.clone();
        // A crash: the process dies without running Drop.
        std::mem::forget(stack);
        id
    });
    let _removed = Down::stack(&id);
    assert_eq!(stack::testing::containers_of(&id).len(), 4);
    let out = bench().args(["down", "--stack", &id]).output_within(STACK);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stack::testing::containers_of(&id).is_empty());
    assert!(developers.exists(), "a developer's own stack survives the test's cleanup");
    drop(developers);
    assert!(!stack::testing::leftover_containers().iter().any(|c| c.starts_with("kgb-developers-own-")));
}

#[test]
fn down_refuses_a_stack_id_that_would_widen_the_filter() {
    for bad in ["", "a=b", "x,kgb.bench"] {
        let out = bench().args(["down", "--stack", bad]).output_within(QUICK);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("stack id {bad:?} cannot name a file or folder")),
            "{bad:?}"
        );
    }
    let out = bench().args(["down", "--all", "--stack", "x"]).output_within(QUICK);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_rejects_a_repeat_of_zero_with_exit_2() {
    let out = bench().args(["run", "experiments/smoke.toml", "--repeat", "0"]).output_within(QUICK);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--repeat"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn external_platform_without_a_deployment_exits_2_naming_the_table() {
    let file = write("name = \"t\"\n");
    let out = bench().args(["run", "--platform", "external"]).arg(file.path()).output_within(QUICK);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[external]") && err.contains(&*file.path().to_string_lossy()), "{err}");
}

#[test]
fn every_shipped_experiment_passes_its_dry_run() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments");
    let files: Vec<_> =
        std::fs::read_dir(&folder).expect("experiments/").filter_map(|e| Some(e.ok()?.path())).collect();
    assert!(files.iter().any(|f| f.ends_with("overload.toml")), "{files:?}");
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "toml")) {
        let out = bench().arg("run").arg(file).arg("--dry-run").output_within(QUICK);
        assert!(out.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn schema_prints_what_docs_publish_for_both_files() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema");
    for (file, published) in [("experiment", "experiment.schema.json"), ("results", "results.schema.json")] {
        let out = bench().args(["schema", file]).output_within(QUICK);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bench schema prints JSON");
        let text = std::fs::read_to_string(docs.join(published)).expect("published schema");
        let published: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert!(printed == published, "bench schema {file} differs from docs/schema/");
    }
    let out = bench().args(["schema", "rows"]).output_within(QUICK);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn up_and_down_refuse_the_external_platform_with_exit_2() {
    let file = write("name = \"x\"\n");
    for args in [vec!["up", file.path().to_str().expect("utf-8")], vec!["down"]] {
        let out = bench().args(&args).args(["--platform", "external"]).output_within(QUICK);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--platform external is for bench run"), "{args:?}: {err}");
    }
}
