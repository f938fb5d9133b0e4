//! The `[kubernetes]` section of an experiment file: where and how the stack's pods are placed on a cluster.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Placement of a stack on a Kubernetes cluster (`--platform kubernetes`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KubeSettings {
    /// How pods reach each other and bench reaches them (see [`Network`]).
    pub network: Network,
    /// Nodes the pods may run on (`kubernetes.io/os = "linux"`, a node pool's label, ...).
    pub node_selector: BTreeMap<String, String>,
    /// Taints the pods tolerate (a node pool kept for benchmarks).
    pub tolerations: Vec<Toleration>,
    /// The brokers' and databases' data on volumes of this storage class; none: on the node (a folder of the
    /// host for brokers, so a broker deleted as a fault comes back with its log; scratch space for databases).
    pub storage_class: Option<String>,
    /// Size of each data volume, with `storage_class`.
    pub storage_gib: Option<u32>,
    /// Pull the images from this registry (as `bench images --push REGISTRY` tagged them); none: the images
    /// must already be on the nodes (`bench images --load-into-containerd`) and are never pulled.
    pub registry: Option<String>,
    /// How bench reaches the parts (see [`Reach`]).
    pub reach: Reach,
}

/// Where the stack's pods listen.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// Every pod on its node's network, on 127.0.0.1 and the stack's fixed ports, as on Docker: a one-node
    /// cluster on bench's own machine (`scripts/kube-up`).
    #[default]
    Host,
    /// Pod networking: each part behind a Service of its name, brokers spread over nodes. For real clusters.
    Pod,
}

/// How bench reaches the parts it talks to (the endpoint and the UI for load and probes; the databases, the
/// registry and the brokers for readiness, schemas and the audit).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// On the host network, directly on 127.0.0.1 (the node is bench's machine). On a pod network, the
    /// endpoint and the UI through Services of type LoadBalancer, at the address their load balancer gives;
    /// every other part through a port-forward.
    #[default]
    Service,
    /// Every part through the API server (a port-forward to its newest pod, behind a listener of bench's on
    /// 127.0.0.1); on a pod network every Service is a ClusterIP. Adds the API server and the kubelet to every request's path.
    PortForward,
}

/// One toleration, as Kubernetes writes it (and serialized as a pod spec takes it: no `null`s).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Toleration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` (default) or `Exists`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; none: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

impl KubeSettings {
    /// What is wrong with these settings, if anything, in the words of the experiment file.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for t in &self.tolerations {
            if !matches!(t.operator.as_deref(), None | Some("Equal") | Some("Exists")) {
                problems.push(format!(
                    "kubernetes.tolerations: operator {:?} is not Equal or Exists",
                    t.operator.as_deref().unwrap_or("")
                ));
            }
            if !matches!(t.effect.as_deref(), None | Some("NoSchedule") | Some("PreferNoSchedule") | Some("NoExecute"))
            {
                problems.push(format!(
                    "kubernetes.tolerations: effect {:?} is not NoSchedule, PreferNoSchedule or NoExecute",
                    t.effect.as_deref().unwrap_or("")
                ));
            }
            if t.operator.as_deref() == Some("Exists") && t.value.is_some() {
                problems.push("kubernetes.tolerations: an Exists toleration takes no value".to_string());
            }
        }
        if self.storage_gib.is_some() && self.storage_class.is_none() {
            problems.push("kubernetes.storage_gib needs kubernetes.storage_class".to_string());
        }
        if self.storage_gib == Some(0) {
            problems.push("kubernetes.storage_gib must be at least 1".to_string());
        }
        if let Some(r) = &self.registry {
            if r.is_empty() || r.contains(char::is_whitespace) || r.ends_with('/') {
                problems
                    .push(format!("kubernetes.registry {r:?} is not a registry (host[:port][/path], no trailing '/')"));
            }
        }
        problems
    }

    /// The reference a pod pulls for `image`.
    pub fn image(&self, image: &str) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{image}"),
            None => image.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tolerations_and_storage_are_named() {
        let settings: KubeSettings = toml::from_str(
            "storage_gib = 5\nregistry = \"r.example/\"\n[[tolerations]]\nkey = \"a\"\noperator = \"Like\"\neffect = \"Never\"\n[[tolerations]]\noperator = \"Exists\"\nvalue = \"x\"\n",
        )
        .unwrap();
        let problems = settings.problems();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].contains("\"Like\""), "{problems:?}");
        assert!(problems[1].contains("\"Never\""), "{problems:?}");
        assert!(problems[3].contains("storage_class"), "{problems:?}");
        assert!(problems[4].contains("r.example/"), "{problems:?}");
        assert!(toml::from_str::<KubeSettings>("netwrk = \"pod\"").is_err(), "unknown keys are refused");
        assert!(toml::from_str::<KubeSettings>("network = \"bridge\"").is_err());
        assert_eq!(toml::from_str::<KubeSettings>("").unwrap().problems(), Vec::<String>::new());
    }
}
