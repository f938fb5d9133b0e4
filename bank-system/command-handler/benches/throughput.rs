//! Sustained ConfirmMoneyTransfer handling on a real 3-broker stack (linger.ms=0, acks=all), the handler in
//! its container with its memory limit:
//! - warm-up: 10,000 transfers, not measured (the brokers' JIT);
//! - saturation: N transfers produced as fast as possible, commands per second from first send to last feedback;
//! - paced: 1,000 transfers/s for 10 s, p50/p99 from command produced to feedback consumed;
//! - the handler's memory (usage minus page cache) sampled every second, maximum reported.
//!
//! `cargo bench -p command-handler --bench throughput` (needs scripts/setup: engine and images).

#[path = "../tests/suite/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_results::experiment::stack::StackSettings;
use common::Client;
use futures_util::future::join_all;
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use stack::docker::{container, stats};
use stack::{Options, Owner, Services, Stack};
use uuid::Uuid;

const ACCOUNTS: usize = 200;
const WARM_UP: usize = 10_000;
const SATURATION: usize = 20_000;
const PACED_RATE: u64 = 1_000;
const PACED_SECONDS: u64 = 10;

#[tokio::main]
async fn main() {
    // BENCH_BROKERS=1 isolates the cost of replication on this machine.
    let brokers: u32 = std::env::var("BENCH_BROKERS").ok().and_then(|b| b.parse().ok()).unwrap_or(3);
    // BENCH_STACK='kafka_jvm_opts = "..."' adds lines to the stack's table, to try broker settings.
    let extra = std::env::var("BENCH_STACK").unwrap_or_default().replace("\\n", "\n");
    let settings: StackSettings = toml::from_str(&format!("brokers = {brokers}\n{extra}\n")).expect("stack settings");
    let docker = stack::docker::connect().await.expect("a Docker engine (scripts/setup)");
    let options = Options { owner: Owner::Run, services: Services::SynchronizerOnly, reports: None };
    let stack = Stack::up(&docker, &settings, options, &|_| {}).await.expect("stack");
    let part = stack.plan.services.iter().find(|p| p.spec.name == "kgb-command-handler").expect("planned").clone();
    let mut spec = part.spec.clone();
    // HANDLER_ENV="KAFKA_PRODUCER_COMPRESSION_TYPE=lz4,..." tries settings without an experiment file.
    for pair in std::env::var("HANDLER_ENV").unwrap_or_default().split(',').filter(|p| !p.is_empty()) {
        if let Some((k, v)) = pair.split_once('=') {
            spec.env.retain(|(key, _)| key != k);
            spec.env.push((k.to_string(), v.to_string()));
        }
    }
    if let Ok(workers) = std::env::var("HANDLER_WORKERS") {
        spec.env.push(("WORKERS".into(), workers));
    }
    if let Ok(filter) = std::env::var("HANDLER_LOG") {
        spec.env.retain(|(k, _)| k != "RUST_LOG");
        spec.env.push(("RUST_LOG".into(), filter));
    }
    container::start(&docker, &spec).await.expect("handler starts");
    stack.wait_for(&part.wait).await.expect("handler ready");
    println!(
        "stack: {brokers} broker(s), 24 partitions, linger.ms=0, acks=all; handler memory limit {:?} MiB",
        part.spec.memory_mib
    );

    let mut receiver = Client::feedback_only(&stack).await;
    let sender = Client::new(&stack).await;
    let mut accounts = Vec::new();
    let ids: Vec<Uuid> = join_all((0..ACCOUNTS).map(|i| sender.open_account_key(format!("b{i}")))).await;
    for r in receiver.wait_for(&ids, Duration::from_secs(60)).await {
        if let topology::records::Record::AccountCreationConfirmed { iban, token, .. } = r {
            accounts.push((iban, token));
        }
    }
    let deposits: Vec<Uuid> = join_all(accounts.iter().enumerate().map(|(i, (iban, _))| {
        sender.transfer_owned(format!("b{i}"), "cash".into(), 1_000_000_000, "cash".into(), iban.clone())
    }))
    .await;
    receiver.wait_for(&deposits, Duration::from_secs(60)).await;

    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        let name = part.spec.name.clone();
        tokio::spawn(async move {
            let docker = stack::docker::connect().await.expect("engine");
            let mut max: f64 = 0.0;
            while sampling.load(Ordering::Relaxed) {
                if let Ok(Some(s)) = stats::sample(&docker, &name).await {
                    max = max.max(s.mem_mib);
                }
            }
            max
        })
    };

    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut next = move || {
        let from = rng.gen_range(0..ACCOUNTS);
        let to = (from + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
        (from, to, rng.gen_range(1..10_000i64))
    };

    // Warm-up, not measured: fresh brokers spend their first tens of seconds compiling (JIT) and the target is
    // sustained handling.
    let warm_up: Vec<_> = (0..WARM_UP).map(|_| next()).collect();
    let warm = Instant::now();
    let ids: Vec<Uuid> = join_all(warm_up.iter().map(|(f, t, a)| {
        sender.transfer_owned(
            format!("b{f}"),
            accounts[*f].1.clone(),
            *a,
            accounts[*f].0.clone(),
            accounts[*t].0.clone(),
        )
    }))
    .await;
    receiver.wait_for(&ids, Duration::from_secs(300)).await;
    println!("warm-up: {WARM_UP} transfers answered in {:.1} s (not measured)", warm.elapsed().as_secs_f64());

    // Saturation, measured at the handler: commands done (applied, events acknowledged, offset stored)
    // against the clock.
    let stats_url = stack.plan.endpoints.command_handler_health.replace("/health", "/stats");
    let acknowledged = move || {
        let url = stats_url.clone();
        async move {
            let snapshot: serde_json::Value = reqwest::get(&url).await.expect("stats").json().await.expect("json");
            snapshot["acknowledged"].as_u64().expect("acknowledged counter")
        }
    };
    let before = acknowledged().await;
    let watcher = tokio::spawn({
        let acknowledged = acknowledged.clone();
        async move {
            let mut first = None;
            loop {
                let n = acknowledged().await - before;
                if n > 0 && first.is_none() {
                    first = Some((Instant::now(), n));
                }
                if n >= SATURATION as u64 {
                    let (t0, n0) = first.expect("started");
                    return (n - n0) as f64 / t0.elapsed().as_secs_f64();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let plan: Vec<_> = (0..SATURATION).map(|_| next()).collect();
    let start = Instant::now();
    let ids: Vec<Uuid> = join_all(plan.iter().map(|(f, t, a)| {
        sender.transfer_owned(
            format!("b{f}"),
            accounts[*f].1.clone(),
            *a,
            accounts[*f].0.clone(),
            accounts[*t].0.clone(),
        )
    }))
    .await;
    let produced = start.elapsed();
    receiver.wait_for(&ids, Duration::from_secs(300)).await;
    let last = ids.iter().filter_map(|id| receiver.received_at.get(id)).max().copied().unwrap_or_else(Instant::now);
    let elapsed = last - start;
    let handler_rate = watcher.await.expect("watcher");
    println!(
        "saturation: {SATURATION} transfers produced in {:.2} s, all answered in {:.2} s ({:.0}/s end to end); the handler completed {handler_rate:.0} commands/s",
        produced.as_secs_f64(),
        elapsed.as_secs_f64(),
        SATURATION as f64 / elapsed.as_secs_f64()
    );

    // Paced: one transfer every 1/PACED_RATE s, latency from produce call to feedback read. The feedback is
    // read while sending, so a reading is when the answer arrived, not when the sending ended.
    let expected = receiver.feedback.len() + (PACED_RATE * PACED_SECONDS) as usize;
    let reading = tokio::spawn(async move {
        receiver.wait_for_total(expected, Duration::from_secs(300)).await;
        receiver
    });
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut sent_at = Vec::new();
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / PACED_RATE));
    let mut tasks = Vec::new();
    let sender = Arc::new(sender);
    let paced_start = Instant::now();
    for _ in 0..PACED_RATE * PACED_SECONDS {
        interval.tick().await;
        let (f, t, a) = next();
        let s = sender.clone();
        let (from, token, to) = (accounts[f].0.clone(), accounts[f].1.clone(), accounts[t].0.clone());
        let at = Instant::now();
        tasks.push(tokio::spawn(async move {
            let id = s.transfer_owned(format!("b{f}"), token, a, from, to).await;
            (id, at, at.elapsed())
        }));
    }
    for task in tasks {
        sent_at.push(task.await.expect("send task"));
    }
    let sent_in = paced_start.elapsed();
    let receiver = reading.await.expect("feedback reader");
    let last = sent_at.iter().map(|(id, _, _)| receiver.received_at[id]).max().unwrap_or(paced_start) - paced_start;
    // Per second of sending: whether latency is steady (keeping up) or grows (falling behind).
    let mut per_second =
        vec![Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram"); PACED_SECONDS as usize + 1];
    // How much of it is the command's own produce (acks=all: written to two brokers) before the handler sees it.
    let mut acked = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    for (id, at, ack) in &sent_at {
        acked.record((ack.as_micros() as u64).max(1)).expect("record");
        let micros = (receiver.received_at[id] - *at).as_micros() as u64;
        histogram.record(micros.max(1)).expect("record");
        let second = ((*at - paced_start).as_secs() as usize).min(PACED_SECONDS as usize);
        per_second[second].record(micros.max(1)).expect("record");
    }
    let p99s: Vec<String> = per_second
        .iter()
        .filter(|h| !h.is_empty())
        .map(|h| format!("{:.0}", h.value_at_quantile(0.99) as f64 / 1000.0))
        .collect();
    println!("paced p99 (ms) by second sent: {}", p99s.join(" "));
    println!(
        "paced {PACED_RATE}/s for {PACED_SECONDS} s (all produced after {:.1} s, the last answer after {:.1} s): produce -> feedback p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sent_in.as_secs_f64(),
        last.as_secs_f64(),
        histogram.value_at_quantile(0.5) as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / 1000.0,
        histogram.max() as f64 / 1000.0
    );
    println!(
        "of which the command's produce, call to broker acknowledgement: p50 {:.1} ms, p99 {:.1} ms",
        acked.value_at_quantile(0.5) as f64 / 1000.0,
        acked.value_at_quantile(0.99) as f64 / 1000.0
    );
    sampling.store(false, Ordering::Relaxed);
    let max_mem = sampler.await.expect("sampler");
    println!("command-handler memory (usage - page cache), max over the run: {max_mem:.1} MiB");
    // Consumers leave their group on drop, which can wait forever once the brokers are gone.
    drop((receiver, sender));
    drop(stack);
}
