//! The pods of a stack's parts, found by their part label: ready, failed, exited, their logs; and faults,
//! which act on the workload (scaled to 0 and back) and on the pod (deleted at once for a kill).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams};
use serde_json::json;

use super::{namespace, Cluster, KubeError, LABEL_PART};
use bench_results::ending::Ending;

/// How long a fault waits for its pod to be gone (its grace is 10 s).
const GONE_TIMEOUT: Duration = Duration::from_secs(30);

/// Waiting reasons that will not go away by themselves. Not `CreateContainerConfigError`: the kubelet reports it
/// too while its cache has not yet seen a ConfigMap or Secret made a moment ago ("failed to sync configmap
/// cache"), and retries; a lasting one shows in the readiness timeout's message.
const STUCK: [&str; 5] =
    ["ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CrashLoopBackOff"];

/// What to do about `ErrImageNeverPull`: pods never pull, so the node must hold the images already.
const NEVER_PULL: &str = "; the node does not hold this image: load the stack's images onto it with `bench images \
    --load-into-containerd <its containerd socket>` (scripts/kube-up does this for its cluster, whose socket is \
    $KGB_CACHE/kube/run/containerd/containerd.sock), or push them with `bench images --push REGISTRY` and name the \
    registry in the experiment's [kubernetes] registry";

/// How a part's pod is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// No pod yet, or one still starting (why, when the pod says: not scheduled, its image being pulled).
    Starting(Option<String>),
    /// Its Ready condition is true.
    Ready,
    /// Running but not (or no longer) Ready.
    NotReady,
    /// Ran to completion with this exit code (a Job's pod).
    Exited(i32),
    /// It crashed or cannot start: why, and the exit code when it had one.
    Failed { why: String, code: Option<i32> },
}

impl Cluster {
    pub(super) fn pods(&self, stack_id: &str) -> Api<Pod> {
        Api::namespaced(self.client(), &namespace(stack_id))
    }

