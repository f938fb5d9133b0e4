//! Headless Chromium (Debian's `chromium`, or Chrome where that is what the machine has) driven over the DevTools protocol on a websocket: enough to open the
//! bank UI, run scripts in it and take screenshots. Used by the frontend's end-to-end test and the browser probe.
//! The process is killed when the [`Browser`] is dropped, and its profile folder removed.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("cannot start chromium (scripts/setup installs it): {0}")]
    Launch(String),
    #[error("DevTools protocol: {0}")]
    Protocol(String),
    #[error("script failed in the page: {0}")]
    Script(String),
    #[error("the page did not answer within {0:?}")]
    Timeout(Duration),
    /// The browser never answered one call: without a bound a hung browser or page would hang its caller.
    #[error("the browser did not answer {method} within {after:?}")]
    CallTimeout { method: String, after: Duration },
}

/// How long [`Browser`] waits for the answer to one DevTools call unless told otherwise
/// ([`Browser::set_call_timeout`], [`Browser::eval_within`]).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Defined in every page the browser opens: `kgbWait(selector, ms)` resolves with the first visible element
/// matching `selector`, or rejects after `ms`.
const HELPERS: &str = r#"
window.kgbWait = (selector, ms = 20000) => new Promise((resolve, reject) => {
  const start = performance.now();
  (function poll() {
    const el = [...document.querySelectorAll(selector)].find(e => !e.closest("[hidden]"));
    if (el) return resolve(el);
    if (performance.now() - start > ms) return reject(new Error("nothing visible matches " + selector));
    setTimeout(poll, 10);
  })();
});
"#;

/// Names Chromium goes by: Debian's package, then Google's Chrome (which GitHub's Ubuntu runners carry), then
/// Ubuntu's name, last because Ubuntu's apt package of that name is only a stub installing a snap.
const CANDIDATES: [&str; 4] = ["chromium", "google-chrome", "google-chrome-stable", "chromium-browser"];

