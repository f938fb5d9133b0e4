//! `cargo bench -p harness --bench report`: aggregating 40 runs × 8,000 rows (the size of a 10-repeat, 4-variant
//! experiment at the 2019 settings) into the HTML report. Target: ≤ 2 s, report ≤ 3 MB.
//! BENCH_RUNS and BENCH_ROWS change the size.

use std::path::Path;
use std::time::Instant;

use harness::testing::synthetic::Synthetic;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let (runs, rows) = (env("BENCH_RUNS", 40), env("BENCH_ROWS", 8000));
    let dir = tempfile::tempdir()?;
    let containers = [
        "kgb-kafka-1",
        "kgb-kafka-2",
        "kgb-kafka-3",
        "kgb-db-ch",
        "kgb-db-ge",
        "kgb-command-handler",
        "kgb-graphql-endpoint",
        "bench",
    ];
    let written = Instant::now();
    for r in 0..runs {
        let variant = format!("linger.ms={}", [0, 10, 25, 100][r % 4]);
        Synthetic {
            experiment: "linger",
            variant: &variant,
            repeat: (r / 4 + 1) as u32,
            hostname: "bench",
            loops: rows as u32,
            loops_per_generator: 60,
            containers: &containers,
            base_ms: 50.0,
            seed: r as u64 + 1,
        }
        .write(dir.path())?;
    }
    let total_rows = runs * rows;
    let bytes: u64 = std::fs::read_dir(dir.path().join("linger"))?
        .flatten()
        .flat_map(|v| std::fs::read_dir(v.path()).into_iter().flatten().flatten())
        .filter_map(|f| f.metadata().ok().map(|m| m.len()))
        .sum();
    println!(
        "wrote {runs} runs × {rows} rows ({:.0} MB of JSON) in {:.1} s",
        bytes as f64 / 1e6,
        written.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let inputs = harness::report::read_inputs(&[dir.path().join("linger")], Path::new("results"))?.runs;
    let read = started.elapsed();
    let report = harness::report::build("bench", &inputs, harness::report::ALPHA);
    let built = started.elapsed();
    let (html, _) = harness::report::html::write(&report, &dir.path().join("report.html"))?;
    let done = started.elapsed();
    let size = std::fs::metadata(&html)?.len();
    println!("read {total_rows} rows: {:.2} s", read.as_secs_f64());
    println!(
        "aggregate ({} levels, {} comparisons): {:.2} s",
        report.levels.len(),
        report.comparisons.len(),
        (built - read).as_secs_f64()
    );
    println!("render + write: {:.2} s", (done - built).as_secs_f64());
    println!("total: {:.2} s (target ≤ 2 s); report {:.2} MB (target ≤ 3 MB)", done.as_secs_f64(), size as f64 / 1e6);
    Ok(())
}
