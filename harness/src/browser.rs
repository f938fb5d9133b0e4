//! Headless Chromium (Debian's `chromium`, or Chrome where that is what the machine has) driven over the DevTools
//! protocol on a pipe of its own ([`pipe`], no TCP port): enough to open the bank UI, run scripts in it and take
//! screenshots. Used by the frontend's end-to-end test and the browser probe.
//! The process is killed when the [`Browser`] is dropped, and its profile folder removed.

mod pipe;

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use pipe::Pipe;

/// How long Chromium may take to answer its first call.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of Chromium's stderr kept for the message when it does not start.
const STDERR_LINES: usize = 20;

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
    pipe: Pipe,
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
        let mut command = tokio::process::Command::new(command());
        command
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let (mut child, pipe) = pipe::spawn(&mut command).map_err(|e| BrowserError::Launch(e.to_string()))?;
        let stderr = child.stderr.take().ok_or_else(|| BrowserError::Launch("no stderr".into()))?;
        // Read all along (Chromium blocks on a full stderr pipe); its last lines say why it did not start.
        let last_lines = Arc::new(Mutex::new(VecDeque::new()));
        let kept = Arc::clone(&last_lines);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(mut kept) = kept.lock() else { return };
                if kept.len() == STDERR_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let mut browser = Browser {
            _child: Some(child),
            pipe,
            session: String::new(),
            next_id: 0,
            _profile: Some(profile),
            call_timeout: CALL_TIMEOUT,
        };
        if let Err(e) = browser.call_within("Browser.getVersion", json!({}), false, START_TIMEOUT).await {
            let said = last_lines.lock().map(|l| Vec::from(l.clone()).join("\n")).unwrap_or_default();
            return Err(BrowserError::Launch(format!("no answer on its DevTools pipe ({e}); its last lines:\n{said}")));
        }
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}), false).await?;
        let target_id = target["targetId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol(format!("no targetId in {target}")))?
            .to_string();
        let attached =
            browser.call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true}), false).await?;
        browser.session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol(format!("no sessionId in {attached}")))?
            .to_string();
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

    async fn call_within(
        &mut self,
        method: &str,
        params: Value,
        in_page: bool,
        limit: Duration,
    ) -> Result<Value, BrowserError> {
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
        self.pipe.send(&message.to_string()).await.map_err(|e| BrowserError::Protocol(e.to_string()))?;
        loop {
            let received = self.pipe.receive().await.map_err(|e| BrowserError::Protocol(e.to_string()))?;
            let text = received.ok_or_else(|| BrowserError::Protocol("the browser closed the connection".into()))?;
            let answer: Value = serde_json::from_str(&text).map_err(|e| BrowserError::Protocol(e.to_string()))?;
            // Events and answers to other calls share the pipe.
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
            let text = details["exception"]["description"]
                .as_str()
                .or_else(|| details["text"].as_str())
                .unwrap_or("an exception");
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
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Protocol(e.to_string()))?;
        std::fs::write(path, png).map_err(|e| BrowserError::Protocol(format!("writing {}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A browser stand-in that reads every call without ever answering one.
    fn silent_browser() -> (Pipe, tokio::task::JoinHandle<()>) {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let (read, write) = tokio::io::split(ours);
        let server = tokio::spawn(async move {
            let (mut calls, _answers) = tokio::io::split(theirs);
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut calls, &mut sink).await;
        });
        (Pipe::new(Box::new(read), Box::new(write)), server)
    }

    #[tokio::test]
    async fn a_call_the_browser_never_answers_fails_naming_the_method() {
        let (pipe, server) = silent_browser();
        let mut browser =
            Browser { _child: None, pipe, session: "s".into(), next_id: 0, _profile: None, call_timeout: CALL_TIMEOUT };
        browser.set_call_timeout(Duration::from_secs(1));
        // Bounded here too, so a call that ignores its timeout fails this test instead of hanging it.
        let bound = Duration::from_secs(10);
        let call = browser.call("Page.navigate", json!({"url": "about:blank"}), true);
        let err = tokio::time::timeout(bound, call).await.expect("the call gives up by itself").unwrap_err();
        assert!(
            matches!(&err, BrowserError::CallTimeout { method, after } if method == "Page.navigate" && *after == Duration::from_secs(1)),
            "{err}"
        );
        let err =
            tokio::time::timeout(bound, browser.eval("1 + 1")).await.expect("the call gives up by itself").unwrap_err();
        assert_eq!(err.to_string(), "the browser did not answer Runtime.evaluate within 1s");
        server.abort();
    }

    /// Inodes of the TCP sockets listening on this machine (`/proc/net/tcp` and `tcp6`, state 0A).
    fn listening_inodes() -> Vec<String> {
        let tables = ["/proc/net/tcp", "/proc/net/tcp6"].map(|t| std::fs::read_to_string(t).unwrap_or_default());
        tables
            .iter()
            .flat_map(|t| t.lines().skip(1))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.get(3) == Some(&"0A"))
            .filter_map(|f| f.get(9).map(|i| (*i).to_string()))
            .collect()
    }

    /// The browser's processes: those whose command line names its profile folder (a temporary folder of its own).
    fn processes_of(profile: &Path) -> Vec<(u32, String)> {
        let wanted = profile.display().to_string();
        let entries = std::fs::read_dir("/proc").expect("/proc");
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| Some((pid, std::fs::read(format!("/proc/{pid}/cmdline")).ok()?)))
            .map(|(pid, line)| (pid, String::from_utf8_lossy(&line).replace('\0', " ")))
            .filter(|(_, line)| line.contains(&wanted))
            .collect()
    }

    /// Needs Chromium (scripts/setup installs it), as the frontend's tests do.
    #[tokio::test]
    async fn the_browser_is_driven_over_its_pipe_with_no_devtools_port_listening() {
        let mut browser = Browser::launch().await.expect("chromium starts");
        assert_eq!(browser.eval("6 * 7").await.expect("answers over the pipe"), json!(42));
        let profile = browser._profile.as_ref().expect("a profile").path().to_path_buf();
        let processes = processes_of(&profile);
        assert!(!processes.is_empty(), "the browser's processes are found");
        let listening = listening_inodes();
        for (pid, line) in &processes {
            assert!(!line.contains("--remote-debugging-port"), "{pid}: {line}");
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue }; // exited meanwhile
            for fd in fds.filter_map(Result::ok) {
                let target = std::fs::read_link(fd.path()).map(|t| t.display().to_string()).unwrap_or_default();
                let Some(inode) = target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')) else { continue };
                assert!(!listening.contains(&inode.to_string()), "{pid} listens on TCP (socket {inode}): {line}");
            }
        }
    }
}
