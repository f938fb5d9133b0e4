//! Runs (DESIGN.md §5–7): for each run a fresh stack, a header, the load ([`driver`]) writing a row per loop,
//! the audit, the end line, and the stack removed again, also on failure or interrupt.

pub mod driver;
pub mod faults;
pub mod interrupts;
pub mod meta;
pub mod usage;

use std::path::{Path, PathBuf};
use std::time::Instant;

use bollard::Docker;
use hdrhistogram::Histogram;

pub use driver::Status;
pub use interrupts::Interrupts;

use crate::docker::container;
use crate::experiment::{ExperimentFile, External, Variant};
use crate::results::{End, EndedBy, Header, Line, ResultsError, Writer};
use crate::stack::{Options, Owner, Services, Stack, StackError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Results(#[from] ResultsError),
}

/// The runs of an invocation in order: variants interleaved (A B C A B C …) so that drift on the machine
/// spreads over all of them. Each entry is (repeat from 1, variant).
pub fn order(variants: &[Variant], repeat: u32) -> Vec<(u32, &Variant)> {
    (1..=repeat).flat_map(|r| variants.iter().map(move |v| (r, v))).collect()
}

/// Latency percentiles of one run, for the summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub n: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        let ms = |q| h.value_at_quantile(q) as f64 / 1000.0;
        Latency { n: h.len(), p50_ms: ms(0.5), p99_ms: ms(0.99) }
    }
}

/// A run that reached its end line.
#[derive(Debug, Clone)]
pub struct Finished {
    pub variant: String,
    pub repeat: u32,
    pub path: PathBuf,
    pub end: End,
    pub probe: Latency,
    pub generator: Latency,
}

/// Callbacks for progress: one-line stages (bring-up, audit, teardown) and a status after every loop.
pub struct Observer<'a> {
    pub stage: &'a (dyn Fn(String) + Sync),
    pub status: &'a (dyn Fn(&Status) + Sync),
}

/// Where a run's results file goes: `<results>/<experiment>/<variant>/<start time>-r<repeat>.jsonl`.
pub fn results_path(results: &Path, experiment: &str, variant: &str, started: &chrono::DateTime<chrono::Utc>, repeat: u32) -> PathBuf {
    results.join(experiment).join(variant).join(format!("{}-r{repeat}.jsonl", started.format("%Y%m%dT%H%M%SZ")))
}

/// Where runs go.
#[derive(Clone, Copy)]
pub enum Platform<'a> {
    /// A fresh stack per run, brought up and removed through this engine.
    Docker(&'a Docker),
    /// A deployment that is already running; the engine, if given, only samples its containers.
    External(&'a External, Option<&'a Docker>),
}

/// What a run measures: the endpoints it talks to and the containers it samples.
struct Deployment {
    url: String,
    frontend: String,
    db_ch: String,
    db_ge: String,
    containers: Vec<String>,
}

impl Deployment {
    fn of_stack(stack: &Stack) -> Deployment {
        let e = &stack.plan.endpoints;
        Deployment {
            url: e.graphql_ws.clone(),
            frontend: e.frontend.clone(),
            db_ch: e.db_ch.clone(),
            db_ge: e.db_ge.clone(),
            containers: stack.running_containers(),
        }
    }

    fn external(e: &External) -> Deployment {
        Deployment {
            url: e.graphql.clone(),
            frontend: e.frontend.clone().unwrap_or_default(),
            db_ch: e.db_ch.clone(),
            db_ge: e.db_ge.clone(),
            containers: e.containers.clone(),
        }
    }
}

