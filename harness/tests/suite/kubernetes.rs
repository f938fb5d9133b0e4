//! `--platform kubernetes` on a real cluster (`scripts/kube-up`: API server, scheduler, controllers, kubelet and
//! containerd on this machine; `KUBECONFIG` names it, the images are on its node through `bench images
//! --load-into-containerd`), through the `bench` binary: the smoke experiment passes its audit and leaves no
//! namespace, Ctrl-C during the load removes the namespace, a broker pod deleted as a fault is survived (with
//! bench reaching the stack through port-forwards of the API server), the parts answer through those forwards
//! until teardown, the manifests for real clusters pass the API server's dry-run, `bench down --all` removes
//! what `bench up` left, and images pushed to a registry on 127.0.0.1 are what a stack's pods pull.

use crate::support::{bench, interrupt, serial, stderr_lines, text, wait, Down, Within, QUICK, STACK};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bench_results::{EndedBy, Run};

/// A run or `up` of a small stack on the cluster, or its removal, on a cold and busy machine.
const RUN: Duration = Duration::from_secs(900);

/// The namespaces bench labelled that are on the cluster now.
fn bench_namespaces() -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let cluster = stack::kube::connect(None, None).await.expect("the cluster of KUBECONFIG (scripts/kube-up)");
        cluster.namespaces_labelled(stack::LABEL_BENCH).await.expect("namespaces").into_iter().map(|(n, _)| n).collect()
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("experiment written");
    path
}

fn only_run(results: &Path) -> Run {
    let files = bench_results::files(results).expect("listed");
    assert_eq!(files.len(), 1, "one results file: {files:?}");
    Run::read(&files[0]).expect("results file")
}

#[test]
fn the_smoke_experiment_runs_on_kubernetes_passes_its_audit_and_leaves_no_namespace() {
    let _serial = serial();
    let _down = Down::all_on_kubernetes();
    let results = tempfile::tempdir().expect("temp dir");
    let smoke = crate::support::shortened_smoke(results.path(), 200);
    let out = bench()
        .arg("run")
        .arg(&smoke)
        .args(["--platform", "kubernetes", "--results"])
        .arg(results.path())
        .output_within(RUN);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    let run = only_run(results.path());
    assert_eq!(run.header.platform.as_deref(), Some("kubernetes"));
    // Image ids as the node reports them for the pods that ran.
    assert!(run.header.images.keys().any(|i| i.ends_with("kgb/kafka:4.1.1")), "{:?}", run.header.images);
    // An imported image's id, or a pulled one's digest (`repo@sha256:...`).
    assert!(run.header.images.values().all(|id| id.contains("sha256:")), "{:?}", run.header.images);
    assert!(run.header.stack_ready_s.is_some_and(|s| s > 0.0));
    // This cluster has no metrics API: said so, not sampled as zero.
    let unavailable = run.header.resources_unavailable.as_deref().unwrap_or_default();
    assert!(unavailable.contains("metrics.k8s.io"), "{unavailable:?}");
    let end = run.end.as_ref().expect("end line");
    assert_eq!(end.ended_by, EndedBy::MaxLoops, "{log}");
    assert!(end.audit.passed && end.audit.answers_checked > 1000, "{:?}", end.audit);
    assert!(end.interference.is_none(), "no interference figure without the containers' CPU");
    assert!(run.rows.iter().filter_map(|r| r.resources.as_ref()).all(|r| r.keys().all(|k| k == "bench")));
    assert_eq!(bench_namespaces(), Vec::<String>::new(), "the run's namespace is gone: {log}");
}

