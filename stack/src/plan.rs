//! From a variant's settings to the containers of its stack: images, environment, limits, readiness.
//! Pure data, so the whole stack can be checked without an engine.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use topology::env as vars;
use topology::tls::ClientTls;

use crate::docker::container::{ContainerSpec, ReadOnlyFolder, LABEL_OWNER, LABEL_STACK};
use bench_results::experiment::stack::{value_text, Limit, StackSettings};

mod tls;
mod wait;

pub use wait::{Check, ReadinessError, WaitFor};

/// The 2019 broker profile; the experiment's `[stack.broker]` is merged over it.
pub fn broker_defaults() -> BTreeMap<String, String> {
    [
        ("min.insync.replicas", "2"),
        ("compression.type", "lz4"),
        ("auto.create.topics.enable", "false"),
        ("group.initial.rebalance.delay.ms", "0"),
        // Kafka's defaults (3 network, 8 I/O, 10 background threads per broker) are sized for a server of its
        // own; three brokers sharing 2 cores with the rest of the stack spent their time switching among those
        // threads: with these, the command handler's saturation rate rose from ~800 to ~1,700 commands/s.
        ("num.network.threads", "1"),
        ("num.io.threads", "2"),
        ("background.threads", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The 2019 client profile (acks=all, the Java client's in-flight limit; consumers read from the start).
pub fn producer_defaults() -> BTreeMap<String, String> {
    let mut defaults: BTreeMap<String, String> =
        topology::kafka::PRODUCER_DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    defaults.insert("acks".to_string(), "all".to_string());
    defaults
}

pub fn consumer_defaults() -> BTreeMap<String, String> {
    // librdkafka has no max.poll.records; its fetch is bounded in bytes instead, so the 2019 value has no
    // direct equivalent and is left out.
    BTreeMap::from([("auto.offset.reset".to_string(), "earliest".to_string())])
}

/// Who brought a stack up: a run tears it down, `bench up` leaves it for `bench down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Run,
    Up,
}

impl Owner {
    /// The value of its `kgb.owner` label.
    pub fn label(self) -> &'static str {
        match self {
            Owner::Run => "run",
            Owner::Up => "up",
        }
    }
}

/// What a part of the stack is, for stats and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Kafka,
    SchemaRegistry,
    DbCh,
    DbGe,
    Synchronizer,
    CommandHandler,
    GraphqlEndpoint,
    Frontend,
}

/// One container and how to know it is ready.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub role: Role,
    pub spec: ContainerSpec,
    pub wait: WaitFor,
}

/// Addresses of a stack, on 127.0.0.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub bootstrap: String,
    pub registry: String,
    pub db_ch: String,
    pub db_ge: String,
    pub graphql_http: String,
    pub graphql_ws: String,
    pub command_handler_health: String,
    /// The bank UI.
    pub frontend: String,
    /// bench's own client certificate, key and the stack's CA, when the stack runs TLS.
    pub tls: Option<ClientTls>,
}

/// The containers of one stack in bring-up order.
#[derive(Debug, Clone, PartialEq)]
pub struct StackPlan {
    /// Brokers, registry and databases: started together.
    pub infrastructure: Vec<Part>,
    /// Runs to completion before the services start.
    pub synchronizer: Part,
    /// The bank services.
    pub services: Vec<Part>,
    pub endpoints: Endpoints,
    /// Every port the stack listens on, with what listens there.
    pub ports: Vec<(u16, String)>,
    /// The folder of the stack's TLS material (see [`crate::tls`]), when it runs TLS: written before the first
    /// container starts, removed with the stack.
    pub tls: Option<PathBuf>,
}

/// Where the frontend's container sees the reports folder it serves.
pub const FRONTEND_REPORTS: &str = "/srv/reports";

impl StackPlan {
    /// Every part, in bring-up order.
    pub fn parts(&self) -> impl Iterator<Item = &Part> {
        self.infrastructure.iter().chain(std::iter::once(&self.synchronizer)).chain(self.services.iter())
    }

    /// The parts to make certificates for; PostgreSQL's image reads its key as its own user (its entrypoint then
    /// keeps a 0600 copy, as PostgreSQL demands).
    pub fn tls_parts(&self) -> Vec<crate::tls::TlsPart> {
        let part = |p: &Part| crate::tls::TlsPart {
            name: p.spec.name.clone(),
            key_read_by_image_user: matches!(p.role, Role::DbCh | Role::DbGe),
        };
        self.parts().map(part).collect()
    }

