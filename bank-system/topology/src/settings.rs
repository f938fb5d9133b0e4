//! The settings the bank services share, read by clap from arguments or, as in the containers, from the
//! variables of [`crate::env`]: every setting is `--lower-case-name` or `UPPER_CASE_NAME`, an argument wins.
//!
//! Each service has its own `#[derive(clap::Parser)]` settings that flatten the groups it uses: the command
//! handler and the GraphQL endpoint [`ServiceSettings`] (Kafka, registry, database, HTTP), the synchronizer
//! [`KafkaSettings`], the frontend [`HttpSettings`]. The HTTP groups take the service's default port as a
//! parameter: the command handler's settings hold a `ServiceSettings<8091>`.
//!
//! The librdkafka properties (`KAFKA_PRODUCER_<NAME>`, `KAFKA_CONSUMER_<NAME>`) cannot be arguments:
//! [`KafkaProperties::from_vars`] collects them from the environment.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::SocketAddr;

use clap::Parser;
use rdkafka::ClientConfig;

use crate::{env, kafka};

/// Where Kafka and the schema registry are.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// Kafka brokers, `host:port,...`.
    #[arg(long, env = env::KAFKA_BOOTSTRAP_SERVERS, default_value = env::DEFAULT_BOOTSTRAP)]
    pub kafka_bootstrap_servers: String,
    /// Confluent-compatible schema registry base URL.
    #[arg(long, env = env::SCHEMA_REGISTRY_URL, default_value = env::DEFAULT_REGISTRY)]
    pub schema_registry_url: String,
    #[command(flatten)]
    pub tls: crate::tls::TlsSettings,
}

/// Where a service answers (health, stats, GraphQL); `DEFAULT_PORT` is the service's own.
#[derive(clap::Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings<const DEFAULT_PORT: u16> {
    /// The host to listen on: an IP address, IPv6 in brackets (`127.0.0.1`, `0.0.0.0`, `[::]`).
    #[arg(long, env = env::BIND_ADDRESS, default_value = env::DEFAULT_BIND_ADDRESS, value_parser = bind_address)]
    pub bind_address: BindAddress,
    /// The port to listen on.
    #[arg(long, env = env::HTTP_PORT, default_value_t = DEFAULT_PORT)]
    pub http_port: u16,
}

/// The host of `BIND_ADDRESS`, taken as it always was: whatever makes `<host>:<port>` a socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindAddress(SocketAddr);

fn bind_address(host: &str) -> Result<BindAddress, String> {
    format!("{host}:0").parse().map(BindAddress).map_err(|_| "not an IP address (IPv6 in brackets: [::])".to_string())
}

impl<const DEFAULT_PORT: u16> HttpSettings<DEFAULT_PORT> {
    /// The address to listen on.
    pub fn address(&self) -> SocketAddr {
        let mut address = self.bind_address.0;
        address.set_port(self.http_port);
        address
    }
}

/// librdkafka properties from `KAFKA_PRODUCER_<NAME>` and `KAFKA_CONSUMER_<NAME>`, by property name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaProperties {
    pub producer: BTreeMap<String, String>,
    pub consumer: BTreeMap<String, String>,
}

impl KafkaProperties {
    /// The properties in `vars` (usually `std::env::vars()`); see [`env::properties`].
    pub fn from_vars(vars: &[(String, String)]) -> KafkaProperties {
        KafkaProperties {
            producer: env::properties(env::PRODUCER_PREFIX, vars.iter().cloned()),
            consumer: env::properties(env::CONSUMER_PREFIX, vars.iter().cloned()),
        }
    }
}

/// What the command handler and the GraphQL endpoint share: Kafka, their database, where they answer (by
/// default on `DEFAULT_PORT`), and the librdkafka properties for their clients.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct ServiceSettings<const DEFAULT_PORT: u16> {
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// The service's PostgreSQL: db-ch for the command handler, db-ge for the GraphQL endpoint.
    #[arg(long, env = env::DATABASE_URL)]
    pub database_url: String,
    #[command(flatten)]
    pub http: HttpSettings<DEFAULT_PORT>,
    /// Not arguments: a service fills them with [`KafkaProperties::from_vars`].
    #[arg(skip)]
    pub properties: KafkaProperties,
}

impl<const DEFAULT_PORT: u16> ServiceSettings<DEFAULT_PORT> {
    /// A producer configuration: see [`kafka::producer_config`].
    pub fn producer_config(&self) -> ClientConfig {
        self.with_tls(kafka::producer_config(&self.kafka.kafka_bootstrap_servers, &self.properties.producer))
    }

    /// A consumer configuration for `group_id`: see [`kafka::consumer_config`].
    pub fn consumer_config(&self, group_id: &str) -> ClientConfig {
        self.with_tls(kafka::consumer_config(&self.kafka.kafka_bootstrap_servers, &self.properties.consumer, group_id))
    }

    /// `config` over TLS when the service has its files.
    fn with_tls(&self, mut config: ClientConfig) -> ClientConfig {
        if let Some(tls) = self.kafka.tls.client() {
            tls.kafka(&mut config);
        }
        config
    }
}

/// A service's settings that carry its Kafka properties: clap reads the named variables, and the prefixed
/// `KAFKA_PRODUCER_*` / `KAFKA_CONSUMER_*` properties come from the same variables.
pub trait WithKafkaProperties: Parser {
    fn kafka_properties(&mut self) -> &mut KafkaProperties;

    /// From the arguments and the environment. A missing or bad value ends the process with clap's message,
    /// which names the variable, and exit status 2.
    fn from_env() -> Self {
        let mut settings = Self::parse();
        *settings.kafka_properties() = KafkaProperties::from_vars(&std::env::vars().collect::<Vec<_>>());
        settings
    }

