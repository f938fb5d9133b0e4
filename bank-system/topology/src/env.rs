//! Environment variables of the bank services.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `KAFKA_BOOTSTRAP_SERVERS` | brokers, `host:port,...` | `127.0.0.1:19092` |
//! | `SCHEMA_REGISTRY_URL` | Confluent-compatible registry base URL | `http://127.0.0.1:18081/apis/ccompat/v7` |
//! | `DATABASE_URL` | the service's PostgreSQL: db-ch for the command handler, db-ge for the GraphQL endpoint | required |
//! | `KAFKA_PRODUCER_<NAME>` | librdkafka producer property: `KAFKA_PRODUCER_LINGER_MS=25` sets `linger.ms` | |
//! | `KAFKA_CONSUMER_<NAME>` | librdkafka consumer property, likewise | |
//! | `TOPIC_PARTITIONS`, `TOPIC_REPLICATION` | synchronizer: overrides for every topic | 24, 3 |
//! | `TOPIC_CONFIG_<NAME>` | synchronizer: topic config for every topic (`TOPIC_CONFIG_RETENTION_MS`) | |
//! | `HTTP_PORT`, `BIND_ADDRESS` | where a service answers (health, GraphQL) | per service (command handler 8091, GraphQL endpoint 8888, frontend 8181), `127.0.0.1` |
//! | `WORKERS`, `GROUP_ID` | command handler: messages handled at once, its consumer group | 16, `command-handler` |
//! | `INSTANCE_ID`, `CORS_ORIGINS` | GraphQL endpoint: names its consumer groups; browser origins, comma-separated | `1`, `http://localhost:8181,http://127.0.0.1:8181` |
//! | `COMMAND_TIMEOUT_MS`, `STORE_TIMEOUT_MS`, `MAX_SUBSCRIPTIONS_PER_SOCKET`, `MAX_COMMANDS_IN_FLIGHT` | GraphQL endpoint: a command's whole wait (the producer's `message.timeout.ms` is held within it); one use of db-ge; subscriptions open at once on one websocket; commands held at once (one more is answered overloaded) | `30000`, `10000`, `10000`, `4096` |
//! | `TLS_CA`, `TLS_CERT`, `TLS_KEY` | PEM files: the CA to trust, the service's certificate and key; with them every Kafka, PostgreSQL and registry client uses TLS ([`crate::tls`]) | none: plaintext |
//! | `HTTPS_CERT`, `HTTPS_KEY` | GraphQL endpoint and frontend: PEM certificate and key to answer HTTPS and `wss://` with ([`crate::https`]) | none: HTTP |
//! | `MAX_CONNECTIONS`, `HEADER_TIMEOUT_MS` | GraphQL endpoint and frontend: connections served at once, websockets included (further ones wait to be accepted); time a client has to send a request's headers ([`crate::server`]) | `4096`, `10000` |
//! | `GRAPHQL_WS_URL`, `RESULTS_URL` | frontend: the endpoint's websocket and the Results link, as the browser sees them | `ws://127.0.0.1:8888/graphql`, `/results/` |
//!
//! The services read the named variables with clap ([`crate::settings`] and each service's settings): each is
//! also an argument, `--lower-case-name` (an argument wins; the containers pass none), `--help` lists them,
//! and a missing or bad value stops the service with a message naming the variable.
//!
//! The prefixed variables are not arguments: [`properties`] collects them. Property names map by lower-casing
//! and turning `_` into `.`, as librdkafka names use dots only.

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
pub const TLS_CA: &str = "TLS_CA";
pub const TLS_CERT: &str = "TLS_CERT";
pub const TLS_KEY: &str = "TLS_KEY";
pub const HTTPS_CERT: &str = "HTTPS_CERT";
pub const HTTPS_KEY: &str = "HTTPS_KEY";
pub const MAX_CONNECTIONS: &str = "MAX_CONNECTIONS";
pub const HEADER_TIMEOUT_MS: &str = "HEADER_TIMEOUT_MS";

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
