//! Integration tests against a real Docker engine and the real images (`scripts/setup` provides both):
//! the stack comes up through the library, every part answers, and teardown leaves nothing behind.

use crate::support::serial_async;

use std::path::Path;

use harness::experiment::ExperimentFile;
use stack::docker::container::{list_labelled, LABEL_STACK};
use stack::docker::stats;
use stack::plan::Check;
use stack::readiness::check;
use stack::{Options, Owner, Services, Stack, StackError};

fn experiment(text: &str) -> harness::experiment::Experiment {
    ExperimentFile::parse(Path::new("test.toml"), text).expect("valid experiment").experiment
}

const ONE_BROKER: &str = "name = \"it\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms256m -Xmx512m\"\n";
const INFRA_ONLY: Options = Options { owner: Owner::Run, services: Services::None, reports: None };

async fn leftovers(docker: &bollard::Docker, stack_id: &str) -> Vec<String> {
    list_labelled(docker, &format!("{LABEL_STACK}={stack_id}")).await.expect("engine answers")
}

#[tokio::test]
async fn infrastructure_comes_up_answers_and_goes_away() {
    let _serial = serial_async().await;
    let docker = stack::docker::connect().await.expect("a Docker engine (scripts/setup starts one)");
    let e = experiment(ONE_BROKER);
    let mut stack = Stack::up(&docker, &e.stack, INFRA_ONLY, &|_| {}).await.expect("stack comes up");
    let endpoints = stack.plan.endpoints.clone();

    check(&Check::KafkaBrokers { bootstrap: endpoints.bootstrap.clone(), expected: 1, tls: None })
        .await
        .expect("kafka answers");
    let subjects = reqwest::get(format!("{}/subjects", endpoints.registry)).await.expect("registry answers");
    assert!(subjects.status().is_success());

    let (client, connection) = tokio_postgres::connect(&endpoints.db_ch, tokio_postgres::NoTls).await.expect("db-ch");
    tokio::spawn(connection);
    let row = client
        .query_one("SELECT username, balance FROM account WHERE iban = 'NL66OPEN0000000000'", &[])
        .await
        .expect("house account exists");
    assert_eq!(row.get::<_, String>(0), "open_web");
    assert_eq!(row.get::<_, i64>(1), 100_000_000_000_000_000);
    let (client, connection) = tokio_postgres::connect(&endpoints.db_ge, tokio_postgres::NoTls).await.expect("db-ge");
    tokio::spawn(connection);
    let n: i64 = client.query_one("SELECT count(*) FROM transaction", &[]).await.expect("db-ge tables").get(0);
    assert_eq!(n, 0);

    let samples = stats::sample_all(&docker, &stack.running_containers()).await.expect("stats");
    let kafka = samples.get("kgb-kafka-1").expect("kafka sampled");
    assert!(kafka.mem_mib > 50.0 && kafka.mem_mib < 2500.0, "kafka memory {kafka:?}");
    assert!(kafka.cpu_pct >= 0.0 && kafka.cpu_pct <= 100.0, "kafka cpu {kafka:?}");

    let id = stack.id.clone();
    let removed = stack.teardown().await.expect("teardown");
    assert_eq!(removed.len(), 4, "{removed:?}");
    assert!(leftovers(&docker, &id).await.is_empty());
}

#[tokio::test]
async fn a_container_that_dies_is_reported_with_its_logs_and_nothing_stays() {
    let _serial = serial_async().await;
    let docker = stack::docker::connect().await.expect("a Docker engine");
    // The Postgres image without its password variable stops at once: a broker that never becomes ready.
    let e = experiment(&format!("{ONE_BROKER}[stack.images]\nkafka = \"kgb/postgres:15\"\n"));
    let err = match Stack::up(&docker, &e.stack, INFRA_ONLY, &|_| {}).await {
        Ok(_) => panic!("a stack with a dead broker must not come up"),
        Err(err) => err,
    };
    let message = err.to_string();
    assert!(matches!(err, StackError::NotReady(_)), "{message}");
    assert!(message.contains("kgb-kafka-1"), "{message}");
    assert!(message.contains("POSTGRES_PASSWORD must be set"), "the container's logs are shown: {message}");
    let all = list_labelled(&docker, stack::LABEL_BENCH).await.expect("engine answers");
    assert!(all.is_empty(), "left behind: {all:?}");
}

