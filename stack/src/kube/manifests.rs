//! From a stack's plan to Kubernetes objects: per part a ConfigMap of its settings, its passwords in the
//! stack's Secret, its read-only folders as Secrets, and a StatefulSet (brokers, databases), Deployment
//! (registry, bank services) or Job (synchronizer); on a pod network also a Service per part. Pure data, so
//! every shape can be checked without a cluster (and by a server-side dry-run with one).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{LABEL_PART, LABEL_ROLE};
use crate::docker::container::LABEL_BENCH;
use crate::docker::container::{LABEL_OWNER, LABEL_STACK};
use crate::plan::{Part, Role, StackPlan};
use bench_results::experiment::kubernetes::{KubeSettings, Network};

/// The Secret holding every setting that carries the stack's database password.
pub const PASSWORDS: &str = "kgb-passwords";

/// The objects of one stack, in bring-up order.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifests {
    pub namespace: Value,
    /// Created before any part: the passwords.
    pub shared: Vec<Value>,
    /// Per part (by name): its objects.
    pub parts: BTreeMap<String, Vec<Value>>,
}

/// What the objects are made for, besides the plan.
pub struct Target<'a> {
    pub namespace: &'a str,
    pub stack_id: &'a str,
    /// `up` or `run`, as on Docker.
    pub owner: &'a str,
    pub settings: &'a KubeSettings,
    /// Schedulable nodes: brokers must be on different nodes when there are enough of them.
    pub nodes: usize,
    /// The files of each read-only folder of the plan (host path -> file name -> contents).
    pub folders: &'a BTreeMap<std::path::PathBuf, BTreeMap<String, Vec<u8>>>,
    /// Where broker data lives on the node without a storage class.
    pub host_data: &'a std::path::Path,
}

/// The stack's database password, as the plan's database URLs carry it.
fn password(plan: &StackPlan) -> Option<String> {
    let url: tokio_postgres::Config = plan.endpoints.db_ch.parse().ok()?;
    url.get_password().map(|p| String::from_utf8_lossy(p).into_owned())
}

/// Every object of `plan` on `target`.
pub fn manifests(plan: &StackPlan, target: &Target<'_>) -> Manifests {
    let plan = match target.settings.network {
        Network::Host => plan.clone(),
        Network::Pod => super::pod_network::rewrite(plan),
    };
    let secret = password(&plan).unwrap_or_default();
    let mut passwords = BTreeMap::new();
    let mut parts = BTreeMap::new();
    for part in plan.parts() {
        let objects = PartObjects { part, target, secret: &secret, plan: &plan }.objects(&mut passwords);
        parts.insert(part.spec.name.clone(), objects);
    }
    let shared = vec![json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": metadata(target, PASSWORDS, None),
        "stringData": passwords,
    })];
    Manifests { namespace: namespace(target), shared, parts }
}

fn labels(target: &Target<'_>) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        (LABEL_BENCH, "1".to_string()),
        (LABEL_STACK, target.stack_id.to_string()),
        (LABEL_OWNER, target.owner.to_string()),
    ])
}

fn namespace(target: &Target<'_>) -> Value {
    json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": target.namespace, "labels": labels(target) } })
}

fn metadata(target: &Target<'_>, name: &str, part: Option<&Part>) -> Value {
    let mut labels = labels(target);
    if let Some(part) = part {
        labels.insert(LABEL_PART, part.spec.name.clone());
        labels.insert(LABEL_ROLE, role(part.role).to_string());
    }
    json!({ "name": name, "namespace": target.namespace, "labels": labels })
}

/// The kind of workload a part of `role` runs as, as kubectl names it (`statefulset/kgb-kafka-1`).
pub fn workload(role: Role) -> &'static str {
    match role {
        Role::Kafka | Role::DbCh | Role::DbGe => "statefulset",
        Role::Synchronizer => "job",
        _ => "deployment",
    }
}

/// The role's label value (also what anti-affinity spreads brokers by).
pub fn role(role: Role) -> &'static str {
    match role {
        Role::Kafka => "kafka",
        Role::SchemaRegistry => "schema-registry",
        Role::DbCh => "db-ch",
        Role::DbGe => "db-ge",
        Role::Synchronizer => "synchronizer",
        Role::CommandHandler => "command-handler",
        Role::GraphqlEndpoint => "graphql-endpoint",
        Role::Frontend => "frontend",
    }
}

/// The objects of one part.
struct PartObjects<'a> {
    part: &'a Part,
    target: &'a Target<'a>,
    /// The database password: settings carrying it go to the Secret.
    secret: &'a str,
    plan: &'a StackPlan,
}

