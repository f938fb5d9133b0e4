//! The bank's stack as containers on one Docker engine: what `bench` and the bank's own tests both bring up.
//!
//! Data flows down these modules:
//! - [`settings`]: the `[stack]` section of an experiment file, typed, with the 2019 profile as defaults.
//! - [`plan`]: those settings become the stack's containers (images, environment, limits, readiness checks).
//! - [`ports`]: every planned port is checked free before anything starts.
//! - [`images`]: the images the plan names, built offline on this machine and labelled with their input hash.
//! - [`names`]: the one rule for names that become file or folder names.
//! - [`tls`]: with `[stack] tls = true`, a CA per stack and a certificate per part, in a folder of the stack.
//! - [`docker`]: the engine through bollard: labelled containers, logs and resource samples.
//! - [`kube`]: or a Kubernetes cluster through kube-rs: a namespace per stack, the parts as its objects.
//! - [`ending`]: how a part ended (exit code, killed for memory, restarts), the same on both.
//! - [`engine`]: either of the two, as readiness, bring-up, teardown and faults use them.
//! - [`readiness`]: a part is ready when it answers for real.
//! - [`Stack`] (this file): one lifecycle, plan -> free ports -> images present -> infrastructure up and ready ->
//!   database schemas -> synchronizer to completion -> bank services ready; and teardown, which also runs on drop.
//! - `testing` (feature `testing`): real stacks for integration tests, one at a time per test binary.
//!
//! Nothing here knows about load, results or reports: those are the harness's.

pub mod docker;
pub mod engine;
pub mod images;
pub mod kube;
pub mod plan;
pub mod ports;
pub mod readiness;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

/// The label every container and image made by bench carries, so leftovers can always be found.
pub const LABEL_BENCH: &str = "kgb.bench";

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::Docker;
use futures_util::future::try_join_all;
use tokio_util::sync::CancellationToken;

pub use engine::Engine;
pub use plan::{Endpoints, Owner, Part, Role, StackPlan};
pub use ports::PortTaken;

use crate::docker::container::{self, LABEL_STACK};
use crate::docker::DockerError;
use crate::kube::manifests::Manifests;
use crate::kube::KubeError;
use crate::readiness::{ReadinessError, WaitFor};
use bench_results::experiment::stack::StackSettings;

/// Why a stack did not come up. Whatever had started is removed before this is returned.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    PortTaken(#[from] PortTaken),
    #[error(transparent)]
    NotReady(#[from] ReadinessError),
    #[error("cannot create the database tables")]
    Schema(#[from] topology::db::DbError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Kube(#[from] KubeError),
    #[error("bring-up interrupted")]
    Interrupted,
}

/// Which bank services to start after the infrastructure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Services {
    /// All of them; a missing image is an error (a run needs them all).
    Require,
    /// Those whose image exists (`bench up` while the bank is being built).
    IfPresent,
    /// Only the synchronizer, so tests can run a service in-process against a ready cluster.
    SynchronizerOnly,
    /// Brokers, registry and databases only.
    None,
}

/// How to bring a stack up.
#[derive(Debug, Clone)]
pub struct Options {
    pub owner: Owner,
    pub services: Services,
    /// A folder of reports for the frontend to serve read-only (see [`StackPlan::serve_reports`]).
    pub reports: Option<PathBuf>,
}

/// A running stack. Dropping it removes its containers (or namespace); [`Stack::detach`] leaves them running.
pub struct Stack {
    engine: Engine,
    owner: Owner,
    /// Its objects, on Kubernetes.
    manifests: Option<Manifests>,
    /// How bench reaches its parts, when not on this host's 127.0.0.1 (port-forwards, a load balancer).
    reached: Option<kube::reach::Reached>,
    /// The value of the `kgb.stack` label of its containers.
    pub id: String,
    pub plan: StackPlan,
    /// Names of the containers started, in order.
    pub started: Vec<String>,
    /// Bank services left out because their image is missing.
    pub skipped: Vec<String>,
    /// How long bring-up took.
    pub ready_after: Duration,
    active: bool,
}