/// The browser to start: `KGB_CHROMIUM` when set, else the first of [`CANDIDATES`] on `PATH`, else `chromium`
/// (whose failure to start then names what scripts/setup installs).
pub fn command() -> String {
    if let Some(chosen) = std::env::var("KGB_CHROMIUM").ok().filter(|c| !c.trim().is_empty()) {
        return chosen;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = |name: &str| std::env::split_paths(&path).any(|dir| dir.join(name).is_file());
    CANDIDATES.into_iter().find(|name| on_path(name)).unwrap_or(CANDIDATES[0]).to_string()
}

pub struct Browser {
    /// `None` only for a browser reached at an address rather than started (the tests' stand-in).
    _child: Option<tokio::process::Child>,
    socket: Socket,
    session: String,
    next_id: u64,
    _profile: Option<tempfile::TempDir>,
    call_timeout: Duration,
}

impl Browser {
    /// Starts a headless Chromium with a fresh profile and attaches to one blank page.
    ///
    /// # Errors
    /// [`BrowserError::Launch`] when Chromium cannot start, [`BrowserError::Protocol`] when it does not talk.
    pub async fn launch() -> Result<Browser, BrowserError> {
        let profile = tempfile::tempdir().map_err(|e| BrowserError::Launch(e.to_string()))?;
        let mut child = tokio::process::Command::new(command())
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BrowserError::Launch(e.to_string()))?;
        let stderr = child.stderr.take().ok_or_else(|| BrowserError::Launch("no stderr".into()))?;
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    return Some(url.trim().to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| BrowserError::Launch("no DevTools address on its stderr".into()))?;
        // Chromium blocks once a full stderr pipe is not read.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.map_err(|e| BrowserError::Protocol(e.to_string()))?;
        let mut browser = Browser { _child: Some(child), socket, session: String::new(), next_id: 0, _profile: Some(profile), call_timeout: CALL_TIMEOUT };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}), false).await?;
        let target_id = target["targetId"].as_str().ok_or_else(|| BrowserError::Protocol(format!("no targetId in {target}")))?.to_string();
        let attached = browser.call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true}), false).await?;
        browser.session = attached["sessionId"].as_str().ok_or_else(|| BrowserError::Protocol(format!("no sessionId in {attached}")))?.to_string();
        browser.call("Page.enable", json!({}), true).await?;
        browser.call("Page.addScriptToEvaluateOnNewDocument", json!({"source": HELPERS}), true).await?;
        Ok(browser)
    }

    /// Bounds every later call (default [`CALL_TIMEOUT`]).
    pub fn set_call_timeout(&mut self, limit: Duration) {
        self.call_timeout = limit;
    }

    /// One DevTools call, bounded by the call timeout. After a timeout the socket may hold half a frame: the
    /// browser is then best dropped.
    async fn call(&mut self, method: &str, params: Value, in_page: bool) -> Result<Value, BrowserError> {
        let limit = self.call_timeout;
        self.call_within(method, params, in_page, limit).await
    }

    async fn call_within(&mut self, method: &str, params: Value, in_page: bool, limit: Duration) -> Result<Value, BrowserError> {
        let answer = tokio::time::timeout(limit, self.call_unbounded(method, params, in_page)).await;
        answer.map_err(|_| BrowserError::CallTimeout { method: method.into(), after: limit })?
    }

    async fn call_unbounded(&mut self, method: &str, params: Value, in_page: bool) -> Result<Value, BrowserError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if in_page {
            message["sessionId"] = json!(self.session);
        }
        self.socket.send(Message::text(message.to_string())).await.map_err(|e| BrowserError::Protocol(e.to_string()))?;
        loop {
            let frame = self.socket.next().await.ok_or_else(|| BrowserError::Protocol("the browser closed the connection".into()))?;
            let Message::Text(text) = frame.map_err(|e| BrowserError::Protocol(e.to_string()))? else { continue };
            let answer: Value = serde_json::from_str(&text).map_err(|e| BrowserError::Protocol(e.to_string()))?;
            // Events and answers to other calls share the socket.
            if answer["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(error) = answer.get("error") {
                return Err(BrowserError::Protocol(format!("{method}: {error}")));
            }
            return Ok(answer["result"].clone());
        }
    }

    /// Opens `url` and waits until the document has loaded.
    ///
    /// # Errors
    /// The protocol's errors, or a page that does not load in 30 s.
    pub async fn goto(&mut self, url: &str) -> Result<(), BrowserError> {
        self.call("Page.navigate", json!({"url": url}), true).await?;
        let limit = Duration::from_secs(30);
        let waited = tokio::time::timeout(limit, async {
            loop {
                if self.eval("document.readyState").await? == json!("complete") {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        waited.await.map_err(|_| BrowserError::Timeout(limit))?
    }

    /// Evaluates `expression` in the page, awaiting it when it is a promise, and returns its value.
    ///
    /// # Errors
    /// [`BrowserError::Script`] with the page's exception, [`BrowserError::CallTimeout`] when it takes longer than
    /// the call timeout.
    pub async fn eval(&mut self, expression: &str) -> Result<Value, BrowserError> {
        let limit = self.call_timeout;
        self.eval_within(expression, limit).await
    }

    /// [`Browser::eval`] for a script that may rightly take longer than the call timeout, bounded by `limit`.
    ///
    /// # Errors
    /// As [`Browser::eval`], the timeout being `limit`.
    pub async fn eval_within(&mut self, expression: &str, limit: Duration) -> Result<Value, BrowserError> {
        let params = json!({"expression": expression, "awaitPromise": true, "returnByValue": true});
        let result = self.call_within("Runtime.evaluate", params, true, limit).await?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details["exception"]["description"].as_str().or_else(|| details["text"].as_str()).unwrap_or("an exception");
            return Err(BrowserError::Script(text.to_string()));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Saves a PNG of the page.
    ///
    /// # Errors
    /// The protocol's errors, or the file not being writable.
    pub async fn screenshot(&mut self, path: &Path) -> Result<(), BrowserError> {
        use base64::Engine;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}), true).await?;
        let data = shot["data"].as_str().ok_or_else(|| BrowserError::Protocol("no screenshot data".into()))?;
        let png = base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| BrowserError::Protocol(e.to_string()))?;
        std::fs::write(path, png).map_err(|e| BrowserError::Protocol(format!("writing {}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DevTools endpoint that accepts the websocket and reads every call without ever answering one.
    async fn silent_browser() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/devtools/browser/silent", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut socket = tokio_tungstenite::accept_async(tcp).await.unwrap();
            while let Some(Ok(_)) = socket.next().await {}
        });
        (url, server)
    }

    #[tokio::test]
    async fn a_call_the_browser_never_answers_fails_naming_the_method() {
        let (url, server) = silent_browser().await;
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        let mut browser = Browser { _child: None, socket, session: "s".into(), next_id: 0, _profile: None, call_timeout: CALL_TIMEOUT };
        browser.set_call_timeout(Duration::from_secs(1));
        // Bounded here too, so a call that ignores its timeout fails this test instead of hanging it.
        let bound = Duration::from_secs(10);
        let call = browser.call("Page.navigate", json!({"url": "about:blank"}), true);
        let err = tokio::time::timeout(bound, call).await.expect("the call gives up by itself").unwrap_err();
        assert!(matches!(&err, BrowserError::CallTimeout { method, after } if method == "Page.navigate" && *after == Duration::from_secs(1)), "{err}");
        let err = tokio::time::timeout(bound, browser.eval("1 + 1")).await.expect("the call gives up by itself").unwrap_err();
        assert_eq!(err.to_string(), "the browser did not answer Runtime.evaluate within 1s");
        server.abort();
    }
}
