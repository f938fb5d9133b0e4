//! Experiment files (docs/experiment-file.md): typed settings with 2019 defaults, unknown keys rejected.
//!
//! A file is read once into a TOML table; [`matrix`] writes each combination of the `[matrix]` values into a
//! copy of that table and deserializes it, so a variant is validated exactly like the file itself.

pub mod estimate;
pub mod limits;
pub mod matrix;
pub mod search;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stack::kube::settings::KubeSettings;
use stack::settings::StackSettings;

pub use matrix::Variant;
pub use search::Search;

/// Problems with an experiment file, each naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("cannot read experiment file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: no variant is named {name:?}; its variants are: {known}")]
    UnknownVariant { path: PathBuf, name: String, known: String },
}

impl ExperimentError {
    /// Every problem with an experiment file is the user's to fix.
    pub fn is_bad_input(&self) -> bool {
        true
    }
}

/// An experiment file as written, before the matrix is expanded.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Short name; results go to `results/<name>/`.
    pub name: String,
    /// What the experiment asks, for reports and `--dry-run`.
    #[serde(default)]
    pub description: String,
    /// Runs per variant (`--repeat` overrides).
    #[serde(default = "defaults::repeat")]
    pub repeat: u32,
    /// The load model of one run (docs/guide.md).
    #[serde(default)]
    pub load: Load,
    /// The system under test.
    #[serde(default)]
    pub stack: StackSettings,
    /// Dotted setting paths to lists of values; one variant per combination.
    #[serde(default)]
    pub matrix: BTreeMap<String, Vec<toml::Value>>,
    /// How an open-model run searches for the capacity (`[search]`; only with `load.model = "open"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Search>,
    /// Faults injected during the load (`[[faults]]`).
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// A deployment that is already running, measured by `bench run --platform external`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
    /// Placement on a cluster, for `--platform kubernetes`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub kubernetes: KubeSettings,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// An existing deployment of the bank (`[external]`): bench brings nothing up and removes nothing.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct External {
    /// The GraphQL endpoint's websocket URL, e.g. `ws://127.0.0.1:8888/graphql`.
    pub graphql: String,
    /// The command handler's database, for the audit (`postgres://…`). Not written into results files: it
    /// carries credentials; absent there, which is why it reads back as empty (`external()` refuses that in a file).
    #[serde(skip_serializing, default)]
    pub db_ch: String,
    /// The endpoint's database, for the audit.
    #[serde(skip_serializing, default)]
    pub db_ge: String,
    /// The bank UI, for `probe = "browser"`.
    #[serde(default)]
    pub frontend: Option<String>,
    /// Docker containers of the deployment whose resources are sampled (none: only bench's own).
    #[serde(default)]
    pub containers: Vec<String>,
    /// For databases that require TLS (URLs with `?sslmode=require`): the CA certificate that verifies them (and
    /// a `wss://` graphql), and the client certificate and key (PEM, the key PKCS#8) the audit shows. All three or none; paths as
    /// given (relative ones from where bench runs). `bench up` of a TLS stack prints them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<std::path::PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<std::path::PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl External {
    /// The TLS files the audit shows the databases, when given.
    pub fn tls(&self) -> Option<topology::tls::ClientTls> {
        let settings =
            topology::tls::TlsSettings { tls_ca: self.tls_ca.clone(), tls_cert: self.tls_cert.clone(), tls_key: self.tls_key.clone() };
        settings.client()
    }
}

/// What a fault does to its container.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FaultAction {
    /// SIGKILL, then started again after the duration.
    Kill,
    /// Frozen (cgroup freezer), then thawed after the duration.
    Pause,
    /// Stopped gracefully (SIGTERM), then started again after the duration.
    Restart,
}

impl std::fmt::Display for FaultAction {
    /// The name experiment files use.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FaultAction::Kill => "kill",
            FaultAction::Pause => "pause",
            FaultAction::Restart => "restart",
        })
    }
}

/// One fault: at loop `at_loop`, `action` on container `target` for `duration_s` seconds.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub at_loop: u32,
    /// `kafka-<n>`, `schema-registry`, `db-ch`, `db-ge`, `command-handler` or `graphql-endpoint`.
    pub target: String,
    pub action: FaultAction,
    pub duration_s: u64,
    /// Timeouts from the fault's start until this long after it ends do not count towards `max_timeouts`:
    /// they are the fault's effect, which the run is there to record, not the load's limit.
    #[serde(default = "defaults::grace_s")]
    pub grace_s: u64,
}

