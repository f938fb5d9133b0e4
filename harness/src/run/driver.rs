//! One run's load loop (docs/guide.md): probe loops on their slots, generators joining on schedule, resources
//! sampled on the side, a results row per loop, until too many timeouts, `max_loops` or an interrupt.
//!
//! [`Driver`] holds the loop's state; [`drive`] starts it, takes one [`Driver::step`] per loop, and
//! [`Driver::finish`]es it.

use std::future::Future;
use std::time::Duration;

use hdrhistogram::Histogram;
use stack::Platform;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::faults;
use super::open_load::{self, OpenLoad};
use super::sampler::Sampler;
use super::usage::cpu_time;
use crate::audit::AnswerLog;
use crate::audit::Books;
use crate::experiment::{Fault, Load, ProbeKind, Search};
use crate::load::bank;
use crate::load::browser_probe::BrowserProbe;
use crate::load::client::{Client, ClientError, Endpoint};
use crate::load::deadline::{self, FIRST_COMMAND};
use crate::load::generator::{self, Reply};
use crate::load::probe::{Answered, Cause, Outcome, Probe};
use crate::load::schedule::Schedule;
use bench_results::{BenchPeak, Counts, EndedBy, Interference, Line, Mark, ResultsError, Row, Writer};

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
    /// Open model: the rate offered now (the stop rule is the search's, not the probe's timeouts).
    pub rate: Option<f64>,
    /// CPU another program took from the machine so far, mean over the samples (% of the machine).
    pub interference_pct: Option<f64>,
}

/// What the load did, for the end line and the summary.
pub struct Driven {
    /// Whether the load began: the probe (and the open model's pool) opened. A run that never loaded has no books
    /// of its own to audit.
    pub started: bool,
    pub ended_by: EndedBy,
    pub error: Option<String>,
    pub counts: Counts,
    /// Every transfer answer, for the audit (on disk: a long run's memory stays flat).
    pub answers: AnswerLog,
    /// Latencies in microseconds.
    pub probe: Histogram<u64>,
    pub generator: Histogram<u64>,
    pub bench_cpu: Duration,
    pub bench_peak: Option<BenchPeak>,
    /// CPU neither the containers nor bench used, over the run's resource samples.
    pub interference: Option<Interference>,
    /// Open model: the highest rate confirmed to meet the SLO.
    pub capacity: Option<f64>,
    /// `method = "knee"`: the capacity's 95 % interval.
    pub capacity_ci95: Option<(f64, f64)>,
    /// Open model: how the first warm-up went.
    pub warmup: Option<bench_results::Warmup>,
}

impl Driven {
    fn new() -> Driven {
        Driven {
            started: true,
            ended_by: EndedBy::MaxLoops,
            error: None,
            counts: Counts::default(),
            answers: AnswerLog::new(),
            probe: histogram(),
            generator: histogram(),
            bench_cpu: Duration::ZERO,
            bench_peak: None,
            interference: None,
            capacity: None,
            capacity_ci95: None,
            warmup: None,
        }
    }

    /// A run that ended before its load began: by an interrupt, or with `error`.
    fn not_started(ended_by: EndedBy, error: Option<String>) -> Driven {
        Driven { started: false, ended_by, error, ..Driven::new() }
    }

    /// Counts one generator reply.
    fn take(&mut self, reply: &Reply) {
        if reply.error {
            self.counts.errors += 1;
        }
        if let Some((id, answer)) = &reply.answered {
            self.counts.transfers += 1;
            self.answers.push(*id, answer);
        }
        if let Some(latency) = reply.latency {
            let _ = self.generator.record(micros(latency));
        }
    }
}

/// Replies waiting for the driver. The driver takes them as they come, whatever else it waits for (the probe, a
/// resource sample), so this only fills when bench's own thread is behind; then generators wait to report, which
/// their slot grid turns into skipped slots. 4,096 is seconds of replies at the generator counts runs reach.
const REPLIES: usize = 4096;

/// The generators' replies as they come, and what of them goes on the next row.
struct Replies {
    tx: mpsc::Sender<Reply>,
    rx: mpsc::Receiver<Reply>,
    errors: u32,
    generator_ms: Vec<f64>,
}

