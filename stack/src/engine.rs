//! Where a stack's parts run: containers on a Docker engine, or pods on a Kubernetes cluster. The rest of the
//! crate (readiness, bring-up, teardown) and the harness's faults ask this, not the platform.

use std::collections::BTreeMap;

use bollard::Docker;

use crate::docker::container;
use crate::docker::stats::{self, Usage};
use crate::kube::pods::PodState;
use crate::kube::Cluster;
use bench_results::ending::Ending;

/// A Docker engine or a Kubernetes cluster.
#[derive(Clone)]
pub enum Engine {
    Docker(Docker),
    /// Boxed: a cluster's client and settings are many times the size of a Docker client.
    Kubernetes(Box<Cluster>),
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

impl Engine {
    /// `Some` when the part has stopped, cannot start, or was restarted (a part still starting has not).
    pub async fn stopped(&self, stack_id: &str, part: &str) -> Option<Ending> {
        self.ending(stack_id, part).await.filter(Ending::died)
    }

    /// How the part ended, when it did, was restarted, or had a process killed for memory; `None` while it runs
    /// untroubled or is still starting.
    pub async fn ending(&self, stack_id: &str, part: &str) -> Option<Ending> {
        match self {
            Engine::Docker(docker) => container::ending(docker, part).await,
            // An API error says nothing of the pod: the caller's next poll, or its timeout, will.
            Engine::Kubernetes(cluster) => cluster.ending(stack_id, part).await.ok().flatten(),
        }
    }

    /// Whether the part counts as ready on the platform itself (a pod's Ready condition); always on Docker,
    /// where only bench's own checks say so.
    pub async fn platform_ready(&self, stack_id: &str, part: &str) -> Result<(), String> {
        match self {
            Engine::Docker(_) => Ok(()),
            Engine::Kubernetes(cluster) => match cluster.pod_state(stack_id, part).await {
                Ok(PodState::Ready) => Ok(()),
                Ok(PodState::Starting(Some(why))) => Err(format!("pod not Ready: {why}")),
                Ok(state) => Err(format!("pod {state:?}, not Ready")),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// The last `lines` lines of the part's output.
    pub async fn logs_tail(&self, stack_id: &str, part: &str, lines: usize) -> String {
        match self {
            Engine::Docker(docker) => container::logs_tail(docker, part, lines).await,
            Engine::Kubernetes(cluster) => cluster.logs_tail(stack_id, part, lines).await,
        }
    }

    /// Waits until the part has exited; its exit code.
    ///
    /// # Errors
    /// Why it could not be waited for (or cannot run at all).
    pub async fn wait_exit(&self, stack_id: &str, part: &str) -> Result<i64, String> {
        match self {
            Engine::Docker(docker) => container::wait_exit(docker, part).await.map_err(|e| e.to_string()),
            Engine::Kubernetes(cluster) => cluster.wait_exit(stack_id, part).await.map(i64::from),
        }
    }

    /// Begins a fault on the part.
    ///
    /// # Errors
    /// The platform's refusal, in words.
    pub async fn disrupt(&self, stack_id: &str, part: &str, how: Disruption) -> Result<(), String> {
        match (self, how) {
            (Engine::Docker(d), Disruption::Kill) => d.kill_container(part, None).await.map_err(|e| e.to_string()),
            (Engine::Docker(d), Disruption::Pause) => d.pause_container(part).await.map_err(|e| e.to_string()),
            (Engine::Docker(d), Disruption::Stop) => d.stop_container(part, None).await.map_err(|e| e.to_string()),
            (Engine::Kubernetes(_), Disruption::Pause) => Err("pods cannot be paused".to_string()),
            (Engine::Kubernetes(c), how) => {
                c.take_away(stack_id, part, how == Disruption::Kill).await.map_err(|e| e.to_string())
            }
        }
    }

    /// Ends a fault begun by [`Engine::disrupt`].
    ///
    /// # Errors
    /// The platform's refusal, in words.
    pub async fn restore(&self, stack_id: &str, part: &str, how: Disruption) -> Result<(), String> {
        match (self, how) {
            (Engine::Docker(d), Disruption::Pause) => d.unpause_container(part).await.map_err(|e| e.to_string()),
            (Engine::Docker(d), _) => d.start_container(part, None).await.map_err(|e| e.to_string()),
            (Engine::Kubernetes(c), _) => c.bring_back(stack_id, part).await.map_err(|e| e.to_string()),
        }
    }

    /// The resource use of the parts named, by name; `None` when the platform could not say.
    pub async fn sample(&self, stack_id: &str, parts: &[String]) -> Option<BTreeMap<String, Usage>> {
        match self {
            Engine::Docker(docker) => stats::sample_all(docker, parts).await.ok(),
            Engine::Kubernetes(cluster) => {
                let mut usage = cluster.usage(stack_id).await.ok()?;
                usage.retain(|part, _| parts.contains(part));
                Some(usage)
            }
        }
    }

    /// Why the parts' resources cannot be sampled, if they cannot (a cluster without a metrics API).
    pub async fn samples_unavailable(&self) -> Option<String> {
        match self {
            Engine::Docker(_) => None,
            Engine::Kubernetes(cluster) => cluster.metrics_unavailable().await,
        }
    }

    /// Whether the stack's ports are this machine's (Docker; a cluster on the host network, as `scripts/kube-up`
    /// makes it).
    pub fn on_this_host(&self) -> bool {
        match self {
            Engine::Docker(_) => true,
            Engine::Kubernetes(cluster) => {
                cluster.placement.network == bench_results::experiment::kubernetes::Network::Host
            }
        }
    }

    /// The Docker engine, when that is where the stack runs (resource samples come from it).
    pub fn docker(&self) -> Option<&Docker> {
        match self {
            Engine::Docker(d) => Some(d),
            Engine::Kubernetes(_) => None,
        }
    }
}
