//! Runs (docs/guide.md): for each run a fresh stack, a header, the load ([`driver`]) writing a row per loop,
//! the audit, the end line, and the stack removed again, also on failure or interrupt.

pub mod calibration;
pub mod driver;
pub mod faults;
pub mod interrupts;
pub mod machine;
pub mod meta;
pub mod open_load;
pub mod priority;
pub mod sampler;
pub mod search;
pub mod usage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use stack::Platform;

pub use driver::Status;
pub use interrupts::Interrupts;

use stack::{Options, Owner, Services, Stack, StackError};

use crate::audit::Books;
use crate::experiment::{Experiment, ExperimentFile, External, Variant};
use crate::load::client::Endpoint;
use bench_results::{Audit, End, EndedBy, Header, Host, Line, ResultsError, RoundOrder, Writer};
use driver::Driven;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Results(#[from] ResultsError),
}

/// One run of an invocation: its round (the repeat, from 1), its place in the round, its variant.
#[derive(Debug, Clone, Copy)]
pub struct Planned<'a> {
    pub round: u32,
    pub order: RoundOrder,
    pub variant: &'a Variant,
}

/// The runs of an invocation: rounds that each run every variant once, each round in an order of its own drawn
/// from `seed`. Interleaving spreads the machine's drift over all variants; shuffling each round keeps a fixed
/// order (A B C, A B C …) from lining up with what drifts within a round, or with what one run leaves the next.
pub fn order(variants: &[Variant], repeat: u32, seed: u64) -> Vec<Planned<'_>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let of = u32::try_from(variants.len()).unwrap_or(u32::MAX);
    let mut planned = Vec::new();
    for round in 1..=repeat {
        let mut shuffled: Vec<&Variant> = variants.iter().collect();
        shuffled.shuffle(&mut rng);
        planned.extend(shuffled.into_iter().zip(1..).map(|(variant, slot)| Planned {
            round,
            order: RoundOrder { seed, slot, of },
            variant,
        }));
    }
    planned
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

/// What the closing summary shows of a run that reached its end line.
#[derive(Debug, Clone)]
pub struct Summary {
    pub variant: String,
    pub repeat: u32,
    pub path: PathBuf,
    pub end: End,
    /// Open model: the p99 latency the steps were judged against.
    pub slo_p99_ms: Option<f64>,
    pub probe: Latency,
    pub generator: Latency,
}

/// Callbacks for progress: one-line stages (bring-up, audit, teardown) and a status after every loop.
pub struct Observer<'a> {
    pub stage: &'a (dyn Fn(String) + Sync),
    pub status: &'a (dyn Fn(&Status) + Sync),
}

/// What runs measure.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// A fresh stack per run, brought up and removed on this platform (placed by each variant's `[kubernetes]`).
    Fresh(&'a Platform),
    /// A deployment that is already running; the platform, if given, only samples its containers.
    External(&'a External, Option<&'a Platform>),
}

impl Target<'_> {
    /// The platform results headers record (none for Docker, the platform of every file before there was a
    /// choice).
    fn recorded_name(&self) -> Option<&'static str> {
        match self {
            Target::Fresh(platform) => platform.recorded_name(),
            Target::External(..) => Some("external"),
        }
    }
}

/// What a run measures: the endpoints it talks to, the containers it samples, and the stack when bench
/// brought one up (removed again by [`Deployment::teardown`], or on drop).
struct Deployment {
    /// Where it runs; for an external deployment the platform that samples its containers, if any.
    platform: Option<Platform>,
    stack: Option<Stack>,
    endpoint: Endpoint,
    frontend: String,
    books: Books,
    containers: Vec<String>,
}

impl Deployment {
    fn of_stack(stack: Stack) -> Deployment {
        let e = &stack.plan.endpoints;
        Deployment {
            platform: Some(stack.platform().clone()),
            // A wss:// endpoint (tls_endpoint) is verified by the stack's CA.
            endpoint: Endpoint { url: e.graphql_ws.clone(), ca: e.tls.as_ref().map(|t| t.ca.clone()) },
            frontend: e.frontend.clone(),
            books: Books::of(e),
            containers: stack.running_containers(),
            stack: Some(stack),
        }
    }

    fn external(e: &External, platform: Option<&Platform>) -> Deployment {
        Deployment {
            platform: platform.cloned(),
            stack: None,
            endpoint: Endpoint { url: e.graphql.clone(), ca: e.tls_ca.clone() },
            frontend: e.frontend.clone().unwrap_or_default(),
            books: Books { db_ch: e.db_ch.clone(), db_ge: e.db_ge.clone(), tls: crate::experiment::external_tls(e) },
            containers: e.containers.clone(),
        }
    }

