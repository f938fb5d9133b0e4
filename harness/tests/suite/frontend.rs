//! The bank UI end to end, in headless Chromium against the whole stack (frontend in its own container): log in,
//! deposit, transfer, and see both transactions arrive in the list; the Results page lists the reports of the
//! folder bench shows the frontend and opens them; screenshots kept as artifacts.

use crate::support::{bench, serial, serial_async, text, Within, QUICK};

use std::path::Path;
use std::time::{Duration, SystemTime};

use harness::browser::Browser;
use harness::experiment::ExperimentFile;
use stack::{Options, Owner, Services, Stack};

const SETTINGS: &str = "name = \"frontend\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms512m -Xmx512m\"\n[stack.topics]\npartitions = 3\n";

#[tokio::test]
async fn log_in_deposit_transfer_and_see_both_transactions() {
    let _serial = serial_async().await;
    let file = ExperimentFile::parse(Path::new("frontend.toml"), SETTINGS).expect("settings");
    let docker = stack::docker::connect().await.expect("a Docker engine");
    let reports = reports_folder();
    let options =
        Options { owner: Owner::Run, services: Services::Require, reports: Some(reports.path().to_path_buf()) };
    let mut stack =
        Stack::up(&docker, &file.experiment.stack, options, &|_| {}).await.expect("the whole stack with its frontend");
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts folder");

    let mut browser = Browser::launch().await.expect("chromium");
    let ui = stack.plan.endpoints.frontend.clone();
    browser.goto(&format!("{ui}#/client")).await.expect("the client page loads");
    let iban = browser
        .eval(
            r##"(async () => {
                await kgbWait("#connection");
                document.getElementById("username").value = "e2e-client";
                document.getElementById("password").value = "e2e-password";
                document.getElementById("login-form").requestSubmit();
                const iban = await kgbWait("#iban");
                await kgbWait("#transactions");
                const until = performance.now() + 10000;
                while (!iban.textContent) {
                    if (performance.now() > until) throw new Error("logged in, but no IBAN shown after 10 s");
                    await new Promise(r => setTimeout(r, 20));
                }
                return iban.textContent;
            })()"##,
        )
        .await
        .expect("logged in");
    let iban = iban.as_str().expect("an IBAN").to_string();
    assert!(topology::iban::is_valid_open_iban(&iban), "{iban}");
    browser.screenshot(&artifacts.join("frontend-1-logged-in.png")).await.expect("screenshot");

    let deposit = browser
        .eval(
            r##"(async () => {
                (await kgbWait('button.deposit[data-cents="5000"]')).click();
                const li = await kgbWait('#transactions li[data-descr="deposit"]');
                return [li.dataset.changedBy, li.dataset.direction];
            })()"##,
        )
        .await
        .expect("the deposit shows up");
    assert_eq!(deposit, serde_json::json!(["€50,00", "CREDIT"]));

    let transfer = browser
        .eval(
            r##"(async () => {
                document.getElementById("amount").value = "12.34";
                document.getElementById("to").value = "NL66OPEN0000000000";
                document.getElementById("descr").value = "e2e transfer";
                document.getElementById("transfer-form").requestSubmit();
                const li = await kgbWait('#transactions li[data-descr="e2e transfer"]');
                const items = [...document.querySelectorAll("#transactions li")].map(l => l.dataset.descr);
                return [li.dataset.changedBy, li.dataset.direction, document.getElementById("balance").textContent, items];
            })()"##,
        )
        .await
        .expect("the transfer shows up");
    assert_eq!(transfer, serde_json::json!(["€12,34", "DEBIT", "€37,66", ["e2e transfer", "deposit"]]));
    browser.screenshot(&artifacts.join("frontend-2-transactions.png")).await.expect("screenshot");

    // The employee page lists the newest transaction of every account, this one's among them.
    browser.goto(&format!("{ui}#/employee")).await.expect("the employee page loads");
    let listed = browser
        .eval(&format!(
            r##"(async () => {{
                await kgbWait("#accounts tr");
                return [...document.querySelectorAll("#accounts td")].some(td => td.textContent === "{iban}");
            }})()"##
        ))
        .await
        .expect("accounts listed");
    assert_eq!(listed, serde_json::json!(true));
    browser.screenshot(&artifacts.join("frontend-3-employee.png")).await.expect("screenshot");
    assert_eq!(browser.eval("window.kgbErrors").await.expect("errors"), serde_json::json!([]), "no error in the page");
    // Euros typed by a person become cents exactly (2019 truncated €0,29 to 28 cents).
    let cents = browser.eval(r##"[toCents("0.29"), toCents("0,29"), toCents("1000000"), toCents("1000000.01"), toCents("0"), toCents("12.345"), euros(123456)]"##).await;
    assert_eq!(cents.expect("evaluated"), serde_json::json!([29, 29, 100_000_000, null, null, null, "€1.234,56"]));
    results_page_lists_and_opens_the_reports(&mut browser, &ui, &artifacts).await;
    drop(browser);
    stack.teardown().await.expect("teardown");
}

