//! `bench schema experiment|results`: the JSON Schema of an experiment file or of a results file's lines, for
//! tools that read or write them (docs/schema/ holds the same text).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum File {
    /// An experiment file (its TOML read as JSON).
    Experiment,
    /// One line of a results file (JSON Lines).
    Results,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which file's schema to print.
    #[arg(value_enum)]
    file: File,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = text(args.file).context("cannot write the schema as JSON")?;
    std::io::stdout().lock().write_all(text.as_bytes()).context("cannot write to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// The schema as published: pretty JSON with a final newline.
pub fn text(file: File) -> serde_json::Result<String> {
    let schema = match file {
        File::Experiment => bench_results::schema::experiment(),
        File::Results => bench_results::schema::results_line(),
    };
    Ok(serde_json::to_string_pretty(&schema)? + "\n")
}
