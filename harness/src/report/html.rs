//! The report page: one self-contained HTML file (tera template, Vega inlined), and the JSON beside it (the whole
//! [`Report`]).

use std::path::{Path, PathBuf};

use super::error::ReportError;
use super::estimate::Estimate;
use super::Report;

const TEMPLATE: &str = include_str!("report.html.tera");
/// The page's charts, drawn from the report's JSON with Vega-Lite.
const CHARTS: &str = include_str!("report.charts.js");
// Inlined into every page bench writes (this one and `bench history`'s), so pages draw offline.
const VEGA: &str = include_str!(concat!(env!("OUT_DIR"), "/vega.min.js"));
const VEGA_LITE: &str = include_str!(concat!(env!("OUT_DIR"), "/vega-lite.min.js"));
const VEGA_EMBED: &str = include_str!(concat!(env!("OUT_DIR"), "/vega-embed.min.js"));

/// Puts Vega, Vega-Lite and vega-embed into a page's context (`{{ vega | safe }}` …): every page is self-contained.
pub(crate) fn insert_vega(context: &mut tera::Context) {
    context.insert("vega", VEGA);
    context.insert("vega_lite", VEGA_LITE);
    context.insert("vega_embed", VEGA_EMBED);
}

/// Renders the page.
///
/// # Errors
/// A template error (a bug, reported with its cause).
pub fn render(report: &Report) -> Result<String, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE)?;
    tera.register_filter("estimate", estimate_filter);
    let mut context = tera::Context::new();
    // Inside <script>, "</" must not appear literally or it could end the element.
    let data = serde_json::to_string(&chart_data(report).map_err(tera::Error::json)?)
        .map_err(tera::Error::json)?
        .replace("</", "<\\/");
    context.insert("title", &report.title);
    context.insert("report", report);
    context.insert("data", &data);
    context.insert("charts", CHARTS);
    insert_vega(&mut context);
    tera.render("report.html", &context)
}

/// What the charts draw from, embedded in the page: the report without what only the tables show (they are
/// rendered into the page already), numbers at 5 significant figures (far finer than a chart shows), so the page
/// stays small; the JSON beside it keeps everything at full precision.
fn chart_data(report: &Report) -> Result<serde_json::Value, serde_json::Error> {
    let mut value = serde_json::to_value(report)?;
    if let Some(map) = value.as_object_mut() {
        for key in
            ["comparisons", "not_compared", "runs", "baseline", "skipped", "images", "hosts", "machines", "sources"]
        {
            map.remove(key);
        }
    }
    round(&mut value);
    Ok(value)
}

/// Numbers at 5 significant figures, far finer than a chart shows, so embedded data stays small.
pub(crate) fn round(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(x) = n.as_f64().filter(|x| *x != 0.0 && x.is_finite()) {
                let scale = 10f64.powi(4 - x.abs().log10().floor() as i32);
                if let Some(r) = serde_json::Number::from_f64((x * scale).round() / scale) {
                    *n = r;
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(round),
        serde_json::Value::Object(map) => map.values_mut().for_each(round),
        _ => {}
    }
}

/// `{{ e | estimate(unit=" tx/s") }}`: an [`Estimate`] in words.
fn estimate_filter(
    value: &tera::Value,
    args: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let estimate: Estimate = serde_json::from_value(value.clone()).map_err(tera::Error::json)?;
    let unit = args.get("unit").and_then(|u| u.as_str()).unwrap_or("");
    Ok(tera::Value::String(estimate.describe(unit)))
}

/// Writes `<out>` and `<out without .html>.json`, each through a temporary file renamed into place, so a
/// failure never leaves a half-written report.
///
/// # Errors
/// [`ReportError::Write`] naming the file.
pub fn write(report: &Report, out: &Path) -> Result<(PathBuf, PathBuf), ReportError> {
    let json_path = out.with_extension("json");
    let page = render(report)
        .map_err(|e| ReportError::Write { path: out.into(), source: std::io::Error::other(format!("{e:?}")) })?;
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| ReportError::Write { path: json_path.clone(), source: e.into() })?;
    for (path, text) in [(out, page.as_str()), (json_path.as_path(), json.as_str())] {
        write_whole(path, text).map_err(|source| ReportError::Write { path: path.into(), source })?;
    }
    Ok((out.to_path_buf(), json_path))
}

/// Writes `text` to `path` through a temporary file in the same folder renamed into place, so a failure never
/// leaves a half-written file; creates the folder.
pub(crate) fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let mut temp = tempfile::NamedTempFile::new_in(folder)?;
    std::io::Write::write_all(&mut temp, text.as_bytes())?;
    // Reports are for sharing: readable by everyone, like any file written without a temporary.
    temp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