impl Fault {
    /// The container the fault acts on.
    pub fn container(&self) -> String {
        format!("kgb-{}", self.target)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.duration_s)
    }

    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_s)
    }
}

/// Which websocket subprotocol clients speak.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum Protocol {
    /// The current protocol, many subscriptions on one connection.
    #[default]
    #[serde(rename = "graphql-transport-ws")]
    GraphqlTransportWs,
    /// The legacy protocol 2019 clients speak.
    #[serde(rename = "graphql-ws")]
    GraphqlWs,
}

/// What the probe drives.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// GraphQL over a websocket, as the generators.
    #[default]
    Graphql,
    /// Headless Chromium clicking through the bank UI, as 2019 measured (what a person sees).
    Browser,
}

/// How load is offered.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// The 2019 ramp: generators that each wait for their answer before the next transfer.
    #[default]
    Closed,
    /// Transfers arrive at a target rate whatever the answers, stepped by `[search]`.
    Open,
}

/// When an open model's transfers arrive.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Evenly spaced at the rate.
    #[default]
    Uniform,
    /// A Poisson process at the rate (exponential gaps, seeded per run).
    Poisson,
}

/// Load settings; 2019 names in the comments, defaults are the values of the 2019 published runs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Load {
    /// Time between probe loops (2019 `min-loop-time`).
    pub probe_interval_ms: u64,
    /// A probe action slower than this is a timeout (2019 `max-interaction-time`).
    pub probe_timeout_ms: u64,
    /// The run ends after more than this many timeouts.
    pub max_timeouts: u32,
    /// The run ends after this many loops.
    pub max_loops: u32,
    /// One more generator step joins every this many loops (2019 `loops-to-generate-generator`).
    pub loops_per_generator: u32,
    /// Generators that join at each step (1 in 2019; more ramps faster in short experiments).
    pub generators_per_step: u32,
    /// Minimum time between one generator's transfers.
    pub transfer_pause_ms: u64,
    /// Websocket subprotocol of the probe and the generators.
    pub protocol: Protocol,
    /// `graphql` or `browser`.
    pub probe: ProbeKind,
    /// Container resources are sampled every this many loops.
    pub resources_every_loops: u32,
    /// `closed` (the 2019 ramp) or `open` (a rate searched by `[search]`; `max_loops`, `max_timeouts` and the
    /// generator settings then do not apply).
    pub model: Model,
    /// Open model: websockets the offered transfers are spread over.
    pub connections: u32,
    /// Open model: accounts the transfers move money between (each its own key, so its own command partition).
    pub accounts: u32,
    /// Open model: `uniform` or `poisson` arrivals.
    pub arrivals: Arrivals,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            probe_interval_ms: 1000,
            probe_timeout_ms: 5000,
            max_timeouts: 9,
            max_loops: 6000,
            loops_per_generator: 60,
            generators_per_step: 1,
            transfer_pause_ms: 250,
            protocol: Protocol::default(),
            probe: ProbeKind::default(),
            resources_every_loops: 20,
            model: Model::default(),
            connections: 8,
            accounts: 64,
            arrivals: Arrivals::default(),
        }
    }
}

impl Load {
    /// The settings in milliseconds as durations, converted here once for every user of them.
    pub fn probe_interval(&self) -> Duration {
        Duration::from_millis(self.probe_interval_ms)
    }

    pub fn probe_timeout(&self) -> Duration {
        Duration::from_millis(self.probe_timeout_ms)
    }

    pub fn transfer_pause(&self) -> Duration {
        Duration::from_millis(self.transfer_pause_ms)
    }
}

mod defaults {
    pub fn repeat() -> u32 {
        1
    }

    /// The endpoint gives up on an answer after 30 s: what was in flight when a fault began resolves by then.
    pub fn grace_s() -> u64 {
        30
    }
}

/// A parsed experiment file and its variants.
#[derive(Debug, Clone)]
pub struct ExperimentFile {
    pub path: PathBuf,
    pub experiment: Experiment,
    pub variants: Vec<Variant>,
}

/// An experiment file is a few KB; one far larger is not one.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

