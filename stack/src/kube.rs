//! A stack on a Kubernetes cluster (`--platform kubernetes`) through kube-rs: per stack a namespace labelled as
//! bench's, the plan's parts as objects ([`manifests`]), their pods watched for readiness and failure
//! ([`pods`]), faults acting on pods, and teardown that waits until the namespace is gone.

mod deploy;
pub mod manifests;
mod metrics;
mod pod_network;
pub mod pods;
pub mod reach;

use bench_results::experiment::KubeSettings;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use serde_json::Value;

/// Label of each part's pods and objects: its name in the plan (`kgb-kafka-2`).
pub const LABEL_PART: &str = "kgb.part";
/// Label of each part's role (`kafka`, `db-ch`, ...).
pub const LABEL_ROLE: &str = "kgb.role";

/// How long teardown waits for a namespace to be gone.
const DELETE_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// kube's own message only (it already names its cause; as a source it would be printed twice).
    #[error("reading the kubeconfig {}: {reason}", path.as_deref().map_or("($KUBECONFIG, else ~/.kube/config)".to_string(), |p| p.display().to_string()))]
    Config { path: Option<PathBuf>, reason: String },
    #[error("no Kubernetes API server answers at {server}; `scripts/kube-up` starts a local cluster")]
    NoCluster {
        server: String,
        #[source]
        source: kube::Error,
    },
    /// The API server's words (or the connection's error chain) only: its status's Debug form, which a source
    /// would add to every message, repeats them three times.
    #[error("{action} {name}: {reason}")]
    Api { action: &'static str, name: String, reason: String },
    #[error("namespace {namespace} was still there after {waited:?}: remove it with `bench down --all --platform kubernetes`")]
    StillThere { namespace: String, waited: Duration },
    #[error("pod {pod} was still there after {waited:?}")]
    PodStillThere { pod: String, waited: Duration },
    #[error("reading {}", path.display())]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no port on 127.0.0.1 for a port-forward to {part}")]
    Listen {
        part: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bench may not port-forward to pods in {namespace} (`create` on `pods/portforward`){}; [kubernetes] reach = \"port-forward\" and a pod network need that right", if reason.is_empty() { String::new() } else { format!(": {reason}") })]
    NoPortForward { namespace: String, reason: String },
    #[error("no load balancer gave Service {service} an address within {waited:?}; with [kubernetes] reach = \"port-forward\" bench goes through the API server instead")]
    NoAddress { service: String, waited: Duration },
    /// A namespace carrying bench's label whose `kgb.stack` label (or own name) is no name bench makes: joined
    /// into a path (its TLS folder, its brokers' data), it would name another folder.
    #[error("namespace {namespace} carries a {} label bench did not write; nothing was removed (delete it with `kubectl delete namespace {namespace}`)", crate::docker::container::LABEL_STACK)]
    BadLabel {
        namespace: String,
        #[source]
        source: bench_results::names::NameError,
    },
    /// What bench cannot do (yet) on a cluster, in words.
    #[error("{0}")]
    Unsupported(String),
}

/// The API server's own words when it refused, else the client's error with its causes.
fn reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.reason),
        other => topology::errors::chain(other),
    }
}

