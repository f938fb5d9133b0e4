//! The records of a results file: one `header`, a `row` per probe loop, one `end`; each line tagged by `kind`.
//! Fields are only ever added (with defaults), so files written by earlier versions still read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::experiment::{Experiment, FaultAction};

/// One line of a results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Line {
    Header(Box<Header>),
    Row(Row),
    /// One step of an open-model run's capacity search, written when the step ends.
    Step(Box<Step>),
    End(Box<End>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Header {
    pub experiment: String,
    pub variant: String,
    /// The variant's complete settings (credentials of an external deployment are never written).
    pub parameters: Experiment,
    /// 1-based index of this run among the variant's repeats.
    pub repeat: u32,
    pub harness_version: String,
    pub git_commit: String,
    /// Image reference -> image id.
    pub images: BTreeMap<String, String>,
    pub host: Host,
    /// RFC 3339.
    pub started_at: String,
    /// Seconds the stack took to come up; absent when bring-up was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_ready_s: Option<f64>,
    /// How bench itself was scheduled (absent in files written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<Scheduling>,
    /// The block the run belongs to: the nightly job that ran it (`--block`), else the host. Variants compared
    /// within blocks that each ran every variant are compared within machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<String>,
    /// Where the stack ran: `kubernetes` or `external`; none for Docker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Why no container's resources were sampled, when the platform could not (a cluster without a metrics API):
    /// rows then carry bench's own only, and the run has no interference figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_unavailable: Option<String>,
    /// Where the run stood in its round: every round runs each variant once, in an order drawn from `seed`
    /// (absent in files written before rounds were shuffled, whose rounds all ran in the file's order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<RoundOrder>,
}

/// A run's place in its round (`repeat` is the round).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoundOrder {
    /// The seed every round's order was drawn from (`bench run --seed` replays it).
    pub seed: u64,
    /// 1-based position of this run in its round.
    pub slot: u32,
    /// Runs in the round.
    pub of: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Host {
    pub hostname: String,
    pub cpus: usize,
    pub mem_mib: u64,
    /// The CPU's model name, from /proc/cpuinfo (absent in older files and where the kernel does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    /// The kernel's release (absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// A fixed workload timed before the stack came up (absent in older files and for runs that did not time it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

/// The same fixed work, timed on one core before a run's stack comes up (so nothing of it is running): what tells
/// a slower machine or day apart from a slower setting. Each figure is the median of `rounds` timings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Calibration {
    /// A fixed integer computation that stays in registers (the core's speed), ms.
    pub cpu_ms: f64,
    /// A fixed walk of dependent reads over 64 MiB (the memory's latency), ms.
    pub memory_ms: f64,
    pub rounds: u32,
}

/// One probe loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Row {
    pub r#loop: u32,
    /// Unix time in ms when the loop ended.
    pub t_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_ms: Option<f64>,
    pub timeout: bool,
    pub generators: u32,
    /// Generator latencies answered since the previous row.
    #[serde(default)]
    pub generator_ms: Vec<f64>,
    /// Generator errors since the previous row.
    #[serde(default)]
    pub errors: u32,
    /// Container (and `bench`) -> resource use, on sampled rows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<BTreeMap<String, Sample>>,
    /// Faults that began or ended during this loop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Mark>,
    /// Open model: the rate offered while this loop ran (transfers per second; 0 while draining).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// On sampled rows: how busy the whole machine was (% of all cores, from /proc/stat) over the window in which
    /// the engine sampled the containers; what `resources` does not account for was used by another program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_cpu_pct: Option<f64>,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    Timeouts,
    MaxLoops,
    Interrupt,
    Error,
    /// Open model: the search found its highest pass and confirmed it.
    Converged,
    /// Open model: `max_rate` passed, so the capacity is at least that (a lower bound).
    MaxRate,
    /// Open model: the latencies of the first warm-up never settled within `warmup_max_s`; no step was measured,
    /// and the run is listed but not averaged.
    Unsettled,
}

impl EndedBy {
    /// Ended by its own rule rather than cut short, so its headline figure counts.
    pub fn by_its_rule(self) -> bool {
        matches!(self, EndedBy::Timeouts | EndedBy::MaxLoops | EndedBy::Converged | EndedBy::MaxRate)
    }

