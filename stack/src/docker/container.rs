//! Containers as bench makes them: host networking, labels, resource limits; removal by label.

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::{StreamExt, TryStreamExt};

use super::{is_not_found, DockerError};
use bench_results::ending::Ending;

/// Label naming the stack (one bring-up) a container belongs to.
pub const LABEL_STACK: &str = "kgb.stack";

/// The label every container and image made by bench carries, so leftovers can always be found.
pub const LABEL_BENCH: &str = "kgb.bench";

/// Label saying who started the stack: `up` (left running on purpose) or `run`.
pub const LABEL_OWNER: &str = "kgb.owner";

/// Everything needed to create one container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    /// Container name, e.g. `kgb-kafka-1`.
    pub name: String,
    /// Image reference, e.g. `kgb/kafka:4.1.1`.
    pub image: String,
    /// Environment, in order.
    pub env: Vec<(String, String)>,
    /// Arguments after the image's entrypoint, if any.
    pub args: Vec<String>,
    /// Extra labels (the bench label is always added).
    pub labels: HashMap<String, String>,
    /// Memory limit in MiB.
    pub memory_mib: Option<u64>,
    /// CPU limit in cores.
    pub cpus: Option<f64>,
    /// Host folders the container sees, read-only.
    pub read_only: Vec<ReadOnlyFolder>,
}

/// A folder of the host shown read-only inside a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOnlyFolder {
    /// Absolute path on the host (the engine resolves nothing relative).
    pub host: PathBuf,
    /// Where the container sees it.
    pub container: String,
}

impl ReadOnlyFolder {
    // A mount rather than a `host:container:ro` bind string, which a `:` in the host path would break.
    fn mount(&self) -> Mount {
        Mount {
            source: Some(self.host.display().to_string()),
            target: Some(self.container.clone()),
            typ: Some(MountType::BIND),
            read_only: Some(true),
            ..Default::default()
        }
    }
}