/// A reports folder as `bench report` leaves it: two pages (one an hour older), the data of one, a README.
fn reports_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str, age: Duration| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let file = std::fs::File::options().write(true).open(&path).expect("open");
        file.set_modified(SystemTime::now() - age).expect("mtime");
    };
    write("older.html", "<title>older</title><h1 id=\"report\">older</h1>", Duration::from_secs(3600));
    write("e2e.html", "<title>e2e</title><h1 id=\"report\">runs from results/e2e</h1>", Duration::ZERO);
    write("e2e.json", "{}", Duration::ZERO);
    write("README.md", "# reports/", Duration::ZERO);
    dir
}

async fn results_page_lists_and_opens_the_reports(browser: &mut Browser, ui: &str, artifacts: &Path) {
    browser.goto(&format!("{ui}#/results")).await.expect("the results page loads");
    let listed = browser
        .eval(
            r##"(async () => {
                await kgbWait('#reports-status[data-state="listed"]');
                return [...document.querySelectorAll("#reports-list a.report")].map(a => [a.textContent, a.getAttribute("href")]);
            })()"##,
        )
        .await
        .expect("reports listed");
    assert_eq!(
        listed,
        serde_json::json!([["e2e", "/reports/e2e.html"], ["older", "/reports/older.html"]]),
        "newest first, pages only"
    );
    assert_eq!(browser.eval("window.kgbErrors").await.expect("errors"), serde_json::json!([]), "no error in the page");
    browser.screenshot(&artifacts.join("frontend-4-results.png")).await.expect("screenshot");
    browser.eval("document.querySelector('#reports-list a.report').click()").await.expect("clicked");
    // The click navigates: until the report has loaded, evaluating may hit the page being left.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let opened = loop {
        let state = browser
            .eval(r##"[location.pathname, document.readyState, document.querySelector("#report")?.textContent]"##)
            .await;
        match state {
            Ok(v) if v[0] == "/reports/e2e.html" && v[1] == "complete" => break v,
            _ if tokio::time::Instant::now() > deadline => panic!("the report did not open: {state:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(opened[2], "runs from results/e2e", "the report itself, served from the folder");
}

#[test]
fn browser_and_graphql_probes_run_and_share_a_report() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let experiment = dir.path().join("probe.toml");
    let probe = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/probe.toml"))
        .expect("probe.toml");
    std::fs::write(&experiment, probe.replace("max_loops = 240", "max_loops = 40").replace("repeat = 3", "repeat = 1"))
        .expect("write");
    let out = bench()
        .arg("run")
        .arg(&experiment)
        .arg("--results")
        .arg(dir.path())
        .output_within(std::time::Duration::from_secs(900));
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    let files = bench_results::files(dir.path()).expect("listed");
    assert_eq!(files.len(), 2, "{files:?}");
    for file in &files {
        let run = bench_results::Run::read(file).expect("results file");
        let end = run.end.as_ref().expect("end line");
        assert_eq!(end.counts.loops, 40, "{}: {log}", run.header.variant);
        let arrived = run.rows.iter().filter(|r| r.probe_ms.is_some()).count();
        assert!(arrived >= 36, "{}: only {arrived} of 40 probe loops arrived\n{log}", run.header.variant);
        assert!(end.audit.passed, "{:?}", end.audit);
    }
    let report =
        bench().arg("report").arg(dir.path()).arg("--out").arg(dir.path().join("probe.html")).output_within(QUICK);
    assert!(report.status.success());
    let stdout = String::from_utf8_lossy(&report.stdout);
    assert!(stdout.contains("probe=browser") && stdout.contains("probe=graphql"), "{stdout}");
}
