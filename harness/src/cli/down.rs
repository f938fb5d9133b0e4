//! `bench down [--all]`.

use std::process::ExitCode;

use stack::docker::container::{remove_labelled, LABEL_OWNER};
use stack::LABEL_BENCH;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove every container bench ever started, also those of runs that crashed.
    #[arg(long)]
    all: bool,
}

pub async fn run(Args { all }: Args) -> anyhow::Result<ExitCode> {
    let docker = stack::docker::connect().await?;
    let label = if all { LABEL_BENCH.to_string() } else { format!("{LABEL_OWNER}=up") };
    let removed = remove_labelled(&docker, &label).await?;
    if removed.is_empty() {
        println!("nothing to remove");
    } else {
        println!("removed {}", removed.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