#[test]
fn ctrl_c_during_the_load_removes_the_namespace() {
    let _serial = serial();
    let _down = Down::all_on_kubernetes();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "k8s-interrupt.toml",
        "name = \"k8s-interrupt\"\n[load]\nmax_loops = 400\nloops_per_generator = 10\nresources_every_loops = 20\n\
         [stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms512m -Xmx512m\"\n[stack.topics]\npartitions = 3\n",
    );
    let mut child = bench()
        .arg("run")
        .arg(&file)
        .args(["--platform", "kubernetes", "--results"])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("bench starts");
    let lines = stderr_lines(&mut child);
    let mut seen = Vec::new();
    while !seen.last().is_some_and(|l: &String| l.contains("loop 20 ")) {
        match lines.recv_timeout(Duration::from_secs(180)) {
            Ok(line) => seen.push(line),
            Err(e) => panic!("no loop 20 ({e}):\n{}", seen.join("\n")),
        }
    }
    assert_eq!(bench_namespaces().len(), 1, "the run has its namespace during the load");
    interrupt(&child);
    let Some(status) = wait(&mut child, STACK) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("bench did not exit within {STACK:?} of Ctrl-C (killed):\n{}", seen.join("\n"));
    };
    seen.extend(lines.iter());
    let log = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{log}");
    let run = only_run(dir.path());
    let end = run.end.as_ref().expect("end line");
    assert_eq!(end.ended_by, EndedBy::Interrupt, "{log}");
    assert!(end.audit.passed, "the interrupted load's books are audited: {:?}", end.audit);
    assert_eq!(bench_namespaces(), Vec::<String>::new(), "Ctrl-C removed the namespace: {log}");
}

#[test]
fn a_broker_pod_deleted_as_a_fault_is_survived_with_the_audit_passed() {
    let _serial = serial();
    let _down = Down::all_on_kubernetes();
    let dir = tempfile::tempdir().expect("temp dir");
    let experiment = r#"name = "k8s-fault"
[load]
probe_interval_ms = 250
probe_timeout_ms = 3000
max_timeouts = 5
max_loops = 200
loops_per_generator = 10
generators_per_step = 2
transfer_pause_ms = 100
resources_every_loops = 20
[stack]
brokers = 3
kafka_jvm_opts = "-Xms384m -Xmx384m"
[stack.topics]
partitions = 3
[kubernetes]
reach = "port-forward"
[[faults]]
at_loop = 40
target = "kafka-2"
action = "kill"
duration_s = 5
"#;
    let file = write(dir.path(), "k8s-fault.toml", experiment);
    let out = bench()
        .arg("run")
        .arg(&file)
        .args(["--platform", "kubernetes", "--results"])
        .arg(dir.path())
        .output_within(RUN);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    let run = only_run(dir.path());
    let end = run.end.as_ref().expect("end line");
    assert_eq!(end.ended_by, EndedBy::MaxLoops, "{log}");
    assert!(end.audit.passed && end.audit.answers_checked > 0, "{:?}", end.audit);
    let marks: Vec<_> = run.rows.iter().flat_map(|r| &r.faults).collect();
    assert_eq!(marks.len(), 2, "the fault began and ended: {marks:?}");
    assert!(marks.iter().all(|m| m.error.is_none()), "the pod was deleted and its broker brought back: {marks:?}");
    assert!(end.stopped.is_empty(), "every part ran again at the end: {:?}", end.stopped.keys());
    // Load, probes, readiness and audit all went through the API server: a forward for each broker, the
    // registry, both databases, the command handler's health, the endpoint and the UI.
    assert!(log.contains("reaching the stack through 9 port-forwards of the API server"), "{log}");
    assert_eq!(bench_namespaces(), Vec::<String>::new(), "{log}");
}

