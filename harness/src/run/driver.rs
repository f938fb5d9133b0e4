//! One run's load loop (DESIGN.md §6): probe loops on their slots, generators joining on schedule, resources
//! sampled on the side, a results row per loop, until too many timeouts, `max_loops` or an interrupt.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::Docker;
use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::usage::{cpu_time, OwnUsage};
use crate::docker::stats::{self, Sample};
use super::faults;
use crate::experiment::{Fault, Load, ProbeKind};
use crate::load::browser_probe::BrowserProbe;
use crate::load::bank::{self, Answer};
use crate::load::client::Client;
use crate::load::generator::{self, Report};
use crate::load::client::ClientError;
use crate::load::probe::{Answered, Cause, Outcome, Probe};
use crate::load::schedule::Schedule;
use crate::results::{BenchPeak, EndedBy, Line, ResultsError, Row, Writer};

/// The probe's account (2019: `testuser`).
pub const PROBE_USER: &str = "testuser";

/// What the progress bar shows after each loop.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub loop_no: u32,
    pub generators: u32,
    pub last_probe_ms: Option<f64>,
    pub timeouts: u32,
    /// Of `timeouts`, those inside fault windows (not counted towards the stop rule).
    pub fault_timeouts: u32,
    pub errors: u64,
}

/// What the load did, for the end line and the summary.
pub struct Driven {
    pub ended_by: EndedBy,
    pub error: Option<String>,
    pub loops: u32,
    pub timeouts: u32,
    /// Timeouts inside fault windows.
    pub fault_timeouts: u32,
    pub generators: u32,
    pub transfers: u64,
    pub errors: u64,
    /// Every transfer answer, for the audit.
    pub answers: Vec<(Uuid, Answer)>,
    /// Latencies in microseconds.
    pub probe: Histogram<u64>,
    pub generator: Histogram<u64>,
    pub bench_cpu: Duration,
    pub bench_peak: Option<BenchPeak>,
    pub duration: Duration,
}

/// Where and how to drive.
pub struct Target<'a> {
    pub load: &'a Load,
    /// The endpoint's websocket URL.
    pub url: String,
    /// The engine, for container samples and faults; `None` for an external deployment without containers.
    pub docker: Option<&'a Docker>,
    /// Containers whose resources are sampled.
    pub containers: Vec<String>,
    pub faults: &'a [Fault],
    /// The bank UI, for `probe = "browser"`.
    pub frontend: String,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 1 h at 3 significant figures: constant, valid bounds, so creation cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|e| unreachable!("constant histogram bounds: {e}"))
}

/// Milliseconds at microsecond resolution: the shortest JSON for what the clock can tell apart, which keeps
/// results files about half as large and quick to read back.
fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).clamp(1, 3_600_000_000)
}

/// Container samples taken off the probe's path (the engine takes about a second per sample).
struct Sampler {
    docker: Option<Docker>,
    containers: Vec<String>,
    own: OwnUsage,
    pending: Option<(Sample, JoinHandle<BTreeMap<String, Sample>>)>,
}

impl Sampler {
    /// Starts a sample; `transfers` is the count answered so far, for bench's own window.
    fn start(&mut self, transfers: u64) {
        if self.pending.is_some() {
            return;
        }
        let (docker, names) = (self.docker.clone(), self.containers.clone());
        let task = tokio::spawn(async move {
            match docker {
                Some(docker) => stats::sample_all(&docker, &names).await.unwrap_or_default(),
                None => BTreeMap::new(),
            }
        });
        self.pending = Some((self.own.sample(transfers), task));
    }

    /// The finished sample, if any.
    async fn take(&mut self) -> Option<BTreeMap<String, Sample>> {
        if !self.pending.as_ref().is_some_and(|(_, task)| task.is_finished()) {
            return None;
        }
        let (own, task) = self.pending.take()?;
        let mut samples = task.await.unwrap_or_default();
        samples.insert("bench".to_string(), own);
        Some(samples)
    }
}

