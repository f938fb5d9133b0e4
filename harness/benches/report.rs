//! `cargo bench -p harness --bench report`: aggregating 40 runs × 8,000 rows (the size of a 10-repeat, 4-variant
//! experiment at the 2019 settings) into the HTML report. Target: ≤ 2 s, report ≤ 3 MB.
//! BENCH_RUNS and BENCH_ROWS change the size.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use harness::docker::stats::Sample;
use harness::results::{End, EndedBy, Header, Host, Line, Row, Writer};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let (runs, rows) = (env("BENCH_RUNS", 40), env("BENCH_ROWS", 8000));
    let dir = tempfile::tempdir()?;
    let containers = ["kgb-kafka-1", "kgb-kafka-2", "kgb-kafka-3", "kgb-db-ch", "kgb-db-ge", "kgb-command-handler", "kgb-graphql-endpoint", "bench"];
    let mut seed = 1u64;
    let mut random = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    // Latencies as bench writes them: milliseconds at microsecond resolution.
    let micro = |x: f64| (x * 1000.0).round() / 1000.0;
    let written = Instant::now();
    for r in 0..runs {
        let variant = format!("linger.ms={}", [0, 10, 25, 100][r % 4]);
        let path = dir.path().join("linger").join(&variant).join(format!("r{r}.jsonl"));
        let mut w = Writer::create(&path)?;
        w.write(&Line::Header(Box::new(Header {
            experiment: "linger".into(),
            variant,
            parameters: serde_json::json!({"load": {"probe_interval_ms": 1000}}),
            repeat: (r / 4 + 1) as u32,
            harness_version: "bench".into(),
            git_commit: "0".into(),
            images: BTreeMap::new(),
            host: Host { hostname: "bench".into(), cpus: 2, mem_mib: 24_000 },
            started_at: "2026-11-26T00:00:00Z".into(),
            stack_ready_s: 18.0,
        })))?;
        for k in 1..=rows {
            let generators = (k / 60) as u32;
            let resources = (k % 20 == 0).then(|| {
                containers.iter().map(|c| (c.to_string(), Sample { cpu_pct: 100.0 * random(), mem_mib: 1000.0 * random() })).collect()
            });
            w.write(&Line::Row(Row {
                r#loop: k as u32,
                t_ms: 1_790_000_000_000 + k as i64 * 1000,
                probe_ms: Some(micro(50.0 + 100.0 * random())),
                timeout: false,
                generators,
                generator_ms: (0..generators.min(40) * 4).map(|_| micro(5.0 + 200.0 * random())).collect(),
                errors: 0,
                resources,
            }))?;
        }
        w.write(&Line::End(Box::new(End {
            ended_by: EndedBy::Timeouts,
            loops: rows as u32,
            timeouts: 10,
            generators: (rows / 60) as u32,
            transfers: 0,
            errors: 0,
            error: None,
            audit: harness::audit::Audit { passed: true, ..Default::default() },
            stopped: BTreeMap::new(),
            bench_cpu_ms: 0.0,
            bench_cpu_ms_per_1000_transfers: 0.0,
            duration_s: rows as f64,
            ended_at: "2026-11-26T03:00:00Z".into(),
        })))?;
    }
    let total_rows = runs * rows;
    let bytes: u64 = std::fs::read_dir(dir.path().join("linger"))?
        .flatten()
        .flat_map(|v| std::fs::read_dir(v.path()).into_iter().flatten().flatten())
        .filter_map(|f| f.metadata().ok().map(|m| m.len()))
        .sum();
    println!("wrote {runs} runs × {rows} rows ({:.0} MB of JSON) in {:.1} s", bytes as f64 / 1e6, written.elapsed().as_secs_f64());

    let started = Instant::now();
    let inputs = harness::report::read_inputs(&[dir.path().join("linger")], Path::new("results"))?;
    let read = started.elapsed();
    let report = harness::report::build("bench", &inputs);
    let built = started.elapsed();
    let (html, _) = harness::report::html::write(&report, &dir.path().join("report.html"))?;
    let done = started.elapsed();
    let size = std::fs::metadata(&html)?.len();
    println!("read {total_rows} rows: {:.2} s", read.as_secs_f64());
    println!("aggregate ({} levels, {} comparisons): {:.2} s", report.levels.len(), report.comparisons.len(), (built - read).as_secs_f64());
    println!("render + write: {:.2} s", (done - built).as_secs_f64());
    println!("total: {:.2} s (target ≤ 2 s); report {:.2} MB (target ≤ 3 MB)", done.as_secs_f64(), size as f64 / 1e6);
    Ok(())
}