    /// Why the containers' resources cannot be sampled, if they cannot.
    async fn samples_unavailable(&self) -> Option<String> {
        match &self.platform {
            Some(platform) => platform.samples_unavailable().await,
            None => None,
        }
    }

    /// Image reference -> id of what the stack runs, and how long it took to come up (none for external).
    async fn provenance(&self) -> (BTreeMap<String, String>, Option<f64>) {
        let Some(stack) = &self.stack else { return (BTreeMap::new(), None) };
        let images: Vec<String> = stack.plan.parts().map(|p| p.spec.image.clone()).collect();
        let images = stack.platform().image_ids(Some(&stack.id), &images).await;
        (images, Some(stack.ready_after.as_secs_f64()))
    }

    /// The stack's id on its platform; none for an external deployment (its containers go by their names).
    fn stack_id(&self) -> &str {
        self.stack.as_ref().map_or("", |s| s.id.as_str())
    }

    /// The containers no longer running, restarted, or with a process killed for memory: their last log lines,
    /// and how each ended.
    async fn stopped(&self) -> Stopped {
        let mut stopped = Stopped::default();
        let Some(platform) = &self.platform else { return stopped };
        for name in &self.containers {
            if let Some(ending) = platform.ending(self.stack_id(), name).await {
                stopped.logs.insert(name.clone(), platform.logs_tail(self.stack_id(), name, 30).await);
                stopped.endings.insert(name.clone(), ending);
            }
        }
        stopped
    }

    async fn teardown(mut self, observer: &Observer<'_>) {
        let Some(stack) = self.stack.as_mut() else { return };
        (observer.stage)("removing the stack".into());
        if let Err(e) = stack.teardown().await {
            tracing::warn!("removing stack {}: {e} (removed again on drop)", stack.id);
        }
    }
}

/// The parts found stopped (or restarted, or killed for memory) when the load ended.
#[derive(Debug, Default)]
struct Stopped {
    /// Part -> its last log lines.
    logs: BTreeMap<String, String>,
    /// Part -> how it ended.
    endings: BTreeMap<String, bench_results::ending::Ending>,
}

/// Which repeat (round) a run is, its place in the round, and the block it belongs to (`bench run --block`: a
/// nightly job; `None`: the host).
#[derive(Debug, Clone, Copy)]
pub struct Repeat<'a> {
    pub number: u32,
    pub order: RoundOrder,
    pub block: Option<&'a str>,
}

/// Which run this is, for its results file's name and header.
struct RunId<'a> {
    file: &'a ExperimentFile,
    variant: &'a Variant,
    repeat: u32,
    order: RoundOrder,
    block: Option<&'a str>,
    started: chrono::DateTime<chrono::Utc>,
    /// The machine, fingerprinted before bring-up.
    host: Host,
}

impl RunId<'_> {
    /// The run's own seed: the invocation's seed (the header's `order.seed`), its round and its slot in that round,
    /// through splitmix64's finalizer. Every run of an invocation draws a different load; `--seed` replays each.
    fn seed(&self) -> u64 {
        let mut z = self.order.seed ^ (u64::from(self.repeat) << 32 | u64::from(self.order.slot));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn path(&self, results: &Path) -> PathBuf {
        bench_results::path_for(
            results,
            &self.file.experiment.name,
            &self.variant.name,
            &self.started,
            self.repeat,
            self.block,
        )
    }

    fn header(
        &self,
        images: BTreeMap<String, String>,
        stack_ready_s: Option<f64>,
        platform: Option<&str>,
        unavailable: Option<String>,
    ) -> Line {
        Line::Header(Box::new(Header {
            experiment: self.file.experiment.name.clone(),
            variant: self.variant.name.clone(),
            parameters: self.variant.experiment.clone(),
            repeat: self.repeat,
            harness_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: meta::git_commit().to_string(),
            images,
            host: self.host.clone(),
            started_at: self.started.to_rfc3339(),
            stack_ready_s,
            scheduling: Some(priority::current()),
            block: Some(self.block.map_or_else(|| self.host.hostname.clone(), str::to_string)),
            platform: platform.map(str::to_string),
            resources_unavailable: unavailable,
            order: Some(self.order),
        }))
    }

    fn summary(&self, path: PathBuf, end: End, driven: Option<&Driven>) -> Summary {
        let latency = |h: Option<&Histogram<u64>>| h.map(Latency::of).unwrap_or_default();
        Summary {
            variant: self.variant.name.clone(),
            repeat: self.repeat,
            path,
            end,
            slo_p99_ms: self.variant.experiment.search.as_ref().map(|s| s.slo_p99_ms),
            probe: latency(driven.map(|d| &d.probe)),
            generator: latency(driven.map(|d| &d.generator)),
        }
    }
}

