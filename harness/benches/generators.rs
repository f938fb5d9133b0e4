//! `cargo bench -p harness --bench generators`: bench's own CPU per 1,000 transfers driven, without the stack's
//! noise. Generators run the real chain ([`generator::run_chain`] over [`Client`]) on a single-threaded runtime
//! like `bench run`'s, in both subprotocols, against endpoint doubles on another thread that answer at once and
//! after 20 ms (how long answers take decides how many wake-ups bench pays for); only the generators' thread's
//! CPU is counted. BENCH_URL=ws://127.0.0.1:8888/graphql measures against a real endpoint instead (`bench up`).
//! It compares changes to bench's own code: alone it measures 60–80 ms per 1,000 transfers on the 2-core reference
//! machine, where a real run's busiest window costs about 100 (docs/guide.md). BENCH_GENERATORS (default 100: 1,000 transfers/s at the
//! 100 ms pause), BENCH_SECONDS (default 10), BENCH_DELAY_MS (one double answering after this long),
//! BENCH_GRID_MS (slots on a grid this coarse, default 1 ms: spread as in a run).

use std::time::Duration;

use harness::experiment::Protocol;
use harness::load::bank::{self, Account};
use harness::load::client::Client;
use harness::load::generator::{self, Reply};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU time of the calling thread: (user, system).
fn thread_cpu() -> (Duration, Duration) {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (Duration::from_micros(micros(usage.ru_utime)), Duration::from_micros(micros(usage.ru_stime)))
}

struct Measured {
    transfers: u64,
    errors: u64,
    user: Duration,
    system: Duration,
    wall: Duration,
    p99_ms: f64,
}

/// Runs `generators` chains against `url` for `seconds` after a second of warm-up, on this thread.
fn measure(url: &str, real: bool, protocol: Protocol, generators: u32, seconds: u64) -> anyhow::Result<Measured> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis()
    );
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        let (reports_tx, mut reports) = mpsc::channel::<Reply>(4096);
        let mut connected = Vec::new();
        for n in 1..=generators {
            let client = Client::connect(url, protocol).await?;
            // Fresh accounts per measurement: a chain meeting balances an earlier one left behind answers wrongly.
            let (first, second) = (format!("account-first|{tag}-{n}"), format!("account-second|{tag}-{n}"));
            let (first, second) = if real {
                (
                    bank::open_account(&client, &first, &first).await?,
                    bank::open_account(&client, &second, &second).await?,
                )
            } else {
                let account = |name: &str| Account { username: name.into(), iban: name.into(), token: name.into() };
                (account(&first), account(&second))
            };
            connected.push((n, client, first, second));
        }
        // Generators of a run start at unrelated moments, so their slots spread over the pause. Started back to
        // back they would send in bursts, and a burst costs bench one wake-up where a spread load costs many.
        // BENCH_GRID_MS > 1 puts the slots on a coarser grid: what bench would save if the load came in bursts.
        let grid_ms = env("BENCH_GRID_MS", 1).max(1);
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for (n, client, first, second) in connected {
            let (reports_tx, cancel) = (reports_tx.clone(), cancel.clone());
            let phase_ms = 100 * u64::from(n - 1) / u64::from(generators);
            let phase = Duration::from_millis(phase_ms / grid_ms * grid_ms);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(start + phase).await;
                generator::run_chain(n, &client, (&first, &second), Duration::from_millis(100), &reports_tx, &cancel)
                    .await;
            }));
        }
        drop(reports_tx);
        // The run's own bookkeeping per report, as `bench run` does it: a histogram and the answers for the audit.
        let mut histogram = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let mut answers = harness::audit::AnswerLog::new();
        let (mut transfers, mut errors) = (0u64, 0u64);
        let warm = tokio::time::Instant::now() + Duration::from_secs(1);
        while tokio::time::Instant::now() < warm {
            let _ = tokio::time::timeout_at(warm, reports.recv()).await;
        }
        let (cpu_before, began) = (thread_cpu(), std::time::Instant::now());
        let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let Ok(Some(report)) = tokio::time::timeout_at(end, reports.recv()).await else { break };
            transfers += 1;
            errors += u64::from(report.error);
            if let Some(latency) = report.latency {
                let _ = histogram.record(latency.as_micros() as u64);
            }
            if let Some((id, answer)) = &report.answered {
                answers.push(*id, answer);
            }
        }
        let ((user, system), wall) = (thread_cpu(), began.elapsed());
        let (user, system) = (user - cpu_before.0, system - cpu_before.1);
        cancel.cancel();
        for task in tasks {
            let _ = task.await;
        }
        Ok(Measured {
            transfers,
            errors,
            user,
            system,
            wall,
            p99_ms: histogram.value_at_quantile(0.99) as f64 / 1000.0,
        })
    })
}

fn main() -> anyhow::Result<()> {
    let generators = env("BENCH_GENERATORS", 100) as u32;
    let seconds = env("BENCH_SECONDS", 10);
    // Against a real endpoint (`bench up`, then BENCH_URL=ws://127.0.0.1:8888/graphql), or against doubles
    // that answer at once and after 20 ms: how long answers take decides how many wake-ups bench pays for.
    let targets = match std::env::var("BENCH_URL") {
        Ok(url) => vec![(url.clone(), true, url)],
        Err(_) => std::env::var("BENCH_DELAY_MS")
            .map_or(vec![0, 20], |ms| vec![ms.parse().unwrap_or(20)])
            .into_iter()
            .map(|ms| {
                Ok((
                    harness::testing::double::endpoint(Duration::from_millis(ms))?,
                    false,
                    format!("a double answering after {ms} ms"),
                ))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    println!("{generators} generators, 100 ms pause ({} transfers/s), {seconds} s measured per line", generators * 10);
    for (url, real, name) in &targets {
        println!("against {name}:");
        for protocol in [Protocol::GraphqlTransportWs, Protocol::GraphqlWs] {
            let m = measure(url, *real, protocol, generators, seconds)?;
            let per_1k = |d: Duration| d.as_secs_f64() * 1e6 / m.transfers.max(1) as f64;
            println!(
                "  {:<22} {:>5.0} transfers/s, {} errors, p99 {:>6.2} ms: bench {:>4.1} % of a core, {:>5.1} ms CPU per 1,000 transfers ({:.1} user + {:.1} system)",
                match protocol {
                    Protocol::GraphqlTransportWs => "graphql-transport-ws",
                    Protocol::GraphqlWs => "graphql-ws",
                },
                m.transfers as f64 / m.wall.as_secs_f64(),
                m.errors,
                m.p99_ms,
                (m.user + m.system).as_secs_f64() / m.wall.as_secs_f64() * 100.0,
                per_1k(m.user + m.system),
                per_1k(m.user),
                per_1k(m.system),
            );
        }
    }
    Ok(())
}