impl Replies {
    fn new() -> Replies {
        let (tx, rx) = mpsc::channel(REPLIES);
        Replies { tx, rx, errors: 0, generator_ms: Vec::new() }
    }

    /// Counts `reply` with the run and the next row.
    fn take(&mut self, driven: &mut Driven, reply: &Reply) {
        driven.take(reply);
        self.errors += u32::from(reply.error);
        if let Some(latency) = reply.latency {
            self.generator_ms.push(millis(latency));
        }
    }

    /// Awaits `work`, taking replies meanwhile.
    async fn during<T>(&mut self, driven: &mut Driven, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                done = &mut work => return done,
                Some(reply) = self.rx.recv() => self.take(driven, &reply),
            }
        }
    }

    /// Puts what came in since the last row on `row`.
    fn onto(&mut self, driven: &mut Driven, row: &mut Row) {
        while let Ok(reply) = self.rx.try_recv() {
            self.take(driven, &reply);
        }
        row.errors = std::mem::take(&mut self.errors);
        row.generator_ms = std::mem::take(&mut self.generator_ms);
    }
}

/// Where and how to drive.
pub struct Target<'a> {
    pub load: &'a Load,
    /// The endpoint's websocket.
    pub endpoint: Endpoint,
    /// Where the stack runs, for container samples and faults; `None` for an external deployment without
    /// containers.
    pub platform: Option<&'a Platform>,
    /// The stack's id on that platform (its namespace on Kubernetes; empty for an external deployment).
    pub stack_id: &'a str,
    /// Containers whose resources are sampled (none when the platform cannot sample them).
    pub containers: Vec<String>,
    /// Whether the platform can sample them (a cluster without a metrics API cannot).
    pub samples: bool,
    pub faults: &'a [Fault],
    /// The bank UI, for `probe = "browser"`.
    pub frontend: String,
    /// Open model: the search, and the databases a drain waits on.
    pub search: Option<(&'a Search, Books)>,
    /// The run's own seed (see `run::RunId::seed`).
    pub seed: u64,
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

/// The faults of a run: started at their loops, their marks collected for rows, their windows for the stop rule.
struct Faults<'a> {
    planned: &'a [Fault],
    tasks: Vec<JoinHandle<()>>,
    /// Unbounded by construction: a fault task sends two marks (start and end), and faults are planned in the file.
    marks_tx: mpsc::UnboundedSender<(Instant, Mark)>,
    marks: mpsc::UnboundedReceiver<(Instant, Mark)>,
    windows: faults::Windows,
}

