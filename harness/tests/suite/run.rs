//! A real smoke run of the whole stack through the `bench` binary: the results file is complete and its rows
//! hold the invariants of docs/guide.md and docs/results-format.md, the audit passed, no secret of the run is in anything it wrote, and
//! nothing is left running.

use crate::support::{bench, Within, QUICK};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bench_results::{EndedBy, Run};

/// The secrets of a run, read while its stack runs: the databases' password bench generated (in the
/// containers' environment) and the accounts' tokens the bank issued (db-ch's `account` table).
#[derive(Debug, Default)]
struct Secrets {
    password: Option<String>,
    tokens: BTreeSet<String>,
}

/// Reads the run's secrets every 200 ms until `running` turns false: accounts opened late in the run are seen
/// as long as the stack stands a moment after them (the audit and the teardown take longer than that).
async fn collect_secrets(secrets: Arc<Mutex<Secrets>>, running: Arc<std::sync::atomic::AtomicBool>) {
    let docker = stack::docker::connect().await.expect("engine");
    while running.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let known = secrets.lock().unwrap().password.clone();
        let Some(password) = (match known {
            Some(p) => Some(p),
            None => password_of(&docker, "kgb-db-ch").await,
        }) else {
            continue;
        };
        secrets.lock().unwrap().password = Some(password.clone());
        if let Some(tokens) = tokens_in_db_ch(&password).await {
            secrets.lock().unwrap().tokens.extend(tokens);
        }
    }
}

/// `POSTGRES_PASSWORD` in the environment of the run's `container` (only a run's own: the test holds the stack lock).
async fn password_of(docker: &bollard::Docker, container: &str) -> Option<String> {
    let info = docker.inspect_container(container, None).await.ok()?;
    let labels = info.config.as_ref()?.labels.as_ref()?;
    if labels.get("kgb.owner").map(String::as_str) != Some("run") {
        return None;
    }
    info.config?.env?.iter().find_map(|kv| kv.strip_prefix("POSTGRES_PASSWORD=").map(str::to_string))
}

/// Every account token in db-ch but the house account's (a constant of the code, not a secret).
async fn tokens_in_db_ch(password: &str) -> Option<Vec<String>> {
    let url = format!("postgres://postgres:{password}@127.0.0.1:25432/postgres");
    let config: tokio_postgres::Config = url.parse().ok()?;
    let read = async {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.ok()?;
        tokio::spawn(connection);
        let rows = client.query("SELECT token FROM account", &[]).await.ok()?;
        Some(rows.iter().map(|r| r.get::<_, String>(0)).filter(|t| t != topology::iban::HOUSE_TOKEN).collect())
    };
    tokio::time::timeout(Duration::from_secs(3), read).await.ok().flatten()
}