/// One run of one variant, always ending with its end line: interrupted during bring-up, it still leaves a
/// header and an end line saying so. On an external deployment nothing is brought up or removed.
///
/// # Errors
/// The stack not coming up, or the results file not being writable; the stack is removed either way.
pub async fn run_one(
    target: Target<'_>,
    file: &ExperimentFile,
    variant: &Variant,
    repeat: Repeat<'_>,
    results: &Path,
    interrupts: &Interrupts,
    observer: &Observer<'_>,
) -> Result<Summary, RunError> {
    let started = chrono::Utc::now();
    (observer.stage)("calibration".into());
    let host = meta::fingerprint().await;
    let id = RunId { file, variant, repeat: repeat.number, order: repeat.order, block: repeat.block, started, host };
    let path = id.path(results);
    let Some(deployment) = bring_up(target, &variant.experiment, interrupts, observer).await? else {
        return interrupted_bring_up(&id, target, path).await;
    };
    let mut writer = Writer::create(&path)?;
    let (images, ready) = deployment.provenance().await;
    let unavailable = deployment.samples_unavailable().await;
    writer.write(&id.header(images, ready, target.recorded_name(), unavailable.clone()))?;
    let sampled = unavailable.is_none();
    let measured =
        measure(&deployment, &variant.experiment, sampled, id.seed(), &mut writer, interrupts, observer).await;
    deployment.teardown(observer).await;
    let (end, driven) = measured?;
    Ok(id.summary(path, end, Some(&driven)))
}

