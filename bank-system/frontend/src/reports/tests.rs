//! The reports folder over real HTTP, so routing and the URL's percent-decoding are part of what is tested.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

/// Serves `dir` on a free port of 127.0.0.1 for the rest of the test; returns the base URL.
async fn serve(dir: &Path) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = router(dir.to_path_buf());
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let kind = response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

fn write(path: &Path, text: &str, age_s: u64) {
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(age_s)).unwrap();
}

/// A folder as `bench report` leaves it, plus everything that must not be served from it; a secret beside it.
fn folder() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("reports");
    std::fs::create_dir(&dir).unwrap();
    write(&root.path().join("secret.html"), "TOP SECRET", 0);
    write(&dir.join("linger.html"), "<title>linger</title>", 3600);
    write(&dir.join("linger.json"), "{\"runs\":[]}", 3600);
    write(&dir.join("smoke.html"), "<title>smoke</title>", 60);
    write(&dir.join("README.md"), "# reports/", 0);
    write(&dir.join(".draft.html"), "hidden", 0);
    std::fs::create_dir(dir.join("old.html")).unwrap();
    std::os::unix::fs::symlink(root.path().join("secret.html"), dir.join("link.html")).unwrap();
    root
}

#[tokio::test]
async fn the_index_lists_the_html_reports_newest_first() {
    let root = folder();
    let base = serve(&root.path().join("reports")).await;
    let (status, kind, body) = get(&format!("{base}/reports/")).await;
    assert_eq!((status, kind.as_str()), (200, "application/json"), "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["smoke", "linger"], "no dotfile, folder, symlink or non-HTML file: {body}");
    assert_eq!(list[0]["file"], "smoke.html");
    assert_eq!(list[0]["bytes"], 20);
    assert_eq!(list[0]["data"], Value::Null);
    assert_eq!(list[1]["data"], "linger.json", "the aggregated data beside the page is offered");
    assert!(list[1]["modified"].as_str().unwrap().ends_with('Z'), "{body}");
    assert_eq!(get(&format!("{base}/reports")).await.2, body, "with or without the slash");
}

#[tokio::test]
async fn reports_and_their_data_are_served_with_their_types() {
    let root = folder();
    let base = serve(&root.path().join("reports")).await;
    assert_eq!(
        get(&format!("{base}/reports/smoke.html")).await,
        (200, "text/html; charset=utf-8".into(), "<title>smoke</title>".into())
    );
    assert_eq!(
        get(&format!("{base}/reports/linger.json")).await,
        (200, "application/json".into(), "{\"runs\":[]}".into())
    );
    assert_eq!(get(&format!("{base}/reports/README.md")).await.1, "text/plain; charset=utf-8");
}

#[tokio::test]
async fn nothing_outside_the_folder_or_beside_its_files_is_served() {
    let root = folder();
    let base = serve(&root.path().join("reports")).await;
    for path in [
        "..%2Fsecret.html",
        "%2E%2E%2Fsecret.html",
        "..%5Csecret.html",
        "link.html",
        "old.html",
        ".draft.html",
        "old.html/x",
        "absent.html",
    ] {
        let (status, _, body) = get(&format!("{base}/reports/{path}")).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.starts_with("no report file named") && !body.contains("TOP SECRET"), "{path}: {body}");
    }
}

#[tokio::test]
async fn an_absent_folder_lists_no_reports() {
    let root = tempfile::tempdir().unwrap();
    let base = serve(&root.path().join("reports")).await;
    assert_eq!(get(&format!("{base}/reports/")).await, (200, "application/json".into(), "[]".into()));
    assert_eq!(get(&format!("{base}/reports/smoke.html")).await.0, 404);
}