impl KubeError {
    fn api(action: &'static str, name: impl Into<String>) -> impl FnOnce(kube::Error) -> KubeError {
        let name = name.into();
        move |source| KubeError::Api { action, name, reason: reason(&source) }
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// A cluster bench talks to.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    /// To make a fresh client on another runtime (a stack's drop cleans up from a thread of its own).
    config: Config,
    /// Where stacks go on it (`[kubernetes]`).
    pub placement: KubeSettings,
}

/// The namespace of a stack: its id, lower-case (namespaces are DNS labels).
pub fn namespace(stack_id: &str) -> String {
    format!("kgb-{}", stack_id.to_ascii_lowercase())
}

/// Where brokers keep their data on a host-network node without a storage class.
pub fn host_data() -> PathBuf {
    std::env::temp_dir().join("kgb-kube")
}

/// Removes what a host-network stack's brokers left in [`host_data`] for `namespace`: only a real folder (a
/// symbolic link is never followed) whose name fits [`bench_results::names`] and that the current user owns (the node's
/// kubelet makes it; as root, for a bench run as root). Anything else is left, with a warning.
fn remove_host_data(namespace: &str) {
    use std::os::unix::fs::MetadataExt;
    if bench_results::names::check(bench_results::names::Kind::Namespace, namespace).is_err() {
        tracing::warn!("not removing the brokers' data of namespace {namespace:?}: not a name bench makes");
        return;
    }
    let data = host_data().join(namespace);
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    let me = unsafe { libc::geteuid() };
    match std::fs::symlink_metadata(&data) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("reading {}: {e}", data.display()),
        Ok(meta) if !meta.file_type().is_dir() || meta.uid() != me => {
            tracing::warn!("not removing {}: not a folder of the current user", data.display());
        }
        Ok(_) => {
            if let Err(e) = std::fs::remove_dir_all(&data) {
                tracing::warn!("removing {}: {e}", data.display());
            }
        }
    }
}

/// Connects to the cluster of `kubeconfig` (default: `KUBECONFIG`, then `~/.kube/config`) in `context`
/// (default: its current one) and checks that the API server answers.
///
/// # Errors
/// [`KubeError::Config`] or [`KubeError::NoCluster`].
pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Cluster, KubeError> {
    let options = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
    let bad = |e: kube::config::KubeconfigError| KubeError::Config {
        path: kubeconfig.map(Path::to_path_buf),
        reason: e.to_string(),
    };
    let config = match kubeconfig {
        Some(path) => Config::from_custom_kubeconfig(Kubeconfig::read_from(path).map_err(bad)?, &options).await,
        None => Config::from_kubeconfig(&options).await,
    }
    .map_err(bad)?;
    let cluster = Cluster::new(config)?;
    cluster
        .client
        .apiserver_version()
        .await
        .map_err(|source| KubeError::NoCluster { server: cluster.server(), source })?;
    Ok(cluster)
}

impl Cluster {
    fn new(config: Config) -> Result<Cluster, KubeError> {
        let client = Client::try_from(config.clone())
            .map_err(|source| KubeError::NoCluster { server: config.cluster_url.to_string(), source })?;
        Ok(Cluster { client, config, placement: KubeSettings::default() })
    }

    /// The same cluster, placing stacks by `placement`.
    pub fn placed(mut self, placement: KubeSettings) -> Cluster {
        self.placement = placement;
        self
    }

    /// The same cluster through a client of the current runtime.
    pub fn fresh(&self) -> Result<Cluster, KubeError> {
        Ok(Cluster::new(self.config.clone())?.placed(self.placement.clone()))
    }

    pub fn server(&self) -> String {
        self.config.cluster_url.to_string()
    }

    pub(crate) fn client(&self) -> Client {
        self.client.clone()
    }

