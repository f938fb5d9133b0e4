//! `bench down [--all | --stack ID]`.

use std::process::ExitCode;

use anyhow::Context;
use stack::docker::container::{remove_labelled, LABEL_OWNER, LABEL_STACK};
use stack::LABEL_BENCH;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove every container bench ever started, also those of runs that crashed.
    #[arg(long, conflicts_with = "stack")]
    all: bool,
    /// Remove only the containers of this stack (the id `bench up` prints, their `kgb.stack` label), whoever
    /// started it.
    #[arg(long, value_name = "ID", value_parser = stack_id)]
    stack: Option<String>,
}

/// A stack id as bench makes them (`20261126T170509-1a2b3c`): anything else could widen the label filter.
fn stack_id(text: &str) -> Result<String, String> {
    let fits = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if fits {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?} is not a stack id (letters, digits, '-', '_' and '.', as `bench up` prints it)"))
    }
}

pub async fn run(Args { all, stack }: Args) -> anyhow::Result<ExitCode> {
    let docker = stack::docker::connect().await?;
    let label = match (all, &stack) {
        (true, _) => LABEL_BENCH.to_string(),
        (false, Some(id)) => format!("{LABEL_STACK}={id}"),
        (false, None) => format!("{LABEL_OWNER}=up"),
    };
    let stacks = stack::docker::container::stacks_labelled(&docker, &label).await?;
    let removed = remove_labelled(&docker, &label).await?;
    // The stacks' TLS folders go with their containers; --all also those of stacks whose containers never started.
    if all {
        stack::tls::remove_all().context("removing the stacks' TLS folders")?;
    }
    for id in stacks.iter().chain(&stack) {
        stack::tls::remove(id).with_context(|| format!("removing the TLS folder of stack {id}"))?;
    }
    if removed.is_empty() {
        println!("nothing to remove");
    } else {
        println!("removed {}", removed.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
