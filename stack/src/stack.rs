//! One stack's lifecycle: plan -> free ports -> images present -> infrastructure up and ready -> database schemas
//! -> synchronizer to completion -> bank services ready; and teardown, which also runs on drop.

use std::time::{Duration, Instant};

use bollard::Docker;
use futures_util::future::try_join_all;
use tokio_util::sync::CancellationToken;

use crate::error::StackError;
use crate::options::Options;
use crate::plan::{self, Owner, Part, ReadinessError, StackPlan, WaitFor};
use crate::platform::{Platform, Provisioned};
use crate::{kube, ports, readiness, tls};
use bench_results::experiment::stack::StackSettings;

/// A running stack. Dropping it removes its containers (or namespace); [`Stack::detach`] leaves them running.
pub struct Stack {
    platform: Platform,
    owner: Owner,
    /// What the platform made before the parts started (a namespace's objects, port-forwards).
    provisioned: Provisioned,
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
        let platform = Platform::from(docker.clone());
        Self::up_until(&platform, settings, options, progress, &CancellationToken::new()).await
    }

    /// Has the platform check every object of a stack of `settings` (a server-side dry-run) without keeping
    /// any; returns their kinds and names. Only a cluster can.
    ///
    /// # Errors
    /// The first object the API server refuses, the certificates not being made, or a platform without one.
    pub async fn dry_run(platform: &Platform, settings: &StackSettings) -> Result<Vec<String>, StackError> {
        let id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"), random_token(6));
        let plan = plan::plan(settings, &id, Owner::Up, &random_token(16), &cluster_id());
        if let Some(folder) = &plan.tls {
            tls::write(folder, &plan.tls_parts())?;
        }
        let checked = platform.dry_run(&plan, &id).await;
        let _ = tls::remove(&id);
        checked
    }

    /// Like [`Stack::up`], abandoned when `interrupt` is cancelled: no new container is started after it, the
    /// wait for readiness stops, and everything started is removed before [`StackError::Interrupted`] returns.
    ///
    /// # Errors
    /// [`StackError`]; everything started is removed first.
    pub async fn up_until(
        platform: &Platform,
        settings: &StackSettings,
        options: Options,
        progress: &(dyn Fn(String) + Sync),
        interrupt: &CancellationToken,
    ) -> Result<Stack, StackError> {
        let start = Instant::now();
        let id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"), random_token(6));
        let mut plan = plan::plan(settings, &id, options.owner, &random_token(16), &cluster_id());
        // A pod cannot be shown a folder of this machine: the UI on a cluster lists no reports.
        if let Some(reports) = options.reports.as_ref().filter(|_| platform.serves_host_folders()) {
            plan.serve_reports(reports);
        }
        platform.check(&plan)?;
        if platform.on_this_host() {
            ports::check_free(&plan.ports)?;
        }
        let skipped = platform.not_started(&plan, options.services).await?;
        let mut stack = Stack {
            platform: platform.clone(),
            owner: options.owner,
            provisioned: Provisioned::default(),
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
            self.platform.start(part, &self.provisioned).await?;
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
        self.provisioned = self.platform.provision(&mut self.plan, &self.id, self.owner, progress, interrupt).await?;
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

    /// Waits until a part of this stack is ready by `wait`.
    ///
    /// # Errors
    /// [`ReadinessError`] with the part's last log lines.
    pub async fn wait_for(&self, wait: &WaitFor) -> Result<Duration, ReadinessError> {
        readiness::wait(&self.platform, &self.id, wait).await
    }

    /// Names of the running long-lived containers (the synchronizer has exited), for stats.
    pub fn running_containers(&self) -> Vec<String> {
        self.started.iter().filter(|n| **n != self.plan.synchronizer.spec.name).cloned().collect()
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// How bench reaches the stack when not on this host's 127.0.0.1: port-forwards, which end with this
    /// process (the plan's endpoints are then its own listeners), or a load balancer's address.
    pub fn reached(&self) -> Option<&kube::reach::Reached> {
        self.provisioned.reached.as_ref()
    }

    /// Removes every container of this stack (found by label, so also those whose start was cut short), or its
    /// namespace (waiting until it is gone), then its TLS folder.
    ///
    /// # Errors
    /// The platform's error; the stack stays marked for removal on drop.
    pub async fn teardown(&mut self) -> Result<Vec<String>, StackError> {
        // Port-forwards end before their namespace goes.
        self.provisioned.reached = None;
        let removed = self.platform.remove(&self.id).await?;
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
        let id = self.id.clone();
        let platform = self.platform.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    let removed = match platform.fresh().await {
                        Ok(platform) => platform.remove(&id).await.map(|_| ()),
                        Err(e) => Err(e),
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