    /// The newest pod of `part` that is not being deleted.
    pub(super) async fn pod_of(&self, stack_id: &str, part: &str) -> Result<Option<Pod>, KubeError> {
        let list = self
            .pods(stack_id)
            .list(&ListParams::default().labels(&format!("{LABEL_PART}={part}")))
            .await
            .map_err(KubeError::api("listing the pods of", part))?;
        let mut pods: Vec<Pod> = list.items.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
        pods.sort_by(|a, b| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp));
        Ok(pods.pop())
    }

    /// The state of `part`'s pod.
    ///
    /// # Errors
    /// The API's.
    pub async fn pod_state(&self, stack_id: &str, part: &str) -> Result<PodState, KubeError> {
        Ok(self.pod_of(stack_id, part).await?.map_or(PodState::Starting(None), |p| state(&p)))
    }

    /// How `part`'s container ended, when it stopped, cannot start or was restarted; `None` while it runs
    /// untroubled, is starting, or has no pod.
    ///
    /// # Errors
    /// The API's.
    pub async fn ending(&self, stack_id: &str, part: &str) -> Result<Option<Ending>, KubeError> {
        Ok(self.pod_of(stack_id, part).await?.and_then(|p| ending(&p)))
    }

    /// The last `lines` lines of `part`'s container (of its previous run when it crashed), for error messages.
    pub async fn logs_tail(&self, stack_id: &str, part: &str, lines: usize) -> String {
        let pod = match self.pod_of(stack_id, part).await {
            Ok(Some(pod)) => pod,
            Ok(None) => return format!("(no pod of {part})"),
            Err(e) => return format!("(logs of {part} unavailable: {e})"),
        };
        let restarted = container(&pod)
            .is_some_and(|c| c.restart_count > 0 && c.state.as_ref().and_then(|s| s.running.as_ref()).is_none());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let params = LogParams { tail_lines: Some(lines as i64), previous: restarted, ..Default::default() };
        match self.pods(stack_id).logs(&name, &params).await {
            Ok(text) => text,
            Err(e) => format!("(logs of {part} unavailable: {})", super::reason(&e)),
        }
    }

    /// Image reference (as the pod asked for it) -> image id (as the node reports it) for the stack's pods.
    pub async fn image_ids(&self, stack_id: &str) -> BTreeMap<String, String> {
        let Ok(list) = self.pods(stack_id).list(&ListParams::default()).await else { return BTreeMap::new() };
        list.items.iter().filter_map(image_id).collect()
    }

    /// Takes `part` away for a fault and returns once its pod is gone: with `kill` the pod is deleted with a
    /// one-second grace (the kubelet's SIGTERM, then SIGKILL: a pod cannot be killed outright) and its workload
    /// scaled to 0 so nothing replaces it; without, the workload is scaled to 0 and the pod stops within its grace.
    ///
    /// # Errors
    /// The API's, or the pod still there after [`GONE_TIMEOUT`].
    pub async fn take_away(&self, stack_id: &str, part: &str, kill: bool) -> Result<(), KubeError> {
        // Found before scaling: the controller's own deletion would hide it from `pod_of`.
        let pod = self.pod_of(stack_id, part).await?;
        let name = pod.and_then(|p| p.metadata.name);
        if let (true, Some(name)) = (kill, &name) {
            // Grace 1, not 0: 0 removes the pod object before its container is dead, and the replacement
            // could start while the old broker still holds its port and its log folder.
            let params = DeleteParams { grace_period_seconds: Some(1), ..Default::default() };
            match self.pods(stack_id).delete(name, &params).await {
                Ok(_) => {}
                Err(e) if super::is_not_found(&e) => {}
                Err(e) => return Err(KubeError::api("deleting pod", name)(e)),
            }
        }
        self.scale(stack_id, part, 0).await?;
        match name {
            Some(name) => self.until_gone(stack_id, &name).await,
            None => Ok(()),
        }
    }

    /// Polls until pod `name` is gone.
    async fn until_gone(&self, stack_id: &str, name: &str) -> Result<(), KubeError> {
        let start = std::time::Instant::now();
        while self.pods(stack_id).get_opt(name).await.map_err(KubeError::api("reading pod", name))?.is_some() {
            if start.elapsed() >= GONE_TIMEOUT {
                return Err(KubeError::PodStillThere { pod: name.to_string(), waited: start.elapsed() });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Brings `part` back after [`Cluster::take_away`].
    ///
    /// # Errors
    /// The API's.
    pub async fn bring_back(&self, stack_id: &str, part: &str) -> Result<(), KubeError> {
        self.scale(stack_id, part, 1).await
    }

    async fn scale(&self, stack_id: &str, part: &str, replicas: i32) -> Result<(), KubeError> {
        let ns = namespace(stack_id);
        let patch = Patch::Merge(json!({ "spec": { "replicas": replicas } }));
        let params = PatchParams::default();
        let sets: Api<StatefulSet> = Api::namespaced(self.client(), &ns);
        match sets.patch_scale(part, &params, &patch).await {
            Ok(_) => return Ok(()),
            Err(e) if !super::is_not_found(&e) => return Err(KubeError::api("scaling", part)(e)),
            Err(_) => {}
        }
        let deployments: Api<Deployment> = Api::namespaced(self.client(), &ns);
        deployments.patch_scale(part, &params, &patch).await.map(|_| ()).map_err(KubeError::api("scaling", part))
    }

    /// Polls `part`'s pod until it has exited and returns its exit code.
    ///
    /// # Errors
    /// A message when it cannot run at all.
    pub async fn wait_exit(&self, stack_id: &str, part: &str) -> Result<i32, String> {
        loop {
            // An API error says nothing of the pod: polled again, within the caller's timeout.
            match self.pod_state(stack_id, part).await {
                Ok(PodState::Exited(code)) => return Ok(code),
                Ok(PodState::Failed { code: Some(code), .. }) => return Ok(code),
                Ok(PodState::Failed { why, code: None }) => return Err(why),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
}

/// Why the scheduler has not placed the pod, when it has said so.
fn unscheduled(pod: &Pod) -> Option<String> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    let c = conditions.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
    Some(format!(
        "not scheduled: {} {}",
        c.reason.as_deref().unwrap_or_default(),
        c.message.as_deref().unwrap_or_default()
    ))
}

/// The pod's image as its spec names it, with the id its node reports. Not the status's image name: a node
/// with one image under two names (imported, and pulled from a registry) reports either.
fn image_id(pod: &Pod) -> Option<(String, String)> {
    let asked = pod.spec.as_ref()?.containers.first()?.image.clone()?;
    Some((asked, container(pod)?.image_id.clone())).filter(|(_, id)| !id.is_empty())
}

fn container(pod: &Pod) -> Option<&ContainerStatus> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()
}

/// How a pod's container ended, by its status: a terminated state, now or before its last restart (its reason
/// `OOMKilled` when the memory cgroup killed it), or a failure to start; `None` for a pod that is fine or
/// starting.
pub fn ending(pod: &Pod) -> Option<Ending> {
    let (code, why) = match state(pod) {
        PodState::Exited(code) => (Some(code), String::new()),
        PodState::Failed { why, code } => (code, why),
        PodState::Starting(_) | PodState::Ready | PodState::NotReady => return None,
    };
    let Some(c) = container(pod) else { return Some(Ending { code: code.map(i64::from), why, ..Ending::default() }) };
    let running = c.state.as_ref().and_then(|s| s.running.as_ref()).is_some();
    // The run that ended: the current one when it is over, else the one before the restart.
    let terminated = c
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| c.last_state.as_ref().and_then(|s| s.terminated.as_ref()));
    let oom_killed = terminated.is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"));
    // The exit code says what `state` put in words; a waiting reason (CrashLoopBackOff: ...) says more.
    let why = if terminated.is_some() && c.state.as_ref().and_then(|s| s.waiting.as_ref()).is_none() {
        String::new()
    } else {
        why
    };
    Some(Ending {
        code: code.map(i64::from),
        oom_killed,
        restarts: u32::try_from(c.restart_count).unwrap_or(0),
        running,
        why,
    })
}

/// What a pod's status says about it.
pub fn state(pod: &Pod) -> PodState {
    let Some(c) = container(pod) else { return PodState::Starting(unscheduled(pod)) };
    let current = c.state.as_ref();
    if let Some(done) = current.and_then(|s| s.terminated.as_ref()) {
        return match pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) {
            Some("Never") => PodState::Exited(done.exit_code),
            _ => PodState::Failed { why: format!("exited with code {}", done.exit_code), code: Some(done.exit_code) },
        };
    }
    if let Some(waiting) = current.and_then(|s| s.waiting.as_ref()) {
        let reason = waiting.reason.clone().unwrap_or_default();
        if STUCK.contains(&reason.as_str()) {
            let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()).map(|t| t.exit_code);
            let message = waiting.message.clone().unwrap_or_default();
            let hint = if reason == "ErrImageNeverPull" { NEVER_PULL } else { "" };
            return PodState::Failed { why: format!("{reason}: {message}{hint}"), code: last };
        }
        let message = waiting.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        return PodState::Starting(Some(format!("{reason}{message}")));
    }
    // A container that crashed once is a failure during bring-up, as on Docker (where nothing restarts it).
    if let Some(crash) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
        return PodState::Failed {
            why: format!("restarted after exiting with code {}", crash.exit_code),
            code: Some(crash.exit_code),
        };
    }
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    if ready {
        PodState::Ready
    } else {
        PodState::NotReady
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value, restart: &str) -> Pod {
        serde_json::from_value(json!({ "metadata": { "name": "p" }, "spec": { "restartPolicy": restart, "containers": [] }, "status": status })).unwrap()
    }

    #[test]
    fn an_image_is_named_as_the_pod_asked_for_it_with_the_nodes_id() {
        let pod = |id: &str| -> Pod {
            serde_json::from_value(json!({
                "spec": { "containers": [{ "name": "c", "image": "kgb/kafka:4.1.1" }] },
                "status": { "containerStatuses": [{ "name": "c", "image": "127.0.0.1:5000/kgb/kafka:4.1.1", "imageID": id,
                    "ready": true, "restartCount": 0 }] },
            }))
            .unwrap()
        };
        assert_eq!(
            image_id(&pod("127.0.0.1:5000/kgb/kafka@sha256:4c")),
            Some(("kgb/kafka:4.1.1".into(), "127.0.0.1:5000/kgb/kafka@sha256:4c".into()))
        );
        assert_eq!(image_id(&pod("")), None, "not pulled yet");
    }

    #[test]
    fn pod_states_follow_their_status() {
        assert_eq!(state(&pod(json!({}), "Always")), PodState::Starting(None));
        let unschedulable = json!({ "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available: 1 Insufficient cpu." }] });
        assert_eq!(
            state(&pod(unschedulable, "Always")),
            PodState::Starting(Some(
                "not scheduled: Unschedulable 0/1 nodes are available: 1 Insufficient cpu.".into()
            ))
        );
        let waiting = |reason: &str| {
            json!({ "containerStatuses": [{ "name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": { "waiting": { "reason": reason, "message": "m" } } }] })
        };
        assert_eq!(
            state(&pod(waiting("ContainerCreating"), "Always")),
            PodState::Starting(Some("ContainerCreating: m".into()))
        );
        assert_eq!(
            state(&pod(waiting("CreateContainerConfigError"), "Always")),
            PodState::Starting(Some("CreateContainerConfigError: m".into())),
            "the kubelet retries it"
        );
        let PodState::Failed { why, code: None } = state(&pod(waiting("ErrImageNeverPull"), "Always")) else {
            panic!("a missing image is a failure")
        };
        assert!(
            why.starts_with("ErrImageNeverPull: m; ") && why.contains("bench images --load-into-containerd"),
            "says what to run: {why}"
        );
        assert_eq!(
            state(&pod(waiting("ErrImagePull"), "Always")),
            PodState::Failed { why: "ErrImagePull: m".into(), code: None }
        );
        let running = |ready: &str, last: serde_json::Value| {
            json!({
            "conditions": [{ "type": "Ready", "status": ready }],
            "containerStatuses": [{ "name": "c", "image": "i", "imageID": "", "ready": ready == "True", "restartCount": 0,
                "state": { "running": {} }, "lastState": last }] })
        };
        assert_eq!(state(&pod(running("True", json!({})), "Always")), PodState::Ready);
        assert_eq!(state(&pod(running("False", json!({})), "Always")), PodState::NotReady);
        let crashed = running("True", json!({ "terminated": { "exitCode": 137 } }));
        assert!(matches!(state(&pod(crashed, "Always")), PodState::Failed { code: Some(137), .. }));
        let done = json!({ "containerStatuses": [{ "name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": { "terminated": { "exitCode": 3 } } }] });
        assert_eq!(state(&pod(done.clone(), "Never")), PodState::Exited(3));
        assert!(matches!(state(&pod(done, "Always")), PodState::Failed { code: Some(3), .. }));
    }

    /// The graphql endpoint's pod as the API server reported it after the memory cgroup killed it at its limit:
    /// restarted, running again, the kill in `lastState`; and the same pod backing off after a second kill.
    fn oom_killed_endpoint(state: serde_json::Value, restarts: i32) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "kgb-graphql-endpoint-7c9d8f6b5-x2k4q", "namespace": "kgb-3f2a",
                "labels": { "kgb.part": "kgb-graphql-endpoint" }, "creationTimestamp": "2026-12-06T19:02:11Z" },
            "spec": { "restartPolicy": "Always", "containers": [{ "name": "kgb-graphql-endpoint",
                "image": "kgb/bank-graphql-endpoint:dev", "resources": { "limits": { "memory": "400Mi" } } }] },
            "status": {
                "phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "qosClass": "Burstable",
                "conditions": [{ "type": "Ready", "status": "True", "lastTransitionTime": "2026-12-06T19:09:40Z" }],
                "containerStatuses": [{
                    "name": "kgb-graphql-endpoint", "image": "docker.io/kgb/bank-graphql-endpoint:dev",
                    "imageID": "sha256:9b1c", "containerID": "containerd://51e0", "ready": true, "started": true,
                    "restartCount": restarts,
                    "state": state,
                    "lastState": { "terminated": { "exitCode": 137, "reason": "OOMKilled",
                        "startedAt": "2026-12-06T19:02:13Z", "finishedAt": "2026-12-06T19:09:31Z", "containerID": "containerd://3aa7" } }
                }]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_container_killed_for_memory_ends_oom_killed_with_its_restarts() {
        let running = oom_killed_endpoint(json!({ "running": { "startedAt": "2026-12-06T19:09:32Z" } }), 1);
        assert_eq!(
            ending(&running),
            Some(Ending { code: Some(137), oom_killed: true, restarts: 1, running: true, why: String::new() })
        );
        let backing_off = oom_killed_endpoint(
            json!({ "waiting": { "reason": "CrashLoopBackOff",
            "message": "back-off 10s restarting failed container=kgb-graphql-endpoint" } }),
            2,
        );
        let ended = ending(&backing_off).unwrap();
        assert_eq!((ended.code, ended.oom_killed, ended.restarts, ended.running), (Some(137), true, 2, false));
        assert!(
            ended.to_string().starts_with(
                "was killed for exceeding its memory limit (OOMKilled), exit code 137, CrashLoopBackOff: back-off"
            ),
            "{ended}"
        );
        let killed_now = oom_killed_endpoint(json!({ "terminated": { "exitCode": 137, "reason": "OOMKilled" } }), 0);
        assert_eq!(ending(&killed_now).map(|e| (e.oom_killed, e.running)), Some((true, false)));
        // A crash that was not the memory cgroup's.
        let mut crashed = oom_killed_endpoint(json!({ "running": {} }), 1);
        let status = crashed.status.as_mut().unwrap().container_statuses.as_mut().unwrap();
        status[0].last_state =
            serde_json::from_value(json!({ "terminated": { "exitCode": 1, "reason": "Error" } })).unwrap();
        assert_eq!(ending(&crashed).map(|e| (e.code, e.oom_killed)), Some((Some(1), false)));
        let fine = pod(
            json!({ "conditions": [{ "type": "Ready", "status": "True" }], "containerStatuses": [{ "name": "c", "image": "i",
            "imageID": "", "ready": true, "restartCount": 0, "state": { "running": {} } }] }),
            "Always",
        );
        assert_eq!(ending(&fine), None);
    }
}
