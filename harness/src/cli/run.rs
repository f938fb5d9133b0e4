//! `bench run <experiment> [--repeat N] [--variant NAME]... [--results DIR] [--platform docker|external|kubernetes]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bench_results::{BenchPeak, Interference, Scheduling};
use harness::experiment::ExperimentFile;
use harness::experiment::External;
use harness::run::{self, Interrupts, Observer, Status, Summary, Target};
use stack::Platform;

use super::platform::PlatformArgs;
use super::progress::Progress;
use super::signals::{self, Signals};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Experiment file (TOML).
    experiment: PathBuf,
    /// Rounds, each running every variant once in a shuffled order (default: the file's `repeat`).
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
    /// docker: a fresh stack per run; kubernetes: a fresh stack per run in a namespace of its own on a cluster,
    /// placed by the file's [kubernetes]; external: measure the running deployment named in the file's [external].
    #[command(flatten)]
    platform: PlatformArgs,
    /// How bench schedules itself: nice (-10: its lag stays a few ms on a machine the stack saturates), real-time
    /// (lag near 1 ms, but preempting the stack at every wake-up costs it capacity), or normal (bench waits behind
    /// the stack and its own delays show in the latencies it measures).
    #[arg(long, value_enum, default_value_t = Priority::Nice)]
    priority: Priority,
    /// The block these runs belong to (a nightly job: `bench matrix --blocks`), recorded in each header and in
    /// the results files' names; default: the host's name, in the header only.
    #[arg(long, value_parser = block)]
    block: Option<String>,
    /// Seed of the rounds' order: each round runs every variant once, in an order drawn from it (recorded in
    /// each header). Default: drawn at random, and printed.
    #[arg(long)]
    seed: Option<u64>,
}

/// Blocks name files: the names' rule (refused by clap, so with exit code 2).
fn block(text: &str) -> Result<String, bench_results::names::NameError> {
    bench_results::names::check(bench_results::names::Kind::Block, text).map(|()| text.to_string())
}

/// `--priority`, as the results header's [`Scheduling`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Priority {
    RealTime,
    Nice,
    Normal,
}

impl From<Priority> for Scheduling {
    fn from(p: Priority) -> Scheduling {
        match p {
            Priority::RealTime => Scheduling::RealTime,
            Priority::Nice => Scheduling::Nice,
            Priority::Normal => Scheduling::Normal,
        }
    }
}

