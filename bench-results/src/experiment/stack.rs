//! The `[stack]` section of an experiment file: what one stack is made of (brokers, images, ports, client and
//! broker properties, topics, limits), with the 2019 profile as defaults and unknown keys rejected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The bank stack of one variant.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StackSettings {
    /// Kafka brokers (KRaft, each broker also a controller): 1 to 9.
    pub brokers: u32,
    /// Image references.
    pub images: Images,
    /// Ports on 127.0.0.1 (host networking).
    pub ports: Ports,
    /// Broker settings merged over bench's own (the 2019 profile).
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub broker: BTreeMap<String, toml::Value>,
    /// librdkafka properties for every bank service.
    pub services: ClientProperties,
    /// Topic overrides for the synchronizer.
    pub topics: Topics,
    /// Resource limits per part of the stack.
    pub limits: Limits,
    /// JVM options of each broker (heap size).
    pub kafka_jvm_opts: String,
    /// TLS between every part: a CA per stack, client certificates required by the brokers and PostgreSQL, the
    /// registry on HTTPS. The GraphQL endpoint and the UI stay plaintext on loopback.
    pub tls: bool,
    /// With `tls`, the GraphQL endpoint and the UI too: HTTPS and `wss://` with certificates of the stack's CA.
    pub tls_endpoint: bool,
}

impl Default for StackSettings {
    fn default() -> Self {
        StackSettings {
            brokers: 3,
            images: Images::default(),
            ports: Ports::default(),
            broker: BTreeMap::new(),
            services: ClientProperties::default(),
            topics: Topics::default(),
            limits: Limits::default(),
            kafka_jvm_opts: "-Xms1g -Xmx1g".to_string(),
            tls: false,
            tls_endpoint: false,
        }
    }
}

/// Image references; any image honouring the same ports and settings will do.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Images {
    pub kafka: String,
    pub schema_registry: String,
    pub postgres: String,
    pub synchronizer: String,
    pub command_handler: String,
    pub graphql_endpoint: String,
    pub frontend: String,
}

impl Images {
    /// Every image a stack of these settings uses.
    pub fn all(&self) -> Vec<String> {
        [
            &self.kafka,
            &self.schema_registry,
            &self.postgres,
            &self.synchronizer,
            &self.command_handler,
            &self.graphql_endpoint,
            &self.frontend,
        ]
        .map(String::clone)
        .to_vec()
    }
}

impl Default for Images {
    fn default() -> Self {
        Images {
            kafka: catalog::KAFKA.to_string(),
            schema_registry: catalog::SCHEMA_REGISTRY.to_string(),
            postgres: catalog::POSTGRES.to_string(),
            synchronizer: catalog::SYNCHRONIZER.to_string(),
            command_handler: catalog::COMMAND_HANDLER.to_string(),
            graphql_endpoint: catalog::GRAPHQL_ENDPOINT.to_string(),
            frontend: catalog::FRONTEND.to_string(),
        }
    }
}

/// Ports on 127.0.0.1; broker i (from 0) uses `kafka + i` and `controller + i`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Ports {
    pub kafka: u16,
    pub controller: u16,
    pub registry: u16,
    pub db_ch: u16,
    pub db_ge: u16,
    pub graphql: u16,
    pub frontend: u16,
    pub command_handler_health: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            kafka: 19092,
            controller: 19192,
            registry: 18081,
            db_ch: 25432,
            db_ge: 25431,
            graphql: 8888,
            frontend: 8181,
            command_handler_health: 8091,
        }
    }
}

/// librdkafka properties for every bank service's clients, merged over the 2019 profile.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClientProperties {
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub producer: BTreeMap<String, toml::Value>,
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub consumer: BTreeMap<String, toml::Value>,
}

/// Topic settings the synchronizer applies to every bank topic.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    /// Partitions per topic (24 when absent).
    pub partitions: Option<u32>,
    /// Replication factor (3 when absent, capped at the broker count).
    pub replication: Option<u32>,
    /// Extra topic configs.
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub configs: BTreeMap<String, toml::Value>,
}

/// A container's resource limits.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limit {
    /// Memory limit in MiB.
    pub memory_mib: Option<u64>,
    /// CPU limit in cores.
    pub cpus: Option<f64>,
}

/// Limits per part of the stack; the defaults are the 2019 profile.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub kafka: Limit,
    pub schema_registry: Limit,
    pub db: Limit,
    pub command_handler: Limit,
    pub graphql_endpoint: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        let mib = |m| Limit { memory_mib: Some(m), cpus: None };
        Limits {
            kafka: mib(2500),
            schema_registry: Limit::default(),
            db: Limit::default(),
            command_handler: mib(300),
            graphql_endpoint: mib(400),
        }
    }
}

/// A property value as a client or broker reads it: strings without their quotes, everything else as TOML writes it.
pub fn value_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The images bench builds for a stack (`bench images`): the defaults of `[stack.images]`.
pub mod catalog {
    /// Apache Kafka broker, KRaft.
    pub const KAFKA: &str = "kgb/kafka:4.1.1";
    /// Apicurio Registry with a Confluent-compatible API.
    pub const SCHEMA_REGISTRY: &str = "kgb/schema-registry:3.0.9";
    /// Debian's PostgreSQL.
    pub const POSTGRES: &str = "kgb/postgres:15";
    pub const SYNCHRONIZER: &str = "kgb/bank-synchronizer:dev";
    pub const COMMAND_HANDLER: &str = "kgb/bank-command-handler:dev";
    pub const GRAPHQL_ENDPOINT: &str = "kgb/bank-graphql-endpoint:dev";
    pub const FRONTEND: &str = "kgb/bank-frontend:dev";
}
