//! Where a stack's parts run: containers on a Docker engine ([`crate::docker`]), or pods on a Kubernetes
//! cluster ([`crate::kube`]). This is the one place that tells the two apart: the stack's lifecycle, readiness,
//! and everything above this crate (runs, faults, samples, `bench up` and `down`) ask a [`Platform`], never which
//! one it is.

mod lifecycle;

use std::collections::BTreeMap;
use std::path::Path;

use bollard::Docker;

use crate::docker::container;
use crate::docker::stats::{self, Usage};
use crate::docker::DockerError;
use crate::error::StackError;
use crate::kube::manifests::Manifests;
use crate::kube::pods::PodState;
use crate::kube::reach::Reached;
use crate::kube::{self, Cluster, KubeError};
use bench_results::ending::Ending;
use bench_results::experiment::kubernetes::{KubeSettings, Network};

/// A Docker engine or a Kubernetes cluster; which one is this module's business alone.
#[derive(Clone)]
pub struct Platform(Inner);

#[derive(Clone)]
enum Inner {
    Docker(Docker),
    /// Boxed: a cluster's client and settings are many times the size of a Docker client.
    Kubernetes(Box<Cluster>),
}

impl From<Docker> for Platform {
    fn from(docker: Docker) -> Platform {
        Platform(Inner::Docker(docker))
    }
}

impl From<Cluster> for Platform {
    fn from(cluster: Cluster) -> Platform {
        Platform(Inner::Kubernetes(Box::new(cluster)))
    }
}

/// What a platform made for a stack before its parts start: on Kubernetes the namespace's remaining objects,
/// and how bench reaches the parts when not on this host's 127.0.0.1.
#[derive(Default)]
pub(crate) struct Provisioned {
    manifests: Option<Manifests>,
    pub(crate) reached: Option<Reached>,
}

/// A part taken away for a while by a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disruption {
    /// Killed at once (`docker kill`; a pod deleted without grace).
    Kill,
    /// Frozen (`docker pause`); pods cannot be.
    Pause,
    /// Stopped gracefully.
    Stop,
}

impl Platform {
    /// This machine's Docker engine.
    ///
    /// # Errors
    /// [`DockerError::NoEngine`] when none answers.
    pub async fn docker() -> Result<Platform, DockerError> {
        Ok(Platform::from(crate::docker::connect().await?))
    }

    /// The cluster of a kubeconfig (default: `$KUBECONFIG`, then `~/.kube/config`) and context, checked to answer.
    ///
    /// # Errors
    /// [`KubeError`] naming the kubeconfig, or the API's refusal.
    pub async fn kubernetes(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Platform, KubeError> {
        Ok(Platform::from(kube::connect(kubeconfig, context).await?))
    }

    /// `docker` or `kubernetes`, as `--platform` names it.
    pub fn name(&self) -> &'static str {
        match &self.0 {
            Inner::Docker(_) => "docker",
            Inner::Kubernetes(_) => "kubernetes",
        }
    }

