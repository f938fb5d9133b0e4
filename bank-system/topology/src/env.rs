//! Environment variables of the bank services.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `KAFKA_BOOTSTRAP_SERVERS` | brokers, `host:port,...` | `127.0.0.1:19092` |
//! | `SCHEMA_REGISTRY_URL` | Confluent-compatible registry base URL | `http://127.0.0.1:18081/apis/ccompat/v7` |
//! | `DATABASE_URL` | the service's PostgreSQL | per service |
//! | `KAFKA_PRODUCER_<NAME>` | librdkafka producer property: `KAFKA_PRODUCER_LINGER_MS=25` sets `linger.ms` | |
//! | `KAFKA_CONSUMER_<NAME>` | librdkafka consumer property, likewise | |
//! | `TOPIC_PARTITIONS`, `TOPIC_REPLICATION` | synchronizer: overrides for every topic | 24, 3 |
//! | `TOPIC_CONFIG_<NAME>` | synchronizer: topic config for every topic (`TOPIC_CONFIG_RETENTION_MS`) | |
//! | `HTTP_PORT`, `BIND_ADDRESS` | where a service answers (health, GraphQL) | per service, `127.0.0.1` |
//!
//! Property names map by lower-casing and turning `_` into `.`, as librdkafka names use dots only.

use std::collections::BTreeMap;

pub const KAFKA_BOOTSTRAP_SERVERS: &str = "KAFKA_BOOTSTRAP_SERVERS";
pub const SCHEMA_REGISTRY_URL: &str = "SCHEMA_REGISTRY_URL";
pub const DATABASE_URL: &str = "DATABASE_URL";
pub const PRODUCER_PREFIX: &str = "KAFKA_PRODUCER_";
pub const CONSUMER_PREFIX: &str = "KAFKA_CONSUMER_";
pub const TOPIC_PARTITIONS: &str = "TOPIC_PARTITIONS";
pub const TOPIC_REPLICATION: &str = "TOPIC_REPLICATION";
pub const TOPIC_CONFIG_PREFIX: &str = "TOPIC_CONFIG_";
pub const HTTP_PORT: &str = "HTTP_PORT";
pub const BIND_ADDRESS: &str = "BIND_ADDRESS";

pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:19092";
pub const DEFAULT_REGISTRY: &str = "http://127.0.0.1:18081/apis/ccompat/v7";
pub const DEFAULT_BIND_ADDRESS: &str = "127.0.0.1";

/// The variable that carries a property: `("KAFKA_PRODUCER_", "linger.ms")` -> `KAFKA_PRODUCER_LINGER_MS`.
pub fn property_var(prefix: &str, property: &str) -> String {
    format!("{prefix}{}", property.replace('.', "_").to_ascii_uppercase())
}

/// The properties carried by variables with `prefix`, from `vars` (usually `std::env::vars()`).
pub fn properties(prefix: &str, vars: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    vars.into_iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|p| (p.replace('_', ".").to_ascii_lowercase(), v)))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// The value of `name` in `vars` (usually the environment, collected once).
pub fn lookup(vars: &[(String, String)], name: &str) -> Option<String> {
    vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// A variable's value or a default.
pub fn var_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip_through_variable_names() {
        let var = property_var(PRODUCER_PREFIX, "linger.ms");
        assert_eq!(var, "KAFKA_PRODUCER_LINGER_MS");
        let props = properties(
            PRODUCER_PREFIX,
            [(var, "25".to_string()), ("KAFKA_CONSUMER_X".to_string(), "1".to_string()), ("PATH".into(), "/".into())],
        );
        assert_eq!(props, BTreeMap::from([("linger.ms".to_string(), "25".to_string())]));
    }
}
