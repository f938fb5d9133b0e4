//! `--platform` and the flags that pick a cluster, shared by `run`, `up` and `down`: chosen here once, as a
//! [`stack::Platform`] (or, for `bench run`, a deployment that is already running).

use std::path::PathBuf;

use anyhow::Context;
use harness::experiment::{ExperimentError, ExperimentFile, External, Variant};
use stack::Platform;

/// Where the stack goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    /// Containers on this machine's Docker engine.
    Docker,
    /// A namespace per stack on a Kubernetes cluster, placed by the file's [kubernetes].
    Kubernetes,
    /// `bench run` only: the running deployment named in the file's [external]; nothing is brought up.
    External,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PlatformArgs {
    /// Where the stack runs.
    #[arg(long = "platform", value_enum, default_value_t = Choice::Docker)]
    pub choice: Choice,
    /// With --platform kubernetes: the cluster's kubeconfig (default: $KUBECONFIG, then ~/.kube/config;
    /// `scripts/kube-up` prints a local cluster's).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// With --platform kubernetes: the kubeconfig's context (default: its current one).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

impl PlatformArgs {
    /// Refuses flags that do not go together (exit 2, as clap does): cluster flags without a cluster, and
    /// `external` where a stack is brought up or removed.
    pub fn check(&self, command: &str) {
        let refuse = |message: String| clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, message).exit();
        if self.choice != Choice::Kubernetes && (self.kubeconfig.is_some() || self.context.is_some()) {
            refuse("--kubeconfig and --context need --platform kubernetes\n".to_string());
        }
        if self.choice == Choice::External && command != "run" {
            refuse(format!("bench {command} brings up or removes stacks: --platform external is for bench run\n"));
        }
    }

    /// Checks that the variants can run where chosen: on a cluster by their `[kubernetes]`; as an external
    /// deployment by the file's `[external]`, which is returned.
    pub fn accepts<'f>(
        &self,
        file: &'f ExperimentFile,
        variants: &[Variant],
    ) -> Result<Option<&'f External>, ExperimentError> {
        match self.choice {
            Choice::Docker => Ok(None),
            Choice::Kubernetes => file.for_kubernetes(variants).map(|()| None),
            Choice::External => file.external(variants).map(Some),
        }
    }

    /// Refuses `--dry-run` where only a cluster can check a stack without making it.
    pub fn check_dry_run(&self, dry_run: bool) {
        if dry_run && self.choice != Choice::Kubernetes {
            clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, "--dry-run needs --platform kubernetes\n")
                .exit();
        }
    }

    /// Connects to the platform chosen: this machine's Docker engine, or the cluster the flags name, checked
    /// to answer. `None` for `external`, which has none of its own.
    pub async fn connect(&self) -> anyhow::Result<Option<Platform>> {
        Ok(match self.choice {
            Choice::Docker => Some(Platform::docker().await?),
            Choice::Kubernetes => Some(
                Platform::kubernetes(self.kubeconfig.as_deref(), self.context.as_deref())
                    .await
                    .context("--platform kubernetes")?,
            ),
            Choice::External => None,
        })
    }
}