impl ContainerSpec {
    fn create_body(&self) -> ContainerCreateBody {
        let mut labels = self.labels.clone();
        labels.insert(LABEL_BENCH.to_string(), "1".to_string());
        ContainerCreateBody {
            image: Some(self.image.clone()),
            env: Some(self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            cmd: (!self.args.is_empty()).then(|| self.args.clone()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                // The network rule of this project: host networking only, services on 127.0.0.1.
                network_mode: Some("host".to_string()),
                memory: self.memory_mib.map(|m| (m * 1024 * 1024) as i64),
                nano_cpus: self.cpus.map(|c| (c * 1e9) as i64),
                init: Some(true),
                mounts: (!self.read_only.is_empty())
                    .then(|| self.read_only.iter().map(ReadOnlyFolder::mount).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// Creates and starts a container.
///
/// # Errors
/// [`DockerError::MissingImage`] when the image is absent, [`DockerError::NameTaken`] when a container of that
/// name exists, else the engine's error naming the container.
pub async fn start(docker: &Docker, spec: &ContainerSpec) -> Result<(), DockerError> {
    let options = CreateContainerOptionsBuilder::default().name(&spec.name).build();
    match docker.create_container(Some(options), spec.create_body()).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Err(DockerError::MissingImage { image: spec.image.clone() }),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {
            return Err(DockerError::NameTaken { name: spec.name.clone() })
        }
        Err(e) => return Err(DockerError::engine("failed to create container", &spec.name)(e)),
    }
    docker.start_container(&spec.name, None).await.map_err(DockerError::engine("failed to start container", &spec.name))
}

/// Removes a container by force; one that is already gone is not an error.
pub async fn remove(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    match docker.remove_container(name, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        // 409: removal already in progress, by us or another bench down.
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
        Err(e) => Err(DockerError::engine("failed to remove container", name)(e)),
    }
}

/// All containers (running or not) carrying `label` (`key` or `key=value`).
async fn labelled(docker: &Docker, label: &str) -> Result<Vec<bollard::models::ContainerSummary>, DockerError> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    docker
        .list_containers(Some(options))
        .await
        .map_err(DockerError::engine("failed to list containers labelled", label))
}

/// Names of all containers (running or not) carrying `label` (`key` or `key=value`).
pub async fn list_labelled(docker: &Docker, label: &str) -> Result<Vec<String>, DockerError> {
    Ok(labelled(docker, label)
        .await?
        .into_iter()
        .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
        .map(|n| n.trim_start_matches('/').to_string())
        .collect())
}

/// The stack ids (`kgb.stack` labels) of the containers carrying `label`.
///
/// # Errors
/// The engine's, or [`DockerError::BadLabel`] for an id that does not fit [`bench_results::names`]: anyone who can start
/// a container can write its labels.
pub async fn stacks_labelled(docker: &Docker, label: &str) -> Result<std::collections::BTreeSet<String>, DockerError> {
    let mut ids = std::collections::BTreeSet::new();
    for container in labelled(docker, label).await? {
        let Some(id) = container.labels.and_then(|mut l| l.remove(LABEL_STACK)) else { continue };
        if let Err(source) = bench_results::names::check(bench_results::names::Kind::StackId, &id) {
            let name = container.names.and_then(|n| n.into_iter().next()).unwrap_or_default();
            return Err(DockerError::BadLabel { container: name.trim_start_matches('/').to_string(), source });
        }
        ids.insert(id);
    }
    Ok(ids)
}

/// Removes every container carrying `label`, concurrently; returns their names.
pub async fn remove_labelled(docker: &Docker, label: &str) -> Result<Vec<String>, DockerError> {
    let names = list_labelled(docker, label).await?;
    futures_util::future::try_join_all(names.iter().map(|n| remove(docker, n))).await?;
    Ok(names)
}

/// The last `lines` lines of a container's output (stdout and stderr), for error messages.
pub async fn logs_tail(docker: &Docker, name: &str, lines: usize) -> String {
    let options = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&lines.to_string()).build();
    let chunks: Result<Vec<_>, _> = docker.logs(name, Some(options)).try_collect().await;
    match chunks {
        Ok(chunks) => chunks.iter().map(|c| c.to_string()).collect::<String>(),
        Err(e) => format!("(logs of {name} unavailable: {e})"),
    }
}

/// Waits until the container exits and returns its exit code.
pub async fn wait_exit(docker: &Docker, name: &str) -> Result<i64, DockerError> {
    let options = WaitContainerOptionsBuilder::default().condition("not-running").build();
    let mut stream = docker.wait_container(name, Some(options));
    match stream.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(DockerError::engine("failed to wait for container", name)(e)),
        None => {
            Err(DockerError::engine("failed to wait for container", name)(bollard::errors::Error::DockerStreamError {
                error: "wait stream ended without a status".into(),
            }))
        }
    }
}

/// How the container ended, when it did or the kernel killed a process in it for memory; `None` while it runs
/// untroubled. One that cannot be inspected (gone) has ended, with the engine's words.
pub async fn ending(docker: &Docker, name: &str) -> Option<Ending> {
    let info = match docker.inspect_container(name, None).await {
        Ok(info) => info,
        Err(e) => return Some(Ending { why: format!("cannot be inspected: {e}"), ..Ending::default() }),
    };
    let state = info.state.unwrap_or_default();
    let ending = Ending {
        running: state.running.unwrap_or(false),
        // Docker's own flag, not the exit code: `docker kill` (a fault) exits 137 too.
        oom_killed: state.oom_killed.unwrap_or(false),
        code: state.exit_code,
        restarts: info.restart_count.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        why: state.error.unwrap_or_default(),
    };
    if ending.running {
        // A running container's exit code is its previous run's (0 for its first).
        return ending.oom_killed.then_some(Ending { code: None, ..ending });
    }
    Some(ending)
}

/// Whether the container is still running (false when it exited or is gone).
pub async fn is_running(docker: &Docker, name: &str) -> bool {
    match docker.inspect_container(name, None).await {
        Ok(info) => info.state.and_then(|s| s.running).unwrap_or(false),
        Err(_) => false,
    }
}