/// Drives the load and writes a row per loop; `interrupt` stops it early (ended by `interrupt`).
///
/// # Errors
/// Only a results file that cannot be written; everything the system under test does is data.
pub async fn drive(
    target: Target<'_>,
    writer: &mut Writer,
    interrupt: &CancellationToken,
    status: &(dyn Fn(&Status) + Sync),
) -> Result<Driven, ResultsError> {
    let load = target.load;
    let began = Instant::now();
    let cpu_before = cpu_time();
    let mut driven = Driven {
        ended_by: EndedBy::MaxLoops,
        error: None,
        loops: 0,
        timeouts: 0,
        fault_timeouts: 0,
        generators: 0,
        transfers: 0,
        errors: 0,
        answers: Vec::new(),
        probe: histogram(),
        generator: histogram(),
        bench_cpu: Duration::ZERO,
        bench_peak: None,
        duration: Duration::ZERO,
    };
    let started = match load.probe {
        ProbeKind::Graphql => start_probe(&target.url, load).await.map(|p| AnyProbe::Graphql(Some(p))).map_err(|e| e.to_string()),
        ProbeKind::Browser => BrowserProbe::start(&target.frontend, PROBE_USER, Duration::from_millis(load.probe_timeout_ms))
            .await
            .map(|p| AnyProbe::Browser(Box::new(p)))
            .map_err(|e| e.to_string()),
    };
    let mut probe = match started {
        Ok(probe) => probe,
        Err(e) => {
            driven.ended_by = EndedBy::Error;
            driven.error = Some(format!("the probe could not start: {e}"));
            return Ok(driven);
        }
    };
    let (marks_tx, mut marks) = mpsc::unbounded_channel();
    let mut fault_tasks = Vec::new();
    let mut windows = faults::Windows::default();
    let settings = generator::Settings { url: target.url.clone(), protocol: load.protocol, pause: Duration::from_millis(load.transfer_pause_ms) };
    let (reports_tx, mut reports) = mpsc::unbounded_channel::<Report>();
    let stop_generators = CancellationToken::new();
    let mut generators: Vec<JoinHandle<()>> = Vec::new();
    let mut sampler = Sampler { docker: target.docker.cloned(), containers: target.containers.clone(), own: OwnUsage::new(), pending: None };
    let mut schedule = Schedule::new(Instant::now(), Duration::from_millis(load.probe_interval_ms));

    for loop_no in 1..=load.max_loops {
        let wanted = loop_no / load.loops_per_generator * load.generators_per_step;
        while (generators.len() as u32) < wanted {
            let n = generators.len() as u32 + 1;
            generators.push(generator::spawn(n, settings.clone(), reports_tx.clone(), stop_generators.child_token()));
        }
        // Faults need the engine; an experiment with faults is refused for an external deployment.
        if let Some(docker) = target.docker {
            for fault in target.faults.iter().filter(|f| f.at_loop == loop_no) {
                fault_tasks.push(faults::spawn(docker.clone(), fault.clone(), marks_tx.clone()));
            }
        }
        if loop_no % load.resources_every_loops == 0 {
            sampler.start(driven.transfers);
        }
        let slot = schedule.next_slot(Instant::now());
        let ran = tokio::select! {
            () = interrupt.cancelled() => None,
            ran = async {
                tokio::time::sleep_until(slot).await;
                probe_loop(&mut probe, &target.url, load, loop_no, slot).await
            } => Some(ran),
        };
        let Some((outcome, answered)) = ran else {
            driven.ended_by = EndedBy::Interrupt;
            break;
        };
        if let Some(answer) = answered {
            driven.transfers += 1;
            driven.answers.push(answer);
        }
        let mut row = Row {
            r#loop: loop_no,
            t_ms: chrono::Utc::now().timestamp_millis(),
            probe_ms: None,
            timeout: false,
            generators: generators.len() as u32,
            generator_ms: Vec::new(),
            errors: 0,
            resources: sampler.take().await,
            faults: Vec::new(),
        };
        while let Ok((at, mark)) = marks.try_recv() {
            let grace = target.faults.iter().find(|f| f.target == mark.target).map_or(Duration::ZERO, |f| Duration::from_secs(f.grace_s));
            windows.record(at, &mark, grace);
            row.faults.push(mark);
        }
        match outcome {
            Outcome::Arrived(latency) => {
                row.probe_ms = Some(millis(latency));
                let _ = driven.probe.record(micros(latency));
            }
            Outcome::Timeout(cause) => {
                tracing::debug!(loop_no, "probe timeout: {cause:?}");
                row.timeout = true;
                driven.timeouts += 1;
                if windows.covers(slot) {
                    driven.fault_timeouts += 1;
                }
            }
        }
        while let Ok(report) = reports.try_recv() {
            take_report(&mut driven, report, Some(&mut row));
        }
        driven.loops = loop_no;
        driven.generators = row.generators;
        writer.write(&Line::Row(row.clone()))?;
        status(&Status {
            loop_no,
            generators: row.generators,
            last_probe_ms: row.probe_ms,
            timeouts: driven.timeouts,
            fault_timeouts: driven.fault_timeouts,
            errors: driven.errors,
        });
        if driven.timeouts - driven.fault_timeouts > load.max_timeouts {
            driven.ended_by = EndedBy::Timeouts;
            break;
        }
    }

    stop_generators.cancel();
    drop(reports_tx);
    // Faults still under way put their containers back before the audit looks at the books.
    for task in fault_tasks {
        let _ = task.await;
    }
    for task in generators {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    // Answers that came in after the last row: not in any row, but the audit must know them.
    while let Some(report) = reports.recv().await {
        take_report(&mut driven, report, None);
    }
    driven.bench_cpu = cpu_time().saturating_sub(cpu_before);
    driven.bench_peak = sampler.own.peak();
    driven.duration = began.elapsed();
    Ok(driven)
}

/// The probe of a run: GraphQL (`None` while its connection is being made again) or the browser.
enum AnyProbe {
    Graphql(Option<Probe<Client>>),
    Browser(Box<BrowserProbe>),
}

/// One probe loop. The browser's page reconnects by itself; a GraphQL probe whose connection broke (the endpoint
/// restarted) reconnects first, and a loop that cannot reconnect is a timeout. Browser answers are not known to
/// the audit (the page keeps them).
async fn probe_loop(probe: &mut AnyProbe, url: &str, load: &Load, loop_no: u32, slot: Instant) -> (Outcome, Answered) {
    let probe = match probe {
        AnyProbe::Browser(b) => return (b.run(loop_no, slot).await, None),
        AnyProbe::Graphql(p) => p,
    };
    if probe.is_none() {
        let budget = Duration::from_millis(load.probe_timeout_ms);
        match tokio::time::timeout(budget, start_probe(url, load)).await {
            Ok(Ok(p)) => *probe = Some(p),
            Ok(Err(e)) => return (Outcome::Timeout(Cause::Failed(e)), None),
            Err(_) => return (Outcome::Timeout(Cause::TooSlow), None),
        }
    }
    let Some(p) = probe.as_mut() else { return (Outcome::Timeout(Cause::TooSlow), None) };
    let (outcome, answered) = p.run(loop_no, slot).await;
    if matches!(outcome, Outcome::Timeout(Cause::Failed(ClientError::Closed | ClientError::Connect { .. }))) {
        *probe = None;
    }
    (outcome, answered)
}

async fn start_probe(url: &str, load: &Load) -> Result<Probe<Client>, crate::load::client::ClientError> {
    let client = Client::connect(url, load.protocol).await?;
    let account = bank::open_account(&client, PROBE_USER, PROBE_USER).await?;
    let transactions = bank::follow(&client, &account.iban).await?;
    Ok(Probe::new(client, account, transactions, Duration::from_millis(load.probe_timeout_ms)))
}

fn take_report(driven: &mut Driven, report: Report, row: Option<&mut Row>) {
    if report.error {
        driven.errors += 1;
    }
    if let Some((id, answer)) = report.answered {
        driven.transfers += 1;
        driven.answers.push((id, answer));
    }
    if let Some(latency) = report.latency {
        let _ = driven.generator.record(micros(latency));
    }
    if let Some(row) = row {
        row.errors += u32::from(report.error);
        if let Some(latency) = report.latency {
            row.generator_ms.push(millis(latency));
        }
    }
}
