//! `bench matrix <experiment>... [--repeat N]`: the GitHub Actions matrix of the nightly workflow, one entry per
//! variant, each with the command its job runs and the artifact name its results go under.

use std::path::PathBuf;
use std::process::ExitCode;

use harness::experiment::estimate::Bound;
use harness::experiment::ExperimentFile;
use serde::Serialize;

/// GitHub-hosted jobs are cancelled after 6 hours.
const JOB_LIMIT_MINUTES: u64 = 360;

#[derive(Debug, Serialize)]
struct Entry {
    /// The experiment file, as given.
    experiment: String,
    /// The experiment's name (its results folder).
    name: String,
    variant: String,
    /// `name-variant` with only characters artifact and job names accept.
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
}

pub fn run(Args { experiments, repeat }: Args) -> anyhow::Result<ExitCode> {
    let mut include = Vec::new();
    for path in &experiments {
        let file = ExperimentFile::load(path)?;
        let runs = repeat.unwrap_or(file.experiment.repeat);
        for v in &file.variants {
            let mut command = format!("scripts/bench run {} --variant {}", quote(&path.display().to_string()), quote(&v.name));
            if let Some(r) = repeat {
                command.push_str(&format!(" --repeat {r}"));
            }
            let worst = Bound::of(&v.experiment).total().as_secs() * u64::from(runs) / 60 + 30;
            if worst > JOB_LIMIT_MINUTES {
                eprintln!(
                    "warning: {} {}: {runs} run(s) may take up to {worst} min, beyond a hosted job's {JOB_LIMIT_MINUTES} min; lower --repeat or use a self-hosted runner",
                    file.experiment.name, v.name
                );
            }
            include.push(Entry {
                experiment: path.display().to_string(),
                name: file.experiment.name.clone(),
                variant: v.name.clone(),
                slug: slug(&format!("{}-{}", file.experiment.name, v.name)),
                command,
                timeout_minutes: worst.min(JOB_LIMIT_MINUTES),
            });
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
        assert_eq!(slug("batching-batch.size=16384,compression.type=none"), "batching-batch.size_16384_compression.type_none");
        assert_eq!(quote("linger.ms=25"), "linger.ms=25");
        assert_eq!(quote("it's a b"), "'it'\\''s a b'");
    }
}
