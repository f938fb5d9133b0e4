//! The objects checked without a cluster; `harness/tests/suite/kubernetes.rs` has the API server check them too.

use std::path::{Path, PathBuf};

use super::*;
use crate::plan::plan;
use bench_results::experiment::kubernetes::{Reach, Toleration};
use bench_results::experiment::stack::StackSettings;

fn objects(brokers: u32, settings: &KubeSettings, nodes: usize) -> Manifests {
    let stack = StackSettings { brokers, ..StackSettings::default() };
    let plan = plan(&stack, "20261201T000000-abcdef", crate::plan::Owner::Run, "s3cret-pw", "cluster");
    let folders = BTreeMap::new();
    let target = Target {
        namespace: "kgb-ns",
        stack_id: "20261201T000000-abcdef",
        owner: "run",
        settings,
        nodes,
        folders: &folders,
        host_data: Path::new("/data"),
    };
    manifests(&plan, &target)
}

fn kind<'a>(m: &'a Manifests, part: &str, kind: &str) -> &'a Value {
    m.parts[part].iter().find(|o| o["kind"] == kind).unwrap_or_else(|| panic!("{part} has no {kind}"))
}

fn env_value<'a>(m: &'a Manifests, part: &str, var: &str) -> &'a Value {
    &kind(m, part, "ConfigMap")["data"][var]
}

#[test]
fn brokers_and_databases_are_stateful_sets_services_deployments_and_the_synchronizer_a_job() {
    let m = objects(3, &KubeSettings::default(), 1);
    for part in ["kgb-kafka-1", "kgb-kafka-2", "kgb-kafka-3", "kgb-db-ch", "kgb-db-ge"] {
        assert_eq!(kind(&m, part, "StatefulSet")["spec"]["replicas"], 1, "{part}");
    }
    for part in ["kgb-schema-registry", "kgb-command-handler", "kgb-graphql-endpoint", "kgb-frontend"] {
        kind(&m, part, "Deployment");
    }
    let job = kind(&m, "kgb-synchronizer", "Job");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!(m.namespace["metadata"]["labels"]["kgb.bench"], "1");
    assert_eq!(m.namespace["metadata"]["labels"]["kgb.stack"], "20261201T000000-abcdef");
    assert!(m.parts.values().flatten().all(|o| o["metadata"]["namespace"] == "kgb-ns"));
}

#[test]
fn the_password_is_only_in_the_secret() {
    let m = objects(1, &KubeSettings::default(), 1);
    let everything_else: String = m.parts.values().flatten().map(Value::to_string).collect();
    assert!(!everything_else.contains("s3cret-pw"), "the password leaked into a ConfigMap or pod");
    let secret = m.shared[0].to_string();
    assert!(secret.contains("s3cret-pw") && m.shared[0]["metadata"]["name"] == PASSWORDS);
    let db = kind(&m, "kgb-db-ch", "StatefulSet");
    let env = &db["spec"]["template"]["spec"]["containers"][0]["env"];
    let password = env.as_array().unwrap().iter().find(|e| e["name"] == "POSTGRES_PASSWORD").unwrap();
    assert_eq!(password["valueFrom"]["secretKeyRef"]["name"], PASSWORDS);
    // The other settings come from the part's ConfigMap.
    assert_eq!(env_value(&m, "kgb-db-ch", "PGPORT"), "25432");
}

#[test]
fn on_the_host_network_pods_listen_on_loopback_and_brokers_keep_data_on_the_node() {
    let m = objects(1, &KubeSettings::default(), 1);
    let pod = &kind(&m, "kgb-kafka-1", "StatefulSet")["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Never");
    assert_eq!(c["image"], "kgb/kafka:4.1.1");
    assert_eq!(c["readinessProbe"]["tcpSocket"], json!({ "port": 19092, "host": "127.0.0.1" }));
    assert_eq!(c["resources"]["limits"]["memory"], "2500Mi");
    assert_eq!(c["resources"]["requests"]["memory"], "2500Mi");
    let data = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "data").unwrap();
    assert_eq!(data["hostPath"]["path"], "/data/kgb-ns/kgb-kafka-1");
    let db = &kind(&m, "kgb-db-ch", "StatefulSet")["spec"]["template"]["spec"];
    assert_eq!(
        db["volumes"][0]["hostPath"]["path"], "/data/kgb-ns/kgb-db-ch",
        "a database keeps its data through a fault too"
    );
    assert_eq!(db["initContainers"][0]["command"], json!(["chown", "postgres:postgres", "/var/lib/kgb-postgres"]));
    assert_eq!(db["initContainers"][0]["volumeMounts"][0]["name"], "data");
    assert!(m.parts.values().flatten().all(|o| o["kind"] != "Service"), "no Services without a pod network");
    assert!(env_value(&m, "kgb-kafka-1", "KAFKA_SERVER_PROPERTIES")
        .as_str()
        .unwrap()
        .contains("PLAINTEXT://127.0.0.1:19092"));
}