#[test]
fn with_reach_port_forward_bench_reaches_the_parts_through_the_api_server_until_teardown() {
    let _serial = serial();
    let _down = Down::all_on_kubernetes();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let file = "name = \"pf\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms256m -Xmx384m\"\n[kubernetes]\nreach = \"port-forward\"\n";
        let file = harness::experiment::ExperimentFile::parse(Path::new("pf.toml"), file).expect("valid experiment");
        let placement = file.experiment.kubernetes.clone();
        let cluster = stack::kube::connect(None, None).await.expect("the cluster of KUBECONFIG (scripts/kube-up)").placed(placement);
        let platform = stack::Platform::from(cluster);
        let options = stack::Options { owner: stack::Owner::Run, services: stack::Services::None, reports: None };
        let cancel = tokio_util::sync::CancellationToken::new();
        let mut stack = stack::Stack::up_until(&platform, &file.experiment.stack, options, &|_| {}, &cancel).await.expect("stack comes up");
        // One forward per port bench connects to: the broker, the registry, both databases, and the endpoint, the
        // UI and the command handler's health (not started here, but in the plan).
        let forwarded = stack.reached().map(|r| r.forwarded.len());
        assert_eq!(forwarded, Some(7));
        let db_ch = stack.plan.endpoints.db_ch.clone();
        let port = |url: &str| url.parse::<tokio_postgres::Config>().expect("url").get_ports()[0];
        // Not the database's own port on this host: one of bench's listeners.
        assert_ne!(port(&db_ch), file.experiment.stack.ports.db_ch, "{db_ch}");
        let (client, connection) = tokio_postgres::connect(&db_ch, tokio_postgres::NoTls).await.expect("db-ch through the API server");
        tokio::spawn(connection);
        let row = client.query_one("SELECT username FROM account WHERE iban = 'NL66OPEN0000000000'", &[]).await.expect("house account");
        assert_eq!(row.get::<_, String>(0), "open_web");
        let bootstrap = stack.plan.endpoints.bootstrap.clone();
        stack::readiness::check(&stack::plan::Check::KafkaBrokers { bootstrap: bootstrap.clone(), expected: 1, tls: None })
            .await
            .expect("broker metadata through the API server");
        drop(client);
        stack.teardown().await.expect("teardown");
        let refused = tokio::net::TcpStream::connect(("127.0.0.1", port(&db_ch))).await;
        assert!(refused.is_err(), "the forward's listener is closed with the stack");
        assert!(bootstrap != format!("127.0.0.1:{}", file.experiment.stack.ports.kafka), "{bootstrap}");
    });
    assert_eq!(bench_namespaces(), Vec::<String>::new());
}

#[test]
fn manifests_for_a_real_cluster_pass_the_api_servers_dry_run_and_bad_ones_are_refused() {
    let _serial = serial();
    let _down = Down::all_on_kubernetes();
    let dir = tempfile::tempdir().expect("temp dir");
    let real = r#"name = "k8s-real"
[stack]
brokers = 3
[kubernetes]
network = "pod"
node_selector = { "kubernetes.io/os" = "linux" }
storage_class = "fast-ssd"
storage_gib = 20
registry = "registry.example:5000/team"
reach = "port-forward"
[[kubernetes.tolerations]]
key = "dedicated"
value = "bench"
effect = "NoSchedule"
"#;
    let file = write(dir.path(), "real.toml", real);
    let out = bench().arg("up").arg(&file).args(["--platform", "kubernetes", "--dry-run"]).output_within(QUICK);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    for object in [
        "StatefulSet kgb-kafka-3",
        "StatefulSet kgb-db-ge",
        "Deployment kgb-graphql-endpoint",
        "Job kgb-synchronizer",
        "Service kgb-kafka-1",
        "Secret kgb-passwords",
    ] {
        assert!(log.contains(object), "{object} was checked: {log}");
    }
    // The loopback shape `bench run` uses here passes too.
    let local = write(dir.path(), "local.toml", "name = \"k8s-local\"\n[stack]\ntls = true\n");
    let out = bench().arg("up").arg(&local).args(["--platform", "kubernetes", "--dry-run"]).output_within(QUICK);
    assert!(out.status.success(), "{}", text(&out));
    // The API server checks for real: a storage class that is not a DNS name is refused, naming the object.
    let bad = write(dir.path(), "bad.toml", &real.replace("fast-ssd", "Fast SSD"));
    let out = bench().arg("up").arg(&bad).args(["--platform", "kubernetes", "--dry-run"]).output_within(QUICK);
    let bad_log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{bad_log}");
    assert!(bad_log.contains("dry-run of StatefulSet/kgb-") && bad_log.contains("storageClassName"), "{bad_log}");
    assert!(bad_log.len() < 2000, "the API server's words once, not its status's Debug form: {bad_log}");
    // An endpoint's certificate cannot name the address a load balancer gives later: refused before anything
    // is made.
    let at_balancer = real
        .replace("reach = \"port-forward\"", "reach = \"service\"")
        .replace("brokers = 3", "brokers = 3\ntls = true\ntls_endpoint = true");
    let tls_lb = write(dir.path(), "tls-lb.toml", &at_balancer);
    let out = bench().arg("up").arg(&tls_lb).args(["--platform", "kubernetes"]).output_within(RUN);
    let tls_log = text(&out);
    assert!(!out.status.success() && tls_log.contains("tls_endpoint") && tls_log.contains("port-forward"), "{tls_log}");
    assert_eq!(bench_namespaces(), Vec::<String>::new(), "dry-runs keep nothing");
}

