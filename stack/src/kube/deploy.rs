//! A stack deployed: its namespace made with the passwords and Services before any part starts, or only
//! checked (a server-side dry-run of every object).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::manifests::{manifests, Manifests, Target};
use super::{host_data, namespace, Cluster, KubeError};
use crate::plan::{Owner, StackPlan};
use bench_results::experiment::kubernetes::{Network, Reach};

impl Cluster {
    /// Refuses what a run cannot do on this cluster yet, before anything is made.
    ///
    /// # Errors
    /// [`KubeError::Unsupported`] naming the setting.
    pub fn supports(&self, plan: &StackPlan) -> Result<(), KubeError> {
        if plan.services.iter().any(|p| p.spec.read_only.iter().any(|f| f.container == crate::plan::FRONTEND_REPORTS)) {
            return Err(KubeError::Unsupported("a reports folder cannot be served from a pod".to_string()));
        }
        let at_load_balancer = self.placement.network == Network::Pod && self.placement.reach == Reach::Service;
        if at_load_balancer && plan.endpoints.graphql_ws.starts_with("wss:") {
            return Err(KubeError::Unsupported(
                "[stack] tls_endpoint with [kubernetes] reach = \"service\": the endpoint's certificate cannot name an \
                 address its load balancer gives later; use reach = \"port-forward\""
                    .to_string(),
            ));
        }
        Ok(())
    }

    /// The objects of `plan` for this cluster, the read-only folders read from this host.
    ///
    /// # Errors
    /// The API's (counting nodes), or an unreadable folder.
    pub async fn manifests(&self, plan: &StackPlan, stack_id: &str, owner: Owner) -> Result<Manifests, KubeError> {
        let nodes = self.schedulable_nodes().await?;
        let folders = read_folders(plan)?;
        let namespace = namespace(stack_id);
        let data = host_data();
        let target = Target {
            namespace: &namespace,
            stack_id,
            owner: owner.label(),
            settings: &self.placement,
            nodes,
            folders: &folders,
            host_data: &data,
        };
        Ok(manifests(plan, &target))
    }

    /// Makes the stack's namespace, its passwords and every part's Service (so a load balancer can give the
    /// endpoint an address while the brokers start); returns the rest, for the parts to be started.
    ///
    /// # Errors
    /// The API's.
    pub async fn create_stack(&self, plan: &StackPlan, stack_id: &str, owner: Owner) -> Result<Manifests, KubeError> {
        let mut manifests = self.manifests(plan, stack_id, owner).await?;
        for objects in manifests.parts.values_mut() {
            let (services, rest): (Vec<_>, Vec<_>) = objects.drain(..).partition(|o| o["kind"] == "Service");
            manifests.shared.extend(services);
            *objects = rest;
        }
        self.create(std::slice::from_ref(&manifests.namespace), false).await?;
        self.create(&manifests.shared, false).await?;
        Ok(manifests)
    }

    /// Checks every object of `plan` with the API server (dry-run) in a namespace made for it and removed
    /// again; returns the objects' kinds and names.
    ///
    /// # Errors
    /// The API server's refusal of the first object it refuses.
    pub async fn dry_run(&self, plan: &StackPlan, stack_id: &str) -> Result<Vec<String>, KubeError> {
        let manifests = self.manifests(plan, stack_id, Owner::Up).await?;
        // Namespaced objects are checked only in a namespace that exists.
        self.create(std::slice::from_ref(&manifests.namespace), false).await?;
        let all: Vec<serde_json::Value> =
            manifests.shared.iter().chain(manifests.parts.values().flatten()).cloned().collect();
        let checked = self.create(&all, true).await;
        let removed = self.delete_namespace(&namespace(stack_id)).await;
        checked?;
        removed?;
        Ok(all
            .iter()
            .map(|o| format!("{} {}", o["kind"].as_str().unwrap_or("?"), o["metadata"]["name"].as_str().unwrap_or("?")))
            .collect())
    }
}

/// The files of every read-only folder of the plan (they become Secrets), by host path.
fn read_folders(plan: &StackPlan) -> Result<BTreeMap<PathBuf, BTreeMap<String, Vec<u8>>>, KubeError> {
    let mut folders = BTreeMap::new();
    for folder in plan.parts().flat_map(|p| &p.spec.read_only) {
        let unreadable = |source| KubeError::Folder { path: folder.host.clone(), source };
        let mut files = BTreeMap::new();
        if folder.host.exists() {
            for entry in std::fs::read_dir(&folder.host).map_err(unreadable)? {
                let entry = entry.map_err(unreadable)?;
                if entry.file_type().map_err(unreadable)?.is_file() {
                    files.insert(
                        entry.file_name().to_string_lossy().into_owned(),
                        std::fs::read(entry.path()).map_err(unreadable)?,
                    );
                }
            }
        }
        folders.insert(folder.host.clone(), files);
    }
    Ok(folders)
}