/// What bench says at the first, second and later signals during runs.
const RUN_SIGNALS: Signals = [
    "interrupted: stopping, writing the end line, removing the stack (again to skip the audit)",
    "interrupted again: skipping the audit; the stack is still being removed",
    "still removing the stack; if bench is killed, `bench down --all` (with --platform kubernetes for a cluster) removes what is left",
];

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = ExperimentFile::load(&args.experiment)?;
    let variants = file.select(&args.variants)?;
    let repeat = args.repeat.unwrap_or(file.experiment.repeat);
    args.platform.check("run");
    let external = args.platform.accepts(&file, &variants)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    if args.dry_run {
        print_dry_run(&file, &variants, repeat, seed, &args.results, external);
        return Ok(ExitCode::SUCCESS);
    }
    let platform = match external {
        // An external deployment needs the engine only to sample the containers it names.
        Some(e) if !e.containers.is_empty() => Some(Platform::docker().await?),
        _ => args.platform.connect().await?,
    };
    let target = match (external, &platform) {
        (Some(e), sampler) => Target::External(e, sampler.as_ref()),
        (None, Some(platform)) => Target::Fresh(platform),
        (None, None) => anyhow::bail!("a fresh stack needs a platform"),
    };
    let interrupts = Interrupts::default();
    let received = signals::listen(interrupts.clone(), RUN_SIGNALS)?;
    if run::priority::raise(args.priority.into()) != Scheduling::from(args.priority) {
        eprintln!(
            "warning: bench could not get the --priority asked for (run it as root or with CAP_SYS_NICE): on a machine the stack saturates, its own delays then show in the latencies it measures"
        );
    }

    let order = run::order(&variants, repeat, seed);
    if variants.len() > 1 {
        eprintln!("rounds in an order drawn from seed {seed} (`--seed {seed}` replays it)");
    }
    let mut finished = Vec::new();
    for (i, planned) in order.iter().enumerate() {
        let (r, variant) = (&planned.round, planned.variant);
        let title = format!("[{}/{}] {} {} #{r}", i + 1, order.len(), file.experiment.name, variant.name);
        let load = &variant.experiment.load;
        let bar = Progress::counting(&title, u64::from(load.max_loops));
        let stage = |s: String| bar.set(s);
        let status = |s: &Status| bar.step(u64::from(s.loop_no), status_line(s, load.max_timeouts), 20);
        let observer = Observer { stage: &stage, status: &status };
        let repeat = run::Repeat { number: *r, order: planned.order, block: args.block.as_deref() };
        let outcome = run::run_one(target, &file, variant, repeat, &args.results, &interrupts, &observer).await;
        bar.finish();
        let f = outcome
            .with_context(|| format!("run {} of {} (variant {}, repeat {r})", i + 1, order.len(), variant.name))?;
        eprintln!("{}", one_line(&f));
        if let Some(error) = &f.end.error {
            eprintln!("  error: {error}");
        }
        finished.push(f);
        if interrupts.interrupted() {
            break;
        }
    }
    print_summary(&file.experiment.name, &args.results, &finished);
    if interrupts.interrupted() {
        return Ok(received.exit_code());
    }
    let complete = finished.len() == order.len();
    Ok(if complete && finished.iter().all(Summary::ok) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_dry_run(
    file: &ExperimentFile,
    variants: &[harness::experiment::Variant],
    repeat: u32,
    seed: u64,
    results: &Path,
    external: Option<&External>,
) {
    super::dry_run::print(file, variants, repeat, seed, results);
    if let Some(e) = external {
        println!(
            "platform external: {} (audit against {} and {}); nothing is brought up or removed",
            e.graphql,
            super::redact::password(&e.db_ch),
            super::redact::password(&e.db_ge)
        );
    }
}

fn one_line(f: &Summary) -> String {
    let e = &f.end;
    let audit = if e.audit.passed {
        "audit passed".to_string()
    } else {
        format!("AUDIT FAILED: {}", e.audit.failures().join(", "))
    };
    let interference = e.interference.as_ref().map(|i| format!(", {}", interference(i))).unwrap_or_default();
    format!(
        "  {} #{}: {}, {} loops, ended by {:?}, probe p99 {:.0} ms, {} transfers, {audit}{interference}",
        f.variant,
        f.repeat,
        headline(e, f.slo_p99_ms),
        e.counts.loops,
        e.ended_by,
        f.probe.p99_ms,
        e.counts.transfers
    )
}

/// Mean interference above which another program is taken to have shared the machine (what the report flags too):
/// the engine's and the kernel's own work leave a little even on a quiet machine.
const INTERFERENCE_WARNING: f64 = 5.0;

/// The run's interference in words, with a warning when it is above [`INTERFERENCE_WARNING`].
fn interference(i: &Interference) -> String {
    let mean = format!("interference {:.1} % of the machine (mean)", i.mean_pct);
    if i.mean_pct > INTERFERENCE_WARNING {
        format!("{mean} — another program shared the machine; results may be disturbed")
    } else {
        mean
    }
}

/// What the run sustained: its capacity (open model) or its generators, "≥" when that is a lower bound.
fn headline(e: &bench_results::End, slo_p99_ms: Option<f64>) -> String {
    let at_least = if e.ended_by.censored() { "≥ " } else { "" };
    let cold = match e.warmup {
        Some(w) if !w.settled => format!(" (the warm-up's latencies had not settled after {:.0} s)", w.seconds),
        _ => String::new(),
    };
    match (e.capacity_tps, slo_p99_ms) {
        (Some(c), Some(slo)) => {
            let ci = e.capacity_ci95_tps.map_or(String::new(), |(lo, hi)| format!(" (95 % CI {lo:.0}–{hi:.0})"));
            format!("capacity {at_least}{c:.0} tx/s{ci} at p99 ≤ {slo} ms{cold}")
        }
        (None, Some(slo)) => format!("no capacity found at p99 ≤ {slo} ms{cold}"),
        _ => format!("{at_least}{} generators", e.counts.generators),
    }
}

/// A latency cell: "-" when nothing was measured (an open run has no generators).
fn ms(latency: &harness::run::Latency, value: f64) -> String {
    if latency.n == 0 {
        "-".to_string()
    } else {
        format!("{value:.0} ms")
    }
}

/// The summary table's "sustained" cell: generators, or capacity in tx/s; "≥" for a lower bound.
fn sustained(e: &bench_results::End, slo_p99_ms: Option<f64>) -> String {
    let at_least = if e.ended_by.censored() { "≥" } else { "" };
    match e.capacity_tps {
        Some(c) => format!("{at_least}{c:.0} tx/s"),
        None if slo_p99_ms.is_some() => "-".to_string(),
        None => format!("{at_least}{} gens", e.counts.generators),
    }
}

/// bench's share of the machine above which the stack it measures has noticeably less.
const BENCH_SHARE_WARNING: f64 = 10.0;
/// How busy bench's one thread may be before its own queueing shows in the latencies it measures.
const BENCH_THREAD_WARNING: f64 = 50.0;

/// Warnings naming the run where bench took the most, when it took too much: of the machine (which matters on
/// small machines), or of its one thread (which matters on large ones, where its share of the machine stays small).
fn bench_warnings(finished: &[Summary]) -> Vec<String> {
    let peaks: Vec<_> = finished.iter().filter_map(|f| f.end.bench_peak.map(|p| (f, p))).collect();
    // The run with the largest `share`, if that share is above `limit`.
    let worst = |share: fn(&BenchPeak) -> f64, limit: f64| {
        peaks.iter().max_by(|a, b| share(&a.1).total_cmp(&share(&b.1))).filter(|(_, p)| share(p) > limit)
    };
    let mut warnings = Vec::new();
    if let Some((f, p)) = worst(|p| p.cpu_pct, BENCH_SHARE_WARNING) {
        warnings.push(format!(
            "warning: in {} #{} bench itself used {:.1} % of the machine at {:.0} transfers/s; the stack had that much \
             less (more than {BENCH_SHARE_WARNING} % can lower the load it sustains)",
            f.variant, f.repeat, p.cpu_pct, p.transfers_per_s
        ));
    }
    if let Some((f, p)) = worst(BenchPeak::core_pct, BENCH_THREAD_WARNING) {
        warnings.push(format!(
            "warning: in {} #{} bench's one thread was busy {:.0} % of the time at {:.0} transfers/s; above \
             {BENCH_THREAD_WARNING} % its own delays start to show in the latencies it measures",
            f.variant,
            f.repeat,
            p.core_pct(),
            p.transfers_per_s
        ));
    }
    warnings
}

fn print_summary(experiment: &str, results: &Path, finished: &[Summary]) {
    if finished.is_empty() {
        println!("no run finished");
        return;
    }
    println!("\n{experiment}: {} run(s), results in {}", finished.len(), results.join(experiment).display());
    println!(
        "{:<24} {:>3} {:>12} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}  ended by / audit",
        "variant",
        "#",
        "sustained",
        "loops",
        "timeouts",
        "probe p50",
        "probe p99",
        "gen p50",
        "gen p99",
        "transfers",
        "peak/s",
        "bench"
    );
    for f in finished {
        let e = &f.end;
        let audit =
            if e.audit.passed { "passed".to_string() } else { format!("FAILED ({})", e.audit.failures().join(", ")) };
        let (peak, bench) = e.bench_peak.map_or(("-".to_string(), "-".to_string()), |p| {
            (format!("{:.0}", p.transfers_per_s), format!("{:.1} %", p.cpu_pct))
        });
        println!(
            "{:<24} {:>3} {:>12} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}  {:?} / {audit}",
            f.variant,
            f.repeat,
            sustained(e, f.slo_p99_ms),
            e.counts.loops,
            e.counts.timeouts,
            ms(&f.probe, f.probe.p50_ms),
            ms(&f.probe, f.probe.p99_ms),
            ms(&f.generator, f.generator.p50_ms),
            ms(&f.generator, f.generator.p99_ms),
            e.counts.transfers,
            peak,
            bench,
            e.ended_by
        );
    }
    println!(
        "  peak/s: transfers per second in the busiest sampled window; bench: its own CPU there, % of the machine"
    );
    for warning in bench_warnings(finished) {
        println!("  {warning}");
    }
    let disturbed = finished
        .iter()
        .filter_map(|f| f.end.interference.map(|i| (f, i)))
        .filter(|(_, i)| i.mean_pct > INTERFERENCE_WARNING);
    for (f, i) in disturbed {
        println!(
            "  warning: in {} #{} {} (max {:.1} %, {} samples)",
            f.variant,
            f.repeat,
            interference(&i),
            i.max_pct,
            i.samples
        );
    }
    for f in finished {
        println!("  {}", f.path.display());
        for (note, logs) in f.end.part_notes().iter().zip(f.end.stopped.values()) {
            println!("    {note}; its last log lines:");
            for line in logs.lines() {
                println!("      {line}");
            }
        }
    }
}

/// The progress line after each loop: generators, the probe, timeouts against the limit, errors.
fn status_line(s: &Status, max_timeouts: u32) -> String {
    let probe = s.last_probe_ms.map_or_else(|| "timeout".to_string(), |ms| format!("{ms:.0} ms"));
    // Shown as it goes, so a run disturbed by another program can be stopped early.
    let others = s.interference_pct.map(|pct| format!(" · interference {pct:.1} %")).unwrap_or_default();
    if let Some(rate) = s.rate {
        return format!("offering {rate:.0} tx/s · probe {probe} · probe timeouts {}{others}", s.timeouts);
    }
    let faults =
        if s.fault_timeouts > 0 { format!(" (+{} in fault windows)", s.fault_timeouts) } else { String::new() };
    let counted = s.timeouts - s.fault_timeouts;
    format!(
        "generators {} · probe {probe} · timeouts {counted}/{max_timeouts}{faults} · errors {}{others}",
        s.generators, s.errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_results::End;

    fn finished(repeat: u32, peak: Option<(f64, f64, f64)>) -> Summary {
        let mut end = End::interrupted_before_load();
        end.bench_peak = peak.map(|(transfers_per_s, cpu_pct, cpu_ms_per_1000_transfers)| BenchPeak {
            transfers_per_s,
            cpu_pct,
            cpu_ms_per_1000_transfers,
        });
        Summary {
            variant: "v".into(),
            repeat,
            path: "r.jsonl".into(),
            end,
            slo_p99_ms: None,
            probe: Default::default(),
            generator: Default::default(),
        }
    }

    #[test]
    fn the_summary_warns_about_the_run_where_bench_took_most() {
        // 975/s at 102 ms per 1,000: 10 % of a core, 5 % of a 2-core machine.
        assert_eq!(bench_warnings(&[finished(1, Some((975.0, 5.0, 102.0))), finished(2, None)]), Vec::<String>::new());
        let runs =
            [finished(1, Some((900.0, 12.0, 100.0))), finished(2, Some((900.0, 17.5, 100.0))), finished(3, None)];
        let warnings = bench_warnings(&runs);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("warning: in v #2 bench itself used 17.5 % of the machine at 900 transfers/s"));
        // A 32-core machine: 6,000/s at 100 ms per 1,000 is 60 % of bench's thread but 1.9 % of the machine.
        let warnings = bench_warnings(&[finished(4, Some((6000.0, 1.9, 100.0)))]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0]
            .starts_with("warning: in v #4 bench's one thread was busy 60 % of the time at 6000 transfers/s"));
    }

    #[test]
    fn interference_above_five_percent_is_a_warning() {
        let quiet = Interference { mean_pct: 1.24, max_pct: 3.0, samples: 5 };
        assert_eq!(interference(&quiet), "interference 1.2 % of the machine (mean)");
        let shared = Interference { mean_pct: 7.3, max_pct: 20.0, samples: 5 };
        assert_eq!(
            interference(&shared),
            "interference 7.3 % of the machine (mean) — another program shared the machine; results may be disturbed"
        );
    }
}