/// The stack of a run (nothing for an external deployment); `None` when interrupted during bring-up, with
/// everything that had started removed.
async fn bring_up(
    target: Target<'_>,
    experiment: &Experiment,
    interrupts: &Interrupts,
    observer: &Observer<'_>,
) -> Result<Option<Deployment>, StackError> {
    let platform = match target {
        Target::External(external, sampler) => return Ok(Some(Deployment::external(external, sampler))),
        Target::Fresh(platform) => platform.placed(&experiment.kubernetes),
    };
    let options = Options { owner: Owner::Run, services: Services::Require, reports: None };
    match Stack::up_until(&platform, &experiment.stack, options, observer.stage, &interrupts.first).await {
        Ok(stack) => Ok(Some(Deployment::of_stack(stack))),
        Err(StackError::Interrupted) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The results file of a run interrupted while its stack came up: a header and an end line saying so.
async fn interrupted_bring_up(id: &RunId<'_>, target: Target<'_>, path: PathBuf) -> Result<Summary, RunError> {
    let images = match target {
        Target::Fresh(platform) => platform.image_ids(None, &id.variant.experiment.stack.images.all()).await,
        Target::External(..) => BTreeMap::new(),
    };
    let mut writer = Writer::create(&path)?;
    writer.write(&id.header(images, None, target.recorded_name(), None))?;
    let end = End::interrupted_before_load();
    writer.write(&Line::End(Box::new(end.clone())))?;
    Ok(id.summary(path, end, None))
}

/// The load, the audit of the books it left, and the end line (its duration counts the audit too).
async fn measure(
    deployment: &Deployment,
    settings: &Experiment,
    sampled: bool,
    seed: u64,
    writer: &mut Writer,
    interrupts: &Interrupts,
    observer: &Observer<'_>,
) -> Result<(End, Driven), ResultsError> {
    (observer.stage)("load".into());
    let target = driver::Target {
        load: &settings.load,
        endpoint: deployment.endpoint.clone(),
        platform: deployment.platform.as_ref(),
        stack_id: deployment.stack_id(),
        samples: sampled,
        containers: deployment.containers.clone(),
        faults: &settings.faults,
        frontend: deployment.frontend.clone(),
        search: settings.search.as_ref().map(|cfg| (cfg, deployment.books.clone())),
        seed,
    };
    let began = Instant::now();
    let ticks = machine::Ticks::read();
    let mut driven = driver::drive(target, writer, &interrupts.first, observer.status).await?;
    let steal_pct = ticks.zip(machine::Ticks::read()).and_then(|(before, after)| after.steal_pct_since(before));
    let stopped = deployment.stopped().await;
    // An interrupted load is still audited (the books it left are worth checking) unless a second signal comes.
    // A load that never began left nothing to check: its run ends at once, whatever the databases do.
    let cut_short = if driven.ended_by == EndedBy::Interrupt { &interrupts.second } else { &interrupts.first };
    let (audit, ended_by) = if !driven.started {
        let why = if driven.ended_by == EndedBy::Interrupt {
            "interrupted before the load"
        } else {
            "the load did not start"
        };
        (Audit::not_done(why), driven.ended_by)
    } else {
        (observer.stage)("audit".into());
        tokio::select! {
            audit = crate::audit::audit(&deployment.books, &mut driven.answers) => (audit, driven.ended_by),
            () = cut_short.cancelled() => (Audit::not_done("interrupted during the audit"), EndedBy::Interrupt),
        }
    };
    let end = End { steal_pct, ..end_line(&driven, ended_by, audit, stopped, began.elapsed()) };
    writer.write(&Line::End(Box::new(end.clone())))?;
    Ok((end, driven))
}

fn end_line(driven: &Driven, ended_by: EndedBy, audit: Audit, stopped: Stopped, took: Duration) -> End {
    let bench_cpu_ms = driven.bench_cpu.as_secs_f64() * 1000.0;
    let transfers = driven.counts.transfers;
    End {
        ended_by,
        counts: driven.counts,
        error: driven.error.clone(),
        audit,
        stopped: stopped.logs,
        endings: stopped.endings,
        bench_cpu_ms,
        bench_cpu_ms_per_1000_transfers: if transfers > 0 { bench_cpu_ms * 1000.0 / transfers as f64 } else { 0.0 },
        bench_peak: driven.bench_peak,
        duration_s: took.as_secs_f64(),
        ended_at: chrono::Utc::now().to_rfc3339(),
        capacity_tps: driven.capacity,
        capacity_ci95_tps: driven.capacity_ci95,
        slo_p99_ms: None,
        interference: driven.interference,
        warmup: driven.warmup,
        steal_pct: None,
    }
}

impl Summary {
    /// Completed with a passing audit and not cut short.
    pub fn ok(&self) -> bool {
        self.end.audit.passed && self.end.ended_by.by_its_rule()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn three_variants() -> ExperimentFile {
        ExperimentFile::parse(Path::new("t.toml"), "name = \"t\"\n[matrix]\n\"stack.brokers\" = [1, 2, 3]\n").unwrap()
    }

    #[test]
    fn every_round_runs_each_variant_once_and_the_seed_replays_the_order() {
        let f = three_variants();
        let names = |seed| -> Vec<(u32, u32, String)> {
            order(&f.variants, 40, seed).iter().map(|p| (p.round, p.order.slot, p.variant.name.clone())).collect()
        };
        let planned = names(7);
        assert_eq!(planned.len(), 120);
        for (i, round) in planned.chunks(3).enumerate() {
            let mut variants: Vec<&str> = round.iter().map(|(_, _, v)| v.as_str()).collect();
            variants.sort_unstable();
            assert_eq!(variants, ["brokers=1", "brokers=2", "brokers=3"], "round {}", i + 1);
            let expected_round = u32::try_from(i + 1).unwrap();
            assert!(round.iter().all(|(r, _, _)| *r == expected_round));
            assert_eq!(round.iter().map(|(_, s, _)| *s).collect::<Vec<_>>(), [1, 2, 3]);
        }
        assert_eq!(names(7), planned, "one seed, one order");
        assert_ne!(names(8), planned, "another seed, another order");
        // Shuffled: over 40 rounds, each variant comes first in some round and none in all.
        let firsts: std::collections::BTreeSet<&str> = planned.chunks(3).map(|r| r[0].2.as_str()).collect();
        assert_eq!(firsts.len(), 3, "{planned:?}");
    }

    /// git's output in the harness crate's folder: the source tree this test was built from.
    fn git(args: &[&str]) -> String {
        let out =
            std::process::Command::new("git").arg("-C").arg(env!("CARGO_MANIFEST_DIR")).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn the_header_names_the_commit_bench_was_built_from_wherever_the_experiment_lies() {
        // Outside any checkout: the commit of the experiment's folder would be "unknown" here.
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("t.toml");
        std::fs::write(&path, "name = \"t\"\n").unwrap();
        let file = ExperimentFile::load(&path).unwrap();
        let order = RoundOrder { seed: 1, slot: 1, of: 1 };
        let (variant, started) = (&file.variants[0], chrono::Utc::now());
        let id = RunId { file: &file, variant, repeat: 1, order, block: None, started, host: meta::host() };
        let Line::Header(header) = id.header(BTreeMap::new(), None, None, None) else { panic!("a header") };
        let head = git(&["rev-parse", "HEAD"]);
        let commit = header.git_commit.as_str();
        assert!(commit == head || commit == format!("{head}-dirty"), "{commit} is not {head}");
        // Only changes to tracked files can make a build dirty.
        if commit.ends_with("-dirty") {
            assert!(!git(&["status", "--porcelain", "--untracked-files=no"]).is_empty());
        }
    }
}
