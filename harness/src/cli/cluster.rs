//! The flags that pick a Kubernetes cluster (`--platform kubernetes`), shared by `run`, `up` and `down`.

use std::path::PathBuf;

use anyhow::Context;
use stack::kube::{self, Cluster};

/// Where the stack goes: this machine's Docker engine or a Kubernetes cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    Docker,
    Kubernetes,
}

#[derive(Debug, Clone, clap::Args)]
pub struct KubeArgs {
    /// With --platform kubernetes: the cluster's kubeconfig (default: $KUBECONFIG, then ~/.kube/config;
    /// `scripts/kube-up` prints a local cluster's).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// With --platform kubernetes: the kubeconfig's context (default: its current one).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

impl KubeArgs {
    /// Connects to the cluster these flags name and checks that it answers.
    pub async fn connect(&self) -> anyhow::Result<Cluster> {
        let cluster = kube::connect(self.kubeconfig.as_deref(), self.context.as_deref())
            .await
            .context("--platform kubernetes")?;
        Ok(cluster)
    }

    /// Refuses the flags without --platform kubernetes, where they would be ignored silently (exit 2, as clap
    /// does for flags that do not go together).
    pub fn only_with(&self, kubernetes: bool) {
        if !kubernetes && (self.kubeconfig.is_some() || self.context.is_some()) {
            let message = "--kubeconfig and --context need --platform kubernetes\n";
            clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, message).exit();
        }
    }
}