impl<'a> Faults<'a> {
    fn new(planned: &'a [Fault]) -> Faults<'a> {
        let (marks_tx, marks) = mpsc::unbounded_channel();
        Faults { planned, tasks: Vec::new(), marks_tx, marks, windows: faults::Windows::default() }
    }

    /// Starts the faults of `loop_no`; they need the platform (an experiment with faults is refused for an
    /// external deployment).
    fn start(&mut self, platform: Option<&Platform>, stack_id: &str, loop_no: u32) {
        let Some(platform) = platform else { return };
        for fault in self.planned.iter().filter(|f| f.at_loop == loop_no) {
            let on = faults::On { platform: platform.clone(), stack_id: stack_id.to_string() };
            self.tasks.push(faults::spawn(on, fault.clone(), self.marks_tx.clone()));
        }
    }

    /// The marks since the last call, recorded in the windows.
    fn marks(&mut self) -> Vec<Mark> {
        let mut marks = Vec::new();
        while let Ok((at, mark)) = self.marks.try_recv() {
            let grace = self.planned.iter().find(|f| f.target == mark.target).map_or(Duration::ZERO, Fault::grace);
            self.windows.record(at, &mark, grace);
            marks.push(mark);
        }
        marks
    }

    /// Waits until faults still under way have put their containers back, before the audit looks at the books.
    async fn settle(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The state of one run's load loop.
pub struct Driver<'a> {
    target: Target<'a>,
    probe: AnyProbe,
    driven: Driven,
    schedule: Schedule,
    generator: generator::Settings,
    generators: Vec<JoinHandle<()>>,
    replies: Replies,
    stop_generators: CancellationToken,
    faults: Faults<'a>,
    sampler: Sampler,
    cpu_before: Duration,
    /// Open model: the search under way.
    open: Option<OpenLoad>,
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
    // An open run ends when its search does; the closed rules do not apply to it.
    let max_loops = if target.search.is_some() { u32::MAX } else { target.load.max_loops };
    let mut driver = match Driver::start(target, interrupt).await {
        Ok(driver) => driver,
        Err(driven) => return Ok(driven),
    };
    for loop_no in 1..=max_loops {
        let Some(row) = driver.step(loop_no, interrupt).await else {
            driver.driven.ended_by = EndedBy::Interrupt;
            break;
        };
        writer.write(&Line::Row(row.clone()))?;
        status(&driver.status(&row));
        if let Some(open) = driver.open.as_mut() {
            for step in open.finished_steps() {
                writer.write(&Line::Step(Box::new(step)))?;
            }
            if open.is_finished() {
                break;
            }
        } else if driver.too_many_timeouts() {
            driver.driven.ended_by = EndedBy::Timeouts;
            break;
        }
    }
    let mut driver = driver;
    let open = driver.open.take();
    let mut driven = driver.finish().await;
    if let Some(open) = open {
        finish_search(open, &mut driven, writer).await?;
    }
    Ok(driven)
}

impl<'a> Driver<'a> {
    /// Opens the probe (and the open model's pool); a probe that cannot start ends the run as an error before any
    /// loop, and `interrupt` meanwhile ends it as interrupted. Every answer they wait for has a deadline
    /// ([`crate::load::deadline`]), so an endpoint that never speaks ends the run too.
    async fn start(target: Target<'a>, interrupt: &CancellationToken) -> Result<Driver<'a>, Driven> {
        let cpu_before = cpu_time();
        let load = target.load;
        let probe = tokio::select! {
            () = interrupt.cancelled() => return Err(Driven::not_started(EndedBy::Interrupt, None)),
            probe = AnyProbe::start(&target, load) => probe,
        };
        let probe =
            probe.map_err(|e| Driven::not_started(EndedBy::Error, Some(format!("the probe could not start: {e}"))))?;
        let open = match &target.search {
            Some((cfg, read_side)) => Some(start_search(&target, cfg, read_side, interrupt).await?),
            None => None,
        };
        Ok(Driver {
            open,
            probe,
            driven: Driven::new(),
            schedule: Schedule::new(Instant::now(), load.probe_interval()),
            generator: generator::Settings {
                endpoint: target.endpoint.clone(),
                protocol: load.protocol,
                pause: load.transfer_pause(),
            },
            generators: Vec::new(),
            replies: Replies::new(),
            stop_generators: CancellationToken::new(),
            faults: Faults::new(target.faults),
            sampler: Sampler::new(
                target.platform.filter(|_| target.samples).cloned(),
                target.stack_id,
                target.containers.clone(),
            ),
            cpu_before,
            target,
        })
    }

    /// One loop: generators and faults due at it join, the probe runs on its slot, and the row records what
    /// happened since the previous loop. `None` when `interrupt` came first.
    async fn step(&mut self, loop_no: u32, interrupt: &CancellationToken) -> Option<Row> {
        self.join(loop_no);
        let slot = self.schedule.next_slot(Instant::now());
        let (probe, endpoint, load) = (&mut self.probe, &self.target.endpoint, self.target.load);
        let ran = async {
            tokio::select! {
                () = interrupt.cancelled() => None,
                ran = async {
                    tokio::time::sleep_until(slot).await;
                    probe.run(endpoint, load, loop_no, slot).await
                } => Some(ran),
            }
        };
        let (outcome, answered) = self.replies.during(&mut self.driven, ran).await?;
        if let Some((id, answer)) = answered {
            self.driven.counts.transfers += 1;
            self.driven.answers.push(id, &answer);
        }
        let row = self.row(loop_no, outcome, slot).await;
        self.driven.counts.loops = loop_no;
        self.driven.counts.generators = row.generators;
        Some(row)
    }

    /// What is due at loop `loop_no` before its probe: new generators (closed model), faults, a resource sample.
    fn join(&mut self, loop_no: u32) {
        let load = self.target.load;
        let wanted =
            if self.open.is_some() { 0 } else { loop_no / load.loops_per_generator * load.generators_per_step };
        while (self.generators.len() as u32) < wanted {
            let n = self.generators.len() as u32 + 1;
            let replies = self.replies.tx.clone();
            self.generators.push(generator::spawn(
                n,
                self.generator.clone(),
                replies,
                self.stop_generators.child_token(),
            ));
        }
        self.faults.start(self.target.platform, self.target.stack_id, loop_no);
        if loop_no.is_multiple_of(load.resources_every_loops) {
            let offered = self.open.as_ref().map_or(0, OpenLoad::answered);
            self.sampler.start(self.driven.counts.transfers + offered);
        }
    }

    /// The row of loop `loop_no` whose probe ended with `outcome`.
    async fn row(&mut self, loop_no: u32, outcome: Outcome, slot: Instant) -> Row {
        let sampled = self.replies.during(&mut self.driven, self.sampler.take()).await;
        let machine_cpu_pct = sampled.as_ref().and_then(|s| s.machine_cpu_pct);
        let mut row = Row {
            r#loop: loop_no,
            t_ms: chrono::Utc::now().timestamp_millis(),
            probe_ms: None,
            timeout: false,
            generators: self.generators.len() as u32,
            generator_ms: Vec::new(),
            errors: 0,
            resources: sampled.map(|s| s.resources),
            faults: self.faults.marks(),
            rate: None,
            machine_cpu_pct,
        };
        match outcome {
            Outcome::Arrived(latency) => {
                row.probe_ms = Some(millis(latency));
                let _ = self.driven.probe.record(micros(latency));
            }
            Outcome::Timeout(cause) => {
                tracing::debug!(loop_no, "probe timeout: {cause:?}");
                row.timeout = true;
                self.driven.counts.timeouts += 1;
                if self.faults.windows.covers(slot) {
                    self.driven.counts.fault_timeouts += 1;
                }
            }
        }
        self.replies.onto(&mut self.driven, &mut row);
        if let Some(open) = self.open.as_mut() {
            row.rate = Some(open.rate());
            let probe = row.probe_ms.map(|ms| Duration::from_secs_f64(ms / 1000.0));
            open.saw(slot, probe, row.resources.as_ref(), row.machine_cpu_pct);
        }
        row
    }

    fn status(&self, row: &Row) -> Status {
        let c = &self.driven.counts;
        Status {
            loop_no: row.r#loop,
            generators: row.generators,
            last_probe_ms: row.probe_ms,
            timeouts: c.timeouts,
            fault_timeouts: c.fault_timeouts,
            errors: c.errors,
            rate: row.rate,
            interference_pct: self.sampler.interference().map(|i| i.mean_pct),
        }
    }

    /// The stop rule: timeouts outside fault windows above `max_timeouts`.
    fn too_many_timeouts(&self) -> bool {
        let c = &self.driven.counts;
        c.timeouts - c.fault_timeouts > self.target.load.max_timeouts
    }

    /// Stops the generators, lets faults put their containers back, and collects the replies that came in
    /// after the last row: in no row, but the audit must know them. Stopped generators send at most what they
    /// were waiting to report, so the replies end once they have exited (within a few seconds).
    async fn finish(mut self) -> Driven {
        self.stop_generators.cancel();
        let Replies { tx, mut rx, .. } = self.replies;
        drop(tx);
        let driven = &mut self.driven;
        let settle = self.faults.settle();
        tokio::pin!(settle);
        loop {
            tokio::select! {
                () = &mut settle => break,
                Some(reply) = rx.recv() => driven.take(&reply),
            }
        }
        let until = Instant::now() + Duration::from_secs(5);
        while let Ok(Some(reply)) = tokio::time::timeout_at(until, rx.recv()).await {
            driven.take(&reply);
        }
        for task in self.generators {
            task.abort();
        }
        self.driven.bench_cpu = cpu_time().saturating_sub(self.cpu_before);
        self.driven.bench_peak = self.sampler.bench_peak();
        self.driven.interference = self.sampler.interference();
        self.driven
    }
}

/// Opens the open model's pool and starts its search; a pool that cannot be opened ends the run as an error,
/// `interrupt` while it opens as interrupted.
async fn start_search(
    target: &Target<'_>,
    cfg: &Search,
    books: &Books,
    interrupt: &CancellationToken,
) -> Result<OpenLoad, Driven> {
    let pool = tokio::select! {
        () = interrupt.cancelled() => return Err(Driven::not_started(EndedBy::Interrupt, None)),
        pool = open_load::pool(&target.endpoint, target.load) => pool,
    };
    match pool {
        Ok(offerer) => Ok(OpenLoad::start(offerer, cfg.clone(), target.load, books.clone(), target.seed)),
        Err(e) => {
            let error = format!("the open model's connections and accounts could not be opened: {e}");
            Err(Driven::not_started(EndedBy::Error, Some(error)))
        }
    }
}

/// Waits for the search (stopping it if the load was cut short), writes the steps it finished since the last row,
/// and counts its transfers and answers with the run's.
async fn finish_search(open: OpenLoad, driven: &mut Driven, writer: &mut Writer) -> Result<(), ResultsError> {
    let mut open = open;
    let steps = open.finished_steps();
    let searched = open.finish().await;
    for step in steps {
        writer.write(&Line::Step(Box::new(step)))?;
    }
    driven.counts.transfers += searched.answered;
    driven.counts.errors += searched.errors;
    driven.answers.append(searched.answers);
    if driven.ended_by != EndedBy::Interrupt {
        driven.ended_by = searched.ended_by.unwrap_or(EndedBy::Error);
        driven.capacity = searched.capacity;
        driven.capacity_ci95 = searched.capacity_ci95;
        driven.warmup = searched.warmup;
        driven.error = driven.error.take().or(searched.error);
    }
    Ok(())
}

/// The probe of a run: GraphQL (`None` while its connection is being made again) or the browser.
enum AnyProbe {
    Graphql(Option<Probe<Client>>),
    Browser(Box<BrowserProbe>),
}

impl AnyProbe {
    async fn start(target: &Target<'_>, load: &Load) -> Result<AnyProbe, String> {
        match load.probe {
            ProbeKind::Graphql => {
                start_probe(&target.endpoint, load).await.map(|p| AnyProbe::Graphql(Some(p))).map_err(|e| e.to_string())
            }
            ProbeKind::Browser => BrowserProbe::start(&target.frontend, PROBE_USER, load.probe_timeout())
                .await
                .map(|p| AnyProbe::Browser(Box::new(p)))
                .map_err(|e| e.to_string()),
        }
    }

    /// One probe loop. The browser's page reconnects by itself; a GraphQL probe whose connection broke (the
    /// endpoint restarted) reconnects first, and a loop that cannot reconnect is a timeout. Browser answers are
    /// not known to the audit (the page keeps them).
    async fn run(&mut self, endpoint: &Endpoint, load: &Load, loop_no: u32, slot: Instant) -> (Outcome, Answered) {
        let probe = match self {
            AnyProbe::Browser(b) => return (b.run(loop_no, slot).await, None),
            AnyProbe::Graphql(p) => p,
        };
        if probe.is_none() {
            match tokio::time::timeout(load.probe_timeout(), start_probe(endpoint, load)).await {
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
}

/// The GraphQL probe: its connection (bounded in [`Client::connect`]), its account and its transactions, each
/// bounded by [`FIRST_COMMAND`].
async fn start_probe(endpoint: &Endpoint, load: &Load) -> Result<Probe<Client>, ClientError> {
    let url = endpoint.url.as_str();
    let client = Client::connect(endpoint, load.protocol).await?;
    let opened = bank::open_account(&client, PROBE_USER, PROBE_USER);
    let account =
        deadline::within(FIRST_COMMAND, url, || format!("get_account({PROBE_USER}) for the probe"), opened).await?;
    let followed = bank::follow(&client, &account.iban);
    let transactions =
        deadline::within(FIRST_COMMAND, url, || "the probe's stream_transactions subscription".into(), followed)
            .await?;
    Ok(Probe::new(client, account, transactions, load.probe_timeout()))
}