#[test]
fn brokers_must_spread_when_there_are_nodes_enough() {
    let spread = |nodes| {
        kind(&objects(3, &KubeSettings::default(), nodes), "kgb-kafka-2", "StatefulSet")["spec"]["template"]["spec"]
            ["affinity"]["podAntiAffinity"]
            .clone()
    };
    assert!(spread(3)["requiredDuringSchedulingIgnoredDuringExecution"].is_array());
    assert!(spread(2)["preferredDuringSchedulingIgnoredDuringExecution"].is_array());
    let term = &spread(3)["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(term["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(term["labelSelector"]["matchLabels"]["kgb.role"], "kafka");
}

fn real_cluster() -> KubeSettings {
    KubeSettings {
        network: Network::Pod,
        node_selector: BTreeMap::from([("pool".to_string(), "bench".to_string())]),
        tolerations: vec![
            Toleration {
                key: Some("dedicated".into()),
                operator: Some("Equal".into()),
                value: Some("bench".into()),
                effect: Some("NoSchedule".into()),
            },
            Toleration { operator: Some("Exists".into()), ..Toleration::default() },
        ],
        storage_class: Some("fast".into()),
        storage_gib: Some(20),
        registry: Some("registry.example:5000/team".into()),
        reach: Reach::Service,
    }
}

#[test]
fn on_a_pod_network_every_part_is_reached_by_its_service() {
    let m = objects(3, &real_cluster(), 3);
    let props = env_value(&m, "kgb-kafka-2", "KAFKA_SERVER_PROPERTIES").as_str().unwrap().to_string();
    assert!(props.contains("listeners=PLAINTEXT://0.0.0.0:19093,CONTROLLER://0.0.0.0:19193"), "{props}");
    assert!(props.contains("advertised.listeners=PLAINTEXT://kgb-kafka-2:19093"), "{props}");
    assert!(
        props.contains("controller.quorum.voters=1@kgb-kafka-1:19192,2@kgb-kafka-2:19193,3@kgb-kafka-3:19194"),
        "{props}"
    );
    assert_eq!(
        env_value(&m, "kgb-command-handler", "KAFKA_BOOTSTRAP_SERVERS"),
        "kgb-kafka-1:19092,kgb-kafka-2:19093,kgb-kafka-3:19094"
    );
    assert_eq!(env_value(&m, "kgb-command-handler", "BIND_ADDRESS"), "0.0.0.0");
    assert_eq!(env_value(&m, "kgb-db-ge", "POSTGRES_LISTEN"), "*");
    assert!(m.shared[0].to_string().contains("@kgb-db-ge:25431/postgres"), "database URLs name the database's Service");
    let service = kind(&m, "kgb-graphql-endpoint", "Service");
    assert_eq!(service["spec"]["type"], "LoadBalancer");
    assert_eq!(service["spec"]["ports"][0]["port"], 8888);
    assert_eq!(kind(&m, "kgb-db-ch", "Service")["spec"]["type"], "ClusterIP");
    assert!(m.parts["kgb-synchronizer"].iter().all(|o| o["kind"] != "Service"));
}

#[test]
fn placement_reaches_every_pod() {
    let m = objects(3, &real_cluster(), 3);
    for workload in
        m.parts.values().flatten().filter(|o| matches!(o["kind"].as_str(), Some("StatefulSet" | "Deployment" | "Job")))
    {
        let pod = &workload["spec"]["template"]["spec"];
        assert_eq!(pod["nodeSelector"]["pool"], "bench");
        assert_eq!(
            pod["tolerations"][0],
            json!({ "key": "dedicated", "operator": "Equal", "value": "bench", "effect": "NoSchedule" })
        );
        assert_eq!(pod["tolerations"][1], json!({ "operator": "Exists" }), "no nulls where a field is left out");
        assert!(pod.get("hostNetwork").is_none());
        let c = &pod["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert!(c["image"].as_str().unwrap().starts_with("registry.example:5000/team/kgb/"), "{}", c["image"]);
    }
    let claims = &kind(&m, "kgb-kafka-1", "StatefulSet")["spec"]["volumeClaimTemplates"][0]["spec"];
    assert_eq!(claims["storageClassName"], "fast");
    assert_eq!(claims["resources"]["requests"]["storage"], "20Gi");
    let pod = &kind(&m, "kgb-db-ch", "StatefulSet")["spec"]["template"]["spec"];
    assert!(
        pod["volumes"].as_array().unwrap().iter().all(|v| v["name"] != "data"),
        "the claim, not a volume of the pod"
    );
}

#[test]
fn read_only_folders_become_secrets_mounted_where_the_container_expects_them() {
    let stack = StackSettings { brokers: 1, tls: true, ..StackSettings::default() };
    let plan = plan(&stack, "id", crate::plan::Owner::Run, "pw", "cluster");
    let folder: PathBuf = plan.synchronizer.spec.read_only[0].host.clone();
    let folders = BTreeMap::from([(folder, BTreeMap::from([("tls.key".to_string(), b"KEY".to_vec())]))]);
    let settings = KubeSettings::default();
    let target = Target {
        namespace: "ns",
        stack_id: "id",
        owner: "run",
        settings: &settings,
        nodes: 1,
        folders: &folders,
        host_data: Path::new("/d"),
    };
    let m = manifests(&plan, &target);
    let secret = kind(&m, "kgb-synchronizer", "Secret");
    assert_eq!(secret["metadata"]["name"], "kgb-synchronizer-files-0");
    assert_eq!(secret["data"]["tls.key"], "S0VZ", "base64 of KEY");
    let pod = &kind(&m, "kgb-synchronizer", "Job")["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["volumeMounts"][0],
        json!({ "name": "files-0", "mountPath": "/etc/kgb/tls", "readOnly": true })
    );
    assert_eq!(pod["volumes"][0]["secret"]["secretName"], "kgb-synchronizer-files-0");
}