/// One run of one variant, always ending with its end line: interrupted during bring-up, it still leaves a
/// header and an end line saying so. On an external deployment nothing is brought up or removed.
///
/// # Errors
/// The stack not coming up, or the results file not being writable; the stack is removed either way.
pub async fn run_one(
    platform: Platform<'_>,
    file: &ExperimentFile,
    variant: &Variant,
    repeat: u32,
    results: &Path,
    interrupts: &Interrupts,
    observer: &Observer<'_>,
) -> Result<Finished, RunError> {
    let settings = &variant.experiment;
    let options = Options { owner: Owner::Run, services: Services::Require };
    let started = chrono::Utc::now();
    let path = results_path(results, &file.experiment.name, &variant.name, &started, repeat);
    let header = |images, stack_ready_s| Header {
        experiment: file.experiment.name.clone(),
        variant: variant.name.clone(),
        parameters: serde_json::to_value(settings).unwrap_or_default(),
        repeat,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: meta::git_commit(&file.path),
        images,
        host: meta::host(),
        started_at: started.to_rfc3339(),
        stack_ready_s,
    };
    let (docker, mut stack, deployment) = match platform {
        Platform::External(external, docker) => (docker, None, Deployment::external(external)),
        Platform::Docker(docker) => match Stack::up_until(docker, &settings.stack, options, observer.stage, &interrupts.first).await {
            Ok(stack) => {
                let deployment = Deployment::of_stack(&stack);
                (Some(docker), Some(stack), deployment)
            }
            Err(StackError::Interrupted) => {
                let refs = settings.stack.images.all();
                let mut writer = Writer::create(&path)?;
                writer.write(&Line::Header(Box::new(header(meta::image_ids(docker, &refs).await, None))))?;
                let end = End::interrupted_before_load();
                writer.write(&Line::End(Box::new(end.clone())))?;
                return Ok(Finished { variant: variant.name.clone(), repeat, path, end, probe: Latency::default(), generator: Latency::default() });
            }
            Err(e) => return Err(e.into()),
        },
    };

    let mut writer = Writer::create(&path)?;
    let (ids, ready) = match (&stack, docker) {
        (Some(stack), Some(docker)) => {
            let images: Vec<String> = stack.plan.parts().map(|p| p.spec.image.clone()).collect();
            (meta::image_ids(docker, &images).await, Some(stack.ready_after.as_secs_f64()))
        }
        _ => (std::collections::BTreeMap::new(), None),
    };
    writer.write(&Line::Header(Box::new(header(ids, ready))))?;

    (observer.stage)("load".into());
    let target = driver::Target {
        load: &settings.load,
        url: deployment.url.clone(),
        docker,
        containers: deployment.containers.clone(),
        faults: &settings.faults,
        frontend: deployment.frontend.clone(),
    };
    let load_began = Instant::now();
    let driven = driver::drive(target, &mut writer, &interrupts.first, observer.status).await?;
    let mut stopped = std::collections::BTreeMap::new();
    if let Some(docker) = docker {
        for name in &deployment.containers {
            if !container::is_running(docker, name).await {
                stopped.insert(name.clone(), container::logs_tail(docker, name, 30).await);
            }
        }
    }
    (observer.stage)("audit".into());
    // An interrupted load is still audited (the books it left are worth checking) unless a second signal comes.
    let cut_short = if driven.ended_by == EndedBy::Interrupt { &interrupts.second } else { &interrupts.first };
    let (audit, ended_by) = tokio::select! {
        audit = crate::audit::audit(&deployment.db_ch, &deployment.db_ge, &driven.answers) => (audit, driven.ended_by),
        () = cut_short.cancelled() => (crate::audit::Audit::not_done("interrupted during the audit"), EndedBy::Interrupt),
    };
    let bench_cpu_ms = driven.bench_cpu.as_secs_f64() * 1000.0;
    let end = End {
        ended_by,
        loops: driven.loops,
        timeouts: driven.timeouts,
        fault_timeouts: driven.fault_timeouts,
        generators: driven.generators,
        transfers: driven.transfers,
        errors: driven.errors,
        error: driven.error.clone(),
        audit,
        stopped,
        bench_cpu_ms,
        bench_cpu_ms_per_1000_transfers: if driven.transfers > 0 { bench_cpu_ms * 1000.0 / driven.transfers as f64 } else { 0.0 },
        bench_peak: driven.bench_peak,
        duration_s: load_began.elapsed().as_secs_f64(),
        ended_at: chrono::Utc::now().to_rfc3339(),
    };
    writer.write(&Line::End(Box::new(end.clone())))?;
    if let Some(stack) = stack.as_mut() {
        (observer.stage)("removing the stack".into());
        if let Err(e) = stack.teardown().await {
            tracing::warn!("removing stack {}: {e} (removed again on drop)", stack.id);
        }
    }
    Ok(Finished {
        variant: variant.name.clone(),
        repeat,
        path: writer.path().to_path_buf(),
        probe: Latency::of(&driven.probe),
        generator: Latency::of(&driven.generator),
        end,
    })
}

impl Finished {
    /// Completed with a passing audit and not cut short.
    pub fn ok(&self) -> bool {
        self.end.audit.passed && matches!(self.end.ended_by, EndedBy::Timeouts | EndedBy::MaxLoops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn repeats_interleave_variants() {
        let f = ExperimentFile::parse(Path::new("t.toml"), "name = \"t\"\n[matrix]\n\"stack.brokers\" = [1, 3]\n").unwrap();
        let names: Vec<String> = order(&f.variants, 3).iter().map(|(r, v)| format!("{}#{r}", v.name)).collect();
        assert_eq!(names, ["brokers=1#1", "brokers=3#1", "brokers=1#2", "brokers=3#2", "brokers=1#3", "brokers=3#3"]);
    }

    #[test]
    fn results_paths_follow_the_design() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-26T17:05:09Z").unwrap().with_timezone(&chrono::Utc);
        let p = results_path(Path::new("results"), "linger", "linger.ms=25", &t, 3);
        assert_eq!(p, Path::new("results/linger/linger.ms=25/20261126T170509Z-r3.jsonl"));
    }
}