    /// Lets the frontend serve `host` (an absolute folder) read-only, so its Results page lists those reports.
    pub fn serve_reports(&mut self, host: &Path) {
        for part in self.services.iter_mut().filter(|p| p.role == Role::Frontend) {
            part.spec
                .read_only
                .push(ReadOnlyFolder { host: host.to_path_buf(), container: FRONTEND_REPORTS.to_string() });
            part.spec.env.push(kv("REPORTS_DIR", FRONTEND_REPORTS));
        }
    }
}

/// `defaults` with `overrides` written over them, as clients and brokers receive them.
pub fn merged(
    defaults: BTreeMap<String, String>,
    overrides: &BTreeMap<String, toml::Value>,
) -> BTreeMap<String, String> {
    let mut all = defaults;
    all.extend(overrides.iter().map(|(k, v)| (k.clone(), value_text(v))));
    all
}

/// The server.properties text of broker `index` (0-based).
pub fn server_properties(stack: &StackSettings, index: u32) -> String {
    let n = stack.brokers;
    let kafka = stack.ports.kafka + index as u16;
    let controller = stack.ports.controller + index as u16;
    let voters: Vec<String> =
        (0..n).map(|i| format!("{}@127.0.0.1:{}", i + 1, stack.ports.controller + i as u16)).collect();
    let replication = n.min(3).to_string();
    let isr = n.min(2).to_string();
    // One protocol for clients, between brokers and to the controllers.
    let listener = if stack.tls { "SSL" } else { "PLAINTEXT" };
    let mut props: BTreeMap<String, String> = [
        ("process.roles", "broker,controller".to_string()),
        ("node.id", (index + 1).to_string()),
        ("controller.quorum.voters", voters.join(",")),
        ("listeners", format!("{listener}://127.0.0.1:{kafka},CONTROLLER://127.0.0.1:{controller}")),
        ("advertised.listeners", format!("{listener}://127.0.0.1:{kafka}")),
        ("controller.listener.names", "CONTROLLER".to_string()),
        ("listener.security.protocol.map", format!("{listener}:{listener},CONTROLLER:{listener}")),
        ("inter.broker.listener.name", listener.to_string()),
        ("log.dirs", "/var/lib/kafka/data".to_string()),
        ("offsets.topic.replication.factor", replication.clone()),
        ("transaction.state.log.replication.factor", replication),
        ("transaction.state.log.min.isr", isr.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut profile = merged(broker_defaults(), &stack.broker);
    // min.insync.replicas above the broker count would refuse every acks=all write.
    if let Some(min_isr) = profile.get_mut("min.insync.replicas") {
        if min_isr.parse::<u32>().map(|m| m > n).unwrap_or(false) {
            *min_isr = isr;
        }
    }
    props.extend(profile);
    if stack.tls {
        props.extend(tls::broker_properties());
    }
    props.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}

struct Builder<'a> {
    stack_id: &'a str,
    owner: Owner,
}

impl Builder<'_> {
    fn spec(&self, name: &str, image: &str, env: Vec<(String, String)>, limit: Limit) -> ContainerSpec {
        ContainerSpec {
            name: name.to_string(),
            image: image.to_string(),
            env,
            args: Vec::new(),
            labels: HashMap::from([
                (LABEL_STACK.to_string(), self.stack_id.to_string()),
                (LABEL_OWNER.to_string(), self.owner.label().to_string()),
            ]),
            memory_mib: limit.memory_mib,
            cpus: limit.cpus,
            read_only: Vec::new(),
        }
    }
}

fn wait(container: &str, check: Check, timeout_s: u64) -> WaitFor {
    WaitFor {
        container: container.to_string(),
        check,
        timeout: Duration::from_secs(timeout_s),
        interval: Duration::from_millis(250),
    }
}

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// Plans the stack of `stack`; `stack_id` labels its containers, `db_password` guards both databases.
pub fn plan(stack: &StackSettings, stack_id: &str, owner: Owner, db_password: &str, cluster_id: &str) -> StackPlan {
    // Ids bench has just made, which fit the names' rule (a test checks one): no id read from outside reaches here.
    let tls = stack.tls.then(|| crate::tls::root().join(stack_id));
    let planner = Planner {
        stack,
        builder: Builder { stack_id, owner },
        endpoints: endpoints(stack, db_password, tls.as_deref()),
        tls: tls.clone(),
    };
    let mut ports = Vec::new();
    let mut infrastructure = planner.brokers(cluster_id, &mut ports);
    infrastructure.push(planner.registry(&mut ports));
    infrastructure.extend(planner.databases(db_password, &mut ports));
    let synchronizer = planner.synchronizer();
    let services = planner.services(&mut ports);
    let mut plan = StackPlan { infrastructure, synchronizer, services, endpoints: planner.endpoints, ports, tls };
    if let Some(folder) = plan.tls.clone() {
        tls::mount(&mut plan, &folder);
        if stack.tls_endpoint {
            tls::serve_https(&mut plan.services, stack.ports.frontend, plan.endpoints.tls.clone());
        }
    }
    plan
}