impl PartObjects<'_> {
    fn name(&self) -> &str {
        &self.part.spec.name
    }

    fn objects(&self, passwords: &mut BTreeMap<String, String>) -> Vec<Value> {
        let mut settings = BTreeMap::new();
        let mut env = Vec::new();
        for (k, v) in &self.part.spec.env {
            if !self.secret.is_empty() && v.contains(self.secret) {
                let key = format!("{}.{k}", self.name());
                passwords.insert(key.clone(), v.clone());
                env.push(json!({ "name": k, "valueFrom": { "secretKeyRef": { "name": PASSWORDS, "key": key } } }));
            } else {
                settings.insert(k.clone(), v.clone());
                env.push(json!({ "name": k, "valueFrom": { "configMapKeyRef": { "name": self.name(), "key": k } } }));
            }
        }
        let mut objects = vec![json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata(self.target, self.name(), Some(self.part)),
            "data": settings,
        })];
        objects.extend(self.folder_secrets());
        objects.push(self.workload(env));
        if self.target.settings.network == Network::Pod && self.part.role != Role::Synchronizer {
            objects.push(self.service());
        }
        objects
    }

    /// Each read-only folder as a Secret (`<part>-files-<i>`) of its files.
    fn folder_secrets(&self) -> Vec<Value> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        self.part
            .spec
            .read_only
            .iter()
            .enumerate()
            .map(|(i, folder)| {
                let files = self.target.folders.get(&folder.host).cloned().unwrap_or_default();
                let data: BTreeMap<String, String> = files.iter().map(|(k, v)| (k.clone(), b64.encode(v))).collect();
                json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": metadata(self.target, &format!("{}-files-{i}", self.name()), Some(self.part)),
                    "data": data,
                })
            })
            .collect()
    }

    fn workload(&self, env: Vec<Value>) -> Value {
        let pod = self.pod(env);
        let meta = metadata(self.target, self.name(), Some(self.part));
        let selector = json!({ "matchLabels": { LABEL_STACK: self.target.stack_id, LABEL_PART: self.name() } });
        match self.part.role {
            Role::Synchronizer => json!({
                "apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                // One attempt, as on Docker: a failed synchronizer fails the bring-up with its logs.
                "spec": { "backoffLimit": 0, "template": pod },
            }),
            Role::Kafka | Role::DbCh | Role::DbGe => {
                let mut spec = json!({ "serviceName": self.name(), "replicas": 1, "selector": selector, "template": pod,
                    "podManagementPolicy": "Parallel" });
                if let Some(class) = &self.target.settings.storage_class {
                    spec["volumeClaimTemplates"] = json!([{
                        "metadata": { "name": "data" },
                        "spec": { "accessModes": ["ReadWriteOnce"], "storageClassName": class,
                            "resources": { "requests": { "storage": format!("{}Gi", self.target.settings.storage_gib.unwrap_or(10)) } } },
                    }]);
                }
                json!({ "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": spec })
            }
            _ => json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                "spec": { "replicas": 1, "selector": selector, "template": pod, "strategy": { "type": "Recreate" } },
            }),
        }
    }

    fn pod(&self, env: Vec<Value>) -> Value {
        let settings = self.target.settings;
        let host = settings.network == Network::Host;
        let mut spec = json!({
            "containers": [self.container(env)],
            "volumes": self.volumes(),
            "restartPolicy": if self.part.role == Role::Synchronizer { "Never" } else { "Always" },
            "terminationGracePeriodSeconds": 10,
            "enableServiceLinks": false,
        });
        if host {
            spec["hostNetwork"] = json!(true);
            spec["dnsPolicy"] = json!("ClusterFirstWithHostNet");
        }
        if !settings.node_selector.is_empty() {
            spec["nodeSelector"] = json!(settings.node_selector);
        }
        if !settings.tolerations.is_empty() {
            spec["tolerations"] = json!(settings.tolerations);
        }
        if self.part.role == Role::Kafka {
            spec["affinity"] = self.spread();
        }
        if matches!(self.part.role, Role::DbCh | Role::DbGe) {
            spec["initContainers"] = json!([self.own_data()]);
        }
        json!({ "metadata": { "labels": metadata(self.target, self.name(), Some(self.part))["labels"] }, "spec": spec })
    }

    /// Brokers on different nodes: required when there are nodes enough for all of them, else preferred.
    fn spread(&self) -> Value {
        let brokers = self.plan.infrastructure.iter().filter(|p| p.role == Role::Kafka).count();
        let term = json!({
            "labelSelector": { "matchLabels": { LABEL_STACK: self.target.stack_id, LABEL_ROLE: "kafka" } },
            "topologyKey": "kubernetes.io/hostname",
        });
        if self.target.nodes >= brokers && brokers > 1 {
            json!({ "podAntiAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": [term] } })
        } else {
            json!({ "podAntiAffinity": { "preferredDuringSchedulingIgnoredDuringExecution": [{ "weight": 100, "podAffinityTerm": term }] } })
        }
    }

    fn container(&self, env: Vec<Value>) -> Value {
        let spec = &self.part.spec;
        let pull = if self.target.settings.registry.is_some() { "IfNotPresent" } else { "Never" };
        let mut container = json!({
            "name": role(self.part.role),
            "image": self.target.settings.image(&spec.image),
            "imagePullPolicy": pull,
            "env": env,
            "volumeMounts": self.mounts(),
            "resources": resources(spec.memory_mib, spec.cpus),
        });
        if !spec.args.is_empty() {
            container["args"] = json!(spec.args);
        }
        if let Some(port) = self.ports().first() {
            let mut probe = json!({ "port": port });
            if self.target.settings.network == Network::Host {
                probe["host"] = json!("127.0.0.1");
            }
            container["readinessProbe"] = json!({ "tcpSocket": probe, "periodSeconds": 1, "failureThreshold": 3 });
            container["ports"] = json!(self.ports().iter().map(|p| json!({ "containerPort": p })).collect::<Vec<_>>());
        }
        container
    }

    /// PostgreSQL runs as `postgres`; a node's folder or a fresh claim is root's: made its own first.
    fn own_data(&self) -> Value {
        let path = self.data_path().unwrap_or_default();
        json!({
            "name": "own-data",
            "image": self.target.settings.image(&self.part.spec.image),
            "imagePullPolicy": if self.target.settings.registry.is_some() { "IfNotPresent" } else { "Never" },
            "command": ["chown", "postgres:postgres", path],
            "securityContext": { "runAsUser": 0 },
            "volumeMounts": [{ "name": "data", "mountPath": path }],
        })
    }

    /// The ports this part listens on.
    fn ports(&self) -> Vec<u16> {
        self.plan.ports.iter().filter(|(_, n)| n == self.name()).map(|(p, _)| *p).collect()
    }

    fn data_path(&self) -> Option<&'static str> {
        match self.part.role {
            Role::Kafka => Some("/var/lib/kafka/data"),
            Role::DbCh | Role::DbGe => Some("/var/lib/kgb-postgres"),
            _ => None,
        }
    }

    fn volumes(&self) -> Vec<Value> {
        let mut volumes: Vec<Value> = (0..self.part.spec.read_only.len())
            .map(|i| json!({ "name": format!("files-{i}"), "secret": { "secretName": format!("{}-files-{i}", self.name()) } }))
            .collect();
        if self.data_path().is_some() && self.target.settings.storage_class.is_none() {
            // On the host network (a node of bench's machine) data lives in a folder of the node, so a part
            // taken away by a fault comes back with it, as a container does on Docker.
            let on_host = self.target.settings.network == Network::Host;
            volumes.push(if on_host {
                let path = self.target.host_data.join(self.target.namespace).join(self.name());
                json!({ "name": "data", "hostPath": { "path": path.display().to_string(), "type": "DirectoryOrCreate" } })
            } else {
                json!({ "name": "data", "emptyDir": {} })
            });
        }
        volumes
    }

    fn mounts(&self) -> Vec<Value> {
        let mut mounts: Vec<Value> = self
            .part
            .spec
            .read_only
            .iter()
            .enumerate()
            .map(|(i, f)| json!({ "name": format!("files-{i}"), "mountPath": f.container, "readOnly": true }))
            .collect();
        if let Some(path) = self.data_path() {
            mounts.push(json!({ "name": "data", "mountPath": path }));
        }
        mounts
    }

    fn service(&self) -> Value {
        let ports: Vec<Value> =
            self.ports().iter().map(|p| json!({ "name": format!("p{p}"), "port": p, "targetPort": p })).collect();
        let outside = matches!(self.part.role, Role::GraphqlEndpoint | Role::Frontend)
            && self.target.settings.reach == bench_results::experiment::kubernetes::Reach::Service;
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": metadata(self.target, self.name(), Some(self.part)),
            "spec": {
                "type": if outside { "LoadBalancer" } else { "ClusterIP" },
                "selector": { LABEL_STACK: self.target.stack_id, LABEL_PART: self.name() },
                "ports": ports,
                // Brokers are reached by name before they are ready (the controllers' quorum forms first).
                "publishNotReadyAddresses": self.part.role == Role::Kafka,
            },
        })
    }
}

/// `[stack.limits]` as requests and limits: what is asked for is reserved, so the scheduler places the
/// stack where it fits; no limit, no request.
fn resources(memory_mib: Option<u64>, cpus: Option<f64>) -> Value {
    let mut amounts = serde_json::Map::new();
    if let Some(m) = memory_mib {
        amounts.insert("memory".into(), json!(format!("{m}Mi")));
    }
    if let Some(c) = cpus {
        amounts.insert("cpu".into(), json!(format!("{}m", (c * 1000.0).round() as u64)));
    }
    json!({ "requests": amounts, "limits": amounts })
}

#[cfg(test)]
mod tests;
