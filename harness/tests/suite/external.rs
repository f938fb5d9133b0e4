//! `bench run --platform external` against a deployment that bench did not start: the load, the samples of the
//! containers the file names, the audit, and nothing brought up or removed.

use crate::support::{bench, Within};

use std::path::Path;
use std::time::Duration;

use bench_results::Run;
use stack::docker::container;
use stack::{Options, Owner, Services, Stack};

#[test]
fn an_external_deployment_is_measured_and_left_running() {
    let _serial = crate::support::serial();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (docker, stack) = runtime.block_on(async {
        let docker = stack::docker::connect().await.expect("a Docker engine (scripts/setup starts one)");
        let text = "name = \"deployment\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms512m -Xmx512m\"\n";
        let file = harness::experiment::ExperimentFile::parse(Path::new("deployment.toml"), text).expect("parses");
        let options = Options { owner: Owner::Run, services: Services::Require, reports: None };
        let stack =
            Stack::up(&docker, &file.experiment.stack, options, &|_| {}).await.expect("the deployment comes up");
        (docker, stack)
    });
    let e = &stack.plan.endpoints;
    let experiment = format!(
        "name = \"external\"\n[load]\nprobe_interval_ms = 250\nmax_loops = 24\nloops_per_generator = 8\ntransfer_pause_ms = 100\n\
         resources_every_loops = 8\n[external]\ngraphql = \"{}\"\ndb_ch = \"{}\"\ndb_ge = \"{}\"\ncontainers = [\"kgb-graphql-endpoint\"]\n",
        e.graphql_ws, e.db_ch, e.db_ge
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("external.toml");
    std::fs::write(&path, experiment).expect("experiment written");

    let out = bench()
        .args(["run", "--platform", "external", "--results"])
        .arg(dir.path().join("results"))
        .arg(&path)
        .output_within(Duration::from_secs(600));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let files = bench_results::files(&dir.path().join("results")).expect("results listed");
    assert_eq!(files.len(), 1, "{files:?}");
    let run = Run::read(&files[0]).expect("results file reads back");
    let text = std::fs::read_to_string(&files[0]).expect("results text");
    assert!(!text.contains("postgres://"), "the databases' URLs carry credentials and stay out of results files");
    assert_eq!(run.header.stack_ready_s, None, "nothing was brought up");
    assert_eq!(run.header.parameters.external.as_ref().map(|x| x.graphql.as_str()), Some(e.graphql_ws.as_str()));
    let end = run.end.as_ref().expect("end line");
    assert!(end.audit.passed && end.audit.answers_checked > 0, "{:?}", end.audit);
    assert_eq!(end.counts.loops, 24);
    assert!(end.counts.transfers > 24, "generators ran as well as the probe: {}", end.counts.transfers);
    let sampled = run.rows.iter().filter_map(|r| r.resources.as_ref()).collect::<Vec<_>>();
    assert!(
        !sampled.is_empty()
            && sampled.iter().all(|s| s.contains_key("kgb-graphql-endpoint") && s.contains_key("bench"))
    );
    assert!(sampled.iter().all(|s| s.len() == 2), "only the named container and bench are sampled");

    runtime.block_on(async {
        for part in stack.plan.services.iter().filter(|p| p.spec.name != stack.plan.synchronizer.spec.name) {
            assert!(container::is_running(&docker, &part.spec.name).await, "{} left running", part.spec.name);
        }
        drop(stack);
    });
}
