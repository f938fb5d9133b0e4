//! `bench report <inputs>... [--out FILE] [--results DIR]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use harness::report;

pub fn run(inputs: &[PathBuf], out: Option<PathBuf>, results: &Path) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let runs = report::read_inputs(inputs, results)?;
    let title = report::title(&runs);
    let out = out.unwrap_or_else(|| results.join(format!("{}.html", title.replace(" + ", "+").replace(' ', "-"))));
    let report = report::build(&title, &runs);
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
    let size = std::fs::metadata(&html).map(|m| m.len()).unwrap_or(0);
    println!(
        "report: {} ({:.1} MB) and {} from {} run(s) in {:.2} s",
        html.display(),
        size as f64 / 1e6,
        json.display(),
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
