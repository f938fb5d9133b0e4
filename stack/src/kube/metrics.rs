//! Resource samples of a stack's pods from the cluster's metrics API (`metrics.k8s.io`, served by
//! metrics-server), in the units Docker samples use: CPU as a share of the node's, memory in MiB of working set
//! (usage less inactive page cache, as on Docker).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::{namespace, Cluster, KubeError, LABEL_PART};
use crate::docker::stats::Usage;

const METRICS_API: &str = "/apis/metrics.k8s.io/v1beta1";

impl Cluster {
    /// Why the cluster's pods cannot be sampled, if they cannot: no metrics API is served.
    pub async fn metrics_unavailable(&self) -> Option<String> {
        let request = http::Request::get(METRICS_API).body(Vec::new()).ok()?;
        match self.client().request::<Value>(request).await {
            Ok(_) => None,
            Err(e) => Some(format!("the cluster serves no metrics API ({METRICS_API}: {})", super::reason(&e))),
        }
    }

    /// Each part's use now, by part name.
    ///
    /// # Errors
    /// The API's.
    pub async fn usage(&self, stack_id: &str) -> Result<BTreeMap<String, Usage>, KubeError> {
        let ns = namespace(stack_id);
        let request = http::Request::get(format!("{METRICS_API}/namespaces/{ns}/pods"))
            .body(Vec::new())
            .map_err(|e| KubeError::Unsupported(e.to_string()))?;
        let metrics: Value =
            self.client().request(request).await.map_err(KubeError::api("reading the pod metrics of", &ns))?;
        let pods = Api::<Pod>::namespaced(self.client(), &ns)
            .list(&ListParams::default())
            .await
            .map_err(KubeError::api("listing pods in", &ns))?;
        let nodes = Api::<Node>::all(self.client())
            .list(&ListParams::default())
            .await
            .map_err(KubeError::api("listing", "nodes"))?;
        let cores: BTreeMap<String, f64> = nodes
            .items
            .iter()
            .filter_map(|n| {
                Some((n.metadata.name.clone()?, cpu_cores(&n.status.as_ref()?.capacity.as_ref()?.get("cpu")?.0)?))
            })
            .collect();
        let mut usage = BTreeMap::new();
        for item in metrics["items"].as_array().into_iter().flatten() {
            let Some(pod) = pods.items.iter().find(|p| p.metadata.name.as_deref() == item["metadata"]["name"].as_str())
            else {
                continue;
            };
            let part = pod.metadata.labels.as_ref().and_then(|l| l.get(LABEL_PART)).cloned().unwrap_or_default();
            let node_cores =
                pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).and_then(|n| cores.get(n)).copied().unwrap_or(1.0);
            usage.insert(part, pod_usage(item, node_cores));
        }
        Ok(usage)
    }
}

/// One pod's containers summed.
fn pod_usage(item: &Value, node_cores: f64) -> Usage {
    let containers = item["containers"].as_array().cloned().unwrap_or_default();
    let text = |c: &Value, key: &str| c["usage"][key].as_str().unwrap_or("0").to_string();
    let cores: f64 = containers.iter().filter_map(|c| cpu_cores(&text(c, "cpu"))).sum();
    let bytes: f64 = containers.iter().filter_map(|c| bytes(&text(c, "memory"))).sum();
    Usage { cpu_pct: cores / node_cores * 100.0, mem_mib: bytes / (1024.0 * 1024.0) }
}

/// A CPU quantity (`2`, `250m`, `123456789n`) in cores.
pub fn cpu_cores(quantity: &str) -> Option<f64> {
    let (number, per_core) = match quantity.char_indices().last()? {
        (i, 'n') => (&quantity[..i], 1e9),
        (i, 'u') => (&quantity[..i], 1e6),
        (i, 'm') => (&quantity[..i], 1e3),
        _ => (quantity, 1.0),
    };
    number.parse::<f64>().ok().map(|n| n / per_core)
}

/// A memory quantity (`1234`, `512Ki`, `3Mi`, `1G`) in bytes.
pub fn bytes(quantity: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 8] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, scale) in SUFFIXES {
        if let Some(number) = quantity.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * scale);
        }
    }
    quantity.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(cpu_cores("2"), Some(2.0));
        assert_eq!(cpu_cores("250m"), Some(0.25));
        assert!((cpu_cores("123456789n").unwrap() - 0.123456789).abs() < 1e-12);
        assert_eq!(cpu_cores("5u"), Some(5e-6));
        assert_eq!(cpu_cores("lots"), None);
        assert_eq!(bytes("512Ki"), Some(524288.0));
        assert_eq!(bytes("3Mi"), Some(3.0 * 1048576.0));
        assert_eq!(bytes("1G"), Some(1e9));
        assert_eq!(bytes("1234"), Some(1234.0));
        assert_eq!(bytes("x"), None);
    }

    #[test]
    fn a_pods_containers_add_up_as_a_share_of_its_node() {
        let item = serde_json::json!({ "containers": [
            { "name": "a", "usage": { "cpu": "500m", "memory": "100Mi" } },
            { "name": "b", "usage": { "cpu": "250000000n", "memory": "51200Ki" } },
        ] });
        let usage = pod_usage(&item, 2.0);
        assert!((usage.cpu_pct - 37.5).abs() < 1e-9, "0.75 of 2 cores");
        assert!((usage.mem_mib - 150.0).abs() < 1e-9);
    }
}
