//! `[stack] tls = true` on the real stack, through the `bench` binary: clients without a certificate are refused
//! by the brokers and by PostgreSQL, a client with the files `bench up` prints is served, a run over TLS with the
//! endpoint on wss:// too (a broker killed on the way) passes its audit, and nothing of a stack, its TLS folder
//! included, outlives it.

use crate::support::{bench, serial, Down, Within, STACK};

use std::path::{Path, PathBuf};
use std::time::Duration;

use openssl::ssl::{SslConnector, SslMethod};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use topology::tls::ClientTls;

use bench_results::{EndedBy, Run};

/// A TLS run of a few minutes, on a cold and busy machine.
const RUN: Duration = Duration::from_secs(900);

/// What `bench up` printed: the value after `label` on its line.
fn printed(stdout: &str, label: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{stdout}"));
    line.trim_start()[label.len()..].trim().to_string()
}

/// Metadata from `bootstrap` with the security settings `secure` makes: the brokers it lists, or why not.
fn brokers(bootstrap: &str, secure: impl FnOnce(&mut ClientConfig)) -> Result<usize, String> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap).set("socket.connection.setup.timeout.ms", "2000");
    secure(&mut config);
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    consumer.fetch_metadata(None, Duration::from_secs(5)).map(|m| m.brokers().len()).map_err(|e| e.to_string())
}

/// `SELECT 1` on `url` (which says `sslmode=require`) over `connector`, or PostgreSQL's refusal with its causes.
async fn select_one<T>(url: &str, connector: T) -> Result<(), String>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket> + Send + 'static,
    T::Stream: Send + 'static,
{
    let (client, connection) =
        tokio_postgres::connect(url, connector).await.map_err(|e| topology::errors::chain(&e))?;
    tokio::spawn(connection);
    client.simple_query("SELECT 1").await.map(|_| ()).map_err(|e| topology::errors::chain(&e))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("experiment written");
    path
}