#[tokio::test]
async fn a_taken_port_is_named_and_nothing_starts() {
    let _serial = serial_async().await;
    let docker = stack::docker::connect().await.expect("a Docker engine");
    let e = experiment(ONE_BROKER);
    let _holder = std::net::TcpListener::bind(("127.0.0.1", e.stack.ports.db_ge)).expect("port free for the test");
    let err = match Stack::up(&docker, &e.stack, INFRA_ONLY, &|_| {}).await {
        Ok(_) => panic!("must not come up"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains(&format!("127.0.0.1:{}", e.stack.ports.db_ge)), "{err}");
    assert!(err.contains("kgb-db-ge"), "{err}");
    assert!(list_labelled(&docker, stack::LABEL_BENCH).await.expect("engine").is_empty());
}

#[tokio::test]
async fn a_missing_image_is_named_with_the_fix() {
    let _serial = serial_async().await;
    let docker = stack::docker::connect().await.expect("a Docker engine");
    let e = experiment(&format!("{ONE_BROKER}[stack.images]\nschema_registry = \"kgb/no-such-image:1\"\n"));
    let err = match Stack::up(&docker, &e.stack, INFRA_ONLY, &|_| {}).await {
        Ok(_) => panic!("must not come up"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("kgb/no-such-image:1") && err.contains("bench images"), "{err}");
}

#[tokio::test]
async fn dropping_a_stack_removes_its_containers() {
    let _serial = serial_async().await;
    let docker = stack::docker::connect().await.expect("a Docker engine");
    let e = experiment(ONE_BROKER);
    let stack = Stack::up(&docker, &e.stack, INFRA_ONLY, &|_| {}).await.expect("stack comes up");
    let id = stack.id.clone();
    assert_eq!(leftovers(&docker, &id).await.len(), 4);
    // Drop removes the containers before it returns.
    drop(stack);
    assert!(leftovers(&docker, &id).await.is_empty());
}

/// A container over its memory limit is killed by the kernel's memory cgroup: bench says so (Docker's
/// `State.OOMKilled`), not only that it stopped; a SIGKILL from elsewhere (a fault's `docker kill`) exits 137 too
/// and is not called a memory kill.
#[tokio::test]
async fn a_container_killed_for_memory_is_reported_as_such() {
    use stack::docker::container::{self, ContainerSpec};
    let _serial = serial_async().await;
    let docker = stack::docker::connect().await.expect("a Docker engine");
    let platform = stack::Platform::from(docker.clone());
    let spec = |name: &str, script: &str| ContainerSpec {
        name: name.into(),
        image: "kgb/base:bookworm".into(),
        env: vec![],
        args: vec!["sh".into(), "-c".into(), script.into()],
        labels: std::collections::HashMap::new(),
        memory_mib: Some(32),
        cpus: None,
        read_only: vec![],
    };
    // `tail` keeps the whole line, and /dev/zero has no line end: 200 MiB against a 32 MiB limit.
    let hungry = spec("kgb-test-oom", "head -c 200m /dev/zero | tail");
    let shot = spec("kgb-test-sigkill", "kill -9 $$");
    for part in [&hungry, &shot] {
        container::remove(&docker, &part.name).await.expect("no old one");
        container::start(&docker, part).await.expect("starts");
    }
    let waited = async {
        for part in [&hungry, &shot] {
            container::wait_exit(&docker, &part.name).await.expect("exits");
        }
    };
    let exited = tokio::time::timeout(std::time::Duration::from_secs(60), waited).await;
    let oom = platform.stopped("", &hungry.name).await;
    let killed = platform.stopped("", &shot.name).await;
    for part in [&hungry, &shot] {
        container::remove(&docker, &part.name).await.expect("removed");
    }
    exited.expect("both end within a minute");
    let oom = oom.expect("the hungry one stopped");
    assert!(oom.oom_killed && oom.code == Some(137), "{oom:?}");
    assert_eq!(
        format!("kgb-test-oom {oom}"),
        "kgb-test-oom was killed for exceeding its memory limit (OOMKilled), exit code 137"
    );
    let killed = killed.expect("the shot one stopped");
    assert!(!killed.oom_killed && killed.code == Some(137), "{killed:?}");
}
