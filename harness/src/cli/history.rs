//! `bench history <summaries or folders>... [--out FILE] [--json FILE] [--fail-on-change] [--recent N] [--p-max P]
//! [--min-change PCT]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use harness::history::{self, Change, History, Series, Settings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Summary files (bench report --summary), or folders searched recursively for *.json summaries (other JSON
    /// there, such as reports, is skipped).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The HTML page to write: every series with its change points.
    #[arg(long, default_value = "reports/history.html")]
    out: PathBuf,
    /// Also write the series and their changes as JSON: {"series": [{experiment, variant, metric, points, changes}]}.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Exit 1 when a series shows a regression that one of its newest --recent nights revealed.
    #[arg(long)]
    fail_on_change: bool,
    /// How many of each series' newest nights --fail-on-change looks at: a regression counts when it could not be
    /// found without them. A change needs 3 nights from it on to be found, so the newest night (the default, 1)
    /// reveals a change 3 nights back.
    #[arg(long, default_value_t = 1, value_parser = nights)]
    recent: usize,
    /// A change counts when Welch's t-test between the nights before and after it gives p at most this.
    #[arg(long, default_value_t = Settings::default().p_max, value_parser = p_value)]
    p_max: f64,
    /// A change counts only when the means before and after it differ by at least this many percent of the mean
    /// before (and its p is at most --p-max).
    #[arg(long, value_name = "PCT", default_value_t = Settings::default().min_change_pct, value_parser = percent)]
    min_change: f64,
}

fn p_value(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err(format!("{text:?} is not a p-value between 0 and 1 (exclusive), e.g. 0.001")),
    }
}

fn nights(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{text:?} is not a number of nights of at least 1")),
    }
}

fn percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p >= 0.0 && p.is_finite() => Ok(p),
        _ => Err(format!("{text:?} is not a percentage of at least 0, e.g. 5")),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let nights = history::read_summaries(&args.inputs).context("reading the summaries")?;
    let settings = Settings { p_max: args.p_max, min_change_pct: args.min_change };
    let history = history::build(&nights, &settings);
    history::page::write_page(&history, &settings, &args.out)?;
    if let Some(json) = &args.json {
        history::page::write_json(&history, json)?;
    }
    summarise(&history, &args, nights.len(), started);
    let fresh: usize = history.series.iter().map(|s| s.recent_regressions(args.recent).count()).sum();
    if fresh > 0 && args.fail_on_change {
        eprintln!(
            "{fresh} regression(s) revealed by the newest {} night(s) of their series (--fail-on-change)",
            args.recent
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per change, then the counts and what was written.
fn summarise(history: &History, args: &Args, files: usize, started: Instant) {
    let changes: Vec<(&Series, &Change)> =
        history.series.iter().flat_map(|s| s.changes.iter().map(move |c| (s, c))).collect();
    for (s, c) in &changes {
        println!("{}", line(s, c));
    }
    let regressions = changes.iter().filter(|(_, c)| c.regression).count();
    let nights = history.series.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let json = args.json.as_ref().map_or(String::new(), |j| format!(" and {}", j.display()));
    println!(
        "history: {} series over up to {nights} night(s) from {files} summaries; {} change(s): {regressions} regression(s), {} improvement(s); {}{json} in {:.2} s",
        history.series.len(),
        changes.len(),
        changes.len() - regressions,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
}

fn line(s: &Series, c: &Change) -> String {
    let pct = c.change_pct.map_or("–".to_string(), |p| format!("{p:+.1} %"));
    let verdict = if c.regression { "REGRESSION" } else { "improvement" };
    let short = |commit: &str| commit.chars().take(10).collect::<String>();
    format!(
        "{} {} {}: night {} ({} → {}): {} → {} ({pct}), p = {:.2e}: {verdict}",
        s.experiment,
        s.variant,
        s.metric,
        c.date,
        short(&c.previous_commit),
        short(&c.commit),
        figure(c.before),
        figure(c.after),
        c.p
    )
}

/// Four significant figures, without exponent for the magnitudes metrics have.
fn figure(x: f64) -> String {
    let decimals = if x == 0.0 { 0 } else { (3 - x.abs().log10().floor() as i32).max(0) as usize };
    format!("{x:.decimals$}")
}