impl ExperimentFile {
    /// Reads, validates and expands an experiment file.
    ///
    /// # Errors
    /// [`ExperimentError`] naming the file, and for TOML errors the line and key.
    pub fn load(path: &Path) -> Result<Self, ExperimentError> {
        let text = crate::input::read_text(path, MAX_FILE_BYTES).map_err(|source| ExperimentError::Read { path: path.into(), source })?;
        Self::parse(path, &text)
    }

    /// Like [`ExperimentFile::load`], from text already read.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ExperimentError> {
        let invalid = |message: String| ExperimentError::Invalid { path: path.into(), message };
        // Messages about a key say on which line it is, as TOML's own errors do.
        let at_line = |message: String| match limits::line_of(text, &message) {
            Some(line) => invalid(format!("line {line}: {message}")),
            None => invalid(message),
        };
        let experiment: Experiment = toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        validate(&experiment).map_err(at_line)?;
        let table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let variants = matrix::expand(&table).map_err(at_line)?;
        limits::distinct_names(variants.iter().map(|v| v.name.as_str())).map_err(at_line)?;
        for v in &variants {
            validate(&v.experiment).map_err(|m| invalid(format!("variant {}: {m}", v.name)))?;
        }
        Ok(ExperimentFile { path: path.into(), experiment, variants })
    }

    /// The deployment `--platform external` measures, checked against what it cannot do: bring parts up
    /// with settings, or inject faults into containers it does not own.
    ///
    /// # Errors
    /// [`ExperimentError::Invalid`] naming what is missing or cannot apply.
    /// Refuses what the variants ask that pods cannot do.
    ///
    /// # Errors
    /// [`ExperimentError::Invalid`] naming the fault.
    pub fn for_kubernetes(&self, variants: &[Variant]) -> Result<(), ExperimentError> {
        for variant in variants {
            if let Some(i) = variant.experiment.faults.iter().position(|f| f.action == FaultAction::Pause) {
                return Err(ExperimentError::Invalid {
                    path: self.path.clone(),
                    message: format!("faults[{i}].action = \"pause\": pods cannot be paused on --platform kubernetes; use kill or restart"),
                });
            }
            let pod_network = variant.experiment.kubernetes.network == stack::kube::settings::Network::Pod;
            if pod_network && variant.experiment.load.probe == ProbeKind::Browser {
                // The UI's page names the endpoint by its Service, which bench's browser cannot resolve.
                return Err(ExperimentError::Invalid {
                    path: self.path.clone(),
                    message: "load.probe = \"browser\" with kubernetes.network = \"pod\": the bank UI's page points the browser at the endpoint's Service name; use probe = \"graphql\"".to_string(),
                });
            }
        }
        Ok(())
    }

    pub fn external(&self, variants: &[Variant]) -> Result<&External, ExperimentError> {
        let invalid = |message: String| ExperimentError::Invalid { path: self.path.clone(), message };
        let external = self.experiment.external.as_ref().ok_or_else(|| {
            invalid("--platform external needs an [external] table naming the deployment: graphql, db_ch, db_ge".into())
        })?;
        if !external.graphql.starts_with("ws://") && !external.graphql.starts_with("wss://") {
            return Err(invalid(format!("external.graphql = {:?} must be a ws:// or wss:// URL", external.graphql)));
        }
        for (key, url) in [("external.db_ch", &external.db_ch), ("external.db_ge", &external.db_ge)] {
            if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                return Err(invalid(format!("{key} = {url:?} must be a postgres:// URL")));
            }
        }
        let given = [("external.tls_ca", &external.tls_ca), ("external.tls_cert", &external.tls_cert), ("external.tls_key", &external.tls_key)];
        if given.iter().any(|(_, v)| v.is_some()) {
            if let Some((key, _)) = given.iter().find(|(_, v)| v.is_none()) {
                return Err(invalid(format!("{key} is missing: TLS to the databases needs tls_ca, tls_cert and tls_key")));
            }
        }
        if let Some(tls) = external.tls() {
            // Unreadable or mismatched files are refused now, not after the load when the audit needs them.
            tls.postgres().map_err(|e| invalid(format!("[external] TLS: {e}")))?;
        }
        if !self.experiment.faults.is_empty() {
            return Err(invalid("faults act on the containers of a stack bench started: they need --platform docker".into()));
        }
        if let Some(key) = self.experiment.matrix.keys().find(|k| k.starts_with("stack.")) {
            return Err(invalid(format!("the matrix varies {key}, which an external deployment cannot apply")));
        }
        if external.frontend.is_none() && variants.iter().any(|v| v.experiment.load.probe == ProbeKind::Browser) {
            return Err(invalid("probe = \"browser\" needs external.frontend, the bank UI's URL".into()));
        }
        Ok(external)
    }

    /// The variants named in `names`, or all when `names` is empty.
    pub fn select(&self, names: &[String]) -> Result<Vec<Variant>, ExperimentError> {
        if names.is_empty() {
            return Ok(self.variants.clone());
        }
        names
            .iter()
            .map(|name| {
                self.variants.iter().find(|v| &v.name == name).cloned().ok_or_else(|| ExperimentError::UnknownVariant {
                    path: self.path.clone(),
                    name: name.clone(),
                    known: self.variants.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", "),
                })
            })
            .collect()
    }
}

