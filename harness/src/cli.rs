//! The command line: clap types stay here; each command converts them into the library's types once.

mod down;
mod images;
mod progress;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harness::experiment::ExperimentError;

/// Benchmark harness for event-sourced systems on Kafka behind GraphQL.
#[derive(Debug, Parser)]
#[command(name = "bench", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the images that are missing or outdated (offline: Debian and Maven Central only).
    Images {
        /// Only list what is missing or outdated; exit 1 if anything is.
        #[arg(long)]
        check: bool,
        /// Print nothing when every image is up to date.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Bring one variant's stack up, print its endpoints and leave it running.
    Up {
        /// Experiment file (TOML).
        experiment: PathBuf,
        /// Variant to bring up (default: the first).
        #[arg(long)]
        variant: Option<String>,
    },
    /// Remove the containers that `bench up` started.
    Down {
        /// Remove every container bench ever started, also those of runs that crashed.
        #[arg(long)]
        all: bool,
    },
}

/// Runs one command.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Images { check, quiet } => images::run(check, quiet).await,
        Command::Up { experiment, variant } => up::run(&experiment, variant).await,
        Command::Down { all } => down::run(all).await,
    }
}

/// Bad input exits 2, everything else 1.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|e| e.downcast_ref::<ExperimentError>().is_some()) {
        2
    } else {
        1
    }
}
