//! The command line: clap types stay here; each command converts them into the library's types once.

mod down;
mod dry_run;
mod history;
mod images;
mod matrix;
mod platform;
mod progress;
mod redact;
mod report;
mod run;
mod schema;
mod signals;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `bench --version`: the version and the commit it was built from, as results headers record it.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("KGB_GIT_COMMIT"), ")");

/// Benchmark harness for event-sourced systems on Kafka behind GraphQL.
#[derive(Debug, Parser)]
#[command(name = "bench", version = VERSION, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the images that are missing or outdated (offline: Debian and Maven Central only).
    Images(images::Args),
    /// Run an experiment: per run a fresh stack, ramping load until answers time out, a results file, an audit.
    Run(run::Args),
    /// Print the GitHub Actions matrix (JSON) of the experiments: one entry per variant, with the command to run.
    Matrix(matrix::Args),
    /// Aggregate runs into a self-contained HTML report and its JSON: means, standard errors, p99s, t-tests.
    Report(report::Args),
    /// Follow nights' summaries over time: one series per experiment × variant × metric, its change points
    /// (E-Divisive means, Welch's t-test), a self-contained HTML page and optionally JSON.
    History(history::Args),
    /// Bring one variant's stack up, print its endpoints and leave it running.
    Up(up::Args),
    /// Remove the containers (or namespaces) that `bench up` started.
    Down(down::Args),
    /// Print the JSON Schema of an experiment file or of a results file's lines, for other tools.
    Schema(schema::Args),
}

/// Runs one command.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Images(a) => images::run(a).await,
        Command::Run(a) => run::run(a).await,
        Command::Matrix(a) => matrix::run(a),
        Command::Report(a) => report::run(a),
        Command::History(a) => history::run(a),
        Command::Up(a) => up::run(a).await,
        Command::Down(a) => down::run(a).await,
        Command::Schema(a) => schema::run(a),
    }
}

/// Bad input exits 2, everything else 1.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(harness::is_bad_input) {
        2
    } else {
        1
    }
}