    /// Nodes that take new pods.
    ///
    /// # Errors
    /// The API's.
    pub async fn schedulable_nodes(&self) -> Result<usize, KubeError> {
        let nodes = Api::<Node>::all(self.client())
            .list(&ListParams::default())
            .await
            .map_err(KubeError::api("listing", "nodes"))?;
        Ok(nodes.items.iter().filter(|n| !n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false)).count())
    }

    /// Creates `objects` (each with its apiVersion, kind and namespace), in order; with `dry_run` the API server
    /// checks them without keeping them.
    ///
    /// # Errors
    /// The API's refusal, naming the object.
    pub async fn create(&self, objects: &[Value], dry_run: bool) -> Result<(), KubeError> {
        let params = PostParams { dry_run, field_manager: Some("bench".to_string()) };
        for object in objects {
            let (api, name) = self.api_for(object)?;
            let object: DynamicObject = serde_json::from_value(object.clone())
                .map_err(|e| KubeError::Unsupported(format!("object {name} is not a Kubernetes object: {e}")))?;
            api.create(&params, &object)
                .await
                .map_err(KubeError::api(if dry_run { "dry-run of" } else { "creating" }, &name))?;
        }
        Ok(())
    }

    fn api_for(&self, object: &Value) -> Result<(Api<DynamicObject>, String), KubeError> {
        let text = |key: &str| object[key].as_str().unwrap_or_default().to_string();
        let (api_version, kind) = (text("apiVersion"), text("kind"));
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        let plural = match kind.as_str() {
            "Namespace" => "namespaces",
            "Secret" => "secrets",
            "ConfigMap" => "configmaps",
            "StatefulSet" => "statefulsets",
            "Deployment" => "deployments",
            "Job" => "jobs",
            "Service" => "services",
            other => return Err(KubeError::Unsupported(format!("bench does not create {other} objects"))),
        };
        let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &kind), plural);
        let name = format!("{}/{}", kind, object["metadata"]["name"].as_str().unwrap_or_default());
        let api = match object["metadata"]["namespace"].as_str() {
            Some(ns) if kind != "Namespace" => Api::namespaced_with(self.client(), ns, &resource),
            _ => Api::all_with(self.client(), &resource),
        };
        Ok((api, name))
    }

    /// The namespaces carrying `selector` (`key=value` or `key`), each with its stack's id.
    ///
    /// # Errors
    /// The API's, or [`KubeError::BadLabel`] for a stack id (or a namespace name) that does not fit
    /// [`bench_results::names`]: anyone who may create a namespace can write its labels.
    pub async fn namespaces_labelled(&self, selector: &str) -> Result<Vec<(String, String)>, KubeError> {
        let list = Api::<Namespace>::all(self.client())
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(KubeError::api("listing namespaces labelled", selector))?;
        let stack = |n: &Namespace| {
            n.metadata.labels.as_ref().and_then(|l| l.get(crate::docker::container::LABEL_STACK)).cloned()
        };
        let mut found = Vec::new();
        for n in &list.items {
            let Some(namespace) = n.metadata.name.clone() else { continue };
            let id = stack(n).unwrap_or_default();
            let checked = bench_results::names::check(bench_results::names::Kind::StackId, &id)
                .and_then(|()| bench_results::names::check(bench_results::names::Kind::Namespace, &namespace));
            if let Err(source) = checked {
                return Err(KubeError::BadLabel { namespace, source });
            }
            found.push((namespace, id));
        }
        Ok(found)
    }

    /// Deletes `namespace` (with everything in it) and waits until it is gone; one that is not there is no
    /// error. Then removes what its brokers left on this host.
    ///
    /// # Errors
    /// The API's, or [`KubeError::StillThere`] after [`DELETE_TIMEOUT`].
    pub async fn delete_namespace(&self, namespace: &str) -> Result<(), KubeError> {
        let api = Api::<Namespace>::all(self.client());
        // Its pods stop within their own grace (`terminationGracePeriodSeconds`), not one given here.
        match api.delete(namespace, &DeleteParams::background()).await {
            Ok(_) => {}
            // 409: already being deleted (a teardown that timed out, another `bench down`): wait for it too.
            Err(e) if is_not_found(&e) || matches!(&e, kube::Error::Api(s) if s.code == 409) => {}
            Err(e) => return Err(KubeError::api("deleting namespace", namespace)(e)),
        }
        let start = Instant::now();
        loop {
            match api.get_opt(namespace).await.map_err(KubeError::api("reading namespace", namespace))? {
                None => break,
                Some(_) if start.elapsed() >= DELETE_TIMEOUT => {
                    return Err(KubeError::StillThere { namespace: namespace.to_string(), waited: start.elapsed() })
                }
                Some(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        remove_host_data(namespace);
        Ok(())
    }
}