fn validate(e: &Experiment) -> Result<(), String> {
    // It names the results folder and the report's files.
    if let Err(e) = stack::names::check(stack::names::Kind::Experiment, &e.name) {
        return Err(format!("name: {e}"));
    }
    if !(1..=9).contains(&e.stack.brokers) {
        return Err(format!("stack.brokers = {} is out of range 1..=9", e.stack.brokers));
    }
    if e.repeat == 0 {
        return Err("repeat must be at least 1".to_string());
    }
    if e.stack.tls_endpoint && !e.stack.tls {
        return Err("stack.tls_endpoint = true needs stack.tls = true: the endpoint's certificate comes from the stack's CA".to_string());
    }
    if e.stack.tls_endpoint && e.load.probe == ProbeKind::Browser {
        return Err("stack.tls_endpoint = true with load.probe = \"browser\": the headless browser does not trust the stack's CA; use the GraphQL probe".to_string());
    }
    if let Some(problem) = e.kubernetes.problems().into_iter().next() {
        return Err(problem);
    }
    let l = &e.load;
    for (key, value) in [
        ("load.probe_interval_ms", l.probe_interval_ms),
        ("load.probe_timeout_ms", l.probe_timeout_ms),
        ("load.max_loops", l.max_loops.into()),
        ("load.loops_per_generator", l.loops_per_generator.into()),
        ("load.generators_per_step", l.generators_per_step.into()),
        ("load.resources_every_loops", l.resources_every_loops.into()),
        ("load.connections", l.connections.into()),
        ("load.accounts", l.accounts.into()),
    ] {
        if value == 0 {
            return Err(format!("{key} must be greater than 0"));
        }
    }
    validate_model(e)?;
    limits::ports(e)?;
    limits::graces(e)?;
    limits::waits(e)?;
    for (i, f) in e.faults.iter().enumerate() {
        let at = format!("faults[{i}]");
        // By the names the containers have: `kafka-01` parses as broker 1 but names no container.
        let known = matches!(f.target.as_str(), "schema-registry" | "db-ch" | "db-ge" | "command-handler" | "graphql-endpoint")
            || (1..=e.stack.brokers).any(|n| f.target == format!("kafka-{n}"));
        if !known {
            return Err(format!(
                "{at}.target = {:?} is not a container of this stack: kafka-1..kafka-{}, schema-registry, db-ch, db-ge, command-handler or graphql-endpoint",
                f.target, e.stack.brokers
            ));
        }
        if f.at_loop == 0 || f.at_loop >= l.max_loops {
            return Err(format!("{at}.at_loop = {} must be between 1 and load.max_loops - 1 ({})", f.at_loop, l.max_loops - 1));
        }
        if !(1..=600).contains(&f.duration_s) {
            return Err(format!("{at}.duration_s = {} is out of range 1..=600", f.duration_s));
        }
    }
    Ok(())
}

