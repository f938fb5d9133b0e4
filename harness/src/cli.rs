//! The command line: clap types stay here; each command converts them into the library's types once.

mod down;
mod dry_run;
mod images;
mod matrix;
mod progress;
mod report;
mod run;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harness::experiment::ExperimentError;
use harness::report::ReportError;
use harness::results::ResultsError;

/// Benchmark harness for event-sourced systems on Kafka behind GraphQL.
#[derive(Debug, Parser)]
#[command(name = "bench", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Where `bench run` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Platform {
    Docker,
    External,
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
    /// Run an experiment: per run a fresh stack, ramping load until answers time out, a results file, an audit.
    Run {
        /// Experiment file (TOML).
        experiment: PathBuf,
        /// Runs per variant (default: the file's `repeat`); variants are interleaved.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        repeat: Option<u32>,
        /// Run only this variant (repeatable; default: all).
        #[arg(long = "variant", value_name = "NAME")]
        variants: Vec<String>,
        /// Folder of the results files.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// Print the variants, their settings and the expected duration; start nothing.
        #[arg(long)]
        dry_run: bool,
        /// docker: a fresh stack per run; external: measure the running deployment named in the file's [external].
        #[arg(long, value_enum, default_value_t = Platform::Docker)]
        platform: Platform,
    },
    /// Print the GitHub Actions matrix (JSON) of the experiments: one entry per variant, with the command to run.
    Matrix {
        /// Experiment files (TOML).
        #[arg(required = true)]
        experiments: Vec<PathBuf>,
        /// Runs per variant written into each command (default: each file's `repeat`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        repeat: Option<u32>,
    },
    /// Aggregate runs into a self-contained HTML report and its JSON: means, standard errors, p99s, t-tests.
    Report {
        /// Experiment files (their results under --results), results folders or files, 2019 mapping files (.edn).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The HTML file to write; the JSON goes beside it (default: results/<first input's name>.html).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where experiment files' results are.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// Earlier results (folder, file or experiment file) to check every variant against.
        #[arg(long, value_name = "PATH")]
        baseline: Vec<PathBuf>,
        /// Significance level of the baseline checks (latency levels share it, Bonferroni-corrected).
        #[arg(long, default_value_t = 0.05, value_parser = alpha)]
        alpha: f64,
        /// Exit 1 when a variant regressed significantly against the baseline.
        #[arg(long, requires = "baseline")]
        fail_on_regression: bool,
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
        Command::Run { experiment, repeat, variants, results, dry_run, platform } => {
            let external = platform == Platform::External;
            run::run(run::Args { experiment, repeat, variants, results, dry_run, external }).await
        }
        Command::Matrix { experiments, repeat } => matrix::run(&experiments, repeat),
        Command::Report { inputs, out, results, baseline, alpha, fail_on_regression } => {
            report::run(report::Args { inputs, out, results, baseline, alpha, fail_on_regression })
        }
        Command::Up { experiment, variant } => up::run(&experiment, variant).await,
        Command::Down { all } => down::run(all).await,
    }
}

fn alpha(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!("{text:?} is not a significance level between 0 and 1 (exclusive), e.g. 0.05")),
    }
}

/// Bad input exits 2, everything else 1.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    let bad_input = |e: &(dyn std::error::Error + 'static)| {
        e.downcast_ref::<ExperimentError>().is_some()
            || matches!(
                e.downcast_ref::<ReportError>(),
                Some(ReportError::Corrupt { .. } | ReportError::UnknownInput(_) | ReportError::Empty(_) | ReportError::Read { .. })
            )
            || matches!(e.downcast_ref::<ResultsError>(), Some(ResultsError::Corrupt { .. } | ResultsError::Read { .. }))
    };
    if error.chain().any(bad_input) {
        2
    } else {
        1
    }
}