    /// Its headline is a bound, not a measurement: the run stopped at a cap before the system did.
    pub fn censored(self) -> bool {
        matches!(self, EndedBy::MaxLoops | EndedBy::MaxRate)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct End {
    pub ended_by: EndedBy,
    #[serde(flatten)]
    pub counts: Counts,
    /// What went wrong when `ended_by` is `error`, or why the warm-up did not settle (`unsettled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub audit: Audit,
    /// Containers that were no longer running when the load ended, with their last log lines.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stopped: BTreeMap<String, String>,
    /// How each part that stopped, was restarted or had a process killed for memory ended: exit code, killed for
    /// exceeding its memory limit, restarts (absent in files written before it was recorded, and when none did).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endings: BTreeMap<String, crate::ending::Ending>,
    /// CPU time bench itself used during the load, and per 1,000 transfers driven.
    pub bench_cpu_ms: f64,
    pub bench_cpu_ms_per_1000_transfers: f64,
    /// bench's CPU in the sampled window with the most transfers per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench_peak: Option<BenchPeak>,
    pub duration_s: f64,
    /// RFC 3339.
    pub ended_at: String,
    /// Open model: the highest rate whose step passed and was confirmed (transfers per second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_tps: Option<f64>,
    /// Open model, `method = "knee"`: the capacity's 95 % interval within the run, tx/s (low, high).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_ci95_tps: Option<(f64, f64)>,
    /// Open model, in files written before the results crate: the p99 latency the steps were judged against. Now
    /// read from the header's `parameters.search.slo_p99_ms` only, so one value is written once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_p99_ms: Option<f64>,
    /// CPU another program took from the machine during the run (absent when nothing was sampled, and in files
    /// written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interference: Option<Interference>,
    /// Open model: how the first warm-up went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Warmup>,
    /// Share of all cores' time the hypervisor gave to other guests while the load ran (/proc/stat's steal), %
    /// (absent in older files and without /proc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_pct: Option<f64>,
}

/// The first warm-up of an open run: how long it took, and whether the system settled in it. Since the
/// steady-state rule (MSER-5 over per-second mean latencies), `settled` means its latencies stopped trending, and a
/// run whose warm-up did not settle ended `unsettled`; in older files it meant three 2-second windows in a row met
/// the SLO, and the run went on either way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Warmup {
    pub seconds: f64,
    pub settled: bool,
    /// Seconds into the warm-up from which its latencies were steady (the transient MSER-5 cut off); absent when it
    /// did not settle, and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_from_s: Option<f64>,
}

/// Share of the whole machine's CPU, % of all cores, used by neither the stack's containers nor bench, over the
/// run's resource samples: busy CPU from /proc/stat minus every container's and bench's over the same window.
/// Much above a few % means another program shared the machine and the run's figures may be disturbed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Interference {
    pub mean_pct: f64,
    pub max_pct: f64,
    pub samples: u32,
}

/// What the load counted, in the end line (and as the run drives, in the driver).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Counts {
    pub loops: u32,
    pub timeouts: u32,
    /// Of those, timeouts inside a fault's window (not counted towards `max_timeouts`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fault_timeouts: u32,
    /// Generators running at the end: the load the run sustained.
    pub generators: u32,
    /// Transfers answered (probe and generators).
    pub transfers: u64,
    pub errors: u64,
}

/// bench's own CPU in one window between resource samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BenchPeak {
    pub transfers_per_s: f64,
    /// A share of the whole machine, as container samples are.
    pub cpu_pct: f64,
    pub cpu_ms_per_1000_transfers: f64,
}

impl BenchPeak {
    /// How busy bench's one thread was, in % of a core.
    pub fn core_pct(&self) -> f64 {
        self.transfers_per_s * self.cpu_ms_per_1000_transfers / 1e4
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl End {
    /// One sentence per part in [`End::stopped`], in its order: `kgb-graphql-endpoint was killed for exceeding
    /// its memory limit (OOMKilled), exit code 137`. Files written before endings were recorded say only that the
    /// part was no longer running.
    pub fn part_notes(&self) -> Vec<String> {
        let how = |name: &String| {
            self.endings.get(name).map_or_else(|| "was no longer running at the end".to_string(), ToString::to_string)
        };
        self.stopped.keys().map(|name| format!("{name} {}", how(name))).collect()
    }

    /// The end line of a run interrupted while its stack was coming up: nothing was measured or audited.
    pub fn interrupted_before_load() -> End {
        End {
            ended_by: EndedBy::Interrupt,
            counts: Counts::default(),
            error: None,
            audit: Audit::not_done("interrupted during bring-up"),
            stopped: BTreeMap::new(),
            endings: BTreeMap::new(),
            bench_cpu_ms: 0.0,
            bench_cpu_ms_per_1000_transfers: 0.0,
            bench_peak: None,
            duration_s: 0.0,
            ended_at: chrono::Utc::now().to_rfc3339(),
            capacity_tps: None,
            capacity_ci95_tps: None,
            slo_p99_ms: None,
            interference: None,
            warmup: None,
            steal_pct: None,
        }
    }
}

/// A container's (or bench's own) resource use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sample {
    /// Share of the whole machine's CPU since the previous sample, in percent.
    pub cpu_pct: f64,
    /// Memory in use minus page cache, in MiB.
    pub mem_mib: f64,
}

/// Whether a fault mark is its beginning or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Edge {
    Start,
    End,
}

