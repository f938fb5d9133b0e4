//! `bench matrix <experiment>... [--repeat N] [--blocks B]`: the GitHub Actions matrix of the nightly workflow, each
//! entry with the command its job runs and the artifact name its results go under. With `--blocks`, B jobs per
//! experiment, each running every variant interleaved, so every comparison can be made within one machine; without,
//! one job per variant (variant and runner are then the same factor).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use harness::experiment::estimate::Bound;
use harness::experiment::{ExperimentFile, Variant};
use serde::Serialize;

/// GitHub-hosted jobs are cancelled after 6 hours.
const JOB_LIMIT_MINUTES: u64 = 360;

#[derive(Debug, Serialize)]
struct Entry {
    /// The experiment file, as given.
    experiment: String,
    /// The experiment's name (its results folder).
    name: String,
    /// The variant, or `all` for a block's job.
    variant: String,
    /// The block's number (1-based) with `--blocks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    block: Option<u32>,
    /// `name-variant` (or `name-block-N`) with only characters artifact and job names accept.
    slug: String,
    /// What the variant's job runs after `scripts/setup`.
    command: String,
    /// The variant's worst case (every run reaching max_loops) plus a margin, within GitHub's 6-hour limit.
    timeout_minutes: u64,
}

#[derive(Debug, Serialize)]
struct Matrix {
    include: Vec<Entry>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Experiment files (TOML).
    #[arg(required = true)]
    experiments: Vec<PathBuf>,
    /// Runs per variant written into each command (default: each file's `repeat`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: Option<u32>,
    /// Jobs per experiment, each running every variant (`--repeat` runs of each) interleaved on one runner.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    blocks: Option<u32>,
}

pub fn run(Args { experiments, repeat, blocks }: Args) -> anyhow::Result<ExitCode> {
    let mut include = Vec::new();
    for path in &experiments {
        let file = ExperimentFile::load(path)?;
        match blocks {
            Some(blocks) => include.extend((1..=blocks).map(|b| block_entry(path, &file, repeat, b))),
            None => include.extend(file.variants.iter().map(|v| variant_entry(path, &file, repeat, v))),
        }
    }
    let mut slugs: Vec<&str> = include.iter().map(|e| e.slug.as_str()).collect();
    slugs.sort_unstable();
    if let Some(twice) = slugs.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!("two variants share the artifact name {:?}: give the experiments different names", twice[0]);
    }
    println!("{}", serde_json::to_string(&Matrix { include })?);
    Ok(ExitCode::SUCCESS)
}

/// `scripts/bench run <file> <which> [--repeat N]`.
fn command(path: &Path, which: &str, repeat: Option<u32>) -> String {
    let mut command = format!("scripts/bench run {} {which}", quote(&path.display().to_string()));
    if let Some(r) = repeat {
        command.push_str(&format!(" --repeat {r}"));
    }
    command
}

/// The worst case of `minutes` of runs plus a margin, within GitHub's limit (warned about beyond it).
fn timeout(what: &str, minutes: u64) -> u64 {
    let worst = minutes.saturating_add(30);
    if worst > JOB_LIMIT_MINUTES {
        eprintln!("warning: {what} may take up to {worst} min, beyond a hosted job's {JOB_LIMIT_MINUTES} min; lower --repeat or use a self-hosted runner");
    }
    worst.min(JOB_LIMIT_MINUTES)
}

fn variant_entry(path: &Path, file: &ExperimentFile, repeat: Option<u32>, v: &Variant) -> Entry {
    let runs = repeat.unwrap_or(file.experiment.repeat);
    // Saturating: up to 2^32 loops of 10 minutes, repeated up to 2^32 times, is more seconds than a u64 holds.
    let minutes = Bound::of(&v.experiment).total().as_secs().saturating_mul(u64::from(runs)) / 60;
    Entry {
        experiment: path.display().to_string(),
        name: file.experiment.name.clone(),
        variant: v.name.clone(),
        block: None,
        slug: slug(&format!("{}-{}", file.experiment.name, v.name)),
        command: command(path, &format!("--variant {}", quote(&v.name)), repeat),
        timeout_minutes: timeout(&format!("{} {}: {runs} run(s)", file.experiment.name, v.name), minutes),
    }
}

fn block_entry(path: &Path, file: &ExperimentFile, repeat: Option<u32>, block: u32) -> Entry {
    let runs = repeat.unwrap_or(file.experiment.repeat);
    let seconds = file.variants.iter().map(|v| Bound::of(&v.experiment).total().as_secs()).fold(0, u64::saturating_add);
    Entry {
        experiment: path.display().to_string(),
        name: file.experiment.name.clone(),
        variant: "all".into(),
        block: Some(block),
        slug: slug(&format!("{}-block-{block}", file.experiment.name)),
        command: command(path, &format!("--block {block}"), repeat),
        timeout_minutes: timeout(
            &format!("{} block {block}: {runs} run(s) of {} variant(s)", file.experiment.name, file.variants.len()),
            seconds.saturating_mul(u64::from(runs)) / 60,
        ),
    }
}

/// Artifact names refuse `"` `:` `<` `>` `|` `*` `?` `\` `/` and control characters; `=` and `,` read badly in URLs.
fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect()
}

/// Single quotes for the shell when a word holds anything but plain characters.
fn quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_quotes_are_safe() {
        assert_eq!(
            slug("batching-batch.size=16384,compression.type=none"),
            "batching-batch.size_16384_compression.type_none"
        );
        assert_eq!(quote("linger.ms=25"), "linger.ms=25");
        assert_eq!(quote("it's a b"), "'it'\\''s a b'");
    }

    #[test]
    fn the_longest_settings_are_capped_at_the_job_limit_not_an_overflow() {
        let text = "name = \"long\"\nrepeat = 4294967295\n[load]\nmax_loops = 4294967295\nprobe_interval_ms = 600000\n[matrix]\n\"load.accounts\" = [2, 3]\n";
        let path = Path::new("experiments/long.toml");
        let file = ExperimentFile::parse(path, text).unwrap();
        assert_eq!(variant_entry(path, &file, None, &file.variants[0]).timeout_minutes, JOB_LIMIT_MINUTES);
        assert_eq!(block_entry(path, &file, None, 1).timeout_minutes, JOB_LIMIT_MINUTES);
    }
}