fn endpoints(stack: &StackSettings, db_password: &str, tls: Option<&Path>) -> Endpoints {
    let p = &stack.ports;
    let bootstrap: Vec<String> = (0..stack.brokers).map(|i| format!("127.0.0.1:{}", p.kafka + i as u16)).collect();
    // TLS required, and the server verified by the client's CA (the connector verifies chain and name).
    let (http, ssl) = if tls.is_some() { ("https", "?sslmode=require") } else { ("http", "") };
    // The endpoint and the UI, where the load and browsers reach them.
    let (web, ws) = if tls.is_some() && stack.tls_endpoint { ("https", "wss") } else { ("http", "ws") };
    Endpoints {
        bootstrap: bootstrap.join(","),
        registry: format!("{http}://127.0.0.1:{}/apis/ccompat/v7", p.registry),
        db_ch: format!("postgres://postgres:{db_password}@127.0.0.1:{}/postgres{ssl}", p.db_ch),
        db_ge: format!("postgres://postgres:{db_password}@127.0.0.1:{}/postgres{ssl}", p.db_ge),
        graphql_http: format!("{web}://127.0.0.1:{}/graphql", p.graphql),
        graphql_ws: format!("{ws}://127.0.0.1:{}/graphql", p.graphql),
        command_handler_health: format!("http://127.0.0.1:{}/health", p.command_handler_health),
        frontend: format!("{web}://127.0.0.1:{}/", p.frontend),
        tls: tls.map(crate::tls::client),
    }
}

/// One stack being planned: each method plans one kind of part and notes the ports it listens on.
struct Planner<'a> {
    stack: &'a StackSettings,
    builder: Builder<'a>,
    endpoints: Endpoints,
    /// The stack's TLS folder, when it runs TLS.
    tls: Option<PathBuf>,
}

