//! The synchronizer's settings: the topology's topics with the overrides from the environment.

use std::time::Duration;

use topology::env;
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
    pub topics: Vec<TopicSpec>,
    /// How long to wait for the cluster and the registry to answer.
    pub max_wait: Duration,
    pub retry_interval: Duration,
}

impl Settings {
    /// The topology with overrides from `vars` (`TOPIC_PARTITIONS`, `TOPIC_REPLICATION`, `TOPIC_CONFIG_*`).
    ///
    /// # Errors
    /// A message naming the variable that is not a positive number.
    pub fn from_vars(vars: &[(String, String)]) -> Result<Settings, String> {
        let get = |name: &str| env::lookup(vars, name);
        let number = |name: &str| -> Result<Option<i32>, String> {
            get(name)
                .map(|v| v.parse::<i32>().ok().filter(|n| *n > 0).ok_or_else(|| format!("{name}={v} is not a positive number")))
                .transpose()
        };
        let partitions = number(env::TOPIC_PARTITIONS)?;
        let replication = number(env::TOPIC_REPLICATION)?;
        let extra = env::properties(env::TOPIC_CONFIG_PREFIX, vars.iter().cloned());
        let topics = TOPICS
            .iter()
            .map(|t| {
                let mut configs: Vec<(String, String)> = t.configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                for (k, v) in &extra {
                    configs.retain(|(ck, _)| ck != k);
                    configs.push((k.clone(), v.clone()));
                }
                TopicSpec {
                    name: t.name.to_string(),
                    partitions: partitions.unwrap_or(t.partitions),
                    replication: replication.unwrap_or(t.replication),
                    records: t.records.iter().map(|r| r.to_string()).collect(),
                    configs,
                }
            })
            .collect();
        Ok(Settings {
            bootstrap: get(env::KAFKA_BOOTSTRAP_SERVERS).unwrap_or_else(|| env::DEFAULT_BOOTSTRAP.to_string()),
            registry: get(env::SCHEMA_REGISTRY_URL).unwrap_or_else(|| env::DEFAULT_REGISTRY.to_string()),
            topics,
            max_wait: Duration::from_secs(90),
            retry_interval: Duration::from_millis(500),
        })
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
    }

    #[test]
    fn environment_overrides_every_topic() {
        let s = Settings::from_vars(&vars(&[("TOPIC_PARTITIONS", "6"), ("TOPIC_CONFIG_RETENTION_MS", "1000"), ("TOPIC_CONFIG_MIN_INSYNC_REPLICAS", "1")])).unwrap();
        let t = &s.topics[0];
        assert_eq!(t.partitions, 6);
        assert!(t.configs.contains(&("retention.ms".to_string(), "1000".to_string())));
        assert!(t.configs.contains(&("min.insync.replicas".to_string(), "1".to_string())));
        assert_eq!(t.configs.len(), 2);
    }

    #[test]
    fn a_bad_number_names_the_variable() {
        let err = Settings::from_vars(&vars(&[("TOPIC_REPLICATION", "three")])).unwrap_err();
        assert!(err.contains("TOPIC_REPLICATION=three"), "{err}");
    }
}