#[test]
fn bench_down_all_removes_every_namespace_bench_up_left() {
    let _serial = serial();
    let _down = Down::all_on_kubernetes();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "up.toml",
        "name = \"k8s-up\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms512m -Xmx512m\"\n",
    );
    let out = bench().arg("up").arg(&file).args(["--platform", "kubernetes"]).output_within(RUN);
    let up = text(&out);
    assert!(out.status.success(), "{up}");
    let namespaces = bench_namespaces();
    assert_eq!(namespaces.len(), 1, "{up}");
    assert!(up.contains(&format!("namespace         {}", namespaces[0])), "{up}");
    // The stack answers where bench up said.
    assert!(std::net::TcpStream::connect("127.0.0.1:8888").is_ok(), "the endpoint listens: {up}");
    let out = bench().args(["down", "--all", "--platform", "kubernetes"]).output_within(RUN);
    let down = text(&out);
    assert!(out.status.success() && down.contains(&namespaces[0]), "{down}");
    assert_eq!(bench_namespaces(), Vec::<String>::new(), "{down}");
    assert!(std::net::TcpStream::connect("127.0.0.1:8888").is_err(), "nothing listens after bench down");
}

/// Where the tests' registry listens: the local cluster's containerd pulls from it over plain HTTP
/// (`scripts/kube-up`), as Docker pushes to a loopback registry.
const REGISTRY: &str = "127.0.0.1:5000";

/// Debian's `docker-registry` (scripts/setup installs it) on [`REGISTRY`], with storage of its own; stopped and
/// emptied when dropped.
struct LocalRegistry {
    child: std::process::Child,
    _storage: tempfile::TempDir,
}