    /// From `vars` alone, as if they were the whole environment: for tests.
    ///
    /// # Errors
    /// Clap's, naming the variable that is missing or does not parse.
    fn from_vars(vars: Vec<(String, String)>) -> Result<Self, clap::Error> {
        let mut settings = parse_vars::<Self>(&vars)?;
        *settings.kafka_properties() = KafkaProperties::from_vars(&vars);
        Ok(settings)
    }
}

/// Settings from `vars` alone, as if they were the whole environment and there were no arguments: for tests,
/// which must not depend on the process environment.
///
/// # Errors
/// Clap's, naming the variable (as `--name <VARIABLE>`) that is missing or does not parse.
pub fn parse_vars<T: Parser>(vars: &[(String, String)]) -> Result<T, clap::Error> {
    let command = T::command();
    let mut args = vec![command.get_name().to_string()];
    for arg in command.get_arguments() {
        let (Some(name), Some(long)) = (arg.get_env(), arg.get_long()) else { continue };
        if let Some((_, value)) = vars.iter().find(|(k, _)| OsStr::new(k) == name) {
            args.push(format!("--{long}={value}"));
        }
    }
    let matches = command.mut_args(|a| a.env(None::<&str>)).try_get_matches_from(args)?;
    T::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    struct Service {
        #[command(flatten)]
        service: ServiceSettings<8091>,
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_the_local_stack_and_the_service_port() {
        let s = parse_vars::<Service>(&vars(&[("DATABASE_URL", "postgres://db")])).unwrap().service;
        assert_eq!(s.kafka.kafka_bootstrap_servers, env::DEFAULT_BOOTSTRAP);
        assert_eq!(s.kafka.schema_registry_url, env::DEFAULT_REGISTRY);
        assert_eq!(s.database_url, "postgres://db");
        assert_eq!(s.http.address(), "127.0.0.1:8091".parse().unwrap());
        assert_eq!(s.properties, KafkaProperties::default(), "properties are not arguments");
    }

    #[test]
    fn variables_set_every_setting() {
        let s = parse_vars::<Service>(&vars(&[
            ("KAFKA_BOOTSTRAP_SERVERS", "k:1,k:2"),
            ("SCHEMA_REGISTRY_URL", "http://r"),
            ("DATABASE_URL", "postgres://db"),
            ("BIND_ADDRESS", "[::]"),
            ("HTTP_PORT", "9000"),
        ]))
        .unwrap()
        .service;
        assert_eq!(s.kafka.kafka_bootstrap_servers, "k:1,k:2");
        assert_eq!(s.kafka.schema_registry_url, "http://r");
        assert_eq!(s.http.address(), "[::]:9000".parse().unwrap());
    }

    #[test]
    fn missing_and_bad_values_name_the_variable() {
        let missing = parse_vars::<Service>(&[]).unwrap_err().to_string();
        assert!(missing.contains("DATABASE_URL"), "{missing}");
        for (name, value) in
            [("HTTP_PORT", "http"), ("HTTP_PORT", "70000"), ("BIND_ADDRESS", "localhost"), ("BIND_ADDRESS", "::")]
        {
            let err = parse_vars::<Service>(&vars(&[("DATABASE_URL", "postgres://db"), (name, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(name) && err.contains(value), "{err}");
        }
    }

    #[test]
    fn properties_reach_the_client_configs() {
        let vars = vars(&[
            ("DATABASE_URL", "postgres://db"),
            ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1"),
            ("KAFKA_PRODUCER_LINGER_MS", "25"),
            ("KAFKA_CONSUMER_AUTO_OFFSET_RESET", "latest"),
        ]);
        let mut s = parse_vars::<Service>(&vars).unwrap().service;
        s.properties = KafkaProperties::from_vars(&vars);
        assert_eq!(s.producer_config().get("linger.ms"), Some("25"));
        assert_eq!(s.producer_config().get("bootstrap.servers"), Some("127.0.0.1:1"));
        assert_eq!(s.consumer_config("g").get("auto.offset.reset"), Some("latest"));
        assert_eq!(s.consumer_config("g").get("linger.ms"), None);
    }

    #[test]
    fn tls_files_turn_every_kafka_client_to_tls_and_come_as_three_or_none() {
        let base = [("DATABASE_URL", "postgres://db")];
        let plain = parse_vars::<Service>(&vars(&base)).unwrap().service;
        assert_eq!(plain.kafka.tls.client(), None);
        assert_eq!(plain.producer_config().get("security.protocol"), None);
        let all = [("TLS_CA", "/t/ca.crt"), ("TLS_CERT", "/t/tls.crt"), ("TLS_KEY", "/t/tls.key")];
        let s = parse_vars::<Service>(&vars(&[base.as_slice(), &all].concat())).unwrap().service;
        for config in [s.producer_config(), s.consumer_config("g")] {
            assert_eq!(config.get("security.protocol"), Some("ssl"));
            assert_eq!(config.get("ssl.ca.location"), Some("/t/ca.crt"));
            assert_eq!(config.get("ssl.certificate.location"), Some("/t/tls.crt"));
            assert_eq!(config.get("ssl.key.location"), Some("/t/tls.key"));
        }
        // A CA without the service's own certificate would be refused by brokers that require one: say so at start.
        let err = parse_vars::<Service>(&vars(&[base[0], all[0]])).unwrap_err().to_string();
        assert!(err.contains("--tls-cert") && err.contains("--tls-key"), "{err}");
    }
}