/// Every file under `folder`.
fn files_under(folder: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(folder)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smoke_run_writes_a_complete_results_file_that_holds_the_invariants() {
    let _serial = crate::support::serial_async().await;
    let results = tempfile::tempdir().expect("temp dir");
    let outputs = tempfile::tempdir().expect("temp dir");
    let experiment = crate::support::shortened_smoke(outputs.path(), 160);
    let (stdout_path, stderr_path) = (outputs.path().join("run.stdout"), outputs.path().join("run.stderr"));
    let mut child = bench()
        .arg("run")
        .arg(&experiment)
        .arg("--results")
        .arg(results.path())
        .stdout(Stdio::from(std::fs::File::create(&stdout_path).expect("stdout file")))
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).expect("stderr file")))
        .spawn()
        .expect("bench runs");
    let secrets = Arc::new(Mutex::new(Secrets::default()));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let collector = tokio::spawn(collect_secrets(secrets.clone(), running.clone()));
    // The run stops within about a minute; a bench that hangs is killed and the test fails.
    let limit = Duration::from_secs(600);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("bench waited for") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bench run did not end within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    running.store(false, std::sync::atomic::Ordering::SeqCst);
    collector.await.expect("the secrets were collected");
    let (stdout, stderr) = (
        std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    );
    assert!(status.success(), "bench run failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("passed"), "{stdout}");

    let files = bench_results::files(results.path()).expect("results listed");
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with(results.path().join("smoke/default")), "{files:?}");
    let run = Run::read(&files[0]).expect("results file reads back");

    // The report of the run, and its summary for `bench history`: outputs too.
    let report = bench()
        .arg("report")
        .arg(results.path())
        .arg("--out")
        .arg(outputs.path().join("report/smoke.html"))
        .arg("--summary")
        .arg(outputs.path().join("report/summary.json"))
        .output_within(QUICK);
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    std::fs::write(outputs.path().join("report.stdout"), &report.stdout).expect("written");
    std::fs::write(outputs.path().join("report.stderr"), &report.stderr).expect("written");

    let secrets = std::mem::take(&mut *secrets.lock().unwrap());
    let password = secrets.password.expect("the run's database password was read from its containers");
    assert_eq!(password.len(), 16, "bench generates 16 characters");
    // The probe's account and the generators': two each, all but the last few read before the stack went.
    let generators = run.end.as_ref().map_or(0, |e| e.counts.generators) as usize;
    assert!(secrets.tokens.len() > generators, "{} tokens read for {generators} generators", secrets.tokens.len());
    let written: Vec<PathBuf> = [results.path(), outputs.path()].iter().flat_map(|f| files_under(f)).collect();
    assert!(written.len() >= 7, "the results file, four outputs, the report and its JSON, the summary: {written:?}");
    for path in &written {
        let bytes = std::fs::read(path).expect("readable");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&password), "the run's database password is in {}", path.display());
        for token in &secrets.tokens {
            assert!(!text.contains(token.as_str()), "an account's token ({token}) is in {}", path.display());
        }
        assert!(!text.contains("postgres://"), "a database URL is in {}", path.display());
    }
    eprintln!("checked {} files for the password and {} tokens", written.len(), secrets.tokens.len());
    let end = run.end.as_ref().expect("the run has its end line");

    assert_eq!(run.header.experiment, "smoke");
    assert!(!run.header.images.is_empty() && run.header.host.cpus > 0);
    // The machine's fingerprint, timed before bring-up, and the run's place in its round (one variant: slot 1 of 1).
    let host = &run.header.host;
    assert!(host.cpu_model.is_some() && host.kernel.is_some(), "{host:?}");
    let calibration = host.calibration.expect("the calibration is recorded");
    assert!(calibration.cpu_ms > 0.0 && calibration.memory_ms > 0.0, "{calibration:?}");
    let order = run.header.order.expect("the round order is recorded");
    assert_eq!((order.slot, order.of), (1, 1));
    assert!(end.steal_pct.is_some_and(|s| (0.0..=100.0).contains(&s)), "{:?}", end.steal_pct);
    assert!(end.audit.passed, "{:?}", end.audit);
    assert!(end.audit.confirmed_transfers > 0 && end.audit.answers_checked > 0);
    assert!(matches!(end.ended_by, EndedBy::MaxLoops | EndedBy::Timeouts), "{:?}", end.ended_by);
    assert_eq!(end.counts.loops as usize, run.rows.len());
    assert!(end.counts.generators > 0 && end.counts.transfers > 0);
    assert!(end.bench_cpu_ms > 0.0);
    let peak = end.bench_peak.expect("bench's busiest window is recorded");
    assert!(peak.cpu_pct > 0.0 && peak.cpu_ms_per_1000_transfers > 0.0, "{peak:?}");
    // The load ramps up, so its busiest window drives more than the run's average.
    assert!(peak.transfers_per_s > end.counts.transfers as f64 / end.duration_s, "{peak:?} against {end:?}");

    for pair in run.rows.windows(2) {
        assert_eq!(pair[1].r#loop, pair[0].r#loop + 1, "loops increase one by one");
        assert!(pair[1].generators >= pair[0].generators, "generators never decrease");
        assert!(pair[1].t_ms >= pair[0].t_ms);
    }
    for row in &run.rows {
        assert_eq!(row.timeout, row.probe_ms.is_none(), "loop {}", row.r#loop);
        assert!(row.probe_ms.is_none_or(|ms| ms > 0.0), "loop {}", row.r#loop);
        assert!(row.generator_ms.iter().all(|ms| *ms > 0.0), "loop {}", row.r#loop);
    }
    let timeouts = run.rows.iter().filter(|r| r.timeout).count();
    assert_eq!(timeouts, end.counts.timeouts as usize);
    let sampled: Vec<_> = run.rows.iter().filter_map(|r| r.resources.as_ref()).collect();
    assert!(!sampled.is_empty());
    for resources in sampled {
        for name in ["bench", "kgb-command-handler", "kgb-graphql-endpoint", "kgb-kafka-1"] {
            let sample = resources.get(name).unwrap_or_else(|| panic!("{name} sampled: {resources:?}"));
            assert!(sample.mem_mib > 0.0 && sample.cpu_pct >= 0.0, "{name}: {sample:?}");
        }
    }

    let docker = stack::docker::connect().await.expect("engine");
    let left = stack::docker::container::list_labelled(&docker, "kgb.owner=run").await.expect("list");
    assert!(left.is_empty(), "containers left behind: {left:?}");
}
