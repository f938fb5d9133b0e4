//! Experiment files (docs/experiment-file.md): typed settings with 2019 defaults, unknown keys rejected.
//!
//! A file is read once into a TOML table; [`matrix`] writes each combination of the `[matrix]` values into a
//! copy of that table and deserializes it, so a variant is validated exactly like the file itself.

pub mod estimate;
pub mod limits;
pub mod matrix;

use std::path::{Path, PathBuf};

pub use bench_results::experiment::*;
pub use matrix::Variant;

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

/// The TLS files the audit shows an external deployment's databases, when given.
pub fn external_tls(external: &External) -> Option<topology::tls::ClientTls> {
    let settings = topology::tls::TlsSettings {
        tls_ca: external.tls_ca.clone(),
        tls_cert: external.tls_cert.clone(),
        tls_key: external.tls_key.clone(),
    };
    settings.client()
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
        let text = crate::input::read_text(path, MAX_FILE_BYTES)
            .map_err(|source| ExperimentError::Read { path: path.into(), source })?;
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
            let pod_network = variant.experiment.kubernetes.network == kubernetes::Network::Pod;
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
        let given = [
            ("external.tls_ca", &external.tls_ca),
            ("external.tls_cert", &external.tls_cert),
            ("external.tls_key", &external.tls_key),
        ];
        if given.iter().any(|(_, v)| v.is_some()) {
            if let Some((key, _)) = given.iter().find(|(_, v)| v.is_none()) {
                return Err(invalid(format!(
                    "{key} is missing: TLS to the databases needs tls_ca, tls_cert and tls_key"
                )));
            }
        }
        if let Some(tls) = external_tls(external) {
            // Unreadable or mismatched files are refused now, not after the load when the audit needs them.
            tls.postgres().map_err(|e| invalid(format!("[external] TLS: {e}")))?;
        }
        if !self.experiment.faults.is_empty() {
            return Err(invalid(
                "faults act on the containers of a stack bench started: they need --platform docker".into(),
            ));
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
    if let Err(e) = bench_results::names::check(bench_results::names::Kind::Experiment, &e.name) {
        return Err(format!("name: {e}"));
    }
    if !(1..=9).contains(&e.stack.brokers) {
        return Err(format!("stack.brokers = {} is out of range 1..=9", e.stack.brokers));
    }
    if e.repeat == 0 {
        return Err("repeat must be at least 1".to_string());
    }
    if e.stack.tls_endpoint && !e.stack.tls {
        return Err(
            "stack.tls_endpoint = true needs stack.tls = true: the endpoint's certificate comes from the stack's CA"
                .to_string(),
        );
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
        let known =
            matches!(f.target.as_str(), "schema-registry" | "db-ch" | "db-ge" | "command-handler" | "graphql-endpoint")
                || (1..=e.stack.brokers).any(|n| f.target == format!("kafka-{n}"));
        if !known {
            return Err(format!(
                "{at}.target = {:?} is not a container of this stack: kafka-1..kafka-{}, schema-registry, db-ch, db-ge, command-handler or graphql-endpoint",
                f.target, e.stack.brokers
            ));
        }
        if f.at_loop == 0 || f.at_loop >= l.max_loops {
            return Err(format!(
                "{at}.at_loop = {} must be between 1 and load.max_loops - 1 ({})",
                f.at_loop,
                l.max_loops - 1
            ));
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
        (Model::Open, None) => {
            return Err("load.model = \"open\" needs a [search] table (start_rate, slo_p99_ms, ...)".into())
        }
        (Model::Closed, Some(_)) => return Err("[search] applies to load.model = \"open\" only".into()),
        (Model::Closed, None) => {}
    }
    if e.load.accounts < 2 {
        return Err(format!(
            "load.accounts = {} must be at least 2 (transfers go from one to the next)",
            e.load.accounts
        ));
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
        assert!(
            err.contains("stack.tls_endpoint") && err.contains("stack.tls = true") && err.contains("line 3"),
            "{err}"
        );
        let browser = "name = \"t\"\n[load]\nprobe = \"browser\"\n[stack]\ntls = true\ntls_endpoint = true\n";
        let err = parse(browser).unwrap_err().to_string();
        assert!(err.contains("browser") && err.contains("stack.tls_endpoint"), "{err}");
        let f = parse("name = \"t\"\n[stack]\ntls = true\ntls_endpoint = true\n").unwrap();
        assert!(f.experiment.stack.tls && f.experiment.stack.tls_endpoint);
    }

    #[test]
    fn an_external_deployment_names_all_three_tls_files_or_none_and_they_must_be_usable() {
        let table = "name = \"t\"\n[external]\ngraphql = \"wss://db.example/graphql\"\ndb_ch = \"postgres://u@h/ch\"\ndb_ge = \"postgres://u@h/ge\"\n";
        let external =
            |text: &str| parse(text).and_then(|f| f.external(&f.variants).cloned()).map_err(|e| e.to_string());
        let err = external(&format!("{table}tls_ca = \"ca.crt\"\ntls_cert = \"c.crt\"\n")).unwrap_err();
        assert!(err.contains("external.tls_key is missing"), "{err}");
        let err =
            external(&format!("{table}tls_ca = \"/nonexistent/ca.crt\"\ntls_cert = \"c.crt\"\ntls_key = \"c.key\"\n"))
                .unwrap_err();
        assert!(err.contains("/nonexistent/ca.crt"), "checked before the load, naming the file: {err}");
        assert_eq!(external(table).map(|e| external_tls(&e)), Ok(None), "plaintext databases need none");
    }

    #[test]
    fn faults_name_a_container_of_the_stack() {
        let ok = "name = \"t\"\n[[faults]]\nat_loop = 10\ntarget = \"kafka-3\"\naction = \"kill\"\nduration_s = 5\n";
        let f = parse(ok).unwrap();
        for action in [FaultAction::Kill, FaultAction::Pause, FaultAction::Restart] {
            assert_eq!(serde_json::to_value(action).unwrap(), action.to_string(), "shown as written in files");
        }
        assert_eq!(
            (f.experiment.faults[0].container(), f.experiment.faults[0].grace_s),
            ("kgb-kafka-3".to_string(), 30)
        );
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
        let err =
            check("name = \"t\"\n[[faults]]\nat_loop = 10\ntarget = \"kafka-1\"\naction = \"pause\"\nduration_s = 5\n")
                .unwrap_err();
        assert!(err.contains("faults[0].action"), "{err}");
    }

    #[test]
    fn an_external_deployment_is_named_and_checked() {
        let table = "[external]\ngraphql = \"ws://127.0.0.1:8888/graphql\"\ndb_ch = \"postgres://u@127.0.0.1:25432/ch\"\ndb_ge = \"postgres://u@127.0.0.1:25431/ge\"\n";
        let external =
            |text: &str| parse(text).and_then(|f| f.external(&f.variants).cloned()).map_err(|e| e.to_string());
        let e = external(&format!("name = \"t\"\n{table}")).unwrap();
        assert_eq!((e.graphql.as_str(), e.frontend, e.containers.len()), ("ws://127.0.0.1:8888/graphql", None, 0));
        let err = external("name = \"t\"").unwrap_err();
        assert!(err.contains("[external]") && err.contains("experiments/test.toml"), "{err}");
        let err = external(&format!("name = \"t\"\n{}", table.replace("ws://", "http://"))).unwrap_err();
        assert!(err.contains("external.graphql"), "{err}");
        let err =
            external(&format!("name = \"t\"\n{}", table.replace("postgres://u@127.0.0.1:25431", "127.0.0.1:25431")))
                .unwrap_err();
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
