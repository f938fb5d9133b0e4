//! The command handler's settings, read by clap from arguments or, in its container, from the environment
//! (see [`topology::env`]); the librdkafka properties come from the environment alone.

use clap::Parser;
use topology::settings::{self, KafkaProperties, ServiceSettings};
pub use topology::settings::WithKafkaProperties;

/// The port of `/health` and `/stats` unless `HTTP_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8091;

/// Applies bank commands from Kafka to db-ch and emits feedback and BalanceChanged events. Every setting is an
/// argument or the environment variable named in its help.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    #[command(flatten)]
    pub service: ServiceSettings<DEFAULT_PORT>,
    /// Messages handled at once; each partition stays with one worker, in order.
    #[arg(long, env = "WORKERS", default_value_t = 16)]
    pub workers: usize,
    /// The consumer group of the handlers.
    #[arg(long, env = "GROUP_ID", default_value = "command-handler")]
    pub group_id: String,
}

impl settings::WithKafkaProperties for Settings {
    fn kafka_properties(&mut self) -> &mut KafkaProperties {
        &mut self.service.properties
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_need_only_the_database() {
        let s = Settings::from_vars(vars(&[("DATABASE_URL", "postgres://db-ch"), ("KAFKA_PRODUCER_ACKS", "all")])).unwrap();
        assert_eq!(s.service.database_url, "postgres://db-ch");
        assert_eq!(s.service.http.address(), "127.0.0.1:8091".parse().unwrap());
        assert_eq!((s.workers, s.group_id.as_str()), (16, "command-handler"));
        assert_eq!(s.service.producer_config().get("acks"), Some("all"));
        let s = Settings::from_vars(vars(&[("DATABASE_URL", "d"), ("WORKERS", "4"), ("GROUP_ID", "g")])).unwrap();
        assert_eq!((s.workers, s.group_id.as_str()), (4, "g"));
    }

    #[test]
    fn missing_and_bad_values_name_the_variable() {
        let missing = Settings::from_vars(Vec::new()).unwrap_err().to_string();
        assert!(missing.contains("DATABASE_URL"), "{missing}");
        let bad = Settings::from_vars(vars(&[("DATABASE_URL", "d"), ("WORKERS", "many")])).unwrap_err().to_string();
        assert!(bad.contains("WORKERS") && bad.contains("many"), "{bad}");
    }
}
