//! `cargo bench -p harness --bench memory`: does bench's memory stay flat over a long load? The open model's real
//! offerer ([`Offerer`] over [`Client`]s) runs against an endpoint double that answers at once, every answer booked
//! for the audit as a run books it (an [`AnswerLog`] on disk), and bench's resident memory (VmRSS, and the peak
//! VmHWM) is printed at the start, after every tenth of the run, and at the end. BENCH_KEEP=vec keeps the answers
//! in a `Vec` instead, as bench did before, for comparison. BENCH_RATE (default 5000 tx/s), BENCH_SECONDS (120),
//! BENCH_CONNECTIONS (16), BENCH_PROTOCOL (graphql-ws, the default, or graphql-transport-ws).

mod common;

use std::time::Duration;

use harness::audit::AnswerLog;
use harness::experiment::{Arrivals, Protocol};
use harness::load::bank::Answer;
use harness::load::open::{Done, Fate, Schedule, Tag};
use tokio::time::Instant;
use uuid::Uuid;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// (VmRSS, VmHWM) of this process in MiB.
fn resident() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
    };
    (kib("VmRSS:").unwrap_or(f64::NAN) / 1024.0, kib("VmHWM:").unwrap_or(f64::NAN) / 1024.0)
}

/// Where the answers go: the run's log, or (for comparison) all of them in memory.
enum Kept {
    Log(AnswerLog),
    Vec(Vec<(Uuid, Answer)>),
}

impl Kept {
    fn push(&mut self, id: Uuid, answer: &Answer) {
        match self {
            Kept::Log(log) => log.push(id, answer),
            Kept::Vec(all) => all.push((id, answer.clone())),
        }
    }

    fn describe(&self) -> String {
        match self {
            Kept::Log(log) => format!("{} answers, {} KiB of them in memory", log.len(), log.in_memory() / 1024),
            Kept::Vec(all) => format!("{} answers, all in memory", all.len()),
        }
    }
}

async fn run(
    url: &str,
    protocol: Protocol,
    connections: u32,
    rate: f64,
    seconds: u64,
    mut kept: Kept,
) -> anyhow::Result<()> {
    let mut offerer = common::offerer(url, protocol, connections).await?;
    let mut schedule = Schedule::new(Arrivals::Uniform, 1);
    let tag = Tag { step: 1, judged: true };
    let (rss, peak) = resident();
    println!("  start: {rss:>7.1} MiB resident (peak {peak:.1})");
    let began = Instant::now();
    schedule.set_rate(rate, began);
    let (mut answered, mut wrong) = (0u64, 0u64);
    let mut book = |d: Done| {
        if let Fate::Answered { right, id, answer, .. } = &d.fate {
            answered += 1;
            wrong += u64::from(!right);
            kept.push(*id, answer);
        }
        false
    };
    for tenth in 1..=10u32 {
        offerer.offer(&mut schedule, began + Duration::from_secs(seconds) * tenth / 10, tag, &mut book).await;
        let (rss, peak) = resident();
        println!("  {:>4.0} s: {rss:>7.1} MiB resident (peak {peak:.1})", began.elapsed().as_secs_f64());
    }
    offerer.empty(Instant::now() + Duration::from_secs(5), &mut book).await;
    let (rss, peak) = resident();
    println!(
        "  end:   {rss:>7.1} MiB resident (peak {peak:.1}); {answered} answered ({wrong} wrong); {}",
        kept.describe()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let rate: f64 = env("BENCH_RATE", "5000").parse()?;
    let seconds: u64 = env("BENCH_SECONDS", "120").parse()?;
    let connections: u32 = env("BENCH_CONNECTIONS", "16").parse()?;
    let protocol = match env("BENCH_PROTOCOL", "graphql-ws").as_str() {
        "graphql-transport-ws" => Protocol::GraphqlTransportWs,
        _ => Protocol::GraphqlWs,
    };
    let kept = match env("BENCH_KEEP", "log").as_str() {
        "vec" => Kept::Vec(Vec::new()),
        _ => Kept::Log(AnswerLog::new()),
    };
    let url = harness::testing::double::endpoint(Duration::ZERO)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    println!(
        "{rate:.0} tx/s for {seconds} s over {connections} connections ({protocol:?}) against a double; answers kept in {}",
        if matches!(kept, Kept::Vec(_)) { "a Vec" } else { "an AnswerLog" }
    );
    runtime.block_on(run(&url, protocol, connections, rate, seconds, kept))
}
