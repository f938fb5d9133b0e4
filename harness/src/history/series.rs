//! Nights ordered by date, one series per experiment × variant × metric, and each series' changes.

use std::collections::BTreeMap;

use super::edivisive::{self, Settings};
use super::{Change, History, Night, Point, Series};
use crate::summary::{direction, Direction, METRICS};

/// The series of `nights` (in any order) and their change points under `settings`. Series come grouped by
/// experiment and variant, metrics in [`METRICS`]'s order (others after, by name); nights oldest first, those of
/// one instant by commit and then file, so the result does not depend on the order the files were given in.
pub fn build(nights: &[Night], settings: &Settings) -> History {
    let mut sorted: Vec<&Night> = nights.iter().collect();
    sorted.sort_by(|a, b| (a.date, &a.summary.commit, &a.path).cmp(&(b.date, &b.summary.commit, &b.path)));
    let mut series: BTreeMap<(&str, &str, usize, &str), Vec<Point>> = BTreeMap::new();
    for night in sorted {
        let s = &night.summary;
        for (variant, figures) in &s.variants {
            for (metric, figure) in figures {
                let point = Point { date: s.date.clone(), commit: s.commit.clone(), mean: figure.mean, se: figure.se };
                series.entry((&s.experiment, variant, rank(metric), metric)).or_default().push(point);
            }
        }
    }
    let series = series
        .into_iter()
        .map(|((experiment, variant, _, metric), points)| {
            let changes = changes(metric, &points, settings);
            Series { experiment: experiment.into(), variant: variant.into(), metric: metric.into(), points, changes }
        })
        .collect();
    History { series }
}

/// Known metrics first, in their usual order.
fn rank(metric: &str) -> usize {
    METRICS.iter().position(|(m, _)| *m == metric).unwrap_or(METRICS.len())
}

fn changes(metric: &str, points: &[Point], settings: &Settings) -> Vec<Change> {
    let means: Vec<f64> = points.iter().map(|p| p.mean).collect();
    let worse_when_higher = direction(metric) == Direction::LowerIsBetter;
    edivisive::change_points(&means, settings)
        .into_iter()
        .map(|(index, test)| Change {
            index,
            date: points[index].date.clone(),
            commit: points[index].commit.clone(),
            previous_commit: points[index - 1].commit.clone(),
            before: test.before,
            after: test.after,
            change_pct: test.change_pct,
            p: test.p,
            regression: (test.after > test.before) == worse_when_higher && test.after != test.before,
        })
        .collect()
}
