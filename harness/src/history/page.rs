//! The history page (tera template, Vega inlined, drawn offline) and the JSON of the whole [`History`].

use std::path::Path;

use serde::Serialize;

use super::{History, HistoryError, Settings};
use crate::report::html::{insert_vega, round, write_whole};

const TEMPLATE: &str = include_str!("history.html.tera");
/// Draws each series from the page's data and counts them into `data-history-drawn`.
const CHARTS: &str = include_str!("history.charts.js");

/// The series of one experiment and variant, as the page groups them.
#[derive(Debug, Serialize)]
struct Group<'a> {
    experiment: &'a str,
    variant: &'a str,
    /// Positions in `history.series`, which name the charts' elements.
    series: Vec<usize>,
}

fn groups(history: &History) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for (i, s) in history.series.iter().enumerate() {
        match groups.last_mut() {
            Some(g) if g.experiment == s.experiment && g.variant == s.variant => g.series.push(i),
            _ => groups.push(Group { experiment: &s.experiment, variant: &s.variant, series: vec![i] }),
        }
    }
    groups
}

/// Renders the page.
///
/// # Errors
/// A template error (a bug, reported with its cause).
pub fn render(history: &History, settings: &Settings) -> Result<String, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template("history.html", TEMPLATE)?;
    tera.register_filter("p", p_filter);
    let mut data = serde_json::to_value(history).map_err(tera::Error::json)?;
    round(&mut data);
    // Inside <script>, "</" must not appear literally or it could end the element.
    let data = serde_json::to_string(&data).map_err(tera::Error::json)?.replace("</", "<\\/");
    let mut context = tera::Context::new();
    context.insert("history", history);
    context.insert("groups", &groups(history));
    context.insert("p_max", &settings.p_max);
    context.insert("min_change_pct", &settings.min_change_pct);
    context.insert("nights", &history.series.iter().map(|s| s.points.len()).max().unwrap_or(0));
    context.insert("data", &data);
    context.insert("charts", CHARTS);
    insert_vega(&mut context);
    tera.render("history.html", &context)
}

/// `{{ c.p | p }}`: a p-value in scientific notation (tera's numbers would print 3e-36 as 36 zeros).
fn p_filter(value: &tera::Value, _: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let p = value.as_f64().ok_or_else(|| tera::Error::msg(format!("p: {value} is not a number")))?;
    Ok(tera::Value::String(format!("{p:.2e}")))
}

/// Writes the page to `out` through a temporary file renamed into place.
///
/// # Errors
/// [`HistoryError::Write`] naming the file.
pub fn write_page(history: &History, settings: &Settings, out: &Path) -> Result<(), HistoryError> {
    let error = |source| HistoryError::Write { path: out.into(), source };
    let page = render(history, settings).map_err(|e| error(std::io::Error::other(format!("{e:?}"))))?;
    write_whole(out, &page).map_err(error)
}

/// Writes `{"series": [...]}` at full precision to `path` through a temporary file renamed into place.
///
/// # Errors
/// [`HistoryError::Write`] naming the file.
pub fn write_json(history: &History, path: &Path) -> Result<(), HistoryError> {
    let error = |source| HistoryError::Write { path: path.into(), source };
    let json = serde_json::to_string_pretty(history).map_err(|e| error(e.into()))?;
    write_whole(path, &json).map_err(error)
}
