//! `bench report <inputs>... [--out FILE] [--results DIR] [--alpha A] [--exclude-disturbed] [--baseline PATH]...`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use harness::report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Experiment files (their results under --results), results folders or files, 2019 mapping files (.edn).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The HTML file to write; the JSON goes beside it (default: reports/<experiment>.html).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where reports go when --out is not given.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Where experiment files' results are.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Earlier results (folder, file or experiment file) to check every variant against.
    #[arg(long, value_name = "PATH")]
    baseline: Vec<PathBuf>,
    /// Significance level of the comparisons and of the baseline checks, each family Holm-adjusted.
    #[arg(long, default_value_t = report::ALPHA, value_parser = alpha)]
    alpha: f64,
    /// Leave out runs where another program used more than 5 % of the machine (they stay listed).
    #[arg(long)]
    exclude_disturbed: bool,
    /// Also write the night's summary (each variant's headlines over runs) to this JSON file, for `bench history`.
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
    /// Exit 1 when a variant regressed significantly against the baseline.
    #[arg(long, requires = "baseline")]
    fail_on_regression: bool,
}

fn alpha(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!("{text:?} is not a significance level between 0 and 1 (exclusive), e.g. 0.05")),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (report, html, json) = write(&args)?;
    summarise(&report);
    let size = std::fs::metadata(&html).map(|m| m.len()).unwrap_or(0);
    println!(
        "report: {} ({:.1} MB) and {} from {} run(s) in {:.2} s",
        html.display(),
        size as f64 / 1e6,
        json.display(),
        report.runs.len(),
        started.elapsed().as_secs_f64()
    );
    let regressed = report.baseline.as_ref().map_or(0, |b| b.regressions().count());
    if regressed > 0 && args.fail_on_regression {
        eprintln!("{regressed} significant regression(s) against the baseline (--fail-on-regression)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The runs, disturbed ones marked left out when asked; files cut short by a killed run named on stderr.
fn read(inputs: &[PathBuf], results: &Path, exclude_disturbed: bool, what: &str) -> anyhow::Result<report::Inputs> {
    let mut found = report::read_inputs(inputs, results).with_context(|| format!("reading the {what}"))?;
    let label = if what == "baseline" { "baseline: " } else { "" };
    for s in &found.skipped {
        eprintln!("warning: {label}skipped {s}");
    }
    for c in &found.cut {
        eprintln!("warning: {label}{c}: the last line is cut short (the run was killed while writing it): read as an incomplete run");
    }
    for run in found.runs.iter_mut().filter(|r| r.disturbed()) {
        run.excluded = exclude_disturbed;
    }
    Ok(found)
}

fn write(args: &Args) -> anyhow::Result<(report::Report, PathBuf, PathBuf)> {
    let report::Inputs { runs, skipped, .. } = read(&args.inputs, &args.results, args.exclude_disturbed, "results")?;
    let title = report::title(&runs);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.reports.join(format!("{}.html", title.replace(" + ", "+").replace(' ', "-"))));
    let mut report = report::build(&title, &runs, args.alpha);
    if !args.baseline.is_empty() {
        let earlier = read(&args.baseline, &args.results, args.exclude_disturbed, "baseline")?.runs;
        let source = args.baseline.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        report.baseline = Some(report::baseline::compare(&source, &runs, &earlier, args.alpha));
    }
    report.skipped = skipped;
    report.sources = args.inputs.iter().map(|p| p.display().to_string()).collect();
    let (html, json) = report::html::write(&report, &out)?;
    if let Some(path) = &args.summary {
        let summary = report::nightly::write(&report, path)?;
        println!("summary: {} ({} variant(s), commit {})", path.display(), summary.variants.len(), summary.commit);
    }
    Ok((report, html, json))
}

/// One line per variant, the headline comparisons, disturbed runs and the baseline's findings.
fn summarise(report: &report::Report) {
    for v in &report.variants {
        let incomplete = if v.incomplete.is_empty() {
            String::new()
        } else {
            format!(", {} incomplete (left out)", v.incomplete.len())
        };
        let excluded = if v.excluded > 0 { format!(", {} disturbed left out", v.excluded) } else { String::new() };
        let headline = [
            ("sustained generators", &v.sustained, ""),
            ("capacity", &v.capacity, " tx/s"),
            ("stack ready", &v.ready_s, " s"),
        ]
        .into_iter()
        .filter_map(|(name, e, unit)| e.as_ref().map(|e| format!("{name} {}", e.describe(unit))))
        .collect::<Vec<_>>()
        .join(", ");
        println!("{:<24} {} run(s) in the figures{incomplete}{excluded}; {headline}", v.variant, v.complete);
    }
    for c in report.comparisons.iter().filter(|c| c.level.is_none()) {
        println!("{}", c.words);
    }
    at_rates(report);
    memory(report);
    for r in report.runs.iter().filter(|r| r.disturbed) {
        let pct = r.interference_pct.unwrap_or_default();
        let what = if r.excluded { "left out" } else { "kept (--exclude-disturbed leaves it out)" };
        println!("warning: {}: another program used {pct:.1} % of the machine during the run; {what}", r.path);
    }
    if let Some(b) = &report.baseline {
        println!("against the baseline ({}), alpha {}, Holm over {} check(s):", b.source, b.alpha, b.checks.len());
        for c in
            b.checks.iter().filter(|c| !c.metric.contains(" at ") || c.verdict != report::baseline::Verdict::Unchanged)
        {
            println!("  {}", c.words);
        }
        for v in &b.unmatched {
            println!("  {v}: not in the baseline, not checked");
        }
    }
}

/// Open runs' latency at each rate every variant (of two or more) was offered, one line per rate.
fn at_rates(report: &report::Report) {
    let variants: std::collections::BTreeSet<&str> = report.at_rates.iter().map(|a| a.variant.as_str()).collect();
    if variants.len() < 2 {
        return;
    }
    let short = |e: &report::estimate::Estimate| match (e.mean, e.se) {
        (Some(m), Some(se)) => format!("{m:.0} ± {se:.0}"),
        (Some(m), None) => format!("{m:.0}"),
        _ => "–".to_string(),
    };
    for at in report.at_rates.chunk_by(|a, b| a.rate == b.rate).filter(|at| at.len() == variants.len()) {
        let figures: Vec<String> = at
            .iter()
            .map(|a| {
                format!(
                    "{} {} / {} (probe {} / {}, n = {})",
                    a.variant,
                    short(&a.p50_ms),
                    short(&a.p99_ms),
                    short(&a.probe_p50_ms),
                    short(&a.probe_p99_ms),
                    a.runs
                )
            })
            .collect();
        println!("at {:.0} tx/s, p50 / p99 ms over runs: {}", at[0].rate, figures.join("; "));
    }
}

/// Runs whose window after the first third lasted at least this long say something about memory growth.
const MEMORY_MINUTES: f64 = 5.0;

/// Each part's memory growth over runs long enough to tell (soaks), one line per variant.
fn memory(report: &report::Report) {
    let mut lines: std::collections::BTreeMap<&str, Vec<String>> = std::collections::BTreeMap::new();
    for m in report.memory.iter().filter(|m| m.runs.iter().all(|r| r.minutes >= MEMORY_MINUTES)) {
        lines.entry(m.variant.as_str()).or_default().push(format!("{} {}", m.part, m.slope_mib_per_10min.describe("")));
    }
    for (variant, parts) in lines {
        println!("memory of {variant} after the first third, MiB per 10 min over runs: {}", parts.join("; "));
    }
}
