//! The synchronizer's settings: the topology's topics with the overrides it is given, read by clap from
//! arguments or, in its container, from the environment (see [`topology::env`]). The `TOPIC_CONFIG_<NAME>`
//! configs cannot be arguments: they come from the environment alone.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Parser;
use topology::env;
use topology::settings::{self, KafkaSettings};
use topology::topics::TOPICS;

/// One topic as it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    /// Wanted replication; capped at the broker count when the topic is created.
    pub replication: i32,
    pub records: Vec<String>,
    pub configs: Vec<(String, String)>,
}

/// Everything the synchronizer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub bootstrap: String,
    pub registry: String,
    /// TLS files for the admin client and the registry (plaintext when `None`).
    pub tls: Option<topology::tls::ClientTls>,
    pub topics: Vec<TopicSpec>,
    /// How long to wait for the cluster and the registry to answer.
    pub max_wait: Duration,
    pub retry_interval: Duration,
}

/// Makes the Kafka cluster and schema registry match the bank topology. Every setting is an argument or the
/// environment variable named in its help.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
pub struct Args {
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// Partitions of every topic, instead of the topology's.
    #[arg(long, env = env::TOPIC_PARTITIONS, value_parser = positive)]
    pub topic_partitions: Option<i32>,
    /// Wanted replication of every topic, instead of the topology's (capped at the broker count).
    #[arg(long, env = env::TOPIC_REPLICATION, value_parser = positive)]
    pub topic_replication: Option<i32>,
}

fn positive(value: &str) -> Result<i32, String> {
    value.parse::<i32>().ok().filter(|n| *n > 0).ok_or_else(|| "not a positive number".to_string())
}

impl Settings {
    /// From the arguments and the environment. A bad value ends the process with clap's message, which names
    /// the variable, and exit status 2.
    pub fn from_env() -> Settings {
        let configs = env::properties(env::TOPIC_CONFIG_PREFIX, std::env::vars());
        Settings::new(Args::parse(), &configs)
    }

    /// From `vars` alone, as if they were the whole environment: for tests.
    ///
    /// # Errors
    /// Clap's, naming the variable that is not a positive number.
    pub fn from_vars(vars: &[(String, String)]) -> Result<Settings, clap::Error> {
        let configs = env::properties(env::TOPIC_CONFIG_PREFIX, vars.iter().cloned());
        Ok(Settings::new(settings::parse_vars(vars)?, &configs))
    }

    /// The topology with the overrides of `args`, and `configs` (by name) on every topic.
    pub fn new(args: Args, configs: &BTreeMap<String, String>) -> Settings {
        let topics = TOPICS
            .iter()
            .map(|t| {
                let mut topic_configs: Vec<(String, String)> =
                    t.configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                for (k, v) in configs {
                    topic_configs.retain(|(ck, _)| ck != k);
                    topic_configs.push((k.clone(), v.clone()));
                }
                TopicSpec {
                    name: t.name.to_string(),
                    partitions: args.topic_partitions.unwrap_or(t.partitions),
                    replication: args.topic_replication.unwrap_or(t.replication),
                    records: t.records.iter().map(|r| r.to_string()).collect(),
                    configs: topic_configs,
                }
            })
            .collect();
        Settings {
            bootstrap: args.kafka.kafka_bootstrap_servers,
            registry: args.kafka.schema_registry_url,
            tls: args.kafka.tls.client(),
            topics,
            max_wait: Duration::from_secs(90),
            retry_interval: Duration::from_millis(500),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_the_topology() {
        let s = Settings::from_vars(&[]).unwrap();
        assert_eq!(s.topics.len(), 4);
        assert!(s.topics.iter().all(|t| t.partitions == 24 && t.replication == 3));
        assert!(s.topics.iter().all(|t| t.configs == vec![("retention.ms".to_string(), "-1".to_string())]));
        assert_eq!((s.bootstrap.as_str(), s.registry.as_str()), (env::DEFAULT_BOOTSTRAP, env::DEFAULT_REGISTRY));
    }

    #[test]
    fn environment_overrides_every_topic() {
        let s = Settings::from_vars(&vars(&[
            ("TOPIC_PARTITIONS", "6"),
            ("TOPIC_CONFIG_RETENTION_MS", "1000"),
            ("TOPIC_CONFIG_MIN_INSYNC_REPLICAS", "1"),
        ]))
        .unwrap();
        let t = &s.topics[0];
        assert_eq!(t.partitions, 6);
        assert!(t.configs.contains(&("retention.ms".to_string(), "1000".to_string())));
        assert!(t.configs.contains(&("min.insync.replicas".to_string(), "1".to_string())));
        assert_eq!(t.configs.len(), 2);
        let s = Settings::from_vars(&vars(&[("KAFKA_BOOTSTRAP_SERVERS", "k:1"), ("TOPIC_REPLICATION", "1")])).unwrap();
        assert_eq!((s.bootstrap.as_str(), s.topics[0].replication), ("k:1", 1));
    }

    #[test]
    fn a_bad_number_names_the_variable() {
        for value in ["three", "0", "-3"] {
            let err = Settings::from_vars(&vars(&[("TOPIC_REPLICATION", value)])).unwrap_err().to_string();
            assert!(
                err.contains("TOPIC_REPLICATION") && err.contains(value) && err.contains("not a positive number"),
                "{err}"
            );
        }
    }
}