impl Planner<'_> {
    fn brokers(&self, cluster_id: &str, ports: &mut Vec<(u16, String)>) -> Vec<Part> {
        let (stack, p) = (self.stack, &self.stack.ports);
        (0..stack.brokers)
            .map(|i| {
                let name = format!("kgb-kafka-{}", i + 1);
                let env = vec![
                    kv("KAFKA_CLUSTER_ID", cluster_id),
                    kv("KAFKA_SERVER_PROPERTIES", server_properties(stack, i)),
                    kv("KAFKA_JVM_OPTS", stack.kafka_jvm_opts.clone()),
                ];
                ports.push((p.kafka + i as u16, name.clone()));
                ports.push((p.controller + i as u16, name.clone()));
                let check = Check::KafkaBrokers {
                    bootstrap: format!("127.0.0.1:{}", p.kafka + i as u16),
                    expected: stack.brokers as usize,
                    tls: self.endpoints.tls.clone(),
                };
                Part {
                    role: Role::Kafka,
                    spec: self.builder.spec(&name, &stack.images.kafka, env, stack.limits.kafka),
                    wait: wait(&name, check, 120),
                }
            })
            .collect()
    }

    fn registry(&self, ports: &mut Vec<(u16, String)>) -> Part {
        let (stack, p) = (self.stack, &self.stack.ports);
        let mut env = vec![
            kv("QUARKUS_HTTP_HOST", "127.0.0.1"),
            kv("QUARKUS_HTTP_PORT", p.registry.to_string()),
            kv("QUARKUS_MANAGEMENT_HOST", "127.0.0.1"),
            kv("QUARKUS_MANAGEMENT_PORT", (p.registry + 1).to_string()),
            kv("REGISTRY_JVM_OPTS", "-Xms256m -Xmx512m"),
        ];
        if self.tls.is_some() {
            env.extend(tls::registry_env(p.registry));
        }
        ports.push((p.registry, "kgb-schema-registry".to_string()));
        Part {
            role: Role::SchemaRegistry,
            spec: self.builder.spec(
                "kgb-schema-registry",
                &stack.images.schema_registry,
                env,
                stack.limits.schema_registry,
            ),
            wait: wait(
                "kgb-schema-registry",
                Check::Http { url: format!("{}/subjects", self.endpoints.registry), tls: self.endpoints.tls.clone() },
                120,
            ),
        }
    }

    fn databases(&self, db_password: &str, ports: &mut Vec<(u16, String)>) -> Vec<Part> {
        let (stack, p, e) = (self.stack, &self.stack.ports, &self.endpoints);
        [("kgb-db-ch", p.db_ch, &e.db_ch, Role::DbCh), ("kgb-db-ge", p.db_ge, &e.db_ge, Role::DbGe)]
            .into_iter()
            .map(|(name, port, url, role)| {
                let mut env = vec![kv("PGPORT", port.to_string()), kv("POSTGRES_PASSWORD", db_password)];
                if self.tls.is_some() {
                    env.push(kv("POSTGRES_TLS_DIR", crate::tls::CONTAINER_FOLDER));
                }
                ports.push((port, name.to_string()));
                Part {
                    role,
                    spec: self.builder.spec(name, &stack.images.postgres, env, stack.limits.db),
                    wait: wait(name, Check::Postgres { url: url.clone(), tls: self.endpoints.tls.clone() }, 60),
                }
            })
            .collect()
    }

    /// Where Kafka and the registry are, as every bank service and the synchronizer are told.
    fn kafka_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            kv(vars::KAFKA_BOOTSTRAP_SERVERS, self.endpoints.bootstrap.clone()),
            kv(vars::SCHEMA_REGISTRY_URL, &self.endpoints.registry),
        ];
        if self.tls.is_some() {
            env.extend(tls::client_env());
        }
        env
    }

    fn synchronizer(&self) -> Part {
        let topics = &self.stack.topics;
        let mut env = self.kafka_env();
        if let Some(n) = topics.partitions {
            env.push(kv(vars::TOPIC_PARTITIONS, n.to_string()));
        }
        if let Some(n) = topics.replication {
            env.push(kv(vars::TOPIC_REPLICATION, n.to_string()));
        }
        for (k, v) in &topics.configs {
            env.push(kv(&vars::property_var(vars::TOPIC_CONFIG_PREFIX, k), value_text(v)));
        }
        Part {
            role: Role::Synchronizer,
            spec: self.builder.spec("kgb-synchronizer", &self.stack.images.synchronizer, env, Limit::default()),
            wait: wait("kgb-synchronizer", Check::Exited, 120),
        }
    }

    /// The command handler and the endpoint (with the experiment's client properties), then the UI.
    fn services(&self, ports: &mut Vec<(u16, String)>) -> Vec<Part> {
        let (stack, p, e) = (self.stack, &self.stack.ports, &self.endpoints);
        let mut kafka_env = self.kafka_env();
        for (k, v) in merged(producer_defaults(), &stack.services.producer) {
            kafka_env.push(kv(&vars::property_var(vars::PRODUCER_PREFIX, &k), v));
        }
        for (k, v) in merged(consumer_defaults(), &stack.services.consumer) {
            kafka_env.push(kv(&vars::property_var(vars::CONSUMER_PREFIX, &k), v));
        }
        let service = |name: &str, image: &str, db: &str, port: u16, limit: Limit, role: Role, health: String| {
            let mut env = kafka_env.clone();
            env.extend([kv(vars::DATABASE_URL, db), kv(vars::HTTP_PORT, port.to_string()), kv("RUST_LOG", "info")]);
            Part {
                role,
                spec: self.builder.spec(name, image, env, limit),
                wait: wait(name, Check::Http { url: health, tls: None }, 60),
            }
        };
        ports.push((p.command_handler_health, "kgb-command-handler".to_string()));
        ports.push((p.graphql, "kgb-graphql-endpoint".to_string()));
        ports.push((p.frontend, "kgb-frontend".to_string()));
        let images = &stack.images;
        vec![
            service(
                "kgb-command-handler",
                &images.command_handler,
                &e.db_ch,
                p.command_handler_health,
                stack.limits.command_handler,
                Role::CommandHandler,
                e.command_handler_health.clone(),
            ),
            service(
                "kgb-graphql-endpoint",
                &images.graphql_endpoint,
                &e.db_ge,
                p.graphql,
                stack.limits.graphql_endpoint,
                Role::GraphqlEndpoint,
                format!("http://127.0.0.1:{}/health", p.graphql),
            ),
            self.frontend(),
        ]
    }

    /// The UI needs no Kafka or database: only where the endpoint is.
    fn frontend(&self) -> Part {
        let p = &self.stack.ports;
        let env = vec![
            kv("GRAPHQL_WS_URL", self.endpoints.graphql_ws.clone()),
            kv(vars::HTTP_PORT, p.frontend.to_string()),
            kv("RUST_LOG", "info"),
        ];
        Part {
            role: Role::Frontend,
            spec: self.builder.spec("kgb-frontend", &self.stack.images.frontend, env, Limit::default()),
            wait: wait(
                "kgb-frontend",
                Check::Http { url: format!("http://127.0.0.1:{}/health", p.frontend), tls: None },
                60,
            ),
        }
    }
}

#[cfg(test)]
mod tests;