fn random_token(len: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..len].to_string()
}

/// A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 characters). Like Kafka's own
/// `random-uuid`, never one starting with `-`: the storage tool would read it as an option.
fn cluster_id() -> String {
    use base64::Engine;
    loop {
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
        if !id.starts_with('-') {
            return id;
        }
    }
}

impl Stack {
    /// Brings a stack up for `settings`; `progress` receives one-line updates.
    ///
    /// # Errors
    /// [`StackError`]; everything started is removed first.
    pub async fn up(
        docker: &Docker,
        settings: &StackSettings,
        options: Options,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<Stack, StackError> {
        Self::up_until(&Engine::Docker(docker.clone()), settings, options, progress, &CancellationToken::new()).await
    }

    /// Has `cluster` check every object of a stack of `settings` (a server-side dry-run) without keeping any;
    /// returns their kinds and names.
    ///
    /// # Errors
    /// The first object the API server refuses, or the certificates not being made.
    pub async fn dry_run(cluster: &kube::Cluster, settings: &StackSettings) -> Result<Vec<String>, StackError> {
        let id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"), random_token(6));
        let plan = plan::plan(settings, &id, Owner::Up, &random_token(16), &cluster_id());
        if let Some(folder) = &plan.tls {
            tls::write(folder, &plan.tls_parts())?;
        }
        let checked = cluster.dry_run(&plan, &id).await;
        let _ = tls::remove(&id);
        Ok(checked?)
    }

    /// Like [`Stack::up`], abandoned when `interrupt` is cancelled: no new container is started after it, the
    /// wait for readiness stops, and everything started is removed before [`StackError::Interrupted`] returns.
    ///
    /// # Errors
    /// [`StackError`]; everything started is removed first.
    pub async fn up_until(
        engine: &Engine,
        settings: &StackSettings,
        options: Options,
        progress: &(dyn Fn(String) + Sync),
        interrupt: &CancellationToken,
    ) -> Result<Stack, StackError> {
        let start = Instant::now();
        let id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"), random_token(6));
        let mut plan = plan::plan(settings, &id, options.owner, &random_token(16), &cluster_id());
        if let Some(reports) = &options.reports {
            plan.serve_reports(reports);
        }
        if let Engine::Kubernetes(cluster) = engine {
            cluster.supports(&plan)?;
        }
        if engine.on_this_host() {
            ports::check_free(&plan.ports)?;
        }
        let skipped = match engine {
            Engine::Docker(docker) => {
                let infra_images: Vec<String> = plan.infrastructure.iter().map(|p| p.spec.image.clone()).collect();
                images::require(docker, &infra_images).await?;
                Self::skipped(docker, &plan, options.services).await?
            }
            // The node's images are not bench's to list: a missing one fails its pod, and readiness says so.
            Engine::Kubernetes(_) => Self::not_started(&plan, options.services),
        };
        let mut stack = Stack {
            engine: engine.clone(),
            owner: options.owner,
            manifests: None,
            reached: None,
            id,
            plan,
            started: Vec::new(),
            skipped,
            ready_after: Duration::ZERO,
            active: true,
        };
        match stack.bring_up(progress, interrupt).await {
            Ok(()) => {
                stack.ready_after = start.elapsed();
                Ok(stack)
            }
            Err(e) => {
                progress("removing what was started".to_string());
                // The bring-up error matters more than a failure to clean up; Drop retries the latter.
                let _ = stack.teardown().await;
                Err(e)
            }
        }
    }

    async fn start_and_wait(
        &mut self,
        parts: &[Part],
        progress: &(dyn Fn(String) + Sync),
        interrupt: &CancellationToken,
    ) -> Result<(), StackError> {
        for part in parts {
            // Checked between starts, not raced with them: a start cut in half could leave a container the
            // teardown's listing has not seen yet.
            if interrupt.is_cancelled() {
                return Err(StackError::Interrupted);
            }
            self.start(part).await?;
            self.started.push(part.spec.name.clone());
        }
        let names: Vec<&str> = parts.iter().map(|p| p.spec.name.as_str()).collect();
        progress(format!("waiting for {}", names.join(", ")));
        tokio::select! {
            ready = try_join_all(parts.iter().map(|p| self.wait_for(&p.wait))) => { ready?; }
            () = interrupt.cancelled() => return Err(StackError::Interrupted),
        }
        Ok(())
    }

    async fn bring_up(
        &mut self,
        progress: &(dyn Fn(String) + Sync),
        interrupt: &CancellationToken,
    ) -> Result<(), StackError> {
        if let Some(folder) = &self.plan.tls {
            progress("making the stack's certificates".to_string());
            tls::write(folder, &self.plan.tls_parts())?;
        }
        if let Engine::Kubernetes(cluster) = &self.engine {
            progress(format!("creating namespace {} on {}", kube::namespace(&self.id), cluster.server()));
            self.manifests = Some(cluster.create_stack(&self.plan, &self.id, self.owner).await?);
            let reached = tokio::select! {
                reached = cluster.reach(&self.plan, &self.id, progress) => reached?,
                () = interrupt.cancelled() => return Err(StackError::Interrupted),
            };
            if let Some(mut reached) = reached {
                progress(format!(
                    "reaching the stack through {} port-forwards of the API server",
                    reached.forwarded.len()
                ));
                reached.readdress(&mut self.plan);
                self.reached = Some(reached);
            }
        }
        let infrastructure = self.plan.infrastructure.clone();
        self.start_and_wait(&infrastructure, progress, interrupt).await?;
        progress("creating the database tables".to_string());
        // The services apply the same schemas at start; doing it here makes the databases complete for tests
        // and for stacks whose services are not started.
        let (e, tls) = (&self.plan.endpoints, self.plan.endpoints.tls.as_ref());
        topology::db::connect(&e.db_ch, 1, topology::sql::DB_CH_SCHEMA, "db-ch", tls).await?;
        topology::db::connect(&e.db_ge, 1, topology::sql::DB_GE_SCHEMA, "db-ge", tls).await?;
        if self.skipped.contains(&self.plan.synchronizer.spec.name) {
            return Ok(());
        }
        let synchronizer = [self.plan.synchronizer.clone()];
        self.start_and_wait(&synchronizer, progress, interrupt).await?;
        let services: Vec<Part> =
            self.plan.services.iter().filter(|p| !self.skipped.contains(&p.spec.name)).cloned().collect();
        self.start_and_wait(&services, progress, interrupt).await
    }

    /// Starts one part: its container, or its objects in the stack's namespace.
    async fn start(&self, part: &Part) -> Result<(), StackError> {
        match (&self.engine, &self.manifests) {
            (Engine::Docker(docker), _) => Ok(container::start(docker, &part.spec).await?),
            (Engine::Kubernetes(cluster), Some(manifests)) => {
                let objects = manifests.parts.get(&part.spec.name).map_or(&[][..], Vec::as_slice);
                Ok(cluster.create(objects, false).await?)
            }
            (Engine::Kubernetes(_), None) => {
                Err(KubeError::Unsupported("the stack's namespace was not created".into()).into())
            }
        }
    }

    /// Waits until a part of this stack is ready by `wait`.
    ///
    /// # Errors
    /// [`ReadinessError`] with the part's last log lines.
    pub async fn wait_for(&self, wait: &WaitFor) -> Result<Duration, ReadinessError> {
        readiness::wait(&self.engine, &self.id, wait).await
    }

    /// On Kubernetes: the bank parts not to start, by name only (what the node has is the kubelet's to say).
    fn not_started(plan: &StackPlan, services: Services) -> Vec<String> {
        let names = |parts: &[Part]| parts.iter().map(|p| p.spec.name.clone()).collect::<Vec<_>>();
        match services {
            Services::None => [names(std::slice::from_ref(&plan.synchronizer)), names(&plan.services)].concat(),
            Services::SynchronizerOnly => names(&plan.services),
            Services::Require | Services::IfPresent => Vec::new(),
        }
    }

    /// Names of the bank containers not to start (the plan keeps them, so tests can start them later).
    async fn skipped(docker: &Docker, plan: &StackPlan, services: Services) -> Result<Vec<String>, StackError> {
        let names = |parts: &[Part]| parts.iter().map(|p| p.spec.name.clone()).collect::<Vec<_>>();
        let synchronizer = std::slice::from_ref(&plan.synchronizer);
        Ok(match services {
            Services::None => [names(synchronizer), names(&plan.services)].concat(),
            Services::SynchronizerOnly => {
                images::require(docker, std::slice::from_ref(&plan.synchronizer.spec.image)).await?;
                names(&plan.services)
            }
            Services::Require => {
                let all: Vec<String> =
                    synchronizer.iter().chain(&plan.services).map(|p| p.spec.image.clone()).collect();
                images::require(docker, &all).await?;
                Vec::new()
            }
            Services::IfPresent => {
                if !images::exists(docker, &plan.synchronizer.spec.image).await? {
                    [names(synchronizer), names(&plan.services)].concat()
                } else {
                    let mut missing = Vec::new();
                    for part in &plan.services {
                        if !images::exists(docker, &part.spec.image).await? {
                            missing.push(part.spec.name.clone());
                        }
                    }
                    missing
                }
            }
        })
    }

    /// Names of the running long-lived containers (the synchronizer has exited), for stats.
    pub fn running_containers(&self) -> Vec<String> {
        self.started.iter().filter(|n| **n != self.plan.synchronizer.spec.name).cloned().collect()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How bench reaches the stack when not on this host's 127.0.0.1: port-forwards, which end with this
    /// process (the plan's endpoints are then its own listeners), or a load balancer's address.
    pub fn reached(&self) -> Option<&kube::reach::Reached> {
        self.reached.as_ref()
    }

    /// Removes every container of this stack (found by label, so also those whose start was cut short), or its
    /// namespace (waiting until it is gone), then its TLS folder.
    ///
    /// # Errors
    /// The platform's error; the stack stays marked for removal on drop.
    pub async fn teardown(&mut self) -> Result<Vec<String>, StackError> {
        let removed = match &self.engine {
            Engine::Docker(docker) => container::remove_labelled(docker, &format!("{LABEL_STACK}={}", self.id)).await?,
            Engine::Kubernetes(cluster) => {
                self.reached = None;
                let namespace = kube::namespace(&self.id);
                cluster.delete_namespace(&namespace).await?;
                vec![namespace]
            }
        };
        if let Err(e) = tls::remove(&self.id) {
            tracing::warn!("removing the TLS folder of stack {}: {e}", self.id);
        }
        self.active = false;
        Ok(removed)
    }

    /// Leaves the containers running (for `bench up`); `bench down` removes them later.
    pub fn detach(mut self) {
        self.active = false;
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        // Drop cannot await: remove the containers from a helper thread with its own runtime, and wait for it,
        // so an early return or a panic still leaves nothing running.
        // A fresh client: the stack's own is bound to the runtime that is being left.
        let label = format!("{LABEL_STACK}={}", self.id);
        let id = self.id.clone();
        let engine = self.engine.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    let removed = match engine {
                        Engine::Docker(_) => match crate::docker::connect().await {
                            Ok(docker) => {
                                container::remove_labelled(&docker, &label).await.map(|_| ()).map_err(StackError::from)
                            }
                            Err(e) => Err(e.into()),
                        },
                        Engine::Kubernetes(cluster) => match cluster.fresh() {
                            Ok(cluster) => {
                                cluster.delete_namespace(&kube::namespace(&id)).await.map_err(StackError::from)
                            }
                            Err(e) => Err(e.into()),
                        },
                    };
                    if let Err(e) = removed {
                        tracing::warn!("removing stack {id} on drop: {e}");
                    }
                });
            }
            let _ = tls::remove(&id);
        });
        let _ = cleanup.join();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_ids_are_22_url_safe_characters_never_led_by_a_dash() {
        let ids: Vec<String> = (0..2000).map(|_| super::cluster_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 22);
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{id}");
            assert!(!id.starts_with('-'), "{id}");
        }
        assert_ne!(ids[0], ids[1]);
    }
}