    /// The platform a results header records: none for Docker, the platform of every file written before
    /// there was a choice.
    pub fn recorded_name(&self) -> Option<&'static str> {
        Some(self.name()).filter(|_| !matches!(self.0, Inner::Docker(_)))
    }

    /// This platform with a variant's placement (`[kubernetes]`); Docker has none.
    pub fn placed(&self, placement: &KubeSettings) -> Platform {
        match &self.0 {
            Inner::Docker(_) => self.clone(),
            Inner::Kubernetes(cluster) => Platform::from((**cluster).clone().placed(placement.clone())),
        }
    }

    /// Where a stack lives, when that is more than this machine: what it is (`namespace`), and which one on
    /// which API server.
    pub fn location(&self, stack_id: &str) -> Option<(&'static str, String)> {
        match &self.0 {
            Inner::Docker(_) => None,
            Inner::Kubernetes(cluster) => {
                Some(("namespace", format!("{} on {}", kube::namespace(stack_id), cluster.server())))
            }
        }
    }

    /// Image reference -> id of what stack `stack_id` runs (`None`: a stack that never came up, whose images
    /// are `images`). On Docker the engine's images; on a cluster its pods' (none without pods).
    pub async fn image_ids(&self, stack_id: Option<&str>, images: &[String]) -> BTreeMap<String, String> {
        match (&self.0, stack_id) {
            (Inner::Docker(docker), _) => crate::images::ids(docker, images).await,
            (Inner::Kubernetes(cluster), Some(id)) => cluster.image_ids(id).await,
            (Inner::Kubernetes(_), None) => BTreeMap::new(),
        }
    }

    /// Removes the stacks whose parts carry `label` (`bench down`): their ids, and the containers or
    /// namespaces removed. With `all` on Docker, also the TLS folders of stacks whose containers never started
    /// (a cluster's `--all` leaves them: they may belong to stacks on this machine's engine).
    ///
    /// # Errors
    /// The platform's, or a TLS folder that cannot be removed.
    pub async fn remove_labelled(&self, label: &str, all: bool) -> Result<(Vec<String>, Vec<String>), StackError> {
        match &self.0 {
            Inner::Docker(docker) => {
                let stacks = container::stacks_labelled(docker, label).await?;
                let removed = container::remove_labelled(docker, label).await?;
                if all {
                    crate::tls::remove_all()?;
                }
                Ok((stacks.into_iter().collect(), removed))
            }
            Inner::Kubernetes(cluster) => {
                let labelled = cluster.namespaces_labelled(label).await?;
                let deletions = labelled.iter().map(|(namespace, _)| cluster.delete_namespace(namespace));
                futures_util::future::try_join_all(deletions).await?;
                Ok(labelled.into_iter().map(|(namespace, id)| (id, namespace)).unzip())
            }
        }
    }

    /// `Some` when the part has stopped, cannot start, or was restarted (a part still starting has not).
    pub async fn stopped(&self, stack_id: &str, part: &str) -> Option<Ending> {
        self.ending(stack_id, part).await.filter(Ending::died)
    }

    /// How the part ended, when it did, was restarted, or had a process killed for memory; `None` while it runs
    /// untroubled or is still starting.
    pub async fn ending(&self, stack_id: &str, part: &str) -> Option<Ending> {
        match &self.0 {
            Inner::Docker(docker) => container::ending(docker, part).await,
            // An API error says nothing of the pod: the caller's next poll, or its timeout, will.
            Inner::Kubernetes(cluster) => cluster.ending(stack_id, part).await.ok().flatten(),
        }
    }

    /// Whether the part counts as ready on the platform itself (a pod's Ready condition); always on Docker,
    /// where only bench's own checks say so.
    pub async fn platform_ready(&self, stack_id: &str, part: &str) -> Result<(), String> {
        match &self.0 {
            Inner::Docker(_) => Ok(()),
            Inner::Kubernetes(cluster) => match cluster.pod_state(stack_id, part).await {
                Ok(PodState::Ready) => Ok(()),
                Ok(PodState::Starting(Some(why))) => Err(format!("pod not Ready: {why}")),
                Ok(state) => Err(format!("pod {state:?}, not Ready")),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// The last `lines` lines of the part's output.
    pub async fn logs_tail(&self, stack_id: &str, part: &str, lines: usize) -> String {
        match &self.0 {
            Inner::Docker(docker) => container::logs_tail(docker, part, lines).await,
            Inner::Kubernetes(cluster) => cluster.logs_tail(stack_id, part, lines).await,
        }
    }

    /// Waits until the part has exited; its exit code.
    ///
    /// # Errors
    /// Why it could not be waited for (or cannot run at all).
    pub async fn wait_exit(&self, stack_id: &str, part: &str) -> Result<i64, String> {
        match &self.0 {
            Inner::Docker(docker) => container::wait_exit(docker, part).await.map_err(|e| e.to_string()),
            Inner::Kubernetes(cluster) => cluster.wait_exit(stack_id, part).await.map(i64::from),
        }
    }

    /// Begins a fault on the part.
    ///
    /// # Errors
    /// The platform's refusal, in words.
    pub async fn disrupt(&self, stack_id: &str, part: &str, how: Disruption) -> Result<(), String> {
        match (&self.0, how) {
            (Inner::Docker(d), Disruption::Kill) => d.kill_container(part, None).await.map_err(|e| e.to_string()),
            (Inner::Docker(d), Disruption::Pause) => d.pause_container(part).await.map_err(|e| e.to_string()),
            (Inner::Docker(d), Disruption::Stop) => d.stop_container(part, None).await.map_err(|e| e.to_string()),
            (Inner::Kubernetes(_), Disruption::Pause) => Err("pods cannot be paused".to_string()),
            (Inner::Kubernetes(c), how) => {
                c.take_away(stack_id, part, how == Disruption::Kill).await.map_err(|e| e.to_string())
            }
        }
    }

    /// Ends a fault begun by [`Platform::disrupt`].
    ///
    /// # Errors
    /// The platform's refusal, in words.
    pub async fn restore(&self, stack_id: &str, part: &str, how: Disruption) -> Result<(), String> {
        match (&self.0, how) {
            (Inner::Docker(d), Disruption::Pause) => d.unpause_container(part).await.map_err(|e| e.to_string()),
            (Inner::Docker(d), _) => d.start_container(part, None).await.map_err(|e| e.to_string()),
            (Inner::Kubernetes(c), _) => c.bring_back(stack_id, part).await.map_err(|e| e.to_string()),
        }
    }

    /// The resource use of the parts named, by name; `None` when the platform could not say.
    pub async fn sample(&self, stack_id: &str, parts: &[String]) -> Option<BTreeMap<String, Usage>> {
        match &self.0 {
            Inner::Docker(docker) => stats::sample_all(docker, parts).await.ok(),
            Inner::Kubernetes(cluster) => {
                let mut usage = cluster.usage(stack_id).await.ok()?;
                usage.retain(|part, _| parts.contains(part));
                Some(usage)
            }
        }
    }

    /// Why the parts' resources cannot be sampled, if they cannot (a cluster without a metrics API).
    pub async fn samples_unavailable(&self) -> Option<String> {
        match &self.0 {
            Inner::Docker(_) => None,
            Inner::Kubernetes(cluster) => cluster.metrics_unavailable().await,
        }
    }

    /// Whether the stack's ports are this machine's (Docker; a cluster on the host network, as `scripts/kube-up`
    /// makes it).
    pub fn on_this_host(&self) -> bool {
        match &self.0 {
            Inner::Docker(_) => true,
            Inner::Kubernetes(cluster) => cluster.placement.network == Network::Host,
        }
    }

    /// Whether resource samples cover the same window as this machine's /proc/stat and the engine's own
    /// processes are known: so on Docker; a cluster's metrics API averages over its own window.
    pub fn samples_here(&self) -> bool {
        matches!(self.0, Inner::Docker(_))
    }
}
