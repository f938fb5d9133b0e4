//! A night's summary (`bench report --summary FILE`): the headline figures of each variant, over runs, in one
//! small JSON document that `bench history` reads back as one point of each series.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `{"experiment", "commit", "date", "variants": {NAME: {METRIC: {"mean", "se", "n"}}}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub experiment: String,
    /// The commit bench was built from for the night's runs.
    pub commit: String,
    /// RFC 3339: when the night's first run started.
    pub date: String,
    pub variants: BTreeMap<String, BTreeMap<String, Figure>>,
}

/// One metric of one variant over the night's runs; `se` is absent with one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub mean: f64,
    #[serde(default)]
    pub se: Option<f64>,
    pub n: usize,
}

/// The metrics a summary can hold, and which way is better.
pub const METRICS: [(&str, Direction); 6] = [
    ("capacity_tps", Direction::HigherIsBetter),
    ("sustained_generators", Direction::HigherIsBetter),
    ("tps", Direction::HigherIsBetter),
    ("probe_mean_ms", Direction::LowerIsBetter),
    ("probe_p50_ms", Direction::LowerIsBetter),
    ("probe_p99_ms", Direction::LowerIsBetter),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// Which way is better for `metric`; unknown metrics are read as latencies when they end in `_ms`, else as
/// throughput.
pub fn direction(metric: &str) -> Direction {
    METRICS.iter().find(|(m, _)| *m == metric).map_or_else(
        || if metric.ends_with("_ms") { Direction::LowerIsBetter } else { Direction::HigherIsBetter },
        |(_, d)| *d,
    )
}
