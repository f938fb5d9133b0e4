//! `bench report <inputs>... [--out FILE] [--results DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use harness::report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Experiment files (their results under --results), results folders or files, 2019 mapping files (.edn).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The HTML file to write; the JSON goes beside it (default: results/<first input's name>.html).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where experiment files' results are.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Earlier results (folder, file or experiment file) to check every variant against.
    #[arg(long, value_name = "PATH")]
    baseline: Vec<PathBuf>,
    /// Significance level of the baseline checks (latency levels share it, Bonferroni-corrected).
    #[arg(long, default_value_t = 0.05, value_parser = alpha)]
    alpha: f64,
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
    let Args { inputs, out, results, baseline, alpha, fail_on_regression } = args;
    let results = results.as_path();
    let started = Instant::now();
    let report::Inputs { runs, skipped } = report::read_inputs(&inputs, results)?;
    for s in &skipped {
        eprintln!("warning: skipped {s}");
    }
    let baseline = if baseline.is_empty() {
        None
    } else {
        let earlier = report::read_inputs(&baseline, results).context("reading the baseline")?;
        for s in &earlier.skipped {
            eprintln!("warning: baseline: skipped {s}");
        }
        let earlier = earlier.runs;
        let source = baseline.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        Some(report::baseline::compare(&source, &runs, &earlier, alpha))
    };
    let title = report::title(&runs);
    let out = out.unwrap_or_else(|| results.join(format!("{}.html", title.replace(" + ", "+").replace(' ', "-"))));
    let mut report = report::build(&title, &runs);
    report.baseline = baseline;
    report.skipped = skipped;
    let (html, json) = report::html::write(&report, &out)?;
    for v in &report.variants {
        let sustained = match (v.sustained.mean, v.sustained.se) {
            (Some(m), Some(se)) => format!("{m:.1} ± {se:.1}"),
            (Some(m), None) => format!("{m:.1}"),
            _ => "–".into(),
        };
        let incomplete = if v.incomplete.is_empty() { String::new() } else { format!(", {} incomplete (left out)", v.incomplete.len()) };
        println!("{:<24} {} complete run(s){incomplete}, sustained generators {sustained}", v.variant, v.complete);
    }
    for c in report.comparisons.iter().filter(|c| c.metric == "sustained generators") {
        println!("{}", c.words);
    }
    let mut regressed = 0;
    if let Some(b) = &report.baseline {
        println!("against the baseline ({}), alpha {}:", b.source, b.alpha);
        for c in b.checks.iter().filter(|c| c.metric == "sustained generators" || c.verdict != report::baseline::Verdict::Unchanged) {
            println!("  {}", c.words);
        }
        for v in &b.unmatched {
            println!("  {v}: not in the baseline, not checked");
        }
        regressed = b.regressions().count();
    }
    let size = std::fs::metadata(&html).map(|m| m.len()).unwrap_or(0);
    println!(
        "report: {} ({:.1} MB) and {} from {} run(s) in {:.2} s",
        html.display(),
        size as f64 / 1e6,
        json.display(),
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    if regressed > 0 && fail_on_regression {
        eprintln!("{regressed} significant regression(s) against the baseline (--fail-on-regression)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
