//! A night's summary from a report (`bench report --summary FILE`): each variant's headlines over runs, the points
//! `bench history` strings into series. Censored headlines (lower bounds) are left out: a series holds measurements.

use std::collections::BTreeMap;

use super::aggregate::{Level, VariantSummary};
use super::error::ReportError;
use super::estimate::Estimate;
use super::Report;
use crate::summary::{Figure, Summary};

fn figure(e: &Estimate) -> Option<Figure> {
    (!e.censored).then_some(())?;
    Some(Figure { mean: e.mean?, se: e.se, n: e.n })
}

/// The variant's highest level every one of its runs in the figures reached: where its runs can be compared.
fn highest_common<'a>(v: &VariantSummary, levels: &'a [Level]) -> Option<&'a Level> {
    levels.iter().filter(|l| l.variant == v.variant && l.probe_runs.n == v.complete && v.complete > 0).max_by(|a, b| {
        (a.rate.unwrap_or(0.0), a.generators)
            .partial_cmp(&(b.rate.unwrap_or(0.0), b.generators))
            .unwrap_or(std::cmp::Ordering::Equal)
    })
}

fn metrics(v: &VariantSummary, levels: &[Level]) -> BTreeMap<String, Figure> {
    let mut out = BTreeMap::new();
    let mut put = |name: &str, e: Option<&Estimate>| {
        if let Some(f) = e.and_then(figure) {
            out.insert(name.to_string(), f);
        }
    };
    put("capacity_tps", v.capacity.as_ref());
    put("sustained_generators", v.sustained.as_ref());
    if let Some(level) = highest_common(v, levels) {
        put("tps", Some(&level.tps_runs));
        put("probe_mean_ms", Some(&level.probe_runs));
        put("probe_p50_ms", Some(&level.probe_p50_runs));
        put("probe_p99_ms", Some(&level.probe_p99_runs));
    }
    out
}

/// The summary of `report`: its title as the experiment, the commit of its newest run, the start of its first.
pub fn summary(report: &Report) -> Summary {
    let mut started: Vec<(&str, &str)> = report
        .runs
        .iter()
        .filter_map(|r| Some((r.started_at.as_deref()?, r.commit.as_deref().unwrap_or("unknown"))))
        .collect();
    started.sort_unstable();
    let date = started.first().map_or_else(|| chrono::Utc::now().to_rfc3339(), |(d, _)| d.to_string());
    let commit = started.last().map_or("unknown", |(_, c)| c).to_string();
    let variants = report
        .variants
        .iter()
        .map(|v| (v.variant.clone(), metrics(v, &report.levels)))
        .filter(|(_, m)| !m.is_empty())
        .collect();
    Summary { experiment: report.title.clone(), commit, date, variants }
}

/// Writes the summary of `report` to `path` (atomically).
///
/// # Errors
/// [`ReportError::Write`] naming the file.
pub fn write(report: &Report, path: &std::path::Path) -> Result<Summary, ReportError> {
    let summary = summary(report);
    let text = serde_json::to_string_pretty(&summary)
        .map_err(|e| ReportError::Write { path: path.into(), source: e.into() })?;
    super::html::write_whole(path, &text).map_err(|source| ReportError::Write { path: path.into(), source })?;
    Ok(summary)
}
