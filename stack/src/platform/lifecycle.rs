//! The steps of a stack's lifecycle that differ by platform, as [`crate::Stack`] takes them: check the plan,
//! find what not to start, make the stack's home (a namespace, port-forwards), start a part, remove it all.

use tokio_util::sync::CancellationToken;

use super::{Inner, Platform, Provisioned};
use crate::docker::container::{self, LABEL_STACK};
use crate::error::StackError;
use crate::images;
use crate::kube::{self, KubeError};
use crate::options::Services;
use crate::plan::{Owner, Part, StackPlan};

impl Platform {
    /// Refuses what this platform cannot run, before anything is made.
    pub(crate) fn check(&self, plan: &StackPlan) -> Result<(), StackError> {
        match &self.0 {
            Inner::Docker(_) => Ok(()),
            Inner::Kubernetes(cluster) => Ok(cluster.supports(plan)?),
        }
    }

    /// Whether a part can be shown a folder of this machine (the UI's reports): not from a pod.
    pub fn serves_host_folders(&self) -> bool {
        matches!(self.0, Inner::Docker(_))
    }

    /// Names of the bank parts not to start. On Docker their images are required or looked for; on a cluster
    /// the node's images are not bench's to list, so a missing one fails its pod and readiness says so.
    pub(crate) async fn not_started(&self, plan: &StackPlan, services: Services) -> Result<Vec<String>, StackError> {
        match &self.0 {
            Inner::Docker(docker) => {
                let infrastructure: Vec<String> = plan.infrastructure.iter().map(|p| p.spec.image.clone()).collect();
                images::require(docker, &infrastructure).await?;
                Ok(images::skipped(docker, plan, services).await?)
            }
            Inner::Kubernetes(_) => Ok(by_choice(plan, services)),
        }
    }

    /// Makes what the parts need before they start: on Kubernetes the namespace with its passwords and
    /// Services, and the port-forwards (or load balancer addresses) bench reaches them by, readdressing `plan`.
    pub(crate) async fn provision(
        &self,
        plan: &mut StackPlan,
        stack_id: &str,
        owner: Owner,
        progress: &(dyn Fn(String) + Sync),
        interrupt: &CancellationToken,
    ) -> Result<Provisioned, StackError> {
        let Inner::Kubernetes(cluster) = &self.0 else { return Ok(Provisioned::default()) };
        progress(format!("creating namespace {} on {}", kube::namespace(stack_id), cluster.server()));
        let manifests = Some(cluster.create_stack(plan, stack_id, owner).await?);
        let mut reached = tokio::select! {
            reached = cluster.reach(plan, stack_id, progress) => reached?,
            () = interrupt.cancelled() => return Err(StackError::Interrupted),
        };
        if let Some(reached) = &mut reached {
            progress(format!("reaching the stack through {} port-forwards of the API server", reached.forwarded.len()));
            reached.readdress(plan);
        }
        Ok(Provisioned { manifests, reached })
    }

    /// Starts one part: its container, or its objects in the stack's namespace.
    pub(crate) async fn start(&self, part: &Part, provisioned: &Provisioned) -> Result<(), StackError> {
        match (&self.0, &provisioned.manifests) {
            (Inner::Docker(docker), _) => Ok(container::start(docker, &part.spec).await?),
            (Inner::Kubernetes(cluster), Some(manifests)) => {
                let objects = manifests.parts.get(&part.spec.name).map_or(&[][..], Vec::as_slice);
                Ok(cluster.create(objects, false).await?)
            }
            (Inner::Kubernetes(_), None) => {
                Err(KubeError::Unsupported("the stack's namespace was not created".into()).into())
            }
        }
    }

    /// Removes every container of the stack (found by label, so also those whose start was cut short), or its
    /// namespace, waiting until it is gone; what was removed.
    pub(crate) async fn remove(&self, stack_id: &str) -> Result<Vec<String>, StackError> {
        match &self.0 {
            Inner::Docker(docker) => {
                Ok(container::remove_labelled(docker, &format!("{LABEL_STACK}={stack_id}")).await?)
            }
            Inner::Kubernetes(cluster) => {
                let namespace = kube::namespace(stack_id);
                cluster.delete_namespace(&namespace).await?;
                Ok(vec![namespace])
            }
        }
    }

    /// The same platform through a new client, for a runtime of its own (a stack dropped without teardown).
    pub(crate) async fn fresh(&self) -> Result<Platform, StackError> {
        Ok(match &self.0 {
            Inner::Docker(_) => Platform::from(crate::docker::connect().await?),
            Inner::Kubernetes(cluster) => Platform::from(cluster.fresh()?),
        })
    }

    /// Has the platform check every object of `plan` (a server-side dry-run) without keeping any; their kinds
    /// and names. Only a cluster can.
    pub(crate) async fn dry_run(&self, plan: &StackPlan, stack_id: &str) -> Result<Vec<String>, StackError> {
        match &self.0 {
            Inner::Docker(_) => Err(KubeError::Unsupported("a dry-run needs a cluster".into()).into()),
            Inner::Kubernetes(cluster) => Ok(cluster.dry_run(plan, stack_id).await?),
        }
    }
}

/// On a cluster: the bank parts not to start, by the choice alone.
fn by_choice(plan: &StackPlan, services: Services) -> Vec<String> {
    let names = |parts: &[Part]| parts.iter().map(|p| p.spec.name.clone()).collect::<Vec<_>>();
    match services {
        Services::None => [names(std::slice::from_ref(&plan.synchronizer)), names(&plan.services)].concat(),
        Services::SynchronizerOnly => names(&plan.services),
        Services::Require | Services::IfPresent => Vec::new(),
    }
}