#[test]
fn a_tls_stack_refuses_clients_without_a_certificate_and_serves_one_with_the_printed_files() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let up = write(
        dir.path(),
        "up.toml",
        "name = \"tls-up\"\n[stack]\nbrokers = 1\ntls = true\nkafka_jvm_opts = \"-Xms512m -Xmx512m\"\n",
    );
    let out = bench().arg("up").arg(&up).arg("--show-password").output_within(STACK);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let id = printed(&stdout, "stack").split_whitespace().next().expect("the stack id").to_string();
    // Removed by `bench down --stack` at the end, and on a failed assertion too.
    let _down = Down::stack(&id);
    let tls = ClientTls {
        ca: printed(&stdout, "tls ca").into(),
        cert: printed(&stdout, "tls client cert").into(),
        key: printed(&stdout, "tls client key").into(),
    };
    let (bootstrap, db_ch, registry) =
        (printed(&stdout, "kafka"), printed(&stdout, "db-ch"), printed(&stdout, "schema registry"));
    assert!(db_ch.ends_with("?sslmode=require") && registry.starts_with("https://"), "{stdout}");

    assert_eq!(brokers(&bootstrap, |c| tls.kafka(c)), Ok(1), "the printed files reach the brokers");
    let plaintext = brokers(&bootstrap, |_| {});
    assert!(plaintext.is_err(), "a plaintext client is not served: {plaintext:?}");
    let no_cert = brokers(&bootstrap, |c| {
        c.set("security.protocol", "ssl").set("ssl.ca.location", tls.ca.display().to_string());
    });
    assert!(no_cert.is_err(), "a TLS client without a certificate is refused: {no_cert:?}");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        assert_eq!(
            select_one(&db_ch, tls.postgres().expect("connector")).await,
            Ok(()),
            "the printed files reach PostgreSQL"
        );
        let plain = select_one(&db_ch.replace("sslmode=require", "sslmode=disable"), tokio_postgres::NoTls).await;
        assert!(
            plain.as_ref().is_err_and(|e| e.contains("no encryption")),
            "plaintext is refused by pg_hba: {plain:?}"
        );
        let mut ca_only = SslConnector::builder(SslMethod::tls_client()).expect("connector");
        ca_only.set_ca_file(&tls.ca).expect("the printed CA");
        let no_cert = select_one(&db_ch, postgres_openssl::MakeTlsConnector::new(ca_only.build())).await;
        assert!(
            no_cert.as_ref().is_err_and(|e| e.contains("requires a valid client certificate")),
            "TLS without a certificate is refused: {no_cert:?}"
        );

        let https = tls.http(reqwest::Client::builder()).expect("client").build().expect("client");
        let subjects = https.get(format!("{registry}/subjects")).send().await.expect("the registry answers over HTTPS");
        assert!(subjects.status().is_success(), "{subjects:?}");
        let http = reqwest::get(format!("{}/subjects", registry.replace("https://", "http://"))).await;
        assert!(http.as_ref().map_or(true, |r| !r.status().is_success()), "no plaintext registry: {http:?}");
    });

    // An external deployment that requires TLS, audited with the files named in [external].
    let external = format!(
        "name = \"tls-external\"\n[load]\nprobe_interval_ms = 250\nmax_loops = 24\nloops_per_generator = 8\ntransfer_pause_ms = 100\n\
         resources_every_loops = 8\n[external]\ngraphql = \"{}\"\ndb_ch = \"{db_ch}\"\ndb_ge = \"{}\"\ntls_ca = \"{}\"\n\
         tls_cert = \"{}\"\ntls_key = \"{}\"\n",
        printed(&stdout, "graphql").split_whitespace().last().expect("websocket").trim_end_matches(')'),
        printed(&stdout, "db-ge"),
        tls.ca.display(),
        tls.cert.display(),
        tls.key.display(),
    );
    let external = write(dir.path(), "external.toml", &external);
    let results = dir.path().join("results");
    let out =
        bench().args(["run", "--platform", "external", "--results"]).arg(&results).arg(&external).output_within(RUN);
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{log}");
    let run = Run::read(&bench_results::files(&results).expect("listed")[0]).expect("results file");
    let audit = &run.end.as_ref().expect("end line").audit;
    assert!(audit.passed && audit.answers_checked > 0, "{audit:?}");

    let down = bench().args(["down", "--stack", &id]).output_within(STACK);
    assert!(down.status.success());
    assert!(
        !tls.ca.exists() && !stack::tls::folder(&id).expect("an id").exists(),
        "the stack's TLS folder goes with it"
    );
}

#[test]
fn a_run_over_tls_and_wss_survives_a_killed_broker_passes_its_audit_and_leaves_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let experiment = r#"name = "tls-run"
[load]
probe_interval_ms = 250
probe_timeout_ms = 3000
max_timeouts = 5
max_loops = 160
loops_per_generator = 10
generators_per_step = 2
transfer_pause_ms = 100
resources_every_loops = 20
[stack]
brokers = 3
tls = true
tls_endpoint = true
kafka_jvm_opts = "-Xms384m -Xmx384m"
[stack.topics]
partitions = 3
[[faults]]
at_loop = 40
target = "kafka-2"
action = "kill"
duration_s = 5
"#;
    let file = write(dir.path(), "tls-run.toml", experiment);
    let before = folders();
    let out = bench().arg("run").arg(&file).arg("--results").arg(dir.path()).output_within(RUN);
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{log}");
    let run = Run::read(&bench_results::files(dir.path()).expect("listed")[0]).expect("results file");
    let stack = &run.header.parameters.stack;
    assert!(stack.tls && stack.tls_endpoint, "the results say the stack ran TLS, its endpoint too");
    let end = run.end.as_ref().expect("end line");
    assert!(end.counts.transfers > 160, "the probe and the generators were answered over wss://: {log}");
    assert_eq!(end.ended_by, EndedBy::MaxLoops, "{log}");
    assert!(end.audit.passed && end.audit.answers_checked > 0, "{:?}", end.audit);
    assert!(run.rows.iter().any(|r| !r.faults.is_empty()), "the broker was killed and started again: {log}");
    assert_eq!(folders(), before, "the run's TLS folder is removed with its stack");
}

/// The TLS folders of every stack on this machine.
fn folders() -> Vec<PathBuf> {
    let root = stack::tls::root();
    let mut folders: Vec<PathBuf> =
        std::fs::read_dir(root).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    folders.sort();
    folders
}