impl LocalRegistry {
    fn start() -> LocalRegistry {
        let storage = tempfile::tempdir().expect("temp dir");
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {REGISTRY}\n",
            storage.path().join("data").display()
        );
        let config = write(storage.path(), "config.yml", &config);
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (scripts/setup installs it)");
        let mut registry = LocalRegistry { child, _storage: storage };
        for _ in 0..100 {
            if let Ok(Some(status)) = registry.child.try_wait() {
                panic!("docker-registry exited ({status}): is {REGISTRY} taken?");
            }
            if http_get("/v2/").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
                return registry;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("docker-registry did not answer on {REGISTRY} within 20 s");
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The registry's whole answer to a GET of `path`, if it answers.
fn http_get(path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(REGISTRY).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(socket, "GET {path} HTTP/1.1\r\nHost: {REGISTRY}\r\nConnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    socket.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// Removes `images` from the local cluster's node (its containerd, beside the kubeconfig `scripts/kube-up`
/// writes), so a pod can only get them by pulling.
fn forget_on_node(images: &[String]) {
    let kubeconfig = std::env::var_os("KUBECONFIG").expect("KUBECONFIG (scripts/kube-up prints it)");
    let socket = Path::new(&kubeconfig).parent().expect("the cluster's folder").join("containerd/containerd.sock");
    // Names the node does not have are reported and skipped.
    let _ = Command::new("ctr")
        .arg("-a")
        .arg(&socket)
        .args(["-n", "k8s.io", "images", "rm"])
        .args(images)
        .output_within(QUICK);
}

#[test]
fn images_pushed_to_a_registry_are_the_ones_a_stacks_pods_pull() {
    let _serial = serial();
    let _down = Down::all_on_kubernetes();
    let _registry = LocalRegistry::start();
    let out = bench().args(["images", "-q", "--push", REGISTRY]).output_within(RUN);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    let infrastructure = ["kgb/kafka:4.1.1", "kgb/schema-registry:3.0.9", "kgb/postgres:15"];
    let bank = [
        "kgb/bank-synchronizer:dev",
        "kgb/bank-command-handler:dev",
        "kgb/bank-graphql-endpoint:dev",
        "kgb/bank-frontend:dev",
    ];
    let catalog = http_get("/v2/_catalog").expect("the registry's catalog");
    for image in infrastructure.iter().chain(&bank) {
        assert!(log.contains(&format!("pushed {REGISTRY}/{image}")), "{image}: {log}");
        let repository = image.split(':').next().unwrap_or_default();
        assert!(catalog.contains(&format!("\"{repository}\"")), "{repository} is in the registry: {catalog}");
    }

    // Pods of a stack placed with `registry` pull from it: the node has these names only from there.
    let pushed: Vec<String> = infrastructure.iter().map(|i| format!("{REGISTRY}/{i}")).collect();
    forget_on_node(&pushed);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pulled = runtime.block_on(async {
        let file = format!("name = \"pull\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms256m -Xmx384m\"\n[kubernetes]\nregistry = \"{REGISTRY}\"\n");
        let file = harness::experiment::ExperimentFile::parse(Path::new("pull.toml"), &file).expect("valid experiment");
        let cluster = stack::kube::connect(None, None).await.expect("the cluster of KUBECONFIG").placed(file.experiment.kubernetes.clone());
        let platform = stack::Platform::from(cluster.clone());
        let options = stack::Options { owner: stack::Owner::Run, services: stack::Services::None, reports: None };
        let cancel = tokio_util::sync::CancellationToken::new();
        let mut stack = stack::Stack::up_until(&platform, &file.experiment.stack, options, &|_| {}, &cancel).await.expect("stack comes up");
        let pulled = cluster.image_ids(&stack.id).await;
        stack.teardown().await.expect("teardown");
        pulled
    });
    for image in infrastructure {
        let repository = image.split(':').next().unwrap_or_default();
        // A pulled image's id is the registry's digest (an imported one's would be `sha256:...` alone).
        let id = pulled.get(&format!("{REGISTRY}/{image}")).map(String::as_str).unwrap_or_default();
        assert!(
            id.starts_with(&format!("{REGISTRY}/{repository}@sha256:")),
            "{image} pulled from {REGISTRY}: {pulled:?}"
        );
    }
    forget_on_node(&pushed);
    let tags: Vec<String> = infrastructure.iter().chain(&bank).map(|i| format!("{REGISTRY}/{i}")).collect();
    let _ = Command::new("docker").arg("rmi").args(&tags).output_within(QUICK);
    assert_eq!(bench_namespaces(), Vec::<String>::new());
}

/// The cluster's etcd holds its whole state, Secrets included: it answers only clients with a certificate of its
/// own CA (`scripts/kube-up`), not anyone on this machine over plain HTTP or TLS alone.
#[test]
fn the_clusters_etcd_answers_only_clients_with_its_certificate() {
    let kubeconfig = PathBuf::from(std::env::var_os("KUBECONFIG").expect("KUBECONFIG (scripts/kube-up prints it)"));
    let pki = kubeconfig.parent().expect("the kubeconfig's folder").join("pki");
    let health = |args: &[&str]| -> String {
        let out = Command::new("curl").args(["-s", "-m", "5"]).args(args).output_within(QUICK);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ca = pki.join("etcd-ca.crt").display().to_string();
    let (cert, key) =
        (pki.join("etcd-client.crt").display().to_string(), pki.join("etcd-client.key").display().to_string());
    let url = "https://127.0.0.1:2379/health";
    assert!(
        health(&["--cacert", &ca, "--cert", &cert, "--key", &key, url]).contains(r#""health":"true""#),
        "the API server's certificate is taken"
    );
    assert!(!health(&["http://127.0.0.1:2379/health"]).contains("health"), "plain HTTP is refused");
    assert!(!health(&["--cacert", &ca, url]).contains("health"), "TLS without a client certificate is refused");
    let key_mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).expect("key").permissions());
    assert_eq!(key_mode & 0o777, 0o600, "the client key is its owner's alone");
}
