//! `bench down [--all | --stack ID] [--platform docker|kubernetes]`.

use std::process::ExitCode;

use anyhow::Context;
use stack::docker::container::{LABEL_OWNER, LABEL_STACK};
use stack::LABEL_BENCH;

use super::platform::PlatformArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove every container (or namespace) bench ever started, also those of runs that crashed.
    #[arg(long, conflicts_with = "stack")]
    all: bool,
    /// Remove only the containers (or namespace) of this stack (the id `bench up` prints, their `kgb.stack`
    /// label), whoever started it.
    #[arg(long, value_name = "ID", value_parser = stack_id)]
    stack: Option<String>,
    /// docker: containers on this machine; kubernetes: the namespaces bench labelled on a cluster (each deleted,
    /// and waited for until it is gone).
    #[command(flatten)]
    platform: PlatformArgs,
}

/// A stack id as bench makes them (`20261126T170509-1a2b3c`): anything else could widen the label filter, or
/// name another folder than the stack's TLS folder. Refused by clap, so with exit code 2.
fn stack_id(text: &str) -> Result<String, bench_results::names::NameError> {
    bench_results::names::check(bench_results::names::Kind::StackId, text).map(|()| text.to_string())
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.platform.check("down");
    let platform = args.platform.connect().await?.context("bench down needs a platform")?;
    let label = match (args.all, &args.stack) {
        (true, _) => LABEL_BENCH.to_string(),
        (false, Some(id)) => format!("{LABEL_STACK}={id}"),
        (false, None) => format!("{LABEL_OWNER}=up"),
    };
    let (stacks, removed) = platform.remove_labelled(&label, args.all).await.context("removing the stacks")?;
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
