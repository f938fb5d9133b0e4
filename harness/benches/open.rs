//! `cargo bench -p harness --bench open`: can bench offer an open model's rates on schedule? The real offerer
//! ([`Offerer`] over [`Client`]s, the ring of transfers) runs on a single-threaded runtime like `bench run`'s,
//! against an endpoint double on another thread that answers at once; for each rate it prints what was offered and
//! answered per second, how late bench sent behind the schedule (p50, p99, max), and bench's CPU. Bench is not the
//! ceiling of a search while it offers the rates the stack is tested at with a lag p99 of at most 1 ms.
//! BENCH_RATES (default 1000,2500,5000,7500), BENCH_SECONDS (default 10), BENCH_CONNECTIONS (16),
//! BENCH_DELAY_MS (the double's answer delay, default 0), BENCH_PROTOCOL (graphql-transport-ws or graphql-ws).

mod common;

use std::time::Duration;

use harness::experiment::{Arrivals, Protocol};
use harness::load::open::{Fate, Schedule, Tag};
use hdrhistogram::Histogram;
use tokio::time::Instant;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// CPU time of the calling thread (user + system).
fn thread_cpu() -> Duration {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

struct Measured {
    offered: u64,
    answered: u64,
    wrong: u64,
    lag: Histogram<u64>,
    cpu: Duration,
    wall: Duration,
}

async fn measure(url: &str, protocol: Protocol, connections: u32, rate: f64, seconds: u64) -> anyhow::Result<Measured> {
    let mut offerer = common::offerer(url, protocol, connections).await?;
    let mut schedule = Schedule::new(Arrivals::Uniform, 1);
    let tag = Tag { step: 1, judged: true };
    // A second of warm-up (connections, buffers), then the measured seconds.
    schedule.set_rate(rate, Instant::now());
    offerer
        .offer(&mut schedule, Instant::now() + Duration::from_secs(1), Tag { step: 0, judged: false }, &mut |_| false)
        .await;
    let mut lag = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut answered, mut wrong) = (0, 0);
    let (cpu, began) = (thread_cpu(), std::time::Instant::now());
    let mut record = |d: harness::load::open::Done| {
        if d.tag == tag {
            let _ = lag.record((d.lag.as_micros() as u64).max(1));
            if let Fate::Answered { right, .. } = d.fate {
                answered += 1;
                wrong += u64::from(!right);
            }
        }
        false
    };
    let offered = offerer.offer(&mut schedule, Instant::now() + Duration::from_secs(seconds), tag, &mut record).await;
    let (cpu, wall) = (thread_cpu() - cpu, began.elapsed());
    offerer.empty(Instant::now() + Duration::from_secs(5), &mut record).await;
    Ok(Measured { offered, answered, wrong, lag, cpu, wall })
}

fn main() -> anyhow::Result<()> {
    let seconds: u64 = env("BENCH_SECONDS", "10").parse()?;
    let connections: u32 = env("BENCH_CONNECTIONS", "16").parse()?;
    let delay = Duration::from_millis(env("BENCH_DELAY_MS", "0").parse()?);
    let protocol = match env("BENCH_PROTOCOL", "graphql-transport-ws").as_str() {
        "graphql-ws" => Protocol::GraphqlWs,
        _ => Protocol::GraphqlTransportWs,
    };
    let rates: Vec<f64> =
        env("BENCH_RATES", "1000,2500,5000,7500").split(',').map(str::parse).collect::<Result<_, _>>()?;
    let url = harness::testing::double::endpoint(delay)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    println!("open model against a double answering after {delay:?}, {connections} connections, {seconds} s per rate ({protocol:?})");
    for rate in rates {
        let m = runtime.block_on(measure(&url, protocol, connections, rate, seconds))?;
        let ms = |q: f64| m.lag.value_at_quantile(q).min(m.lag.max()) as f64 / 1000.0;
        println!(
            "  {rate:>7.0} tx/s: offered {:>7.0}/s, answered {:>7.0}/s ({} wrong); lag behind schedule p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; bench {:>5.1} % of a core, {:.1} ms CPU per 1,000",
            m.offered as f64 / m.wall.as_secs_f64(),
            m.answered as f64 / m.wall.as_secs_f64(),
            m.wrong,
            ms(0.5),
            ms(0.99),
            m.lag.max() as f64 / 1000.0,
            m.cpu.as_secs_f64() / m.wall.as_secs_f64() * 100.0,
            m.cpu.as_secs_f64() * 1e6 / m.offered.max(1) as f64,
        );
    }
    Ok(())
}