/// An open model needs its `[search]`, a closed one must not have one.
fn validate_model(e: &Experiment) -> Result<(), String> {
    match (e.load.model, &e.search) {
        (Model::Open, Some(search)) => search.validate()?,
        (Model::Open, None) => return Err("load.model = \"open\" needs a [search] table (start_rate, slo_p99_ms, ...)".into()),
        (Model::Closed, Some(_)) => return Err("[search] applies to load.model = \"open\" only".into()),
        (Model::Closed, None) => {}
    }
    if e.load.accounts < 2 {
        return Err(format!("load.accounts = {} must be at least 2 (transfers go from one to the next)", e.load.accounts));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ExperimentFile, ExperimentError> {
        ExperimentFile::parse(Path::new("experiments/test.toml"), text)
    }

    #[test]
    fn defaults_are_the_2019_profile() {
        let f = parse("name = \"t\"").unwrap();
        let e = &f.experiment;
        assert_eq!(e.stack.brokers, 3);
        assert_eq!(e.load.max_timeouts, 9);
        assert_eq!(e.stack.limits.kafka.memory_mib, Some(2500));
        assert_eq!(f.variants.len(), 1);
        assert_eq!(f.variants[0].name, "default");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("name = \"t\"\n[load]\nprobe_intervall_ms = 3\n").unwrap_err().to_string();
        assert!(err.contains("experiments/test.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("probe_intervall_ms"), "{err}");
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let err = parse("name = \"t\"\n[stack]\nbrokers = 0\n").unwrap_err().to_string();
        assert!(err.contains("stack.brokers"), "{err}");
        let err = parse("name = \"a b\"").unwrap_err().to_string();
        assert!(err.contains("name"), "{err}");
    }

    #[test]
    fn tls_settings_that_cannot_run_name_their_line() {
        let err = parse("name = \"t\"\n[stack]\ntls_endpoint = true\n").unwrap_err().to_string();
        assert!(err.contains("stack.tls_endpoint") && err.contains("stack.tls = true") && err.contains("line 3"), "{err}");
        let browser = "name = \"t\"\n[load]\nprobe = \"browser\"\n[stack]\ntls = true\ntls_endpoint = true\n";
        let err = parse(browser).unwrap_err().to_string();
        assert!(err.contains("browser") && err.contains("stack.tls_endpoint"), "{err}");
        let f = parse("name = \"t\"\n[stack]\ntls = true\ntls_endpoint = true\n").unwrap();
        assert!(f.experiment.stack.tls && f.experiment.stack.tls_endpoint);
    }

    #[test]
    fn an_external_deployment_names_all_three_tls_files_or_none_and_they_must_be_usable() {
        let table = "name = \"t\"\n[external]\ngraphql = \"wss://db.example/graphql\"\ndb_ch = \"postgres://u@h/ch\"\ndb_ge = \"postgres://u@h/ge\"\n";
        let external = |text: &str| parse(text).and_then(|f| f.external(&f.variants).cloned()).map_err(|e| e.to_string());
        let err = external(&format!("{table}tls_ca = \"ca.crt\"\ntls_cert = \"c.crt\"\n")).unwrap_err();
        assert!(err.contains("external.tls_key is missing"), "{err}");
        let err = external(&format!("{table}tls_ca = \"/nonexistent/ca.crt\"\ntls_cert = \"c.crt\"\ntls_key = \"c.key\"\n")).unwrap_err();
        assert!(err.contains("/nonexistent/ca.crt"), "checked before the load, naming the file: {err}");
        assert_eq!(external(table).map(|e| e.tls()), Ok(None), "plaintext databases need none");
    }

    #[test]
    fn faults_name_a_container_of_the_stack() {
        let ok = "name = \"t\"\n[[faults]]\nat_loop = 10\ntarget = \"kafka-3\"\naction = \"kill\"\nduration_s = 5\n";
        let f = parse(ok).unwrap();
        for action in [FaultAction::Kill, FaultAction::Pause, FaultAction::Restart] {
            assert_eq!(serde_json::to_value(action).unwrap(), action.to_string(), "shown as written in files");
        }
        assert_eq!((f.experiment.faults[0].container(), f.experiment.faults[0].grace_s), ("kgb-kafka-3".to_string(), 30));
        for wrong in ["kafka-4", "kafka-03", "kafka-+3", "kafka-0"] {
            let err = parse(&ok.replace("kafka-3", wrong)).unwrap_err().to_string();
            assert!(err.contains("faults[0].target") && err.contains(wrong), "{wrong}: {err}");
        }
        let err = parse(&ok.replace("\"kill\"", "\"reboot\"")).unwrap_err().to_string();
        assert!(err.contains("line 5") && err.contains("reboot"), "{err}");
        let err = parse(&ok.replace("at_loop = 10", "at_loop = 0")).unwrap_err().to_string();
        assert!(err.contains("faults[0].at_loop"), "{err}");
        let err = parse(&ok.replace("duration_s = 5", "duration_s = 5\nduration = 3")).unwrap_err().to_string();
        assert!(err.contains("duration"), "{err}");
    }

    #[test]
    fn kubernetes_refuses_what_a_pod_cannot_do() {
        let check = |text: &str| parse(text).and_then(|f| f.for_kubernetes(&f.variants)).map_err(|e| e.to_string());
        assert!(check("name = \"t\"\n[load]\nprobe = \"browser\"\n").is_ok(), "the host network's UI names 127.0.0.1");
        let err = check("name = \"t\"\n[load]\nprobe = \"browser\"\n[kubernetes]\nnetwork = \"pod\"\n").unwrap_err();
        assert!(err.contains("load.probe") && err.contains("kubernetes.network"), "{err}");
        let err = check("name = \"t\"\n[[faults]]\nat_loop = 10\ntarget = \"kafka-1\"\naction = \"pause\"\nduration_s = 5\n").unwrap_err();
        assert!(err.contains("faults[0].action"), "{err}");
    }

    #[test]
    fn an_external_deployment_is_named_and_checked() {
        let table = "[external]\ngraphql = \"ws://127.0.0.1:8888/graphql\"\ndb_ch = \"postgres://u@127.0.0.1:25432/ch\"\ndb_ge = \"postgres://u@127.0.0.1:25431/ge\"\n";
        let external = |text: &str| parse(text).and_then(|f| f.external(&f.variants).cloned()).map_err(|e| e.to_string());
        let e = external(&format!("name = \"t\"\n{table}")).unwrap();
        assert_eq!((e.graphql.as_str(), e.frontend, e.containers.len()), ("ws://127.0.0.1:8888/graphql", None, 0));
        let err = external("name = \"t\"").unwrap_err();
        assert!(err.contains("[external]") && err.contains("experiments/test.toml"), "{err}");
        let err = external(&format!("name = \"t\"\n{}", table.replace("ws://", "http://"))).unwrap_err();
        assert!(err.contains("external.graphql"), "{err}");
        let err = external(&format!("name = \"t\"\n{}", table.replace("postgres://u@127.0.0.1:25431", "127.0.0.1:25431"))).unwrap_err();
        assert!(err.contains("external.db_ge"), "{err}");
        let err = external(&format!("name = \"t\"\n{table}[matrix]\n\"stack.brokers\" = [1, 3]\n")).unwrap_err();
        assert!(err.contains("stack.brokers"), "{err}");
        let fault = "[[faults]]\nat_loop = 10\ntarget = \"db-ch\"\naction = \"kill\"\nduration_s = 5\n";
        assert!(external(&format!("name = \"t\"\n{fault}{table}")).unwrap_err().contains("--platform docker"));
        let err = external(&format!("name = \"t\"\n[load]\nprobe = \"browser\"\n{table}")).unwrap_err();
        assert!(err.contains("external.frontend"), "{err}");
        let err = external(&format!("name = \"t\"\n{table}graphiql = \"x\"\n")).unwrap_err();
        assert!(err.contains("graphiql"), "unknown keys in [external] are errors too: {err}");
    }

    #[test]
    fn a_wait_too_long_for_the_clock_names_its_key_and_line() {
        // Through the experiment fuzz target the estimate (`bench run --dry-run`) panicked "overflow when adding durations".
        let err = parse("name = \"t\"\n[load]\nprobe_interval_ms = 9223372036854775807\n").unwrap_err().to_string();
        assert!(err.contains("line 3: load.probe_interval_ms = 9223372036854775807 is out of range"), "{err}");
        let err = parse("name = \"t\"\n[load]\ntransfer_pause_ms = 600001\n").unwrap_err().to_string();
        assert!(err.contains("load.transfer_pause_ms"), "{err}");
        assert!(parse("name = \"t\"\n[load]\nprobe_timeout_ms = 600000\n").is_ok(), "10 minutes is still a wait");
    }

    #[test]
    fn unknown_variant_lists_the_known_ones() {
        let f = parse("name = \"t\"\n[matrix]\n\"stack.brokers\" = [1, 3]\n").unwrap();
        let err = f.select(&["brokers=2".to_string()]).unwrap_err().to_string();
        assert!(err.contains("brokers=1, brokers=3"), "{err}");
        assert_eq!(f.select(&["brokers=3".to_string()]).unwrap()[0].experiment.stack.brokers, 3);
    }
}
