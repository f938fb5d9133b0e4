//! The experiment file's types (docs/experiment-file.md): typed settings with the 2019 defaults, unknown keys
//! refused. Every results header holds the variant's settings in these types, so they belong to the format; reading
//! a file, expanding its matrix and checking values across sections is bench's.

pub mod kubernetes;
pub mod search;
pub mod stack;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use kubernetes::KubeSettings;
pub use search::{Method, Search};
pub use stack::StackSettings;

/// An experiment file as written, before the matrix is expanded.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
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
    #[schemars(with = "BTreeMap<String, Vec<serde_json::Value>>")]
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
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
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

/// What a fault does to its container.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// GraphQL over a websocket, as the generators.
    #[default]
    Graphql,
    /// Headless Chromium clicking through the bank UI, as 2019 measured (what a person sees).
    Browser,
}

/// How load is offered.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// The 2019 ramp: generators that each wait for their answer before the next transfer.
    #[default]
    Closed,
    /// Transfers arrive at a target rate whatever the answers, stepped by `[search]`.
    Open,
}

/// When an open model's transfers arrive.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Evenly spaced at the rate.
    #[default]
    Uniform,
    /// A Poisson process at the rate (exponential gaps, seeded per run).
    Poisson,
}

/// Load settings; 2019 names in the comments, defaults are the values of the 2019 published runs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
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