/// A fault beginning or ending, on the row of the loop it happened in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mark {
    pub target: String,
    pub action: FaultAction,
    pub edge: Edge,
    /// The engine refused (the fault may not have happened, or the container may not be back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The audit's verdict: one boolean per rule, and the numbers behind them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Audit {
    pub passed: bool,
    /// Sum of balances = start + inflows − outflows.
    pub money_conserved: bool,
    /// Each confirmed transfer produced one BalanceChanged per account of this bank it touched, a failed one none.
    pub events_produced: bool,
    /// db-ge holds exactly one transaction per BalanceChanged, showing what the event says.
    pub events_stored_once: bool,
    /// No transfer a client saw confirmed was failed in the bank, or the other way round.
    pub no_transfer_confirmed_and_failed: bool,
    pub balance_sum: i64,
    pub expected_sum: i64,
    pub confirmed_transfers: i64,
    pub transfers_with_wrong_events: i64,
    pub events_missing_in_db_ge: usize,
    pub rows_without_event: usize,
    /// db-ge rows whose account, balance, amount, party or description is not their event's (absent in files
    /// from before the audit compared them).
    #[serde(default)]
    pub rows_differing_from_event: usize,
    pub answers_checked: usize,
    pub answers_contradicted: usize,
    /// Why the audit could not run, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Audit {
    /// A failed audit that could not look at the books.
    pub fn not_done(why: impl Into<String>) -> Audit {
        Audit { error: Some(why.into()), ..Audit::default() }
    }

    /// The rules that failed, for the summary (empty when passed).
    pub fn failures(&self) -> Vec<&'static str> {
        if self.error.is_some() {
            return vec!["not done"];
        }
        [
            (self.money_conserved, "money not conserved"),
            (self.events_produced, "events missing"),
            (self.events_stored_once, "db-ge rows differ from events"),
            (self.no_transfer_confirmed_and_failed, "answers contradict the bank"),
        ]
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, what)| what)
        .collect()
    }
}

/// One step of a capacity search: one rate offered for a warm-up and a dwell; the figures are over the transfers
/// scheduled in the dwell. A latency quantile that falls on timeouts is absent (slower than the timeout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    /// 1-based, in the order the steps ran.
    pub step: u32,
    /// The rate offered (transfers per second).
    pub rate: f64,
    /// Transfers answered within the timeout, per second of dwell.
    pub achieved: f64,
    pub sent: u64,
    pub answered: u64,
    /// Wrong answers, and transfers the connection lost.
    pub errors: u64,
    /// No answer within the timeout.
    pub timeouts: u64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub passed: bool,
    /// This step repeated the highest pass to confirm it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirming: bool,
    /// How late bench sent the dwell's transfers behind their schedule: p99 and maximum (ms).
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    /// Seconds judged: less than the search's `dwell_s` when the step was stopped because it had failed already
    /// (more transfers slower than the SLO than its p99 allows).
    pub dwell_s: f64,
    /// Seconds the system took to drain after this step (failed steps only; every step of the knee search).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_s: Option<f64>,
    /// Whether that drain was verified within `drain_timeout_s`: nothing of bench's in flight, one answer per
    /// account, the read side caught up (absent without a drain, and in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drained: Option<bool>,
    /// Measured after a drain that was not verified, so its backlog may have counted against it: the knee search
    /// leaves it out of its fit and measures the rate again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub left_out: bool,
    /// The state the step ran on: transfers the bank had answered in this run before the step began (warm-up,
    /// earlier steps and drains; absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<u64>,
    /// Unix time in ms when the step was judged: after its dwell and the wait for the dwell's last answers.
    pub t_ms: i64,
    /// The probe over the dwell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeFigures>,
    /// Mean resource use of each container (and bench) over the samples taken in the dwell.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, Sample>,
    /// Mean busy CPU of the whole machine (% of all cores) over the samples taken in the dwell, as on rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_cpu_pct: Option<f64>,
}

/// The probe's figures over one step's dwell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeFigures {
    pub loops: u32,
    pub timeouts: u32,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// How bench is scheduled while it measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scheduling {
    /// SCHED_RR at priority 1: bench runs whenever it is runnable.
    RealTime,
    /// nice -10: favoured by the fair scheduler, not guaranteed.
    Nice,
    /// Neither was allowed (not root, no CAP_SYS_NICE): bench's own delays may show in its latencies.
    Normal,
}
