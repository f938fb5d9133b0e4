//! The browser probe (`probe = "browser"`): headless Chromium logged in to the bank UI as the probe's user,
//! doing the same ten actions as the GraphQL probe through the page (a deposit button, or the transfer form)
//! and measured from the loop's intended start until the transaction shows in the page's list, as 2019 measured.

use std::time::Duration;

use tokio::time::Instant;

use super::probe::{cycle, Cause, Outcome};
use crate::browser::{Browser, BrowserError};
use topology::iban::HOUSE_IBAN;
use topology::money::euros;

pub struct BrowserProbe {
    browser: Browser,
    timeout: Duration,
}

impl BrowserProbe {
    /// Opens the client page at `frontend` and logs in as `user` (password = username, at least 8 characters).
    ///
    /// # Errors
    /// Chromium not starting, the page not loading, or the login not succeeding.
    pub async fn start(frontend: &str, user: &str, timeout: Duration) -> Result<BrowserProbe, BrowserError> {
        let mut browser = Browser::launch().await?;
        browser.goto(&format!("{frontend}#/client")).await?;
        let login = format!(
            r##"(async () => {{
                await kgbWait("#login-form");
                document.getElementById("username").value = {user:?};
                document.getElementById("password").value = {user:?};
                document.getElementById("login-form").requestSubmit();
                await kgbWait("#transactions", 60000);
                return true;
            }})()"##
        );
        // The login may wait 60 s for the list: more than a call is given by default.
        browser.eval_within(&login, Duration::from_secs(75)).await?;
        Ok(BrowserProbe { browser, timeout })
    }

    /// Runs loop `k` whose intended start is `start`.
    pub async fn run(&mut self, k: u32, start: Instant) -> Outcome {
        let (cents, descr, deposit) = cycle(k);
        let act = if deposit {
            format!(r##"(await kgbWait('button.deposit[data-cents="{cents}"]')).click();"##)
        } else {
            format!(
                r##"document.getElementById("amount").value = "{}.{:02}";
                document.getElementById("to").value = "{HOUSE_IBAN}";
                document.getElementById("descr").value = "{descr}";
                document.getElementById("transfer-form").requestSubmit();"##,
                cents / 100,
                cents % 100
            )
        };
        // Only an item newer than every item already listed is this loop's transaction.
        let script = format!(
            r##"(async () => {{
                const newest = Math.max(0, ...[...document.querySelectorAll("#transactions li")].map(li => Number(li.dataset.id)));
                {act}
                const until = performance.now() + {ms};
                const wanted = li => Number(li.dataset.id) > newest && li.dataset.descr === "{descr}" && li.dataset.changedBy === "{amount}";
                for (;;) {{
                    if ([...document.querySelectorAll("#transactions li")].some(wanted)) return true;
                    if (performance.now() > until) throw new Error("not in the list in time");
                    await new Promise(r => setTimeout(r, 2));
                }}
            }})()"##,
            amount = euros(cents),
            ms = self.timeout.as_millis(),
        );
        // The deadline here is the probe's own; the call's, a little later, only backs it up.
        let eval = self.browser.eval_within(&script, self.timeout + Duration::from_secs(5));
        match tokio::time::timeout_at(start + self.timeout, eval).await {
            Ok(Ok(_)) => Outcome::Arrived(Instant::now() - start),
            Ok(Err(e)) => Outcome::Timeout(Cause::Refused(Some(e.to_string()))),
            // The script may still be waiting in the page; the next loop's `newest` leaves its item out.
            Err(_) => Outcome::Timeout(Cause::TooSlow),
        }
    }
}
