//! `bench down [--all | --stack ID] [--platform docker|kubernetes]`.

use std::process::ExitCode;

use anyhow::Context;
use stack::docker::container::{remove_labelled, LABEL_OWNER, LABEL_STACK};
use stack::LABEL_BENCH;

use super::cluster::{KubeArgs, Platform};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove every container (or namespace) bench ever started, also those of runs that crashed.
    #[arg(long, conflicts_with = "stack")]
    all: bool,
    /// Remove only the containers (or namespace) of this stack (the id `bench up` prints, their `kgb.stack`
    /// label), whoever started it.
    #[arg(long, value_name = "ID", value_parser = stack_id)]
    stack: Option<String>,
    /// docker: containers on this machine; kubernetes: the namespaces bench labelled on a cluster (each
    /// deleted, and waited for until it is gone).
    #[arg(long, value_enum, default_value_t = Platform::Docker)]
    platform: Platform,
    #[command(flatten)]
    cluster: KubeArgs,
}

/// A stack id as bench makes them (`20261126T170509-1a2b3c`): anything else could widen the label filter, or
/// name another folder than the stack's TLS folder. Refused by clap, so with exit code 2.
fn stack_id(text: &str) -> Result<String, bench_results::names::NameError> {
    bench_results::names::check(bench_results::names::Kind::StackId, text).map(|()| text.to_string())
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let kubernetes = args.platform == Platform::Kubernetes;
    args.cluster.only_with(kubernetes);
    let label = match (args.all, &args.stack) {
        (true, _) => LABEL_BENCH.to_string(),
        (false, Some(id)) => format!("{LABEL_STACK}={id}"),
        (false, None) => format!("{LABEL_OWNER}=up"),
    };
    let (stacks, removed) = if kubernetes { namespaces(&args, &label).await? } else { containers(&label).await? };
    // The stacks' TLS folders go with their containers; --all also those of stacks whose containers never
    // started (on Docker: a cluster's --all must not take the folders of stacks running on this engine).
    if args.all && !kubernetes {
        stack::tls::remove_all().context("removing the stacks' TLS folders")?;
    }
    for id in stacks.iter().chain(&args.stack) {
        stack::tls::remove(id).with_context(|| format!("removing the TLS folder of stack {id}"))?;
    }
    if removed.is_empty() {
        println!("nothing to remove");
    } else {
        println!("removed {}", removed.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes the containers carrying `label`: (their stacks' ids, their names).
async fn containers(label: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let docker = stack::docker::connect().await?;
    let stacks = stack::docker::container::stacks_labelled(&docker, label).await?;
    let removed = remove_labelled(&docker, label).await?;
    Ok((stacks.into_iter().collect(), removed))
}

/// Deletes the namespaces carrying `label` and waits until they are gone: (their stacks' ids, their names).
async fn namespaces(args: &Args, label: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let cluster = args.cluster.connect().await?;
    let labelled = cluster.namespaces_labelled(label).await?;
    let deletions = labelled.iter().map(|(namespace, _)| cluster.delete_namespace(namespace));
    futures_util::future::try_join_all(deletions).await?;
    Ok(labelled.into_iter().map(|(namespace, id)| (id, namespace)).unzip())
}
