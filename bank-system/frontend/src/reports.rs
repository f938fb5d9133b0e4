//! The reports folder (`bench report`'s output), served read-only at `/reports/`: an index of its `.html`
//! reports as JSON, newest first, for the Results page, and the files themselves. Only regular files directly in
//! the folder are served: no subfolders, no dotfiles and no symlinks, so nothing outside it can be reached
//! whatever the request's path. An absent folder lists no reports: `bench report` creates it later.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Path as UrlPath, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// Where the page finds the index; the files are under it.
pub const INDEX_PATH: &str = "/reports/";

/// `/reports/` (the index) and `/reports/<file>`, from `dir`.
pub fn router(dir: PathBuf) -> Router {
    Router::new()
        .route("/reports", get(index))
        .route(INDEX_PATH, get(index))
        // Every deeper path too, so that a nested one gets the same clear 404 as a missing file.
        .route("/reports/{*name}", get(file))
        .with_state(Arc::new(dir))
}

/// One `.html` report of the folder.
struct Entry {
    file: String,
    bytes: u64,
    modified: SystemTime,
}

/// A name the folder may serve: one path segment, not hidden (which also rules out `.` and `..`).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// The file's metadata when it is a regular file directly in `dir` (a symlink is not: it could lead out).
async fn regular_file(dir: &Path, name: &str) -> Option<std::fs::Metadata> {
    if !is_plain_name(name) {
        return None;
    }
    let meta = tokio::fs::symlink_metadata(dir.join(name)).await.ok()?;
    meta.is_file().then_some(meta)
}

/// The folder's `.html` reports, newest first (then by name, so equal times list the same way every time).
async fn entries(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut found = Vec::new();
    let mut listing = match tokio::fs::read_dir(dir).await {
        Ok(listing) => listing,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    while let Some(entry) = listing.next_entry().await? {
        let Ok(file) = entry.file_name().into_string() else { continue };
        if !file.ends_with(".html") {
            continue;
        }
        if let Some(meta) = regular_file(dir, &file).await {
            found.push(Entry { file, bytes: meta.len(), modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH) });
        }
    }
    found.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| a.file.cmp(&b.file)));
    Ok(found)
}

async fn describe(dir: &Path, entry: Entry) -> Value {
    let name = entry.file.trim_end_matches(".html").to_string();
    // `bench report` writes the aggregated data beside the page; the list offers it when it is there.
    let data = format!("{name}.json");
    let data = regular_file(dir, &data).await.map(|_| data);
    let modified = DateTime::<Utc>::from(entry.modified).to_rfc3339_opts(SecondsFormat::Secs, true);
    json!({ "name": name, "file": entry.file, "bytes": entry.bytes, "modified": modified, "data": data })
}

async fn index(State(dir): State<Arc<PathBuf>>) -> Response {
    match entries(&dir).await {
        Ok(found) => {
            let mut list = Vec::with_capacity(found.len());
            for entry in found {
                list.push(describe(&dir, entry).await);
            }
            ([(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "no-cache")], Value::Array(list).to_string())
                .into_response()
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot list the reports folder");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot list the reports folder: {e}\n")).into_response()
        }
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("csv") => "text/csv; charset=utf-8",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn file(State(dir): State<Arc<PathBuf>>, UrlPath(name): UrlPath<String>) -> Response {
    let not_found =
        || (StatusCode::NOT_FOUND, format!("no report file named {name:?} here: see {INDEX_PATH} for the list\n"));
    if regular_file(&dir, &name).await.is_none() {
        return not_found().into_response();
    }
    match tokio::fs::read(dir.join(&name)).await {
        Ok(body) => ([(CONTENT_TYPE, content_type(&name)), (CACHE_CONTROL, "no-cache")], body).into_response(),
        // Removed between the check and the read: as absent as it was never there.
        Err(e) if e.kind() == ErrorKind::NotFound => not_found().into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read {name:?}: {e}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests;
