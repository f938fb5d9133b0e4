//! `cargo bench -p harness --bench history`: how well `bench history` finds changes and how fast it is.
//! (a) sensitivity: steps of 3–10 % planted at night 40 of 60 (noise: coefficient of variation 3 %), the share of
//! 200 seeds where a change is found at exactly that night; (b) false change points per 100 noise-only series;
//! (c) 365 nights × 8 variants × 6 metrics read, analysed and drawn (target ≤ 1 s). BENCH_SEEDS changes (a), (b).

use std::time::Instant;

use harness::history::{self, edivisive, Settings};
use harness::summary::METRICS;
use harness::testing::history::{noisy, write_summaries};

const NIGHTS: usize = 60;
const STEP_AT: usize = 40;
const CV: f64 = 0.03;

fn main() -> anyhow::Result<()> {
    let seeds = std::env::var("BENCH_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(200u64);
    let settings = Settings::default();
    println!(
        "E-Divisive means, Welch p ≤ {}, min change {} %, ≥ {} nights a side",
        settings.p_max,
        settings.min_change_pct,
        edivisive::MIN_SEGMENT
    );
    sensitivity(seeds, &settings);
    let false_points: usize =
        (1..=seeds).map(|seed| edivisive::change_points(&noisy(NIGHTS, CV, None, seed), &settings).len()).sum();
    println!(
        "(b) noise only, {seeds} series of {NIGHTS} nights: {false_points} false change point(s), {:.1} per 100 series",
        false_points as f64 * 100.0 / seeds as f64
    );
    speed(&settings)
}

/// (a): per step, the share of series with a change exactly at the planted night, near it, and far from it.
fn sensitivity(seeds: u64, settings: &Settings) {
    let mut smallest = None;
    for step in [3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        let (mut exact, mut near, mut extra) = (0, 0, 0);
        for seed in 1..=seeds {
            let found = edivisive::change_points(&noisy(NIGHTS, CV, Some((STEP_AT, step)), seed), settings);
            exact += usize::from(found.iter().any(|(i, _)| *i == STEP_AT));
            near += usize::from(found.iter().any(|(i, _)| i.abs_diff(STEP_AT) <= 2));
            // Beyond two nights of the step: a change that is not the planted one misplaced.
            extra += usize::from(found.iter().any(|(i, _)| i.abs_diff(STEP_AT) > 2));
        }
        let share = exact as f64 * 100.0 / seeds as f64;
        if share >= 90.0 && smallest.is_none() {
            smallest = Some(step);
        }
        let pct = |n: usize| n as f64 * 100.0 / seeds as f64;
        println!(
            "(a) step +{step:>4.1} % at night {STEP_AT} of {NIGHTS}: found exactly there in {share:5.1} % of {seeds} series, within ±2 nights in {:5.1} %; a change further away in {:4.1} %",
            pct(near),
            pct(extra)
        );
    }
    match smallest {
        Some(step) => println!("(a) smallest step found at its night in ≥ 90 %: {step} %"),
        None => println!("(a) no step up to 10 % was found at its night in ≥ 90 %"),
    }
}

/// (c): summaries written to a temporary folder, then read, analysed and the page written, as the command does.
fn speed(settings: &Settings) -> anyhow::Result<()> {
    let (nights, variants, metrics) = (365, ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"], METRICS.map(|(m, _)| m));
    let dir = tempfile::tempdir()?;
    let values = |v: &str, m: &str| {
        let seed = v.len() as u64 * 1000
            + m.len() as u64
            + u64::from(v.bytes().last().unwrap_or(0)) * 7
            + u64::from(m.as_bytes()[0]);
        noisy(nights, CV, Some((300, -8.0)), seed)
    };
    write_summaries(&dir.path().join("nights"), "nightly", &variants, &metrics, nights, values)?;
    let started = Instant::now();
    let read = history::read_summaries(&[dir.path().join("nights")])?;
    let read_s = started.elapsed().as_secs_f64();
    let built = history::build(&read, settings);
    let built_s = started.elapsed().as_secs_f64();
    let out = dir.path().join("history.html");
    history::page::write_page(&built, settings, &out)?;
    let total = started.elapsed().as_secs_f64();
    let changes: usize = built.series.iter().map(|s| s.changes.len()).sum();
    println!("(c) {nights} nights × {} variants × {} metrics = {} series: read {read_s:.3} s, change points {:.3} s ({changes} found), page {:.3} s ({:.1} MB); total {total:.3} s (target ≤ 1 s)",
        variants.len(), metrics.len(), built.series.len(), built_s - read_s, total - built_s, std::fs::metadata(&out)?.len() as f64 / 1e6);
    Ok(())
}
